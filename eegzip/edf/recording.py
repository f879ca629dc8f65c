"""A whole recording in memory: convenient API for small files and tests.

The pipeline streams through `EdfFile` instead, so this is deliberately simple.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from eegzip.edf.annotations import Annotation
from eegzip.edf.header import EdfHeader
from eegzip.edf.reader import EdfFile


@dataclass(frozen=True, eq=False)
class Recording:
    """Header, raw header bytes, one read-only int32 array per signal, and the annotations.

    Annotation signals are included in `digital` as their stored integers (int16 words for
    EDF), so writing the recording back reproduces their bytes exactly.
    """

    header: EdfHeader
    raw_header: bytes
    digital: tuple[np.ndarray, ...]
    annotations: tuple[Annotation, ...]

    def physical(self, index: int) -> np.ndarray:
        """Signal `index` in its physical unit (float64)."""
        s = self.header.signals[index]
        return s.offset + s.gain * self.digital[index].astype(np.float64)

    def signal_index(self, label: str) -> int:
        """Index of the signal whose label (without padding) is `label`; KeyError if none."""
        for i, s in enumerate(self.header.signals):
            if s.label.strip() == label.strip():
                return i
        raise KeyError(f"no signal labelled {label!r}")


def read(path: str | os.PathLike[str]) -> Recording:
    """Load a whole EDF/BDF file."""
    with EdfFile.open(path) as f:
        digital = []
        for i in range(len(f.header.signals)):
            samples = f.read_digital(i)
            samples.setflags(write=False)
            digital.append(samples)
        return Recording(
            header=f.header,
            raw_header=f.raw_header,
            digital=tuple(digital),
            annotations=f.annotations,
        )
