"""Training packs: exact where the EDF quantum allows, within half a step otherwise; trainable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from eegzip.cli import app
from eegzip.codec.dac import DACConfig
from eegzip.edf import EdfHeader, EdfWriter, SignalHeader, build_header
from eegzip.train.data import load_labelled_channels
from eegzip.train.loop import TrainConfig, train
from eegzip.train.losses import LossWeights
from eegzip.train.pack import Pack, PackSpec, decode_steps, encode_steps, pack_files, write_pack

SECONDS = 40
TINY = DACConfig(encoder_dim=4, decoder_dim=16, n_codebooks=2, codebook_size=32, sample_rate=256)


def _edf(path, rate: int, physical: tuple[float, float], seed: int) -> None:
    """Two EEG channels: a 10 Hz rhythm and drift, spanning most of the digital range."""
    signals = tuple(
        SignalHeader(label=f"EEG {name}", physical_dimension="uV", physical_min=physical[0],
                     physical_max=physical[1], digital_min=-32768, digital_max=32767,
                     samples_per_record=rate)
        for name in ("C3", "C4")
    )  # fmt: skip
    header = EdfHeader(startdate="01.01.24", starttime="00.00.00", n_records=SECONDS,
                       record_duration_raw="1", signals=signals)  # fmt: skip
    rng = np.random.default_rng(seed)
    t = np.arange(SECONDS * rate) / rate
    rows = [20000 * np.sin(2 * np.pi * 10 * t + k) + rng.normal(0, 300, t.size) for k in (0, 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with EdfWriter(path, build_header(header)) as writer:
        writer.write_records([np.rint(r).astype(np.int32) for r in rows])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A split table over a fine-quantum 512 Hz EDF and coarse-quantum 128 Hz EDFs."""
    root = tmp_path_factory.mktemp("data")
    _edf(root / "eegmat" / "a.edf", 512, (-84.0, 84.0), 0)  # 0.0026 µV steps, like EEGMAT
    _edf(root / "guinea-bissau" / "b.edf", 128, (-20.0, 8420.0), 1)  # 0.13 µV around 4200
    _edf(root / "guinea-bissau" / "c.edf", 128, (-20.0, 8420.0), 2)
    (root / "splits.csv").write_text(
        "dataset,file,subject,split\neegmat,eegmat/a.edf,a,train\n"
        "guinea-bissau,guinea-bissau/b.edf,b,train\nguinea-bissau,guinea-bissau/c.edf,c,test\n"
    )
    return root


def test_steps_survive_encoding_exactly_including_wraparound():
    rng = np.random.default_rng(0)
    steps = rng.integers(-32768, 32768, 5000).astype(np.int16)
    steps[:4] = [-32768, 32767, -32768, 0]
    assert np.array_equal(decode_steps(encode_steps(steps), len(steps)), steps)
    with pytest.raises(ValueError, match="samples"):
        decode_steps(encode_steps(steps), len(steps) + 1)


def test_pack_is_exact_for_coarse_channels_and_within_half_a_step_otherwise(data_dir, tmp_path):
    index = write_pack(data_dir, tmp_path, PackSpec(model_rate=256, min_step_uv=0.05), "cmd")
    pack = Pack.open(tmp_path)
    assert index["command"] == "cmd" and len(pack.items) == 6
    fine = pack.select("train", ["eegmat"])
    assert [i.rate_hz for i in fine] == [256.0, 256.0] and fine[0].step_uv == 0.05
    for file, items in [
        ("guinea-bissau/b.edf", pack.select("train", ["guinea-bissau"])),
        ("eegmat/a.edf", fine),
    ]:
        direct = [s for _, s in load_labelled_channels(data_dir / file, 256)]
        packed = pack.load(items, 256)
        for d, p, item in zip(direct, packed, items, strict=True):
            error = np.max(np.abs(d.astype(np.float64) - p))
            bound = 1e-3 if item.rate_hz == 128 else item.step_uv / 2 + 1e-3
            assert error <= bound, (file, error)
    raw_bytes = sum(2 * i.samples for i in pack.items)
    assert pack.bytes < raw_bytes
    assert [i.file for i in pack.select("test")] == ["guinea-bissau/c.edf"] * 2


def test_train_reads_a_pack_and_stops_at_its_time_limit(data_dir, tmp_path):
    write_pack(data_dir, tmp_path / "pack", PackSpec(), "cmd")
    run = tmp_path / "run"
    weights = LossWeights.parse("waveform")
    config = TrainConfig(data_dir=tmp_path / "nowhere", out_dir=run, model=TINY,
                         packed=tmp_path / "pack", steps=50, max_seconds=0.0, batch_size=2,
                         crop_seconds=8.0, eval_crops=2, weights=weights)  # fmt: skip
    records: list[dict] = []
    train(config, records.append)
    assert records[0]["train_items"] == 4  # both train files' channels, no test channel
    assert records[-1]["step"] == 1 and set(records[-1]["heldout"]) == {"guinea-bissau"}
    assert (run / "best.safetensors").exists()
    assert json.loads((run / "config.json").read_text())["packed"] == str(tmp_path / "pack")


def test_cli_takes_a_pack_folder_as_its_data(data_dir, tmp_path):
    write_pack(data_dir, tmp_path / "pack", PackSpec(), "cmd")
    (tmp_path / "pack" / "channels.bin").write_bytes(b"")  # damaged: the CLI must have read it
    args = ["train", str(tmp_path / "pack"), "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "damaged packed channel" in result.stderr, result.output
    assert "Traceback" not in result.output


def test_stride_subsamples_only_the_named_datasets(tmp_path):
    rows = [f"{d},{d}/{k}.edf,{k},train" for d in ("a", "b") for k in range(4)]
    (tmp_path / "splits.csv").write_text("\n".join(["dataset,file,subject,split", *rows]))
    chosen = pack_files(
        tmp_path, PackSpec(test_files_per_dataset=0, train_stride=2, strided=("b",))
    )
    assert [f for f, _, _ in chosen] == [
        "a/0.edf",
        "a/1.edf",
        "a/2.edf",
        "a/3.edf",
        "b/0.edf",
        "b/2.edf",
    ]
