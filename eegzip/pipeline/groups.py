"""Channel groups for the multi-channel codec: each group is coded as one token stream.

A grouping partitions the codec channels, named by their positions along the CODE channel
axis (the order of META ``codec_channels``). ``manual`` groups by scalp region, ``random``
draws seeded groups of one size, ``none`` codes every channel alone, and a JSON file lists the
groups by label. Channels that fit no group become groups of one, so any montage works.
The grouping also records each channel's electrode id in the model's vocabulary, so decoding
never depends on how a later eegzip reads labels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegzip.codec.electrodes import REGIONS, electrode_ids, normalise, region
from eegzip.errors import ContainerFormatError, UsageError

MODES = ("manual", "random", "none")
DEFAULT_RANDOM_SIZE = 4

Groups = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Grouping:
    """How the codec channels were grouped, as the container records it."""

    mode: str  # manual, random, none or file
    members: Groups
    electrode_ids: tuple[int, ...]  # per codec channel: its row of the channel embedding
    seed: int | None = None
    size: int | None = None

    def to_meta(self) -> dict:
        return {
            "mode": self.mode,
            "seed": self.seed,
            "size": self.size,
            "members": [list(g) for g in self.members],
            "electrode_ids": list(self.electrode_ids),
        }

    def summary(self, labels: Sequence[str]) -> dict:
        """Mode, seed, size and the groups by channel label, for reports."""
        groups = [[labels[i].strip() for i in g] for g in self.members]
        return {"mode": self.mode, "seed": self.seed, "size": self.size, "groups": groups}

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """(index, mask), both (groups, largest group): channel positions, padding masked."""
        width = max(len(g) for g in self.members)
        index = np.zeros((len(self.members), width), np.int64)
        mask = np.zeros((len(self.members), width), bool)
        for row, group in enumerate(self.members):
            index[row, : len(group)], mask[row, : len(group)] = group, True
        return index, mask

    @classmethod
    def from_meta(cls, meta: dict, n_channels: int, source: str) -> Grouping:
        """The recorded grouping, checked to partition the ``n_channels`` codec channels."""
        try:
            members = tuple(tuple(int(i) for i in group) for group in meta["members"])
            ids = tuple(int(i) for i in meta["electrode_ids"])
            grouping = cls(str(meta["mode"]), members, ids, meta.get("seed"), meta.get("size"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ContainerFormatError(
                f"{source}: metadata has malformed channel groups ({exc})"
            ) from None
        flat = sorted(i for g in members for i in g)
        if flat != list(range(n_channels)) or not all(members) or len(ids) != n_channels:
            raise ContainerFormatError(
                f"{source}: metadata channel groups do not partition the {n_channels} codec "
                "channels"
            )
        return grouping


def complete(groups: Sequence[Sequence[int]], n_channels: int) -> Groups:
    """The groups, then every channel that is in none of them alone."""
    placed = {i for g in groups for i in g}
    singles = [(i,) for i in range(n_channels) if i not in placed]
    return tuple(tuple(g) for g in groups if g) + tuple(singles)


def manual_groups(labels: Sequence[str]) -> Groups:
    """Scalp regions (frontal, central, left/right temporal, parietal, occipital)."""
    regions = [region(name) if (name := normalise(label)) else None for label in labels]
    groups = [[i for i, r in enumerate(regions) if r == name] for name in REGIONS]
    return complete(groups, len(labels))


def random_groups(n_channels: int, size: int, seed: int) -> Groups:
    """A seeded shuffle of the channels cut into groups of ``size`` (the last may be smaller)."""
    order = np.random.default_rng(seed).permutation(n_channels).tolist()
    return tuple(tuple(sorted(order[i : i + size])) for i in range(0, n_channels, size))


def _position(label: str, labels: Sequence[str], source: str) -> int:
    """A label's codec channel: same label (any case), else the same 10-10 electrode."""
    wanted = label.strip().lower()
    exact = [i for i, x in enumerate(labels) if x.strip().lower() == wanted]
    if exact:
        return exact[0]
    name = normalise(label)
    same = [i for i, x in enumerate(labels) if name and normalise(x) == name]
    if len(same) == 1:
        return same[0]
    coded = ", ".join(x.strip() for x in labels)
    raise UsageError(f"{source}: {label!r} is not a coded channel (coded: {coded})")


def file_groups(path: Path, labels: Sequence[str]) -> Groups:
    """Groups from a JSON list of lists of channel labels."""
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--groups {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"--groups {path}: not valid JSON: {exc}") from None
    if not isinstance(listed, list) or not all(
        isinstance(g, list) and g and all(isinstance(x, str) for x in g) for g in listed
    ):
        raise UsageError(f"--groups {path}: must be a JSON list of non-empty lists of labels")
    groups = [[_position(x, labels, f"--groups {path}") for x in g] for g in listed]
    flat = [i for g in groups for i in g]
    if len(flat) != len(set(flat)):
        twice = next(i for i in flat if flat.count(i) > 1)
        raise UsageError(f"--groups {path}: {labels[twice].strip()!r} is in more than one group")
    return complete(groups, len(labels))


def plan_grouping(
    spec: str,
    labels: Sequence[str],
    vocabulary: Sequence[str],
    seed: int | None = None,
    size: int | None = None,
) -> Grouping:
    """The grouping ``--groups spec`` asks for over the codec channels ``labels``."""
    ids = tuple(electrode_ids(labels, vocabulary))
    if spec != "random" and (seed is not None or size is not None):
        raise UsageError("--group-seed and --group-size apply to --groups random only")
    if spec == "manual":
        return Grouping("manual", manual_groups(labels), ids)
    if spec == "none":
        return Grouping("none", complete([], len(labels)), ids)
    if spec == "random":
        size = DEFAULT_RANDOM_SIZE if size is None else size
        if size < 1:
            raise UsageError(f"--group-size must be ≥ 1, not {size}")
        seed = 0 if seed is None else seed
        if seed < 0:
            raise UsageError(f"--group-seed must be ≥ 0, not {seed}")
        return Grouping("random", random_groups(len(labels), size, seed), ids, seed, size)
    path = Path(spec)
    if path.suffix.lower() != ".json" and not path.is_file():
        raise UsageError(f"--groups must be {', '.join(MODES)} or a JSON file, not {spec!r}")
    if not path.is_file():
        raise UsageError(f"--groups {path}: no such file")
    return Grouping("file", file_groups(path, labels), ids)
