"""EDF+/BDF+ annotations: the Time-stamped Annotation Lists (TALs) of the annotation signals.

Each data record's first annotation signal starts with a time-keeping TAL ("+onset\\x14\\x14")
giving the record's start; EDF+D needs those onsets, so they are returned next to the
annotations. Onsets are computed in decimal so that subtracting the file start stays exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from eegzip.errors import EdfFormatError

_ONSET_RE = re.compile(rb"[+-](\d+(\.\d*)?|\.\d+)")
_DURATION_RE = re.compile(rb"\d+(\.\d*)?|\.\d+")
_FORBIDDEN_IN_TEXT = ("\x00", "\x14", "\x15")


@dataclass(frozen=True)
class Annotation:
    """One event: `onset` in seconds from the file start, `duration` in seconds or None."""

    onset: float
    duration: float | None
    text: str


@dataclass(frozen=True)
class AnnotationTrack:
    """Everything the annotation signals say about time.

    `start_offset`: seconds from the header's start date/time (whole seconds) to the first
    data record (the sub-second start of EDF+). `record_onsets`: one per data record, in seconds
    from the file start (so the first is 0.0); gaps between them make a file discontinuous.
    """

    start_offset: float
    record_onsets: tuple[float, ...]
    annotations: tuple[Annotation, ...]


@dataclass(frozen=True)
class _Tal:
    onset: Decimal
    duration: float | None
    texts: tuple[str, ...]


def _show(raw: bytes) -> str:
    text = raw.decode("latin-1")
    return ascii(text if len(text) <= 40 else text[:40] + "...")


def _parse_tals(data: bytes, where: str) -> list[_Tal]:
    """TALs in one record's annotation bytes; NUL padding between and after them is skipped."""
    tals = []
    for chunk in data.split(b"\x00"):
        if not chunk:
            continue
        if not chunk.endswith(b"\x14"):
            raise EdfFormatError(f"{where}: malformed annotation list {_show(chunk)}")
        head, *texts = chunk[:-1].split(b"\x14")
        onset, has_duration, duration = head.partition(b"\x15")
        if _ONSET_RE.fullmatch(onset) is None:
            raise EdfFormatError(f"{where}: annotation onset {_show(onset)} is not +seconds")
        if has_duration and _DURATION_RE.fullmatch(duration) is None:
            raise EdfFormatError(f"{where}: annotation duration {_show(duration)} is not seconds")
        try:
            decoded = tuple(t.decode("utf-8") for t in texts)
        except UnicodeDecodeError:
            raise EdfFormatError(f"{where}: annotation text is not UTF-8: {_show(chunk)}") from None
        tals.append(
            _Tal(Decimal(onset.decode()), float(duration) if has_duration else None, decoded)
        )
    return tals


def parse_annotation_records(records: Iterable[Sequence[bytes]], name: str) -> AnnotationTrack:
    """Parse the annotation signals of every data record.

    `records` yields, per data record, the raw bytes of each annotation signal in file order;
    the first one must start with the record's time-keeping TAL. `name` prefixes errors.
    """
    onsets: list[Decimal] = []
    found: list[tuple[Decimal, float | None, str]] = []
    for number, signals in enumerate(records, start=1):
        for k, data in enumerate(signals):
            where = f"{name}: data record {number}"
            tals = _parse_tals(data, where)
            if k == 0:
                if not tals or not tals[0].texts or tals[0].texts[0] != "":
                    raise EdfFormatError(f"{where} does not start with a time-keeping annotation")
                onsets.append(tals[0].onset)
                tals[0] = _Tal(tals[0].onset, tals[0].duration, tals[0].texts[1:])
            found.extend((t.onset, t.duration, text) for t in tals for text in t.texts if text)
    start = onsets[0] if onsets else Decimal(0)
    return AnnotationTrack(
        start_offset=float(start),
        record_onsets=tuple(float(o - start) for o in onsets),
        annotations=tuple(Annotation(float(o - start), d, text) for o, d, text in found),
    )


def _format_seconds(value: float) -> str:
    """Plain decimal text (TALs forbid exponents) that reads back as exactly `value`."""
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _signed_seconds(value: float) -> str:
    return ("-" if value < 0 else "+") + _format_seconds(abs(value))


def encode_tals(record_onset: float, annotations: Sequence[Annotation], size: int) -> bytes:
    """One record's annotation-signal bytes: time-keeping TAL, one TAL per annotation, NULs.

    Onsets here are seconds from the header start time, as stored in the file. Raises
    ValueError if the TALs do not fit in `size` bytes or a text contains a TAL delimiter.
    """
    parts = [f"{_signed_seconds(record_onset)}\x14\x14\x00".encode()]
    for a in annotations:
        if any(ch in a.text for ch in _FORBIDDEN_IN_TEXT) or not a.text:
            raise ValueError(f"annotation text {a.text!r} is empty or contains NUL/0x14/0x15")
        head = _signed_seconds(a.onset)
        if a.duration is not None:
            if a.duration < 0:
                raise ValueError(f"annotation {a.text!r} has negative duration {a.duration}")
            head += "\x15" + _format_seconds(a.duration)
        parts.append(f"{head}\x14{a.text}\x14\x00".encode())
    data = b"".join(parts)
    if len(data) > size:
        raise ValueError(f"annotations need {len(data)} bytes but the record holds {size}")
    return data.ljust(size, b"\x00")
