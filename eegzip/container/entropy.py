"""Range coding of integer prediction errors: the entropy layer of a RESP block (spec §5.10).

Why this shape: each error is zigzag-mapped and split into a token (its bit length and the two
bits after the leading one, Laplace-like and worth modelling) and raw low bits (close to
uniform, stored as they are). The token model is picked by a scale context per partition of
each channel that the encoder stores, so every model is known before decoding. Each
context's model is learned from the tokens already coded in it, refreshed in doubling
chunks. Models are integer frequency tables (no floating point), so a second implementation
reproduces the bytes. The range coder is constriction 0.5's, compiled here (kernels.py) word
for word: through constriction, building a model per chunk cost more than the coding.
"""

from __future__ import annotations

import struct
from functools import cache

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


@cache
def context_center(z: int) -> int:
    """The token the prior of context ``z`` peaks at: that of about 2**(z/2)."""
    from . import kernels  # numba: imported only where values are coded (not by --help, info)

    value = ((2 + (z & 1)) << (z >> 1)) >> 1
    return int(kernels.token_of(np.uint64(value), RESP_DIRECT_TOKENS)[0])


def _prior(center: int, size: int, wrap: bool) -> np.ndarray:
    index = np.arange(size)
    distance = np.abs(index - center)
    if wrap:
        distance = np.minimum(distance, size - distance)
    return np.maximum(0, RESP_PRIOR_WIDTH - distance).astype(np.int64)


def pack_words(words: np.ndarray) -> bytes:
    """A range coder's output (u32 words) as stored: word count, then the words, little-endian."""
    return _WORDS.pack(words.size) + words.astype("<u4").tobytes()


def unpack_words(data: bytes) -> tuple[np.ndarray, int]:
    """Inverse of pack_words at the start of ``data``: (words, offset just after them)."""
    if len(data) < _WORDS.size:
        raise ValueError("entropy-coded data is shorter than its word count")
    (n_words,) = _WORDS.unpack_from(data)
    end = _WORDS.size + 4 * n_words
    if len(data) < end:
        raise ValueError(f"range-coded stream of {n_words} words is cut short")
    return np.frombuffer(data, "<u4", n_words, _WORDS.size).astype(np.uint32), end


def _context_deltas(z: np.ndarray) -> np.ndarray:
    """uint8, as the tokens are: the range coder is compiled for one symbol type."""
    previous = np.concatenate([np.zeros((z.shape[0], 1), np.int64), z[:, :-1]], axis=1)
    return ((z - previous) % RESP_CONTEXTS).reshape(-1).astype(np.uint8)


def _token_priors(bounds: np.ndarray):
    """Each context that has tokens, in increasing order, with where its tokens lie in the
    grouped sequence and its prior."""
    for context in np.flatnonzero(np.diff(bounds)):
        prior = _prior(context_center(int(context)), RESP_TOKENS, wrap=False)
        yield slice(bounds[context], bounds[context + 1]), prior


def encode_errors(errors: np.ndarray, partition: int) -> bytes:
    """Range-coded contexts and tokens, then the raw bits, of (channels, samples) int64 errors."""
    from . import kernels

    z, tokens, bounds, packed = kernels.error_tokens(
        errors.astype(np.int64, copy=False), partition, RESP_CONTEXTS, RESP_DIRECT_TOKENS
    )
    deltas = _context_deltas(z)
    state, words = kernels.range_encoder(deltas.size + tokens.size)
    for symbols, prior in [(deltas, _prior(0, RESP_CONTEXTS, wrap=True))] + [
        (tokens[where], prior) for where, prior in _token_priors(bounds)
    ]:
        kernels.encode_adaptive(
            symbols, prior, RANGE_PRECISION, RESP_FIRST_CHUNK, RESP_COUNT_WEIGHT, state, words
        )
    return pack_words(kernels.sealed_words(state, words)) + packed.tobytes()


def decode_errors(data: bytes, n_channels: int, n_samples: int, partition: int) -> np.ndarray:
    """Inverse of encode_errors; ValueError for any stream that is not exactly one encoding."""
    from . import kernels

    words, end = unpack_words(data)
    parts = -(-n_samples // partition)
    sizes = np.minimum(partition, n_samples - np.arange(parts) * partition)
    state = kernels.range_decoder(words)

    def decoded(n: int, prior: np.ndarray) -> np.ndarray:
        symbols, valid = kernels.decode_adaptive(
            words, state, n, prior, RANGE_PRECISION, RESP_FIRST_CHUNK, RESP_COUNT_WEIGHT
        )
        if not valid:
            raise ValueError("bad range-coded stream: invalid data for the entropy model")
        return symbols

    deltas = decoded(n_channels * parts, _prior(0, RESP_CONTEXTS, wrap=True))
    z = np.cumsum(deltas.reshape(n_channels, parts), axis=1) % RESP_CONTEXTS
    per_context = np.bincount(z.reshape(-1), np.tile(sizes, n_channels), RESP_CONTEXTS)
    bounds = np.concatenate([[0], np.cumsum(per_context.astype(np.int64))])
    tokens = np.empty(n_channels * n_samples, np.uint8)
    for where, prior in _token_priors(bounds):
        tokens[where] = decoded(where.stop - where.start, prior)
    packed = np.frombuffer(data, np.uint8, offset=end)
    errors, total = kernels.errors_of_tokens(
        tokens, bounds, z, partition, n_samples, packed, RESP_DIRECT_TOKENS
    )
    if errors.shape[0] != n_channels:
        raise ValueError(f"raw bits take {packed.size} bytes of which all past bit {total} must "
                         "be zero padding")  # fmt: skip
    return errors
