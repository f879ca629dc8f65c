"""Predictive integer coding of the residual layer: the body of a RESP block (spec §5.10).

Why: the old RESD coder (fixed predictors on the residual, byte planes, zstd) reached only
0.6-0.8x FLAC's ratio. Here each channel's corrected signal y = decoded + step·k is predicted
from its own past (as differences, which keeps high-order integer coefficients well
conditioned), from the codec's reconstruction and the previous k (known to the decoder), and
from the already coded prediction errors of up to RESP_MAX_NEIGHBOURS earlier channels
(inter-channel prediction, which FLAC cannot do). Coefficients are fitted per segment by
reweighted least squares, quantised, and stored; the errors go to entropy.py. The fits and
the scoring look at sampled rows of long segments, and each channel at most _NEIGHBOURS_USED
earlier ones: that made the coder 2x faster for 0.1-0.6 % larger files (the per-sample loops
are compiled, kernels.py).

All arithmetic is int64 with two's-complement wrap-around, so any decoder computes exactly what
the encoder did; only the encoder's choices use floating point, and its own predictions do
only where a bound proves float64 exact (_accumulators).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from .entropy import decode_errors, encode_errors
from .format import (
    RESP_CODEC_LAGS,
    RESP_MAX_COEF_BITS,
    RESP_MAX_NEIGHBOURS,
    RESP_MAX_ORDER,
    RESP_MAX_SHIFT,
    RESP_PARTITION,
)
from .format import RESP_MODEL_HEAD as MODEL_HEAD

_ORDERS = (8, 16, 32)
_PRECISIONS = (8, 10, 11, 12, 13, 14, 16)  # all scored from one product: trying more is cheap
_NEIGHBOUR_LAGS = (-1, 0, 1)
_REWEIGHTINGS = 2
_PAD = RESP_MAX_ORDER  # zeros on each side of a regressor series: more than any lag
_SCORE_STRIDE = 4  # long segments are fitted on every 8th sample, scored on every 4th
_LONG_SEGMENT = 8192  # samples from which a segment is long
_MEDIAN_STRIDE = 8  # the reweighting's scale: the median of every 8th residual
_NEIGHBOURS_USED = 8  # earlier channels a model may read (the spec allows RESP_MAX_NEIGHBOURS)


@dataclass(frozen=True)
class Model:
    """The predictor of one channel over one segment (coefficients in the payload's order)."""

    order: int
    codec_lags: int  # K: 0, or k[t-1] and Δd[t+j] for |j| < K
    neighbours: tuple[int, ...]  # earlier channels whose errors at t-1, t, t+1 are used
    shift: int
    coefs: np.ndarray  # int64: a_1..a_order, [g, b_-(K-1)..b_(K-1)], [h_o,-1, h_o,0, h_o,1]...

    @property
    def coef_bits(self) -> int:
        if not self.coefs.size:
            return 0
        top = int(np.abs(self.coefs).max())
        return top.bit_length() + 1


EMPTY = Model(0, 0, (), 0, np.zeros(0, np.int64))


@dataclass(frozen=True)
class Signals:
    """The integer series a block's prediction reads; int64, (channels, samples)."""

    decoded: np.ndarray
    steps: np.ndarray  # (channels, 1)
    slope: np.ndarray  # Δd: differences of the decoded signal, 0 at the first sample

    @classmethod
    def of(cls, decoded: np.ndarray, steps: np.ndarray) -> Signals:
        d = decoded.astype(np.int64)
        return cls(d, steps.astype(np.int64).reshape(-1, 1), np.diff(d, axis=1, prepend=d[:, :1]))


def _shifted(
    series: np.ndarray, lag: int, lo: int, hi: int, out: np.ndarray | None = None
) -> np.ndarray:
    """series[t + lag] for t in [lo, hi), 0 outside the block; written into ``out`` if given
    (converted to its type)."""
    out = np.zeros(hi - lo, series.dtype) if out is None else out
    a, b = min(hi, max(lo, -lag)), max(lo, min(hi, series.size - lag))
    out[: a - lo] = 0
    out[b - lo :] = 0
    if b > a:
        out[a - lo : b - lo] = series[a + lag : b + lag]
    return out


def _known_terms(
    model: Model, slope: np.ndarray, errors: np.ndarray, lo: int, hi: int
) -> np.ndarray:
    """The part of the accumulator that needs no decoded sample of this channel."""
    acc = np.zeros(hi - lo, np.int64)
    at = model.order + (1 if model.codec_lags else 0)
    for j in range(1 - model.codec_lags, model.codec_lags):
        acc += model.coefs[at] * _shifted(slope, j, lo, hi)
        at += 1
    for o in model.neighbours:
        for lag in _NEIGHBOUR_LAGS:
            acc += model.coefs[at] * _shifted(errors[o], lag, lo, hi)
            at += 1
    return acc


def _half(shift: int) -> int:
    return (1 << shift) >> 1


def segments(n_samples: int, length: int) -> list[tuple[int, int]]:
    return [(lo, min(n_samples, lo + length)) for lo in range(0, n_samples, length)]


# ---------------------------------------------------------------------------------------------
# Encoder


@dataclass(frozen=True)
class _Regressors:
    """Channel c's regressors, grouped by series (each with its lags), in coefficient order.

    Without codec terms (RESI) the k[t-1] and Δd columns are left out: such models never use
    them. Rows are made per segment, as float64 for the fits or int64 where exactness needs.
    """

    groups: tuple[tuple[np.ndarray, tuple[int, ...]], ...]  # (zero-padded int64 series, lags)
    codec_terms: bool
    neighbours: tuple[int, ...]  # the earlier channels whose errors are regressors
    top: np.ndarray  # float64 per column: max |value| of its series over the block

    @classmethod
    def of(
        cls, c: int, sig: Signals, k: np.ndarray, v: np.ndarray, errors: np.ndarray,
        codec_terms: bool, neighbours: tuple[int, ...],
    ) -> _Regressors:  # fmt: skip
        groups = [(v, tuple(range(-1, -RESP_MAX_ORDER - 1, -1)))]
        if codec_terms:
            slope_lags = tuple(range(1 - RESP_CODEC_LAGS, RESP_CODEC_LAGS))
            groups += [(k[c], (-1,)), (sig.slope[c], slope_lags)]
        groups += [(errors[o], _NEIGHBOUR_LAGS) for o in neighbours]
        top = [max(float(s.max(initial=0)), -float(s.min(initial=0))) for s, _ in groups]
        widths = [len(lags) for _, lags in groups]
        padded = tuple((np.pad(s, _PAD), lags) for s, lags in groups)
        return cls(padded, codec_terms, neighbours, np.repeat(top, widths))

    def design(self, lo: int, hi: int, dtype: type, stride: int = 1) -> np.ndarray:
        """The regressors at every ``stride``-th sample of [lo, hi) as columns (Fortran order:
        filled and read by column).

        Each group's lags are consecutive, so its columns are one slice of a sliding window
        over the zero-padded series (reversed for descending lags).
        """
        x = np.empty((len(range(lo, hi, stride)), self.top.size), dtype, order="F")
        col = 0
        for padded, lags in self.groups:
            first = min(lags)
            windows = sliding_window_view(padded, len(lags))[
                _PAD + lo + first : _PAD + hi + first : stride
            ]
            x[:, col : col + len(lags)] = windows if lags[0] == first else windows[:, ::-1]
            col += len(lags)
        return x

    def columns(self, order: int, codec: int, n_neighbours: int) -> np.ndarray:
        """The columns that a model with this structure uses."""
        first_neighbour = RESP_MAX_ORDER + (2 * RESP_CODEC_LAGS if self.codec_terms else 0)
        return np.concatenate([
            np.arange(order),
            np.arange(RESP_MAX_ORDER, RESP_MAX_ORDER + 2 * codec),
            np.arange(first_neighbour, first_neighbour + len(_NEIGHBOUR_LAGS) * n_neighbours),
        ]).astype(np.intp)  # fmt: skip


_EXACT_FLOAT = 2.0**52  # bound on Σ|x·a| below which float64 sums of integers are exact


def _accumulators(
    models: list[Model], regressors: _Regressors, xs: np.ndarray, lo: int, hi: int, stride: int
) -> np.ndarray:
    """Each model's int64 sum of regressors times coefficients over every ``stride``-th
    sample of [lo, hi), wrapping as the decoder's does; (samples, models). ``xs`` holds the
    regressors there as float64.

    Through float64 (one BLAS product for all) when Σ_j max|x_j|·|a_j| < 2**52 for every
    model: then each product and partial sum, in any order, is an integer below 2**53, so
    exact, and equals the int64 result. Otherwise in int64 (slow; the decoder's arithmetic).
    """
    coefs = np.zeros((regressors.top.size, len(models)), np.int64)
    for j, m in enumerate(models):
        coefs[regressors.columns(m.order, m.codec_lags, len(m.neighbours)), j] = m.coefs
    as_floats = coefs.astype(np.float64)
    if (regressors.top @ np.abs(as_floats) < _EXACT_FLOAT).all():
        return (xs @ as_floats).astype(np.int64)
    return regressors.design(lo, hi, np.int64, stride) @ coefs


def _errors_of(
    models: list[Model], regressors: _Regressors, xs: np.ndarray, lo: int, hi: int, c: int,
    sig: Signals, k: np.ndarray, y_prev: np.ndarray, stride: int = 1,
) -> np.ndarray:  # fmt: skip
    """Exact prediction errors of channel c at every ``stride``-th sample of [lo, hi), as the
    decoder will recompute them; (samples, models). ``xs``: the regressors at those samples."""
    shifts = np.array([m.shift for m in models], np.int64)
    halves = np.array([_half(m.shift) for m in models], np.int64)
    acc = _accumulators(models, regressors, xs, lo, hi, stride)
    guess = y_prev[lo:hi:stride, None] + ((acc + halves) >> shifts)
    step = sig.steps[c, 0]
    k_hat = guess - sig.decoded[c, lo:hi:stride, None]
    if step != 1:  # lossless needs no division
        k_hat = np.floor_divide(k_hat + (step - 1) // 2, step)
    return k[c, lo:hi:stride, None] - k_hat


def _estimate_bits(e: np.ndarray, partition: int = 128) -> np.ndarray:
    """About what entropy.py spends on each column of e (samples, models): a Laplace code
    per partition."""
    a = np.abs(e.astype(np.float64))
    starts = np.arange(0, a.shape[0], partition)
    sizes = np.diff(starts, append=a.shape[0])[:, None]
    mean = np.add.reduceat(a, starts, axis=0) / sizes
    return np.sum(sizes * (np.log2(mean + 0.5) + 1.6), axis=0)


def _solve(gram: np.ndarray, rhs: np.ndarray, idx: np.ndarray) -> np.ndarray:
    g = gram[np.ix_(idx, idx)]
    g.flat[:: len(idx) + 1] += 1e-9 * (np.trace(g) / len(idx) + 1.0)  # a touch of ridge
    try:
        return np.linalg.solve(g, rhs[idx])
    except np.linalg.LinAlgError:
        return np.zeros(len(idx))


def _quantise(coef: np.ndarray, precision: int) -> tuple[int, np.ndarray]:
    """Integer coefficients with about ``precision`` significant bits, and their shift."""
    top = float(np.abs(coef).max(initial=0.0))
    shift = precision - (int(np.ceil(np.log2(top))) if top > 0 else 0)
    shift = int(np.clip(shift, 0, RESP_MAX_SHIFT))
    limit = 2 ** (RESP_MAX_COEF_BITS - 1)
    while shift > 0 and np.abs(np.rint(coef * 2.0**shift)).max() >= limit:
        shift -= 1
    q = np.rint(coef * 2.0**shift)
    if np.abs(q).max(initial=0) >= limit:
        return 0, np.zeros(coef.size, np.int64)
    return shift, q.astype(np.int64)


def _structures(n_rows: int, n_neighbours: int, codec_terms: bool):
    """(order, codec_lags, neighbours used) candidates that the segment has rows enough for."""
    for order in _ORDERS:
        for codec in (0, RESP_CODEC_LAGS) if codec_terms else (0,):
            for nb in (0, n_neighbours) if n_neighbours else (0,):
                if 2 * (order + 2 * codec + 3 * nb) <= n_rows:
                    yield order, codec, nb


def _fit(
    regressors: _Regressors, lo: int, hi: int, c: int, sig: Signals, k: np.ndarray,
    y_prev: np.ndarray, target: np.ndarray,
) -> Model:  # fmt: skip
    """The model of channel c over [lo, hi) that costs fewest estimated bits.

    Everything here looks at a sample of the rows: every ``stride``-th (every 4th in a long
    segment) for scoring, and every other of those for the fits. The reweighted fit starts
    unweighted on half its rows (the Gram products are most of the time); the candidates, and
    then the precisions, are scored from one product each, using every column with zero
    coefficients where a model has none (no column copies).
    """
    n_neighbours = len(regressors.neighbours)
    candidates = list(_structures(hi - lo, n_neighbours, regressors.codec_terms))
    if not candidates:
        return EMPTY
    stride = _SCORE_STRIDE if hi - lo >= _LONG_SEGMENT else 1
    xs = regressors.design(lo, hi, np.float64, stride)
    t = target[lo:hi:stride].astype(np.float64)
    width = xs.shape[1]
    every = np.arange(width)  # the fullest model uses every column
    # The fit's rows with the target as a last column: one product gives the Gram matrix and
    # the right-hand side.
    half = np.empty(((xs.shape[0] + 1) // 2, width + 1), order="F")
    half[:, :width], half[:, width] = xs[::2], t[::2]
    quarter = np.asfortranarray(half[::2])
    products = quarter.T @ quarter
    weighted = np.empty_like(half)
    for _ in range(_REWEIGHTINGS):  # towards a log-like loss, nearer bits
        coef = _solve(products[:width, :width], products[:width, width], every)
        r = np.abs(half[:, width] - half[:, :width] @ coef)
        w = 1 / (r + 1 + 0.5 * np.median(r[::_MEDIAN_STRIDE]))
        products = np.multiply(half, w[:, None], out=weighted).T @ weighted
    gram, rhs = products[:width, :width], products[:width, width]
    coefs = np.zeros((width, len(candidates)))
    for j, (order, codec, nb) in enumerate(candidates):
        idx = regressors.columns(order, codec, nb)
        coefs[idx, j] = _solve(gram, rhs, idx)
    sizes = [regressors.columns(*s).size for s in candidates]
    part = max(1, RESP_PARTITION // stride)
    bits = stride * _estimate_bits(t[:, None] - xs @ coefs, part)
    best = int(np.argmin(bits + 14 * np.array(sizes)))
    order, codec, nb = candidates[best]
    coef = coefs[regressors.columns(order, codec, nb), best]
    neighbours = regressors.neighbours[:nb]
    models = [EMPTY] + [Model(order, codec, neighbours, *_quantise(coef, precision))
                        for precision in _PRECISIONS]  # fmt: skip
    errors = _errors_of(models, regressors, xs, lo, hi, c, sig, k, y_prev, stride)
    sizes = [m.coef_bits * m.coefs.size + 16 * len(m.neighbours) for m in models]
    return models[int(np.argmin(stride * _estimate_bits(errors, part) + np.array(sizes)))]


def _neighbours(v: np.ndarray, earlier_errors: np.ndarray) -> tuple[int, ...]:
    """The earlier channels whose errors are likeliest to help predict v: the
    _NEIGHBOURS_USED with the largest |correlation| with v (on every 4th sample of the
    block), in channel order."""
    c = earlier_errors.shape[0]
    if c <= _NEIGHBOURS_USED:
        return tuple(range(c))
    e = earlier_errors[:, ::4].astype(np.float64)
    e -= e.mean(axis=1, keepdims=True)
    centred = v[::4] - v[::4].mean()
    score = np.abs(e @ centred) / (np.sqrt((e * e).sum(axis=1)) + 1e-9)
    return tuple(sorted(int(o) for o in np.argsort(-score, kind="stable")[:_NEIGHBOURS_USED]))


def encode_residuals(
    residuals: np.ndarray,
    decoded: np.ndarray | None,
    steps: np.ndarray,
    segment: int,
    partition: int,
) -> bytes:
    """Models and entropy-coded errors of quantised residuals k (channels, samples).

    ``decoded=None`` codes the signal's own quantised values (RESI: d = 0, no codec terms).
    The fits' small solves run on one BLAS thread: more threads gain nothing at this size,
    stall for seconds when other work shares the cores, and round differently, so the chosen
    models (and the bytes) would depend on the thread count.
    """
    with threadpool_limits(1, user_api="blas"):
        return _encode_residuals(residuals, decoded, steps, segment, partition)


def _encode_residuals(
    residuals: np.ndarray,
    decoded: np.ndarray | None,
    steps: np.ndarray,
    segment: int,
    partition: int,
) -> bytes:
    codec_terms = decoded is not None
    sig = Signals.of(np.zeros_like(residuals) if decoded is None else decoded, steps)
    k = residuals.astype(np.int64)
    y = sig.decoded + sig.steps * k
    y_prev = np.concatenate([sig.decoded[:, :1], y[:, :-1]], axis=1)
    errors = np.zeros_like(k)
    spans = segments(k.shape[1], segment)
    models = []
    for c in range(k.shape[0]):
        v = y[c] - y_prev[c]
        neighbours = _neighbours(v, errors[:c])
        regressors = _Regressors.of(c, sig, k, v, errors, codec_terms, neighbours)
        row = [_fit(regressors, lo, hi, c, sig, k, y_prev[c], v) for lo, hi in spans]
        errors[c] = _recursion(row, c, k[c], True, sig, errors, spans)
        models += row
    return b"".join(encode_model(m) for m in models) + encode_errors(errors, partition)


def encode_model(model: Model) -> bytes:
    bits = model.coef_bits
    head = MODEL_HEAD.pack(model.order, model.codec_lags, len(model.neighbours), model.shift, bits)
    listed = np.asarray(model.neighbours, "<u2").tobytes()
    return head + listed + _pack_signed(model.coefs, bits)


def _pack_signed(values: np.ndarray, bits: int) -> bytes:
    if not values.size:
        return b""
    words = (values.astype(np.int64) & ((1 << bits) - 1)).astype(">u4")
    matrix = np.unpackbits(words.view(np.uint8).reshape(-1, 4), axis=1)[:, 32 - bits :]
    return np.packbits(matrix).tobytes()


# ---------------------------------------------------------------------------------------------
# Decoder


def _unpack_signed(data: bytes, bits: int, count: int) -> np.ndarray:
    bits_all = np.unpackbits(np.frombuffer(data, np.uint8))
    if bits_all[count * bits :].any():
        raise ValueError("nonzero padding after the coefficients")
    matrix = bits_all[: count * bits].reshape(count, bits).astype(np.int64)
    weights = 1 << np.arange(bits - 1, -1, -1, dtype=np.int64)
    unsigned = matrix @ weights
    return np.where(unsigned >= 1 << (bits - 1), unsigned - (1 << bits), unsigned)


def _decode_models(
    data: bytes, n_channels: int, n_segments: int, codec_terms: bool
) -> tuple[list[list[Model]], int]:
    """Models per channel and segment, and where the entropy-coded part starts."""
    at = 0
    models: list[list[Model]] = []
    for c in range(n_channels):
        row = []
        for _ in range(n_segments):
            if len(data) < at + MODEL_HEAD.size:
                raise ValueError("payload ends inside the prediction models")
            order, codec, n_nb, shift, bits = MODEL_HEAD.unpack_from(data, at)
            at += MODEL_HEAD.size
            most_lags = RESP_CODEC_LAGS if codec_terms else 0
            if order > RESP_MAX_ORDER or codec > most_lags or shift > RESP_MAX_SHIFT:
                raise ValueError(f"model of channel {c}: order, codec lags or shift out of range")
            if n_nb > min(c, RESP_MAX_NEIGHBOURS):
                raise ValueError(f"channel {c} lists {n_nb} neighbours")
            neighbours = tuple(int(o) for o in np.frombuffer(data, "<u2", n_nb, at)) if n_nb else ()
            at += 2 * n_nb
            if any(o >= c for o in neighbours) or len(set(neighbours)) != n_nb:
                raise ValueError(f"channel {c} lists a neighbour that is not an earlier channel")
            count = order + 2 * codec + 3 * n_nb
            if (bits == 0) != (count == 0) or bits > RESP_MAX_COEF_BITS:
                raise ValueError(f"model of channel {c}: {bits}-bit coefficients for {count}")
            size = (count * bits + 7) // 8
            if len(data) < at + size:
                raise ValueError("payload ends inside the prediction coefficients")
            coefs = _unpack_signed(data[at : at + size], bits, count) if count else EMPTY.coefs
            at += size
            row.append(Model(order, codec, neighbours, shift, coefs))
        models.append(row)
    return models, at


def _recursion(
    row: list[Model], c: int, series: np.ndarray, encode: bool, sig: Signals,
    errors: np.ndarray, spans: list[tuple[int, int]],
) -> np.ndarray:  # fmt: skip
    """Channel c's errors from its residuals k (``encode``), or k from its errors, given its
    models and the earlier channels' errors (compiled: one prediction per sample)."""
    from . import kernels  # numba: imported only where residuals are coded

    taps = np.zeros((len(spans), RESP_MAX_ORDER), np.int64)
    known = np.empty(series.size, np.int64)
    for j, (m, (lo, hi)) in enumerate(zip(row, spans, strict=True)):
        taps[j, : m.order] = m.coefs[: m.order]
        known[lo:hi] = _known_terms(m, sig.slope[c], errors, lo, hi) + _half(m.shift)
    return kernels.channel_recursion(
        series, encode, known, sig.decoded[c], int(sig.steps[c, 0]),
        np.array(spans, np.int64).reshape(-1, 2), taps,
        np.array([m.order for m in row], np.int64),
        np.array([m.shift for m in row], np.int64),
        np.array([m.coefs[m.order] if m.codec_lags else 0 for m in row], np.int64),
    )  # fmt: skip


def decode_residuals(
    data: bytes,
    decoded: np.ndarray,
    steps: np.ndarray,
    segment: int,
    partition: int,
    codec_terms: bool = True,
) -> np.ndarray:
    """Quantised residuals k (channels, samples) from a RESP body; ValueError if malformed.

    A RESI body is decoded with ``decoded`` all zeros and ``codec_terms=False`` (models with
    codec terms are then refused).
    """
    n_channels, n = decoded.shape
    spans = segments(n, segment)
    models, at = _decode_models(data, n_channels, len(spans), codec_terms)
    errors = decode_errors(data[at:], n_channels, n, partition)
    sig = Signals.of(decoded, steps)
    k = np.empty((n_channels, n), np.int64)
    for c, row in enumerate(models):
        k[c] = _recursion(row, c, errors[c], False, sig, errors, spans)
    return k
