"""Factorised residual vector quantiser (DAC's RVQ).

Each stage projects the residual to a low-dimensional space (codebook_dim), finds the nearest
L2-normalised code, and projects back. Straight-through gradients; commitment and codebook
losses; quantiser dropout so that every prefix of the codebooks decodes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from eegzip.codec.layers import WNConv1d


class VectorQuantize(nn.Module):
    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.in_proj = WNConv1d(input_dim, codebook_dim, kernel_size=1)
        self.out_proj = WNConv1d(codebook_dim, input_dim, kernel_size=1)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def forward(
        self, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (z_q, commitment_loss, codebook_loss, indices, z_e)."""
        z_e = self.in_proj(z)
        z_q, indices = self.nearest(z_e)
        commitment_loss = F.mse_loss(z_e, z_q.detach(), reduction="none").mean([1, 2])
        codebook_loss = F.mse_loss(z_q, z_e.detach(), reduction="none").mean([1, 2])
        z_q = z_e + (z_q - z_e).detach()
        return self.out_proj(z_q), commitment_loss, codebook_loss, indices, z_e

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors for (B, T) indices, as (B, codebook_dim, T)."""
        return F.embedding(indices, self.codebook.weight).transpose(1, 2)

    def nearest(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest code by cosine similarity (DAC's arithmetic, so codes match bit for bit)."""
        batch, dim, frames = latents.shape
        encodings = F.normalize(latents.transpose(1, 2).reshape(batch * frames, dim))
        codebook = F.normalize(self.codebook.weight)
        dist = (
            encodings.pow(2).sum(1, keepdim=True)
            - 2 * encodings @ codebook.t()
            + codebook.pow(2).sum(1, keepdim=True).t()
        )
        indices = (-dist).max(1)[1].reshape(batch, frames)
        return self.lookup(indices), indices


class ResidualVectorQuantize(nn.Module):
    def __init__(
        self,
        input_dim: int = 512,
        n_codebooks: int = 9,
        codebook_size: int = 1024,
        codebook_dim: int | list[int] = 8,
        quantizer_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        dims = [codebook_dim] * n_codebooks if isinstance(codebook_dim, int) else codebook_dim
        self.n_codebooks = n_codebooks
        self.codebook_dim = dims
        self.codebook_size = codebook_size
        self.quantizers = nn.ModuleList(
            VectorQuantize(input_dim, codebook_size, dims[i]) for i in range(n_codebooks)
        )
        self.quantizer_dropout = float(quantizer_dropout)

    def _codebooks_per_item(self, batch: int, n_quantizers: int | None, device) -> torch.Tensor:
        """How many codebooks each batch item uses; random prefixes in training (dropout)."""
        if not self.training:
            n = self.n_codebooks if n_quantizers is None else n_quantizers
            return torch.full((batch,), n, device=device)
        counts = torch.full((batch,), self.n_codebooks + 1)
        n_dropout = int(batch * self.quantizer_dropout)
        counts[:n_dropout] = torch.randint(1, self.n_codebooks + 1, (batch,))[:n_dropout]
        return counts.to(device)

    def forward(self, z: torch.Tensor, n_quantizers: int | None = None):
        """Returns (z_q, codes (B, N, T), latents (B, N*D, T), commitment_loss, codebook_loss)."""
        counts = self._codebooks_per_item(z.shape[0], n_quantizers, z.device)
        z_q: torch.Tensor | float = 0.0
        residual = z
        commitment_loss: torch.Tensor | float = 0.0
        codebook_loss: torch.Tensor | float = 0.0
        codes, latents = [], []
        for i, quantizer in enumerate(self.quantizers):
            if not self.training and i >= counts[0]:
                break
            z_q_i, commit_i, book_i, indices_i, z_e_i = quantizer(residual)
            mask = torch.full((z.shape[0],), i, device=z.device) < counts
            z_q = z_q + z_q_i * mask[:, None, None]
            residual = residual - z_q_i
            commitment_loss = commitment_loss + (commit_i * mask).mean()
            codebook_loss = codebook_loss + (book_i * mask).mean()
            codes.append(indices_i)
            latents.append(z_e_i)
        return (
            z_q,
            torch.stack(codes, dim=1),
            torch.cat(latents, dim=1),
            commitment_loss,
            codebook_loss,
        )

    def from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Latent (B, input_dim, T) from codes (B, n, T); n may be fewer than n_codebooks."""
        z_q: torch.Tensor | float = 0.0
        for i in range(codes.shape[1]):
            z_q = z_q + self.quantizers[i].out_proj(self.quantizers[i].lookup(codes[:, i, :]))
        return z_q
