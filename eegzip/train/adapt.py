"""Derive a smaller or re-rated model from trained weights: the paper's trade-off studies.

Figure 4 compares pruning codebooks at inference with a model trained on fewer codebooks;
Figure 5 halves the vocabulary (1024 → 512) by pruning, with and without fine-tuning, and
changes the input rate. Each starts from a trained model, so each is a function of one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from eegzip.codec.dac import DAC


@dataclass(frozen=True)
class ModelChanges:
    """What to change in an initial model before training; None keeps its value."""

    n_codebooks: int | None = None
    codebook_size: int | None = None
    sample_rate: int | None = None

    def any(self) -> bool:
        return any(v is not None for v in (self.n_codebooks, self.codebook_size, self.sample_rate))


def keep_codebooks(model: DAC, n: int) -> DAC:
    """The model with only its first ``n`` residual codebooks (the rest are dropped)."""
    if not 1 <= n <= model.n_codebooks:
        raise ValueError(f"cannot keep {n} of {model.n_codebooks} codebooks")
    smaller = DAC(replace(model.config, n_codebooks=n))
    state = {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith("quantizer.quantizers.") or int(k.split(".")[2]) < n
    }
    smaller.load_state_dict(state, strict=True)
    return smaller


@torch.no_grad()
def code_usage(model: DAC, crops: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """(n_codebooks, codebook_size) counts of each code over ``crops`` (N, 1, T)."""
    usage = torch.zeros(model.n_codebooks, model.codebook_size, dtype=torch.long)
    was_training = model.training
    model.eval()
    for i in range(0, len(crops), batch):
        codes = model.encode_codes(crops[i : i + batch])
        for k in range(model.n_codebooks):
            usage[k] += torch.bincount(codes[:, k].flatten().cpu(), minlength=model.codebook_size)
    model.train(was_training)
    return usage


def prune_vocabulary(model: DAC, size: int, usage: torch.Tensor) -> DAC:
    """The model with, per codebook, only its ``size`` most used entries (by ``usage``)."""
    if not 1 <= size <= model.codebook_size:
        raise ValueError(f"cannot keep {size} of {model.codebook_size} codebook entries")
    smaller = DAC(replace(model.config, codebook_size=size))
    state = model.state_dict()
    for k in range(model.n_codebooks):
        key = f"quantizer.quantizers.{k}.codebook.weight"
        keep = torch.argsort(usage[k], descending=True, stable=True)[:size].sort().values
        state[key] = state[key][keep]
    smaller.load_state_dict(state, strict=True)
    return smaller


def with_sample_rate(model: DAC, rate: int) -> DAC:
    """Same weights, declared at another input rate (EEG is resampled to it)."""
    model.config = replace(model.config, sample_rate=rate)
    return model
