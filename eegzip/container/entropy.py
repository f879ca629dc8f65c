"""Range coding of integer prediction errors: the entropy layer of a RESP block (spec §5.10).

Why this shape: each error is zigzag-mapped and split into a token (its bit length and the two
bits after the leading one, Laplace-like and worth modelling) and raw low bits (close to
uniform, stored as they are). The token model is picked by a scale context per partition of
each channel that the encoder stores, so every model is known before decoding and whole
batches go through constriction's range coder at once. Each context's model is learned from
the tokens already coded in it, refreshed in doubling chunks. Models are integer frequency
tables (no floating point), so a second implementation reproduces the bytes.
"""

from __future__ import annotations

import struct
from functools import cache

import constriction
import numpy as np

from .format import (
    RANGE_PRECISION,
    RESP_CONTEXTS,
    RESP_COUNT_WEIGHT,
    RESP_DIRECT_TOKENS,
    RESP_FIRST_CHUNK,
    RESP_PRIOR_WIDTH,
    RESP_TOKENS,
)

_WORDS = struct.Struct("<I")
# What constriction raises when asked to decode a stream that no encoder wrote.
CODER_ERRORS = (RuntimeError, ValueError, AssertionError)


def zigzag(e: np.ndarray) -> np.ndarray:
    """int64 → uint64 (0, -1, 1, -2, … → 0, 1, 2, 3, …), a bijection on all of int64."""
    e = e.astype(np.int64, copy=False)
    u = e << 1
    u ^= e >> 63
    return u.view(np.uint64)


def unzigzag(u: np.ndarray) -> np.ndarray:
    return (u >> np.uint64(1)).astype(np.int64) ^ -(u & np.uint64(1)).astype(np.int64)


def tokenize(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(token, number of raw bits, raw bits) of each value.

    Below RESP_DIRECT_TOKENS the token is the value; above, 16 + 4·(n − 4) + the two bits after
    the leading one, where n + 1 is the bit length, and the n − 2 lower bits are raw.
    """
    from . import kernels  # numba: imported only where values are coded (not by --help, info)

    return kernels.tokenize(np.ascontiguousarray(u, np.uint64).reshape(-1), RESP_DIRECT_TOKENS)


def detokenize(token: np.ndarray, data: bytes) -> np.ndarray:
    """The values from their tokens and the raw bits (``data``, exactly as _pack_raw wrote)."""
    from . import kernels

    packed = np.frombuffer(data, np.uint8)
    u, total = kernels.detokenize(np.ascontiguousarray(token, np.int64), packed, RESP_DIRECT_TOKENS)
    if u.size != token.size:
        raise ValueError(f"raw bits take {len(data)} bytes of which all past bit {total} must be "
                         "zero padding")  # fmt: skip
    return u


def contexts_for(u: np.ndarray, partition: int) -> np.ndarray:
    """The encoder's context per partition of each row: about 2·log2 of the mean value."""
    n_rows, n = u.shape
    parts = -(-n // partition)
    padded = np.zeros((n_rows, parts * partition))
    padded[:, :n] = u.astype(np.float64)
    sizes = np.minimum(partition, n - np.arange(parts) * partition)
    mean = padded.reshape(n_rows, parts, partition).sum(2) / sizes
    return np.clip(np.floor(2 * np.log2(mean + 1)), 0, RESP_CONTEXTS - 1).astype(np.int64)


@cache
def context_center(z: int) -> int:
    """The token the prior of context ``z`` peaks at: that of about 2**(z/2)."""
    value = ((2 + (z & 1)) << (z >> 1)) >> 1
    return int(tokenize(np.array([value], np.uint64))[0][0])


def _prior(center: int, size: int, wrap: bool) -> np.ndarray:
    index = np.arange(size)
    distance = np.abs(index - center)
    if wrap:
        distance = np.minimum(distance, size - distance)
    return np.maximum(0, RESP_PRIOR_WIDTH - distance).astype(np.int64)


def model_weights(prior: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Integer weights w summing to 2**PRECISION − size; symbol i has probability (w_i + 1)/2**P.

    constriction's fast categorical quantisation gives exactly these probabilities when the
    weights are integers with this sum (spec §5.10).
    """
    base = prior + RESP_COUNT_WEIGHT * counts
    total = (1 << RANGE_PRECISION) - base.size
    weights = base * total // base.sum()
    weights[int(np.argmax(base))] += total - weights.sum()
    return weights


def _chunks(n: int) -> list[tuple[int, int]]:
    """[0, 16), [16, 32), [32, 64), …: each model is refreshed once the coded count doubles."""
    bounds, edge = [0], RESP_FIRST_CHUNK
    while bounds[-1] < n:
        bounds.append(min(n, edge))
        edge *= 2
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _categorical(weights: np.ndarray):
    return constriction.stream.model.Categorical(weights.astype(np.float64), perfect=False)


def pack_words(encoder) -> bytes:
    """A range coder's output as stored: u32 word count, then the words, little-endian."""
    words = encoder.get_compressed().astype("<u4").tobytes()
    return _WORDS.pack(len(words) // 4) + words


def unpack_words(data: bytes) -> tuple[np.ndarray, int]:
    """Inverse of pack_words at the start of ``data``: (words, offset just after them)."""
    if len(data) < _WORDS.size:
        raise ValueError("entropy-coded data is shorter than its word count")
    (n_words,) = _WORDS.unpack_from(data)
    end = _WORDS.size + 4 * n_words
    if len(data) < end:
        raise ValueError(f"range-coded stream of {n_words} words is cut short")
    return np.frombuffer(data, "<u4", n_words, _WORDS.size).astype(np.uint32), end


def _encode_adaptive(encoder, symbols: np.ndarray, prior: np.ndarray) -> None:
    counts = np.zeros(prior.size, np.int64)
    for lo, hi in _chunks(symbols.size):
        encoder.encode(symbols[lo:hi].astype(np.int32), _categorical(model_weights(prior, counts)))
        counts += np.bincount(symbols[lo:hi], minlength=prior.size)


def _decode_adaptive(decoder, n: int, prior: np.ndarray) -> np.ndarray:
    counts = np.zeros(prior.size, np.int64)
    out = np.empty(n, np.int64)
    for lo, hi in _chunks(n):
        chunk = decoder.decode(_categorical(model_weights(prior, counts)), hi - lo)
        out[lo:hi] = chunk
        counts += np.bincount(chunk, minlength=prior.size)
    return out


def _context_deltas(z: np.ndarray) -> np.ndarray:
    previous = np.concatenate([np.zeros((z.shape[0], 1), np.int64), z[:, :-1]], axis=1)
    return ((z - previous) % RESP_CONTEXTS).reshape(-1)


def _positions_by_context(
    z: np.ndarray, partition: int, n_samples: int
) -> list[tuple[int, np.ndarray]]:
    """Each context that occurs, in increasing order, with the flat positions (channel-major,
    increasing) of the samples coded in it: the order in which its tokens are coded."""
    flat = np.repeat(z.astype(np.uint8), partition, axis=1)[:, :n_samples].reshape(-1)
    order = np.argsort(flat, kind="stable")  # a radix sort, for uint8
    ends = np.cumsum(np.bincount(flat, minlength=RESP_CONTEXTS))
    starts = np.concatenate([[0], ends[:-1]])
    return [(c, order[a:b]) for c, (a, b) in enumerate(zip(starts, ends, strict=True)) if b > a]


def encode_errors(errors: np.ndarray, partition: int) -> bytes:
    """Range-coded contexts and tokens, then the raw bits, of (channels, samples) int64 errors."""
    u = zigzag(errors)
    z = contexts_for(u, partition)
    token, n_raw, raw = tokenize(u.reshape(-1))
    encoder = constriction.stream.queue.RangeEncoder()
    _encode_adaptive(encoder, _context_deltas(z), _prior(0, RESP_CONTEXTS, wrap=True))
    for context, where in _positions_by_context(z, partition, u.shape[1]):
        prior = _prior(context_center(context), RESP_TOKENS, wrap=False)
        _encode_adaptive(encoder, token[where], prior)
    return pack_words(encoder) + _pack_raw(raw, n_raw)


def decode_errors(data: bytes, n_channels: int, n_samples: int, partition: int) -> np.ndarray:
    """Inverse of encode_errors; ValueError for any stream that is not exactly one encoding."""
    words, end = unpack_words(data)
    parts = -(-n_samples // partition)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        deltas = _decode_adaptive(
            decoder, n_channels * parts, _prior(0, RESP_CONTEXTS, wrap=True)
        ).reshape(n_channels, parts)
        z = np.cumsum(deltas, axis=1) % RESP_CONTEXTS
        token = np.empty(n_channels * n_samples, np.int64)
        for context, where in _positions_by_context(z, partition, n_samples):
            prior = _prior(context_center(context), RESP_TOKENS, wrap=False)
            token[where] = _decode_adaptive(decoder, where.size, prior)
    except CODER_ERRORS as exc:
        raise ValueError(f"bad range-coded stream: {exc}") from None
    return unzigzag(detokenize(token, data[end:])).reshape(n_channels, n_samples)


def _pack_raw(raw: np.ndarray, n_raw: np.ndarray) -> bytes:
    """Each value's n_raw low bits, most significant first, concatenated and zero-padded."""
    from . import kernels

    return kernels.pack_bits(raw, n_raw).tobytes()
