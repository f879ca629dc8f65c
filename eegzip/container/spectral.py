"""XFRM (1.4) and XFRC (1.5) blocks: one time block of the spectral codec, as bytes (spec §5.15,
§5.18).

The block is self-contained: it decodes with nothing but its own payload, so random access and
damage reports work per block as for code blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .entropy import decode_errors, encode_errors
from .format import (
    MAX_SAMPLES_PER_BLOCK,
    XFRC,
    XFRM,
    XFRM_BAND_EDGES_HZ,
    XFRM_HEADER,
    XFRM_MAX_WINDOW,
    XFRM_PARTITION,
)

MAX_CHANNELS = 0xFFFF
MAX_COEFFICIENT = 1 << 40
"""Larger quantised coefficients mean a step far too fine for any EEG: refused."""


@dataclass(frozen=True, eq=False)
class SpectralBlock:
    """One block of the spectral codec over the coded channels.

    Units: ``step_uv`` and ``means_uv`` in µV; ``coefficients`` are quantised orthonormal-DCT
    values, (channels, window × windows) with one frequency's values across windows together.
    """

    index: int
    start_seconds: float
    duration_seconds: float
    n_samples: int
    window: int
    step_uv: float
    recon_offset: int
    means_uv: np.ndarray  # float32 (channels,)
    coefficients: np.ndarray  # int64 (channels, window × windows)
    gains: np.ndarray  # uint8 (channels, bands): coded coefficients × 2**(g / 32)
    noise: np.ndarray  # uint8 (channels, bands): zeroed ones get noise of RMS n/256 steps
    # int16 (channels, channels) or None: the rows above are the components z = T·x / 2**14
    # of the mean-free channels x (XFRC), not the channels (XFRM)
    transform: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_channels = self.means_uv.shape[0]
        if not 1 <= n_channels <= MAX_CHANNELS:
            raise ValueError(f"{n_channels} channels (1..{MAX_CHANNELS})")
        if not 1 <= self.window <= XFRM_MAX_WINDOW:
            raise ValueError(f"window of {self.window} samples (1..{XFRM_MAX_WINDOW})")
        if not 1 <= self.n_samples * n_channels <= MAX_SAMPLES_PER_BLOCK:
            raise ValueError(f"{n_channels} × {self.n_samples} samples in one block")
        if not (math.isfinite(self.step_uv) and self.step_uv > 0):
            raise ValueError(f"quantiser step {self.step_uv} µV")
        if not 0 <= self.recon_offset <= 255:
            raise ValueError(f"reconstruction offset {self.recon_offset}")
        if self.coefficients.shape != (n_channels, self.window * self.n_windows):
            raise ValueError(f"coefficients of shape {self.coefficients.shape}")
        bands = (n_channels, len(XFRM_BAND_EDGES_HZ) - 1)
        if self.gains.shape != bands or self.noise.shape != bands:
            raise ValueError("band codes do not match the channels and bands")
        if not np.isfinite(self.means_uv).all():
            raise ValueError("a channel mean is not finite")
        if self.transform is not None and self.transform.shape != (n_channels, n_channels):
            raise ValueError(f"channel transform of shape {self.transform.shape}")

    @property
    def block_type(self) -> bytes:
        return XFRM if self.transform is None else XFRC

    @property
    def n_channels(self) -> int:
        return int(self.means_uv.shape[0])

    @property
    def n_windows(self) -> int:
        return -(-self.n_samples // self.window)

    @property
    def n_bands(self) -> int:
        return len(XFRM_BAND_EDGES_HZ) - 1


def encode_spectral_block(block: SpectralBlock) -> bytes:
    adjusted = bool(block.gains.any() or block.noise.any())
    head = XFRM_HEADER.pack(
        block.start_seconds, block.duration_seconds, block.index, block.n_samples,
        block.n_channels, block.window, XFRM_PARTITION, block.step_uv, block.recon_offset,
        block.n_bands if adjusted else 0,
    )  # fmt: skip
    parts = [head, block.means_uv.astype("<f4").tobytes()]
    if block.transform is not None:
        parts.append(block.transform.astype("<i2").tobytes())
    if adjusted:
        parts += [block.gains.astype(np.uint8).tobytes(), block.noise.astype(np.uint8).tobytes()]
    rows = block.coefficients.reshape(block.n_channels, block.window, block.n_windows)
    used = [int(np.flatnonzero(row.any(axis=1))[-1]) + 1 if row.any() else 0 for row in rows]
    parts.append(np.asarray(used, "<u4").tobytes())
    kept = np.concatenate([row[:n].ravel() for row, n in zip(rows, used, strict=True)])
    parts.append(encode_errors(kept[None], XFRM_PARTITION))
    return b"".join(parts)


def decode_spectral_block(payload: bytes, block_type: bytes = XFRM) -> SpectralBlock:
    """Inverse of encode_spectral_block; ValueError for anything that is not exactly one."""
    if len(payload) < XFRM_HEADER.size:
        raise ValueError("payload is shorter than its fixed header")
    start, duration, index, n_samples, n_channels, window, partition, step, recon, n_bands = (
        XFRM_HEADER.unpack_from(payload)
    )
    bands = len(XFRM_BAND_EDGES_HZ) - 1
    if n_bands not in (0, bands):
        raise ValueError(f"{n_bands} band codes per channel (0 or {bands})")
    if not (n_channels >= 1 and 1 <= window <= XFRM_MAX_WINDOW and partition >= 1):
        raise ValueError(f"{n_channels} channels, window {window}, partition {partition}")
    if not 1 <= n_samples * n_channels <= MAX_SAMPLES_PER_BLOCK:
        raise ValueError(f"{n_channels} × {n_samples} samples in one block")
    at = XFRM_HEADER.size
    if len(payload) < at + 4 * n_channels:
        raise ValueError("payload is too short for its channel means")
    means = np.frombuffer(payload, "<f4", n_channels, at)
    at += 4 * n_channels
    transform = None
    if block_type == XFRC:
        if len(payload) < at + 2 * n_channels**2:
            raise ValueError("payload is too short for its channel transform")
        transform = np.frombuffer(payload, "<i2", n_channels**2, at).reshape(n_channels, -1)
        at += 2 * n_channels**2
    codes = np.zeros((2, n_channels, bands), np.uint8)
    if n_bands:
        if len(payload) < at + 2 * n_channels * bands:
            raise ValueError("payload is too short for its band codes")
        codes = np.frombuffer(payload, np.uint8, 2 * n_channels * bands, at).reshape(codes.shape)
        at += 2 * n_channels * bands
    n_windows = -(-n_samples // window)
    if len(payload) < at + 4 * n_channels:
        raise ValueError("payload is too short for its frequency counts")
    used = np.frombuffer(payload, "<u4", n_channels, at).astype(np.int64)
    at += 4 * n_channels
    if (used > window).any():
        raise ValueError("a frequency count exceeds the window")
    kept = decode_errors(payload[at:], 1, int(used.sum()) * n_windows, partition)[0]
    if kept.size and np.abs(kept).max() >= MAX_COEFFICIENT:
        raise ValueError("a quantised coefficient is out of range")
    coefficients = np.zeros((n_channels, window, n_windows), np.int64)
    ends = np.cumsum(used * n_windows)
    for ch, (end, n) in enumerate(zip(ends, used, strict=True)):
        coefficients[ch, :n] = kept[end - n * n_windows : end].reshape(n, n_windows)
    coefficients = coefficients.reshape(n_channels, -1)
    return SpectralBlock(
        index=index,
        start_seconds=start,
        duration_seconds=duration,
        n_samples=n_samples,
        window=window,
        step_uv=float(step),
        recon_offset=recon,
        means_uv=means.astype(np.float32),
        coefficients=coefficients,
        gains=codes[0].copy(),
        noise=codes[1].copy(),
        transform=None if transform is None else transform.astype(np.int16),
    )
