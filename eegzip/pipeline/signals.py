"""Reading codec channels in µV, and turning reconstructions back into EDF digital values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from eegzip.edf import EdfFile, SignalHeader

if TYPE_CHECKING:  # blockcodec imports torch
    from eegzip.pipeline.blockcodec import SourceReader


@dataclass(frozen=True)
class CodecChannels:
    """The signals that go through the codec, with their factor to µV."""

    indices: tuple[int, ...]
    uv_factors: tuple[float, ...]
    samples_per_record: int

    def reader(self, edf: EdfFile, digital: bool = False) -> SourceReader:
        """Samples [lo, hi) of every codec channel, read record by record on demand.

        In µV, or with ``digital=True`` the stored integers.
        """
        spr = self.samples_per_record
        factors = np.asarray(self.uv_factors)[:, None]
        signals = [edf.header.signals[i] for i in self.indices]
        offsets = np.array([s.offset for s in signals])[:, None]
        gains = np.array([s.gain for s in signals])[:, None]

        def read(lo: int, hi: int) -> np.ndarray:
            first, last = lo // spr, -(-hi // spr)
            rows = np.stack(edf.read_digital_signals(self.indices, first, last))
            rows = rows[:, lo - first * spr : hi - first * spr]
            return rows if digital else (offsets + gains * rows.astype(np.float64)) * factors

        return read

    def residual_steps(self, signals: Sequence[SignalHeader], max_error_uv: float) -> np.ndarray:
        """Quantiser step per channel (odd, in digital units) keeping |error| ≤ max_error_uv."""
        steps = [
            2 * math.floor(max_error_uv / (abs(s.gain) * f) + 1e-9) + 1
            for s, f in zip(signals, self.uv_factors, strict=True)
        ]
        return np.array(steps, dtype=np.int64)


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


def quantised(
    original: np.ndarray, steps: np.ndarray, signals: Sequence[SignalHeader]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a RESI block stores for digital samples (channels × samples): k, lows, highs.

    k is the nearest multiple of each channel's odd step, |original − step·k| ≤ (step − 1)/2;
    the clamp bounds are the declared digital range widened to the samples actually present,
    so that samples outside the declared range (real EDFs hold some) come back exactly in
    lossless mode and within the bound otherwise, while in-range samples never leave it.
    """
    x = original.astype(np.int64)
    half = (steps[:, None] - 1) // 2
    # floor((x + half) / step) through float64: exact, as |x + half| < 2**52 (samples are at
    # most 32-bit), and several times faster than integer division
    k = np.floor((x + half) / steps[:, None])
    lows = np.minimum([s.digital_min for s in signals], x.min(axis=1, initial=2**31 - 1))
    highs = np.maximum([s.digital_max for s in signals], x.max(axis=1, initial=-(2**31)))
    return k.astype(np.int32), lows.astype(np.int32), highs.astype(np.int32)


def apply_residual(
    decoded: np.ndarray, steps: np.ndarray, residuals: np.ndarray, signals: Sequence[SignalHeader]
) -> np.ndarray:
    """Decoded digital values corrected by a RESD or RESP block (format ≤ 1.3), kept inside
    each declared range."""
    out = decoded.astype(np.int64) + residuals.astype(np.int64) * steps[:, None].astype(np.int64)
    lows = np.array([s.digital_min for s in signals])[:, None]
    highs = np.array([s.digital_max for s in signals])[:, None]
    return np.clip(out, lows, highs).astype(np.int32)


def to_uv(
    digital: np.ndarray, signals: Sequence[SignalHeader], uv_factors: Sequence[float]
) -> np.ndarray:
    return np.stack(
        [
            (s.offset + s.gain * digital[row].astype(np.float64)) * factor
            for row, (s, factor) in enumerate(zip(signals, uv_factors, strict=True))
        ]
    )
