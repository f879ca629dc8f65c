"""Electrode names: one spelling per 10-10 position, so a channel keeps its identity anywhere.

The multi-channel codec embeds each channel by its electrode, and grouping by scalp region
reads the same names, so ``EEG Fp1-REF``, ``FP1`` and ``Fp1`` must all mean one electrode and
the old names T3/T4/T5/T6 the positions now called T7/T8/P7/P8.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ROWS = (
    ("Fp", "1 z 2"),
    ("AF", "9 7 5 3 1 z 2 4 6 8 10"),
    ("F", "9 7 5 3 1 z 2 4 6 8 10"),
    ("FT", "9 7 8 10"),
    ("FC", "5 3 1 z 2 4 6"),
    ("T", "9 7 8 10"),
    ("C", "5 3 1 z 2 4 6"),
    ("TP", "9 7 8 10"),
    ("CP", "5 3 1 z 2 4 6"),
    ("P", "9 7 5 3 1 z 2 4 6 8 10"),
    ("PO", "9 7 5 3 1 z 2 4 6 8 10"),
    ("O", "9 1 z 2 10"),
    ("I", "z"),
    ("A", "1 2"),
    ("M", "1 2"),
)

ELECTRODES: tuple[str, ...] = tuple(
    prefix + suffix for prefix, suffixes in _ROWS for suffix in suffixes.split()
)
"""The 10-10 positions (with mastoids and earlobes); the default vocabulary of the codec's
channel embedding, whose order a checkpoint stores so that ids never shift under it."""

OLD_NAMES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
"""10-20 names that the 10-10 system renamed."""

_REFERENCE_SUFFIX = re.compile(r"[-_ ](REF|LE|RE|AR|AVG|CAR|A1|A2|M1|M2|A1A2)$", re.IGNORECASE)
_CANONICAL = {name.upper(): name for name in ELECTRODES}

REGIONS = (
    "frontal",
    "central",
    "left temporal",
    "right temporal",
    "parietal",
    "occipital",
)
"""Scalp regions of the ``manual`` grouping, in the order groups are listed."""


def normalise(label: str) -> str | None:
    """The 10-10 name of an EDF label (``EEG T3-REF`` → ``T7``), or None if it names none."""
    name = label.strip()
    if name.upper().startswith("EEG"):
        name = name[3:].strip()
    name = _REFERENCE_SUFFIX.sub("", name).strip().upper()
    name = OLD_NAMES.get(name, name)
    return _CANONICAL.get(name)


def electrode_ids(labels: Sequence[str], vocabulary: Sequence[str]) -> list[int]:
    """Embedding row of each label: its position in ``vocabulary``, else len(vocabulary)."""
    position = {name: i for i, name in enumerate(vocabulary)}
    return [position.get(normalise(label) or "", len(vocabulary)) for label in labels]


def region(name: str) -> str | None:
    """Scalp region of a 10-10 name; temporal sites (T, FT, TP, P7-P10, ears) by side."""
    match = re.fullmatch(r"([A-Za-z]+?)(z|\d+)", name)
    if match is None:
        return None
    prefix, site = match.group(1).upper(), match.group(2)
    temporal = prefix in {"T", "FT", "TP", "A", "M"} or (
        prefix == "P" and site in {"7", "8", "9", "10"}
    )
    if temporal:
        return "left temporal" if site != "z" and int(site) % 2 else "right temporal"
    if prefix in {"FP", "AF", "F"}:
        return "frontal"
    if prefix in {"FC", "C", "CP"}:
        return "central"
    if prefix == "P":
        return "parietal"
    if prefix in {"PO", "O", "I"}:
        return "occipital"
    return None
