"""Fidelity report of a reconstructed recording, per channel and overall, built block by block.

Aggregation of the overall row: PRD, PRDN, SNR and NMSE come from the error and signal energies
pooled over all channels (each channel's own mean removed where the definition removes it), so
every sample weighs the same; r is the mean of the per-channel r over the channels where it is
defined; band errors and the mel loss are means over channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from eegzip.metrics.fidelity import (
    Array,
    ErrorEnergies,
    PairMoments,
    relative_band_errors,
    welch_psd,
    welch_segment_samples,
)

#: Block length compare() streams with, the same a streaming caller typically uses.
DEFAULT_BLOCK_S = 64.0
#: Significant digits kept in to_dict(): far beyond what the metrics can resolve.
JSON_DIGITS = 6

_SCALARS = ("prd", "prdn", "snr_db", "r", "nmse", "mel_loss")


def _json_float(value: float) -> float | None:
    """Round to JSON_DIGITS significant digits; NaN and ±inf (not JSON) become None."""
    return float(f"{value:.{JSON_DIGITS}g}") if math.isfinite(value) else None


@dataclass(frozen=True)
class ChannelFidelity:
    """Fidelity of one channel (or of all, for the overall row); see fidelity.py for definitions."""

    label: str
    prd: float
    prdn: float
    snr_db: float
    r: float
    nmse: float
    band_error: dict[str, float]
    mel_loss: float

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"label": self.label}
        out.update({name: _json_float(getattr(self, name)) for name in _SCALARS})
        out["band_error"] = {band: _json_float(err) for band, err in self.band_error.items()}
        return out


@dataclass(frozen=True)
class FidelityReport:
    """Per-channel fidelity plus the overall row (aggregated as the module docstring says)."""

    per_channel: tuple[ChannelFidelity, ...]
    overall: ChannelFidelity
    sample_rate: float
    n_samples: int

    def to_dict(self) -> dict[str, object]:
        return {
            "sample_rate": self.sample_rate,
            "n_samples": self.n_samples,
            "overall": self.overall.to_dict(),
            "channels": [channel.to_dict() for channel in self.per_channel],
        }


def _pair(original: npt.ArrayLike, reconstructed: npt.ArrayLike) -> tuple[Array, Array]:
    """Own float64 (channels, samples) copies, since callers may reuse their block buffers."""
    x = np.atleast_2d(np.array(original, dtype=np.float64))
    y = np.atleast_2d(np.array(reconstructed, dtype=np.float64))
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"expected equal (channels, samples) shapes, got {x.shape} and {y.shape}")
    return x, y


def _scores(errors: ErrorEnergies) -> dict[str, Array]:
    return {
        "prd": errors.prd(),
        "prdn": errors.prdn(),
        "snr_db": errors.snr_db(),
        "nmse": errors.nmse(),
    }


def _mean_where_defined(values: Array) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else math.nan


class FidelityAccumulator:
    """Streams a recording block by block into a FidelityReport in memory bounded by the block.

    Per processed block it keeps exactly mergeable moments (so PRD, PRDN, SNR, NMSE and r equal
    those of the whole recording), adds the block's Welch PSD weighted by its length (band errors
    use the length-weighted mean PSD) and adds the per-channel mel loss weighted by its length.
    The mel loss sees the codec's domain: the original block's per-channel mean removed from both
    signals (so a DC error still counts), divided by ``uv_scale`` (µV) and, if ``mel_sample_rate``
    differs from ``sample_rate``, polyphase-resampled to it (the rate ratio taken as a fraction
    with denominator at most 1000).

    Blocks shorter than ``min_block`` samples are held back and merged with the next ones so
    every PSD and mel evaluation covers a full Welch segment and the longest mel window. A short
    remainder flushed by ``result()`` gets a zero-padded PSD, and no mel weight if it is shorter
    than the longest mel window needs; a recording too short for any mel evaluation reports a
    NaN mel loss.

    ``mel=False`` leaves the mel loss out (it needs torch; archival compression does without):
    it is then reported as 0 if every pair added was identical (a lossless file), else NaN.
    """

    def __init__(
        self,
        labels: Sequence[str],
        sample_rate: float,
        mel_sample_rate: float | None = None,
        uv_scale: float = 200.0,
        mel: bool = True,
    ) -> None:
        self.labels = tuple(labels)
        if not self.labels:
            raise ValueError("a report needs at least one channel")
        self.sample_rate = float(sample_rate)
        self.mel_sample_rate = float(sample_rate if mel_sample_rate is None else mel_sample_rate)
        self.uv_scale = float(uv_scale)
        ratio = Fraction(self.mel_sample_rate / self.sample_rate).limit_denominator(1000)
        self._up, self._down = ratio.numerator, ratio.denominator
        self._mel = None
        self.min_block = welch_segment_samples(self.sample_rate)
        if mel:  # torch, imported only here
            from eegzip.metrics.mel import MultiScaleMelLoss

            self._mel = MultiScaleMelLoss(self.mel_sample_rate)
            self.min_block = max(
                self.min_block, math.ceil(self._mel.min_length * self._down / self._up)
            )
        self._exact = True  # every pair so far identical (without the mel loss: it is then 0)
        self._moments: PairMoments | None = None
        self._freqs: Array | None = None
        self._psd_sum: Array | None = None  # (2: original/reconstruction, channels, freqs)
        self._mel_sum = np.zeros(len(self.labels))
        self._mel_samples = 0
        self._pending: list[tuple[Array, Array]] = []
        self._pending_samples = 0

    def update(self, original: npt.ArrayLike, reconstructed: npt.ArrayLike) -> None:
        """Add the next block, (channels, samples) in physical units."""
        x, y = _pair(original, reconstructed)
        if x.shape[0] != len(self.labels):
            raise ValueError(f"expected {len(self.labels)} channels, got {x.shape[0]}")
        if x.shape[1] == 0:
            return
        self._pending.append((x, y))
        self._pending_samples += x.shape[1]
        if self._pending_samples >= self.min_block:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        x = np.concatenate([block[0] for block in self._pending], axis=1)
        y = np.concatenate([block[1] for block in self._pending], axis=1)
        self._pending.clear()
        self._pending_samples = 0
        self._process(x, y)

    def _process(self, x: Array, y: Array) -> None:
        n = x.shape[1]
        block = PairMoments.of(x, y)
        self._moments = block if self._moments is None else self._moments.merge(block)

        self._freqs, psd = welch_psd(np.stack([x, y]), self.sample_rate)
        self._psd_sum = n * psd if self._psd_sum is None else self._psd_sum + n * psd

        if self._mel is None:
            self._exact = self._exact and np.array_equal(x, y)
            return
        offset = x.mean(axis=1, keepdims=True)
        x_mel = (x - offset) / self.uv_scale
        y_mel = (y - offset) / self.uv_scale
        if self._up != self._down:
            from scipy.signal import resample_poly  # only here: an import of 0.6-0.9 s

            x_mel = resample_poly(x_mel, self._up, self._down, axis=1)
            y_mel = resample_poly(y_mel, self._up, self._down, axis=1)
        if x_mel.shape[1] >= self._mel.min_length:
            self._mel_sum += n * self._mel.evaluate(x_mel, y_mel)
            self._mel_samples += n

    def result(self) -> FidelityReport:
        """The report over everything added so far (flushes any held-back remainder)."""
        self._flush()
        if self._moments is None or self._psd_sum is None or self._freqs is None:
            raise ValueError("no samples were added")
        moments = self._moments
        mean_psd = self._psd_sum / moments.n
        bands = relative_band_errors(self._freqs, mean_psd[0], mean_psd[1])
        mel = (
            self._mel_sum / self._mel_samples
            if self._mel_samples
            else np.full(len(self.labels), 0.0 if self._mel is None and self._exact else math.nan)
        )
        r = moments.pearson_r()
        scores = _scores(moments.errors)
        per_channel = tuple(
            ChannelFidelity(
                label=label,
                r=float(r[i]),
                band_error={band: float(err[i]) for band, err in bands.items()},
                mel_loss=float(mel[i]),
                **{name: float(values[i]) for name, values in scores.items()},
            )
            for i, label in enumerate(self.labels)
        )
        overall = ChannelFidelity(
            label="overall",
            r=_mean_where_defined(r),
            band_error={band: float(err.mean()) for band, err in bands.items()},
            mel_loss=float(mel.mean()),
            **{name: float(values) for name, values in _scores(moments.errors.pooled()).items()},
        )
        return FidelityReport(per_channel, overall, self.sample_rate, moments.n)


def compare(
    original: npt.ArrayLike,
    reconstructed: npt.ArrayLike,
    sample_rate: float,
    labels: Sequence[str] | None = None,
    *,
    mel_sample_rate: float | None = None,
    uv_scale: float = 200.0,
    block_s: float = DEFAULT_BLOCK_S,
) -> FidelityReport:
    """One-shot report: the accumulator fed ``block_s``-second blocks, so streaming matches it."""
    x, y = _pair(original, reconstructed)
    names = tuple(labels) if labels is not None else tuple(f"ch{i}" for i in range(x.shape[0]))
    accumulator = FidelityAccumulator(names, sample_rate, mel_sample_rate, uv_scale)
    step = max(1, round(block_s * sample_rate))
    for start in range(0, x.shape[1], step):
        accumulator.update(x[:, start : start + step], y[:, start : start + step])
    return accumulator.result()
