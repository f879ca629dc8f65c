"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import eegzip
from eegzip.demo import make_demo_edf
from eegzip.edf import Annotation, EdfHeader, EdfWriter, SignalHeader, build_header, encode_tals


def _shared(folder: str, what: str) -> Path:
    """A folder of ../shared next to the checkout: skipped when absent, a failure in CI."""
    path = Path(__file__).resolve().parents[2] / "shared" / folder
    if not path.is_dir():
        message = f"{what} not found at {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real EEG data folder (../shared/data next to the checkout); never copied into git."""
    return _shared("data", "real EEG data")


@pytest.fixture(scope="session")
def shared_repro() -> Path:
    """Reproductions of reliability defects (../shared/repro, described in its README)."""
    return _shared("repro", "defect reproductions")


@pytest.fixture(scope="session")
def small_edf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A valid 3-record EDF+C (two signals + annotations, one non-ASCII annotation) as bytes.

    Layout: 256 + 3 * 256 = 1024 header bytes, records of 8 + 8 + 24 samples = 80 bytes.
    """

    def eeg(label: str) -> SignalHeader:
        return SignalHeader(label=label, physical_dimension="uV", physical_min=-3276.8,
                            physical_max=3276.7, digital_min=-32768, digital_max=32767,
                            samples_per_record=8)  # fmt: skip

    annotation_signal = SignalHeader(label="EDF Annotations", physical_dimension="",
                                     physical_min=-1, physical_max=1, digital_min=-32768,
                                     digital_max=32767, samples_per_record=24)  # fmt: skip
    header = EdfHeader(startdate="02.03.04", starttime="05.06.07", n_records=3,
                       record_duration_raw="1", reserved="EDF+C",
                       signals=(eeg("EEG Cz"), eeg("EEG Pz"), annotation_signal))  # fmt: skip
    event = Annotation(1.5, 0.5, "Bewegung – Artefakt")
    tals = b"".join(encode_tals(r, [event] if r == 1 else [], 48) for r in range(3))
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("small") / "small.edf"
    with EdfWriter(path, build_header(header)) as writer:
        writer.write_records([rng.integers(-32768, 32768, 24), rng.integers(-500, 500, 24), tals])
    return path.read_bytes()


@pytest.fixture(scope="session")
def demo_edf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 70-s demo EDF+ (19 EEG channels, ECG, trigger, annotations): two code blocks."""
    return make_demo_edf(tmp_path_factory.mktemp("demo") / "demo.edf", seconds=70)


@pytest.fixture(scope="session")
def demo_eegc(demo_edf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo_edf through the neural codec (the paper's configuration: the default model, 9
    codebooks), without metrics; tests must not change it."""
    out = tmp_path_factory.mktemp("demo_eegc") / "demo.eegc"
    eegzip.compress(demo_edf, out, bitrate="paper", measure=False)
    return out
