"""A simple lossy wavelet codec, the classical baseline eegzip is measured against at equal size.

Per channel the mean is removed (stored as float32), the signal is cut into 2-s windows (the
last one padded with its edge value) and each window goes through a 5-level db4 DWT
(periodization, so a window of n samples gives about n coefficients). Every coefficient is
quantised with one uniform step in µV for the whole recording; rounding zeroes the ones below
half a step, which is "keep the largest coefficients" with the number kept adapting to each
window. The integers are zigzag-mapped, laid out channel × coefficient × window (a coefficient
position's values across windows sit together), split into byte planes and packed with zstd -19.
The step is the single knob; ``fit_to_size`` bisects it to meet a byte budget.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import zstandard

from eegzip.bench import require

WAVELET = "db4"
LEVELS = 5
WINDOW_S = 2.0
ZSTD_LEVEL = 19
BISECTION_STEPS = 16
"""Halvings of a 2³⁰ step range in log space: the step ends within 0.04 % of the best one."""
MAGIC = b"EWV1"
_HEADER = struct.Struct("<4sHIdf")  # magic, channels, samples, sample rate, step (µV)


def _zigzag(q: np.ndarray) -> np.ndarray:
    return ((q << 1) ^ (q >> 63)).astype(np.uint32)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.int64)
    return (z >> 1) ^ -(z & 1)


@dataclass(frozen=True)
class _Layout:
    """Window length, DWT depth and coefficient count per window for a rate."""

    window: int
    levels: int

    @classmethod
    def for_rate(cls, sample_rate: float) -> _Layout:
        pywt = require("pywt", "PyWavelets")
        window = max(16, round(WINDOW_S * sample_rate))
        depth = pywt.dwt_max_level(window, pywt.Wavelet(WAVELET).dec_len)
        return cls(window, max(1, min(LEVELS, depth)))

    @cached_property
    def lengths(self) -> list[int]:
        """Coefficient array lengths of one window, coarsest first (as pywt.wavedec)."""
        pywt = require("pywt", "PyWavelets")
        parts = pywt.wavedec(np.zeros(self.window), WAVELET, "periodization", self.levels)
        return [len(part) for part in parts]


class WaveletCoder:
    """Analyses a (channels, samples) µV recording once, then codes it at any step."""

    def __init__(self, signals_uv: np.ndarray, sample_rate: float) -> None:
        pywt = require("pywt", "PyWavelets")
        x = np.atleast_2d(np.asarray(signals_uv, dtype=np.float64))
        self.channels, self.samples = x.shape
        self.sample_rate = float(sample_rate)
        self.layout = _Layout.for_rate(sample_rate)
        self.means = x.mean(axis=1).astype(np.float32)
        window = self.layout.window
        n_windows = max(1, math.ceil(self.samples / window))
        padded = np.pad(
            x - self.means[:, None], ((0, 0), (0, n_windows * window - self.samples)), mode="edge"
        )
        parts = pywt.wavedec(
            padded.reshape(-1, window), WAVELET, "periodization", self.layout.levels, axis=-1
        )
        # (channels, coefficient, window): one coefficient position's values across windows
        coefficients = np.concatenate(parts, axis=-1).reshape(self.channels, n_windows, -1)
        self.coefficients = np.ascontiguousarray(coefficients.transpose(0, 2, 1))

    @property
    def largest(self) -> float:
        return float(np.max(np.abs(self.coefficients), initial=0.0))

    def encode(self, step: float) -> bytes:
        """The complete coded recording at quantiser step ``step`` µV."""
        step32 = np.float32(step)
        q = np.rint(self.coefficients / step32).astype(np.int64)
        if q.size and np.abs(q).max() >= 2**31:
            raise ValueError(f"step {step} µV is too fine for 32-bit coefficients")
        planes = _zigzag(q).reshape(-1, 1).view(np.uint8).T  # (4 byte planes, values)
        header = _HEADER.pack(MAGIC, self.channels, self.samples, self.sample_rate, step32)
        payload = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(planes.tobytes())
        return header + self.means.tobytes() + payload


def decode(data: bytes) -> np.ndarray:
    """(channels, samples) µV from bytes made by ``WaveletCoder.encode``."""
    pywt = require("pywt", "PyWavelets")
    magic, channels, samples, rate, step = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError("not a wavelet baseline stream")
    means = np.frombuffer(data, np.float32, channels, _HEADER.size)
    planes = zstandard.ZstdDecompressor().decompress(data[_HEADER.size + 4 * channels :])
    z = np.frombuffer(planes, np.uint8).reshape(4, -1).T.copy().view(np.uint32).ravel()
    layout = _Layout.for_rate(rate)
    coefficients = _unzigzag(z).reshape(channels, sum(layout.lengths), -1).transpose(0, 2, 1)
    flat = (coefficients * np.float64(step)).reshape(-1, sum(layout.lengths))
    parts = np.split(flat, np.cumsum(layout.lengths)[:-1], axis=-1)
    windows = pywt.waverec(parts, WAVELET, "periodization", axis=-1)
    signals = windows.reshape(channels, -1)[:, :samples]
    return signals + means[:, None].astype(np.float64)


@dataclass(frozen=True)
class FittedWavelet:
    """The coded stream closest to a byte budget from below, and whether the budget was met."""

    data: bytes
    step_uv: float
    reached: bool

    @property
    def bytes(self) -> int:
        return len(self.data)


def fit_to_size(coder: WaveletCoder, target_bytes: int) -> FittedWavelet:
    """Bisect the step (on a log scale) for the largest stream that fits in ``target_bytes``.

    Size falls as the step grows (up to zstd's small wobbles). If even the coarsest step (all
    coefficients zero) is over budget, that stream is returned with ``reached=False``.
    """
    coarse = 4.0 * coder.largest + 1e-6
    best, best_step = coder.encode(coarse), coarse
    if len(best) > target_bytes:
        return FittedWavelet(best, coarse, reached=False)
    lo, hi = math.log(coarse / 2**30), math.log(coarse)  # size(hi) <= target
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        data = coder.encode(math.exp(mid))
        if len(data) <= target_bytes:
            hi, best, best_step = mid, data, math.exp(mid)
        else:
            lo = mid
    return FittedWavelet(best, float(np.float32(best_step)), reached=True)
