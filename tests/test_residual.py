"""The residual layer: --lossless gives the input back bit for bit, --max-error bounds errors."""

from __future__ import annotations

import numpy as np
import pytest

import eegzip
import eegzip.pipeline.decompress as decompress_module
from eegzip.edf import EdfFile
from eegzip.errors import UnsupportedError


@pytest.fixture(scope="module")
def source(shared_data):
    return shared_data / "eegmat" / "Subject20_2.edf"  # 62 s, 8 channels, 500 Hz


@pytest.fixture(scope="module")
def codec():
    return eegzip.load_codec()


@pytest.mark.parametrize(
    "name", ["guinea-bissau/gb-001.edf", "muse/visual-N170_subject10_session1_r1.edf"]
)
def test_lossless_on_other_datasets(shared_data, codec, tmp_path, name):
    """14 channels at 128 Hz with a 4200 µV offset, and 4 coarse channels at 256 Hz."""
    source = shared_data / name
    result = eegzip.compress(source, tmp_path / "x.eegc", model=codec, max_error_uv=0.0,
                             measure=False)  # fmt: skip
    assert result.codebooks == 1 and result.output_bytes < source.stat().st_size / 2.5
    restored = eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf").output
    assert restored.read_bytes() == source.read_bytes()


def test_lossless_gives_the_file_back(source, codec, tmp_path):
    result = eegzip.compress(source, tmp_path / "x.eegc", model=codec, max_error_uv=0.0)
    assert result.fidelity["overall"]["prd"] == 0 and result.residual_bytes > 0
    restored = eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf").output
    assert restored.read_bytes() == source.read_bytes()
    window = eegzip.decompress(tmp_path / "x.eegc", tmp_path / "w.edf", start=20, duration=10)
    with EdfFile.open(source) as a, EdfFile.open(window.output) as b:
        for i in range(len(a.header.signals) - 1):
            assert np.array_equal(b.read_digital(i), a.read_digital(i, 20, 30))


@pytest.mark.parametrize("bound", [0.5, 2.0])
def test_max_error_bounds_every_sample(source, codec, tmp_path, bound):
    result = eegzip.compress(source, tmp_path / "x.eegc", model=codec, max_error_uv=bound)
    restored = eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf").output
    with EdfFile.open(source) as a, EdfFile.open(restored) as b:
        worst = max(
            np.max(np.abs(a.read_physical(i) - b.read_physical(i)))
            for i, s in enumerate(a.header.signals)
            if not s.is_annotation
        )
    assert 0 < worst <= bound + 1e-9
    assert result.output_bytes < source.stat().st_size


def test_a_different_decoder_is_caught(source, codec, tmp_path, monkeypatch):
    eegzip.compress(source, tmp_path / "x.eegc", model=codec, max_error_uv=1.0, measure=False)
    original = decompress_module.decode_block
    monkeypatch.setattr(
        decompress_module, "decode_block", lambda *a: original(*a) + 0.05
    )  # what another BLAS or GPU might do to the decoder's output
    with pytest.raises(UnsupportedError, match="decoder output differs"):
        eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf")
    assert not (tmp_path / "x.edf").exists()
