"""Archival compression checks its own output before reporting success.

Why: a lossless archive is trusted years later without the original; a defect that breaks the
promise (as samples outside the declared digital range once did) must fail loudly at write
time, not be found at read time. The check decodes the finished file exactly as decompression
does and compares every data record with the source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eegzip.codec.registry import Codec
from eegzip.container import ContainerReader
from eegzip.edf import EdfFile
from eegzip.errors import SelfCheckError
from eegzip.pipeline.decompress import ContainerDecoder


def check_archival(
    source: Path,
    packed: Path,
    codec: Codec | None,
    steps: np.ndarray,
    *,
    header: bytes | None,
    exact_text: bool = True,
) -> None:
    """Raise SelfCheckError unless ``packed`` decodes to ``source`` within its promise.

    Codec channel c may differ by (steps[c] − 1) / 2 digital units (0 in lossless mode), every
    other signal not at all; the stored header must be ``header`` (None: not checked, as when
    anonymised) and annotation signals must be identical (``exact_text``: not when their text
    was dropped).
    """
    name = f"{source}: self-check of the archival output"
    with EdfFile.open(source) as edf, ContainerReader.open(packed) as reader:
        h = edf.header
        if header is not None and reader.edf_header != header:
            raise SelfCheckError(f"{name}: the stored EDF header differs; nothing written")
        decoder = ContainerDecoder.of(reader, codec, "cpu", str(source))
        tolerance = dict.fromkeys(range(len(h.signals)), 0)
        tolerance.update(zip(decoder.channels.indices, ((steps - 1) // 2).tolist(), strict=True))
        done = 0
        for run in decoder.records(0, h.n_records):
            count = len(run[0]) // h.signals[0].samples_per_record
            originals = edf.read_digital_signals(range(len(h.signals)), done, done + count)
            for i, samples in enumerate(run):
                if h.signals[i].is_annotation and not exact_text:
                    continue
                original = originals[i].astype(np.int64)
                worst = int(np.abs(original - samples).max(initial=0))
                if worst > tolerance[i]:
                    raise SelfCheckError(
                        f"{name}: signal {i} ({h.signals[i].label.strip()!r}) is off by {worst} "
                        f"digital units in data records {done}–{done + count - 1} (allowed "
                        f"{tolerance[i]}); nothing written. Please report this"
                    )
            done += count
