"""The codec channels of an EDF/BDF file in µV, chosen exactly as ``eegzip compress`` chooses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegzip.edf import EdfFile, SignalHeader
from eegzip.pipeline.compress import CompressOptions, plan_channels
from eegzip.pipeline.signals import to_digital, to_uv


@dataclass(frozen=True, eq=False)
class CodecSignals:
    """Whole codec channels of one recording, with what it takes to store values as EDF does."""

    labels: tuple[str, ...]
    sample_rate: float
    uv: np.ndarray  # (channels, samples)
    signals: tuple[SignalHeader, ...]
    uv_factors: tuple[float, ...]

    @property
    def duration_seconds(self) -> float:
        return self.uv.shape[1] / self.sample_rate

    @property
    def channel_seconds(self) -> float:
        return self.uv.shape[0] * self.uv.shape[1] / self.sample_rate

    def on_edf_grid(self, reconstruction_uv: np.ndarray) -> np.ndarray:
        """A reconstruction as an EDF file would give it back: clamped to the digital grid."""
        digital, _ = to_digital(reconstruction_uv, self.signals, self.uv_factors)
        return to_uv(digital, self.signals, self.uv_factors)


def read_codec_signals(path: Path) -> CodecSignals:
    """Read the channels the codec would code (the default selection) of ``path``."""
    with EdfFile.open(path) as edf:
        h = edf.header
        channels = plan_channels(h, CompressOptions(), str(path))
        n_samples = h.n_records * channels.samples_per_record
        return CodecSignals(
            labels=tuple(h.signals[i].label.strip() for i in channels.indices),
            sample_rate=h.sample_rate(channels.indices[0]),
            uv=channels.reader(edf)(0, n_samples),
            signals=tuple(h.signals[i] for i in channels.indices),
            uv_factors=channels.uv_factors,
        )
