"""decompress --salvage: the intact start of a damaged file comes back, the loss is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.container import ContainerReader
from eegzip.container.format import CODE_TYPES, RAW_TYPES, RESIDUAL_TYPES
from eegzip.edf import EdfFile
from eegzip.errors import ContainerFormatError, UsageError
from eegzip.pipeline.compress import CompressOptions, compress_file

runner = CliRunner()
DAMAGED = 4  # code block damaged in the tests: blocks 0..2 come back (3 needs 4 as context)


@pytest.fixture(scope="module")
def multi_block(demo_edf, tmp_path_factory):
    """The 70-s demo in 8-s code blocks (9 of them), and its normal full decode."""
    folder = tmp_path_factory.mktemp("salvage")
    container = folder / "rec.eegc"
    options = CompressOptions(block_frames=4, context_frames=2, measure=False)
    compress_file(demo_edf, container, eegzip.load_codec(), options)
    full = folder / "full.edf"
    eegzip.decompress(container, full)
    with ContainerReader.open(container) as reader:
        entries = list(reader._layout.entries)
        assert reader.code_block_count >= 5
    return container, full, entries


def _entry(entries, types, key):
    return next(e for e in entries if e.block_type in types and e.key == key)


def _damaged(container: Path, tmp_path: Path, position: int, *, cut: bool = False) -> Path:
    data = bytearray(container.read_bytes())
    if cut:
        data = data[:position]
    else:
        data[position] ^= 0x10
    bad = tmp_path / "bad.eegc"
    bad.write_bytes(bytes(data))
    return bad


def _expected_records(full: Path, entries, first_lost_block: int) -> int:
    """Whole records before code block ``first_lost_block`` starts."""
    start = _entry(entries, CODE_TYPES, first_lost_block).start_seconds
    with EdfFile.open(full) as edf:
        return int(start // edf.header.record_duration)


def _assert_prefix_of(salvaged: Path, full: Path, records: int) -> None:
    """The salvaged EDF is the first ``records`` records of the full decode, header saying so."""
    with EdfFile.open(salvaged) as a, EdfFile.open(full) as b:
        assert a.header.n_records == records < b.header.n_records
        size = len(b.raw_header)
        record_bytes = (len(full.read_bytes()) - size) // b.header.n_records
        assert len(a.raw_header) == size
    data = salvaged.read_bytes()
    assert len(data) == size + records * record_bytes
    assert data[size:] == full.read_bytes()[size : size + records * record_bytes]


def test_flipped_byte_in_a_middle_code_block(multi_block, tmp_path):
    container, full, entries = multi_block
    entry = _entry(entries, CODE_TYPES, DAMAGED)
    bad = _damaged(container, tmp_path, entry.offset + entry.length // 2)
    out = tmp_path / "out.edf"
    result = eegzip.decompress(bad, out, salvage=True)
    records = _expected_records(full, entries, DAMAGED - 1)
    assert records > 0
    _assert_prefix_of(out, full, records)
    s = result.salvage
    assert s is not None and not s.complete and s.records == records
    assert s.salvaged_seconds == pytest.approx(records * s.record_seconds)
    assert "checksum mismatch" in s.damage[0] and "codes" in s.damage[0]
    assert any("left out" in line for line in s.damage)


def test_truncated_file(multi_block, tmp_path):
    """Index and trailer gone, cut inside a code block: the blocks before it are found."""
    container, full, entries = multi_block
    entry = _entry(entries, CODE_TYPES, DAMAGED)
    bad = _damaged(container, tmp_path, entry.offset + entry.length // 2, cut=True)
    out = tmp_path / "out.edf"
    result = eegzip.decompress(bad, out, salvage=True)
    _assert_prefix_of(out, full, _expected_records(full, entries, DAMAGED - 1))
    assert "truncated" in " ".join(result.salvage.damage)


def test_damaged_raw_block_ends_the_prefix_at_its_start(multi_block, tmp_path):
    container, full, entries = multi_block
    raws = [e for e in entries if e.block_type in RAW_TYPES and e.start_seconds > 0]
    entry = raws[0]
    bad = _damaged(container, tmp_path, entry.offset + entry.length // 2)
    out = tmp_path / "out.edf"
    result = eegzip.decompress(bad, out, salvage=True)
    with EdfFile.open(full) as edf:
        records = round(entry.start_seconds / edf.header.record_duration)
    _assert_prefix_of(out, full, records)
    assert "raw signal" in " ".join(result.salvage.damage)


def test_intact_file_decompresses_whole(multi_block, tmp_path):
    container, full, _ = multi_block
    out = tmp_path / "out.edf"
    result = eegzip.decompress(container, out, salvage=True)
    assert out.read_bytes() == full.read_bytes()
    assert result.salvage.complete and result.salvage.damage == ()
    assert "nothing lost" in result.salvage.summary()


@pytest.mark.parametrize("block", [0, 1])
def test_nothing_intact_fails_and_writes_nothing(multi_block, tmp_path, block):
    """Block 0 damaged: nothing; block 1 damaged: block 0 cannot be decoded without it."""
    container, _, entries = multi_block
    entry = _entry(entries, CODE_TYPES, block)
    bad = _damaged(container, tmp_path, entry.offset + entry.length // 2)
    out = tmp_path / "out.edf"
    with pytest.raises(ContainerFormatError, match="nothing can be salvaged"):
        eegzip.decompress(bad, out, salvage=True)
    result = runner.invoke(app, ["decompress", str(bad), "-o", str(out), "--salvage"])
    assert result.exit_code == 4, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nothing can be salvaged" in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.eegc"]


@pytest.mark.parametrize("cut", [False, True])
def test_without_salvage_damage_still_fails(multi_block, tmp_path, cut):
    container, _, entries = multi_block
    entry = _entry(entries, CODE_TYPES, DAMAGED)
    bad = _damaged(container, tmp_path, entry.offset + entry.length // 2, cut=cut)
    out = tmp_path / "out.edf"
    result = runner.invoke(app, ["decompress", str(bad), "-o", str(out)])
    assert result.exit_code == 4, result.output
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    assert not out.exists()


def test_cli_reports_the_loss(multi_block, tmp_path):
    container, full, entries = multi_block
    entry = _entry(entries, CODE_TYPES, DAMAGED)
    bad = _damaged(container, tmp_path, entry.offset + entry.length // 2)
    records = _expected_records(full, entries, DAMAGED - 1)
    out = tmp_path / "out.edf"
    result = runner.invoke(app, ["decompress", str(bad), "-o", str(out), "--salvage"])
    assert result.exit_code == 0, result.output
    assert "LOST DATA" in result.stderr
    assert f"salvaged 00:00:00–00:00:{records:02d} of 00:01:10" in result.stderr
    number = entries.index(entry)
    assert f"block {number} (" in result.stderr and "00:00:32–00:00:40) is damaged" in result.stderr
    assert "checksum mismatch" in result.stderr
    out.unlink()
    result = runner.invoke(app, ["decompress", str(bad), "-o", str(out), "--salvage", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["salvaged_seconds"] == pytest.approx(records)
    assert report["total_seconds"] == pytest.approx(70)
    assert report["complete"] is False
    assert any("checksum mismatch" in line for line in report["damage"])


def test_cli_intact_file_says_nothing_lost(multi_block, tmp_path):
    container, _, _ = multi_block
    result = runner.invoke(
        app, ["decompress", str(container), "-o", str(tmp_path / "o.edf"), "--salvage"]
    )
    assert result.exit_code == 0, result.output
    assert "nothing lost" in result.stdout and "LOST" not in result.output


def test_salvage_refuses_a_time_window(multi_block, tmp_path):
    container, _, _ = multi_block
    with pytest.raises(UsageError):
        eegzip.decompress(container, tmp_path / "o.edf", salvage=True, start=10)
    result = runner.invoke(
        app, ["decompress", str(container), "--salvage", "--duration", "5", "-o", "x.edf"]
    )
    assert result.exit_code == 2 and "--salvage" in result.stderr


def test_damaged_residual_block_counts_as_damage(demo_edf, tmp_path):
    """With a residual layer, a block is intact only if its residual block is too."""
    container = tmp_path / "bounded.eegc"
    options = CompressOptions(block_frames=4, context_frames=2, measure=False, max_error_uv=1.0)
    compress_file(demo_edf, container, eegzip.load_codec(), options)
    full = tmp_path / "full.edf"
    eegzip.decompress(container, full)
    with ContainerReader.open(container) as reader:
        entries = list(reader._layout.entries)
    entry = _entry(entries, RESIDUAL_TYPES, DAMAGED)
    data = bytearray(container.read_bytes())
    data[entry.offset + entry.length // 2] ^= 0x10
    bad = tmp_path / "bad.eegc"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.edf"
    result = eegzip.decompress(bad, out, salvage=True)
    _assert_prefix_of(out, full, _expected_records(full, entries, DAMAGED - 1))
    assert "residual" in result.salvage.damage[0]
