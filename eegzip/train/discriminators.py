"""DAC's discriminators, optional in ``eegzip train --gan``: multi-period and multi-band STFT.

On EEG at 256 Hz the STFT windows are shorter than DAC's audio ones and the channel widths are
smaller, so that adversarial training stays affordable on a CPU. Losses are DAC's
least-squares GAN terms plus feature matching.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

BANDS = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))
"""Frequency bands (fractions of Nyquist) each judged by its own convolution stack, as DAC."""


def _conv2d(*args, **kwargs) -> nn.Module:
    return weight_norm(nn.Conv2d(*args, **kwargs))


class PeriodDiscriminator(nn.Module):
    """Judges the signal folded into rows of ``period`` samples (periodic structure)."""

    def __init__(self, period: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.period = period
        dims = (1, *widths)
        self.convs = nn.ModuleList(
            _conv2d(a, b, (5, 1), (3, 1), padding=(2, 0))
            for a, b in zip(dims, dims[1:], strict=False)
        )
        self.out = _conv2d(dims[-1], 1, (3, 1), padding=(1, 0))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pad = (-x.shape[-1]) % self.period
        x = F.pad(x, (0, pad), mode="reflect")
        x = x.reshape(x.shape[0], 1, -1, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        features.append(self.out(x))
        return features


class BandSTFTDiscriminator(nn.Module):
    """Judges the complex STFT, each frequency band by its own stack (DAC's MRD)."""

    def __init__(self, window: int, width: int) -> None:
        super().__init__()
        self.window = window
        bins = window // 2 + 1
        self.bands = [(int(lo * bins), int(hi * bins)) for lo, hi in BANDS]

        def stack() -> nn.ModuleList:
            return nn.ModuleList(
                [
                    _conv2d(2, width, (3, 9), padding=(1, 4)),
                    _conv2d(width, width, (3, 9), (1, 2), padding=(1, 4)),
                    _conv2d(width, width, (3, 9), (1, 2), padding=(1, 4)),
                    _conv2d(width, width, (3, 3), padding=(1, 1)),
                ]
            )

        self.stacks = nn.ModuleList(stack() for _ in self.bands)
        self.out = _conv2d(width, 1, (3, 3), padding=(1, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        spec = torch.stft(
            x.reshape(-1, x.shape[-1]),
            self.window,
            self.window // 4,
            window=torch.hann_window(self.window, device=x.device),
            return_complex=True,
        )
        spec = torch.view_as_real(spec).permute(0, 3, 2, 1)  # (B, 2, time, freq)
        features, outputs = [], []
        for (lo, hi), convs in zip(self.bands, self.stacks, strict=True):
            h = spec[..., lo:hi]
            for conv in convs:
                h = F.leaky_relu(conv(h), 0.1)
                features.append(h)
            outputs.append(h)
        features.append(self.out(torch.cat(outputs, dim=-1)))
        return features


class Discriminator(nn.Module):
    def __init__(
        self,
        periods: tuple[int, ...] = (2, 3, 5, 7, 11),
        windows: tuple[int, ...] = (512, 256, 128),
        period_widths: tuple[int, ...] = (16, 32, 64, 64),
        band_width: int = 16,
    ) -> None:
        super().__init__()
        self.judges = nn.ModuleList(
            [PeriodDiscriminator(p, period_widths) for p in periods]
            + [BandSTFTDiscriminator(w, band_width) for w in windows]
        )

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        return [judge(x) for judge in self.judges]


def discriminator_loss(disc: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    loss = real.new_zeros(())
    for d_fake, d_real in zip(disc(fake.detach()), disc(real), strict=True):
        loss = loss + d_fake[-1].pow(2).mean() + (1 - d_real[-1]).pow(2).mean()
    return loss


def generator_losses(
    disc: Discriminator, real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial, feature matching) terms for the generator."""
    adversarial = real.new_zeros(())
    matching = real.new_zeros(())
    for d_fake, d_real in zip(disc(fake), disc(real), strict=True):
        adversarial = adversarial + (1 - d_fake[-1]).pow(2).mean()
        for f_fake, f_real in zip(d_fake[:-1], d_real[:-1], strict=True):
            matching = matching + (f_fake - f_real.detach()).abs().mean()
    return adversarial, matching
