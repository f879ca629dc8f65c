"""Reader of .eegc files: random access through the index, every block checked before use.

Damage never surfaces as anything but ContainerFormatError (ChecksumError for a CRC mismatch)
or UnsupportedError, each with a one-line message naming the file and, for a block, its
number, kind and time range.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import numpy as np

from ..errors import (
    ChecksumError,
    ContainerFormatError,
    UnsupportedError,
)
from .blocks import (
    CodeBlock,
    IndexEntry,
    IntegerResidualBlock,
    RawBlock,
    ResidualBlock,
    decode_code_block,
    decode_edf_header,
    decode_index,
    decode_integer_residual_block,
    decode_json_block,
    decode_predictive_block,
    decode_raw_block,
    decode_residual_block,
    decode_residual_head,
    reconstruction_checksums,
    span_of,
)
from .format import (
    BLOCK_HEADER,
    BLOCK_KINDS,
    BLOCK_OVERHEAD,
    CODE_HEADER,
    CRC,
    END_MAGIC,
    FLAG_OPTIONAL,
    FORMAT_MAJOR,
    FORMAT_MINOR,
    HEADER_TYPES,
    INDEX_ENTRY,
    INDEX_TYPES,
    INDX,
    MAGIC,
    MAX_BLOCKS,
    META_TYPES,
    METRICS_TYPES,
    PREAMBLE,
    PREAMBLE_SIZE,
    RAW_TYPES,
    RESD,
    RESI,
    RESIDUAL_TIME_TYPES,
    RESIDUAL_TYPES,
    RESP,
    SPECTRAL_TYPES,
    TIME_BLOCK_TYPES,
    TRAILER,
)
from .source import is_url, open_source, source_size
from .spectral import SpectralBlock, decode_spectral_block

_T = TypeVar("_T")
_VALID_TYPE = re.compile(rb"[A-Z0-9]{4}")
# Enough of a block's start to name it: header plus the fixed part of a CODE/RAWS payload.
_NAMING_PREFIX = BLOCK_HEADER.size + CODE_HEADER.size


@dataclass(frozen=True)
class _Layout:
    """Where the blocks are, as learned from the index or, failing that, by scanning."""

    entries: list[IndexEntry]  # blocks before the index in file order; block number = position
    index_length: int  # bytes of the intact index block, 0 if none was found
    has_trailer: bool
    damage: ContainerFormatError | None  # problem found while locating the blocks
    incomplete: bool  # blocks may exist after entries[-1] that could not be reached
    index_type: bytes = INDX  # INDX or INDZ (1.5)


class _NoIndex(Exception):
    """The trailer or index cannot be used; carries the problem to report if a scan is clean.

    `end_missing`: the file does not end with END_MAGIC, so it was most likely cut short.
    """

    def __init__(self, error: ContainerFormatError, *, end_missing: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.end_missing = end_missing


class ContainerReader:
    """Random access to a .eegc file; open with `ContainerReader.open(path)`.

    Blocks are read on demand, one at a time, and their CRC is verified before parsing. By
    default a file that is truncated or whose index is damaged is refused at open; with
    `salvage=True` it opens anyway (blocks are then found by scanning), the intact blocks can be
    read, queries that may depend on lost blocks raise, and `verify()` lists the damage.
    Not thread-safe: the reader shares one file handle.
    """

    def __init__(self, path: Path, file: BinaryIO, version: tuple[int, int], layout: _Layout):
        self.path = path
        self._name = str(path)
        self._file = file
        self._version = version
        self._layout = layout
        entries = layout.entries
        self._code_numbers = [
            n for n, e in enumerate(entries) if e.block_type in TIME_BLOCK_TYPES
        ] or [n for n, e in enumerate(entries) if e.block_type in RESIDUAL_TIME_TYPES]
        # no code or spectral blocks: (1.5) a code-less archival file's RESI blocks are its
        # time blocks (_check_structure made sure they are numbered as such)
        self._raw_numbers = [n for n, e in enumerate(entries) if e.block_type in RAW_TYPES]
        self._residual_numbers = {
            e.key: n for n, e in enumerate(entries) if e.block_type in RESIDUAL_TYPES
        }
        self._metrics_number = next(
            (n for n, e in enumerate(entries) if e.block_type in METRICS_TYPES), None
        )
        self._meta: dict[str, Any] | None = None
        self._metrics: dict[str, Any] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, salvage: bool = False) -> ContainerReader:
        """Open a path, or an http(s):// or fsspec URL (read by byte ranges, see source.py)."""
        file, size = open_source(path)  # owned by the reader until close()
        name = str(path)
        path = path if is_url(path) else Path(path)
        try:
            version = _read_preamble(name, file)
            layout = _locate_blocks(name, file, size)
            _check_structure(name, version, layout)
            if layout.damage is not None and not salvage:
                raise layout.damage
        except BaseException:
            file.close()
            raise
        return cls(path, file, version, layout)

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) format version the file was written with."""
        return self._version

    @property
    def meta(self) -> dict[str, Any]:
        """The pipeline's metadata (spec §5.1), decoded once and cached."""
        if self._meta is None:
            self._meta = self._decode_typed(self._required(0), decode_json_block)
        return self._meta

    @property
    def edf_header(self) -> bytes:
        """The input's EDF header, byte for byte."""
        return self._edf_header_at(self._required(1))

    @property
    def metrics(self) -> dict[str, Any] | None:
        """The metrics block, or None if the file has none."""
        if self._metrics is None and self._metrics_number is not None:
            self._metrics = self._metrics_at(self._metrics_number)
        if self._metrics is None:
            self._raise_if_incomplete()
        return self._metrics

    @property
    def damage(self) -> str | None:
        """What was wrong with the file's index or end when it was opened (salvage), or None."""
        return None if self._layout.damage is None else str(self._layout.damage)

    @property
    def code_block_count(self) -> int:
        """Time blocks: code or spectral blocks, or (1.5) the RESI blocks of a file without
        either."""
        self._raise_if_incomplete()
        return len(self._code_numbers)

    @property
    def residuals_are_time_blocks(self) -> bool:
        """Whether the file's time blocks are its RESI blocks (1.5: archival, no codes)."""
        numbers = self._code_numbers
        return bool(numbers) and self._layout.entries[numbers[0]].block_type in RESIDUAL_TIME_TYPES

    def code_block(self, i: int) -> CodeBlock | SpectralBlock | IntegerResidualBlock:
        if 0 <= i < len(self._code_numbers):
            return self._code_block_at(self._code_numbers[i])
        self._raise_if_incomplete()
        raise IndexError(f"code block {i} out of range: the file has {len(self._code_numbers)}")

    def iter_code_blocks(self) -> Iterator[CodeBlock]:
        """All code blocks in order, decoded lazily: one in memory at a time."""
        return self._iter(self._code_numbers, self._code_block_at)

    def code_blocks_between(self, t0: float, t1: float) -> Iterator[CodeBlock]:
        """Code blocks overlapping [t0, t1) seconds, found through the index."""
        return self._iter(self._overlapping(self._code_numbers, t0, t1), self._code_block_at)

    def iter_raw_blocks(self, signal_index: int | None = None) -> Iterator[RawBlock]:
        """Raw blocks in file order, all signals or just one."""
        numbers = [
            n
            for n in self._raw_numbers
            if signal_index is None or self._layout.entries[n].key == signal_index
        ]
        return self._iter(numbers, self._raw_block_at)

    def raw_blocks_between(self, signal_index: int, t0: float, t1: float) -> Iterator[RawBlock]:
        """Raw blocks of one signal overlapping [t0, t1) seconds, found through the index."""
        numbers = [n for n in self._raw_numbers if self._layout.entries[n].key == signal_index]
        return self._iter(self._overlapping(numbers, t0, t1), self._raw_block_at)

    @property
    def has_residuals(self) -> bool:
        return bool(self._residual_numbers)

    @property
    def residuals_need_decoder(self) -> bool:
        """Whether any residual block is a RESD or RESP block (format ≤ 1.3), which corrects the
        neural decoder's output; False for a file whose residual layer is all RESI (or none)."""
        entries = self._layout.entries
        return any(entries[n].block_type != RESI for n in self._residual_numbers.values())

    def residual_needs_decoder(self, i: int) -> bool:
        """Whether code block ``i``'s residual layer is a RESD or RESP block (format ≤ 1.3),
        which corrects the neural decoder's output, rather than RESI, which needs nothing."""
        number = self._residual_numbers.get(i)
        return number is not None and self._layout.entries[number].block_type != RESI

    def residual_block(
        self, i: int, decoded: np.ndarray | None = None
    ) -> IntegerResidualBlock | ResidualBlock | None:
        """The bounded-error layer of code block ``i``, or None if the file has none for it.

        A RESI block (1.4) needs nothing else. For the older types ``decoded`` is the decoder's
        digital output for the block: a RESP block is predicted from it, and with it either
        type is refused (UnsupportedError) when its checksums differ from those the writer
        stored, since the bound would not hold.
        """
        number = self._residual_numbers.get(i)
        if number is None:
            return None
        if self._layout.entries[number].block_type == RESI:
            return self._integer_residual_at(number)
        predictive = self._layout.entries[number].block_type == RESP
        if decoded is not None:
            head = self._decode(number, lambda p: decode_residual_head(p, predictive))
            if not np.array_equal(reconstruction_checksums(decoded), head.recon_crc):
                raise UnsupportedError(
                    f"{self._name}: this machine's decoder output differs from the one that "
                    f"wrote this format-{self._version[0]}.{self._version[1]} file (block {i}), "
                    "so its error bound cannot be guaranteed here; decompress it with the "
                    "eegzip, torch, device and OMP_NUM_THREADS that wrote it (files written "
                    "by eegzip with format 1.4 decode exactly anywhere)"
                )
        if predictive:
            if decoded is None:
                raise ValueError("a RESP block can only be decoded with the decoder's output")
            block = self._decode(number, lambda p: decode_predictive_block(p, decoded))
        else:
            block = self._decode(number, decode_residual_block)
        self._check_span(number, block.index, block.start_seconds, block.duration_seconds)
        return block

    def check_residual(self, i: int) -> bool:
        """Whether code block ``i`` has a residual block that reads cleanly (CRC, and a full
        decode for RESI and RESD; a RESP block's data needs the decoder's output, so its head
        only).
        False if there is none; ContainerFormatError if it is damaged.
        """
        number = self._residual_numbers.get(i)
        if number is None:
            return False
        self._check_residual_at(number)
        return True

    def _check_residual_at(self, number: int) -> None:
        entry = self._layout.entries[number]
        if entry.block_type in (RESD, RESI):
            self.residual_block(entry.key)
        else:  # RESP: its data needs the model, so the head only
            head = self._decode(number, lambda p: decode_residual_head(p, True))
            self._check_span(number, head.index, head.start_seconds, head.duration_seconds)

    def verify(self) -> list[str]:
        """Check every block (CRC and full decode) and the file's structure.

        Returns one line per problem; an empty list means the file is intact.
        """
        problems = []
        for number, entry in enumerate(self._layout.entries):
            try:
                if entry.block_type in TIME_BLOCK_TYPES:
                    self._code_block_at(number)
                elif entry.block_type in RAW_TYPES:
                    self._raw_block_at(number)
                elif entry.block_type in RESIDUAL_TYPES:
                    self._check_residual_at(number)
                elif entry.block_type in META_TYPES:
                    self._decode_typed(number, decode_json_block)
                elif entry.block_type in METRICS_TYPES:
                    self._metrics_at(number)
                elif entry.block_type in HEADER_TYPES:
                    self._edf_header_at(number)
                else:
                    self._load(number)
            except ContainerFormatError as exc:
                problems.append(str(exc))
        if self._layout.damage is not None:
            problems.append(str(self._layout.damage))
        return problems

    def sizes(self) -> dict[str, int]:
        """Bytes per block type ("CODE", "RAWS", ...) including framing, plus "preamble",
        "INDX" or "INDZ", "trailer" and, for a damaged file, "unreadable"; the values sum to the
        file size.
        """
        sizes = {"preamble": PREAMBLE_SIZE}
        for entry in self._layout.entries:
            key = entry.block_type.decode("ascii")
            sizes[key] = sizes.get(key, 0) + entry.length
        if self._layout.index_length:
            sizes[self._layout.index_type.decode("ascii")] = self._layout.index_length
        if self._layout.has_trailer:
            sizes["trailer"] = TRAILER.size
        unreadable = source_size(self._file) - sum(sizes.values())
        if unreadable:
            sizes["unreadable"] = unreadable
        return sizes

    def _iter(self, numbers: list[int], read: Callable[[int], _T]) -> Iterator[_T]:
        for number in numbers:
            yield read(number)
        self._raise_if_incomplete()

    def _overlapping(self, numbers: list[int], t0: float, t1: float) -> list[int]:
        if not t0 <= t1:
            raise ValueError(f"reversed time range [{t0}, {t1})")
        entries = self._layout.entries
        return [
            n
            for n in numbers
            if t0 < t1
            and entries[n].start_seconds < t1
            and entries[n].start_seconds + entries[n].duration_seconds > t0
        ]

    def _code_block_at(self, number: int) -> CodeBlock | SpectralBlock | IntegerResidualBlock:
        block_type = self._layout.entries[number].block_type
        if block_type in RESIDUAL_TIME_TYPES:
            return self._integer_residual_at(number)
        if block_type in SPECTRAL_TYPES:
            block = self._decode_typed(number, decode_spectral_block)
        else:
            block = self._decode(number, lambda payload: decode_code_block(payload, block_type))
        self._check_span(number, block.index, block.start_seconds, block.duration_seconds)
        return block

    def _integer_residual_at(self, number: int) -> IntegerResidualBlock:
        block = self._decode(number, decode_integer_residual_block)
        self._check_span(number, block.index, block.start_seconds, block.duration_seconds)
        return block

    def _metrics_at(self, number: int) -> dict[str, Any]:
        return self._decode_typed(number, decode_json_block)

    def _edf_header_at(self, number: int) -> bytes:
        return self._decode_typed(number, decode_edf_header)

    def _raw_block_at(self, number: int) -> RawBlock:
        block = self._decode_typed(number, decode_raw_block)
        self._check_span(number, block.signal_index, block.start_seconds, block.duration_seconds)
        return block

    def _check_span(self, number: int, key: int, start: float, duration: float) -> None:
        entry = self._layout.entries[number]
        if (key, start, duration) != (entry.key, entry.start_seconds, entry.duration_seconds):
            raise ContainerFormatError(f"{self._block_name(number)} does not match the index")

    def _decode(self, number: int, decoder: Callable[[bytes], _T]) -> _T:
        payload = self._load(number)
        try:
            return decoder(payload)
        except ValueError as exc:
            raise ContainerFormatError(f"{self._block_name(number)} is malformed: {exc}") from None

    def _decode_typed(self, number: int, decoder: Callable[[bytes, bytes], _T]) -> _T:
        """_decode for payloads whose layout depends on the block type (plain or compressed)."""
        block_type = self._layout.entries[number].block_type
        return self._decode(number, lambda payload: decoder(payload, block_type))

    def _load(self, number: int) -> bytes:
        """Payload of block `number`, after checking its CRC and its header against the index."""
        entry = self._layout.entries[number]
        data = _read_at(self._file, entry.offset, entry.length)
        if len(data) != entry.length:
            raise ContainerFormatError(
                f"{self._name}: truncated: ends inside {self._block_name(number, with_file=False)}"
            )
        if not _crc_ok(data):
            raise ChecksumError(f"{self._block_name(number)} is damaged: checksum mismatch")
        block_type, flags, length = BLOCK_HEADER.unpack_from(data)
        if (block_type, flags, length + BLOCK_OVERHEAD) != (
            entry.block_type,
            entry.flags,
            entry.length,
        ):
            raise ContainerFormatError(f"{self._block_name(number)} does not match the index")
        return data[BLOCK_HEADER.size : -CRC.size]

    def _required(self, number: int) -> int:
        """Block 0 (META) or 1 (EDFH/EDFZ), which the format requires and _check_structure
        checked."""
        if number >= len(self._layout.entries):
            self._raise_if_incomplete()
        return number

    def _raise_if_incomplete(self) -> None:
        damage = self._layout.damage
        if self._layout.incomplete and damage is not None:
            raise type(damage)(str(damage))

    def _block_name(self, number: int, *, with_file: bool = True) -> str:
        entry = self._layout.entries[number]
        described = _describe(
            entry.block_type, (entry.key, entry.start_seconds, entry.duration_seconds)
        )
        name = f"block {number} ({described})"
        return f"{self._name}: {name}" if with_file else name


def _read_preamble(name: str, file: BinaryIO) -> tuple[int, int]:
    data = _read_at(file, 0, PREAMBLE_SIZE)
    if not data:
        raise ContainerFormatError(f"{name}: not an eegzip container (empty file)")
    if len(data) < len(MAGIC) and MAGIC.startswith(data):
        raise ContainerFormatError(f"{name}: truncated: ends inside the preamble")
    if not data.startswith(MAGIC):
        hint = " (its signature is mangled: copied in text mode?)" if data[1:4] == b"EEG" else ""
        raise ContainerFormatError(f"{name}: not an eegzip container{hint}")
    if len(data) < PREAMBLE_SIZE:
        raise ContainerFormatError(f"{name}: truncated: ends inside the preamble")
    if not _crc_ok(data):
        raise ChecksumError(f"{name}: the preamble is damaged: checksum mismatch")
    _, major, minor = PREAMBLE.unpack_from(data)
    if major > FORMAT_MAJOR:
        raise UnsupportedError(
            f"{name}: made by a newer eegzip (format {major}.x); this eegzip reads {FORMAT_MAJOR}.x"
        )
    if major < 1:
        raise ContainerFormatError(f"{name}: unknown format version {major}.{minor}")
    return major, minor


def _locate_blocks(name: str, file: BinaryIO, size: int) -> _Layout:
    try:
        entries, index_length, index_type = _read_index(name, file, size)
    except _NoIndex as no_index:
        return _scan(name, file, size, no_index)
    return _Layout(entries, index_length, True, None, incomplete=False, index_type=index_type)


def _read_index(name: str, file: BinaryIO, size: int) -> tuple[list[IndexEntry], int, bytes]:
    """Entries from trailer and index, checked to tile the file from preamble to index; the
    index block's length and type."""
    no_trailer = _NoIndex(ContainerFormatError(f"{name}: has no trailer"), end_missing=True)
    if size < PREAMBLE_SIZE + BLOCK_OVERHEAD + TRAILER.size:
        raise no_trailer
    index_offset, index_length, end = TRAILER.unpack(
        _read_at(file, size - TRAILER.size, TRAILER.size)
    )
    if end != END_MAGIC:
        raise no_trailer
    misplaced = _NoIndex(
        ContainerFormatError(f"{name}: the trailer is damaged: it does not point at the index")
    )
    if index_offset < PREAMBLE_SIZE or index_offset + index_length != size - TRAILER.size:
        raise misplaced
    if index_length > BLOCK_OVERHEAD + INDEX_ENTRY.size * MAX_BLOCKS:  # before reading it
        raise ContainerFormatError(
            f"{name}: the index lists {(index_length - BLOCK_OVERHEAD) // INDEX_ENTRY.size:,} "
            f"blocks, more than the {MAX_BLOCKS:,} a file may hold"
        )
    data = _read_at(file, index_offset, index_length)
    if len(data) < BLOCK_OVERHEAD:
        raise misplaced
    if not _crc_ok(data):
        raise _NoIndex(ChecksumError(f"{name}: the index is damaged: checksum mismatch"))
    block_type, _, length = BLOCK_HEADER.unpack_from(data)
    if block_type not in INDEX_TYPES or length + BLOCK_OVERHEAD != index_length:
        raise misplaced
    try:
        entries = decode_index(data[BLOCK_HEADER.size : -CRC.size], block_type)
    except ValueError as exc:
        raise _NoIndex(ContainerFormatError(f"{name}: the index is malformed: {exc}")) from None
    position = PREAMBLE_SIZE
    for number, entry in enumerate(entries):
        if entry.offset != position or entry.length < BLOCK_OVERHEAD:
            raise _NoIndex(
                ContainerFormatError(f"{name}: the index is malformed: entry {number} is misplaced")
            )
        position += entry.length
    if position != index_offset:
        raise _NoIndex(
            ContainerFormatError(f"{name}: the index is malformed: it does not cover the file")
        )
    return entries, index_length, block_type


def _scan(name: str, file: BinaryIO, size: int, no_index: _NoIndex) -> _Layout:
    """Find blocks by walking their headers from the preamble, checking each CRC on the way.

    Stops at the first block that is cut short or damaged: its length field, and so the
    position of every later block, can no longer be trusted.
    """
    entries: list[IndexEntry] = []
    offset = PREAMBLE_SIZE

    def stop(error: ContainerFormatError) -> _Layout:
        return _Layout(entries, 0, has_trailer=False, damage=error, incomplete=True)

    def overrun(number: int, described: str) -> _Layout:
        if no_index.end_missing:
            return stop(
                ContainerFormatError(f"{name}: truncated: ends inside block {number} ({described})")
            )
        return stop(
            ContainerFormatError(
                f"{name}: block {number} ({described}) is damaged: it runs past the end of the file"
            )
        )

    while True:
        number = len(entries)
        if number > MAX_BLOCKS:
            return stop(ContainerFormatError(f"{name}: holds more than {MAX_BLOCKS:,} blocks"))
        remaining = size - offset
        if remaining == 0:
            if entries:
                last = entries[-1]
                described = _describe(
                    last.block_type, (last.key, last.start_seconds, last.duration_seconds)
                )
                where = f"after block {number - 1} ({described})"
            else:
                where = "after the preamble"
            return stop(ContainerFormatError(f"{name}: truncated: ends {where}, before the index"))
        prefix = _read_at(file, offset, min(remaining, _NAMING_PREFIX))
        described = _describe_prefix(prefix)
        if len(prefix) < BLOCK_HEADER.size:
            return overrun(number, described)
        block_type, flags, length = BLOCK_HEADER.unpack_from(prefix)
        if length + BLOCK_OVERHEAD > remaining:
            return overrun(number, described)
        data = _read_at(file, offset, length + BLOCK_OVERHEAD)
        if not _crc_ok(data):
            return stop(
                ChecksumError(f"{name}: block {number} ({described}) is damaged: checksum mismatch")
            )
        if block_type in INDEX_TYPES:
            problem = no_index.error
            if remaining - len(data) < TRAILER.size:
                problem = ContainerFormatError(f"{name}: truncated: ends inside the trailer")
            return _Layout(entries, len(data), False, problem, False, index_type=block_type)
        try:
            key, start, duration = span_of(block_type, data[BLOCK_HEADER.size : -CRC.size])
        except ValueError as exc:
            return stop(
                ContainerFormatError(f"{name}: block {number} ({described}) is malformed: {exc}")
            )
        entries.append(IndexEntry(block_type, flags, key, offset, len(data), start, duration))
        offset += len(data)


def _check_structure(name: str, version: tuple[int, int], layout: _Layout) -> None:
    """Rules a CRC cannot catch: block order and numbering, and unknown block types."""
    entries = layout.entries
    for number, entry in enumerate(entries):  # first, so that a newer file says so
        known = entry.block_type in BLOCK_KINDS or not _VALID_TYPE.fullmatch(entry.block_type)
        if not known and not entry.flags & FLAG_OPTIONAL:
            raise UnsupportedError(
                f"{name}: block {number} has type {_type_name(entry.block_type)}, which this "
                f"eegzip cannot read (file format {version[0]}.{version[1]}; this eegzip reads "
                f"{FORMAT_MAJOR}.{FORMAT_MINOR})"
            )
    for number, required in enumerate((META_TYPES, HEADER_TYPES)):
        if number < len(entries):
            if entries[number].block_type not in required:
                raise ContainerFormatError(
                    f"{name}: block {number} is not the {BLOCK_KINDS[required[0]]}"
                )
        elif not layout.incomplete:
            raise ContainerFormatError(f"{name}: has no {BLOCK_KINDS[required[0]]} block")
    n_code_blocks = 0
    residual_timeline = False  # (1.5) a RESI block came first: RESI blocks are the time blocks
    seen_metrics = False
    raw_starts: dict[int, float] = {}  # signal → start of its latest lossless block
    corrected: set[int] = set()  # code blocks that have their residual block
    for number, entry in enumerate(entries[2:], start=2):
        block_type = entry.block_type
        where = f"{name}: block {number}"
        if not _VALID_TYPE.fullmatch(block_type):
            raise ContainerFormatError(f"{where} has an invalid type {_type_name(block_type)}")
        if block_type in (*META_TYPES, *HEADER_TYPES, *INDEX_TYPES) or (
            block_type in METRICS_TYPES and seen_metrics
        ):
            raise ContainerFormatError(
                f"{where} is an unexpected extra {BLOCK_KINDS[block_type]} block"
            )
        if block_type in TIME_BLOCK_TYPES and residual_timeline:
            raise ContainerFormatError(
                f"{where} holds codes, but the file's residual blocks are its time blocks"
            )
        if block_type in RESIDUAL_TIME_TYPES and (residual_timeline or n_code_blocks == 0):
            residual_timeline = True  # a code-less archival file (1.5)
            if entry.key != n_code_blocks:
                raise ContainerFormatError(
                    f"{where} is residual block {entry.key}, expected {n_code_blocks}"
                )
            n_code_blocks += 1
        elif block_type in TIME_BLOCK_TYPES:
            if entry.key != n_code_blocks:
                raise ContainerFormatError(
                    f"{where} is code block {entry.key}, expected {n_code_blocks}"
                )
            n_code_blocks += 1
        elif block_type in RESIDUAL_TYPES and entry.key >= n_code_blocks:
            raise ContainerFormatError(
                f"{where} corrects code block {entry.key}, which comes later or not at all"
            )
        if block_type in RESIDUAL_TYPES and entry.key in corrected:
            raise ContainerFormatError(
                f"{where} repeats the residual block of code block {entry.key}"
            )
        if block_type in RESIDUAL_TYPES:
            corrected.add(entry.key)
        if block_type in RAW_TYPES:  # each signal's blocks in time order, none repeated
            before = raw_starts.get(entry.key)
            if before is not None and entry.start_seconds <= before:
                raise ContainerFormatError(
                    f"{where} holds signal {entry.key} from {clock(entry.start_seconds)}, not "
                    f"after its previous block (from {clock(before)}): blocks of a lossless "
                    "signal out of order or repeated"
                )
            raw_starts[entry.key] = entry.start_seconds
        seen_metrics |= block_type in METRICS_TYPES


def _describe(block_type: bytes, span: tuple[int, float, float] | None) -> str:
    """'codes, 00:12:48–00:14:56', 'raw signal 3, …', 'metadata', "type 'XXXX'"."""
    kind = BLOCK_KINDS.get(block_type) or f"type {_type_name(block_type)}"
    if block_type not in (*TIME_BLOCK_TYPES, *RAW_TYPES, *RESIDUAL_TYPES) or span is None:
        return kind
    key, start, duration = span
    if block_type in RAW_TYPES:
        kind = f"{kind} {key}"
    return f"{kind}, {clock(start)}–{clock(start + duration)}"


def _describe_prefix(prefix: bytes) -> str:
    """Name a block from the first bytes of its (unverified) header and payload."""
    if len(prefix) < 4:
        return "header cut short"
    try:
        span = span_of(prefix[:4], prefix[BLOCK_HEADER.size :])
    except ValueError:
        span = None
    return _describe(prefix[:4], span)


def clock(seconds: float) -> str:
    """HH:MM:SS, with milliseconds only when needed."""
    if not seconds < 1e12:  # no real recording is this long (also catches inf from a bad block)
        return f"{seconds:.6g} s"
    ms = round(seconds * 1000)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{ms:03d}" if ms else text


def _type_name(block_type: bytes) -> str:
    return repr(block_type.decode("ascii", "backslashreplace"))


def _crc_ok(data: bytes) -> bool:
    """The last 4 bytes are the CRC-32 of everything before them."""
    if len(data) < CRC.size:
        return False
    (stored,) = CRC.unpack_from(data, len(data) - CRC.size)
    return zlib.crc32(data[: -CRC.size]) == stored


def _read_at(file: BinaryIO, offset: int, length: int) -> bytes:
    """Up to `length` bytes at `offset`; callers compare the length they got."""
    file.seek(offset)
    return file.read(length)
