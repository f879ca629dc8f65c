"""EDF/EDF+/BDF I/O: agreement with pyedflib/mne, byte-exact rewrite, clean errors."""

from __future__ import annotations

import os
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pyedflib
import pytest

from eegzip.demo import make_demo_edf
from eegzip.edf import (
    BDF_VERSION,
    Annotation,
    EdfFile,
    EdfHeader,
    EdfWriter,
    SignalHeader,
    build_header,
    encode_tals,
    parse_header,
    read,
    write,
)
from eegzip.errors import EdfFormatError, EegzipError, InputNotFoundError, OutputExistsError

REAL_FILES = [
    "eegmat/Subject00_1.edf",
    "eegmat/Subject35_2.edf",
    "guinea-bissau/gb-001.edf",
    "guinea-bissau/gb-002.edf",
    "muse/auditory-P300_subject1_session1_r1.edf",
    "muse/visual-cueing_subject101_session1_r1.edf",
]


# ---------------------------------------------------------------- helpers


def _signal(label: str, spr: int = 4, *, bdf: bool = False) -> SignalHeader:
    lo, hi = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    return SignalHeader(label=label, transducer="AgAgCl", physical_dimension="uV",
                        physical_min=-1000.0, physical_max=1000.0, digital_min=lo, digital_max=hi,
                        prefilter="HP:0.1Hz", samples_per_record=spr)  # fmt: skip


def _annotation_signal(label: str = "EDF Annotations", spr: int = 16) -> SignalHeader:
    return SignalHeader(label=label, physical_dimension="", physical_min=-1, physical_max=1,
                        digital_min=-32768, digital_max=32767, samples_per_record=spr)  # fmt: skip


def _header(signals: tuple[SignalHeader, ...], n_records: int, reserved: str = "EDF+C",
            version: str = "0       ") -> EdfHeader:  # fmt: skip
    return EdfHeader(version=version, patient="X X X X", recording="Startdate 02-MAR-2004 X X X",
                     startdate="02.03.04", starttime="05.06.07", reserved=reserved,
                     n_records=n_records, record_duration_raw="1", signals=signals)  # fmt: skip


def _tals(onsets: list[float], events: dict[int, list[Annotation]], size: int) -> bytes:
    return b"".join(encode_tals(o, events.get(r, []), size) for r, o in enumerate(onsets))


def _check_one_line(exc: pytest.ExceptionInfo[EegzipError], path: Path | str) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    return message


def _patch(raw: bytes, offset: int, width: int, text: str) -> bytes:
    return raw[:offset] + text.ljust(width).encode("latin-1") + raw[offset + width :]


# small_edf layout (see conftest): 3 signals, so per-signal fields start at 256 + 3 * cumulative
# width; e.g. digital minimum of signal 1 at 256 + 3 * (16+80+8+8+8) = 616.
def _signal_field(name: str, signal: int = 0, ns: int = 3) -> tuple[int, int]:
    widths = {"label": 16, "transducer": 80, "dimension": 8, "pmin": 8, "pmax": 8, "dmin": 8,
              "dmax": 8, "prefilter": 80, "spr": 8, "reserved": 32}  # fmt: skip
    offset = 256
    for key, width in widths.items():
        if key == name:
            return offset + signal * width, width
        offset += ns * width
    raise KeyError(name)


# ---------------------------------------------------------------- real data vs pyedflib


@pytest.mark.parametrize("relpath", REAL_FILES)
def test_real_file_matches_pyedflib(shared_data: Path, relpath: str) -> None:
    path = shared_data / relpath
    with EdfFile.open(path) as f, pyedflib.EdfReader(str(path)) as ref:
        h = f.header
        data_idx = [i for i, s in enumerate(h.signals) if not s.is_annotation]
        assert h.variant == "EDF+C"
        assert [h.signals[i].label for i in data_idx] == ref.getSignalLabels()
        assert h.n_records * h.record_duration == ref.getFileDuration()
        assert h.start_datetime == ref.getStartdatetime()
        for k, i in enumerate(data_idx):
            s = h.signals[i]
            assert s.physical_max == ref.getPhysicalMaximum(k)
            assert s.physical_min == ref.getPhysicalMinimum(k)
            assert s.digital_max == ref.getDigitalMaximum(k)
            assert s.digital_min == ref.getDigitalMinimum(k)
            assert h.sample_rate(i) == ref.getSampleFrequency(k)
            assert s.uv_per_unit == 1.0
            digital = f.read_digital(i)
            assert digital.dtype == np.int32
            np.testing.assert_array_equal(digital, ref.readSignal(k, digital=True))
            np.testing.assert_allclose(f.read_physical(i), ref.readSignal(k), rtol=0, atol=1e-9)
        onsets, durations, texts = ref.readAnnotations()
        assert [a.text for a in f.annotations] == list(texts)
        np.testing.assert_allclose([a.onset for a in f.annotations], onsets, atol=1e-6)
        assert [-1.0 if a.duration is None else a.duration for a in f.annotations] == list(
            durations
        )
        assert f.start_subsecond == 0.0
        assert f.record_onsets == tuple(float(r) for r in range(h.n_records))


def test_dataset_specifics(shared_data: Path) -> None:
    with EdfFile.open(shared_data / "guinea-bissau/gb-001.edf") as f:
        s = f.header.signals[0]
        assert s.gain == pytest.approx(20 / 39, rel=1e-12)
        assert s.offset == pytest.approx(4200, abs=1e-9)
        assert f.annotations == (Annotation(180.0, None, "eyes closed->open"),)
    with EdfFile.open(shared_data / "guinea-bissau/gb-002.edf") as f:
        assert f.annotations == (Annotation(180.0, None, "eyes open->closed"),)
    with EdfFile.open(shared_data / "eegmat/Subject00_1.edf") as f:
        assert f.header.annotation_indices == (8,)
        assert f.annotations == ()
        assert f.header.signals[0].prefilter == "HP:0.500000Hz LP:45.000000Hz RF:50Hz"
    with EdfFile.open(shared_data / "muse/auditory-P300_subject1_session1_r1.edf") as f:
        assert f.annotations[0] == Annotation(0.54296875, None, "1")
        assert f.header.signals[0].gain == 0.48828125


@pytest.mark.parametrize("relpath", REAL_FILES)
def test_rewrite_is_byte_identical(shared_data: Path, tmp_path: Path, relpath: str) -> None:
    source = shared_data / relpath
    out = write(tmp_path / "copy.edf", read(source))
    assert out.read_bytes() == source.read_bytes()


def test_reading_in_pieces_equals_reading_whole(shared_data: Path) -> None:
    path = shared_data / "muse/auditory-P300_subject1_session1_r1.edf"
    with EdfFile.open(path) as f:
        n = f.header.n_records
        pieces = [f.read_digital(1, r, min(r + 7, n)) for r in range(0, n, 7)]
        np.testing.assert_array_equal(np.concatenate(pieces), f.read_digital(1))
        ann = f.header.annotation_indices[0]
        raw = f.read_raw_signal_bytes(ann, 2, 3)
        offset = f.header.header_bytes + 2 * f.header.record_size + 4 * 256 * 2
        assert raw == path.read_bytes()[offset : offset + 40]
        assert raw.startswith(b"+2\x14\x14\x00")
        together = f.read_digital_signals([3, 0, ann], 5, 11)  # the records read once
        for i, samples in zip([3, 0, ann], together, strict=True):
            np.testing.assert_array_equal(samples, f.read_digital(i, 5, 11))


def test_recording_api(shared_data: Path) -> None:
    rec = read(shared_data / "guinea-bissau/gb-001.edf")
    i = rec.signal_index("O1")
    assert rec.header.signals[i].label == "O1"
    assert not rec.digital[i].flags.writeable
    np.testing.assert_allclose(rec.physical(i), 4200 + rec.digital[i] * 20 / 39, atol=1e-9)
    assert len(rec.digital) == 15 and rec.digital[14].size == 16 * rec.header.n_records
    with pytest.raises(KeyError):
        rec.signal_index("Cz")


# ---------------------------------------------------------------- header model


def test_build_parse_round_trip() -> None:
    h = _header((_signal("EEG Fp1", 256), _signal("ECG", 128), _annotation_signal()), 10)
    raw = build_header(h)
    assert len(raw) == h.header_bytes == 1024
    assert parse_header(raw, "x.edf") == h
    assert h.variant == "EDF+C" and h.bytes_per_sample == 2
    assert h.record_size == (256 + 128 + 16) * 2
    assert h.duration == 10.0 and h.sample_rate(1) == 128.0
    assert h.start_datetime == datetime(2004, 3, 2, 5, 6, 7)
    unknown = _header(h.signals, -1)
    assert parse_header(build_header(unknown), "x.edf").n_records == -1


def test_header_details() -> None:
    old = EdfHeader(startdate="31.12.85", starttime="23.59.59", n_records=1,
                    record_duration_raw="0.5", signals=(_signal("A"),))  # fmt: skip
    assert old.start_datetime == datetime(1985, 12, 31, 23, 59, 59)
    assert old.variant == "EDF" and old.sample_rate(0) == 8.0
    assert replace(old, startdate="01.01.84").start_datetime.year == 2084
    units = {"uV": 1.0, "UV": 1.0, "µV": 1.0, "μV": 1.0, "mV": 1e3, "V": 1e6, "nV": 1e-3, "%": None}
    for unit, factor in units.items():
        s = SignalHeader(label="A", physical_dimension=unit, physical_min=-10, physical_max=30,
                         digital_min=0, digital_max=400, samples_per_record=1)  # fmt: skip
        assert s.uv_per_unit == factor
        assert (s.gain, s.offset) == (0.1, -10)
    assert _annotation_signal().is_annotation
    assert _annotation_signal("BDF Annotations").is_annotation
    assert not _signal("EDF Annotation").is_annotation


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"patient": "x" * 81}, "longer than its 80-character field"),
        ({"patient": "Müller"}, "printable ASCII"),
        ({"signals": (_signal("A"),) * 2 + (SignalHeader(
            label="B", physical_dimension="uV", physical_min=1 / 3, physical_max=1,
            digital_min=0, digital_max=1, samples_per_record=1),)}, "cannot be written exactly"),
        ({"startdate": "32.01.04"}, "not a valid"),
        ({"n_records": 0}, "no data records"),
        ({"signals": (_signal("A  "),)}, "does not survive"),
    ],
)  # fmt: skip
def test_build_header_rejects(change: dict, match: str) -> None:
    h = _header((_signal("A"),), 1, reserved="")
    with pytest.raises(ValueError, match=match):
        build_header(replace(h, **change))


# ---------------------------------------------------------------- BDF, EDF+D, sub-second start


def test_bdf_round_trip_agrees_with_pyedflib_and_mne(tmp_path: Path) -> None:
    h = _header((_signal("EEG A", 8, bdf=True), _signal("EEG B", 8, bdf=True)), 4,
                reserved="24BIT", version=BDF_VERSION)  # fmt: skip
    rng = np.random.default_rng(0)
    a = rng.integers(-(2**23), 2**23, 32)
    a[:2] = [-(2**23), 2**23 - 1]
    b = rng.integers(-300, 300, 32)
    path = tmp_path / "t.bdf"
    with EdfWriter(path, build_header(h)) as writer:
        writer.write_records([a[:16], b[:16]])
        writer.write_records([a[16:], b[16:]])
    assert path.stat().st_size == 768 + 4 * 16 * 3
    rec = read(path)
    assert rec.header.variant == "BDF" and rec.header.bytes_per_sample == 3
    np.testing.assert_array_equal(rec.digital[0], a)
    np.testing.assert_array_equal(rec.digital[1], b)
    with pyedflib.EdfReader(str(path)) as ref:
        np.testing.assert_array_equal(ref.readSignal(0, digital=True), a)
        np.testing.assert_allclose(ref.readSignal(1), rec.physical(1), atol=1e-9)
    raw = mne.io.read_raw_bdf(path, preload=True, verbose="error")
    np.testing.assert_allclose(raw.get_data()[0] * 1e6, rec.physical(0), atol=1e-6)
    assert write(tmp_path / "copy.bdf", rec).read_bytes() == path.read_bytes()


def test_bdf_plus_annotations(tmp_path: Path) -> None:
    ann = SignalHeader(label="BDF Annotations", physical_dimension="", physical_min=-1,
                       physical_max=1, digital_min=-(2**23), digital_max=2**23 - 1,
                       samples_per_record=12)  # fmt: skip
    h = _header((_signal("EEG A", 8, bdf=True), ann), 3, reserved="BDF+C", version=BDF_VERSION)
    event = Annotation(1.25, 3.0, "Stimulus ✓")
    path = tmp_path / "plus.bdf"
    with EdfWriter(path, build_header(h)) as writer:
        writer.write_records([np.arange(24), _tals([0, 1, 2], {1: [event]}, 36)])
    with EdfFile.open(path) as f:
        assert f.header.variant == "BDF+C"
        assert f.annotations == (event,)
    with pyedflib.EdfReader(str(path)) as ref:
        onsets, durations, texts = ref.readAnnotations()
        assert (list(onsets), list(durations), list(texts)) == ([1.25], [3.0], ["Stimulus ✓"])
    assert write(tmp_path / "copy.bdf", read(path)).read_bytes() == path.read_bytes()


def test_edf_plus_d_record_onsets(tmp_path: Path) -> None:
    h = _header((_signal("EEG A"), _annotation_signal(spr=32)), 3, reserved="EDF+D")
    events = {2: [Annotation(10.5, None, "after the gap"), Annotation(10.75, 0.0, "zero")]}
    path = tmp_path / "d.edf"
    with EdfWriter(path, build_header(h)) as writer:
        writer.write_records([np.arange(12), _tals([0, 1, 10], events, 64)])
    with EdfFile.open(path) as f:
        assert f.header.variant == "EDF+D"
        assert f.record_onsets == (0.0, 1.0, 10.0)
        assert f.annotations == (
            Annotation(10.5, None, "after the gap"),
            Annotation(10.75, 0.0, "zero"),
        )
        np.testing.assert_array_equal(f.read_digital(0), np.arange(12))


def test_subsecond_start_is_subtracted(tmp_path: Path) -> None:
    h = _header((_signal("EEG A"), _annotation_signal()), 3)
    path = tmp_path / "sub.edf"
    with EdfWriter(path, build_header(h)) as writer:
        onsets = [0.3, 1.3, 2.3]
        writer.write_records([np.arange(12), _tals(onsets, {2: [Annotation(2.8, None, "x")]}, 32)])
    with EdfFile.open(path) as f, pyedflib.EdfReader(str(path)) as ref:
        assert f.start_subsecond == 0.3
        assert f.record_onsets == (0.0, 1.0, 2.0)
        assert f.annotations == (Annotation(2.5, None, "x"),)
        assert list(ref.readAnnotations()[0]) == [2.5]


def test_plain_edf_has_no_annotations(tmp_path: Path) -> None:
    h = _header((_signal("EEG A"), _annotation_signal()), 2, reserved="")
    path = tmp_path / "plain.edf"
    with EdfWriter(path, build_header(h)) as writer:
        writer.write_records([np.arange(8), np.frombuffer(b"garbage!" * 8, "<i2")])
    with EdfFile.open(path) as f:
        assert f.header.variant == "EDF"
        assert f.annotations == () and f.start_subsecond == 0.0
        assert f.record_onsets == (0.0, 1.0)


def test_unknown_record_count_is_inferred(tmp_path: Path, small_edf: bytes) -> None:
    path = tmp_path / "unknown.edf"
    path.write_bytes(_patch(small_edf, 236, 8, "-1"))
    with EdfFile.open(path) as f:
        assert f.header.n_records == 3
        assert f.raw_header[236:244] == b"-1      "
    path.write_bytes(_patch(small_edf, 236, 8, "-1")[:-1])
    with pytest.raises(EdfFormatError, match="partial"):
        EdfFile.open(path)


def test_long_file_is_read_in_pieces_without_loading_it(tmp_path: Path) -> None:
    """A 24-hour, 20-channel 256 Hz file (885 MB, sparse on disk): reading 10 s stays small."""
    h = _header(tuple(_signal(f"EEG {i}", 256) for i in range(20)), 86400, reserved="")
    path = tmp_path / "day.edf"
    with path.open("wb") as f:
        f.write(build_header(h))
        f.truncate(h.header_bytes + 86400 * h.record_size)
    tracemalloc.start()
    try:
        with EdfFile.open(path) as f:
            x = f.read_physical(3, 50_000, 50_010)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.shape == (2560,)
    assert peak < 2_000_000


# ---------------------------------------------------------------- demo


def test_demo_edf_opens_everywhere(tmp_path: Path) -> None:
    path = make_demo_edf(tmp_path / "demo.edf", seconds=20, seed=3)
    expected = ["eyes closed", "eyes open", "Patient bewegt sich – Artefakt"]
    with EdfFile.open(path) as f:
        h = f.header
        assert h.variant == "EDF+C" and h.n_records == 20
        assert [s.label for s in h.signals[:19]][:3] == ["EEG Fp1", "EEG Fp2", "EEG F7"]
        assert [s.label for s in h.signals[19:]] == ["ECG", "Trigger", "EDF Annotations"]
        assert [a.text for a in f.annotations] == expected
        eeg = np.array([f.read_physical(i) for i in range(19)])
        assert h.sample_rate(0) == 256.0 and h.signals[0].gain == pytest.approx(0.1)
    centred = eeg - eeg.mean(axis=1, keepdims=True)
    assert 5 < np.median(centred.std(axis=1)) < 60
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    assert list(raw.annotations.description) == expected
    assert raw.info["sfreq"] == 256.0
    with pyedflib.EdfReader(str(path)) as ref:
        assert list(ref.readAnnotations()[2]) == expected
        assert ref.getSignalLabels()[-1] == "Trigger"


def test_demo_is_deterministic_and_atomic(tmp_path: Path) -> None:
    a = make_demo_edf(tmp_path / "a.edf", seconds=10, seed=1).read_bytes()
    assert make_demo_edf(tmp_path / "b.edf", seconds=10, seed=1).read_bytes() == a
    assert make_demo_edf(tmp_path / "c.edf", seconds=10, seed=2).read_bytes() != a
    with pytest.raises(OutputExistsError):
        make_demo_edf(tmp_path / "a.edf", seconds=10)
    make_demo_edf(tmp_path / "a.edf", seconds=10, seed=2, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.edf", "b.edf", "c.edf"]


# ---------------------------------------------------------------- bad input


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError) as exc:
        EdfFile.open(tmp_path / "nope.edf")
    assert "no such file" in _check_one_line(exc, tmp_path / "nope.edf")
    with pytest.raises(InputNotFoundError) as exc:
        EdfFile.open(tmp_path)
    _check_one_line(exc, tmp_path)


def _at(field: str, signal: int, text: str) -> Callable[[bytes], bytes]:
    offset, width = _signal_field(field, signal)
    return lambda raw: _patch(raw, offset, width, text)


def _main(offset: int, width: int, text: str) -> Callable[[bytes], bytes]:
    return lambda raw: _patch(raw, offset, width, text)


# (id, how to damage small_edf, expected message fragment): every problem we diagnose.
CORRUPTIONS: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("empty", lambda raw: b"", "empty file"),
    ("text", lambda raw: b"hello, this is not EEG\n" * 40, "not an EDF or BDF file"),
    ("tiny", lambda raw: raw[:100], "too short"),
    ("short-header", lambda raw: raw[:700], "truncated header"),
    ("truncated", lambda raw: raw[:-5],
     "truncated: header says 3 data records (240 bytes) but only 235 bytes follow the header"),
    ("trailing", lambda raw: raw + bytes(7), "7 unexpected bytes after the last data record"),
    ("more-records", _main(236, 8, "4"), "header says 4 data records (320 bytes)"),
    ("zero-records", _main(236, 8, "0"), "contains no data records"),
    ("huge-records", _main(236, 8, "99999999"), "truncated"),
    ("ns-absurd", _main(252, 4, "9999"), "header says 9999 signals"),
    ("ns-zero", _main(252, 4, "0"), "header says 0 signals"),
    ("ns-text", _main(252, 4, "x"), "'number of signals' is 'x', not an integer"),
    ("header-bytes", _main(184, 8, "768"), "header says 768 header bytes"),
    ("spr-absurd", _at("spr", 0, "99999999"), "implausible"),
    ("spr-zero", _at("spr", 0, "0"), "has 0 samples per data record"),
    ("bad-number", _at("pmax", 0, "1,5"), "'physical maximum' of signal 1 ('EEG Cz') is '1,5'"),
    ("nan", _at("pmax", 0, "nan"), "not a number"),
    ("dmin-dmax", _at("dmin", 1, "32767"), "digital range 32767..32767"),
    ("dmax-range", _at("dmax", 1, "40000"), "within -32768..32767"),
    ("pmin-pmax", _at("pmax", 0, "-3276.8"), "physical minimum = physical maximum"),
    ("physical-overflow", lambda raw: _at("pmin", 0, "-1e308")(_at("pmax", 0, "1e308")(raw)),
     "cannot be scaled"),
    ("physical-huge", _at("pmax", 0, "1e999"), "not a finite number"),
    ("duration-zero", _main(244, 8, "0"), "must be greater than 0"),
    ("duration-neg", _main(244, 8, "-1"), "must be greater than 0"),
    ("date", _main(168, 8, "31.02.04"), "not a valid dd.mm.yy"),
    ("reserved", _main(192, 44, "EDF+X"), "expected EDF+C"),
    ("plus-d-no-annotations", lambda raw: _at("label", 2, "Status")(_main(192, 44, "EDF+D")(raw)),
     "no annotation signal"),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "fragment"), [c[1:] for c in CORRUPTIONS],
                         ids=[c[0] for c in CORRUPTIONS])  # fmt: skip
def test_bad_header_gives_one_line_edf_format_error(
    tmp_path: Path, small_edf: bytes, damage: Callable[[bytes], bytes], fragment: str
) -> None:
    path = tmp_path / "bad.edf"
    path.write_bytes(damage(small_edf))
    tracemalloc.start()
    try:
        with pytest.raises(EdfFormatError) as exc:
            EdfFile.open(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fragment in _check_one_line(exc, path)
    assert peak < 1_000_000


@pytest.mark.parametrize(
    ("tal", "fragment"),
    [
        (b"+0\x14\x14\x00+1.5\x150.5\x14oops", "malformed annotation list"),
        (b"+0\x14\x14\x00+x\x14text\x14\x00", "onset '+x' is not +seconds"),
        (b"+0\x14\x14\x00+1\x15-2\x14text\x14\x00", "duration '-2'"),
        (b"+0\x14\x14\x00+1\x14\xff\xfe\x14\x00", "not UTF-8"),
        (b"+0\x14event\x14\x00", "time-keeping"),
        (b"\x00" * 8, "time-keeping"),
    ],
)
def test_bad_annotations_give_edf_format_error(
    tmp_path: Path, small_edf: bytes, tal: bytes, fragment: str
) -> None:
    offset = 1024 + 32  # record 0, after the two 8-sample signals
    path = tmp_path / "bad-tal.edf"
    path.write_bytes(small_edf[:offset] + tal.ljust(48, b"\0") + small_edf[offset + 48 :])
    with EdfFile.open(path) as f, pytest.raises(EdfFormatError) as exc:
        _ = f.annotations
    assert fragment in _check_one_line(exc, path)
    assert "data record 1" in str(exc.value)


# ---------------------------------------------------------------- writer


def test_writer_is_atomic(tmp_path: Path, small_edf: bytes) -> None:
    target = tmp_path / "out.edf"
    header = small_edf[:1024]
    with pytest.raises(RuntimeError), EdfWriter(target, header) as writer:
        writer.write_records([np.zeros(8, int), np.zeros(8, int), bytes(48)])
        raise RuntimeError("crash in the middle")
    assert list(tmp_path.iterdir()) == []

    with (
        pytest.raises(ValueError, match="outside the -32768..32767 its 2-byte samples can hold"),
        EdfWriter(target, header) as writer,
    ):
        writer.write_records([np.full(8, 40000), np.zeros(8, int), bytes(48)])
    with (
        pytest.raises(ValueError, match="wrote 1 data records but the header says 3"),
        EdfWriter(target, header) as writer,
    ):
        writer.write_records([np.zeros(8, int), np.zeros(8, int), bytes(48)])
    with (
        pytest.raises(ValueError, match="same whole number of records"),
        EdfWriter(target, header) as writer,
    ):
        writer.write_records([np.zeros(8, int), np.zeros(16, int), bytes(48)])
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_overwrite_without_force(tmp_path: Path, small_edf: bytes) -> None:
    source = tmp_path / "in.edf"
    source.write_bytes(small_edf)
    target = tmp_path / "out.edf"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError) as exc:
        write(target, read(source))
    assert "already exists" in _check_one_line(exc, target)
    assert target.read_bytes() == b"precious"
    writer = EdfWriter(target, small_edf[:1024], force=True)
    try:
        writer.write_records([read(source).digital[i] for i in range(3)])
        writer.commit()
    finally:
        writer.abort()  # no-op after commit
    assert target.read_bytes() == small_edf
    with pytest.raises(ValueError, match="already committed"):
        writer.write_records([np.zeros(8, int), np.zeros(8, int), bytes(48)])
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.edf", "out.edf"]


def test_writer_reports_missing_output_directory(tmp_path: Path, small_edf: bytes) -> None:
    target = tmp_path / "no" / "such" / "dir.edf"
    with pytest.raises(EegzipError) as exc:
        EdfWriter(target, small_edf[:1024])
    assert "cannot create: No such file" in _check_one_line(exc, target)
