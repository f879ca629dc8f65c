"""Token export: the code indices of a .eegc or an EDF as one array, an .npz, and a command."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.container import ContainerReader
from eegzip.errors import ContainerFormatError, OutputExistsError, UsageError

runner = CliRunner()
MC_MODEL = "eegdac-mc-256hz"


def _stored(path: Path) -> tuple[dict, list]:
    with ContainerReader.open(path) as reader:
        return reader.meta, list(reader.iter_code_blocks())


def _stored_codes(path: Path) -> np.ndarray:
    return np.concatenate([b.codes for b in _stored(path)[1]], axis=2)


def test_tokens_of_a_container_are_its_code_blocks(demo_eegc):
    meta, blocks = _stored(demo_eegc)
    tokens = eegzip.tokens(demo_eegc)
    assert len(blocks) == 2 and tokens.codes.dtype == np.uint16
    assert np.array_equal(tokens.codes, _stored_codes(demo_eegc))
    assert np.array_equal(tokens.offsets, np.stack([b.offsets for b in blocks]))
    assert np.array_equal(tokens.scales, np.stack([b.scales for b in blocks]))
    coded = [c["label"] for c in eegzip.info(demo_eegc)["channels"] if c["storage"] == "codec"]
    assert list(tokens.stream_labels) == coded and len(coded) == 19
    assert tokens.stream_channels == tuple((i,) for i in meta["codec_channels"])
    assert tokens.model == {k: meta["model"][k] for k in ("name", "sha256")}
    assert (tokens.codebook_size, tokens.block_frames, tokens.source) == (1024, 32, demo_eegc)


def test_frames_cover_the_recording(demo_eegc):
    tokens = eegzip.tokens(demo_eegc)
    frames = tokens.codes.shape[2]
    duration = eegzip.info(demo_eegc)["recording"]["duration_seconds"]
    assert tokens.frame_seconds == 512 / 256
    assert (frames - 1) * tokens.frame_seconds < duration <= frames * tokens.frame_seconds
    assert tokens.frame_start_seconds[-1] == (frames - 1) * tokens.frame_seconds


def test_tokens_of_an_edf_are_those_compress_stores(demo_edf, demo_eegc, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    beside = sorted(demo_edf.parent.iterdir())
    tokens = eegzip.tokens(demo_edf)
    assert np.array_equal(tokens.codes, _stored_codes(demo_eegc))
    assert tokens.source == demo_edf
    assert list(tmp_path.iterdir()) == [] and sorted(demo_edf.parent.iterdir()) == beside


def test_codebooks_keep_the_first_ones(demo_eegc):
    assert np.array_equal(eegzip.tokens(demo_eegc, codebooks=3).codes,
                          _stored_codes(demo_eegc)[:, :3])  # fmt: skip
    with pytest.raises(UsageError, match="1..9"):
        eegzip.tokens(demo_eegc, codebooks=10)


def test_blocks_that_do_not_tile_are_refused(demo_eegc, monkeypatch):
    blocks = _stored(demo_eegc)[1]
    monkeypatch.setattr(ContainerReader, "iter_code_blocks", lambda self: iter(blocks[1:]))
    with pytest.raises(ContainerFormatError, match="do not tile"):
        eegzip.tokens(demo_eegc)


def test_npz_round_trip(demo_eegc, tmp_path):
    tokens = eegzip.tokens(demo_eegc)
    path = tokens.save(tmp_path / "t.npz")
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["codes", "frame_start_seconds", "meta", "offsets", "scales"]
        assert np.array_equal(data["frame_start_seconds"], tokens.frame_start_seconds)
        meta = json.loads(str(data["meta"]))
    assert (meta["source"], meta["eegzip"]) == ("demo.eegc", eegzip.__version__)
    back = eegzip.Tokens.load(path)
    for name in ("codes", "offsets", "scales"):
        assert np.array_equal(getattr(back, name), getattr(tokens, name)), name
        assert getattr(back, name).dtype == getattr(tokens, name).dtype, name
    assert back.describe() == tokens.describe() and back.source == Path("demo.eegc")
    with pytest.raises(OutputExistsError):
        tokens.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temporary file left


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_refuses_to_overwrite_without_force(demo_eegc, tmp_path):
    out = tmp_path / "t.npz"
    out.write_bytes(b"precious")
    refused = runner.invoke(app, ["tokens", str(demo_eegc), "-o", str(out)])
    assert refused.exit_code == 6 and "already exists" in refused.stderr, refused.output
    assert out.read_bytes() == b"precious"
    forced = runner.invoke(app, ["tokens", str(demo_eegc), "-o", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert np.array_equal(np.load(out)["codes"], _stored_codes(demo_eegc))


def test_cli_folder_json_and_default_name(demo_eegc, tmp_path):
    copy = tmp_path / "rec.eegc"
    copy.write_bytes(demo_eegc.read_bytes())
    result = runner.invoke(app, ["tokens", str(tmp_path), "--codebooks", "2", "--json"])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert report["output"] == str(tmp_path / "rec.tokens.npz")
    assert (report["streams"], report["codebooks"], report["frames"]) == (19, 2, 35)
    human = runner.invoke(app, ["tokens", str(copy), "--force"])
    assert human.exit_code == 0 and "19 streams × 9 codebooks × 35 frames" in human.stdout


@pytest.mark.parametrize(
    "damage,fragment",
    [
        (lambda d: d[: len(d) // 2], "truncated"),
        (lambda d: d[:300] + bytes([d[300] ^ 0x10]) + d[301:], "checksum"),
        (lambda d: b"not a container at all", "not an eegzip container"),
    ],
)
def test_cli_damaged_container_is_one_line(demo_eegc, tmp_path, damage, fragment):
    bad = tmp_path / "bad.eegc"
    bad.write_bytes(damage(demo_eegc.read_bytes()))
    digest = _digest(bad)
    result = runner.invoke(app, ["tokens", str(bad)])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 4 and len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["bad.eegc"] and _digest(bad) == digest


def test_multichannel_model_gives_one_stream_per_group(demo_edf, tmp_path):
    container = tmp_path / "mc.eegc"
    eegzip.compress(demo_edf, container, model=MC_MODEL, measure=False)
    meta, _ = _stored(container)
    tokens = eegzip.tokens(demo_edf, model=MC_MODEL)
    members = meta["groups"]["members"]
    assert len(members) < 19 and tokens.codes.shape[0] == len(members)
    assert np.array_equal(tokens.codes, _stored_codes(container))
    labels = [c["label"] for c in eegzip.info(container)["channels"]]
    channels = meta["codec_channels"]
    assert tokens.stream_labels == tuple("+".join(labels[channels[i]] for i in g) for g in members)
    assert "EEG O1+EEG O2" in tokens.stream_labels
    assert tokens.offsets.shape == (2, 19) and tokens.model["name"] == MC_MODEL
