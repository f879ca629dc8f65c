"""Training data: random crops from every EEG channel of the EDFs in a split.

Channels are read once, resampled to the model rate and kept in memory as float32 µV
(the whole train split of ../shared/data is about 250 MB that way). Crops are normalised
with the same per-block scaling that compression uses, so the model sees what it will get.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eegzip.edf import EdfFile
from eegzip.pipeline.channels import select_codec_channels, uv_factor
from eegzip.pipeline.recording_info import signal_infos
from eegzip.pipeline.resample import rate_ratio, resample
from eegzip.pipeline.scaling import block_scaling, to_model_domain


def split_files(data_dir: Path, split: str, datasets: Sequence[str] | None = None) -> list[Path]:
    """EDF paths of one split from ``splits.csv`` (columns dataset, file, subject, split)."""
    table = data_dir / "splits.csv"
    if not table.exists():
        raise FileNotFoundError(f"{table}: no split table")
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        data_dir / row["file"]
        for row in rows
        if row["split"] == split and (not datasets or row["dataset"] in datasets)
    ]


AUDIO_RATE = 4000
"""Audio for the audio-pretrained stand-in is resampled to one rate and fed sample by sample,
as the paper fed EEG samples to a 44.1 kHz audio model. 4 kHz keeps speech intelligible and
puts more of its energy in the low normalised band where EEG lives (at 8 kHz a 0.86 M model
learned no waveform in 1 500 steps)."""

AUDIO_FULL_SCALE_UV = 200.0
"""Audio full scale (±1) is treated as ±200 µV, so EEG's scaling maps it back to ±1."""


def audio_files(audio_dir: Path) -> list[Path]:
    """Every WAV/FLAC under ``audio_dir``; the first folder level names its group."""
    files = sorted(p for p in audio_dir.rglob("*") if p.suffix.lower() in {".wav", ".flac"})
    if not files:
        raise FileNotFoundError(f"{audio_dir}: no .wav or .flac files")
    return files


def load_audio(path: Path) -> np.ndarray:
    """One mono audio file at AUDIO_RATE, on the µV scale the crop sampler expects."""
    import soundfile  # the 'bench' extra; only audio pretraining needs it

    samples, rate = soundfile.read(path, dtype="float64", always_2d=True)
    up, down = rate_ratio(rate, AUDIO_RATE)
    mono = resample(samples.mean(axis=1)[None, :], up, down)[0]
    return (mono * AUDIO_FULL_SCALE_UV).astype(np.float32)


@dataclass(frozen=True)
class CodableSignal:
    """One codable channel of an EDF as stored: µV at its own rate, and its EDF quantum."""

    label: str
    rate_hz: float
    uv: np.ndarray
    """float64 µV at ``rate_hz``."""
    step_uv: float
    """The EDF's quantum (gain) in µV."""
    offset_uv: float
    """µV of digital 0, so that µV = offset_uv + step_uv * digital."""


def read_codable_signals(path: Path) -> list[CodableSignal]:
    """Every channel of one EDF that compression would code, as the EDF stores it."""
    with EdfFile.open(path) as edf:
        infos = signal_infos(edf.header)
        out = []
        for i in select_codec_channels(infos):
            factor = uv_factor(infos[i].physical_dimension) or 1.0
            signal = edf.header.signals[i]
            out.append(
                CodableSignal(infos[i].label, infos[i].sample_rate,
                              edf.read_physical(i) * factor, signal.gain * factor,
                              signal.offset * factor)
            )  # fmt: skip
    return out


def at_model_rate(uv: np.ndarray, rate_hz: float, model_rate: int) -> np.ndarray:
    """float32 µV resampled from ``rate_hz`` to the model rate, as compression resamples."""
    return resample(uv, *rate_ratio(rate_hz, model_rate)).astype(np.float32)


def load_channels(path: Path, model_rate: int) -> list[np.ndarray]:
    """Every codable channel of one EDF, in µV at the model rate."""
    return [samples for _, samples in load_labelled_channels(path, model_rate)]


def load_labelled_channels(path: Path, model_rate: int) -> list[tuple[str, np.ndarray]]:
    """(label, µV samples at the model rate) of every codable channel of one EDF."""
    return [
        (s.label, at_model_rate(s.uv, s.rate_hz, model_rate)) for s in read_codable_signals(path)
    ]


class SeededDraws:
    """Seeded random draws that evaluation can repeat and a resumed run can continue.

    Subclasses keep their generator in ``_rng`` and draw with ``batch(size)``.
    """

    _rng: np.random.Generator

    def batch(self, size: int) -> Any:
        raise NotImplementedError

    def fixed_set(self, count: int, seed: int) -> Any:
        """A reproducible batch (held-out evaluation); the training stream is left as it was."""
        state = self._rng
        self._rng = np.random.default_rng(seed)
        try:
            return self.batch(count)
        finally:
            self._rng = state

    def resume_at(self, seed: int, step: int) -> None:
        """Continue a resumed run with draws keyed by (seed, step)."""
        self._rng = np.random.default_rng([seed, step])


@dataclass(frozen=True)
class SyntheticRhythms:
    """Crops of steady rhythms, mixed into training: 1-3 sines (1-30 Hz, 10-200 µV, both
    log-uniform, random phase), over pink noise (1-20 µV RMS) in half of them.

    Real EEG never shows the model a pure rhythm, and the shipped model returned 0.3 % of a
    10 Hz sine's power; these crops are the sines and sines-over-pink-noise that the rate
    ladder's acceptance test feeds it.
    """

    share: float
    """Fraction of each batch replaced by synthetic crops."""
    rate_hz: float

    def crops(self, rng: np.random.Generator, count: int, samples: int) -> np.ndarray:
        """(count, samples) float32 µV."""
        t = np.arange(samples) / self.rate_hz
        out = np.zeros((count, samples))
        for row in out:
            for _ in range(rng.integers(1, 4)):
                frequency = np.exp(rng.uniform(np.log(1.0), np.log(30.0)))
                amplitude = np.exp(rng.uniform(np.log(10.0), np.log(200.0)))
                row += amplitude * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 2 * np.pi))
            if rng.random() < 0.5:
                row += pink_noise(rng, samples) * np.exp(rng.uniform(np.log(1.0), np.log(20.0)))
        return out.astype(np.float32)


def pink_noise(rng: np.random.Generator, samples: int) -> np.ndarray:
    """Unit-RMS noise with a 1/f power spectrum (white noise shaped in the frequency domain)."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, samples)
    return noise / noise.std()


@dataclass
class CropSampler(SeededDraws):
    """Draws normalised crops: each group (dataset) equally often, within it by length.

    Balancing matters: by hours, Guinea-Bissau's high-amplitude 128 Hz recordings are two
    thirds of the train split, and a length-weighted model learned them and little else.
    """

    channels: list[np.ndarray]
    crop_samples: int
    seed: int = 0
    groups: list[str] | None = None
    synthetic: SyntheticRhythms | None = None

    def __post_init__(self) -> None:
        groups = self.groups or [""] * len(self.channels)
        keep = [i for i, c in enumerate(self.channels) if len(c) >= self.crop_samples]
        if not keep:
            raise ValueError("no channel is as long as one crop")
        self.channels = [self.channels[i] for i in keep]
        self.groups = [groups[i] for i in keep]
        lengths = np.array([len(c) - self.crop_samples + 1 for c in self.channels], float)
        names = np.array(self.groups)
        for name in set(self.groups):
            lengths[names == name] /= lengths[names == name].sum()
        self._weights = lengths / lengths.sum()
        self._rng = np.random.default_rng(self.seed)

    @classmethod
    def from_files(
        cls, paths: Sequence[Path], model_rate: int, crop_samples: int, seed: int = 0
    ) -> CropSampler:
        channels, groups = [], []
        for path in paths:
            loaded = load_channels(path, model_rate)
            channels += loaded
            groups += [path.parent.name] * len(loaded)
        return cls(channels, crop_samples, seed, groups)

    @classmethod
    def from_audio(cls, audio_dir: Path, crop_samples: int, seed: int = 0) -> CropSampler:
        """Crops of audio files, each first-level folder (speech, music...) equally often."""
        paths = audio_files(audio_dir)
        groups = [p.relative_to(audio_dir).parts[0] if p.parent != audio_dir else "" for p in paths]
        return cls([load_audio(p) for p in paths], crop_samples, seed, groups)

    @property
    def total_samples(self) -> int:
        return sum(len(c) for c in self.channels)

    def batch(self, size: int) -> np.ndarray:
        """(size, 1, crop_samples) float32 crops in the codec domain."""
        picks = self._rng.choice(len(self.channels), size=size, p=self._weights)
        crops = []
        for k in picks:
            start = self._rng.integers(0, len(self.channels[k]) - self.crop_samples + 1)
            crops.append(self.channels[k][start : start + self.crop_samples])
        x = np.stack(crops)
        if self.synthetic is not None:
            count = int(self._rng.binomial(size, self.synthetic.share))
            x[:count] = self.synthetic.crops(self._rng, count, self.crop_samples)
        return to_model_domain(x, *block_scaling(x))[:, None, :]
