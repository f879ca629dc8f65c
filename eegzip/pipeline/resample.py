"""Rational-rate polyphase resampling between a recording's rate and the model's rate."""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def rate_ratio(source_rate: float, target_rate: float) -> tuple[int, int]:
    """(up, down) with target/source = up/down, exact for rates given as decimal fractions."""
    ratio = Fraction(str(target_rate)) / Fraction(str(source_rate))
    ratio = ratio.limit_denominator(10_000)
    return ratio.numerator, ratio.denominator


def resample(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Resample along the last axis; identity (no copy of the filter path) when up == down."""
    if up == down:
        return np.asarray(x, dtype=np.float64)
    from scipy.signal import resample_poly  # here: the ladder never resamples (0.6-0.9 s)

    return resample_poly(np.asarray(x, dtype=np.float64), up, down, axis=-1)
