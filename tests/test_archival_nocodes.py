"""Archival files without neural codes (format 1.5): --lossless and --max-error E write the RESI
blocks as the time blocks, need no model and no torch, and every reader handles them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.container import ContainerReader, ContainerWriter
from eegzip.container.format import CODE_TYPES, RESI, TIME_BLOCK_TYPES
from eegzip.demo import make_demo_edf
from eegzip.edf import EdfFile, parse_header
from eegzip.errors import ContainerFormatError, UnsupportedError
from eegzip.pipeline.meta import ContainerMeta

runner = CliRunner()
SECONDS = 600  # three time blocks: 256 s, 256 s, 88 s


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return make_demo_edf(tmp_path_factory.mktemp("nocodes") / "demo.edf", seconds=SECONDS)


@pytest.fixture(scope="module")
def lossless(source) -> Path:
    return eegzip.compress(source, source.with_name("lossless.eegc"), max_error_uv=0.0).output


@pytest.fixture(scope="module")
def bounded(source) -> Path:
    return eegzip.compress(
        source, source.with_name("bounded.eegc"), max_error_uv=1.0, measure=False
    ).output


def _entries(path: Path) -> list:
    with ContainerReader.open(path) as reader:
        return list(reader._layout.entries)


def test_the_residual_blocks_are_the_time_blocks(lossless):
    with ContainerReader.open(lossless) as reader:
        meta = reader.meta
        assert reader.version == (1, 5) and reader.residuals_are_time_blocks
        assert reader.code_block_count == 3
        assert [reader.code_block(k).index for k in range(3)] == [0, 1, 2]
        metrics = reader.metrics
    assert meta["model"] is None and meta["codebooks_kept"] == 0 and "spectral" not in meta
    assert meta["max_error_uv"] == 0.0 and meta["block_frames"] == 256
    assert meta["raw_block_records"] == 256 and meta["context_frames"] == 0
    entries = _entries(lossless)
    assert not any(e.block_type in TIME_BLOCK_TYPES for e in entries)
    resi = [e for e in entries if e.block_type == RESI]
    assert [(e.key, e.start_seconds, e.duration_seconds) for e in resi] == [
        (0, 0.0, 256.0), (1, 256.0, 256.0), (2, 512.0, 88.0)
    ]  # fmt: skip
    overall = metrics["fidelity"]["overall"]  # measured without the mel loss: exact, so 0
    assert overall["mel_loss"] == 0.0 and overall["prd"] == 0.0 and "codes" not in metrics


def test_lossless_round_trip_and_windows_equal_the_full_decode(source, lossless, tmp_path):
    whole = eegzip.decompress(lossless, tmp_path / "whole.edf").output
    assert whole.read_bytes() == source.read_bytes()
    with EdfFile.open(source) as edf:
        originals = [edf.read_digital(i, 0, edf.header.n_records) for i in range(3)]
        spr = [s.samples_per_record for s in edf.header.signals[:3]]
    for start, duration in ((0, 10), (250, 20), (500, 100), (599, 1)):  # across block edges
        part = eegzip.decompress(
            lossless, tmp_path / f"w{start}.edf", start=start, duration=duration
        ).output
        with EdfFile.open(part) as edf:
            for i in range(3):
                want = originals[i][start * spr[i] : (start + duration) * spr[i]]
                assert np.array_equal(edf.read_digital(i, 0, edf.header.n_records), want)
        with eegzip.open(lossless) as packed, eegzip.open(source) as edf:
            got, want = packed.read(start, duration), edf.read(start, duration)
        got, want = (x if isinstance(x, dict) else {0: x} for x in (got, want))
        assert got.keys() == want.keys()
        assert all(np.array_equal(got[k], want[k]) for k in got)


def test_bounded_file_keeps_its_promise(source, bounded, tmp_path):
    restored = eegzip.decompress(bounded, tmp_path / "b.edf").output
    with EdfFile.open(source) as a, EdfFile.open(restored) as b:
        worst = max(
            np.max(np.abs(a.read_physical(i) - b.read_physical(i)))
            for i, s in enumerate(a.header.signals)
            if not s.is_annotation
        )
    assert 0 < worst <= 1.0 + 1e-9
    assert bounded.stat().st_size < source.stat().st_size


def test_verify_info_and_tokens(lossless):
    for full in (False, True):
        report = eegzip.verify(lossless, full=full)
        assert report.ok, report.problems
    assert report.portable_blocks == 3 and report.checksummed_blocks == 0
    info = eegzip.info(lossless)
    assert info["model"] is None and info["max_error_uv"] == 0.0
    assert info["code_blocks"] == 3 and info["block_seconds"] == 256.0
    result = runner.invoke(app, ["info", str(lossless)])
    assert result.exit_code == 0 and "archival, no model" in result.stdout, result.output
    with pytest.raises(UnsupportedError, match="compress with --codebooks N"):
        eegzip.tokens(lossless)
    result = runner.invoke(app, ["tokens", str(lossless), "-o", str(lossless) + ".npz"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--codebooks N" in lines[0], result.stderr


def test_salvage_keeps_every_intact_time_block(source, lossless, tmp_path):
    last = next(e for e in _entries(lossless) if e.block_type == RESI and e.key == 2)
    cut = tmp_path / "cut.eegc"
    cut.write_bytes(lossless.read_bytes()[: last.offset + last.length // 2])
    result = eegzip.decompress(cut, tmp_path / "s.edf", salvage=True)
    assert result.salvage.records == 512  # blocks 0 and 1 decode alone: both kept
    with EdfFile.open(source) as a, EdfFile.open(result.output) as b:
        for i, s in enumerate(a.header.signals):
            if not s.is_annotation:
                n = 512 * s.samples_per_record
                assert np.array_equal(b.read_digital(i, 0, 512), a.read_digital(i, 0, 512)[:n])


def test_codebooks_keep_todays_codes_under_the_residual_layer(source, tmp_path):
    packed = eegzip.compress(
        source, tmp_path / "t.eegc", max_error_uv=0.0, codebooks=1, measure=False
    ).output
    kinds = {e.block_type for e in _entries(packed)}
    assert kinds & set(CODE_TYPES) and RESI in kinds
    assert eegzip.tokens(packed).codes.shape[1] == 1
    assert eegzip.decompress(packed, tmp_path / "t.edf").output.read_bytes() == (
        source.read_bytes()
    )


def test_inconsistent_metadata_is_one_line(lossless):
    with ContainerReader.open(lossless) as reader:
        meta, header = dict(reader.meta), parse_header(reader.edf_header, "x")
    for change, fragment in (
        ({"spectral": {"bitrate": 100.0}}, "spectral-codec settings"),
        ({"max_error_uv": None}, "names no model"),
        ({"context_frames": 3}, "resample 1/1, context 0"),
    ):
        with pytest.raises(ContainerFormatError, match=fragment):
            ContainerMeta.parse({**meta, **change}, "x.eegc").check(header, "x.eegc")


def _first_block_then(lossless: Path, target: Path, then) -> Path:
    """``lossless``'s metadata, header and first RESI time block, then ``then(writer, block)``."""
    with ContainerReader.open(lossless) as reader:
        meta, header, residual = reader.meta, reader.edf_header, reader.code_block(0)
    with ContainerWriter(target) as writer:
        writer.write_meta(meta)
        writer.write_edf_header(header)
        writer.write_residual_block(residual, time_block=True)
        then(writer, residual)
    return target


def test_a_code_block_after_residual_time_blocks_is_refused(lossless, tmp_path):
    def residual_again(writer, residual):
        with pytest.raises(ValueError, match="code block"):
            writer.write_residual_block(residual)  # a residual layer needs a code block

    short = _first_block_then(lossless, tmp_path / "x.eegc", residual_again)
    with pytest.raises(ContainerFormatError, match="holds 1 residual blocks"):
        eegzip.decompress(short, tmp_path / "x.edf")


NO_TORCH = """
import sys
from eegzip.cli import app
source, packed, restored = sys.argv[1:4]
for args in (["compress", source, "-o", packed, "--lossless"],
             ["decompress", packed, "-o", restored], ["verify", "--full", packed],
             ["info", packed]):
    try:
        app(args, prog_name="eegzip")
    except SystemExit as done:
        assert not done.code, (args, done.code)
print("torch" in sys.modules)
"""


def test_archival_work_never_imports_torch(source, tmp_path):
    """compress (with its metrics and self-check), decompress, verify --full and info."""
    out, edf = tmp_path / "n.eegc", tmp_path / "n.edf"
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(source), str(out), str(edf)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False", done.stdout
    assert edf.read_bytes() == source.read_bytes()


def test_a_reader_refuses_codes_among_residual_time_blocks(lossless, tmp_path):
    """Structure (spec 9.1): once RESI blocks are the time blocks, no code block may follow."""

    def codes(writer, _):
        writer._add_block(b"ECOD", b"", key=1, start=256.0, duration=256.0)

    mixed = _first_block_then(lossless, tmp_path / "x.eegc", codes)
    with pytest.raises(ContainerFormatError, match="block 3 holds codes"):
        ContainerReader.open(mixed)
