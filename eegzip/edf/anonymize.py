"""De-identification of an EDF/EDF+/BDF header and its annotations, in EDF+'s anonymised forms.

EDF+ gives the patient field four subfields (code, sex, birthdate, name) and the recording
field ``Startdate dd-MMM-yyyy`` and three more (administration code, technician, equipment),
each ``X`` when unknown or withheld. Anonymising writes:

- patient: ``X X X X`` (any further subfields, free text in plain EDF, are dropped);
- recording: ``Startdate dd-MMM-yyyy X X X``, the date as in the header below, or
  ``Startdate X X X X`` when the date is dropped;
- start date (header field): kept, moved by a whole number of days, or, when dropped,
  01.01.85 (the earliest date the field can hold); the start time of day is kept;
- annotations: kept; optionally every annotation text is dropped, leaving the time-keeping
  annotation each EDF+ data record needs.

The header keeps its length and stays valid; nothing else in it changes. What was done is
recorded (``Anonymization.to_meta``) without the number of days moved, which would undo it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from eegzip.edf.header import EdfHeader
from eegzip.edf.window import edf_plus_date, put_field
from eegzip.errors import UsageError

ANONYMOUS_PATIENT = "X X X X"
_PATIENT, _RECORDING, _STARTDATE = (8, 80), (88, 80), (168, 8)
_UNKNOWN_DATE = date(1985, 1, 1)
_TIMEKEEPING_END = b"\x14\x14"


@dataclass(frozen=True)
class Anonymization:
    """What to withhold. ``shift_days`` moves the start date; ``drop_date`` withholds it."""

    shift_days: int = 0
    drop_date: bool = False
    drop_annotation_text: bool = False

    def __post_init__(self) -> None:
        if self.drop_date and self.shift_days:
            raise UsageError("--shift-date and --drop-date cannot be combined")

    def to_meta(self) -> dict:
        """What the container records: the method, never the shift itself."""
        return {
            "patient": ANONYMOUS_PATIENT,
            "start_date": "dropped" if self.drop_date else "shifted" if self.shift_days else "kept",
            "annotation_text": "dropped" if self.drop_annotation_text else "kept",
        }


def anonymized_header(raw: bytes, header: EdfHeader, how: Anonymization, name: str) -> bytes:
    """``raw`` (the header bytes ``header`` was parsed from) in EDF+'s anonymised form."""
    start = header.start_datetime.date()
    if how.drop_date:
        new_date, shown = _UNKNOWN_DATE, "X"
    else:
        new_date = start + timedelta(days=how.shift_days)
        shown = edf_plus_date(new_date)
    if not 1985 <= new_date.year <= 2084:
        raise UsageError(
            f"{name}: --shift-date {how.shift_days} moves the start date to {new_date:%Y-%m-%d}, "
            "outside EDF's 1985-2084"
        )
    out = bytearray(raw)
    put_field(out, _PATIENT, ANONYMOUS_PATIENT)
    put_field(out, _RECORDING, f"Startdate {shown} X X X")
    put_field(out, _STARTDATE, new_date.strftime("%d.%m.%y"))
    return bytes(out)


def without_annotation_text(record: bytes, timekeeping: bool) -> bytes:
    """One record's annotation-signal bytes with every annotation text dropped.

    In the first annotation signal (``timekeeping``) the record's time-keeping TAL stays; the
    record keeps its length, padded with NULs.
    """
    if not timekeeping:
        return bytes(len(record))
    end = record.find(_TIMEKEEPING_END)
    kept = record[: end + len(_TIMEKEEPING_END)] + b"\x00" if end >= 0 else b""
    return kept.ljust(len(record), b"\x00")
