"""End to end: EDF → .eegc → EDF on real recordings, streaming independence, determinism."""

from __future__ import annotations

from datetime import timedelta

import mne
import numpy as np
import pyedflib
import pytest

import eegzip
from eegzip.container import ContainerReader
from eegzip.edf import Annotation, EdfFile
from eegzip.pipeline.layout import BlockLayout


@pytest.fixture(scope="module")
def codec():
    return eegzip.load_codec()


def _muse_file(shared_data):
    return sorted((shared_data / "muse").glob("*.edf"))[0]


@pytest.fixture(scope="module")
def real_files(shared_data):
    return {
        "eegmat": shared_data / "eegmat" / "Subject20_2.edf",
        "gb": shared_data / "guinea-bissau" / "gb-004.edf",
        "muse": _muse_file(shared_data),
    }


@pytest.mark.parametrize("up,down,samples", [(64, 125, 31_000), (2, 1, 38_400), (1, 1, 30_720)])
def test_layout_partitions_samples(up, down, samples):
    layout = BlockLayout(up, down, hop=512, model_rate=256, block_frames=4, context_frames=1,
                         source_samples=samples)  # fmt: skip
    ranges = [layout.source_range(b) for b in range(layout.n_blocks)]
    assert ranges[0][0] == 0 and ranges[-1][1] == samples
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    for b in range(layout.n_blocks):
        lo, hi, model_lo = layout.aligned_source_window(*layout.encode_window(b))
        assert lo % down == 0 and model_lo * down == lo * up and hi <= samples


@pytest.fixture(scope="module")
def round_trip(real_files, codec, tmp_path_factory):
    """Compress and decompress each real file once; tests look at different aspects."""
    done = {}
    for name, source in real_files.items():
        folder = tmp_path_factory.mktemp(name)
        result = eegzip.compress(source, folder / "x.eegc", model=codec)
        eegzip.decompress(folder / "x.eegc", folder / "x.edf")
        done[name] = (source, result, folder / "x.eegc", folder / "x.edf")
    return done


@pytest.mark.parametrize("name", ["eegmat", "gb", "muse"])
def test_round_trip_real_file(round_trip, name):
    source, result, container, restored = round_trip[name]
    assert result.output_bytes < result.input_bytes / 4
    assert result.fidelity is not None and result.fidelity["overall"]["prd"] is not None
    assert len(restored.read_bytes()) == len(source.read_bytes())
    coded = result_codec_indices(container)
    with EdfFile.open(source) as a, EdfFile.open(restored) as b:
        assert b.raw_header == a.raw_header
        assert b.annotations == a.annotations
        for i, signal in enumerate(a.header.signals):
            if signal.is_annotation or i not in coded:
                assert np.array_equal(a.read_digital(i), b.read_digital(i)), signal.label
    # Third-party readers accept the output.
    raw = mne.io.read_raw_edf(restored, preload=True, verbose="error")
    assert raw.n_times == round(a.header.duration * raw.info["sfreq"])
    with pyedflib.EdfReader(str(restored)) as reader:
        assert reader.signals_in_file == len(a.header.signals) - len(a.header.annotation_indices)


def result_codec_indices(container):
    with ContainerReader.open(container) as reader:
        return set(reader.meta["codec_channels"])


def test_reference_metrics_match_stored(round_trip):
    """decompress --reference recomputes what compress stored."""
    source, result, container, _ = round_trip["muse"]
    again = eegzip.decompress(container, None, reference=source)
    stored, measured = result.fidelity["overall"], again.fidelity["overall"]
    for key in ("prd", "prdn", "snr_db", "r"):
        assert measured[key] == pytest.approx(stored[key], rel=1e-6), key


def test_guinea_bissau_offset_survives(round_trip):
    """The ~4200 µV DC offset comes back; nothing is clipped."""
    source, result, _, restored = round_trip["gb"]
    assert result.clipped_samples == 0
    with EdfFile.open(source) as a, EdfFile.open(restored) as b:
        x, y = a.read_physical(0), b.read_physical(0)
        assert abs(np.median(x) - np.median(y)) < 5.0
        assert np.max(np.abs(y - x)) < 4 * np.max(np.abs(x - np.median(x)))


def test_deterministic_and_independent_of_length(real_files, codec, tmp_path):
    """Same file twice → same bytes; a block's codes do not depend on what follows it."""
    source = real_files["eegmat"]  # 62 s at 500 Hz
    first, second = tmp_path / "a.eegc", tmp_path / "b.eegc"
    eegzip.compress(source, first, model=codec, measure=False)
    eegzip.compress(source, second, model=codec, measure=False)
    assert first.read_bytes() == second.read_bytes()


def test_blocks_independent_of_recording_length(shared_data, codec, tmp_path):
    """Codes of the first blocks are the same whether the file goes on or stops after them."""
    from eegzip.edf import EdfWriter, build_header
    from eegzip.pipeline.compress import CompressOptions, compress_file

    source = shared_data / "eegmat" / "Subject21_1.edf"  # 182 s
    options = CompressOptions(block_frames=4, context_frames=2, measure=False)
    with EdfFile.open(source) as edf:
        keep = 80  # records (s): blocks of 8 s → 10 whole blocks
        short = tmp_path / "short.edf"
        header = build_header(_with_records(edf.header, keep))
        with EdfWriter(short, header) as writer:
            writer.write_records(
                [edf.read_digital(i, 0, keep) for i in range(len(edf.header.signals))]
            )
    compress_file(source, tmp_path / "long.eegc", codec, options)
    compress_file(short, tmp_path / "short.eegc", codec, options)
    with (
        ContainerReader.open(tmp_path / "long.eegc") as a,
        ContainerReader.open(tmp_path / "short.eegc") as b,
    ):
        for k in range(b.code_block_count - 1):  # the last short block sees the file's end
            assert np.array_equal(a.code_block(k).codes, b.code_block(k).codes), k


def _with_records(header, n):
    from dataclasses import replace

    return replace(header, n_records=n)


def _variant_from_real(shared_data, path, *, bdf: bool, onsets: list[float]):
    """A 2-channel BDF+C or EDF+D made of real EEGMAT samples, with annotations."""
    from eegzip.edf import (
        BDF_VERSION,
        EDF_VERSION,
        Annotation,
        EdfHeader,
        EdfWriter,
        SignalHeader,
        build_header,
        encode_tals,
    )

    lo, hi = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    eeg = [SignalHeader(label=f"EEG {name}", physical_dimension="uV", physical_min=-1000.0,
                        physical_max=1000.0, digital_min=lo, digital_max=hi,
                        samples_per_record=500) for name in ("Fz", "Pz")]  # fmt: skip
    kind = "BDF" if bdf else "EDF"
    ann = SignalHeader(label=f"{kind} Annotations", physical_dimension="", physical_min=-1,
                       physical_max=1, digital_min=lo, digital_max=hi,
                       samples_per_record=40)  # fmt: skip
    header = EdfHeader(version=BDF_VERSION if bdf else EDF_VERSION, patient="X X X X",
                       recording="Startdate 02-MAR-2004 X X X", startdate="02.03.04",
                       starttime="05.06.07", reserved=f"{kind}+{'C' if bdf else 'D'}",
                       n_records=len(onsets), record_duration_raw="1",
                       signals=(*eeg, ann))  # fmt: skip
    events = {3: [Annotation(onsets[3] + 0.25, 1.0, "Augen zu – Ruhe")]}
    with EdfFile.open(shared_data / "eegmat" / "Subject22_2.edf") as src:
        scale = (hi - lo) / 2000.0
        rows = [np.rint(src.read_physical(i, 0, len(onsets)) * scale).astype(np.int64)
                for i in (1, 4)]  # fmt: skip
    tals = b"".join(encode_tals(o, events.get(r, []), 40 * (3 if bdf else 2))
                    for r, o in enumerate(onsets))  # fmt: skip
    with EdfWriter(path, build_header(header)) as writer:
        writer.write_records([*rows, tals])
    return path


@pytest.mark.parametrize("bdf", [True, False], ids=["bdf-plus-c", "edf-plus-d"])
def test_bdf_and_discontinuous_round_trip(shared_data, codec, tmp_path, bdf):
    onsets = [float(r) for r in range(40)] if bdf else [*range(20), *range(30, 50)]
    source = _variant_from_real(shared_data, tmp_path / ("in.bdf" if bdf else "in.edf"),
                                bdf=bdf, onsets=[float(o) for o in onsets])  # fmt: skip
    result = eegzip.compress(source, tmp_path / "x.eegc", model=codec)
    restored = eegzip.decompress(tmp_path / "x.eegc").output
    assert restored.suffix == source.suffix
    with EdfFile.open(source) as a, EdfFile.open(restored) as b:
        assert b.raw_header == a.raw_header and b.header.variant == a.header.variant
        assert b.annotations == a.annotations and b.record_onsets == a.record_onsets
        assert np.array_equal(a.read_digital(2), b.read_digital(2))  # the annotation signal
    assert result.fidelity["overall"]["r"] > 0.25, result.fidelity["overall"]["r"]
    assert any("EDF+D" in w for w in result.warnings) != bdf


def test_random_access_window(round_trip, codec, tmp_path):
    """A window decodes to exactly the full decode's records, with times kept absolute."""
    source, _, container, full = round_trip["muse"]
    window = tmp_path / "window.edf"
    result = eegzip.decompress(container, window, start=30.4, duration=60)
    assert result.output == window
    with EdfFile.open(full) as a, EdfFile.open(window) as b, EdfFile.open(source) as orig:
        assert b.header.n_records == 61  # records 30..90 cover [30.4, 90.4)
        assert b.header.start_datetime == a.header.start_datetime + timedelta(seconds=30)
        for i, signal in enumerate(a.header.signals):
            if not signal.is_annotation:
                assert np.array_equal(b.read_digital(i), a.read_digital(i, 30, 91)), signal.label
        expected = [
            Annotation(x.onset - 30, x.duration, x.text)
            for x in orig.annotations
            if 30 <= x.onset < 91
        ]
        assert [(round(x.onset, 6), x.text) for x in b.annotations] == [
            (round(x.onset, 6), x.text) for x in expected
        ]
    raw = mne.io.read_raw_edf(window, preload=True, verbose="error")
    assert raw.n_times == 61 * 256


def test_random_access_rejects_outside(round_trip, tmp_path):
    from eegzip.errors import EegzipError

    _, _, container, _ = round_trip["muse"]
    with pytest.raises(EegzipError, match="outside the recording"):
        eegzip.decompress(container, tmp_path / "w.edf", start=1e6, duration=10)
    assert not (tmp_path / "w.edf").exists()


@pytest.mark.parametrize("bdf", [True, False], ids=["bdf-plus-c", "edf-plus-d"])
def test_window_of_bdf_and_refusal_for_discontinuous(shared_data, codec, tmp_path, bdf):
    from eegzip.errors import UnsupportedError

    onsets = [float(r) for r in range(40)] if bdf else [*range(20), *range(30, 50)]
    source = _variant_from_real(shared_data, tmp_path / ("in.bdf" if bdf else "in.edf"),
                                bdf=bdf, onsets=[float(o) for o in onsets])  # fmt: skip
    eegzip.compress(source, tmp_path / "x.eegc", model=codec, measure=False)
    if not bdf:
        with pytest.raises(UnsupportedError, match="EDF\\+D"):
            eegzip.decompress(tmp_path / "x.eegc", tmp_path / "w.edf", start=2, duration=5)
        return
    eegzip.decompress(tmp_path / "x.eegc", tmp_path / "w.bdf", start=2, duration=5)
    with EdfFile.open(tmp_path / "w.bdf") as w:
        assert w.header.n_records == 5 and w.record_onsets[0] == 0.0
        assert [(a.onset, a.text) for a in w.annotations] == [(1.25, "Augen zu – Ruhe")]
