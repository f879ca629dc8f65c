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
    mel: float = 15.0
    stft: float = 1.0
    waveform: float = 100.0
    commitment: float = 0.25
    codebook: float = 1.0


STFT_WINDOWS = (2048, 512, 128)
"""Window lengths of the STFT loss at EEG rates (DAC's 2048/512 plus a short one)."""


class CodecLoss(nn.Module):
    def __init__(self, sample_rate: int, weights: LossWeights = LossWeights()) -> None:
        super().__init__()
        self.weights = weights
        self.mel = MultiScaleMelLoss(sample_rate)
        self.stft = MultiScaleSTFTLoss(window_lengths=list(STFT_WINDOWS))

    def forward(self, x: torch.Tensor, out: dict) -> dict[str, torch.Tensor]:
        y = out["audio"]
        terms = {
            "mel": self.mel(y, x),
            "stft": self.stft(y, x),
            "waveform": (y - x).abs().mean(),
            "commitment": out["vq/commitment_loss"],
            "codebook": out["vq/codebook_loss"],
        }
        terms["total"] = sum(getattr(self.weights, k) * v for k, v in terms.items())
        return terms
