"""The residual layer: --lossless gives the input back bit for bit, --max-error bounds errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import eegzip
import eegzip.pipeline.blockcodec as blockcodec
import eegzip.pipeline.decompress as decompress_module
from eegzip.demo import make_demo_edf
from eegzip.edf import EdfFile
from eegzip.errors import SelfCheckError, UnsupportedError


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


def test_archival_files_do_not_depend_on_the_neural_decoder(source, codec, tmp_path, monkeypatch):
    """What another BLAS, thread count or GPU might do to the decoder's output changes nothing;
    the model is not even loaded."""
    eegzip.compress(source, tmp_path / "x.eegc", model=codec, max_error_uv=1.0, measure=False)
    expected = eegzip.decompress(tmp_path / "x.eegc", tmp_path / "a.edf").output.read_bytes()
    original = blockcodec.decode_block
    monkeypatch.setattr(blockcodec, "decode_block", lambda *a: original(*a) + 0.05)

    def unavailable(*args, **kwargs):
        raise AssertionError("an archival file of format 1.4 needs no model")

    monkeypatch.setattr(decompress_module.registry, "load", unavailable)
    restored = eegzip.decompress(tmp_path / "x.eegc", tmp_path / "b.edf").output
    assert restored.read_bytes() == expected


LEGACY = Path(__file__).parent / "data" / "legacy-1.3-lossless.eegc"
"""make_demo_edf(seconds=10) compressed --lossless by eegzip 2462c27 (format 1.3, RESP) with one
torch thread: its residual layer corrects the neural decoder's output."""


@pytest.fixture
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_format_1_3_archival_files_still_decode(tmp_path, one_torch_thread):
    demo = make_demo_edf(tmp_path / "demo.edf", seconds=10)
    restored = eegzip.decompress(LEGACY, tmp_path / "x.edf").output
    assert restored.read_bytes() == demo.read_bytes()


def test_format_1_3_with_a_different_decoder_is_refused(tmp_path, monkeypatch, one_torch_thread):
    original = blockcodec.decode_block
    monkeypatch.setattr(blockcodec, "decode_block", lambda *a: original(*a) + 0.05)
    with pytest.raises(UnsupportedError, match="format-1.3 file .* OMP_NUM_THREADS"):
        eegzip.decompress(LEGACY, tmp_path / "x.edf")
    assert list(tmp_path.iterdir()) == []


def _eegzip(threads: int, *args: str) -> None:
    """The CLI in a fresh process with ``threads`` OpenMP / torch threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-m", "eegzip", *args], env=env, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "write, read, modes",
    [(1, 2, (["--lossless"], ["--max-error", "1"])), (2, 1, (["--lossless"],))],
)
def test_archival_files_decode_exactly_with_another_thread_count(tmp_path, write, read, modes):
    """Lossless: the source, byte for byte; bounded: what the writing side decodes."""
    demo = make_demo_edf(tmp_path / "demo.edf", seconds=10)
    packed, restored = tmp_path / "x.eegc", tmp_path / "r.edf"
    for mode in modes:
        _eegzip(write, "compress", str(demo), "-o", str(packed), "--force", *mode)
        _eegzip(read, "decompress", str(packed), "-o", str(restored), "--force")
        expected = demo
        if mode != ["--lossless"]:
            expected = tmp_path / "w.edf"
            _eegzip(write, "decompress", str(packed), "-o", str(expected), "--force")
        assert restored.read_bytes() == expected.read_bytes()


def test_samples_outside_the_declared_range_are_kept(shared_repro, codec, tmp_path):
    """oor.edf: one sample at 31215 where the header declares ±8229."""
    source = shared_repro / "oor.edf"
    eegzip.compress(source, tmp_path / "x.eegc", model=codec, max_error_uv=0.0, measure=False)
    restored = eegzip.decompress(tmp_path / "x.eegc", tmp_path / "x.edf").output
    assert restored.read_bytes() == source.read_bytes()
    eegzip.compress(source, tmp_path / "b.eegc", model=codec, max_error_uv=2.0, measure=False)
    restored = eegzip.decompress(tmp_path / "b.eegc", tmp_path / "b.edf").output
    with EdfFile.open(source) as a, EdfFile.open(restored) as b:
        t8 = next(i for i, s in enumerate(a.header.signals) if s.label.strip() == "T8")
        assert a.read_digital(t8).max() == 31215
        error = np.abs(a.read_physical(t8) - b.read_physical(t8)).max()
    assert error <= 2.0 + 1e-9


def test_archival_compress_checks_its_output(codec, tmp_path, monkeypatch):
    """A residual layer that breaks the promise is caught before anything is published."""
    import eegzip.pipeline.compress as compress_module

    demo = make_demo_edf(tmp_path / "demo.edf", seconds=10)
    (tmp_path / "x.eegc").write_bytes(b"older archive")
    original = compress_module.quantised

    def off_by_one(*args):
        k, lows, highs = original(*args)
        k[0, 100] += 1
        return k, lows, highs

    monkeypatch.setattr(compress_module, "quantised", off_by_one)
    for bound in (0.0, 1.0):
        with pytest.raises(SelfCheckError, match=r"signal 0 \('EEG Fp1'\) is off by"):
            eegzip.compress(demo, tmp_path / "x.eegc", model=codec, max_error_uv=bound,
                            force=True, measure=False)  # fmt: skip
        assert (tmp_path / "x.eegc").read_bytes() == b"older archive"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.edf", "x.eegc"]
