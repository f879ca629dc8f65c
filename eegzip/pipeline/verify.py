"""Integrity check of .eegc files, without writing anything.

The fast check proves every block is intact and decodes (an archival file's RESI blocks too:
they need no model). The full check also decodes the recording as decompression does; for
archival files of format 1.3 (RESP) only that shows this machine reproduces the decoder output
whose checksums they store, which their error bound rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eegzip.codec.registry import Codec
from eegzip.container import ContainerReader
from eegzip.edf import parse_header
from eegzip.errors import ContainerFormatError, EdfFormatError, UnsupportedError
from eegzip.pipeline.meta import ContainerMeta

if TYPE_CHECKING:
    from eegzip.pipeline.compress import Progress


@dataclass(frozen=True)
class VerifyReport:
    file: Path
    problems: tuple[str, ...]  # one line each, naming the file; empty if the file is intact
    full: bool  # the complete decode was asked for
    decoded_seconds: float | None = None  # recording decoded through the codec (full, intact)
    checksummed_blocks: int = 0  # code blocks whose decoder output matched the stored CRCs
    portable_blocks: int = 0  # code blocks restored by a RESI block (exact on every machine)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "file": str(self.file),
            "ok": self.ok,
            "problems": list(self.problems),
            "full": self.full,
            "decoded_seconds": self.decoded_seconds,
            "checksummed_blocks": self.checksummed_blocks,
            "portable_blocks": self.portable_blocks,
        }


def verify_file(
    source: Path,
    *,
    full: bool = False,
    model: str | Path | Codec | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
) -> VerifyReport:
    """Damage goes into the report; EegzipError means the file could not be checked at all."""
    try:
        with ContainerReader.open(source, salvage=True) as reader:
            problems = reader.verify()
            if not problems:  # intact blocks: do they also make sense together?
                name = str(source)
                header = parse_header(reader.edf_header, f"{name} (stored EDF header)")
                ContainerMeta.read(reader, header, name).check_code_blocks(reader, name)
    except (ContainerFormatError, EdfFormatError) as error:
        problems = [str(error)]
    if problems or not full:
        return VerifyReport(source, _named(source, problems), full)
    from eegzip.pipeline.decompress import decompress_file  # the codec: only for --full

    try:
        decompress_file(source, None, model=model, device=device, progress=progress)
    except (ContainerFormatError, EdfFormatError, UnsupportedError) as error:
        # UnsupportedError here is the decoder's output disagreeing with the stored checksums.
        return VerifyReport(source, _named(source, [str(error)]), full)
    with ContainerReader.open(source) as reader:
        seconds = parse_header(reader.edf_header, f"{source} (stored EDF header)").duration
        blocks = range(reader.code_block_count if reader.has_residuals else 0)
        checksummed = sum(reader.residual_needs_decoder(b) for b in blocks)
    return VerifyReport(source, (), full, seconds, checksummed, len(blocks) - checksummed)


def _named(source: Path, problems: list[str]) -> tuple[str, ...]:
    prefix = f"{source}:"
    return tuple(p if p.startswith(prefix) else f"{prefix} {p}" for p in problems)
