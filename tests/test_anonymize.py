"""compress --anonymize: EDF+'s anonymised header forms, and no original identifier stored."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.container import ContainerReader
from eegzip.edf import EdfFile, parse_header
from eegzip.errors import OutputExistsError, UsageError


def _stored_texts(path: Path) -> list[bytes]:
    """Everything a .eegc holds that could carry text: its bytes as written, and decoded
    (decompressed) header, metadata, metrics and lossless signal bytes."""
    texts = [path.read_bytes()]
    with ContainerReader.open(path) as reader:
        texts.append(reader.edf_header)
        texts.append(json.dumps(reader.meta).encode())
        texts.append(json.dumps(reader.metrics).encode())
        texts.extend(
            block.samples.astype("<i4").view(np.uint8).tobytes()
            for block in reader.iter_raw_blocks()
        )
    return texts


def _identifiers(edf: Path) -> list[bytes]:
    """The original patient field, and its tokens and those of the recording field after the
    date (administration code, technician, equipment) longer than one character."""
    header = EdfFile.open(edf).header
    tokens = header.patient.split() + header.recording.split()[2:]
    return [header.patient.encode(), *(t.encode() for t in tokens if len(t) > 1)]


def test_real_file_keeps_no_identifier(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "eegmat" / "Subject00_1.edf"
    identifiers = _identifiers(source)
    assert b"Subject0" in identifiers and b"01-JAN-1990" in identifiers
    plain, anonymous = tmp_path / "plain.eegc", tmp_path / "anon.eegc"
    eegzip.compress(source, plain, codebooks=2)
    result = CliRunner().invoke(
        app, ["compress", str(source), "-o", str(anonymous), "--anonymize", "--shift-date", "-40"]
    )
    assert result.exit_code == 0, result.output
    # The check can fail: without --anonymize the identifiers are stored.
    assert any(b"Subject0" in text for text in _stored_texts(plain))
    for text in _stored_texts(anonymous):
        for identifier in identifiers:
            assert identifier not in text, identifier

    original = EdfFile.open(source)
    decoded = tmp_path / "anon.edf"
    eegzip.decompress(anonymous, decoded)
    raw = decoded.read_bytes()[: original.header.header_bytes]
    assert len(raw) == len(original.raw_header)
    header = parse_header(raw, "decoded")
    assert header.patient == "X X X X"
    shifted = original.header.start_datetime - timedelta(days=40)
    assert header.start_datetime == shifted
    assert header.recording == "Startdate " + f"{shifted:%d-%b-%Y}".upper() + " X X X"
    assert raw[184:] == original.raw_header[184:]  # nothing else in the header changed
    assert raw[176:184] == original.raw_header[176:184]  # start time of day kept

    pyedflib = pytest.importorskip("pyedflib")
    with pyedflib.EdfReader(str(decoded)) as reader:
        assert reader.getStartdatetime().date() == shifted.date()
        assert reader.signals_in_file == 8
    mne = pytest.importorskip("mne")
    read = mne.io.read_raw_edf(decoded, preload=False, verbose="error")
    assert read.info["meas_date"].date() == shifted.date()

    info = eegzip.info(anonymous)
    assert info["anonymized"] == {
        "patient": "X X X X",
        "start_date": "shifted",
        "annotation_text": "kept",
    }
    assert info["recording"]["patient"] == "X X X X"
    shown = CliRunner().invoke(app, ["info", str(anonymous)])
    assert "anonymised: patient 'X X X X', start date shifted" in shown.output


def test_annotations_kept_or_dropped(demo_edf: Path, tmp_path: Path) -> None:
    original = EdfFile.open(demo_edf)
    assert original.annotations
    kept, dropped = tmp_path / "kept.eegc", tmp_path / "dropped.eegc"
    eegzip.compress(demo_edf, kept, measure=False, anonymize=True, drop_date=True)
    eegzip.compress(demo_edf, dropped, measure=False, drop_annotation_text=True)
    with eegzip.open(kept) as reader:
        assert reader.annotations == original.annotations
        assert reader.header.startdate == "01.01.85"
        assert reader.header.recording == "Startdate X X X X"
    with eegzip.open(dropped) as reader:
        assert reader.annotations == ()
        assert reader.header.patient == "X X X X"
        assert reader.header.start_datetime == original.header.start_datetime
    for text in _stored_texts(dropped):
        for annotation in original.annotations:
            assert annotation.text.encode() not in text
    out = tmp_path / "dropped.edf"
    eegzip.decompress(dropped, out)
    with EdfFile.open(out) as decoded:
        assert decoded.annotations == ()
        assert decoded.record_onsets == original.record_onsets  # time keeping intact
    assert eegzip.info(dropped)["anonymized"]["annotation_text"] == "dropped"


def test_bad_anonymisation_options(demo_edf: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.eegc"
    result = CliRunner().invoke(
        app, ["compress", str(demo_edf), "-o", str(out), "--shift-date", "-100000"]
    )
    assert result.exit_code == UsageError.exit_code
    assert "outside EDF's 1985-2084" in result.output and "Traceback" not in result.output
    assert not out.exists()
    with pytest.raises(UsageError, match="cannot be combined"):
        eegzip.compress(demo_edf, out, shift_date=3, drop_date=True)


def test_batch_resume_does_not_keep_an_identified_output(demo_edf: Path, tmp_path: Path) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    (folder / "rec.edf").write_bytes(demo_edf.read_bytes())
    runner = CliRunner()
    first = runner.invoke(app, ["compress", str(folder), "-o", str(out), "--no-metrics"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        app, ["compress", str(folder), "-o", str(out), "--no-metrics", "--anonymize"]
    )
    assert again.exit_code == OutputExistsError.exit_code
    assert "not anonymised" in again.output
