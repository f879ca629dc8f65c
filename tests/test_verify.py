"""`eegzip verify` and eegzip.verify: intact files pass, any damage is one line and exit 4."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.container import ContainerReader
from eegzip.container.format import (
    BLOCK_HEADER,
    CRC,
    RESIDUAL_TIME_TYPES,
    RESP,
    RESP_HEADER,
    TIME_BLOCK_TYPES,
)
from eegzip.demo import make_demo_edf

runner = CliRunner()
SECONDS = 70  # two 64-s code blocks (lossy); one 256-s residual block (lossless)
LEGACY = Path(__file__).parent / "data" / "legacy-1.3-lossless.eegc"  # see test_residual.py


@pytest.fixture(scope="module")
def lossy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("verify")
    edf = make_demo_edf(folder / "demo.edf", seconds=SECONDS)
    return eegzip.compress(edf, folder / "lossy.eegc", measure=False).output


@pytest.fixture(scope="module")
def lossless(lossy) -> Path:
    source = lossy.with_name("demo.edf")
    return eegzip.compress(source, lossy.with_name("lossless.eegc"), measure=False,
                           max_error_uv=0.0).output  # fmt: skip


def _verify(*args: str | Path) -> tuple[int, list[str], str]:
    """Exit code, non-empty stdout lines, stderr."""
    result = runner.invoke(app, ["verify", *map(str, args)])
    assert "Traceback" not in result.output
    return result.exit_code, [ln for ln in result.stdout.splitlines() if ln.strip()], result.stderr


def _damaged(source: Path, target: Path, spot: int) -> Path:
    data = bytearray(source.read_bytes())
    data[spot] ^= 0x10
    target.write_bytes(bytes(data))
    return target


def _entries(path: Path) -> list:
    with ContainerReader.open(path) as reader:
        return list(reader._layout.entries)


@pytest.mark.parametrize("full", [False, True])
def test_intact_files_pass(lossy, lossless, full):
    code, lines, stderr = _verify(lossy, lossless, *(["--full"] if full else []))
    assert code == 0, (lines, stderr)  # stderr: a progress bar with --full, then the summary
    assert "2 files: 2 verified, 0 skipped (already done), 0 failed ·" in stderr, stderr
    assert [line.split(": OK")[0] for line in lines] == [str(lossy), str(lossless)]
    if full:
        assert "decoded 70 s exactly (archival: needs no codec)" in lines[1]
        assert "lossy: no checksums stored" in lines[0]
    report = eegzip.verify(lossless, full=full)
    assert report.ok and report.problems == () and report.full == full
    assert (report.decoded_seconds, report.checksummed_blocks, report.portable_blocks) == (
        (SECONDS, 0, 1) if full else (None, 0, 0)
    )  # no codes (1.5): one time block of whole records, up to 256 s


def test_flipped_byte_in_any_block_is_one_line_naming_it(lossless, tmp_path):
    entries = _entries(lossless)
    kinds = {e.block_type for e in entries}  # 1.5: the residual blocks are the time blocks
    assert kinds & set(RESIDUAL_TIME_TYPES) and not kinds & set(TIME_BLOCK_TYPES)
    for number, entry in enumerate(entries):
        bad = _damaged(lossless, tmp_path / "bad.eegc", entry.offset + entry.length // 2)
        code, lines, stderr = _verify(bad)
        assert code == 4 and not stderr, (entry, lines, stderr)
        assert len(lines) == 1 and lines[0].startswith(f"{bad}: block {number} ("), lines
        assert "checksum mismatch" in lines[0]
        assert not eegzip.verify(bad).ok


@pytest.mark.parametrize("keep", [0.5, -1])
def test_truncated_file_fails(lossy, tmp_path, keep):
    data = lossy.read_bytes()
    cut = tmp_path / "cut.eegc"
    cut.write_bytes(data[: int(len(data) * keep) if keep > 0 else keep])
    code, lines, _ = _verify(cut, "--full")
    assert code == 4 and len(lines) == 1 and "truncated" in lines[0], lines
    assert not eegzip.verify(cut, full=True).ok


def test_not_a_container_missing_file_and_empty_folder(tmp_path):
    notes = tmp_path / "notes.eegc"
    notes.write_text("just some text\n" * 20)
    code, lines, stderr = _verify(notes)
    assert code == 4 and lines == [f"{notes}: not an eegzip container"] and not stderr
    (tmp_path / "empty").mkdir()
    for path, fragment in (
        (tmp_path / "nope.eegc", "no such file"),
        (tmp_path / "empty", "no .eegc"),
    ):
        code, lines, stderr = _verify(path)
        assert code == 3 and not lines and fragment in stderr and stderr.count("\n") == 1, stderr


def test_json_lists_every_file_of_a_folder(lossy, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(lossy, folder / "a.eegc")
    entry = next(e for e in _entries(lossy) if e.block_type in TIME_BLOCK_TYPES)
    _damaged(lossy, folder / "b.eegc", entry.offset + entry.length // 2)
    result = runner.invoke(app, ["verify", str(folder), "--json"])
    assert result.exit_code == 4, result.output
    reports = json.loads(result.stdout)
    assert [(Path(r["file"]).name, r["ok"], len(r["problems"]), r["full"]) for r in reports] == [
        ("a.eegc", True, 0, False),
        ("b.eegc", False, 1, False),
    ]
    single = runner.invoke(app, ["verify", str(folder / "a.eegc"), "--json"])
    assert single.exit_code == 0 and json.loads(single.stdout)[0]["ok"] is True


def test_full_decode_catches_decoder_output_that_differs_from_the_stored_checksums(tmp_path):
    """Format 1.3: a stored checksum that no longer matches (block CRC still right): only
    --full sees it."""
    data = bytearray(LEGACY.read_bytes())
    entry = next(e for e in _entries(LEGACY) if e.block_type == RESP)
    payload = entry.offset + BLOCK_HEADER.size
    n_channels = RESP_HEADER.unpack_from(data, payload)[4]
    data[payload + RESP_HEADER.size + 4 * n_channels] ^= 0x01  # first channel's output CRC
    end = entry.offset + entry.length - CRC.size
    CRC.pack_into(data, end, zlib.crc32(data[entry.offset : end]))
    odd = tmp_path / "odd.eegc"
    odd.write_bytes(bytes(data))
    assert _verify(odd)[0] == 0 and eegzip.verify(odd).ok
    code, lines, _ = _verify(odd, "--full")
    assert code == 4 and len(lines) == 1 and f"(block {entry.key})" in lines[0], lines
    assert "decoder output differs" in lines[0]
    report = eegzip.verify(odd, full=True)
    assert not report.ok and report.decoded_seconds is None
