"""Atomic EDF/BDF writer: raw header bytes verbatim, then data records fed in record ranges.

Everything goes to a hidden temporary file next to the target (eegzip.atomic), renamed onto it
only on success, so a failed or interrupted run never leaves a half-written EDF behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from eegzip.atomic import AtomicOutput
from eegzip.edf.header import EdfHeader, parse_header
from eegzip.edf.recording import Recording


class EdfWriter:
    """Write an EDF/BDF file record range by record range; use as a context manager.

    Leaving the `with` block normally commits (renames the temporary file onto `path`); leaving
    it by an exception removes the temporary file. Without `with`, call `commit()` and, in a
    `finally`, `abort()` (a no-op once committed).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        raw_header: bytes,
        *,
        force: bool = False,
        inputs: tuple[Path, ...] = (),
    ) -> None:
        self.path = Path(path)
        self.header: EdfHeader = parse_header(raw_header, str(self.path))
        self.records_written = 0
        self._output = AtomicOutput(self.path, force=force, inputs=inputs)
        self._file = self._output.file
        self._file.write(raw_header[: self.header.header_bytes])

    @property
    def committed(self) -> bool:
        return self._output.committed

    def __enter__(self) -> EdfWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def write_records(self, per_signal: Sequence[np.ndarray | bytes]) -> None:
        """Append k whole data records.

        `per_signal[i]` holds signal i's digital samples for the k records (1-D integers), or,
        for annotation signals, optionally their raw bytes. Samples outside a signal's digital
        range are a caller bug (clamping is the caller's job) and raise ValueError.
        """
        self._check_open()
        h = self.header
        if len(per_signal) != len(h.signals):
            raise ValueError(f"got {len(per_signal)} signals, header has {len(h.signals)}")
        columns = [_as_bytes(data, i, h) for i, data in enumerate(per_signal)]
        shapes = {
            divmod(len(c), s.samples_per_record * h.bytes_per_sample)
            for c, s in zip(columns, h.signals, strict=True)
        }
        if len(shapes) != 1 or shapes.pop()[1]:
            raise ValueError("signals do not all cover the same whole number of records")
        k = len(columns[0]) // (h.signals[0].samples_per_record * h.bytes_per_sample)
        if k == 0:
            return
        block = np.hstack([np.frombuffer(c, np.uint8).reshape(k, -1) for c in columns])
        self._file.write(block.tobytes())
        self.records_written += k

    def _check_open(self) -> None:
        if self._file.closed:
            raise ValueError(f"{self.path}: writer is already committed or aborted")

    def commit(self) -> Path:
        """Finish the file and move it onto the target path."""
        self._check_open()
        try:
            expected = self.header.n_records
            if expected != -1 and self.records_written != expected:
                raise ValueError(
                    f"{self.path}: wrote {self.records_written} data records but the header "
                    f"says {expected}"
                )
        except BaseException:
            self.abort()
            raise
        return self._output.commit()

    def abort(self) -> None:
        """Drop the temporary file, leaving the target untouched; no-op after `commit()`."""
        self._output.abort()


def _as_bytes(data: np.ndarray | bytes, index: int, h: EdfHeader) -> bytes:
    """Signal samples as little-endian 2- or 3-byte integers, checked against the sample width.

    Not against the declared digital range: recordings from the field hold samples outside it,
    and a lossless decode must give them back.
    """
    s = h.signals[index]
    if isinstance(data, bytes):
        if not s.is_annotation:
            raise ValueError(f"signal {index} ({s.label!r}) needs samples, not raw bytes")
        return data
    samples = np.asarray(data)
    if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.integer):
        raise ValueError(f"signal {index} ({s.label!r}) needs a 1-D integer array")
    lo, hi = h.digital_range
    if samples.size and (samples.min() < lo or samples.max() > hi):
        raise ValueError(
            f"signal {index} ({s.label!r}) has samples in {samples.min()}..{samples.max()}, "
            f"outside the {lo}..{hi} its {h.bytes_per_sample}-byte samples can hold"
        )
    if not h.is_bdf:
        return samples.astype("<i2").tobytes()
    return samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def write(path: str | os.PathLike[str], recording: Recording, *, force: bool = False) -> Path:
    """Write a whole Recording (its raw header verbatim) atomically."""
    with EdfWriter(path, recording.raw_header, force=force) as writer:
        writer.write_records(recording.digital)
    return writer.path
