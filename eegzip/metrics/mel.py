"""DAC's multi-scale mel ("spectrogram") loss and multi-scale STFT loss, in torch.

The paper's spectrogram loss is the mel loss of the Descript Audio Codec. Its parameters are
pinned to DAC's training configuration (conf/base.yml and dac/nn/loss.py of
descript-audio-codec 1.0.0, STFTs as in audiotools) so numbers compare over time:

- scales: window lengths 32, 64, 128, 256, 512, 1024, 2048 with 5, 10, 20, 40, 80, 160, 320 mels;
- STFT: hop = window // 4, periodic Hann window of the full length, n_fft = window,
  center=True with reflect padding, magnitude |STFT| (power 1);
- mel filterbank: librosa.filters.mel defaults (Slaney mel scale, Slaney area normalisation,
  fmin 0 Hz, fmax = sample_rate / 2), built here in numpy;
- per scale: log_weight · mean|log10(clamp(mel_x, 1e-5)^pow) − log10(clamp(mel_y, 1e-5)^pow)|
  + mag_weight · mean|mel_x − mel_y|, with pow 1.0, log_weight 1.0, mag_weight 0.0;
- loss: the sum of the 7 per-scale terms (means over batch, mel bins and frames).

The STFT loss is DAC's MultiScaleSTFTLoss with its defaults: windows 2048 and 512 (a constructor
parameter), hop = window // 4, pow 2.0, log_weight 1.0, mag_weight 1.0, clamp 1e-5, on |STFT|.

Inputs are in the codec's domain and the caller does the scaling: eegzip computes the mel loss on
signals with each channel's mean removed and scaled by 1/200 µV, at the stated sample rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

_CacheKey = tuple[int, torch.device, torch.dtype]


@dataclass(frozen=True)
class MelLossConfig:
    """Every parameter of the multi-scale mel loss; the defaults are DAC's training setup."""

    window_lengths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
    n_mels: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320)
    hop_divisor: int = 4
    clamp_eps: float = 1e-5
    pow: float = 1.0
    log_weight: float = 1.0
    mag_weight: float = 0.0
    fmin: float = 0.0
    fmax: float | None = None  # None: sample_rate / 2

    def __post_init__(self) -> None:
        if len(self.window_lengths) != len(self.n_mels):
            raise ValueError("window_lengths and n_mels need one entry per scale")


DAC_MEL_CONFIG = MelLossConfig()

# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = hz / _SLANEY_HZ_PER_MEL
    above = hz >= _SLANEY_BREAK_HZ
    safe = np.where(above, hz, _SLANEY_BREAK_HZ)
    return np.where(
        above, _SLANEY_BREAK_MEL + np.log(safe / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP, linear
    )


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = mel * _SLANEY_HZ_PER_MEL
    log = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (mel - _SLANEY_BREAK_MEL))
    return np.where(mel >= _SLANEY_BREAK_MEL, log, linear)


def mel_filterbank(
    sample_rate: float, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> npt.NDArray[np.float64]:
    """(n_mels, 1 + n_fft // 2) triangular filters equal to librosa.filters.mel's defaults.

    Each triangle has unit area in Hz (Slaney normalisation), so a row summed and multiplied by
    the bin spacing sample_rate / n_fft is about 1 when the filter spans several bins.
    """
    top = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    mel_low, mel_high = _hz_to_mel(np.array([fmin, top], dtype=np.float64))
    edges = _mel_to_hz(np.linspace(mel_low, mel_high, n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def _batch(signal: torch.Tensor) -> torch.Tensor:
    """(batch, 1, time) or (batch, time) → (batch, time)."""
    if signal.ndim == 3 and signal.shape[1] == 1:
        return signal[:, 0]
    if signal.ndim == 2:
        return signal
    raise ValueError(f"expected (batch, 1, time) or (batch, time), got {tuple(signal.shape)}")


class _MultiScaleSpectralLoss(torch.nn.Module):
    """DAC's per-scale log/magnitude L1 on STFT-derived spectra, summed over scales.

    Windows (and, in the mel loss, filterbanks) are cached per device and dtype rather than
    registered as buffers, so the loss never enters a model's state dict.
    """

    def __init__(
        self,
        window_lengths: Sequence[int],
        hop_divisor: int,
        clamp_eps: float,
        pow: float,
        log_weight: float,
        mag_weight: float,
    ) -> None:
        super().__init__()
        self.window_lengths = tuple(window_lengths)
        self.hop_divisor = hop_divisor
        self.clamp_eps = clamp_eps
        self.pow = pow
        self.log_weight = log_weight
        self.mag_weight = mag_weight
        self._windows: dict[_CacheKey, torch.Tensor] = {}

    @property
    def min_length(self) -> int:
        """Shortest input: reflect padding by window // 2 needs more samples than that."""
        return max(self.window_lengths) // 2 + 1

    def _spectrum(self, magnitude: torch.Tensor, scale: int) -> torch.Tensor:
        """What the distance compares at one scale; the plain magnitude here."""
        return magnitude

    def _magnitude(self, signal: torch.Tensor, scale: int) -> torch.Tensor:
        length = self.window_lengths[scale]
        key = (length, signal.device, signal.dtype)
        if key not in self._windows:
            self._windows[key] = torch.hann_window(
                length, periodic=True, device=signal.device, dtype=signal.dtype
            )
        stft = torch.stft(
            signal,
            n_fft=length,
            hop_length=length // self.hop_divisor,
            window=self._windows[key],
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        if stft.requires_grad:  # training: abs() has a defined gradient at zero magnitude
            return stft.abs()
        # Metrics: the same magnitude 5x faster than abs() on CPU (equal to float32 rounding).
        return stft.real.square().addcmul_(stft.imag, stft.imag).sqrt_()

    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-item L1 of clamped log10 powers plus (if weighted) L1 of the raw values."""
        dims = tuple(range(1, a.ndim))
        log_a = a.clamp(min=self.clamp_eps).pow(self.pow).log10()
        log_b = b.clamp(min=self.clamp_eps).pow(self.pow).log10()
        loss = self.log_weight * (log_a - log_b).abs().mean(dim=dims)
        if self.mag_weight:
            loss = loss + self.mag_weight * (a - b).abs().mean(dim=dims)
        return loss

    def per_item(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of each batch item, shape (batch,); their mean is ``forward``."""
        xb, yb = _batch(x), _batch(y)
        if xb.shape != yb.shape:
            raise ValueError(f"shape mismatch: {tuple(x.shape)} vs {tuple(y.shape)}")
        if xb.shape[-1] < self.min_length:
            raise ValueError(f"signals need at least {self.min_length} samples, got {xb.shape[-1]}")
        both = torch.cat([xb, yb])
        total = both.new_zeros(xb.shape[0])
        for scale in range(len(self.window_lengths)):
            spec = self._spectrum(self._magnitude(both, scale), scale)
            total = total + self._distance(spec[: xb.shape[0]], spec[xb.shape[0] :])
        return total

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scalar loss between estimate x and reference y (symmetric)."""
        return self.per_item(x, y).mean()

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Per-channel loss of 1-D or (channels, samples) numpy signals, in float32, no autograd."""
        xt = torch.as_tensor(np.atleast_2d(np.asarray(x, dtype=np.float32)))
        yt = torch.as_tensor(np.atleast_2d(np.asarray(y, dtype=np.float32)))
        with torch.no_grad():
            return self.per_item(xt, yt).double().numpy()


class MultiScaleMelLoss(_MultiScaleSpectralLoss):
    """DAC's multi-scale mel loss; differentiable, for training and as a fidelity metric."""

    def __init__(self, sample_rate: float, config: MelLossConfig = DAC_MEL_CONFIG) -> None:
        super().__init__(
            config.window_lengths,
            config.hop_divisor,
            config.clamp_eps,
            config.pow,
            config.log_weight,
            config.mag_weight,
        )
        self.sample_rate = float(sample_rate)
        self.config = config
        self._banks = [
            mel_filterbank(self.sample_rate, length, n_mels, config.fmin, config.fmax)
            for length, n_mels in zip(config.window_lengths, config.n_mels, strict=True)
        ]
        self._bank_cache: dict[_CacheKey, torch.Tensor] = {}

    def _spectrum(self, magnitude: torch.Tensor, scale: int) -> torch.Tensor:
        key = (scale, magnitude.device, magnitude.dtype)
        if key not in self._bank_cache:
            self._bank_cache[key] = torch.as_tensor(
                self._banks[scale], device=magnitude.device, dtype=magnitude.dtype
            )
        return self._bank_cache[key] @ magnitude


class MultiScaleSTFTLoss(_MultiScaleSpectralLoss):
    """DAC's multi-scale STFT loss (log10 of clamped |STFT|² plus |STFT|, L1, summed)."""

    def __init__(self, window_lengths: Sequence[int] = (2048, 512)) -> None:
        super().__init__(
            window_lengths, hop_divisor=4, clamp_eps=1e-5, pow=2.0, log_weight=1.0, mag_weight=1.0
        )


def mel_loss(
    x: npt.ArrayLike, y: npt.ArrayLike, sample_rate: float, config: MelLossConfig = DAC_MEL_CONFIG
) -> float:
    """Mel loss of 1-D or (channels, samples) numpy signals, averaged over channels."""
    return float(MultiScaleMelLoss(sample_rate, config).evaluate(x, y).mean())
