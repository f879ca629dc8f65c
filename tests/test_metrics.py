"""Tests of eegzip.metrics: known values, streaming exactness, DAC loss semantics, edge cases."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from scipy.signal import resample_poly

from eegzip.metrics import (
    DAC_MEL_CONFIG,
    FidelityAccumulator,
    MelLossConfig,
    MultiScaleMelLoss,
    MultiScaleSTFTLoss,
    PairMoments,
    band_power_errors,
    band_powers,
    compare,
    mel_filterbank,
    mel_loss,
    nmse,
    pearson_r,
    prd,
    prdn,
    snr_db,
    welch_psd,
)

# Every metric promises explicit edge cases without numpy/scipy warning spam.
pytestmark = pytest.mark.filterwarnings("error")

FS = 256.0


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Small tensors: on a busy 2-core machine, thread hand-offs cost more than they save."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _eeg_like(rng: np.random.Generator, channels: int, samples: int) -> np.ndarray:
    """Brown-ish noise plus a 10 Hz rhythm and a per-channel DC offset, in µV."""
    t = np.arange(samples) / FS
    walk = np.cumsum(rng.normal(size=(channels, samples)), axis=1) * 0.5
    walk -= walk.mean(axis=1, keepdims=True)
    alpha = 20.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 2 * np.pi, (channels, 1)))
    offsets = rng.uniform(-500.0, 500.0, (channels, 1))
    return walk + alpha + offsets + rng.normal(scale=5.0, size=(channels, samples))


# --- waveform metrics -------------------------------------------------------------------------


def test_identity_is_perfect() -> None:
    x = np.random.default_rng(0).normal(size=1000)
    assert prd(x, x) == 0.0
    assert prdn(x, x) == 0.0
    assert nmse(x, x) == 0.0
    assert snr_db(x, x) == math.inf
    assert pearson_r(x, x) == 1.0


def test_half_amplitude_gives_prd_50() -> None:
    x = np.random.default_rng(1).normal(loc=3.0, size=2000)
    assert prd(x, 0.5 * x) == pytest.approx(50.0, rel=1e-12)


def test_snr_of_additive_white_noise() -> None:
    rng = np.random.default_rng(2)
    t = np.arange(200_000) / FS
    amplitude, sigma = 10.0, 1.0
    x = 7.0 + amplitude * np.sin(2 * np.pi * 5.0 * t)  # the offset must not count as signal
    y = x + rng.normal(scale=sigma, size=x.size)
    expected = 10 * np.log10((amplitude**2 / 2) / sigma**2)
    assert snr_db(x, y) == pytest.approx(expected, abs=0.05)
    assert prdn(x, y) == pytest.approx(100 * math.sqrt(nmse(x, y)), rel=1e-12)
    assert snr_db(x, y) == pytest.approx(-10 * math.log10(nmse(x, y)), rel=1e-12)


def test_pearson_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=500)
    y = 0.3 * x + rng.normal(size=500)
    assert pearson_r(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)


def test_multichannel_is_per_channel() -> None:
    rng = np.random.default_rng(4)
    x = _eeg_like(rng, 3, 800)
    y = x + rng.normal(size=x.shape)
    for metric in (prd, prdn, snr_db, nmse, pearson_r):
        values = metric(x, y)
        assert isinstance(values, np.ndarray) and values.shape == (3,)
        np.testing.assert_allclose(values, [metric(x[c], y[c]) for c in range(3)], rtol=1e-12)


def test_degenerate_signals_are_explicit() -> None:
    zeros = np.zeros(100)
    noise = np.random.default_rng(5).normal(size=100)
    # Nothing to reconstruct and nothing lost.
    assert (prd(zeros, zeros), nmse(zeros, zeros), snr_db(zeros, zeros)) == (0.0, 0.0, math.inf)
    assert pearson_r(zeros, zeros) == 1.0
    # Error against a reference with no energy.
    assert (prd(zeros, noise), prdn(zeros, noise), nmse(zeros, noise)) == (math.inf,) * 3
    assert snr_db(zeros, noise) == -math.inf
    assert math.isnan(pearson_r(zeros, noise))
    # A flat but nonzero original: PRD is finite, the mean-removed ratios are not.
    flat = np.full(100, 4.0)
    assert math.isfinite(prd(flat, flat + noise))
    assert prdn(flat, flat + noise) == math.inf


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        prd(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="non-empty"):
        prd(np.zeros(0), np.zeros(0))


def test_moments_merge_exactly_despite_large_offsets() -> None:
    rng = np.random.default_rng(6)
    x = 1e5 + rng.normal(size=(2, 3001))
    y = x + rng.normal(scale=1e-3, size=x.shape)
    whole = PairMoments.of(x, y)
    merged = PairMoments.of(x[:, :1000], y[:, :1000])
    for start, stop in ((1000, 1001), (1001, 2500), (2500, 3001)):
        merged = merged.merge(PairMoments.of(x[:, start:stop], y[:, start:stop]))
    assert merged.n == whole.n
    for field in ("mean_x", "m2_x", "m2_y", "c_xy", "energy_x", "sse"):
        np.testing.assert_allclose(getattr(merged, field), getattr(whole, field), rtol=1e-9)


# --- band powers ------------------------------------------------------------------------------


def test_halved_alpha_gives_error_075() -> None:
    t = np.arange(int(60 * FS)) / FS
    alpha, beta = np.sin(2 * np.pi * 10.0 * t), np.sin(2 * np.pi * 20.0 * t)
    errors = band_power_errors(alpha + beta, 0.5 * alpha + beta, FS)
    assert errors["alpha"] == pytest.approx(0.75, abs=1e-3)
    assert errors["beta"] == pytest.approx(0.0, abs=1e-3)


def test_band_power_is_in_physical_units() -> None:
    t = np.arange(int(60 * FS)) / FS
    freqs, psd = welch_psd(3.0 * np.sin(2 * np.pi * 10.0 * t), FS)
    assert freqs[1] - freqs[0] == pytest.approx(0.25)  # 4-s segments
    assert band_powers(freqs, psd)["alpha"] == pytest.approx(4.5, rel=1e-3)  # A²/2


@pytest.mark.parametrize(
    ("fs", "present", "absent"),
    [(64.0, {"gamma"}, set()), (50.0, {"beta"}, {"gamma"}), (20.0, {"alpha"}, {"beta", "gamma"})],
)
def test_bands_are_cut_at_nyquist(fs: float, present: set[str], absent: set[str]) -> None:
    x = np.random.default_rng(7).normal(size=int(20 * fs))
    errors = band_power_errors(x, x, fs)
    assert present <= errors.keys()
    assert not absent & errors.keys()


def test_short_signal_psd_keeps_the_grid() -> None:
    x = np.random.default_rng(8).normal(size=100)
    freqs_short, psd_short = welch_psd(x, FS)
    freqs_long, _ = welch_psd(np.tile(x, 20), FS)
    np.testing.assert_array_equal(freqs_short, freqs_long)
    assert np.all(np.isfinite(psd_short))


# --- mel filterbank and losses ----------------------------------------------------------------


def test_filterbank_has_unit_area_rows() -> None:
    bank = mel_filterbank(FS, 2048, 320)
    assert bank.shape == (320, 1025)
    np.testing.assert_allclose(bank.sum(axis=1) * FS / 2048, 1.0, atol=0.02)


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels"), [(256.0, 32, 5), (256.0, 2048, 320), (44100.0, 512, 80)]
)
def test_filterbank_matches_librosa(sr: float, n_fft: int, n_mels: int) -> None:
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, dtype=np.float64)
    np.testing.assert_allclose(mel_filterbank(sr, n_fft, n_mels), expected, atol=1e-12)


def test_mel_config_pins_dac() -> None:
    assert MelLossConfig() == DAC_MEL_CONFIG
    assert DAC_MEL_CONFIG.window_lengths == (32, 64, 128, 256, 512, 1024, 2048)
    assert DAC_MEL_CONFIG.n_mels == (5, 10, 20, 40, 80, 160, 320)
    assert (DAC_MEL_CONFIG.pow, DAC_MEL_CONFIG.log_weight, DAC_MEL_CONFIG.mag_weight) == (
        1.0,
        1.0,
        0.0,
    )
    with pytest.raises(ValueError, match="one entry per scale"):
        MelLossConfig(n_mels=(5, 10))


@pytest.fixture(scope="module")
def mel() -> MultiScaleMelLoss:
    return MultiScaleMelLoss(FS)


def test_mel_loss_identical_is_zero(mel: MultiScaleMelLoss) -> None:
    x = torch.randn(2, 1, 3000)
    assert mel(x, x).item() == 0.0
    assert mel_loss(np.zeros(3000), np.zeros(3000), FS) == 0.0


def test_mel_loss_of_doubled_signal_is_log10_2_per_scale(mel: MultiScaleMelLoss) -> None:
    # No bin is clamped for unit white noise, so every log difference is exactly log10(2).
    x = torch.randn(1, 4096, generator=torch.Generator().manual_seed(0))
    expected = len(DAC_MEL_CONFIG.window_lengths) * math.log10(2.0)
    assert mel(2 * x, x).item() == pytest.approx(expected, rel=1e-5)


def test_mel_loss_grows_with_noise() -> None:
    rng = np.random.default_rng(9)
    x = _eeg_like(rng, 1, 4096)[0] / 200.0
    noise = rng.normal(size=x.size) / 200.0
    losses = [mel_loss(x, x + level * noise, FS) for level in (0.1, 1.0, 10.0)]
    assert 0.0 < losses[0] < losses[1] < losses[2]


def test_mel_loss_shapes_and_reduction(mel: MultiScaleMelLoss) -> None:
    x, y = torch.randn(3, 2000), torch.randn(3, 2000)
    per_item = mel.per_item(x, y)
    assert per_item.shape == (3,)
    assert mel(x[:, None], y[:, None]).item() == pytest.approx(per_item.mean().item(), rel=1e-6)
    assert mel_loss(x.numpy(), y.numpy(), FS) == pytest.approx(per_item.mean().item(), rel=1e-6)
    assert mel(x.double(), y.double()).dtype == torch.float64  # cached per dtype
    with pytest.raises(ValueError, match="at least 1025"):
        mel(x[:, :1024], y[:, :1024])
    with pytest.raises(ValueError, match="shape mismatch"):
        mel(x, y[:2])
    with pytest.raises(ValueError, match="batch"):
        mel(x[0], y[0])


@pytest.mark.parametrize(
    "loss", [MultiScaleMelLoss(FS), MultiScaleSTFTLoss((512, 128))], ids=["mel", "stft"]
)
def test_losses_are_differentiable(loss: torch.nn.Module) -> None:
    target = torch.randn(2, 1, 2048)
    x = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    loss(x, target).backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_stft_loss_defaults_and_terms() -> None:
    assert MultiScaleSTFTLoss().window_lengths == (2048, 512)
    loss = MultiScaleSTFTLoss((64, 16))
    x = torch.randn(2, 1000, generator=torch.Generator().manual_seed(1))
    assert loss(x, x).item() == 0.0
    # y = 2x: the log term is log10(2²) (pow 2) and the magnitude term is mean |STFT(x)|.
    expected = sum(
        math.log10(4.0)
        + torch.stft(x, w, w // 4, window=torch.hann_window(w), center=True, return_complex=True)
        .abs()
        .mean()
        .item()
        for w in (64, 16)
    )
    assert loss(2 * x, x).item() == pytest.approx(expected, rel=1e-5)
    small = loss(x, x + 0.01 * torch.randn_like(x)).item()
    assert 0.0 < small < loss(x, x + torch.randn_like(x)).item()


# --- streaming report -------------------------------------------------------------------------


def _direct(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Textbook formulas on whole arrays, independent of PairMoments."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    sse = ((x - y) ** 2).sum(axis=1)
    return {
        "prd": 100 * np.sqrt(sse / (x**2).sum(axis=1)),
        "prdn": 100 * np.sqrt(sse / (xc**2).sum(axis=1)),
        "snr_db": 10 * np.log10((xc**2).sum(axis=1) / sse),
        "nmse": sse / (xc**2).sum(axis=1),
        "r": (xc * yc).sum(axis=1) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1)),
    }


@pytest.fixture(scope="module")
def recording() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(10)
    x = _eeg_like(rng, 2, int(150 * FS) + 77)
    return x, x + rng.normal(scale=3.0, size=x.shape) + 0.5


def test_streaming_equals_one_shot_numpy(recording: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = recording
    accumulator = FidelityAccumulator(["Fp1", "Fp2"], FS)
    bounds = [0, 10, 5000, 5001, 20000, 30000, x.shape[1]]
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        accumulator.update(x[:, start:stop], y[:, start:stop])
    report = accumulator.result()
    expected = _direct(x, y)
    assert report.n_samples == x.shape[1]
    for c, channel in enumerate(report.per_channel):
        for name, values in expected.items():
            assert getattr(channel, name) == pytest.approx(values[c], rel=1e-9)
    # Overall row: pooled energies, mean r.
    xc = x - x.mean(axis=1, keepdims=True)
    pooled_sse = ((x - y) ** 2).sum()
    assert report.overall.prd == pytest.approx(100 * np.sqrt(pooled_sse / (x**2).sum()), rel=1e-9)
    assert report.overall.nmse == pytest.approx(pooled_sse / (xc**2).sum(), rel=1e-9)
    assert report.overall.r == pytest.approx(expected["r"].mean(), rel=1e-9)


def test_compare_is_the_accumulator_in_64s_blocks(
    recording: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = recording
    accumulator = FidelityAccumulator(["a", "b"], FS)
    step = int(64 * FS)
    for start in range(0, x.shape[1], step):
        accumulator.update(x[:, start : start + step], y[:, start : start + step])
    streamed = accumulator.result()
    one_shot = compare(x, y, FS, ["a", "b"])
    assert one_shot == streamed
    assert set(one_shot.overall.band_error) == {"delta", "theta", "alpha", "beta", "gamma"}
    assert all(0.0 < c.mel_loss < 10.0 for c in one_shot.per_channel)


def test_short_blocks_are_merged(recording: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = recording
    x, y = x[:, : int(20 * FS)], y[:, : int(20 * FS)]
    accumulator = FidelityAccumulator(["a", "b"], FS)
    for start in range(0, x.shape[1], 100):
        accumulator.update(x[:, start : start + 100], y[:, start : start + 100])
    streamed, one_shot = accumulator.result(), compare(x, y, FS, ["a", "b"])
    assert streamed.overall.prdn == pytest.approx(one_shot.overall.prdn, rel=1e-9)
    for band, error in one_shot.overall.band_error.items():
        assert streamed.overall.band_error[band] == pytest.approx(error, rel=0.2, abs=0.01)
    assert streamed.overall.mel_loss == pytest.approx(one_shot.overall.mel_loss, rel=0.1)


def test_report_mel_is_codec_domain_loss(recording: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = recording
    x, y = x[:, : int(30 * FS)], y[:, : int(30 * FS)]
    offset = x.mean(axis=1, keepdims=True)
    xs, ys = (x - offset) / 200.0, (y - offset) / 200.0
    report = compare(x, y, FS, ["a", "b"])
    assert report.overall.mel_loss == pytest.approx(mel_loss(xs, ys, FS), rel=1e-5)
    doubled = compare(x, y, FS, ["a", "b"], mel_sample_rate=2 * FS)
    resampled = [resample_poly(s, 2, 1, axis=1) for s in (xs, ys)]
    assert doubled.overall.mel_loss == pytest.approx(mel_loss(*resampled, 2 * FS), rel=1e-5)


def test_too_short_for_mel_reports_none() -> None:
    x = np.random.default_rng(11).normal(size=(1, 500))
    report = compare(x, 0.9 * x, FS)
    assert math.isnan(report.overall.mel_loss)
    assert report.per_channel[0].label == "ch0"
    as_json = report.to_dict()
    assert as_json["overall"]["mel_loss"] is None
    assert as_json["overall"]["band_error"]["alpha"] == pytest.approx(0.19, abs=1e-6)


def test_zero_recording_is_nan_free() -> None:
    zeros = np.zeros((2, int(10 * FS)))
    report = compare(zeros, zeros, FS, ["a", "b"])
    overall = report.to_dict()["overall"]
    assert overall["snr_db"] is None  # +inf is not JSON
    assert (overall["prd"], overall["prdn"], overall["nmse"], overall["r"]) == (0, 0, 0, 1)
    assert overall["mel_loss"] == 0 and set(overall["band_error"].values()) == {0}
    json.dumps(report.to_dict(), allow_nan=False)


def test_to_dict_rounds_to_six_significant_digits() -> None:
    rng = np.random.default_rng(12)
    x = rng.normal(size=(1, 3000))
    report = compare(x, x + 1e-3 * rng.normal(size=x.shape), FS)
    prd_value = report.to_dict()["channels"][0]["prd"]
    assert prd_value == float(f"{report.per_channel[0].prd:.6g}")


def test_accumulator_errors() -> None:
    with pytest.raises(ValueError, match="at least one channel"):
        FidelityAccumulator([], FS)
    accumulator = FidelityAccumulator(["a", "b"], FS)
    with pytest.raises(ValueError, match="no samples"):
        accumulator.result()
    with pytest.raises(ValueError, match="expected 2 channels"):
        accumulator.update(np.zeros((3, 10)), np.zeros((3, 10)))
    with pytest.raises(ValueError, match="equal"):
        compare(np.zeros((1, 10)), np.zeros((1, 11)), FS)


@pytest.mark.parametrize(
    ("n", "rate"), [(10_000, 256.0), (1_500, 500.0), (700, 250.0), (4_097, 128.0)]
)
def test_welch_psd_is_scipys_welch(n: int, rate: float) -> None:
    """The numpy Welch estimate equals scipy.signal.welch with the pinned parameters, short
    signals (zero-padded to one 4-s segment) included."""
    from scipy.signal import welch

    x = np.random.default_rng(n).standard_normal((3, n)) * 20 + 5
    freqs, psd = welch_psd(x, rate)
    nfft = round(4 * rate)
    nperseg = min(nfft, n)
    ref_freqs, ref = welch(x, fs=rate, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                           nfft=nfft, detrend="constant", scaling="density", axis=-1)  # fmt: skip
    assert np.allclose(freqs, ref_freqs) and np.allclose(psd, ref, rtol=1e-9, atol=0)
