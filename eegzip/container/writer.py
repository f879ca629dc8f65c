"""Streaming writer of .eegc files: blocks go to disk as they come, published atomically."""

from __future__ import annotations

import enum
import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from ..atomic import AtomicOutput
from .blocks import (
    CodeBlock,
    IndexEntry,
    IntegerResidualBlock,
    RawBlock,
    ResidualBlock,
    code_block_type,
    code_data_offset,
    encode_code_block,
    encode_index_block,
    encode_integer_residual_block,
    encode_meta,
    encode_metrics,
    encode_predictive_block,
    encode_raw_block,
    encode_sized_zstd,
)
from .format import (
    BLOCK_HEADER,
    BLOCK_OVERHEAD,
    CRC,
    EDFH,
    EDFZ,
    END_MAGIC,
    FORMAT_MAJOR,
    FORMAT_MINOR,
    MAGIC,
    PREAMBLE,
    RESI,
    RESP,
    TRAILER,
)
from .spectral import SpectralBlock, encode_spectral_block


class _Stage(enum.IntEnum):
    """What the file accepts next; the spec fixes META as block 0 and the EDF header as block 1."""

    META = 0
    EDF_HEADER = 1
    DATA = 2
    AFTER_METRICS = 3
    CLOSED = 4


class ContainerWriter:
    """Writes one .eegc file.

    Blocks are written to a hidden temporary file next to `path` as they arrive; only the index
    entries (44 bytes per block) stay in memory. `close()` appends the index and trailer, syncs
    and renames, so `path` either does not exist or is a complete container. Any exception
    inside a `with` block, or from a write, deletes the temporary file.

    Call order: write_meta, write_edf_header, then code/raw blocks in any interleaving (code
    blocks numbered 0, 1, 2, ...), then optionally write_metrics, then close.

    With ``entropy``, code blocks are range coded (ECOD, spec §5.11; about 8 % smaller on real
    EEG codes) instead of bit-packed and zstd-compressed; the pipeline turns it on by default.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        force: bool = False,
        entropy: bool = False,
        inputs: tuple[Path, ...] = (),
    ) -> None:
        self.path = Path(path)
        self._entropy = entropy
        self._output = AtomicOutput(self.path, force=force, inputs=inputs)
        self._file = self._output.file
        self._offset = 0
        self._entries: list[IndexEntry] = []
        self._n_code_blocks = 0  # time blocks so far
        self._residual_timeline = False  # (1.5) RESI blocks are the time blocks: no codes
        self._stage = _Stage.META
        self._check: Callable[[Path], None] | None = None
        preamble = PREAMBLE.pack(MAGIC, FORMAT_MAJOR, FORMAT_MINOR)
        self._write(preamble + CRC.pack(zlib.crc32(preamble)))

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        """The pipeline's metadata (spec §5.1); must be the first block."""
        self._expect(_Stage.META, "metadata")
        self._add_block(*encode_meta(meta))
        self._stage = _Stage.EDF_HEADER

    def write_edf_header(self, header: bytes) -> None:
        """The input's EDF header bytes (EDFZ, or EDFH if smaller); must directly follow the
        metadata."""
        self._expect(_Stage.EDF_HEADER, "EDF header")
        packed = encode_sized_zstd(header)
        self._add_block(*((EDFH, bytes(header)) if len(header) < len(packed) else (EDFZ, packed)))
        self._stage = _Stage.DATA

    def write_code_block(self, block: CodeBlock) -> int:
        """An ECOD block if the writer entropy-codes and the codes fit its limits, else a CODE
        block, or a GCOD block when the codes have fewer streams than channels.

        Returns the bytes the codes took in the block (without its head and scaling), so that
        callers can report bits per code.
        """
        self._expect(_Stage.DATA, "code block")
        if block.index != self._n_code_blocks or self._residual_timeline:
            raise ValueError(f"code block {block.index} given; expected {self._n_code_blocks}")
        block_type = code_block_type(block, self._entropy)
        payload = encode_code_block(block, self._entropy)
        self._add_block(
            block_type,
            payload,
            key=block.index,
            start=block.start_seconds,
            duration=block.duration_seconds,
        )
        self._n_code_blocks += 1
        return len(payload) - code_data_offset(block_type, block.n_channels)

    def write_raw_block(self, block: RawBlock) -> None:
        self._expect(_Stage.DATA, "raw block")
        self._add_block(
            block.block_type,
            encode_raw_block(block),
            key=block.signal_index,
            start=block.start_seconds,
            duration=block.duration_seconds,
        )

    def write_residual_block(
        self, block: IntegerResidualBlock | ResidualBlock, *, time_block: bool = False
    ) -> None:
        """The bounded-error layer of code block ``block.index`` (written after that block).

        Written as RESI (what eegzip writes), or for a ResidualBlock as RESP (format 1.3's,
        predicted from ``block.decoded``, which must therefore be given; kept so that tests
        can write 1.3-style files). With ``time_block`` (1.5: an archival file without codes)
        the RESI block is itself the next time block, and the file holds no code blocks.
        """
        self._expect(_Stage.DATA, "residual block")
        portable = isinstance(block, IntegerResidualBlock)
        if time_block:
            if not portable or block.index != self._n_code_blocks or (
                self._n_code_blocks and not self._residual_timeline
            ):
                raise ValueError(
                    f"residual time block {block.index} given; expected {self._n_code_blocks} "
                    "in a file without code blocks"
                )
            self._residual_timeline = True
            self._n_code_blocks += 1
        elif block.index >= self._n_code_blocks or self._residual_timeline:
            raise ValueError(f"residual block {block.index} given before its code block")
        self._add_block(
            RESI if portable else RESP,
            encode_integer_residual_block(block) if portable else encode_predictive_block(block),
            key=block.index,
            start=block.start_seconds,
            duration=block.duration_seconds,
        )

    def write_spectral_block(self, block: SpectralBlock) -> int:
        """An XFRM (1.4) or XFRC (1.5) block: a time block of the spectral codec, numbered like
        code blocks.

        Returns the block's size in the file, so that a caller can steer its rate."""
        self._expect(_Stage.DATA, "spectral block")
        if block.index != self._n_code_blocks or self._residual_timeline:
            raise ValueError(f"spectral block {block.index} given; expected {self._n_code_blocks}")
        payload = encode_spectral_block(block)
        self._add_block(
            block.block_type, payload, key=block.index, start=block.start_seconds,
            duration=block.duration_seconds,
        )  # fmt: skip
        self._n_code_blocks += 1
        return len(payload) + BLOCK_OVERHEAD

    def bytes_of(self, block_type: bytes) -> int:
        """Bytes (framing included) of the blocks of one type written so far."""
        return sum(e.length for e in self._entries if e.block_type == block_type)

    @property
    def size_if_closed(self) -> int:
        """Bytes the file would have if closed now: blocks so far, their index, the trailer."""
        index = BLOCK_OVERHEAD + len(encode_index_block(self._entries)[1])
        return self._offset + index + TRAILER.size

    def check_before_publishing(self, check: Callable[[Path], None]) -> None:
        """Have ``close()`` run ``check`` on the complete temporary file before renaming it onto
        ``path``; an exception from it deletes the file instead, leaving ``path`` untouched."""
        self._check = check

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Quality metrics, known only once all data is coded; no data blocks may follow."""
        self._expect(_Stage.DATA, "metrics")
        self._add_block(*encode_metrics(metrics))
        self._stage = _Stage.AFTER_METRICS

    def close(self) -> None:
        """Append index and trailer, fsync, and rename onto `path`. Idempotent."""
        if self._stage == _Stage.CLOSED:
            return
        try:
            if self._stage < _Stage.DATA:
                raise ValueError("metadata and EDF header must be written before closing")
            index_offset = self._offset
            index_length = self._write_frame(*encode_index_block(self._entries))
            self._write(TRAILER.pack(index_offset, index_length, END_MAGIC))
            self._output.close_file()
            if self._check is not None:
                self._check(self._output.temporary)
            self._output.commit()
        except BaseException:
            self._abort()
            raise
        self._stage = _Stage.CLOSED

    def _expect(self, stage: _Stage, what: str) -> None:
        if self._stage != stage:
            raise ValueError(f"cannot write {what} now: writer is at stage {self._stage.name}")

    def _add_block(
        self,
        block_type: bytes,
        payload: bytes,
        key: int = 0,
        start: float = 0.0,
        duration: float = 0.0,
    ) -> None:
        offset = self._offset
        length = self._write_frame(block_type, payload)
        self._entries.append(IndexEntry(block_type, 0, key, offset, length, start, duration))

    def _write_frame(self, block_type: bytes, payload: bytes) -> int:
        header = BLOCK_HEADER.pack(block_type, 0, len(payload))
        crc = zlib.crc32(payload, zlib.crc32(header))
        self._write(header)
        self._write(payload)
        self._write(CRC.pack(crc))
        return len(payload) + BLOCK_OVERHEAD

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except BaseException:
            self._abort()
            raise
        self._offset += len(data)

    def _abort(self) -> None:
        """Forget everything written: close and delete the temporary file."""
        self._stage = _Stage.CLOSED
        self._output.abort()

