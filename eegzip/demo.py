"""Synthetic but realistic clinical-style EEG as an EDF+C file, for demos and tests.

Real recordings cannot ship with the package, so this builds one with the features a codec
and its metrics must cope with: 1/f background correlated between neighbouring electrodes,
posterior alpha that follows eyes closed/open, DC offsets, blinks, a movement artefact, ECG,
a trigger channel and EDF+ annotations (one with non-ASCII text). Deterministic for a seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eegzip.edf.annotations import Annotation, encode_tals
from eegzip.edf.header import EdfHeader, SignalHeader, build_header
from eegzip.edf.writer import EdfWriter

FS = 256  # Hz; one data record per second
ANNOTATION_SAMPLES = 60  # 120 bytes per record: room for the time-keeping TAL plus two events

# 10-20 electrodes with rough positions on the flattened scalp (x: left→right, y: back→front).
ELECTRODES = {
    "Fp1": (-0.31, 0.95), "Fp2": (0.31, 0.95),
    "F7": (-0.81, 0.59), "F3": (-0.40, 0.50), "Fz": (0.00, 0.45), "F4": (0.40, 0.50),
    "F8": (0.81, 0.59),
    "T3": (-1.00, 0.00), "C3": (-0.50, 0.00), "Cz": (0.00, 0.00), "C4": (0.50, 0.00),
    "T4": (1.00, 0.00),
    "T5": (-0.81, -0.59), "P3": (-0.40, -0.50), "Pz": (0.00, -0.45), "P4": (0.40, -0.50),
    "T6": (0.81, -0.59),
    "O1": (-0.31, -0.95), "O2": (0.31, -0.95),
}  # fmt: skip

_UV = {"physical_dimension": "uV", "physical_min": -3276.8, "physical_max": 3276.7,
       "digital_min": -32768, "digital_max": 32767}  # fmt: skip


def _spectral_noise(
    rng: np.random.Generator, shape: tuple[int, int], weights: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Gaussian noise whose amplitude spectrum is `weights(freqs)`, scaled to unit RMS."""
    n = shape[-1]
    freqs = np.fft.rfftfreq(n, 1 / FS)
    spectrum = rng.standard_normal((shape[0], freqs.size)) + 1j * rng.standard_normal(
        (shape[0], freqs.size)
    )
    x = np.fft.irfft(spectrum * weights(freqs), n)
    return x / x.std(axis=1, keepdims=True)


def _pink(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """1/f power above 0.3 Hz, steepening to 1/f^3 above 20 Hz as scalp EEG does."""
    return _spectral_noise(
        rng, (rows, n), lambda f: 1 / np.sqrt(np.maximum(f, 0.3) * (1 + (f / 20) ** 2))
    )


def _band(rng: np.random.Generator, rows: int, n: int, centre: float, width: float) -> np.ndarray:
    """Narrow-band rhythm around `centre` Hz with a naturally waxing and waning envelope."""
    return _spectral_noise(rng, (rows, n), lambda f: np.exp(-0.5 * ((f - centre) / width) ** 2))


def _smooth_step(t: np.ndarray, at: float, rise: float = 0.4) -> np.ndarray:
    """0 → 1 around `at`, over about `rise` seconds (logistic, written with tanh)."""
    return 0.5 * (1 + np.tanh((t - at) / (rise / 2)))


def _eeg(rng: np.random.Generator, t: np.ndarray, closed: tuple[float, float],
         movement: tuple[float, float], ecg: np.ndarray) -> np.ndarray:  # fmt: skip
    """19 × n EEG in µV."""
    n = t.size
    pos = np.array(list(ELECTRODES.values()))
    names = list(ELECTRODES)

    # Background: a few 1/f sources spread over the scalp, mixed by distance, plus local noise.
    src_pos = rng.uniform(-1, 1, (8, 2))
    dist2 = ((pos[:, None, :] - src_pos[None, :, :]) ** 2).sum(-1)
    mixed = np.exp(-dist2 / (2 * 0.45**2)) @ _pink(rng, 8, n)
    eeg = 14 * mixed / mixed.std(axis=1, keepdims=True) + 5 * _pink(rng, 19, n)

    # Posterior alpha (left and right generators), strong with eyes closed.
    eyes_closed = _smooth_step(t, closed[0]) * (1 - _smooth_step(t, closed[1]))
    alpha_gain = 0.25 + 0.75 * eyes_closed
    posterior = np.clip((0.2 - pos[:, 1]) / 1.15, 0.05, 1.0) ** 1.5
    left = np.clip(0.5 - pos[:, 0], 0.2, 1.0)
    alpha = _band(rng, 2, n, rng.uniform(9.5, 10.5), 0.5)
    alpha_mix = left[:, None] * alpha[0] + (1.2 - left)[:, None] * alpha[1]
    eeg += 28 * posterior[:, None] * alpha_gain * alpha_mix

    # Frontal-midline theta and fronto-central beta.
    midline = np.exp(-(pos[:, 0] ** 2) / 0.1) * np.exp(-((pos[:, 1] - 0.3) ** 2) / 0.3)
    eeg += 6 * midline[:, None] * _band(rng, 1, n, 6.0, 0.7)
    frontal = np.clip(pos[:, 1] + 0.5, 0.1, 1.5)
    eeg += 3 * frontal[:, None] * _band(rng, 19, n, 20.0, 3.0)

    # Mains pickup, a little ECG, slow electrode drift.
    mains_phase = rng.uniform(0, 2 * np.pi, (19, 1))
    eeg += rng.uniform(0.3, 1.2, (19, 1)) * np.sin(2 * np.pi * 50 * t + mains_phase)
    eeg += rng.uniform(0.002, 0.006, (19, 1)) * ecg
    eeg += 6 * _spectral_noise(rng, (19, n), lambda f: (f > 0) / np.maximum(f, 0.02) ** 1.5)

    # Blinks with eyes open: 150-300 µV at Fp1/Fp2, fading towards the back.
    near_eyes = np.exp(-((pos - [0.0, 1.15]) ** 2).sum(1) / (2 * 0.35**2))
    blink_t = 0.0
    while True:
        blink_t += rng.exponential(4.0) + 1.0
        if blink_t >= t[-1] - 1:
            break
        if closed[0] - 0.5 < blink_t < closed[1] + 0.5:
            continue
        lo, hi = np.searchsorted(t, [blink_t, blink_t + 1.5])
        since = (t[lo:hi] - blink_t) / 0.08
        eeg[:, lo:hi] += rng.uniform(150, 300) * near_eyes[:, None] * since * np.exp(1 - since)

    # Movement: big slow swings everywhere plus muscle (EMG) bursts on temporal electrodes.
    window = _smooth_step(t, movement[0], 0.2) * (1 - _smooth_step(t, movement[1], 0.2))
    swings = _spectral_noise(rng, (19, n), lambda f: np.exp(-f / 1.5))
    emg = _spectral_noise(rng, (19, n), lambda f: (f > 25) * 1.0)
    temporal = np.array([1.0 if name[0] == "T" or name in ("F7", "F8") else 0.3 for name in names])
    eeg += window * (rng.uniform(80, 200, (19, 1)) * swings + 40 * temporal[:, None] * emg)

    # DC offsets: tens of µV everywhere, a few hundred on three poorly attached electrodes.
    dc = rng.normal(0, 40, 19)
    dc[rng.choice(19, 3, replace=False)] += rng.choice([-1, 1], 3) * rng.uniform(200, 500, 3)
    return eeg + dc[:, None]


def _ecg(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Lead-II-like ECG in µV: P-QRS-T waves at ~70 bpm with heart-rate variability."""
    waves = ((-0.20, 0.025, 120), (-0.03, 0.010, -150), (0.0, 0.010, 1000),
             (0.03, 0.010, -250), (0.25, 0.040, 300))  # fmt: skip
    ecg = np.zeros_like(t)
    beat = rng.uniform(0.2, 0.8)
    while beat < t[-1] + 1:
        lo, hi = np.searchsorted(t, [beat - 0.4, beat + 0.6])
        for dt, width, amp in waves:
            ecg[lo:hi] += amp * np.exp(-0.5 * ((t[lo:hi] - beat - dt) / width) ** 2)
        beat += 60 / 70 * rng.normal(1.0, 0.04)
    return ecg + 15 * _pink(rng, 1, t.size)[0] + 40 * np.sin(2 * np.pi * 0.25 * t)


def _signal_headers() -> tuple[SignalHeader, ...]:
    eeg = [
        SignalHeader(label=f"EEG {name}", transducer="AgAgCl cup electrode",
                     prefilter="HP:0.1Hz LP:70Hz", samples_per_record=FS, **_UV)
        for name in ELECTRODES
    ]  # fmt: skip
    return (
        *eeg,
        SignalHeader(label="ECG", transducer="AgAgCl electrode", prefilter="HP:0.1Hz LP:70Hz",
                     samples_per_record=FS, **_UV),
        SignalHeader(label="Trigger", physical_dimension="", physical_min=0, physical_max=255,
                     digital_min=0, digital_max=255, samples_per_record=FS),
        SignalHeader(label="EDF Annotations", physical_dimension="", physical_min=-1,
                     physical_max=1, digital_min=-32768, digital_max=32767,
                     samples_per_record=ANNOTATION_SAMPLES),
    )  # fmt: skip


def make_demo_edf(
    path: str | os.PathLike[str], seconds: int = 120, seed: int = 0, force: bool = False
) -> Path:
    """Write a `seconds`-long synthetic EDF+C recording to `path` and return the path."""
    if seconds < 10:
        raise ValueError(f"demo recordings need at least 10 seconds, not {seconds}")
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * FS) / FS

    def quarter(frac: float) -> float:
        """Onsets on a 0.25 s grid, so they are exact in binary and in the TAL text."""
        return round(frac * seconds * 4) / 4

    closed = (quarter(0.15), quarter(0.55))
    movement = (quarter(0.8), quarter(0.8) + 2.0)
    annotations = [
        Annotation(closed[0], None, "eyes closed"),
        Annotation(closed[1], None, "eyes open"),
        Annotation(movement[0], 2.0, "Patient bewegt sich – Artefakt"),
    ]

    ecg = _ecg(rng, t)
    physical = np.vstack([_eeg(rng, t, closed, movement, ecg), ecg])
    digital = np.clip(np.round(physical / 0.1), -32768, 32767).astype(np.int32)
    trigger = np.zeros(t.size, np.int32)
    for code, onset in ((1, closed[0]), (2, closed[1])):
        trigger[int(onset * FS) : int((onset + 0.2) * FS)] = code

    signals = _signal_headers()
    header = EdfHeader(
        patient=f"DEMO-{seed:04d} X X Synthetic_EEG",
        recording="Startdate 15-MAR-2024 X X eegzip_demo",
        startdate="15.03.24",
        starttime="09.30.00",
        reserved="EDF+C",
        n_records=seconds,
        record_duration_raw="1",
        signals=signals,
    )
    tal_size = 2 * ANNOTATION_SAMPLES
    with EdfWriter(path, build_header(header), force=force) as writer:
        for start in range(0, seconds, 60):
            stop = min(start + 60, seconds)
            tals = b"".join(
                encode_tals(r, [a for a in annotations if r <= a.onset < r + 1], tal_size)
                for r in range(start, stop)
            )
            span = slice(start * FS, stop * FS)
            writer.write_records([*digital[:, span], trigger[span], tals])
    return writer.path
