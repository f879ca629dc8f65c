"""DAC's generator loss recipe, weighted for EEG without a discriminator by default.

Without adversarial terms a codec trained on mel loss alone reproduces spectra but not
waveforms; the waveform L1 term keeps the phase, which PRD and correlation measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

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
    commitment: float = 0.25
    codebook: float = 1.0
    adversarial: float = 1.0
    feature_matching: float = 2.0


STFT_WINDOWS = (2048, 512, 128)
"""Window lengths of the STFT loss at EEG rates (DAC's 2048/512 plus a short one)."""


def relative_l1(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Waveform L1 of each crop relative to the crop's own mean absolute deviation.

    Crops are in the ±200 µV domain, so a 10 µV-RMS rest EEG would otherwise weigh a tenth
    of an artefact-laden crop and the model would not learn it.
    """
    spread = (x - x.mean(dim=-1, keepdim=True)).abs().mean(dim=-1)
    return ((y - x).abs().mean(dim=-1) / (spread + 1e-3)).mean()


class CodecLoss(nn.Module):
    def __init__(self, sample_rate: int, weights: LossWeights = LossWeights()) -> None:
        super().__init__()
        self.weights = weights
        self.mel = MultiScaleMelLoss(sample_rate)
        self.stft = MultiScaleSTFTLoss(window_lengths=list(STFT_WINDOWS))

    def forward(self, x: torch.Tensor, out: dict) -> dict[str, torch.Tensor]:
        weights = self.weights
        y = out["audio"]
        terms = {"waveform": relative_l1(y, x)}
        if weights.mel:
            terms["mel"] = self.mel(y, x)
        if weights.stft:
            terms["stft"] = self.stft(y, x)
        if weights.commitment or weights.codebook:
            terms["commitment"] = out["vq/commitment_loss"]
            terms["codebook"] = out["vq/codebook_loss"]
        terms["total"] = sum(getattr(weights, k) * v for k, v in terms.items())
        return terms
