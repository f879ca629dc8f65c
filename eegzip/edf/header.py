"""EDF/EDF+/BDF header model: parse the fixed-width ASCII header, validate it, build it back.

The container stores the raw header bytes verbatim, so this model only has to be exact enough
to locate samples and scale them; `build_header` exists to create new files (demo, tests).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime

from eegzip.errors import EdfFormatError

EDF_VERSION = "0       "
BDF_VERSION = "\xffBIOSEMI"
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")

MAX_SIGNALS = 4096
"""More signals than any real recorder produces; refused before anything is read or allocated."""

MAX_RECORD_BYTES = 64 * 1024 * 1024
"""Cap on one data record, so a corrupt samples-per-record field cannot trigger a huge read."""

EDF_DIGITAL_RANGE = (-(2**15), 2**15 - 1)
BDF_DIGITAL_RANGE = (-(2**23), 2**23 - 1)

VOLTAGE_UNITS = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}
"""µV per unit, by lower-cased physical dimension: files write "uV", "UV" and "µV" alike."""


def uv_factor(physical_dimension: str) -> float | None:
    """Factor from a physical unit to µV, or None if it is not a voltage (case-insensitive)."""
    return VOLTAGE_UNITS.get(physical_dimension.strip().lower())


# Per-signal fields in file order: (attribute, width in bytes, description for messages).
_SIGNAL_FIELDS = (
    ("label", 16, "label"),
    ("transducer", 80, "transducer type"),
    ("physical_dimension", 8, "physical dimension"),
    ("physical_min", 8, "physical minimum"),
    ("physical_max", 8, "physical maximum"),
    ("digital_min", 8, "digital minimum"),
    ("digital_max", 8, "digital maximum"),
    ("prefilter", 80, "prefiltering"),
    ("samples_per_record", 8, "samples per data record"),
    ("reserved", 32, "reserved"),
)
_SIGNAL_HEADER_BYTES = sum(width for _, width, _ in _SIGNAL_FIELDS)  # 256

_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DATE_RE = re.compile(r"(\d\d)[.:](\d\d)[.:](\d\d)")


@dataclass(frozen=True, kw_only=True)
class SignalHeader:
    """One signal's header fields, with the digital↔physical scaling the samples need."""

    label: str
    physical_dimension: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    samples_per_record: int
    transducer: str = ""
    prefilter: str = ""
    reserved: str = ""

    @property
    def is_annotation(self) -> bool:
        """EDF+/BDF+ annotation channel: its bytes are TAL text, not samples."""
        return self.label.strip() in ANNOTATION_LABELS

    @property
    def gain(self) -> float:
        """Physical units per digital step."""
        return (self.physical_max - self.physical_min) / (self.digital_max - self.digital_min)

    @property
    def offset(self) -> float:
        """Physical value of digital 0, so that physical = offset + gain * digital."""
        return self.physical_min - self.gain * self.digital_min

    @property
    def uv_per_unit(self) -> float | None:
        """Factor from the physical unit to µV, or None if the unit is not a voltage."""
        return uv_factor(self.physical_dimension)


@dataclass(frozen=True, kw_only=True)
class EdfHeader:
    """The main header plus all signal headers.

    `n_records` is -1 only when the header says "unknown" and no file size was given to infer it.
    Text fields are kept with trailing padding removed; `startdate`/`starttime` are the raw
    "dd.mm.yy"/"hh.mm.ss" strings and `record_duration_raw` the raw duration text, so that
    `build_header` reproduces them exactly.
    """

    startdate: str
    starttime: str
    n_records: int
    record_duration_raw: str
    signals: tuple[SignalHeader, ...]
    version: str = EDF_VERSION
    patient: str = ""
    recording: str = ""
    reserved: str = ""

    @property
    def is_bdf(self) -> bool:
        """24-bit BioSemi variant."""
        return self.version == BDF_VERSION

    @property
    def variant(self) -> str:
        """ "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C" or "BDF+D"."""
        base = "BDF" if self.is_bdf else "EDF"
        for suffix in ("+C", "+D"):
            if self.reserved.startswith(base + suffix):
                return base + suffix
        return base

    @property
    def is_plus(self) -> bool:
        """EDF+ or BDF+: the file carries annotations and record onsets in TALs."""
        return "+" in self.variant

    @property
    def bytes_per_sample(self) -> int:
        return 3 if self.is_bdf else 2

    @property
    def digital_range(self) -> tuple[int, int]:
        """Integer range the sample width can store."""
        return BDF_DIGITAL_RANGE if self.is_bdf else EDF_DIGITAL_RANGE

    @property
    def header_bytes(self) -> int:
        return 256 * (len(self.signals) + 1)

    @property
    def record_duration(self) -> float:
        """Seconds per data record."""
        return float(self.record_duration_raw)

    @property
    def record_size(self) -> int:
        """Bytes of one data record (all signals)."""
        return sum(s.samples_per_record for s in self.signals) * self.bytes_per_sample

    @property
    def duration(self) -> float:
        """Seconds of data (for EDF+D the sum of the records, not the wall-clock span)."""
        return self.n_records * self.record_duration

    @property
    def annotation_indices(self) -> tuple[int, ...]:
        """Indices of the annotation signals, in file order."""
        return tuple(i for i, s in enumerate(self.signals) if s.is_annotation)

    @property
    def start_datetime(self) -> datetime:
        """Start from startdate/starttime (whole seconds); yy 85-99 is 19yy, else 20yy."""
        return _to_datetime(self.startdate, self.starttime)

    def sample_rate(self, index: int) -> float:
        """Sampling rate of signal `index` in Hz."""
        return self.signals[index].samples_per_record / self.record_duration


def _to_datetime(startdate: str, starttime: str) -> datetime:
    """ValueError unless the fields are a real 'dd.mm.yy' date and 'hh.mm.ss' time."""
    date, time = _DATE_RE.fullmatch(startdate), _DATE_RE.fullmatch(starttime)
    if date is None or time is None:
        raise ValueError(f"{startdate!r} {starttime!r} is not dd.mm.yy hh.mm.ss")
    day, month, yy = (int(x) for x in date.groups())
    hour, minute, second = (int(x) for x in time.groups())
    return datetime(1900 + yy if yy >= 85 else 2000 + yy, month, day, hour, minute, second)


def _show(raw: bytes) -> str:
    """A header field as a one-line, quoted, ASCII-safe string for error messages."""
    return ascii(raw.decode("latin-1").rstrip(" "))


def _text(raw: bytes) -> str:
    """Header text: ASCII per spec; UTF-8 or Latin-1 in the wild (Latin-1 never fails)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.rstrip(" ")


class _Parser:
    """Reads fixed-width fields from a header and turns bad ones into one-line errors."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, message: str) -> EdfFormatError:
        return EdfFormatError(f"{self.name}: {message}")

    def integer(self, raw: bytes, what: str) -> int:
        text = raw.decode("latin-1").strip(" ")
        if _INT_RE.fullmatch(text) is None:
            raise self.fail(f"header field {what} is {_show(raw)}, not an integer")
        return int(text)

    def number(self, raw: bytes, what: str) -> float:
        text = raw.decode("latin-1").strip(" ")
        if _FLOAT_RE.fullmatch(text) is None:
            raise self.fail(f"header field {what} is {_show(raw)}, not a number")
        value = float(text)
        if not math.isfinite(value):
            raise self.fail(f"header field {what} is {_show(raw)}, not a finite number")
        return value


def header_size(first_256: bytes, name: str) -> int:
    """Total header size announced by the fixed part, validated before reading the rest."""
    p = _Parser(name)
    if len(first_256) < 256:
        raise p.fail(
            f"too short for an EDF/BDF file ({len(first_256):,} bytes; the fixed header alone "
            "is 256 bytes)"
        )
    version = first_256[:8]
    if version not in (EDF_VERSION.encode("latin-1"), BDF_VERSION.encode("latin-1")):
        raise p.fail(
            f"not an EDF or BDF file (version field is {_show(version)}, "
            "expected '0' for EDF or '\\xffBIOSEMI' for BDF)"
        )
    ns = p.integer(first_256[252:256], "'number of signals'")
    if not 1 <= ns <= MAX_SIGNALS:
        raise p.fail(f"header says {ns} signals; expected 1 to {MAX_SIGNALS}")
    declared = p.integer(first_256[184:192], "'number of header bytes'")
    expected = 256 * (ns + 1)
    if declared != expected:
        raise p.fail(
            f"header says {declared:,} header bytes but {ns} signals need "
            f"256 * ({ns} + 1) = {expected:,}"
        )
    return expected


def parse_header(raw: bytes, name: str, file_size: int | None = None) -> EdfHeader:
    """Parse and validate a header (`raw` starts with it; bytes after it are ignored).

    `name` prefixes every error message. With `file_size`, the data size is checked against the
    header and an unknown record count (-1) is inferred from it.
    """
    p = _Parser(name)
    size = header_size(raw[:256], name)
    ns = size // 256 - 1
    if len(raw) < size:
        raise p.fail(
            f"truncated header: {ns} signals need {size:,} header bytes but only "
            f"{len(raw):,} are present"
        )
    signals = _parse_signals(p, raw, ns)

    startdate = raw[168:176].decode("latin-1")
    starttime = raw[176:184].decode("latin-1")
    duration_raw = raw[244:252]
    record_duration = p.number(duration_raw, "'duration of a data record'")
    if record_duration <= 0:
        raise p.fail(f"data record duration is {_show(duration_raw)} s; it must be greater than 0")
    header = EdfHeader(
        version=raw[:8].decode("latin-1"),
        patient=_text(raw[8:88]),
        recording=_text(raw[88:168]),
        startdate=startdate,
        starttime=starttime,
        reserved=_text(raw[192:236]),
        n_records=p.integer(raw[236:244], "'number of data records'"),
        record_duration_raw=duration_raw.decode("latin-1").strip(" "),
        signals=signals,
    )
    try:
        _to_datetime(startdate, starttime)
    except ValueError:
        raise p.fail(
            f"start date/time {ascii(startdate)} {ascii(starttime)} is not a valid "
            "dd.mm.yy hh.mm.ss"
        ) from None
    _check_layout(p, header)
    if file_size is not None:
        header = _check_size(p, header, file_size)
    return header


def _parse_signals(p: _Parser, raw: bytes, ns: int) -> tuple[SignalHeader, ...]:
    columns: dict[str, list[bytes]] = {}
    pos = 256
    for attr, width, _ in _SIGNAL_FIELDS:
        columns[attr] = [raw[pos + i * width : pos + (i + 1) * width] for i in range(ns)]
        pos += width * ns
    signals = []
    for i in range(ns):
        label = _text(columns["label"][i])
        where = f"of signal {i + 1} ({ascii(label)})"
        fields = {attr: (columns[attr][i], f"'{desc}' {where}") for attr, _, desc in _SIGNAL_FIELDS}
        signals.append(
            SignalHeader(
                label=label,
                transducer=_text(columns["transducer"][i]),
                physical_dimension=_text(columns["physical_dimension"][i]),
                physical_min=p.number(*fields["physical_min"]),
                physical_max=p.number(*fields["physical_max"]),
                digital_min=p.integer(*fields["digital_min"]),
                digital_max=p.integer(*fields["digital_max"]),
                prefilter=_text(columns["prefilter"][i]),
                samples_per_record=p.integer(*fields["samples_per_record"]),
                reserved=_text(columns["reserved"][i]),
            )
        )
    return tuple(signals)


def _check_layout(p: _Parser, h: EdfHeader) -> None:
    lo, hi = h.digital_range
    kind = "BDF (24-bit)" if h.is_bdf else "EDF (16-bit)"
    for i, s in enumerate(h.signals, start=1):
        which = f"signal {i} ({ascii(s.label)})"
        if s.samples_per_record < 1:
            raise p.fail(f"{which} has {s.samples_per_record} samples per data record")
        if not lo <= s.digital_min < s.digital_max <= hi:
            raise p.fail(
                f"{which} has digital range {s.digital_min}..{s.digital_max}; need "
                f"minimum < maximum within {lo}..{hi} for {kind}"
            )
        if s.physical_min == s.physical_max:
            raise p.fail(f"{which} has physical minimum = physical maximum = {s.physical_min:g}")
        if not (math.isfinite(s.gain) and math.isfinite(s.offset) and s.gain != 0):
            raise p.fail(
                f"{which} has physical range {s.physical_min:g}..{s.physical_max:g}, "
                "which cannot be scaled in floating point"
            )
    if h.record_size > MAX_RECORD_BYTES:
        raise p.fail(
            f"one data record would be {h.record_size:,} bytes (limit {MAX_RECORD_BYTES:,}); "
            "the samples-per-record fields are implausible"
        )
    if h.reserved.startswith(("EDF+", "BDF+")) and h.variant in ("EDF", "BDF"):
        raise p.fail(f"reserved field is {ascii(h.reserved)}; expected EDF+C/EDF+D/BDF+C/BDF+D")
    if h.variant.endswith("+D") and not h.annotation_indices:
        raise p.fail(f"{h.variant} file has no annotation signal, so record onsets are unknown")
    if h.n_records == 0:
        raise p.fail("contains no data records")
    if h.n_records < -1:
        raise p.fail(f"header says {h.n_records} data records")


def _check_size(p: _Parser, h: EdfHeader, file_size: int) -> EdfHeader:
    data = file_size - h.header_bytes
    if h.n_records == -1:
        if data < h.record_size:
            raise p.fail("contains no data records (record count -1 and no whole record)")
        n, rest = divmod(data, h.record_size)
        if rest:
            raise p.fail(
                f"truncated: record count is -1 (unknown) and the {data:,} data bytes are "
                f"{n:,} records of {h.record_size:,} bytes plus {rest:,} bytes of a partial one"
            )
        return replace(h, n_records=n)
    expected = h.n_records * h.record_size
    if data < expected:
        raise p.fail(
            f"truncated: header says {h.n_records:,} data records ({expected:,} bytes) "
            f"but only {max(data, 0):,} bytes follow the header"
        )
    if data > expected:
        raise p.fail(
            f"{data - expected:,} unexpected bytes after the last data record: header says "
            f"{h.n_records:,} records of {h.record_size:,} bytes ({expected:,} bytes) but "
            f"{data:,} bytes follow the header"
        )
    return h


def with_record_count(raw: bytes, header: EdfHeader) -> bytes:
    """``raw`` header bytes with the record count field stating ``header.n_records``.

    Why: EDF allows -1 ("unknown", a recording still being written); the reader then counts the
    records from the file size. An archive of such a file must state that count, since what is
    decompressed from it has no other way to know it.
    """
    return raw[:236] + str(header.n_records).ljust(8).encode("ascii") + raw[244:]


def build_header(header: EdfHeader) -> bytes:
    """Encode `header` into its exact 256 * (ns + 1) bytes (ASCII text, space padded).

    Raises ValueError when a field does not fit its width, a number cannot be written exactly,
    or the result would not be a valid header: building is for new files, so it is strict.
    """
    ns = len(header.signals)
    parts = [
        _fit(header.version, 8, "version", allow_latin1=True),
        _fit(header.patient, 80, "patient"),
        _fit(header.recording, 80, "recording"),
        _fit(header.startdate, 8, "startdate"),
        _fit(header.starttime, 8, "starttime"),
        _fit(str(header.header_bytes), 8, "header bytes"),
        _fit(header.reserved, 44, "reserved"),
        _fit(str(header.n_records), 8, "number of data records"),
        _fit(header.record_duration_raw, 8, "record duration"),
        _fit(str(ns), 4, "number of signals"),
    ]
    for attr, width, desc in _SIGNAL_FIELDS:
        for i, s in enumerate(header.signals, start=1):
            value = getattr(s, attr)
            what = f"{desc} of signal {i}"
            text = _format_number(value, width, what) if isinstance(value, float) else str(value)
            parts.append(_fit(text, width, what))
    raw = b"".join(parts)
    try:
        parsed = parse_header(raw, "build_header")
    except EdfFormatError as exc:
        raise ValueError(str(exc)) from None
    if parsed != header:
        raise ValueError("header does not survive encoding (trailing spaces in a text field?)")
    return raw


def _fit(text: str, width: int, what: str, *, allow_latin1: bool = False) -> bytes:
    if not allow_latin1 and not all(" " <= ch <= "~" for ch in text):
        raise ValueError(f"{what} {text!r} must be printable ASCII")
    if len(text) > width:
        raise ValueError(f"{what} {text!r} is longer than its {width}-character field")
    return text.ljust(width).encode("latin-1")


def _format_number(value: float, width: int, what: str) -> str:
    """Shortest exact decimal text of `value`; ValueError if it needs more than `width`."""
    text = str(int(value)) if value.is_integer() else repr(value)
    if "e" in text or "E" in text or len(text) > width or float(text) != value:
        raise ValueError(f"{what} {value!r} cannot be written exactly in {width} characters")
    return text
