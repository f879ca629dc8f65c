"""The spectral codec: channel decorrelation, windowed DCT, one uniform quantiser step,
band-power restoration.

Why this codec carries eegzip's lossy rate ladder: the channels' principal components per
block (EEG channels share a reference and their sources; spec §5.18), a DCT of 2-s windows with
a dead-zone quantiser and the context-modelled range coder of the residual layer reconstruct
EEG with lower PRDN than the db4 wavelet baseline given the same bytes (on the test split,
whole files: benchmarks/results/ladder.md), while the neural codes of today's models only add
bits: the shipped DAC-SC model under the spectral codec was worse at every rate
(benchmarks/results/ladder_neural_base.md). One step for every component and block is the
reverse water-filling answer for the pooled squared error the PRDN measures; the orthonormal
transforms keep that error equal in the channels. (Measured and left out, on train files: a
lapped transform (MDCT) instead of the block DCT gained 0-2 % in PRDN.)

A mean-squared-error coder zeroes the weak bands first, which empties beta and gamma at low
rates. The encoder therefore also stores, per coded row (channel, or component) and EEG band,
either a gain for the band's coded coefficients or the RMS of noise for its zeroed ones, so
that each band keeps at least ``band_target`` of its power. A gain is the cheaper of the two
in squared error (raising a band's power from K to T costs (√T − √K)² with a gain, T − K with
noise), so noise is used only where almost nothing of the band was coded.

Everything here is numpy: no model, no torch. Decoding is deterministic; the noise comes from
SplitMix64 on the coefficient's position (spec §5.15), not from a library generator whose
streams may change between versions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from eegzip.container.format import (
    XFRC_TRANSFORM_SHIFT,
    XFRM_BAND_EDGES_HZ,
    XFRM_GAIN_STEPS_PER_OCTAVE,
    XFRM_NOISE_LEVELS,
    XFRM_RECON_LEVELS,
)
from eegzip.container.spectral import SpectralBlock

WINDOW_SECONDS = 2.0
"""DCT window: 0.5-Hz bins, and artefacts stay within 2 s (4-s windows were 1 % better)."""

DEAD_ZONE = 0.35
"""Rounding offset of the quantiser: |c|/step below 1 − 0.35 becomes 0.

A dead zone spends fewer bits on coefficients that barely matter: on train files it lowered
PRDN at every rate up to about 100 bit/s/ch. From 200 up, plain rounding (PLAIN_ROUNDING) was a
few percent better but pushed band ratios to 1.2; the writer uses the dead zone throughout."""

PLAIN_ROUNDING = 0.5
RECON_OFFSET = 0.1
"""Dequantised magnitudes sit this far (in steps) below the integer, nearer the coefficients'
centroid in a Laplace-like band; used with the dead zone."""

NOISE_THRESHOLD = 0.25
"""A band whose coded power is below this share of its target is noise-filled, not amplified.

(0.05 was 2-4 % better in PRDN at 40-60 bit/s/ch on three train files; not yet re-measured on
the test split, so the measured value stays.)"""


def window_samples(sample_rate: float) -> int:
    return max(8, round(WINDOW_SECONDS * sample_rate))


@dataclass(frozen=True)
class Analysis:
    """A block's transform, independent of the step: computed once while the rate search
    tries several steps on it."""

    means_uv: np.ndarray  # (C,) float32, µV
    coefficients: np.ndarray  # (C, windows, window) orthonormal DCT of the coded rows, µV
    n_samples: int  # per channel
    sample_rate: float  # Hz
    transform: np.ndarray | None  # int16 (C, C): rows are components T·x / 2**14, or channels

    @property
    def window(self) -> int:
        return self.coefficients.shape[2]


def analyse(x_uv: np.ndarray, sample_rate: float, decorrelate: bool = True) -> Analysis:
    """The transform of a block (channels, samples) in µV.

    With ``decorrelate`` (and two channels or more), the mean-free channels are first turned
    into their principal components over the block (the Karhunen-Loève transform, as XFRC
    stores it): the step then falls on a few strong components instead of every channel's copy
    of the shared signal (spec §5.18).
    """
    from scipy.fft import dct  # here, not at import: commands that code nothing start fast

    window = window_samples(sample_rate)
    x = np.asarray(x_uv, dtype=np.float64)
    means = x.mean(axis=1).astype(np.float32)
    rows = x - means[:, None]
    transform = channel_transform(rows) if decorrelate and x.shape[0] > 1 else None
    if transform is not None:
        with threadpool_limits(1, user_api="blas"):  # the same bytes whatever the thread count
            rows = transform @ rows / 2.0**XFRC_TRANSFORM_SHIFT
    n = x.shape[1]
    n_windows = -(-n // window)
    padded = np.pad(rows, ((0, 0), (0, n_windows * window - n)), mode="edge")
    c = dct(padded.reshape(x.shape[0], n_windows, window), norm="ortho", axis=-1)
    return Analysis(means, c, n, sample_rate, transform)


def channel_transform(rows: np.ndarray) -> np.ndarray:
    """The block's principal axes as int16 rows (strongest first), scaled by 2**14.

    Orthonormal up to the rounding of its entries, so the decoder inverts it by its transpose.
    """
    with threadpool_limits(1, user_api="blas"):
        _, vectors = np.linalg.eigh(rows @ rows.T)
    axes = vectors[:, ::-1].T
    return np.rint(axes * 2.0**XFRC_TRANSFORM_SHIFT).astype(np.int16)


def quantise(coefficients: np.ndarray, step: float, dead_zone: float) -> np.ndarray:
    """sign(c) · floor(|c| / step + dead_zone), int64 (compiled: the step search runs it
    several times per block)."""
    from eegzip.container import kernels  # numba: imported only where blocks are coded

    return kernels.dead_zone_quantise(np.ascontiguousarray(coefficients), step, dead_zone)


def dequantise(q: np.ndarray, step: float, recon_offset: int) -> np.ndarray:
    magnitude = np.maximum(np.abs(q) - recon_offset / XFRM_RECON_LEVELS, 0.0)
    return np.sign(q) * magnitude * step


def band_bins(window: int, sample_rate: float) -> list[tuple[int, int]]:
    """DCT bin ranges [lo, hi) of the EEG bands: bin k is at k · rate / (2 · window) Hz."""
    per_hz = 2 * window / sample_rate
    edges = [min(window, math.ceil(f * per_hz - 1e-9)) for f in XFRM_BAND_EDGES_HZ]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _band_adjustments(
    c: np.ndarray, c_hat: np.ndarray, q: np.ndarray, bins, step: float, target: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gain and noise codes (C, bands) that lift each band's power to ``target`` of the original."""
    n_channels = c.shape[0]
    gains = np.zeros((n_channels, len(bins)), np.uint8)
    noise = np.zeros((n_channels, len(bins)), np.uint8)
    for b, (lo, hi) in enumerate(bins):
        if hi <= lo:
            continue
        wanted = target * np.sum(c[:, :, lo:hi] ** 2, axis=(1, 2))
        kept = np.sum(c_hat[:, :, lo:hi] ** 2, axis=(1, 2))
        zeroed = np.count_nonzero(q[:, :, lo:hi] == 0, axis=(1, 2))
        amplify = (kept < wanted) & (kept >= NOISE_THRESHOLD * wanted)
        ratio = np.ones_like(wanted)
        np.divide(wanted, kept, out=ratio, where=amplify)
        codes = np.rint(XFRM_GAIN_STEPS_PER_OCTAVE * 0.5 * np.log2(ratio))
        gains[:, b] = np.clip(codes, 0, 255).astype(np.uint8)
        fill = (kept < NOISE_THRESHOLD * wanted) & (zeroed > 0)
        rms = np.sqrt(np.where(fill, wanted - kept, 0.0) / np.maximum(zeroed, 1))
        noise[:, b] = np.clip(np.rint(XFRM_NOISE_LEVELS * rms / step), 0, 255).astype(np.uint8)
    return gains, noise


def encode(
    analysis: Analysis,
    step_uv: float,
    *,
    index: int = 0,
    start_seconds: float = 0.0,
    band_target: float | None = None,
    dead_zone: float = DEAD_ZONE,
) -> SpectralBlock:
    """An analysed block (``analyse``) at quantiser step ``step_uv``.

    With ``band_target`` (a share of power, e.g. 0.85), every EEG band of every coded row (a
    channel, or a component of XFRC) keeps at least that share of its power; the channels' bands
    then keep about as much (0.84 or more at 40 bit/s/ch on the test split).
    """
    c, window = analysis.coefficients, analysis.window
    q = quantise(c, step_uv, dead_zone)
    recon = round(RECON_OFFSET * XFRM_RECON_LEVELS) if dead_zone < PLAIN_ROUNDING else 0
    bins = band_bins(window, analysis.sample_rate)
    shape = (c.shape[0], len(bins))
    if band_target is None:
        gains, noise = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    else:
        top = bins[-1][1]  # bins above gamma's edge play no part: a third of the work or less
        c_hat = dequantise(q[..., :top], step_uv, recon)
        gains, noise = _band_adjustments(c[..., :top], c_hat, q[..., :top], bins, step_uv,
                                         band_target)  # fmt: skip
    return SpectralBlock(
        index=index,
        start_seconds=start_seconds,
        duration_seconds=analysis.n_samples / analysis.sample_rate,
        n_samples=analysis.n_samples,
        window=window,
        step_uv=float(np.float32(step_uv)),
        recon_offset=recon,
        means_uv=analysis.means_uv,
        coefficients=q.transpose(0, 2, 1).reshape(c.shape[0], -1),
        gains=gains,
        noise=noise,
        transform=analysis.transform,
    )


def splitmix64(counter: np.ndarray) -> np.ndarray:
    """SplitMix64 of uint64 counters (Steele, Lea & Flood 2014): the decoder's noise source."""
    with np.errstate(over="ignore"):
        z = counter.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _noise(block: SpectralBlock, shape: tuple[int, int, int]) -> np.ndarray:
    """Uniform noise of unit variance, one value per coefficient position of the block."""
    n_channels, n_windows, window = shape
    positions = np.arange(n_windows * window, dtype=np.uint64).reshape(n_windows, window)
    out = np.empty(shape)
    for ch in range(n_channels):
        key = np.uint64(((block.index & 0xFFFFFFFF) << 24 | ch) << 24)
        bits = splitmix64(positions + key) >> np.uint64(11)
        out[ch] = (bits.astype(np.float64) * 2.0**-53 * 2.0 - 1.0) * math.sqrt(3.0)
    return out


def decode(block: SpectralBlock, sample_rate: float) -> np.ndarray:
    """The block's samples (channels, n_samples) in µV."""
    n_channels, window, n_windows = block.n_channels, block.window, block.n_windows
    q = block.coefficients.reshape(n_channels, window, n_windows).transpose(0, 2, 1)
    c = dequantise(q, block.step_uv, block.recon_offset)
    if block.gains.any() or block.noise.any():
        noise = _noise(block, q.shape) if block.noise.any() else None
        for b, (lo, hi) in enumerate(band_bins(window, sample_rate)):
            gain = 2.0 ** (block.gains[:, b] / XFRM_GAIN_STEPS_PER_OCTAVE)
            c[:, :, lo:hi] *= gain[:, None, None]
            if noise is not None:
                rms = block.noise[:, b] * block.step_uv / XFRM_NOISE_LEVELS
                zero = q[:, :, lo:hi] == 0
                c[:, :, lo:hi] += np.where(zero, noise[:, :, lo:hi] * rms[:, None, None], 0.0)
    from scipy.fft import idct

    x = idct(c, norm="ortho", axis=-1).reshape(n_channels, -1)[:, : block.n_samples]
    if block.transform is not None:
        with threadpool_limits(1, user_api="blas"):
            x = block.transform.T.astype(np.float64) @ x / 2.0**XFRC_TRANSFORM_SHIFT
    return x + block.means_uv[:, None].astype(np.float64)
