"""Bridge from EDF headers to what the pipeline's channel logic needs."""

from __future__ import annotations

from eegzip.edf import EdfHeader
from eegzip.pipeline.channels import SignalInfo


def signal_infos(header: EdfHeader) -> list[SignalInfo]:
    return [
        SignalInfo(
            label=s.label,
            physical_dimension=s.physical_dimension,
            sample_rate=s.samples_per_record / header.record_duration,
            is_annotation=s.is_annotation,
        )
        for s in header.signals
    ]
