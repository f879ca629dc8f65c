"""Compiled loops (numba): the residual layer's prediction recursion, run by the encoder and
the decoder; the entropy layer's tokens, raw bits and range coder (constriction 0.5's, word
for word); the small steps of the encoder's fits (design matrices, least-squares solves,
coefficient quantiser, bit estimates); and the spectral codec's quantiser, which its step
search runs several times per block.

Why: the per-sample loops cannot be vectorised across time (each prediction needs the sample
before it), and the fits' steps are many small calls, so in numpy and through constriction
their overhead was most of an archival compress and of a lossless decode. The coding
arithmetic here is on int64/uint64, exactly as the spec states it (§5.10), so the compiled
code computes the same integers as any other implementation; floating point only serves the
encoder's choices. Compiled once per machine and cached on disk (numba ``cache=True``: beside
the module, or in the user's cache folder where the install is read-only).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros


def _compiled(function):
    """The function compiled with an on-disk cache, or, where no cache folder can be written
    (a read-only install and home, numba's RuntimeError), compiled anew in each process."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:
        return njit(nogil=True)(function)


_EXACT_QUOTIENT = np.int64(1) << np.int64(52)
# Channels the decoder runs side by side: their recursions overlap. More did not help: the
# rows of a block lie a multiple of 4 kB apart, so each channel's arrays compete for the same
# L1 cache sets.
_SIDE_BY_SIDE = 4


@njit(inline="always")
def _floor_divide(a: np.int64, b: np.int64) -> np.int64:
    """a // b (floor) for b ≥ 1, through float64 where that is exact: for |a| < 2**52 the
    quotient's rounding error, below |a/b|·2**-53, is smaller than its distance 1/b to any
    integer it is not, so the floor is right. Integer division takes several times longer,
    and the recursion does one per sample when the step is not 1."""
    if -_EXACT_QUOTIENT < a < _EXACT_QUOTIENT:
        return np.int64(np.floor(np.float64(a) / np.float64(b)))
    return a // b


@_compiled
def channel_recursion(
    series: np.ndarray,
    encode: bool,
    known: np.ndarray,
    decoded: np.ndarray,
    steps: np.ndarray,
    spans: np.ndarray,
    taps: np.ndarray,
    orders: np.ndarray,
    shifts: np.ndarray,
    gains: np.ndarray,
) -> np.ndarray:
    """The spec's prediction of some channels (rows), run forwards: from the quantised
    residuals k to the prediction errors (``encode``), or back from the errors to k.

    One function both ways, so that the encoder's errors are by construction what the decoder
    inverts (their loops run in different orders over the same integers). ``known`` holds,
    per sample, the terms that need no decoded sample of the channel plus the rounding half;
    segment j spans ``spans[j]``, and channel c's model there has ``taps[c, j, :orders[c, j]]``
    = a_1..a_p, shift ``shifts[c, j]`` and gain g = ``gains[c, j]`` (0 without codec terms).
    v[t] = y[t] − y[t−1] is 0 before the block, and y[−1] = decoded[0].
    """
    n_channels, n = series.shape
    most = taps.shape[2]
    v = np.zeros((n_channels, most + n), np.int64)  # v[c, most + t]: zeros before the block
    out = np.empty((n_channels, n), np.int64)
    if encode:
        # Every y = d + step·k is known, so each segment's accumulators are a filter over
        # known values, computed one tap at a time across the samples (vectorised: a sample
        # at a time took 2–4× longer). int64 sums wrap the same in any order: these are the
        # integers of the decoder's recursion below.
        signal = np.empty(n, np.int64)
        for c in range(n_channels):
            step, half_step = steps[c], (steps[c] - 1) // 2
            for t in range(n):
                signal[t] = decoded[c, t] + step * series[c, t]
                v[c, most + t] = signal[t] - (signal[t - 1] if t else decoded[c, 0])
            for j in range(spans.shape[0]):
                lo, hi = spans[j, 0], spans[j, 1]
                sums = known[c, lo:hi].copy()
                if gains[c, j]:
                    for t in range(max(lo, 1), hi):
                        sums[t - lo] += gains[c, j] * series[c, t - 1]
                for i in range(orders[c, j]):
                    tap, past = taps[c, j, i], v[c, most + lo - 1 - i : most + hi - 1 - i]
                    for t in range(hi - lo):
                        sums[t] += tap * past[t]
                for t in range(lo, hi):
                    before = signal[t - 1] if t else decoded[c, 0]
                    guess = (sums[t - lo] >> shifts[c, j]) + before - decoded[c, t]
                    if step == 1:
                        out[c, t] = series[c, t] - guess
                    else:
                        out[c, t] = series[c, t] - _floor_divide(guess + half_step, step)
        return out
    # Decoding is a recursion through time, so it runs _SIDE_BY_SIDE channels at a time,
    # side by side: their chains of dependent operations, each as long as a sample (with a
    # division when the step is above 1), then overlap.
    y_prev = decoded[:, 0].copy()
    k_prev = np.zeros(n_channels, np.int64)
    v_last = np.zeros(n_channels, np.int64)  # v[c, t − 1], not read back from v
    backwards = np.zeros((n_channels, most), np.int64)
    for j in range(spans.shape[0]):
        for c in range(n_channels):  # a_p..a_2, then v[t−p..t−2]: one contiguous dot product
            backwards[c, : max(orders[c, j] - 1, 0)] = taps[c, j, 1 : orders[c, j]][::-1]
        for first in range(0, n_channels, _SIDE_BY_SIDE):
            group = range(first, min(n_channels, first + _SIDE_BY_SIDE))
            for t in range(spans[j, 0], spans[j, 1]):
                for c in group:
                    order, step = orders[c, j], steps[c]
                    acc = known[c, t] + gains[c, j] * k_prev[c]
                    if order:
                        acc += taps[c, j, 0] * v_last[c]
                    past = v[c, most + t - order : most + t - 1]
                    for i in range(order - 1):
                        acc += backwards[c, i] * past[i]
                    acc >>= shifts[c, j]
                    if step == 1:  # k̂ = guess − d needs no division
                        y = y_prev[c] + acc + series[c, t]
                        k_prev[c] = y - decoded[c, t]
                    else:
                        half_step = (step - 1) // 2
                        k_prev[c] = series[c, t] + _floor_divide(
                            acc + y_prev[c] + half_step - decoded[c, t], step
                        )
                        y = decoded[c, t] + step * k_prev[c]
                    out[c, t] = k_prev[c]
                    v_last[c] = y - y_prev[c]
                    v[c, most + t] = v_last[c]
                    y_prev[c] = y
    return out


@njit(inline="always")
def _zigzag(e: np.int64) -> np.uint64:
    return np.uint64((e << np.int64(1)) ^ (e >> np.int64(63)))


@_compiled
def token_of(value: np.uint64, direct_tokens: int) -> tuple[int, int]:
    """(token, number of raw bits) of one zigzag-mapped error u (spec §5.10).

    Below ``direct_tokens`` the token is u; above, direct + 4·(n − 4) + the two bits after the
    leading one, where n + 1 is u's bit length, and the n − 2 lower bits are raw.
    """
    if value < np.uint64(direct_tokens):
        return np.int64(value), 0
    n = 63 - leading_zeros(value)  # the leading one's position
    return direct_tokens + 4 * (n - 4) + np.int64((value >> np.uint64(n - 2)) & np.uint64(3)), n - 2


@_compiled
def error_tokens(
    errors: np.ndarray, partition: int, n_contexts: int, direct_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The entropy layer's encoder side in three passes over (channels, samples) int64 errors.

    Returns the context z of each partition (floor(2·log2(mean u + 1)), clipped), the tokens
    grouped by context in coding order (context after context; within one, channel after
    channel, each in time order), where each context's group starts (``n_contexts`` + 1
    bounds), and the raw bits of every sample in sample order, packed most significant first.
    """
    n_channels, n = errors.shape
    parts = (n + partition - 1) // partition
    z = np.empty((n_channels, parts), np.int64)
    bounds = np.zeros(n_contexts + 1, np.int64)
    for c in range(n_channels):
        for q in range(parts):
            lo, hi = q * partition, min(n, (q + 1) * partition)
            total = 0.0
            for t in range(lo, hi):
                value = _zigzag(errors[c, t])
                signed = np.int64(value)  # converts faster; the same float below 2**63
                total += float(signed) if signed >= 0 else float(value)
            context = np.floor(2 * np.log2(total / (hi - lo) + 1))
            z[c, q] = int(min(max(context, 0), n_contexts - 1))
            bounds[z[c, q] + 1] += hi - lo
    for j in range(n_contexts):
        bounds[j + 1] += bounds[j]
    cursor = bounds[:-1].copy()
    tokens = np.empty(n_channels * n, np.uint8)
    raw_bits = 0
    for c in range(n_channels):
        for q in range(parts):
            at = cursor[z[c, q]]
            for t in range(q * partition, min(n, (q + 1) * partition)):
                tokens[at], n_raw = token_of(_zigzag(errors[c, t]), direct_tokens)
                raw_bits += n_raw
                at += 1
            cursor[z[c, q]] = at
    packed = np.zeros((raw_bits + 7) // 8, np.uint8)
    pending, n_pending, at = np.uint64(0), 0, 0  # bits not yet written (fewer than 8), next byte
    for c in range(n_channels):
        for t in range(n):
            value = _zigzag(errors[c, t])
            n_raw = token_of(value, direct_tokens)[1]
            while n_raw > 0:  # at most 32 bits at a time, most significant first
                take = min(32, n_raw)
                n_raw -= take
                bits = (value >> np.uint64(n_raw)) & np.uint64((1 << take) - 1)
                pending = (pending << np.uint64(take)) | bits
                n_pending += take
                while n_pending >= 8:
                    n_pending -= 8
                    packed[at] = np.uint8((pending >> np.uint64(n_pending)) & np.uint64(0xFF))
                    at += 1
    if n_pending:
        packed[at] = np.uint8((pending << np.uint64(8 - n_pending)) & np.uint64(0xFF))
    return z, tokens, bounds, packed


@_compiled
def errors_of_tokens(
    tokens: np.ndarray, bounds: np.ndarray, z: np.ndarray, partition: int, n: int,
    packed: np.ndarray, direct_tokens: int,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """Inverse of error_tokens given the contexts: the (channels, n) errors, and the number of
    raw bits that the tokens call for. The errors are empty when ``packed`` is not exactly
    that many bits, zero-padded to a byte (the caller then rejects the stream)."""
    total = 0
    for i in range(tokens.size):
        if tokens[i] >= direct_tokens:
            total += (tokens[i] - direct_tokens) // 4 + 2
    if packed.size != (total + 7) // 8 or (total % 8 and packed[-1] & (0xFF >> (total % 8))):
        return np.zeros((0, n), np.int64), total
    n_channels = z.shape[0]
    errors = np.empty((n_channels, n), np.int64)
    cursor = bounds[:-1].copy()
    buffer, held, at = np.uint64(0), 0, 0  # the next `held` raw bits, and the next byte
    for c in range(n_channels):
        for q in range(z.shape[1]):
            next_token = cursor[z[c, q]]
            for t in range(q * partition, min(n, (q + 1) * partition)):
                token = tokens[next_token]
                next_token += 1
                value = np.uint64(token)
                if token >= direct_tokens:
                    value = np.uint64(4 + (token - direct_tokens) % 4)
                    n_raw = (token - direct_tokens) // 4 + 2
                    while n_raw > 0:  # at most 32 bits at a time, most significant first
                        take = min(32, n_raw)
                        while held < take:
                            buffer = (buffer << np.uint64(8)) | np.uint64(packed[at])
                            held += 8
                            at += 1
                        held -= take
                        bits = (buffer >> np.uint64(held)) & np.uint64((1 << take) - 1)
                        value = (value << np.uint64(take)) | bits
                        n_raw -= take
                errors[c, t] = np.int64(value >> np.uint64(1)) ^ -np.int64(value & np.uint64(1))
            cursor[z[c, q]] = next_token
    return errors, total


_WORD_BITS = 32
_BUCKET_BITS = 10  # the decoder's symbol lookup: 1024 buckets of quantiles


@njit(inline="always")
def chunk_model(prior: np.ndarray, counts: np.ndarray, count_weight: int, precision: int,
                 left: np.ndarray) -> None:  # fmt: skip
    """The left cumulatives of an adaptive sequence's model before a chunk (spec §5.10):
    weights w from the prior and count_weight × the counts so far, summing to
    2**precision − size; symbol i has probability w_i + 1, so left[i] = Σ_{j<i} w_j + i.
    This is what constriction 0.5's Categorical(w, perfect=False) builds from such weights."""
    size = prior.size
    total = (1 << precision) - size
    base = prior + count_weight * counts
    weights = base * total // base.sum()
    weights[np.argmax(base)] += total - weights.sum()
    for i in range(size):
        left[i + 1] = left[i] + np.uint64(weights[i] + 1)


@_compiled
def range_encoder(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """A range encoder as constriction 0.5's queue encoder starts: its state [lower, range,
    words held back while the interval wraps (its "inverted situation"), the first of them,
    words written], and room for ``capacity`` words (one per symbol, and three to seal)."""
    state = np.zeros(5, np.uint64)
    state[1] = ~np.uint64(0)
    return state, np.empty(capacity + 3, np.uint32)


@_compiled
def encode_adaptive(
    symbols: np.ndarray, prior: np.ndarray, precision: int, first_chunk: int,
    count_weight: int, state: np.ndarray, words: np.ndarray,
) -> None:  # fmt: skip
    """Range-code one adaptive sequence (spec §5.10), word for word as constriction 0.5's
    queue encoder: 64-bit state, 32-bit words, carries resolved by holding back the words
    of a wrapped interval. ``state`` and ``words`` (from range_encoder) advance in place."""
    size = prior.size
    counts = np.zeros(size, np.int64)
    left = np.zeros(size + 1, np.uint64)
    lower, width, held, first_held, n_words = state[0], state[1], state[2], state[3], state[4]
    word_floor = np.uint64(1) << np.uint64(64 - _WORD_BITS)
    n = symbols.size
    start, edge = 0, first_chunk
    while start < n:
        stop = min(n, edge)
        chunk_model(prior, counts, count_weight, precision, left)
        for t in range(start, stop):
            symbol = symbols[t]
            scale = width >> np.uint64(precision)
            width = scale * (left[symbol + 1] - left[symbol])
            new_lower = lower + scale * left[symbol]
            if held and new_lower + width > new_lower:  # the interval no longer wraps
                carry = new_lower < lower
                words[n_words] = (first_held + np.uint64(carry)) & np.uint64(0xFFFFFFFF)
                n_words += np.uint64(1)
                for _ in range(1, np.int64(held)):
                    words[n_words] = 0 if carry else 0xFFFFFFFF
                    n_words += np.uint64(1)
                held = np.uint64(0)
            lower = new_lower
            if width < word_floor:
                width <<= np.uint64(_WORD_BITS)
                top_word = lower >> np.uint64(64 - _WORD_BITS)
                lower <<= np.uint64(_WORD_BITS)
                if held:
                    held += np.uint64(1)
                elif lower + width > lower:
                    words[n_words] = top_word
                    n_words += np.uint64(1)
                else:
                    held, first_held = np.uint64(1), top_word
        for t in range(start, stop):
            counts[symbols[t]] += 1
        start, edge = stop, 2 * edge
    state[0], state[1], state[2], state[3], state[4] = lower, width, held, first_held, n_words


@_compiled
def sealed_words(state: np.ndarray, words: np.ndarray) -> np.ndarray:
    """The encoder's words with those that end the stream (constriction 0.5's seal): any
    held-back words, resolved, then a word that identifies the final interval whatever
    follows, and a zero word where that one alone would not. Empty if nothing was coded."""
    lower, width, held, first_held, n_words = state[0], state[1], state[2], state[3], state[4]
    if width == ~np.uint64(0):
        return words[:0].copy()
    at, n_held = np.int64(n_words), np.int64(held)
    out = words[: at + n_held + 2].copy()
    point = lower + ((np.uint64(1) << np.uint64(64 - _WORD_BITS)) - np.uint64(1))
    if held:
        wrapped = point < lower
        out[at] = (first_held + np.uint64(wrapped)) & np.uint64(0xFFFFFFFF)
        at += 1
        for _ in range(1, n_held):
            out[at] = 0 if wrapped else 0xFFFFFFFF
            at += 1
    point_word = point >> np.uint64(64 - _WORD_BITS)
    out[at] = point_word
    at += 1
    if (lower + width) >> np.uint64(64 - _WORD_BITS) == point_word:
        out[at] = 0
        at += 1
    return out[:at]


@_compiled
def range_decoder(words: np.ndarray) -> np.ndarray:
    """A range decoder's state over ``words`` (u32): [lower, range, point, words read], as
    constriction 0.5's queue decoder starts (point: the first two words; zeros past the end)."""
    point = np.uint64(0)
    read = 0
    while read < min(2, words.size):
        point = (point << np.uint64(_WORD_BITS)) | np.uint64(words[read])
        read += 1
    if read == 1:
        point <<= np.uint64(_WORD_BITS)
    state = np.zeros(4, np.uint64)
    state[1] = ~np.uint64(0)
    state[2], state[3] = point, read
    return state


@_compiled
def decode_adaptive(
    words: np.ndarray, state: np.ndarray, n: int, prior: np.ndarray, precision: int,
    first_chunk: int, count_weight: int,
) -> tuple[np.ndarray, bool]:  # fmt: skip
    """n symbols of one adaptive sequence, range-decoded from ``words`` as constriction
    0.5's queue decoder does; ``state`` (from range_decoder) is advanced in place. False
    when the stream is invalid (a quantile past the end of the distribution), as
    constriction reports it.

    The symbol is looked up by the quantile's top bits, then found by a short scan (a
    bisection's unpredictable branches cost twice as much).
    """
    size = prior.size
    out = np.empty(n, np.int64)
    counts = np.zeros(size, np.int64)
    left = np.zeros(size + 1, np.uint64)
    first = np.zeros(1 << _BUCKET_BITS, np.int64)
    bucket_shift = np.uint64(precision - _BUCKET_BITS)
    lower, width, point, read = state[0], state[1], state[2], np.int64(state[3])
    word_floor = np.uint64(1) << np.uint64(64 - _WORD_BITS)
    start, edge = 0, first_chunk
    while start < n:
        stop = min(n, edge)
        chunk_model(prior, counts, count_weight, precision, left)
        symbol = 0
        for b in range(first.size):  # the symbol at the start of each bucket of quantiles
            while left[symbol + 1] <= np.uint64(b) << bucket_shift:
                symbol += 1
            first[b] = symbol
        for t in range(start, stop):
            scale = width >> np.uint64(precision)
            quantile = (point - lower) // scale
            if quantile >= np.uint64(1 << precision):
                state[0], state[1], state[2], state[3] = lower, width, point, read
                return out[:t], False
            low = first[quantile >> bucket_shift]
            while left[low + 1] <= quantile:
                low += 1
            out[t] = low
            lower += scale * left[low]
            width = scale * (left[low + 1] - left[low])
            if width < word_floor:
                lower <<= np.uint64(_WORD_BITS)
                width <<= np.uint64(_WORD_BITS)
                point <<= np.uint64(_WORD_BITS)
                if read < words.size:
                    point |= np.uint64(words[read])
                    read += 1
        for t in range(start, stop):
            counts[out[t]] += 1
        start, edge = stop, 2 * edge
    state[0], state[1], state[2], state[3] = lower, width, point, read
    return out, True


@_compiled
def fill_lagged(out: np.ndarray, column: int, series: np.ndarray, lags: np.ndarray, start: int,
                stride: int) -> None:  # fmt: skip
    """out[i, column + j] = series[start + i·stride + lags[j]]: a design matrix's columns of
    one series at several lags (out in Fortran order, filled column by column)."""
    for j in range(lags.size):
        at = start + lags[j]
        for i in range(out.shape[0]):
            out[i, column + j] = series[at + i * stride]


@_compiled
def ridge_solutions(gram: np.ndarray, rhs: np.ndarray, uses: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of each candidate j, which uses the columns where
    ``uses[:, j]``: (gram restricted to them + a touch of ridge) x = rhs there, by Cholesky;
    zeros where that matrix is not positive definite. (width, candidates); one call instead
    of a LAPACK call per candidate, whose overhead was most of the fits' solves.
    """
    width, n_candidates = uses.shape
    out = np.zeros((width, n_candidates))
    for j in range(n_candidates):
        idx = np.flatnonzero(uses[:, j])
        m = idx.size
        factor = np.empty((m, m))
        trace = 0.0
        for a in range(m):
            trace += gram[idx[a], idx[a]]
        ridge = 1e-9 * (trace / max(m, 1) + 1.0)
        positive = True
        for a in range(m):  # factor = L, lower triangular, gram + ridge = L Lᵀ
            for b in range(a + 1):
                total = gram[idx[a], idx[b]] + (ridge if a == b else 0.0)
                for i in range(b):
                    total -= factor[a, i] * factor[b, i]
                if a == b:
                    if not total > 0.0:
                        positive = False
                        break
                    factor[a, a] = np.sqrt(total)
                else:
                    factor[a, b] = total / factor[b, b]
            if not positive:
                break
        if not positive:
            continue
        x = np.empty(m)
        for a in range(m):  # L y = rhs, then Lᵀ x = y
            total = rhs[idx[a]]
            for i in range(a):
                total -= factor[a, i] * x[i]
            x[a] = total / factor[a, a]
        for a in range(m - 1, -1, -1):
            total = x[a]
            for i in range(a + 1, m):
                total -= factor[i, a] * x[i]
            x[a] = total / factor[a, a]
        for a in range(m):
            out[idx[a], j] = x[a]
    return out


@_compiled
def quantised_coefficients(
    coef: np.ndarray, precisions: np.ndarray, most_shift: int, most_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each precision p: integer coefficients with about p significant bits and their
    shift (the largest up to ``most_shift`` that keeps every |q| below 2**(most_bits − 1)),
    or all zeros with shift 0 where none does. (shifts, q: precisions × coefficients)."""
    top = 0.0
    for value in coef:
        top = max(top, abs(value))
    limit = 2.0 ** (most_bits - 1)
    shifts = np.zeros(precisions.size, np.int64)
    q = np.zeros((precisions.size, coef.size), np.int64)
    for j in range(precisions.size):
        shift = precisions[j] - (int(np.ceil(np.log2(top))) if top > 0 else 0)
        shift = min(max(shift, 0), most_shift)
        while True:
            largest = 0.0
            for value in coef:
                largest = max(largest, abs(np.rint(value * 2.0**shift)))
            if largest < limit or shift == 0:
                break
            shift -= 1
        if largest >= limit:
            continue
        shifts[j] = shift
        for i in range(coef.size):
            q[j, i] = np.int64(np.rint(coef[i] * 2.0**shift))
    return shifts, q


@njit(inline="always")
def _laplace_bits(total_abs: float, size: int) -> float:
    """About what the entropy layer spends on ``size`` errors of this total magnitude."""
    return size * (np.log2(total_abs / size + 0.5) + 1.6)


@_compiled
def fit_bits(target: np.ndarray, predictions: np.ndarray, partition: int) -> np.ndarray:
    """Estimated bits of each column's errors target − predictions[:, j] (rows, models), a
    Laplace code per partition of rows: how the residual coder scores its candidates."""
    n, n_models = predictions.shape
    bits = np.zeros(n_models)
    for j in range(n_models):
        for lo in range(0, n, partition):
            hi = min(n, lo + partition)
            total = 0.0
            for i in range(lo, hi):
                total += abs(target[i] - predictions[i, j])
            bits[j] += _laplace_bits(total, hi - lo)
    return bits


@_compiled
def prediction_bits(
    acc: np.ndarray, shifts: np.ndarray, y_prev: np.ndarray, decoded: np.ndarray,
    k: np.ndarray, step: int, partition: int,
) -> np.ndarray:  # fmt: skip
    """Estimated bits (as fit_bits) of the exact errors of each model j, whose accumulators
    (rows, models) hold integers: k − k̂ with k̂ = round((y_prev + (acc + half) >> shift −
    decoded) / step), as channel_recursion computes them."""
    n, n_models = acc.shape
    bits = np.zeros(n_models)
    half_step = (step - 1) // 2
    for j in range(n_models):
        shift = shifts[j]
        half = (np.int64(1) << shift) >> 1
        for lo in range(0, n, partition):
            hi = min(n, lo + partition)
            total = 0.0
            for i in range(lo, hi):
                guess = y_prev[i] + ((np.int64(acc[i, j]) + half) >> shift)
                k_hat = guess - decoded[i]
                if step != 1:  # an estimate: the floor through float64 (exact below 2**52)
                    k_hat = np.int64(np.floor((k_hat + half_step) / step))
                total += abs(float(k[i] - k_hat))
            bits[j] += _laplace_bits(total, hi - lo)
    return bits


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
