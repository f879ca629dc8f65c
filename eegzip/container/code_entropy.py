"""Range coding of neural code indices: the codes of an ECOD block (spec §5.11).

Why this model: a block holds only a few hundred codes per codebook (32 frames × the streams),
too few to learn a 1024-symbol distribution, and every block must decode on its own (random
access), so nothing can be learned across blocks and no large table can be stored. What does
recur within a block is the same index in several streams (neighbouring channels see similar
EEG) and, less, anywhere in the block. So each codebook is coded stream after stream with
weights that grow with how often an index already occurred in that codebook's earlier streams,
plus a bonus for the indices those streams hold in the same frame. Within one stream the
weights of every frame are known before any of its symbols, so a stream is one batch for the
range coder. Weights are integers and quantised without floating point, so a second
implementation reproduces the bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import constriction
import numpy as np

from .entropy import pack_words, unpack_words
from .format import (
    ECOD_COUNT_WEIGHT,
    ECOD_MAX_BITS,
    ECOD_MAX_WORK,
    ECOD_PRIOR,
    ECOD_ROWS,
    ECOD_SAME_FRAME,
    MAX_CODES_PER_BLOCK,
    RANGE_PRECISION,
)

# What constriction raises when asked to decode a stream that no encoder wrote.
_CODER_ERRORS = (RuntimeError, ValueError, AssertionError)
# One categorical distribution per symbol, given as a (symbols, alphabet) table per call.
_FAMILY = constriction.stream.model.Categorical(perfect=False)


@dataclass(frozen=True)
class CodeModel:
    """Integer weights of the context model; the format fixes the defaults (spec §5.11).

    Other values exist only so that benchmarks/entropy.py can measure what each part is worth.
    """

    prior: int = ECOD_PRIOR
    count: int = ECOD_COUNT_WEIGHT
    same_frame: int = ECOD_SAME_FRAME


def fits(shape: tuple[int, ...], bits: int) -> bool:
    """Whether codes of this (streams, codebooks, frames) shape and width may be range coded."""
    count = math.prod(shape)
    within = 1 <= count <= MAX_CODES_PER_BLOCK and count << bits <= ECOD_MAX_WORK
    return bits <= ECOD_MAX_BITS and within


def encode_codes(codes: np.ndarray, bits: int, model: CodeModel = CodeModel()) -> bytes:
    """The range-coded words (with their count) of (streams, codebooks, frames) codes."""
    if not fits(codes.shape, bits):
        raise ValueError(f"{codes.shape} codes of {bits} bits are beyond ECOD's limits")
    encoder = constriction.stream.queue.RangeEncoder()
    for rows, weights in _models(codes.astype(np.int64), bits, model):
        encoder.encode(rows.astype(np.int32), _FAMILY, weights)
    return pack_words(encoder.get_compressed())


def decode_codes(data: bytes, shape: tuple[int, int, int], bits: int) -> np.ndarray:
    """Inverse of encode_codes; ValueError for a stream that is cut short or invalid, or that
    has words left over as far as the range decoder can tell (its state may hide one word)."""
    if not fits(shape, bits):
        raise ValueError(f"{'x'.join(map(str, shape))} codes of {bits} bits is out of range")
    words, end = unpack_words(data)
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes after the range-coded words")
    codes = np.zeros(shape, np.int64)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        for rows, weights in _models(codes, bits, CodeModel()):
            rows[:] = decoder.decode(_FAMILY, weights)
        exhausted = decoder.maybe_exhausted()
    except _CODER_ERRORS as exc:
        raise ValueError(f"bad range-coded stream: {exc}") from None
    if not exhausted:
        raise ValueError("words left over after the last code")
    return codes.astype(np.uint16)


def _models(codes: np.ndarray, bits: int, model: CodeModel):
    """Yield (view of the codes to code next, their weight table), in coding order.

    The decoder fills each yielded view before asking for the next, which is all the model
    reads of earlier codes.
    """
    n_streams, n_codebooks, n_frames = codes.shape
    size = 1 << bits
    chunk = max(1, ECOD_ROWS // size)
    for k in range(n_codebooks):
        counts = np.zeros(size, np.int64)
        for s in range(n_streams):
            for lo in range(0, n_frames, chunk):
                hi = min(n_frames, lo + chunk)
                yield codes[s, k, lo:hi], stream_weights(model, counts, codes[:s, k, lo:hi])
            counts += np.bincount(codes[s, k], minlength=size)


def stream_weights(model: CodeModel, counts: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Integer weights (frames × alphabet) of one stream's codes, as float64 for constriction.

    ``counts``: occurrences of each index in this codebook's earlier streams; ``earlier``:
    those streams' codes in the frames being coded. Row t of base weights is
    prior + count·counts + same_frame·(earlier streams holding the index in frame t), and every
    row sums to the same total, so each weight is floor(base·(2**24 − size)/total) and the
    rounding remainder goes to the most frequent earlier index (the lowest on ties).
    """
    n_earlier, n_rows = earlier.shape
    size = counts.size
    target = (1 << RANGE_PRECISION) - size
    shared = model.prior + model.count * counts
    total = int(shared.sum()) + model.same_frame * n_earlier
    weights = np.tile(shared * target // total, (n_rows, 1))
    if n_earlier:
        keys, hits = np.unique(np.arange(n_rows) * size + earlier, return_counts=True)
        row, index = np.divmod(keys, size)
        weights[row, index] = (shared[index] + model.same_frame * hits) * target // total
    weights[:, int(np.argmax(shared))] += target - weights.sum(axis=1)
    return weights.astype(np.float64)
