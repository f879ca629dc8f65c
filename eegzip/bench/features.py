"""Per-epoch EEG features for the downstream tasks: log band powers and covariance matrices.

Standard, strong features on a few channels: the recording is band-passed 1–45 Hz (zero phase,
which also removes a headset's DC level), cut into 4-s epochs, and each epoch gives
log10 absolute band power per channel and band (µV², Welch with 2-s segments), log10 relative
band power (band / sum of the bands), and a shrunk spatial covariance. Covariances become
features in ``TangentSpace``, which must be fitted on training epochs only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt, welch

from eegzip.metrics import BANDS, band_powers

EPOCH_S = 4.0
WELCH_S = 2.0
PASSBAND_HZ = (1.0, 45.0)
SHRINKAGE = 0.05
"""Weight of the scaled identity mixed into each covariance so every one is well conditioned."""
POWER_FLOOR = 1e-12


@dataclass(frozen=True, eq=False)
class EpochFeatures:
    """One recording's epochs: band-power features (epochs, n) and covariances (epochs, c, c)."""

    band_power: np.ndarray
    covariance: np.ndarray

    @property
    def n_epochs(self) -> int:
        return len(self.band_power)


def band_pass(x_uv: np.ndarray, sample_rate: float) -> np.ndarray:
    """Zero-phase 4th-order Butterworth band-pass, the top edge kept below Nyquist."""
    low, high = PASSBAND_HZ
    high = min(high, 0.45 * sample_rate)
    sos = butter(4, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, x_uv, axis=-1)


def cut_epochs(x: np.ndarray, sample_rate: float) -> np.ndarray:
    """(channels, samples) → (epochs, channels, epoch samples); a partial last epoch is dropped."""
    size = round(EPOCH_S * sample_rate)
    n = x.shape[1] // size
    if n == 0:
        raise ValueError(f"recording shorter than one {EPOCH_S:g}-s epoch")
    return x[:, : n * size].reshape(x.shape[0], n, size).transpose(1, 0, 2)


def log_band_powers(epochs: np.ndarray, sample_rate: float) -> np.ndarray:
    """(epochs, channels × bands × 2): log10 absolute then log10 relative band powers."""
    freqs, psd = welch(epochs, fs=sample_rate, nperseg=round(WELCH_S * sample_rate), axis=-1)
    powers = np.stack(list(band_powers(freqs, psd, BANDS).values()), axis=-1)
    powers = np.maximum(powers, POWER_FLOOR)
    relative = powers / powers.sum(axis=-1, keepdims=True)
    return np.concatenate(
        [np.log10(powers).reshape(len(epochs), -1), np.log10(relative).reshape(len(epochs), -1)],
        axis=1,
    )


def covariances(epochs: np.ndarray) -> np.ndarray:
    """Shrunk sample covariances (epochs, channels, channels) of zero-mean epochs."""
    centered = epochs - epochs.mean(axis=-1, keepdims=True)
    cov = centered @ centered.transpose(0, 2, 1) / epochs.shape[-1]
    n = cov.shape[-1]
    scale = np.trace(cov, axis1=1, axis2=2)[:, None, None] / n
    return (1 - SHRINKAGE) * cov + SHRINKAGE * scale * np.eye(n)


def epoch_features(x_uv: np.ndarray, sample_rate: float) -> EpochFeatures:
    epochs = cut_epochs(band_pass(x_uv, sample_rate), sample_rate)
    return EpochFeatures(log_band_powers(epochs, sample_rate), covariances(epochs))


def _symmetric_apply(matrices: np.ndarray, function) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrices)
    return (vectors * function(values)[..., None, :]) @ np.swapaxes(vectors, -1, -2)


class TangentSpace:
    """Covariances mapped to the tangent space at the training mean (log-Euclidean style).

    C ↦ upper triangle of log(W C W) with W = M^(-1/2), M the arithmetic mean of the training
    covariances; off-diagonal entries are scaled by √2 so Euclidean distances between vectors
    match the Frobenius norm of the matrices.
    """

    def __init__(self) -> None:
        self.whitener: np.ndarray | None = None

    def fit(self, covs: np.ndarray) -> TangentSpace:
        self.whitener = _symmetric_apply(covs.mean(axis=0), lambda v: 1.0 / np.sqrt(v))
        return self

    def transform(self, covs: np.ndarray) -> np.ndarray:
        if self.whitener is None:
            raise ValueError("TangentSpace.transform before fit")
        logs = _symmetric_apply(self.whitener @ covs @ self.whitener, np.log)
        rows, cols = np.triu_indices(covs.shape[-1])
        weights = np.where(rows == cols, 1.0, np.sqrt(2.0))
        return logs[:, rows, cols] * weights
