"""Property tests: damaged files give EdfFormatError and nothing else; TALs round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eegzip.edf import Annotation, EdfFile, encode_tals
from eegzip.edf.annotations import parse_annotation_records
from eegzip.errors import EdfFormatError

HEADER_BYTES = 1024  # small_edf: 3 signals
SIGNAL_FIELD_WIDTHS = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)


def _field_starts() -> list[int]:
    """Offset of every field of small_edf's header: main fields, then per-signal columns."""
    starts = [0, 8, 88, 168, 176, 184, 192, 236, 244, 252]
    column = 256
    for width in SIGNAL_FIELD_WIDTHS:
        starts += [column + i * width for i in range(3)]
        column += 3 * width
    return starts


FIELD_STARTS = _field_starts()

FIELD_TEXT = st.text(alphabet=" 0123456789+-.eE,x", max_size=8)
BYTE = st.one_of(st.sampled_from(b"0123456789 +-.eE\x00\x14\x15\xff"), st.integers(0, 255))


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.edf"


def _exercise(path: Path) -> None:
    """Open and read everything; only EdfFormatError may escape."""
    with EdfFile.open(path) as f:
        h = f.header
        _ = (h.variant, h.start_datetime, h.duration, h.record_size, f.raw_header)
        _ = (f.annotations, f.record_onsets, f.start_subsecond)
        for i in range(len(h.signals)):
            f.read_physical(i)
            f.read_raw_signal_bytes(i, 0, 1)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_file_opens_or_raises_edf_format_error(
    small_edf: bytes, fuzz_file: Path, data: st.DataObject
) -> None:
    raw = bytearray(small_edf)
    for _ in range(data.draw(st.integers(0, 3), label="field overwrites")):
        start = data.draw(st.sampled_from(FIELD_STARTS))
        text = data.draw(FIELD_TEXT).encode()
        raw[start : start + len(text)] = text
    position = st.one_of(st.integers(0, HEADER_BYTES - 1), st.integers(0, len(raw) - 1))
    for pos, value in data.draw(st.lists(st.tuples(position, BYTE), max_size=6), label="bytes"):
        if pos < len(raw):
            raw[pos] = value
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw) + 8)), label="length")
    if cut is not None:
        raw = raw[:cut] + bytes(max(0, cut - len(raw)))
    fuzz_file.write_bytes(bytes(raw))
    try:
        _exercise(fuzz_file)
    except EdfFormatError as exc:
        assert "\n" not in str(exc)
        assert str(exc).startswith(f"{fuzz_file}: ")


TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\x00\x14\x15", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=12,
)
SECONDS = st.integers(0, 10**7).map(lambda n: n / 64)


@settings(max_examples=100, deadline=None)
@given(
    record_onset=SECONDS,
    events=st.lists(
        st.builds(Annotation, SECONDS, st.one_of(st.none(), SECONDS), TEXT), max_size=4
    ),
)
def test_tals_round_trip(record_onset: float, events: list[Annotation]) -> None:
    encoded = encode_tals(record_onset, events, 400)
    track = parse_annotation_records([(encoded,)], "x.edf")
    assert track.start_offset == record_onset
    assert track.record_onsets == (0.0,)
    assert track.annotations == tuple(
        Annotation(a.onset - record_onset, a.duration, a.text) for a in events
    )
