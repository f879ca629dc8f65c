"""eegzip.open: one lazy reader for .eegc and EDF/BDF, windows as numpy arrays or MNE Raw."""

from __future__ import annotations

import builtins
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.edf import EdfHeader, EdfWriter, SignalHeader, build_header
from eegzip.errors import UnsupportedError, UsageError


@pytest.fixture(scope="module")
def demo_decoded(demo_eegc: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full decompression of demo_eegc: what every window must agree with."""
    out = tmp_path_factory.mktemp("decoded") / "demo.decoded.edf"
    eegzip.decompress(demo_eegc, out)
    return out


def test_window_has_the_samples_of_a_full_decompress(demo_eegc: Path, demo_decoded: Path):
    with eegzip.open(demo_eegc) as coded, eegzip.open(demo_decoded) as full:
        assert coded.channels == full.channels
        assert coded.raw_header == full.raw_header
        # A window across the block boundary (64 s), starting inside a data record.
        window = coded.read(start=60.25, duration=7.5)
        expected = full.read(start=60.25, duration=7.5)
    if isinstance(window, dict):
        assert window.keys() == expected.keys()
        pairs = [(window[k], expected[k]) for k in window]
    else:
        pairs = [(window, expected)]
    for got, want in pairs:
        assert got.shape[1] > 0
        assert np.array_equal(got, want)


def test_channels_units_and_rates(demo_eegc: Path, demo_edf: Path) -> None:
    with eegzip.open(demo_edf) as edf, eegzip.open(demo_eegc) as coded:
        label = coded.channels[0]
        rate = coded.sample_rates[label]
        uv = coded.read(start=1, duration=2, channels=[label])
        volts = coded.read(start=1, duration=2, channels=[label], units="V")
        assert uv.shape == (1, round(2 * rate))
        assert np.allclose(uv * 1e-6, volts)
        original = edf.read(start=1, duration=2, channels=[label])
        assert np.corrcoef(original[0], uv[0])[0, 1] > 0.5  # lossy, but the same signal
        assert coded.annotations == edf.annotations and coded.annotations
        assert coded.units[label] == "uV"


def test_mixed_rates_come_back_by_rate(tmp_path: Path) -> None:
    def signal(label: str, per_record: int) -> SignalHeader:
        return SignalHeader(label=label, physical_dimension="uV", physical_min=-100,
                            physical_max=100, digital_min=-32768, digital_max=32767,
                            samples_per_record=per_record)  # fmt: skip

    signals = (signal("EEG Cz", 256), signal("Resp", 8), signal("EEG Pz", 256))
    header = EdfHeader(startdate="01.02.03", starttime="04.05.06", n_records=4,
                       record_duration_raw="1", signals=signals)  # fmt: skip
    rng = np.random.default_rng(0)
    rows = [rng.integers(-999, 999, 4 * s.samples_per_record) for s in header.signals]
    path = tmp_path / "mixed.edf"
    with EdfWriter(path, build_header(header)) as writer:
        writer.write_records(rows)
    with eegzip.open(path) as edf:
        out = edf.read(start=1.5, duration=2, channels=["EEG Pz", "Resp", "EEG Cz"], units="V")
    assert isinstance(out, dict) and set(out) == {256.0, 8.0}
    gain = 200 / 65535
    expected = rows[2][384:896] * gain + (100 - gain * 32767)
    assert out[256.0].shape == (2, 512)
    assert np.allclose(out[256.0][0], expected * 1e-6)
    assert out[8.0].shape == (1, 16)


@pytest.mark.parametrize("bitrate", [None, "paper"], ids=["default", "neural"])
def test_real_file_window_equals_full_decompress(shared_data: Path, tmp_path: Path, bitrate):
    source = shared_data / "eegmat" / "Subject00_1.edf"
    coded, full = tmp_path / "s.eegc", tmp_path / "s.edf"
    eegzip.compress(source, coded, measure=False, bitrate=bitrate)
    eegzip.decompress(coded, full)
    with eegzip.open(coded) as c, eegzip.open(full) as f:
        # Across the neural codec's block boundary at 64 s, inside data records.
        x = c.read(start=55.5, duration=20, channels=["EEG Fz", "eeg o2"])
        assert x.shape == (2, 10000)
        assert np.array_equal(x, f.read(start=55.5, duration=20, channels=["EEG Fz", "EEG O2"]))


def test_to_mne(demo_eegc: Path, demo_decoded: Path) -> None:
    mne = pytest.importorskip("mne")
    with eegzip.open(demo_eegc) as coded:
        eeg = [c.label for c in coded.channel_info if c.mne_type == "eeg"]
        ecg = [c.label for c in coded.channel_info if c.mne_type == "ecg"]
        rate = coded.sample_rates[eeg[0]]
        same_rate = [c for c in eeg + ecg if coded.sample_rates[c] == rate]
        raw = coded.to_mne(start=10, duration=30, channels=same_rate)
        volts = coded.read(start=10, duration=30, channels=same_rate, units="V")
        start = coded.start
        annotations = coded.annotations
    assert isinstance(raw, mne.io.BaseRaw)
    assert raw.ch_names == same_rate
    assert np.allclose(raw.get_data(), volts)
    types = dict(zip(raw.ch_names, raw.get_channel_types(), strict=True))
    assert types[eeg[0]] == "eeg"
    assert all(types[c] == "ecg" for c in ecg if c in types)
    assert raw.info["meas_date"] == start
    assert isinstance(start, datetime) and start.tzinfo == timezone.utc
    inside = [a for a in annotations if 10 <= a.onset < 40]
    assert list(raw.annotations.description) == [a.text for a in inside]
    assert np.allclose(raw.annotations.onset, [a.onset for a in inside])
    assert raw.first_samp == round(10 * rate)


def test_to_mne_without_mne_names_the_extra(demo_eegc: Path, monkeypatch) -> None:
    real_import = builtins.__import__

    def no_mne(name, *args, **kwargs):
        if name == "mne" or name.startswith("mne."):
            raise ImportError("No module named 'mne'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mne)
    with eegzip.open(demo_eegc) as coded, pytest.raises(UnsupportedError, match=r"eegzip\[mne\]"):
        coded.to_mne(channels=[coded.channels[0]])


def test_bad_requests_are_one_clear_error(demo_eegc: Path, tmp_path: Path) -> None:
    with eegzip.open(demo_eegc) as coded:
        with pytest.raises(UsageError, match="no channel named 'EEG Nope'"):
            coded.read(channels=["EEG Nope"])
        with pytest.raises(UsageError, match="outside the recording"):
            coded.read(start=10_000, duration=1)
        with pytest.raises(UsageError, match="outside the recording"):
            coded.read(start=-1, duration=1)
        with pytest.raises(UsageError, match="units"):
            coded.read(units="furlongs")
    result = CliRunner().invoke(
        app,
        ["decompress", str(demo_eegc), "-o", str(tmp_path / "w.edf"), "--start", "9999"],
    )
    assert result.exit_code == UsageError.exit_code
    assert "outside the recording" in result.output and "Traceback" not in result.output
