"""Building blocks of the DAC generator: Snake activation and weight-normed convolutions.

Parameter names (``weight_g``, ``weight_v``, ``alpha``) match the official DAC checkpoints,
so their state dicts load without renaming.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def snake(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Snake activation: x + sin²(αx)/α, periodic inductive bias suited to oscillations."""
    if torch.is_grad_enabled():
        return x + (alpha + 1e-9).reciprocal() * torch.sin(alpha * x).pow(2)
    # Inference: the same operations in place, bit-identical, without temporaries.
    y = torch.mul(alpha, x).sin_()
    return y.mul_(y).mul_((alpha + 1e-9).reciprocal()).add_(x)


class Snake1d(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return snake(x, self.alpha)


class _WeightNorm:
    """Weight norm over all dims but 0, stored as (g, v) like ``torch.nn.utils.weight_norm``.

    ``fold()`` caches the effective weight for inference, saving the norm on every call.
    """

    weight_g: nn.Parameter
    weight_v: nn.Parameter
    _folded: torch.Tensor | None

    def _init_weight_norm(self, weight: torch.Tensor) -> None:
        self.weight_v = nn.Parameter(weight.detach().clone())
        self.weight_g = nn.Parameter(torch.norm_except_dim(weight.detach(), 2, 0))
        self._folded = None

    def effective_weight(self) -> torch.Tensor:
        if self._folded is not None:
            return self._folded
        return torch._weight_norm(self.weight_v, self.weight_g, 0)

    def fold(self) -> None:
        with torch.no_grad():
            self._folded = torch._weight_norm(self.weight_v, self.weight_g, 0).detach()


class WNConv1d(nn.Conv1d, _WeightNorm):
    """``nn.Conv1d`` with weight normalisation (DAC's WNConv1d)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        weight = self.weight
        del self.weight
        self._init_weight_norm(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.effective_weight(), self.bias)


class WNConvTranspose1d(nn.ConvTranspose1d, _WeightNorm):
    """``nn.ConvTranspose1d`` with weight normalisation (DAC's WNConvTranspose1d)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        weight = self.weight
        del self.weight
        self._init_weight_norm(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(
            x,
            self.effective_weight(),
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


def fold_weight_norm(module: nn.Module) -> None:
    """Cache effective weights of every weight-normed conv (inference only)."""
    for m in module.modules():
        if isinstance(m, _WeightNorm):
            m.fold()
