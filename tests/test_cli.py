"""The command line as a user meets it: bad input gives one clean line and an exit code."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eegzip.cli import app
from eegzip.codec.checkpoints import load_weights, save_safetensors
from eegzip.codec.registry import DEFAULT_MODEL, MODELS_DIR
from eegzip.container.format import CRC, MAGIC, PREAMBLE
from eegzip.edf import EdfHeader, EdfWriter, SignalHeader, build_header

runner = CliRunner()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _expect_clean_failure(args: list[str], code: int, fragment: str, tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written


def _edf_with(tmp_path: Path, name: str, label: str, unit: str, records: int) -> Path:
    signal = SignalHeader(label=label, physical_dimension=unit, physical_min=-3276.8,
                          physical_max=3276.7, digital_min=-32768, digital_max=32767,
                          samples_per_record=256)  # fmt: skip
    header = EdfHeader(startdate="01.01.20", starttime="00.00.00", n_records=records,
                       record_duration_raw="1", signals=(signal,))  # fmt: skip
    path = tmp_path / name
    with EdfWriter(path, build_header(header)) as writer:
        writer.write_records([[0] * 256 * records])
    return path


def test_compress_decompress_info_json(demo_edf, demo_eegc, tmp_path):
    out = tmp_path / "back.edf"
    result = runner.invoke(
        app, ["decompress", str(demo_eegc), "-o", str(out), "--reference", str(demo_edf), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["fidelity"]["overall"]["prdn"] is not None and out.exists()
    info = json.loads(runner.invoke(app, ["info", str(demo_eegc), "--json"]).stdout)
    assert info["model"]["name"] == DEFAULT_MODEL
    assert {c["storage"] for c in info["channels"]} == {"codec", "lossless"}
    listed = json.loads(runner.invoke(app, ["models", "--json"]).stdout)
    assert any(m["default"] for m in listed)


def test_entropy_coding_is_the_default_and_can_be_turned_off(demo_edf, demo_eegc, tmp_path):
    plain = tmp_path / "plain.eegc"
    args = ["compress", str(demo_edf), "-o", str(plain), "--no-metrics", "--no-entropy", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["code_stats"]["entropy_coded"] is False
    infos = [json.loads(runner.invoke(app, ["info", str(p), "--json"]).stdout)
             for p in (demo_eegc, plain)]  # fmt: skip
    assert ("ECOD" in infos[0]["sizes"], "ECOD" in infos[1]["sizes"]) == (True, False)
    coded, packed = (i["metrics"]["codes"] for i in infos)
    assert coded["count"] == packed["count"] and coded["log2_codebook_size"] == 10
    assert coded["bits_per_code"] < packed["bits_per_code"]


def test_several_inputs_into_a_directory(demo_edf, tmp_path):
    second = tmp_path / "src" / "second.edf"
    second.parent.mkdir()
    shutil.copy(demo_edf, second)
    result = runner.invoke(
        app, ["compress", str(demo_edf), str(second.parent), "-o", str(tmp_path / "out"),
              "--no-metrics", "--codebooks", "3", "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert listed == ["demo.eegc", "eegzip-manifest.jsonl", "second.eegc"]


def test_missing_file(tmp_path):
    _expect_clean_failure(["compress", str(tmp_path / "nope.edf")], 3, "no such file", tmp_path)


def test_not_an_edf(tmp_path):
    (tmp_path / "notes.edf").write_text("just some text, not EEG\n" * 20)
    _expect_clean_failure(["compress", str(tmp_path / "notes.edf")], 4, "notes.edf", tmp_path)


def test_truncated_edf(demo_edf, tmp_path):
    data = demo_edf.read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[: len(data) - 1000])
    _expect_clean_failure(["compress", str(tmp_path / "cut.edf")], 4, "truncated", tmp_path)


def test_header_disagrees_with_size(demo_edf, tmp_path):
    (tmp_path / "long.edf").write_bytes(demo_edf.read_bytes() + b"\0" * 5000)
    _expect_clean_failure(["compress", str(tmp_path / "long.edf")], 4, "long.edf", tmp_path)


def test_zero_records(tmp_path):
    path = _edf_with(tmp_path, "empty.edf", "EEG Cz", "uV", 1)
    header = bytearray(path.read_bytes()[:512])
    header[236:244] = b"0       "  # the number-of-records field
    path.write_bytes(bytes(header))
    _expect_clean_failure(["compress", str(path)], 4, "no data records", tmp_path)


def test_no_codable_channel(tmp_path):
    path = _edf_with(tmp_path, "ecg.edf", "ECG", "uV", 4)
    _expect_clean_failure(["compress", str(path)], 5, "no channel for the codec", tmp_path)


def test_refuses_to_overwrite(demo_edf, demo_eegc, tmp_path):
    target = tmp_path / "x.eegc"
    shutil.copy(demo_eegc, target)
    digest = _digest(target)
    _expect_clean_failure(["compress", str(demo_edf), "-o", str(target)], 6, "exists", tmp_path)
    assert _digest(target) == digest


def test_model_not_available(demo_edf, tmp_path):
    weights = tmp_path / "private-model.safetensors"
    model, metadata = load_weights(MODELS_DIR / f"{DEFAULT_MODEL}.safetensors")
    save_safetensors(model, weights, {**metadata, "note": "private"})  # another SHA-256
    made = runner.invoke(app, ["compress", str(demo_edf), "-o", str(tmp_path / "p.eegc"),
                               "--model", str(weights), "--no-metrics"])  # fmt: skip
    assert made.exit_code == 0, made.output
    weights.unlink()
    _expect_clean_failure(
        ["decompress", str(tmp_path / "p.eegc"), "-o", str(tmp_path / "p.edf")],
        7,
        "private-model",
        tmp_path,
    )


def _future_version(data: bytes) -> bytes:
    magic, _major, minor = PREAMBLE.unpack_from(data)
    preamble = PREAMBLE.pack(magic, 9, minor)
    return preamble + CRC.pack(zlib.crc32(preamble)) + data[PREAMBLE.size + CRC.size :]


@pytest.mark.parametrize(
    "damage,code,fragment",
    [
        (lambda d: b"XXXXXXXX" + d[len(MAGIC) :], 4, "not an eegzip container"),
        (_future_version, 5, "newer"),
        (lambda d: d[: len(d) // 2], 4, "truncated"),
    ],
)
def test_damaged_container(demo_eegc, tmp_path, damage, code, fragment):
    bad = tmp_path / "bad.eegc"
    bad.write_bytes(damage(demo_eegc.read_bytes()))
    _expect_clean_failure(["decompress", str(bad), "-o", str(tmp_path / "o.edf")], code, fragment,
                          tmp_path)  # fmt: skip


def test_flipped_bit_in_every_block(demo_eegc, tmp_path):
    """One flipped bit anywhere in a data block is reported with the block's time range."""
    from eegzip.container import ContainerReader
    from eegzip.container.format import METRICS_TYPES

    with ContainerReader.open(demo_eegc) as reader:
        entries = list(reader._layout.entries)
    data = demo_eegc.read_bytes()
    for entry in entries:
        spot = entry.offset + entry.length // 2
        damaged = bytearray(data)
        damaged[spot] ^= 0x10
        bad = tmp_path / "bad.eegc"
        bad.write_bytes(bytes(damaged))
        # Metrics are not needed to decode; `info` shows them and must notice.
        metrics = entry.block_type in METRICS_TYPES
        command = ["info", str(bad)] if metrics else ["decompress", str(bad)]
        if command[0] == "decompress":
            command += ["-o", str(tmp_path / "o.edf")]
        result = runner.invoke(app, command)
        assert result.exit_code == 4, (entry, result.output)
        assert "damaged" in result.stderr or "checksum" in result.stderr, result.stderr
        assert not (tmp_path / "o.edf").exists()
        bad.unlink()


def test_real_entry_point_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "eegzip", "info", str(tmp_path / "missing.eegc")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
