"""Reading codec channels in µV, and turning reconstructions back into EDF digital values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eegzip.edf import EdfFile, SignalHeader
from eegzip.pipeline.blockcodec import SourceReader


@dataclass(frozen=True)
class CodecChannels:
    """The signals that go through the codec, with their factor to µV."""

    indices: tuple[int, ...]
    uv_factors: tuple[float, ...]
    samples_per_record: int

    def reader(self, edf: EdfFile) -> SourceReader:
        """Samples [lo, hi) of every codec channel in µV, read record by record on demand."""
        spr = self.samples_per_record
        factors = np.asarray(self.uv_factors)[:, None]

        def read(lo: int, hi: int) -> np.ndarray:
            first, last = lo // spr, -(-hi // spr)
            rows = [edf.read_physical(i, first, last) for i in self.indices]
            return np.stack(rows)[:, lo - first * spr : hi - first * spr] * factors

        return read


def to_digital(
    physical_uv: np.ndarray, signals: Sequence[SignalHeader], uv_factors: Sequence[float]
) -> tuple[np.ndarray, int]:
    """EDF digital values (int32) for µV rows, clamped to each signal's range; count clamped."""
    out = np.empty(physical_uv.shape, dtype=np.int32)
    clipped = 0
    for row, (signal, factor) in enumerate(zip(signals, uv_factors, strict=True)):
        value = np.rint((physical_uv[row] / factor - signal.offset) / signal.gain)
        clipped += int(
            np.count_nonzero((value < signal.digital_min) | (value > signal.digital_max))
        )
        out[row] = np.clip(value, signal.digital_min, signal.digital_max)
    return out, clipped


def to_uv(
    digital: np.ndarray, signals: Sequence[SignalHeader], uv_factors: Sequence[float]
) -> np.ndarray:
    return np.stack(
        [
            (s.offset + s.gain * digital[row].astype(np.float64)) * factor
            for row, (s, factor) in enumerate(zip(signals, uv_factors, strict=True))
        ]
    )
