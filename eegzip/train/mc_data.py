"""Training data for DAC-MC: groups of channels cropped at the same time from one recording.

The model must code whatever grouping compression is asked for, so each item's group is
drawn as a scalp region (``manual``), a random set of channels, or a single channel. Crops are
normalised per channel exactly as compression normalises a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegzip.codec.electrodes import electrode_ids
from eegzip.pipeline.groups import Groups, manual_groups
from eegzip.pipeline.scaling import block_scaling, to_model_domain
from eegzip.train.data import SeededDraws, load_labelled_channels


@dataclass(frozen=True)
class GroupMix:
    """Shares of items whose group is a scalp region, a random set, or one channel."""

    manual: float = 0.45
    random: float = 0.4
    single: float = 0.15
    max_size: int = 8
    """Largest random group (scalp regions keep their size)."""

    def __post_init__(self) -> None:
        shares = (self.manual, self.random, self.single)
        if min(shares) < 0 or sum(shares) <= 0 or self.max_size < 1:
            raise ValueError(f"bad group mix {self}")


@dataclass(frozen=True)
class GroupBatch:
    """Groups padded to the largest: x (B, C, T) float32, ids (B, C) int64, mask (B, C) bool."""

    x: np.ndarray
    ids: np.ndarray
    mask: np.ndarray

    @property
    def n_channels(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True)
class Montage:
    """One recording's codable channels at the model rate, with their embedding ids."""

    samples: np.ndarray  # (channels, samples) float32 µV
    ids: np.ndarray  # (channels,) int64
    regions: Groups
    dataset: str


class GroupCropSampler(SeededDraws):
    """Draws group crops: each dataset equally often, within it recordings by length."""

    def __init__(
        self, montages: Sequence[Montage], crop_samples: int, mix: GroupMix, seed: int = 0
    ) -> None:
        self.montages = [m for m in montages if m.samples.shape[1] >= crop_samples]
        if not self.montages:
            raise ValueError("no recording is as long as one crop")
        self.crop_samples = crop_samples
        self.mix = mix
        lengths = np.array([m.samples.shape[1] - crop_samples + 1 for m in self.montages], float)
        datasets = np.array([m.dataset for m in self.montages])
        for name in set(datasets):
            lengths[datasets == name] /= lengths[datasets == name].sum()
        self._weights = lengths / lengths.sum()
        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_files(
        cls,
        paths: Sequence[Path],
        model_rate: int,
        crop_samples: int,
        vocabulary: Sequence[str],
        mix: GroupMix = GroupMix(),
        seed: int = 0,
    ) -> GroupCropSampler:
        montages = []
        for path in paths:
            channels = load_labelled_channels(path, model_rate)
            if not channels:
                continue
            labels = [label for label, _ in channels]
            length = min(len(x) for _, x in channels)
            montages.append(
                Montage(
                    samples=np.stack([x[:length] for _, x in channels]),
                    ids=np.array(electrode_ids(labels, vocabulary), dtype=np.int64),
                    regions=manual_groups(labels),
                    dataset=path.parent.name,
                )
            )
        return cls(montages, crop_samples, mix, seed)

    @property
    def total_samples(self) -> int:
        return sum(m.samples.size for m in self.montages)

    def _group(self, montage: Montage) -> list[int]:
        n = montage.samples.shape[0]
        mix = self.mix
        draw = self._rng.random() * (mix.manual + mix.random + mix.single)
        if draw < mix.manual:
            return list(montage.regions[self._rng.integers(len(montage.regions))])
        if draw < mix.manual + mix.random and n > 1:
            size = int(self._rng.integers(2, min(n, mix.max_size) + 1))
            return sorted(self._rng.choice(n, size=size, replace=False).tolist())
        return [int(self._rng.integers(n))]

    def batch(self, size: int) -> GroupBatch:
        """``size`` groups of crops in the codec domain, padded with masked zero channels."""
        items = []
        for k in self._rng.choice(len(self.montages), size=size, p=self._weights):
            montage = self.montages[k]
            group = self._group(montage)
            start = self._rng.integers(0, montage.samples.shape[1] - self.crop_samples + 1)
            crop = montage.samples[group, start : start + self.crop_samples]
            items.append((to_model_domain(crop, *block_scaling(crop)), montage.ids[group]))
        width = max(len(ids) for _, ids in items)
        x = np.zeros((size, width, self.crop_samples), np.float32)
        ids = np.zeros((size, width), np.int64)
        mask = np.zeros((size, width), bool)
        for row, (crop, channel_ids) in enumerate(items):
            n = len(crop)
            x[row, :n], ids[row, :n], mask[row, :n] = crop, channel_ids, True
        return GroupBatch(x, ids, mask)
