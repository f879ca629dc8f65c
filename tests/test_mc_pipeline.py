"""DAC-MC through the real pipeline: every grouping mode round-trips a real recording, the
container records the groups, code count scales with groups, bad --groups fail cleanly, and
``eegzip train --multichannel`` trains from a DAC-SC checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.codec.checkpoints import load_weights, save_safetensors
from eegzip.codec.dac import DAC, DACConfig
from eegzip.codec.multichannel import MCConfig, MultiChannelDAC
from eegzip.codec.registry import shipped_models
from eegzip.container import ContainerReader
from eegzip.edf import EdfFile
from eegzip.errors import UsageError
from eegzip.train.loop import TrainConfig
from eegzip.train.mc_loop import train_multichannel

TINY = DACConfig(encoder_dim=4, decoder_dim=32, n_codebooks=3, codebook_size=64,
                 sample_rate=256, quantizer_dropout=0.5)  # fmt: skip
LABELS = ["EEG F3", "EEG Fz", "EEG F4", "EEG P3", "EEG Pz", "EEG P4", "EEG O1", "EEG O2"]
EXPECTED = {
    "manual": [[0, 1, 2], [3, 4, 5], [6, 7]],
    "none": [[i] for i in range(8)],
    "file": [[0, 3], [6, 7, 4], [1], [2], [5]],
}

runner = CliRunner()


@pytest.fixture(scope="module")
def mc_model(tmp_path_factory):
    """A small random DAC-MC with every part active (adapters and attention not at zero)."""
    torch.manual_seed(0)
    model = MultiChannelDAC(MCConfig(dac=TINY))
    for p in model.parameters():
        p.data += 0.02 * torch.randn_like(p)
    path = tmp_path_factory.mktemp("model") / "tiny-mc.safetensors"
    save_safetensors(model, path)
    return path


@pytest.fixture(scope="module")
def recording(shared_data):
    return shared_data / "eegmat" / "Subject20_2.edf"


@pytest.fixture(scope="module")
def groups_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("groups") / "groups.json"
    path.write_text(json.dumps([["EEG F3", "EEG P3"], ["O1", "O2", "Pz"]]))
    return path


@pytest.mark.parametrize("mode", ["manual", "random", "none", "file"])
def test_round_trip_each_grouping(mode, mc_model, recording, groups_file, tmp_path):
    spec = str(groups_file) if mode == "file" else mode
    seed = {"group_seed": 5, "group_size": 3} if mode == "random" else {}
    entropy = mode in ("manual", "file")  # the others check the GCOD and CODE fallbacks
    result = eegzip.compress(recording, tmp_path / "x.eegc", model=mc_model, groups=spec,
                             entropy=entropy, **seed)  # fmt: skip
    with ContainerReader.open(tmp_path / "x.eegc") as reader:
        recorded = reader.meta["groups"]
        blocks = list(reader.iter_code_blocks())
        sizes = reader.sizes()
        total_frames = sum(b.n_frames for b in blocks)
    members = recorded["members"]
    assert recorded["mode"] == mode
    if mode == "random":
        assert (recorded["seed"], recorded["size"]) == (5, 3)
        assert [len(g) for g in members] == [3, 3, 2]
        assert sorted(i for g in members for i in g) == list(range(8))
    else:
        assert members == EXPECTED[mode]
    assert result.grouping["groups"] == [[LABELS[i] for i in g] for g in members]
    # One token stream per group: the code count scales with groups, not channels.
    assert sum(b.codes.size for b in blocks) == len(members) * TINY.n_codebooks * total_frames
    assert all(b.n_channels == 8 and b.n_streams == len(members) for b in blocks)
    stored = "ECOD" if entropy else "GCOD" if len(members) < 8 else "CODE"
    assert set(sizes) & {"CODE", "GCOD", "ECOD"} == {stored}
    eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf", model=mc_model)
    with EdfFile.open(recording) as a, EdfFile.open(tmp_path / "x.edf") as b:
        assert b.raw_header == a.raw_header and b.annotations == a.annotations
        decoded = np.stack([b.read_physical(i) for i in range(8)])
        original = np.stack([a.read_physical(i) for i in range(8)])
    assert decoded.shape == original.shape and np.isfinite(decoded).all()


def test_lossless_on_top_of_groups(mc_model, recording, tmp_path):
    eegzip.compress(recording, tmp_path / "x.eegc", model=mc_model, max_error_uv=0.0,
                    measure=False)  # fmt: skip
    eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf", model=mc_model)
    assert (tmp_path / "x.edf").read_bytes() == recording.read_bytes()


def test_groups_need_a_multichannel_model_and_info_shows_them(mc_model, recording, tmp_path):
    with pytest.raises(UsageError, match="multi-channel"):
        eegzip.compress(recording, tmp_path / "x.eegc", groups="manual")
    eegzip.compress(recording, tmp_path / "x.eegc", model=mc_model, measure=False)
    info = eegzip.info(tmp_path / "x.eegc")
    assert info["model"]["kind"] == "mc" and info["grouping"]["mode"] == "manual"
    assert info["grouping"]["groups"][0] == ["EEG F3", "EEG Fz", "EEG F4"]


@pytest.mark.parametrize(
    "content,fragment",
    [('[["EEG F3", "Cz"]]', "'Cz' is not a coded channel"), ('[["F3",', "not valid JSON")],
)
def test_bad_groups_file_fails_cleanly(mc_model, recording, tmp_path, content, fragment):
    spec = tmp_path / "groups.json"
    spec.write_text(content)
    out = tmp_path / "out"
    out.mkdir()
    args = ["compress", str(recording), "-o", str(out / "x.eegc"), "--model", str(mc_model),
            "--groups", str(spec)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert list(out.iterdir()) == []  # no partial file


def test_train_multichannel_from_single_channel(shared_data, tmp_path):
    torch.manual_seed(0)
    save_safetensors(DAC(TINY), tmp_path / "sc.safetensors")
    config = TrainConfig(data_dir=shared_data, out_dir=tmp_path / "run", model=TINY,
                         init=tmp_path / "sc.safetensors", steps=2, batch_size=2,
                         crop_seconds=8.0, eval_every=2, eval_crops=2,
                         train_datasets=("muse",), eval_datasets=("eegmat",))  # fmt: skip
    records: list[dict] = []
    train_multichannel(config, report=records.append)
    assert records[-1]["heldout"]["eegmat"]["3"]["prd"] > 0
    resumed: list[dict] = []
    train_multichannel(TrainConfig(**{**config.__dict__, "steps": 3}), report=resumed.append)
    assert resumed[0]["step"] == 2 and resumed[-1]["step"] == 3
    model, metadata = load_weights(tmp_path / "run" / "latest.safetensors")
    assert isinstance(model, MultiChannelDAC) and model.config.dac == TINY
    assert metadata["format"] == "eegzip-dacmc-1" and metadata["step"] == "3"


def test_bench_counts_one_code_stream_per_group(mc_model, recording):
    """bench passes --groups through: nominal bits per channel scale with groups / channels."""
    nominal = {}
    for mode, streams in (("manual", 3), ("none", 8)):
        args = ["bench", str(recording), "--model", str(mc_model), "--groups", mode,
                "--codebooks", "2", "--json"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert f"--groups {mode}" in out["command"]
        (run,) = out["aggregate"]["runs"]
        nominal[mode] = run["nominal_bits_per_second_per_channel"]
        # 2 codebooks × 6 bits (64 entries) × 0.5 frames/s per stream, over 8 channels
        assert nominal[mode] == pytest.approx(2 * 6 * 0.5 * streams / 8)
        assert run["bits_per_second_per_channel"] > 0
    assert nominal["manual"] < nominal["none"]


def test_shipped_multichannel_model_round_trips_with_manual_groups(shared_data, tmp_path):
    """The shipped DAC-MC model: listed as kind mc, codes regions as streams, fidelity sane."""
    (spec,) = [m for m in shipped_models() if m.name == "eegdac-mc-256hz"]
    assert spec.kind == "mc" and spec.card["kind"] == "mc"
    source = shared_data / "guinea-bissau" / "gb-004.edf"
    result = eegzip.compress(source, tmp_path / "x.eegc", model="eegdac-mc-256hz", groups="manual")
    assert result.grouping["mode"] == "manual" and len(result.grouping["groups"]) < 14
    assert result.fidelity["overall"]["r"] > 0.8  # measured 0.90; random codes give ~0
    eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf")
    with EdfFile.open(source) as a, EdfFile.open(tmp_path / "x.edf") as b:
        assert b.raw_header == a.raw_header
