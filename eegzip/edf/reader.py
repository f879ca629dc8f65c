"""Streaming EDF/EDF+/BDF reader.

The data records are read by record range with plain file reads, in chunks of at most
``CHUNK_BYTES``, so memory use depends on the range asked for, not on the recording length.
(A memory map would count every page touched towards the process's resident memory: a
24-hour file read block by block ended up fully resident.)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cached_property
from itertools import accumulate
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from eegzip.edf.annotations import Annotation, AnnotationTrack, parse_annotation_records
from eegzip.edf.header import EdfHeader, header_size, parse_header
from eegzip.errors import EdfFormatError, InputNotFoundError

CHUNK_BYTES = 8 << 20
"""Largest read from the file at once."""


class EdfFile:
    """An open, validated EDF/BDF file. Use `EdfFile.open(path)`, ideally as a context manager."""

    def __init__(
        self, path: Path | str, raw_header: bytes, header: EdfHeader, file: BinaryIO
    ) -> None:
        self.path = path
        self.raw_header = raw_header
        """The header bytes exactly as in the file (for a -1 record count too)."""
        self.header = header
        """Parsed header; `n_records` is the real count even if the file says -1."""
        self._file = file
        self._lock = threading.Lock()
        bps = header.bytes_per_sample
        sizes = [s.samples_per_record * bps for s in header.signals]
        self._byte_offsets = (0, *accumulate(sizes))

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> EdfFile:
        """Open and validate `path`: header fields and file size must agree."""
        path = Path(path)
        name = str(path)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise InputNotFoundError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise InputNotFoundError(f"{name}: is a directory, not an EDF file") from None
        except OSError as exc:
            raise InputNotFoundError(f"{name}: cannot read ({exc.strerror})") from None
        return cls.from_file(path, file, os.fstat(file.fileno()).st_size)

    @classmethod
    def from_file(cls, path: Path | str, file: BinaryIO, size: int) -> EdfFile:
        """Validate the EDF/BDF in an open binary file of ``size`` bytes (a local file, or a
        URL read by byte ranges); the EdfFile owns the file from here and closes it."""
        name = str(path)
        try:
            if size == 0:
                raise EdfFormatError(f"{name}: empty file")
            first = file.read(256)
            raw = first + file.read(header_size(first, name) - 256)
            header = parse_header(raw, name, file_size=size)
        except OSError as exc:
            file.close()
            raise InputNotFoundError(f"{name}: cannot read ({exc.strerror})") from None
        except BaseException:
            file.close()
            raise
        return cls(path, raw, header, file)

    def __enter__(self) -> EdfFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (arrays already returned are copies and stay valid)."""
        self._file.close()

    def _records(self, start: int, stop: int) -> np.ndarray:
        """(records, record_size) bytes of records [start, stop)."""
        size = self.header.record_size
        with self._lock:
            self._file.seek(self.header.header_bytes + start * size)
            data = self._file.read((stop - start) * size)
        if len(data) != (stop - start) * size:
            raise EdfFormatError(f"{self.path}: file shrank while being read")
        return np.frombuffer(data, np.uint8).reshape(stop - start, size)

    def _block(self, signal_index: int, start_record: int, stop_record: int | None) -> np.ndarray:
        """(records, bytes) of one signal's bytes over a record range, read chunk by chunk."""
        return self._blocks([signal_index], start_record, stop_record)[0]

    def _blocks(
        self, signal_indices: Sequence[int], start_record: int, stop_record: int | None
    ) -> list[np.ndarray]:
        """(records, bytes) of each signal's bytes over a record range: the records are read
        once, chunk by chunk, for all of them."""
        if self._file.closed:
            raise ValueError(f"{self.path}: file is closed")
        n_signals = len(self.header.signals)
        for i in signal_indices:
            if not 0 <= i < n_signals:
                raise IndexError(f"signal index {i} out of range 0..{n_signals - 1}")
        n = self.header.n_records
        stop = n if stop_record is None else stop_record
        if not 0 <= start_record <= stop <= n:
            raise ValueError(f"record range {start_record}..{stop} outside 0..{n}")
        columns = [(self._byte_offsets[i], self._byte_offsets[i + 1]) for i in signal_indices]
        out = [np.empty((stop - start_record, hi - lo), np.uint8) for lo, hi in columns]
        step = max(1, CHUNK_BYTES // self.header.record_size)
        for first in range(start_record, stop, step):
            last = min(stop, first + step)
            records = self._records(first, last)
            for block, (lo, hi) in zip(out, columns, strict=True):
                block[first - start_record : last - start_record] = records[:, lo:hi]
        return out

    def read_raw_signal_bytes(
        self, signal_index: int, start_record: int = 0, stop_record: int | None = None
    ) -> bytes:
        """The signal's bytes over records [start, stop), records concatenated."""
        return self._block(signal_index, start_record, stop_record).tobytes()

    def read_digital(
        self, signal_index: int, start_record: int = 0, stop_record: int | None = None
    ) -> np.ndarray:
        """The signal's stored integers over records [start, stop) as a 1-D int32 array."""
        block = self._block(signal_index, start_record, stop_record)
        return digital_from_bytes(block.tobytes(), self.header.bytes_per_sample)

    def read_digital_signals(
        self, signal_indices: Sequence[int], start_record: int = 0, stop_record: int | None = None
    ) -> list[np.ndarray]:
        """read_digital of several signals, reading the records once for all of them (per
        signal, a recording of 19 signals was read 19 times)."""
        width = self.header.bytes_per_sample
        blocks = self._blocks(signal_indices, start_record, stop_record)
        return [digital_from_bytes(block.tobytes(), width) for block in blocks]

    def read_physical(
        self, signal_index: int, start_record: int = 0, stop_record: int | None = None
    ) -> np.ndarray:
        """The signal over records [start, stop) in its physical unit, float64."""
        s = self.header.signals[signal_index]
        digital = self.read_digital(signal_index, start_record, stop_record)
        return s.offset + s.gain * digital.astype(np.float64)

    @cached_property
    def _track(self) -> AnnotationTrack:
        h = self.header
        if not h.is_plus or not h.annotation_indices:
            onsets = tuple(r * h.record_duration for r in range(h.n_records))
            return AnnotationTrack(start_offset=0.0, record_onsets=onsets, annotations=())
        blocks = self._blocks(h.annotation_indices, 0, None)
        records = (tuple(b[r].tobytes() for b in blocks) for r in range(h.n_records))
        return parse_annotation_records(records, str(self.path))

    @property
    def annotations(self) -> tuple[Annotation, ...]:
        """EDF+/BDF+ annotations (onsets from the file start); empty for plain EDF/BDF."""
        return self._track.annotations

    @property
    def record_onsets(self) -> tuple[float, ...]:
        """Start of each data record in seconds from the file start (gaps only in EDF+D)."""
        return self._track.record_onsets

    @property
    def start_subsecond(self) -> float:
        """Seconds from the header start time to the first record (EDF+ only; else 0.0)."""
        return self._track.start_offset


def digital_from_bytes(data: bytes, width: int) -> np.ndarray:
    """Little-endian signed words of ``width`` bytes (2: EDF, 3: BDF) as a 1-D int32 array."""
    raw = np.frombuffer(data, np.uint8)
    if width == 2:
        return raw.view("<i2").astype(np.int32)
    b = raw.reshape(-1, 3).astype(np.int32)
    value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return (value ^ 0x800000) - 0x800000  # 24-bit two's complement sign extension
