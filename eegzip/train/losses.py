"""DAC's generator loss recipe, weighted for EEG without a discriminator by default, and the
waveform-aware terms a codec needs to keep rhythms.

Without adversarial terms a codec trained on mel loss alone reproduces spectra but not
waveforms; the waveform L1 term keeps the phase, which PRD and correlation measure. Mel is
blind to phase, and a log-mel match at DAC's scales barely notices a missing 10 Hz line at
EEG amplitudes, so three further terms are available: relative squared error (what PRDN
measures), an L1 on the real and imaginary parts of multi-resolution STFTs (phase per
time-frequency cell) and a log band-power match per 2-s window (delta to beta, what a
clinician reads).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from eegzip.metrics.fidelity import BANDS
from eegzip.metrics.mel import MultiScaleMelLoss, MultiScaleSTFTLoss


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms; a zero weight skips computing the term.

    Measured here: the log-mel term's gradients are about 10^4 times the waveform term's at the
    start, so with DAC's mel weight of 15 the waveform never aligns (r stayed ≈ 0 for 900
    steps) while a waveform-only autoencoder reaches r ≈ 0.9 in 100 steps. Hence a small mel
    weight by default.
    """

    mel: float = 1.0
    stft: float = 0.0
    waveform: float = 10.0
    waveform_l2: float = 0.0
    complex_stft: float = 0.0
    band_power: float = 0.0
    commitment: float = 0.25
    codebook: float = 1.0
    adversarial: float = 1.0
    feature_matching: float = 2.0

    @classmethod
    def parse(cls, text: str) -> LossWeights:
        """Weights from ``RECIPE[,name=value...]`` or ``name=value,...`` (over the default).

        Raises ValueError naming what is wrong, so the CLI can say it in one line.
        """
        parts = [p.strip() for p in text.split(",") if p.strip()]
        base = LossWeights()
        if parts and "=" not in parts[0]:
            if parts[0] not in LOSS_RECIPES:
                raise ValueError(
                    f"unknown loss recipe {parts[0]!r} (known: {', '.join(LOSS_RECIPES)})"
                )
            base, parts = LOSS_RECIPES[parts[0]], parts[1:]
        names = {f.name for f in fields(cls)}
        changes = {}
        for part in parts:
            name, _, value = part.partition("=")
            name = name.strip()
            if name not in names:
                raise ValueError(f"unknown loss term {name!r} (known: {', '.join(sorted(names))})")
            try:
                changes[name] = float(value)
            except ValueError:
                raise ValueError(f"loss weight {part!r} is not name=number") from None
        return replace(base, **changes)


LOSS_RECIPES: dict[str, LossWeights] = {
    "eegzip": LossWeights(),
    "dac": LossWeights(mel=15.0, waveform=0.0),
    "waveform": LossWeights(
        mel=0.25, waveform=10.0, waveform_l2=10.0, complex_stft=5.0, band_power=1.0
    ),
}
"""Named starting points for ``--loss``: eegzip's shipped recipe (waveform L1 10, mel 1), DAC's
own (mel 15, no waveform term; add ``--gan`` for its discriminators) and the waveform-aware
recipe. Its weights balance the terms' gradient norms on the shipped model's decoder (EEGMAT
crops, per unit weight: mel 42, band power 14, squared error 2.0, complex STFT 1.9, L1 0.44),
so that the phase-aware terms together outweigh the phase-blind ones."""

STFT_WINDOWS = (2048, 512, 128)
"""Window lengths of the STFT loss at EEG rates (DAC's 2048/512 plus a short one)."""

COMPLEX_STFT_SECONDS = (2.0, 0.5, 0.125)
"""Windows of the complex STFT loss: 2 s resolves 0.5 Hz (alpha's peak), 0.125 s follows
spikes and blinks."""

BAND_POWER_SECONDS = 2.0
"""Window of the band-power term: one code frame, 0.5 Hz resolution."""

TRAINED_BANDS = ("delta", "theta", "alpha", "beta")


def _signals(x: torch.Tensor) -> torch.Tensor:
    """(batch, 1, time) → (batch, time)."""
    return x.reshape(x.shape[0], -1)


def relative_l1(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Waveform L1 of each crop relative to the crop's own mean absolute deviation.

    Crops are in the ±200 µV domain, so a 10 µV-RMS rest EEG would otherwise weigh a tenth
    of an artefact-laden crop and the model would not learn it.
    """
    spread = (x - x.mean(dim=-1, keepdim=True)).abs().mean(dim=-1)
    return ((y - x).abs().mean(dim=-1) / (spread + 1e-3)).mean()


def relative_l2(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error of each crop relative to its variance: PRDN² (as a fraction), averaged.

    Squared error spends effort on the strongest components, as a transform coder does; L1
    alone lets a model drop a steady rhythm that is small next to the crop's slow drift.
    """
    variance = (x - x.mean(dim=-1, keepdim=True)).pow(2).mean(dim=-1)
    return ((y - x).pow(2).mean(dim=-1) / (variance + 1e-6)).mean()


class _Spectrogram(nn.Module):
    """Complex STFTs (Hann, hop a quarter window) with windows cached per device and dtype."""

    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[tuple, torch.Tensor] = {}

    def stft(self, signal: torch.Tensor, length: int) -> torch.Tensor:
        key = (length, signal.device, signal.dtype)
        if key not in self._windows:
            self._windows[key] = torch.hann_window(length, device=signal.device, dtype=signal.dtype)
        return torch.stft(signal, n_fft=length, hop_length=max(1, length // 4),
                          window=self._windows[key], center=True, pad_mode="reflect",
                          return_complex=True)  # fmt: skip


class ComplexSTFTLoss(_Spectrogram):
    """L1 of the real and imaginary STFT parts at several resolutions, relative per crop.

    Unlike mel, it sees phase: a rhythm reproduced at the wrong phase costs as much as a
    missing one. Each crop's error is divided by its own mean |STFT|, as in ``relative_l1``.
    """

    def __init__(self, sample_rate: float, seconds: tuple[float, ...] = COMPLEX_STFT_SECONDS):
        super().__init__()
        self.lengths = tuple(max(8, int(round(s * sample_rate))) for s in seconds)

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        both = torch.cat([_signals(x), _signals(y)]).float()
        n = x.shape[0]
        total = both.new_zeros(())
        for length in self.lengths:
            spec = torch.view_as_real(self.stft(both, length))
            ref, est = spec[:n], spec[n:]
            scale = ref.abs().mean(dim=(1, 2, 3))
            error = (est - ref).abs().mean(dim=(1, 2, 3))
            total = total + (error / (scale + 1e-6)).mean()
        return total / len(self.lengths)


class BandPowerLoss(_Spectrogram):
    """Mean |log band power of the output − of the input| per 2-s window, delta to beta.

    Log power weighs a band's relative loss the same in quiet and loud crops, so the alpha
    rhythm of rest EEG counts as much as an artefact. A floor of 1e-3 of the crop's mean band
    power keeps near-empty bands from dominating.
    """

    def __init__(self, sample_rate: float, bands: tuple[str, ...] = TRAINED_BANDS):
        super().__init__()
        self.length = int(round(BAND_POWER_SECONDS * sample_rate))
        freqs = torch.fft.rfftfreq(self.length, 1.0 / sample_rate)
        masks = [(freqs >= BANDS[b][0]) & (freqs < BANDS[b][1]) for b in bands]
        self.register_buffer("masks", torch.stack(masks).float(), persistent=False)

    def band_powers(self, signal: torch.Tensor) -> torch.Tensor:
        """(batch, bands, windows) power in each band of each window."""
        power = self.stft(signal, self.length).abs().pow(2)
        return torch.einsum("kf,bft->bkt", self.masks.to(power.dtype), power)

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        both = self.band_powers(torch.cat([_signals(x), _signals(y)]).float())
        ref, est = both[: x.shape[0]], both[x.shape[0] :]
        floor = 1e-3 * ref.mean(dim=(1, 2), keepdim=True).detach() + 1e-12
        return (torch.log(est + floor) - torch.log(ref + floor)).abs().mean()


class CodecLoss(nn.Module):
    def __init__(self, sample_rate: int, weights: LossWeights = LossWeights()) -> None:
        super().__init__()
        self.weights = weights
        self.mel = MultiScaleMelLoss(sample_rate)
        self.stft = MultiScaleSTFTLoss(window_lengths=list(STFT_WINDOWS))
        self.complex_stft = ComplexSTFTLoss(sample_rate)
        self.band_power = BandPowerLoss(sample_rate)

    def forward(self, x: torch.Tensor, out: dict) -> dict[str, torch.Tensor]:
        weights = self.weights
        y = out["audio"]
        terms = {"waveform": relative_l1(y, x)}
        if weights.waveform_l2:
            terms["waveform_l2"] = relative_l2(y, x)
        if weights.mel:
            terms["mel"] = self.mel(y, x)
        if weights.stft:
            terms["stft"] = self.stft(y, x)
        if weights.complex_stft:
            terms["complex_stft"] = self.complex_stft(y, x)
        if weights.band_power:
            terms["band_power"] = self.band_power(y, x)
        if weights.commitment or weights.codebook:
            terms["commitment"] = out["vq/commitment_loss"]
            terms["codebook"] = out["vq/codebook_loss"]
        terms["total"] = sum(getattr(weights, k) * v for k, v in terms.items())
        return terms
