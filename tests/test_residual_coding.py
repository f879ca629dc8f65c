"""The RESP coder: exact round trips on any integer signal, and bytes that never drift."""

from __future__ import annotations

import hashlib
import importlib

import constriction
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eegzip.container import kernels
from eegzip.container.entropy import decode_errors, encode_errors
from eegzip.container.format import (
    RANGE_PRECISION,
    RESP_CODEC_LAGS,
    RESP_DIRECT_TOKENS,
    RESP_TOKENS,
)
from eegzip.container.residual_coding import (
    Model,
    _decode_models,
    decode_residuals,
    encode_model,
    encode_residuals,
)

EDF = (-(2**15), 2**15 - 1)
BDF = (-(2**23), 2**23 - 1)


def residuals_for(original: np.ndarray, decoded: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """As the pipeline quantises them (signals.residual_for)."""
    half = (steps[:, None] - 1) // 2
    return np.floor_divide(original.astype(np.int64) - decoded + half, steps[:, None])


def round_trip(original, decoded, steps, segment=64, partition=16) -> bytes:
    k = residuals_for(original, decoded, steps).astype(np.int32)
    data = encode_residuals(k, decoded, steps, segment, partition)
    back = decode_residuals(data, decoded, steps, segment, partition)
    assert np.array_equal(back, k)
    if (steps == 1).all():
        assert np.array_equal(decoded + back, original)
    return data


@st.composite
def signals(draw):
    low, high = draw(st.sampled_from([EDF, BDF]))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 300)))
    kind = draw(st.sampled_from(["random", "smooth", "constant", "extremes"]))
    if kind == "random":
        x = draw(hnp.arrays(np.int64, shape, elements=st.integers(low, high)))
    elif kind == "smooth":
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        x = np.cumsum(rng.integers(-50, 51, shape), axis=1) + rng.integers(low // 2, high // 2)
        x = np.clip(x, low, high)
    elif kind == "constant":
        x = np.full(shape, draw(st.integers(low, high)))
    else:
        x = draw(hnp.arrays(np.int64, shape, elements=st.sampled_from([low, high, 0, -1])))
    decoded = np.clip(x + draw(st.integers(-1000, 1000)), low, high).astype(np.int32)
    if draw(st.booleans()):
        decoded = np.full(shape, draw(st.integers(low, high)), np.int32)
    steps = np.array(draw(st.lists(st.sampled_from([1, 1, 3, 7, 1789, 2**17 + 1]),
                                   min_size=shape[0], max_size=shape[0])))  # fmt: skip
    return x, decoded, steps


@settings(max_examples=80, deadline=None)
@given(signals())
def test_any_signal_round_trips(case) -> None:
    round_trip(*case)


def test_prediction_beats_first_differences_on_correlated_channels() -> None:
    rng = np.random.default_rng(1)
    common = np.cumsum(rng.normal(0, 30, 4000))
    x = np.stack([common + rng.normal(0, 3, 4000) for _ in range(4)]).round().astype(np.int64)
    decoded = np.zeros_like(x, dtype=np.int32)
    data = round_trip(x, decoded, np.ones(4, np.int64), segment=8192, partition=128)
    first_differences = encode_errors(np.diff(x, axis=1, prepend=0), 128)
    assert len(data) < 0.8 * len(first_differences)


def test_long_segments_and_many_channels_round_trip_with_chosen_neighbours() -> None:
    """Segments of 8192 samples and more are fitted and scored on sampled rows, and channels
    after the 8th predict from the 8 earlier ones whose errors correlate most: the decoder
    must still give back every sample, with codec terms and steps above 1 too."""
    rng = np.random.default_rng(7)
    n = 9000
    pairs = np.cumsum(rng.normal(0, 20, (6, n)), axis=1)
    x = np.concatenate([pairs, pairs[::-1] + rng.normal(0, 2, (6, n))]).round().astype(np.int64)
    decoded = (x + rng.integers(-40, 41, x.shape)).astype(np.int32)
    steps = np.array([1, 3] * 6, np.int64)
    data = round_trip(x, decoded, steps, segment=8192, partition=128)
    models, _ = _decode_models(data, 12, 2, codec_terms=True)
    chosen = [(c, m.neighbours) for c in range(9, 12) for m in models[c] if m.neighbours]
    assert chosen and all(len(nb) == 8 for _, nb in chosen)
    # channel c (c > 5) follows channel 11 - c: the selection keeps that one
    assert all(11 - c in nb for c, nb in chosen)


def test_predictions_too_large_for_float64_stay_exact() -> None:
    """The encoder sums predictions in float64 only while that is exact (< 2**53); residuals
    of 2**50 make the sums overflow it, so the encoder must use the decoder's int64 sums."""
    rng = np.random.default_rng(5)
    smooth = np.sin(np.arange(400) / 5)[None] * 2.0**50
    k = smooth.astype(np.int64) + rng.integers(-(2**30), 2**30, (3, 400))
    steps = np.ones(3, np.int64)
    data = encode_residuals(k, None, steps, 128, 16)
    back = decode_residuals(data, np.zeros_like(k), steps, 128, 16, codec_terms=False)
    assert np.array_equal(back, k)
    # With a step above 1 the recursion divides: through float64 below 2**52, in int64 above
    steps = np.array([3, 7, 1], np.int64)
    data = encode_residuals(k, None, steps, 128, 16)
    back = decode_residuals(data, np.zeros_like(k), steps, 128, 16, codec_terms=False)
    assert np.array_equal(back, k)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int64, st.tuples(st.integers(1, 3), st.integers(1, 200)),
                  elements=st.integers(-(2**63), 2**63 - 1)))  # fmt: skip
def test_entropy_layer_round_trips_all_of_int64(errors: np.ndarray) -> None:
    assert np.array_equal(decode_errors(encode_errors(errors, 16), *errors.shape, 16), errors)


def test_tokens_are_exact_at_powers_of_two() -> None:
    u = [0, 15, 16, 17, 2**53 - 1, 2**53, 2**53 + 1, 2**63, 2**64 - 1]
    tokens = [kernels.token_of(np.uint64(value), RESP_DIRECT_TOKENS) for value in u]
    assert [n_raw + 3 for _, n_raw in tokens] == [3, 3, 5, 5, 53, 54, 54, 64, 64]  # bit lengths
    assert max(token for token, _ in tokens) < RESP_TOKENS
    # zigzag: 0, -1, 1, -2, … → 0, 1, 2, 3, …
    errors = np.array([[(v >> 1) ^ -(v & 1) for v in u]], np.int64)
    assert np.array_equal(decode_errors(encode_errors(errors, 4), 1, len(u), 4), errors)


@settings(deadline=None)  # the first call compiles
@given(st.integers(-(2**63), 2**63 - 1) | st.integers(-(2**53), 2**53),
       st.sampled_from([1, 2, 3, 7, 1789, 2**17 + 1]) | st.integers(1, 2**40))  # fmt: skip
def test_the_recursions_division_is_exact(a: int, b: int) -> None:
    """Through float64 below 2**52 (faster), in int64 above: always Python's floor division,
    which the spec's decoder computes."""
    assert kernels._floor_divide(np.int64(a), np.int64(b)) == a // b


@settings(deadline=None)  # the first call compiles
@given(hnp.arrays(np.int64, RESP_TOKENS, elements=st.integers(0, 2**24)))
def test_chunk_models_fill_the_range_exactly(counts: np.ndarray) -> None:
    left = np.zeros(RESP_TOKENS + 1, np.uint64)
    kernels.chunk_model(np.ones(RESP_TOKENS, np.int64), counts, 2, RANGE_PRECISION, left)
    assert left[-1] == 1 << RANGE_PRECISION and np.diff(left.astype(np.int64)).min() >= 1


def _spec_weights(prior: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The spec's model weights (§5.10), written out independently of kernels.chunk_model."""
    base = prior + 2 * counts
    total = (1 << RANGE_PRECISION) - base.size
    weights = base * total // base.sum()
    weights[int(np.argmax(base))] += total - weights.sum()
    return weights


def _constriction_words(sequences: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The reference: constriction 0.5's queue range coder on the spec's adaptive sequences."""
    encoder = constriction.stream.queue.RangeEncoder()
    for symbols, prior in sequences:
        counts = np.zeros(prior.size, np.int64)
        lo, edge = 0, 16
        while lo < symbols.size:
            hi = min(symbols.size, edge)
            model = constriction.stream.model.Categorical(
                _spec_weights(prior, counts).astype(np.float64), perfect=False
            )
            encoder.encode(symbols[lo:hi].astype(np.int32), model)
            counts += np.bincount(symbols[lo:hi], minlength=prior.size)
            lo, edge = hi, 2 * edge
    return encoder.get_compressed()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(2, 256), st.integers(0, 3000), st.integers(0, 2**32 - 1),
                          st.floats(0.3, 80.0)), min_size=1, max_size=3))  # fmt: skip
def test_the_compiled_range_coder_is_constrictions_word_for_word(sequences) -> None:
    """Sequences of any alphabet and skew, long enough for the encoder's carries (the
    interval wrapping, its held-back words) to happen many times."""
    coded = []
    for size, n, seed, spread in sequences:
        rng = np.random.default_rng(seed)
        prior = rng.integers(0, 17, size)
        prior[rng.integers(size)] = 16
        symbols = np.clip(np.round(np.abs(rng.laplace(0, spread, n))), 0, size - 1).astype(np.int64)
        coded.append((symbols, prior))
    reference = _constriction_words(coded)
    state, words = kernels.range_encoder(sum(symbols.size for symbols, _ in coded))
    for symbols, prior in coded:
        kernels.encode_adaptive(symbols, prior, RANGE_PRECISION, 16, 2, state, words)
    assert np.array_equal(kernels.sealed_words(state, words), reference)
    reading = kernels.range_decoder(reference)
    for symbols, prior in coded:
        back, valid = kernels.decode_adaptive(
            reference, reading, symbols.size, prior, RANGE_PRECISION, 16, 2
        )
        assert valid and np.array_equal(back, symbols)


def test_entropy_bytes_are_pinned() -> None:
    """Integer-only, so any machine, a second implementation or another constriction release
    must give exactly these bytes."""
    rng = np.random.default_rng(7)
    errors = np.round(rng.laplace(0, 20, (3, 500))).astype(np.int64)
    errors[0, :3] = [2**62, -(2**62), 0]
    data = encode_errors(errors, 16)
    assert len(data) == 1442
    assert hashlib.sha256(data).hexdigest() == (
        "002ffcc3f2e43cf1b7bd10859258917a4c67e6d257116f6858a3a1286b7d5263"
    )


def reference_decode(models, errors, decoded, steps, segment) -> np.ndarray:
    """Spec §5.10's recursion, sample by sample in Python integers: the second implementation.

    Integers wrap to int64 before each shift and division, as the spec says.
    """
    n_channels, n = errors.shape

    def wrap(value):
        return (value + 2**63) % 2**64 - 2**63

    def at(series, t):
        return int(series[t]) if 0 <= t < n else 0

    slope = [[0] + [int(d[t]) - int(d[t - 1]) for t in range(1, n)] for d in decoded]
    k = [[0] * n for _ in range(n_channels)]
    for c in range(n_channels):
        y_prev, v = int(decoded[c][0]), []
        for t in range(n):
            m = models[c][t // segment]
            coefs = [int(q) for q in m.coefs]
            acc = sum(coefs[i - 1] * (v[t - i] if t >= i else 0) for i in range(1, m.order + 1))
            j = m.order
            if m.codec_lags:
                acc += coefs[j] * (k[c][t - 1] if t else 0)
                j += 1
                for lag in range(1 - m.codec_lags, m.codec_lags):
                    acc += coefs[j] * (slope[c][t + lag] if 0 <= t + lag < n else 0)
                    j += 1
            for o in m.neighbours:
                for lag in (-1, 0, 1):
                    acc += coefs[j] * at(errors[o], t + lag)
                    j += 1
            guess = y_prev + (wrap(acc + ((1 << m.shift) >> 1)) >> m.shift)
            step = int(steps[c])
            k_hat = wrap(guess - int(decoded[c][t]) + (step - 1) // 2) // step
            k[c][t] = wrap(int(errors[c][t]) + k_hat)
            y = wrap(int(decoded[c][t]) + step * k[c][t])
            v.append(wrap(y - y_prev))
            y_prev = y
    return np.array(k)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_decoder_follows_the_spec(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_channels, n, segment = int(rng.integers(1, 4)), int(rng.integers(1, 120)), 40
    models = []
    for c in range(n_channels):
        row = []
        for _ in range(-(-n // segment)):
            order, codec = int(rng.integers(0, 6)), int(rng.integers(0, RESP_CODEC_LAGS + 1))
            neighbours = tuple(int(o) for o in rng.permutation(c)[: rng.integers(0, c + 1)])
            count = order + 2 * codec + 3 * len(neighbours)
            coefs = rng.integers(-3000, 3000, count).astype(np.int64)
            row.append(Model(order, codec, neighbours, int(rng.integers(0, 12)), coefs))
        models.append(row)
    errors = rng.integers(-50, 51, (n_channels, n)).astype(np.int64)
    decoded = rng.integers(-1000, 1000, (n_channels, n)).astype(np.int32)
    steps = rng.choice([1, 3, 7], n_channels)
    body = b"".join(encode_model(m) for row in models for m in row) + encode_errors(errors, 8)
    expected = reference_decode(models, errors, decoded, steps, segment)
    assert np.array_equal(decode_residuals(body, decoded, steps, segment, 8), expected)


def test_malformed_bodies_are_value_errors() -> None:
    decoded = np.zeros((2, 50), np.int32)
    steps = np.ones(2, np.int64)
    data = encode_residuals(np.ones((2, 50), np.int32), decoded, steps, 64, 16)
    for bad in (data[:3], data + b"\0", data[:-1], b"\xff" * len(data)):
        with pytest.raises(ValueError):
            decode_residuals(bad, decoded, steps, 64, 16)


def test_kernels_work_where_no_cache_can_be_written(monkeypatch) -> None:
    """A read-only install with a read-only home leaves numba no cache folder; eegzip then
    compiles its kernels in each process instead of failing at import."""
    from numba.core import caching

    from eegzip.container import kernels

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    try:
        uncached = importlib.reload(kernels)
        assert uncached.token_of(np.uint64(2**40), RESP_DIRECT_TOKENS) == (160, 38)
    finally:
        monkeypatch.undo()
        importlib.reload(kernels)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.int32, st.tuples(st.integers(1, 3), st.integers(1, 50)),
                  elements=st.integers(-(2**31), 2**31 - 1)),
       st.lists(st.sampled_from([1, 3, 7, 1789, 2**17 + 1]) | st.integers(1, 2**31 - 1),
                min_size=3, max_size=3))  # fmt: skip
def test_resi_quantiser_is_integer_floor_division(samples: np.ndarray, steps: list[int]) -> None:
    """quantised divides through float64 (exact for 32-bit samples); it must give the integer
    k = floor((x + (step − 1)/2) / step) of the spec on any sample and step."""
    from eegzip.edf.header import SignalHeader
    from eegzip.pipeline.signals import quantised

    step = np.array(steps[: samples.shape[0]], np.int64)
    header = SignalHeader(
        label="EEG", physical_dimension="uV", physical_min=-1.0, physical_max=1.0,
        digital_min=-(2**31), digital_max=2**31 - 1, samples_per_record=samples.shape[1],
    )  # fmt: skip
    k, _, _ = quantised(samples, step, [header] * samples.shape[0])
    expected = [[(int(x) + (int(s) - 1) // 2) // int(s) for x in row]
                for row, s in zip(samples, step, strict=True)]  # fmt: skip
    assert k.tolist() == expected
