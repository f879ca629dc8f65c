"""Montages of a read window: as recorded, average reference, and a bipolar chain.

The viewer computes derivations on the server from the window it has just read, so the page
only draws what it is sent. Labels are matched by their 10-10 name (``EEG T3-REF`` is T7), so
the bipolar chain works whatever spelling the EDF uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eegzip.codec.electrodes import normalise
from eegzip.errors import UsageError
from eegzip.pipeline.reader import Channel

MONTAGES = ("recorded", "average", "bipolar")
"""Montage names the viewer offers."""

BIPOLAR_CHAIN: tuple[tuple[str, str], ...] = (
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
    ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("Fz", "Cz"), ("Cz", "Pz"),
)  # fmt: skip
"""The longitudinal bipolar ("double banana") chain in 10-10 names, left then right, then
the midline; a pair is shown when both electrodes are recorded."""


@dataclass(frozen=True)
class Derivation:
    """One displayed trace: ``plus`` minus the mean of ``minus`` (empty: the channel as is)."""

    name: str
    plus: str  # a recorded channel label
    minus: tuple[str, ...]  # recorded labels whose mean is subtracted


def derivations(channels: Sequence[Channel], montage: str) -> tuple[Derivation, ...]:
    """The traces of ``montage`` for a recording's channels (empty when none can be formed)."""
    if montage == "recorded":
        return tuple(Derivation(c.label, c.label, ()) for c in channels)
    eeg = [c for c in channels if c.mne_type == "eeg" and normalise(c.label)]
    if montage == "average":
        if len(eeg) < 2:
            return ()
        rate = eeg[0].sample_rate
        pool = tuple(c.label for c in eeg if c.sample_rate == rate)
        return tuple(Derivation(f"{c.label}-avg", c.label, pool) for c in eeg if c.label in pool)
    if montage == "bipolar":
        by_name = {normalise(c.label): c for c in eeg}
        return tuple(
            Derivation(f"{a}-{b}", by_name[a].label, (by_name[b].label,))
            for a, b in BIPOLAR_CHAIN
            if a in by_name and b in by_name and by_name[a].sample_rate == by_name[b].sample_rate
        )
    raise UsageError(f"montage must be one of {', '.join(MONTAGES)}, not {montage!r}")


def derive(derivation: Derivation, window: dict[str, np.ndarray]) -> np.ndarray:
    """The trace of one derivation from a window's samples by recorded label (µV)."""
    signal = window[derivation.plus]
    if not derivation.minus:
        return signal
    return signal - np.mean([window[label] for label in derivation.minus], axis=0)


def sources(chosen: Sequence[Derivation]) -> list[str]:
    """The recorded labels that the chosen derivations read, each once, in first-use order."""
    labels: dict[str, None] = {}
    for derivation in chosen:
        labels[derivation.plus] = None
        labels.update(dict.fromkeys(derivation.minus))
    return list(labels)
