"""Mapping between physical EEG (µV) and the codec's [-1, 1] domain.

The paper maps ±200 µV onto ±1. Real recordings carry DC offsets of thousands of µV and
artefacts far beyond ±200 µV, so each channel of each block gets its own offset (the median)
and a scale that is 200 µV unless the block's peak needs more: nothing is ever clipped.
"""

from __future__ import annotations

import numpy as np

REFERENCE_UV = 200.0
"""Physical amplitude that maps onto 1.0 in the codec domain (the paper's choice)."""

HEADROOM = 0.95
"""Peak level in the codec domain: the decoder ends in tanh, so ±1 itself is unreachable."""


def block_scaling(x_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (offset, scale) in µV for x of shape (channels, samples), float32."""
    x = np.atleast_2d(np.asarray(x_uv, dtype=np.float64))
    offset = np.median(x, axis=1)
    peak = np.max(np.abs(x - offset[:, None]), axis=1) if x.shape[1] else np.zeros(len(x))
    scale = np.maximum(REFERENCE_UV, peak / HEADROOM)
    # Stored as float32 in the container; round here so encoder and decoder agree exactly.
    return offset.astype(np.float32), scale.astype(np.float32)


def to_model_domain(x_uv: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return ((np.atleast_2d(x_uv) - offset[:, None].astype(np.float64)) / scale[:, None]).astype(
        np.float32
    )
