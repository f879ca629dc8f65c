"""Waveform and band-power fidelity of a reconstruction, in numpy.

Inputs are 1-D arrays or (channels, samples) arrays in physical units (e.g. µV); every metric
reduces over the last axis, so a 1-D input gives a float and a 2-D input one value per channel.
``x`` is always the original and ``y`` the reconstruction.

Definitions (sums over samples; x̄ is the mean of the original):

- PRD  = 100 · sqrt(Σ(x−y)² / Σx²)            [%]  (depends on x's DC offset)
- PRDN = 100 · sqrt(Σ(x−y)² / Σ(x−x̄)²)        [%]
- NMSE = Σ(x−y)² / Σ(x−x̄)²                   (= (PRDN / 100)²)
- SNR  = 10 · log10(Σ(x−x̄)² / Σ(x−y)²) [dB]  (signal power with the mean removed; = −10 log10 NMSE)
- r    = Pearson correlation of x and y

Edge cases are explicit, without numpy warnings: a zero error gives PRD = PRDN = NMSE = 0 and
SNR = +inf even for a flat original; a nonzero error against a zero reference energy gives
PRD/PRDN/NMSE = +inf and SNR = −inf. r is 1 for an exact reconstruction and NaN when x or y has
zero variance otherwise (correlation is undefined there).

Band powers come from a Welch PSD with pinned parameters (see ``welch_psd``) integrated over
``BANDS``; the relative band-power error is |P_rec − P_orig| / P_orig per band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

#: Classical EEG bands in Hz, half-open [low, high). A band reaching above Nyquist is cut there;
#: a band with no PSD bin below Nyquist is left out of the results.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}

#: Welch parameters, pinned so that band errors compare over time (window: periodic Hann;
#: detrend: each segment's mean).
WELCH_SEGMENT_S = 4.0
WELCH_OVERLAP = 0.5


def _error_ratio(error: npt.ArrayLike, reference: npt.ArrayLike) -> Array:
    """error / reference, with 0/0 → 0 (nothing was lost) and e/0 → inf, warning-free."""
    err = np.asarray(error, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = err / ref
    return np.where(err == 0.0, 0.0, ratio)


def _scalar_or_array(values: Array) -> float | Array:
    """Floats for 1-D inputs, arrays for multichannel ones."""
    return float(values) if values.ndim == 0 else values


@dataclass(frozen=True)
class ErrorEnergies:
    """The three sums every energy-ratio metric needs; summing them pools channels."""

    sse: Array  # Σ(x−y)²
    energy: Array  # Σx²
    centered_energy: Array  # Σ(x−x̄)²

    def pooled(self) -> ErrorEnergies:
        """Sums over all channels: the overall PRD/PRDN/SNR/NMSE weigh every sample equally."""
        return ErrorEnergies(np.sum(self.sse), np.sum(self.energy), np.sum(self.centered_energy))

    def nmse(self) -> Array:
        return _error_ratio(self.sse, self.centered_energy)

    def prd(self) -> Array:
        return 100.0 * np.sqrt(_error_ratio(self.sse, self.energy))

    def prdn(self) -> Array:
        return 100.0 * np.sqrt(self.nmse())

    def snr_db(self) -> Array:
        with np.errstate(divide="ignore"):
            return -10.0 * np.log10(self.nmse())


@dataclass(frozen=True)
class PairMoments:
    """Exactly mergeable statistics of (x, y) along the last axis.

    Blocks merge with the pairwise update of Chan et al., so mean-removed sums of a stream equal
    those of its concatenation without the cancellation of Σx² − (Σx)²/n, and Σ(x−y)² is summed
    directly so near-perfect reconstructions keep their precision.
    """

    n: int
    mean_x: Array
    mean_y: Array
    m2_x: Array  # Σ(x−x̄)²
    m2_y: Array  # Σ(y−ȳ)²
    c_xy: Array  # Σ(x−x̄)(y−ȳ)
    energy_x: Array  # Σx²
    sse: Array  # Σ(x−y)²

    @classmethod
    def of(cls, x: npt.ArrayLike, y: npt.ArrayLike) -> PairMoments:
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if xa.shape != ya.shape:
            raise ValueError(f"shape mismatch: original {xa.shape}, reconstruction {ya.shape}")
        if xa.ndim not in (1, 2) or xa.shape[-1] == 0:
            raise ValueError(f"expected non-empty 1-D or (channels, samples), got {xa.shape}")
        mean_x = xa.mean(axis=-1)
        mean_y = ya.mean(axis=-1)
        dx = xa - mean_x[..., None]
        dy = ya - mean_y[..., None]
        return cls(
            n=xa.shape[-1],
            mean_x=mean_x,
            mean_y=mean_y,
            m2_x=np.sum(dx * dx, axis=-1),
            m2_y=np.sum(dy * dy, axis=-1),
            c_xy=np.sum(dx * dy, axis=-1),
            energy_x=np.sum(xa * xa, axis=-1),
            sse=np.sum((xa - ya) ** 2, axis=-1),
        )

    def merge(self, other: PairMoments) -> PairMoments:
        """Statistics of the concatenation of self's samples followed by other's."""
        n = self.n + other.n
        dx = other.mean_x - self.mean_x
        dy = other.mean_y - self.mean_y
        cross = self.n * other.n / n
        return PairMoments(
            n=n,
            mean_x=self.mean_x + dx * (other.n / n),
            mean_y=self.mean_y + dy * (other.n / n),
            m2_x=self.m2_x + other.m2_x + dx * dx * cross,
            m2_y=self.m2_y + other.m2_y + dy * dy * cross,
            c_xy=self.c_xy + other.c_xy + dx * dy * cross,
            energy_x=self.energy_x + other.energy_x,
            sse=self.sse + other.sse,
        )

    @property
    def errors(self) -> ErrorEnergies:
        return ErrorEnergies(self.sse, self.energy_x, self.m2_x)

    def pearson_r(self) -> Array:
        """1 for an exact reconstruction, NaN where a variance is zero, else clipped to [-1, 1]."""
        denom = np.sqrt(self.m2_x * self.m2_y)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.clip(self.c_xy / denom, -1.0, 1.0)
        return np.where(self.sse == 0.0, 1.0, np.where(denom > 0.0, r, np.nan))


def prd(x: npt.ArrayLike, y: npt.ArrayLike) -> float | Array:
    """Percent root-mean-square difference against the raw (DC-including) energy [%]."""
    return _scalar_or_array(PairMoments.of(x, y).errors.prd())


def prdn(x: npt.ArrayLike, y: npt.ArrayLike) -> float | Array:
    """PRD against the mean-removed energy, so a DC offset cannot flatter the score [%]."""
    return _scalar_or_array(PairMoments.of(x, y).errors.prdn())


def snr_db(x: npt.ArrayLike, y: npt.ArrayLike) -> float | Array:
    """10 log10 of mean-removed signal energy over error energy [dB]."""
    return _scalar_or_array(PairMoments.of(x, y).errors.snr_db())


def nmse(x: npt.ArrayLike, y: npt.ArrayLike) -> float | Array:
    """Error energy over mean-removed signal energy."""
    return _scalar_or_array(PairMoments.of(x, y).errors.nmse())


def pearson_r(x: npt.ArrayLike, y: npt.ArrayLike) -> float | Array:
    """Pearson correlation; see ``PairMoments.pearson_r`` for the degenerate cases."""
    return _scalar_or_array(PairMoments.of(x, y).pearson_r())


def welch_segment_samples(sample_rate: float) -> int:
    """Samples in one 4-s Welch segment, which is also the FFT length of every PSD."""
    return max(2, round(WELCH_SEGMENT_S * sample_rate))


def welch_psd(x: npt.ArrayLike, sample_rate: float) -> tuple[Array, Array]:
    """One-sided PSD [unit²/Hz] with the pinned parameters, on a grid fixed by the sample rate.

    4-s periodic Hann segments, 50 % overlap, constant detrend, density scaling, mean averaging:
    scipy.signal.welch's estimate with these settings (tests/test_metrics.py compares them),
    computed here with numpy so that measuring does not import scipy.signal (0.6-0.9 s of
    every compress that reports its fidelity). A signal shorter than one segment is analysed
    as a single segment zero-padded to 4 s, so the frequency grid (and thus accumulation
    across blocks) does not depend on its length.
    """
    xa = np.asarray(x, dtype=np.float64)
    nfft = welch_segment_samples(sample_rate)
    nperseg = min(nfft, xa.shape[-1])
    step = nperseg - int(nperseg * WELCH_OVERLAP)
    starts = np.arange((xa.shape[-1] - nperseg) // step + 1) * step
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nperseg) / nperseg)  # periodic Hann
    segments = np.lib.stride_tricks.sliding_window_view(xa, nperseg, axis=-1)[..., starts, :]
    segments = (segments - segments.mean(axis=-1, keepdims=True)) * window
    spectra = np.fft.rfft(segments, n=nfft, axis=-1)
    psd = (spectra.real**2 + spectra.imag**2).mean(axis=-2) / (sample_rate * np.sum(window**2))
    psd[..., 1 : nfft - nfft // 2] *= 2  # one-sided: all but DC and (even nfft) Nyquist
    return np.fft.rfftfreq(nfft, 1 / sample_rate), psd


def band_powers(
    freqs: Array, psd: Array, bands: dict[str, tuple[float, float]] = BANDS
) -> dict[str, Array]:
    """Power per band [unit²] by summing PSD bins in [low, high); bands without bins are skipped."""
    df = freqs[1] - freqs[0]
    powers = {}
    for name, (low, high) in bands.items():
        mask = (freqs >= low) & (freqs < high)
        if mask.any():
            powers[name] = np.sum(psd[..., mask], axis=-1) * df
    return powers


def relative_band_errors(freqs: Array, psd_orig: Array, psd_rec: Array) -> dict[str, Array]:
    """|P_rec − P_orig| / P_orig per band (0 if both are zero, inf if only the original is)."""
    orig = band_powers(freqs, psd_orig)
    rec = band_powers(freqs, psd_rec)
    return {name: _error_ratio(np.abs(rec[name] - orig[name]), orig[name]) for name in orig}


def band_power_errors(
    x: npt.ArrayLike, y: npt.ArrayLike, sample_rate: float
) -> dict[str, float | Array]:
    """One-shot relative band-power errors of a reconstruction y of x."""
    freqs, psd_x = welch_psd(x, sample_rate)
    _, psd_y = welch_psd(y, sample_rate)
    errors = relative_band_errors(freqs, psd_x, psd_y)
    return {name: _scalar_or_array(err) for name, err in errors.items()}
