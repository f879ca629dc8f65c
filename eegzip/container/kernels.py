"""Compiled per-sample loops (numba): the residual layer's prediction recursion, run by the
encoder and the decoder, the entropy layer's bit-level work, and the spectral codec's
quantiser, which its step search runs several times per block.

Why: these loops run once per sample and cannot be vectorised across time (each prediction
needs the sample before it), so in numpy they took most of a lossless decode and of the
compressor's self-check. All arithmetic here is on int64/uint64, exactly as the spec states
it (§5.10), so the compiled code computes the same integers as any other implementation.
Compiled once per machine and cached on disk (numba ``cache=True``: beside the module, or in
the user's cache folder where the install is read-only).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _compiled(function):
    """The function compiled with an on-disk cache, or, where no cache folder can be written
    (a read-only install and home, numba's RuntimeError), compiled anew in each process."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:
        return njit(nogil=True)(function)


@_compiled
def channel_recursion(
    series: np.ndarray,
    encode: bool,
    known: np.ndarray,
    decoded: np.ndarray,
    step: int,
    spans: np.ndarray,
    taps: np.ndarray,
    orders: np.ndarray,
    shifts: np.ndarray,
    gains: np.ndarray,
) -> np.ndarray:
    """The spec's prediction of one channel, run forwards: from the quantised residuals k to
    the prediction errors (``encode``), or back from the errors to k.

    One function both ways, so that the encoder's errors are by construction what the decoder
    inverts. ``known`` holds, per sample, the terms that need no decoded sample of this
    channel plus the rounding half; segment j spans ``spans[j]`` with ``taps[j, :orders[j]]``
    = a_1..a_p, shift ``shifts[j]`` and gain g = ``gains[j]`` (0 without codec terms).
    v[t] = y[t] − y[t−1] is 0 before the block, and y[−1] = decoded[0].
    """
    n = series.size
    v = np.zeros(n, np.int64)
    out = np.empty(n, np.int64)
    y_prev = decoded[0]
    k_prev = np.int64(0)
    half_step = (step - 1) // 2
    for j in range(spans.shape[0]):
        order, shift, gain = orders[j], shifts[j], gains[j]
        for t in range(spans[j, 0], spans[j, 1]):
            acc = known[t] + gain * k_prev
            for i in range(1, min(order, t) + 1):
                acc += taps[j, i - 1] * v[t - i]
            acc >>= shift
            if step == 1:  # k̂ = guess − d needs no division
                if encode:
                    y = decoded[t] + series[t]
                    out[t] = y - y_prev - acc
                else:
                    y = y_prev + acc + series[t]
                    out[t] = y - decoded[t]
                k_prev = y - decoded[t]
            else:
                k_hat = (acc + y_prev + half_step - decoded[t]) // step
                k_prev = series[t] if encode else series[t] + k_hat
                out[t] = series[t] - k_hat if encode else k_prev
                y = decoded[t] + step * k_prev
            v[t] = y - y_prev
            y_prev = y
    return out


@_compiled
def tokenize(u: np.ndarray, direct_tokens: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(token, number of raw bits, raw bits) of each zigzag-mapped error u (spec §5.10).

    Below ``direct_tokens`` the token is u; above, direct + 4·(n − 4) + the two bits after the
    leading one, where n + 1 is u's bit length, and the n − 2 lower bits are raw.
    """
    direct = np.uint64(direct_tokens)
    token = np.empty(u.size, np.int64)
    n_raw = np.zeros(u.size, np.int64)
    raw = np.zeros(u.size, np.uint64)
    for i in range(u.size):
        value = u[i]
        if value < direct:
            token[i] = np.int64(value)
            continue
        n = 0  # the leading one's position (a shift by 64 would be undefined)
        while n < 63 and (value >> np.uint64(n + 1)) != np.uint64(0):
            n += 1
        low = np.uint64(n - 2)
        token[i] = direct_tokens + 4 * (n - 4) + np.int64((value >> low) & np.uint64(3))
        n_raw[i] = n - 2
        raw[i] = value & ((np.uint64(1) << low) - np.uint64(1))
    return token, n_raw, raw


@_compiled
def pack_bits(raw: np.ndarray, n_raw: np.ndarray) -> np.ndarray:
    """Each value's n_raw low bits, most significant first, concatenated, zero-padded to bytes."""
    out = np.zeros((n_raw.sum() + 7) // 8, np.uint8)
    at = 0
    for i in range(raw.size):
        for b in range(n_raw[i] - 1, -1, -1):
            if (raw[i] >> np.uint64(b)) & np.uint64(1):
                out[at >> 3] |= np.uint8(0x80 >> (at & 7))
            at += 1
    return out


@_compiled
def detokenize(token: np.ndarray, packed: np.ndarray, direct_tokens: int) -> tuple[np.ndarray, int]:
    """Inverse of tokenize and pack_bits: the values u, and the number of raw bits that the
    tokens call for; u is empty when ``packed`` is not exactly that many bits, zero-padded to
    a byte (the caller then rejects the stream)."""
    total = 0
    for i in range(token.size):
        if token[i] >= direct_tokens:
            total += (token[i] - direct_tokens) // 4 + 2
    if packed.size != (total + 7) // 8 or (total % 8 and packed[-1] & (0xFF >> (total % 8))):
        return np.zeros(0, np.uint64), total
    u = np.empty(token.size, np.uint64)
    at = 0
    for i in range(token.size):
        if token[i] < direct_tokens:
            u[i] = np.uint64(token[i])
            continue
        n_raw = (token[i] - direct_tokens) // 4 + 2
        value = np.uint64(4 + (token[i] - direct_tokens) % 4)
        for _ in range(n_raw):
            bit = (packed[at >> 3] >> (7 - (at & 7))) & 1
            value = (value << np.uint64(1)) | np.uint64(bit)
            at += 1
        u[i] = value
    return u, total


@_compiled
def dead_zone_quantise(coefficients: np.ndarray, step: float, dead_zone: float) -> np.ndarray:
    """sign(c) · floor(|c| / step + dead_zone) of each coefficient, as int64, in one pass (the
    same float operations in the same order as numpy's, so the same integers)."""
    flat = coefficients.reshape(-1)
    out = np.empty(flat.size, np.int64)
    for i in range(flat.size):
        q = np.int64(np.floor(np.abs(flat[i]) / step + dead_zone))
        out[i] = -q if flat[i] < 0 else q
    return out.reshape(coefficients.shape)
