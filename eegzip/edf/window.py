"""A time window of an EDF as a valid EDF of its own: random access on decompression.

The window is a run of whole data records. Its header is the original's, byte for byte, except
the start date/time (moved by the whole seconds before the first record kept), the number of
records, and the EDF+ ``Startdate`` of the recording field; the EDF+ TAL onsets in the kept
records are moved by the same whole seconds, so every annotation keeps its absolute time.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from decimal import Decimal

from eegzip.edf.header import EdfHeader
from eegzip.errors import UnsupportedError

_RECORDING, _STARTDATE, _STARTTIME, _N_RECORDS = (88, 80), (168, 8), (176, 8), (236, 8)
_TAL_ONSET = re.compile(rb"(?:(?<=\x00)|^)([+-])(\d+(?:\.\d*)?|\.\d+)(?=[\x14\x15])")
_EDF_PLUS_DATE = re.compile(r"^Startdate \d{2}-[A-Z]{3}-\d{4}")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def put_field(raw: bytearray, field: tuple[int, int], text: str) -> None:
    """Write ``text`` space-padded into the header field at (offset, width)."""
    offset, width = field
    raw[offset : offset + width] = text.ljust(width).encode("ascii")


def edf_plus_date(day: date) -> str:
    """The EDF+ recording field's date form: 02-MAR-2004."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


def window_header(
    raw_header: bytes, header: EdfHeader, first: int, count: int
) -> tuple[bytes, int]:
    """Header bytes for records [first, first + count) and the whole seconds it moved."""
    if header.variant.endswith("+D"):
        raise UnsupportedError("random access is not supported for discontinuous EDF+D files")
    shift = math.floor(Decimal(first) * Decimal(header.record_duration_raw.strip()))
    start = header.start_datetime + timedelta(seconds=shift)
    if not 1985 <= start.year <= 2084:
        raise UnsupportedError(f"window start {start:%Y} is outside EDF's date range 1985-2084")
    raw = bytearray(raw_header)
    put_field(raw, _STARTDATE, start.strftime("%d.%m.%y"))
    put_field(raw, _STARTTIME, start.strftime("%H.%M.%S"))
    put_field(raw, _N_RECORDS, str(count))
    recording = raw[_RECORDING[0] : sum(_RECORDING)].decode("latin-1")
    if header.is_plus and _EDF_PLUS_DATE.match(recording):
        moved = f"Startdate {edf_plus_date(start.date())}"
        put_field(raw, _RECORDING, _EDF_PLUS_DATE.sub(moved, recording).rstrip())
    return bytes(raw), shift


def shift_tals(data: bytes, seconds: int) -> bytes:
    """The annotation bytes of records with every TAL onset moved ``seconds`` earlier."""

    def moved(match: re.Match[bytes]) -> bytes:
        value = Decimal(match.group(0).decode("ascii")) - seconds
        text = format(value, "f")
        return (text if value < 0 else "+" + text).encode("ascii")

    out = _TAL_ONSET.sub(moved, data.rstrip(b"\x00"))
    if len(out) > len(data):
        raise UnsupportedError("annotations do not fit their record after moving the window")
    return out.ljust(len(data), b"\x00")
