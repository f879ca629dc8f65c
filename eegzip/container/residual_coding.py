"""Predictive integer coding of the residual layer: the body of a RESP block (spec §5.10).

Why: the old RESD coder (fixed predictors on the residual, byte planes, zstd) reached only
0.6-0.8x FLAC's ratio. Here each channel's corrected signal y = decoded + step·k is predicted
from its own past (as differences, which keeps high-order integer coefficients well
conditioned), from the codec's reconstruction and the previous k (known to the decoder), and
from the already coded prediction errors of up to RESP_MAX_NEIGHBOURS earlier channels
(inter-channel prediction, which FLAC cannot do). Coefficients are fitted per segment by
reweighted least squares, quantised, and stored; the errors go to entropy.py. The fits and
the scoring look at sampled rows of long segments, and each channel at most _NEIGHBOURS_USED
earlier ones; the per-sample loops and the fits' small steps are compiled (kernels.py), and
each block's series are padded once: an hour of 19 channels codes at about 12 MB/s per core.

All arithmetic is int64 with two's-complement wrap-around, so any decoder computes exactly what
the encoder did; only the encoder's choices use floating point, and its own predictions do
only where a bound proves float64 exact (_accumulators).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
# Lags of the regressor series, in coefficient order: own differences v[t-1..t-32], k[t-1],
# Δd[t-2..t+2], and each neighbour's errors at t-1, t, t+1
_OWN_LAGS = np.arange(-1, -RESP_MAX_ORDER - 1, -1)
_K_LAGS = np.array([-1])
_SLOPE_LAGS = np.arange(1 - RESP_CODEC_LAGS, RESP_CODEC_LAGS)
_NEIGHBOUR_LAGS = np.array([-1, 0, 1])
_REWEIGHTINGS = 2
_PAD = RESP_MAX_ORDER  # zeros on each side of a regressor series: more than any lag
_STRIDE = 8  # long segments are fitted and scored on every 8th sample
_LONG_SEGMENT = 8192  # samples from which a segment is long
_MEDIAN_STRIDE = 8  # the reweighting's scale: the median of the residuals at every 8th row
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
    def of(cls, decoded: np.ndarray | None, steps: np.ndarray, shape: tuple[int, int]) -> Signals:
        """``decoded=None``: RESI's d = 0 (then Δd, which no RESI model reads, is 0 too)."""
        column = steps.astype(np.int64).reshape(-1, 1)
        if decoded is None:
            zeros = np.zeros(shape, np.int64)
            return cls(zeros, column, zeros)
        d = decoded.astype(np.int64, copy=False)
        return cls(d, column, np.diff(d, axis=1, prepend=d[:, :1]))


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

    groups: tuple[tuple[np.ndarray, np.ndarray], ...]  # (zero-padded int64 series, lags)
    codec_terms: bool
    neighbours: tuple[int, ...]  # the earlier channels whose errors are regressors
    top: np.ndarray  # float64 per column: max |value| of its series over the block

    @classmethod
    def of(cls, c: int, padded: _Padded, v: np.ndarray, neighbours: tuple[int, ...]) -> _Regressors:
        """Channel c's regressors: the zero-padded differences ``v``, then (with codec terms)
        k[c] and Δd[c], then the errors of ``neighbours``."""
        groups = [(v, _OWN_LAGS)]
        top = [_largest(v)]
        if padded.codec_terms:
            groups += [(padded.k[c], _K_LAGS), (padded.slope[c], _SLOPE_LAGS)]
            top += [padded.tops[c, 0], padded.tops[c, 1]]
        groups += [(padded.errors[o], _NEIGHBOUR_LAGS) for o in neighbours]
        top += [padded.tops[o, 2] for o in neighbours]
        widths = [lags.size for _, lags in groups]
        return cls(tuple(groups), padded.codec_terms, neighbours, np.repeat(top, widths))

    def design(
        self, lo: int, hi: int, dtype: type, stride: int = 1, target: np.ndarray | None = None
    ) -> np.ndarray:
        """The regressors at every ``stride``-th sample of [lo, hi) as columns (Fortran order:
        filled and read by column), and ``target`` there as a last column if given (one
        product of the rows then gives the Gram matrix and the right-hand side).

        The series are zero-padded, so every lag reads inside them.
        """
        from . import kernels

        extra = 0 if target is None else 1
        x = np.empty((len(range(lo, hi, stride)), self.top.size + extra), dtype, order="F")
        if target is not None:
            x[:, -1] = target[lo:hi:stride]
        col = 0
        for padded, lags in self.groups:
            kernels.fill_lagged(x, col, padded, lags, _PAD + lo, stride)
            col += lags.size
        return x

    def columns(self, order: int, codec: int, n_neighbours: int) -> np.ndarray:
        """The columns that a model with this structure uses."""
        first_neighbour = RESP_MAX_ORDER + (2 * RESP_CODEC_LAGS if self.codec_terms else 0)
        return np.concatenate([
            np.arange(order),
            np.arange(RESP_MAX_ORDER, RESP_MAX_ORDER + 2 * codec),
            np.arange(first_neighbour, first_neighbour + len(_NEIGHBOUR_LAGS) * n_neighbours),
        ]).astype(np.intp)  # fmt: skip


@dataclass(frozen=True)
class _Padded:
    """The block's series that are regressors, each row zero-padded by _PAD on both sides
    once (not per channel); ``errors`` is filled in channel by channel as they are coded."""

    k: np.ndarray | None  # None without codec terms (RESI)
    slope: np.ndarray | None
    errors: np.ndarray
    codec_terms: bool
    tops: np.ndarray  # float64 (channels, 3): max |value| of k, Δd and the errors, per channel

    @classmethod
    def of(cls, k: np.ndarray, sig: Signals, codec_terms: bool) -> _Padded:
        errors = np.zeros((k.shape[0], k.shape[1] + 2 * _PAD), np.int64)
        tops = np.zeros((k.shape[0], 3))
        if not codec_terms:
            return cls(None, None, errors, False, tops)
        tops[:, 0], tops[:, 1] = _largest(k), _largest(sig.slope)
        return cls(_zero_padded(k), _zero_padded(sig.slope), errors, True, tops)

    def set_errors(self, c: int, errors: np.ndarray) -> None:
        """Channel c's prediction errors, once coded: a regressor of the later channels."""
        self.errors[c, _PAD:-_PAD] = errors
        self.tops[c, 2] = _largest(errors)


def _largest(series: np.ndarray) -> np.ndarray:
    """max |value| along the last axis, as float64 (0 for no values)."""
    smallest = series.min(axis=-1, initial=0).astype(np.float64)
    return np.maximum(series.max(axis=-1, initial=0), -smallest)


def _zero_padded(series: np.ndarray) -> np.ndarray:
    """Each row of (rows, samples) with _PAD zeros on both sides."""
    out = np.zeros((series.shape[0], series.shape[1] + 2 * _PAD), np.int64)
    out[:, _PAD:-_PAD] = series
    return out


_EXACT_FLOAT = 2.0**52  # bound on Σ|x·a| below which float64 sums of integers are exact


def _accumulators(
    coefs: np.ndarray, regressors: _Regressors, xs: np.ndarray, lo: int, hi: int, stride: int
) -> np.ndarray:
    """Each model's int64 sum of regressors times its coefficients (a column of ``coefs``)
    over every ``stride``-th sample of [lo, hi), wrapping as the decoder's does; (samples,
    models). ``xs`` holds the regressors there as float64.

    Through float64 (one BLAS product for all) when Σ_j max|x_j|·|a_j| < 2**52 for every
    model: then each product and partial sum, in any order, is an integer below 2**53, so
    exact, and equals the int64 result. Otherwise in int64 (slow; the decoder's arithmetic).
    """
    as_floats = coefs.astype(np.float64)
    if (regressors.top @ np.abs(as_floats) < _EXACT_FLOAT).all():
        return (xs @ as_floats).astype(np.int64)
    return regressors.design(lo, hi, np.int64, stride) @ coefs


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

    Everything here looks at a sample of the rows: every ``stride``-th (every 8th in a long
    segment). The reweighted fit starts unweighted on every other of those and reweights
    there first (the Gram products are much of the time), then once on all the rows; the
    candidates, and then the precisions, are scored from one product each, using every
    column with zero coefficients where a model has none (no column copies).
    """
    from . import kernels

    n_neighbours = len(regressors.neighbours)
    candidates = list(_structures(hi - lo, n_neighbours, regressors.codec_terms))
    if not candidates:
        return EMPTY
    stride = _STRIDE if hi - lo >= _LONG_SEGMENT else 1
    rows = regressors.design(lo, hi, np.float64, stride, target)
    width = rows.shape[1] - 1
    xs, t = rows[:, :width], rows[:, width]
    every = np.ones((width, 1), bool)  # the fullest model uses every column
    half = np.asfortranarray(rows[::2])
    products = half.T @ half
    buffer = np.empty_like(rows)
    for these in [half] * (_REWEIGHTINGS - 1) + [rows]:  # towards a log-like loss, nearer bits
        gram, rhs = products[:width, :width], products[:width, width]
        coef = kernels.ridge_solutions(gram, rhs, every)[:, 0]
        r = np.abs(these[:, width] - these[:, :width] @ coef)
        scale = _median(r[:: _MEDIAN_STRIDE // (2 if these is half else 1)])
        weighted = np.multiply(these, 1 / (r + 1 + 0.5 * scale)[:, None], out=buffer[: r.size])
        products = weighted.T @ weighted
    uses = np.zeros((width, len(candidates)), bool)
    for j, structure in enumerate(candidates):
        uses[regressors.columns(*structure), j] = True
    coefs = kernels.ridge_solutions(products[:width, :width], products[:width, width], uses)
    sizes = uses.sum(axis=0)
    part = max(1, RESP_PARTITION // stride)
    bits = stride * kernels.fit_bits(t, xs @ coefs, part)
    best = int(np.argmin(bits + 14 * sizes))
    order, codec, nb = candidates[best]
    idx = regressors.columns(order, codec, nb)
    shifts, quantised = kernels.quantised_coefficients(
        coefs[idx, best], np.array(_PRECISIONS), RESP_MAX_SHIFT, RESP_MAX_COEF_BITS
    )
    models = [Model(order, codec, regressors.neighbours[:nb], int(shift), q)
              for shift, q in zip(shifts, quantised, strict=True)]  # fmt: skip
    # Each precision's exact errors, as the decoder will recompute them, and no model at all
    candidate_coefs = np.zeros((width, len(models) + 1), np.int64)
    candidate_coefs[idx, 1:] = quantised.T
    bits = stride * kernels.prediction_bits(
        _accumulators(candidate_coefs, regressors, xs, lo, hi, stride),
        np.concatenate([[0], shifts]), y_prev[lo:hi:stride], sig.decoded[c, lo:hi:stride],
        k[c, lo:hi:stride], int(sig.steps[c, 0]), part,
    )  # fmt: skip
    sizes = [0] + [m.coef_bits * m.coefs.size + 16 * nb for m in models]
    return ([EMPTY] + models)[int(np.argmin(bits + np.array(sizes)))]


def _median(values: np.ndarray) -> float:
    """np.median through np.partition: the same value without np.median's overhead, which
    was a tenth of the fits' time on their small samples."""
    middle = values.size // 2
    if values.size % 2:
        return float(np.partition(values, middle)[middle])
    low, high = np.partition(values, [middle - 1, middle])[middle - 1 : middle + 1]
    return float((low + high) / 2)


def _profile(errors: np.ndarray) -> np.ndarray:
    """A channel's errors as _neighbours compares them: every 4th sample, centred, scaled to
    unit norm (made once per channel, not once per later channel)."""
    e = errors[::4].astype(np.float64)
    e -= e.mean()
    return e / (np.sqrt(e @ e) + 1e-9)


def _neighbours(v: np.ndarray, earlier: np.ndarray) -> tuple[int, ...]:
    """The earlier channels whose errors are likeliest to help predict v: the
    _NEIGHBOURS_USED whose profiles (``earlier``, one row each) have the largest |correlation|
    with v (on every 4th sample of the block), in channel order."""
    c = earlier.shape[0]
    if c <= _NEIGHBOURS_USED:
        return tuple(range(c))
    score = np.abs(earlier @ (v[::4] - v[::4].mean()))
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
    sig = Signals.of(decoded, steps, residuals.shape)
    k = residuals.astype(np.int64)
    y = sig.decoded + sig.steps * k
    y_prev = np.concatenate([sig.decoded[:, :1], y[:, :-1]], axis=1)
    padded = _Padded.of(k, sig, decoded is not None)
    spans = segments(k.shape[1], segment)
    errors = padded.errors[:, _PAD:-_PAD]
    profiles = np.empty((k.shape[0], len(range(0, k.shape[1], 4))))
    models = []
    for c in range(k.shape[0]):
        v = _zero_padded((y[c] - y_prev[c])[None])[0]
        regressors = _Regressors.of(c, padded, v, _neighbours(v[_PAD:-_PAD], profiles[:c]))
        row = [_fit(regressors, lo, hi, c, sig, k, y_prev[c], v[_PAD:-_PAD]) for lo, hi in spans]
        only_c = slice(c, c + 1)
        padded.set_errors(c, _recursion([row], only_c, k[only_c], True, sig, errors, spans)[0])
        profiles[c] = _profile(errors[c])
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
    rows: list[list[Model]], channels: slice, series: np.ndarray, encode: bool,
    sig: Signals, errors: np.ndarray, spans: list[tuple[int, int]],
) -> np.ndarray:  # fmt: skip
    """The errors of ``channels`` (one row of models each) from their residuals k
    (``encode``), or their k from their errors, given the earlier channels' errors
    (compiled: one prediction per sample; decoding runs the channels side by side)."""
    from . import kernels  # numba: imported only where residuals are coded

    numbers = range(sig.decoded.shape[0])[channels]
    shape = (len(numbers), len(spans))
    taps = np.zeros((*shape, RESP_MAX_ORDER), np.int64)
    orders, shifts, gains = (np.zeros(shape, np.int64) for _ in range(3))
    known = np.empty(series.shape, np.int64)
    for row, (c, models) in enumerate(zip(numbers, rows, strict=True)):
        for j, (m, (lo, hi)) in enumerate(zip(models, spans, strict=True)):
            taps[row, j, : m.order] = m.coefs[: m.order]
            orders[row, j], shifts[row, j] = m.order, m.shift
            gains[row, j] = m.coefs[m.order] if m.codec_lags else 0
            known[row, lo:hi] = _known_terms(m, sig.slope[c], errors, lo, hi) + _half(m.shift)
    return kernels.channel_recursion(
        series, encode, known, sig.decoded[channels], sig.steps[channels, 0],
        np.array(spans, np.int64).reshape(-1, 2), taps, orders, shifts, gains,
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
    sig = Signals.of(decoded if codec_terms else None, steps, (n_channels, n))
    return _recursion(models, slice(0, n_channels), errors, False, sig, errors, spans)
