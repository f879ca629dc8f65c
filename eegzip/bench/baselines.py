"""Lossless baselines measured on the same files: zstd -19 and xz -9 on the EDF bytes, FLAC -8.

FLAC codes each non-annotation signal as a mono stream of its digital samples (16-bit for EDF,
24-bit for BDF) at its rate rounded to an integer Hz (the rate is only metadata to FLAC). The
FLAC total adds the header bytes as they are and the annotation signals' bytes through zstd -19,
so it stands for a complete lossless copy like the other two. WavPack (``wavpack -hh -x6``,
its strongest lossless setting, when the ``wavpack`` program is installed) codes the same
streams the same way: raw PCM, mono, one stream per signal.
"""

from __future__ import annotations

import io
import lzma
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import zstandard

from eegzip.bench import require
from eegzip.edf import EdfFile

ZSTD_LEVEL = 19
XZ_PRESET = 9
FLAC_LEVEL = 1.0
"""libsndfile's FLAC compression level on its 0..1 scale, which it maps onto FLAC's 0..8."""
WAVPACK = "wavpack"
WAVPACK_OPTIONS = ("-hh", "-x6", "-q", "-y")
CHUNK_BYTES = 1 << 20
CHUNK_SAMPLES = 1 << 20


class _Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


@dataclass(frozen=True)
class BaselineResult:
    name: str
    bytes: int
    seconds: float

    def to_dict(self, input_bytes: int) -> dict:
        return {
            "bytes": self.bytes,
            "ratio": round(input_bytes / max(1, self.bytes), 3),
            "seconds": round(self.seconds, 3),
        }


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def _streamed_size(compressor: _Compressor, chunks: Iterator[bytes]) -> int:
    """Compressed size without holding the input or the output in memory."""
    size = sum(len(compressor.compress(chunk)) for chunk in chunks)
    return size + len(compressor.flush())


def zstd_size(chunks: Iterator[bytes]) -> int:
    return _streamed_size(zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj(), chunks)


def xz_size(chunks: Iterator[bytes]) -> int:
    return _streamed_size(lzma.LZMACompressor(preset=XZ_PRESET), chunks)


def _flac_subtype(bits: int) -> str:
    if bits not in (16, 24):
        raise ValueError(f"FLAC baseline codes 16- or 24-bit samples, not {bits}")
    return f"PCM_{bits}"


def flac_encode(pieces: Iterator[np.ndarray], rate: float, bits: int) -> bytes:
    """One mono FLAC stream (level 8) of integer samples that fit in ``bits`` bits."""
    soundfile = require("soundfile", "soundfile")
    shift = 32 - bits  # libsndfile takes int32 at full scale and keeps the top ``bits`` bits
    buffer = io.BytesIO()
    with soundfile.SoundFile(
        buffer,
        "w",
        samplerate=max(1, round(rate)),
        channels=1,
        format="FLAC",
        subtype=_flac_subtype(bits),
        compression_level=FLAC_LEVEL,
    ) as stream:
        for piece in pieces:
            stream.write(np.asarray(piece, dtype=np.int32) << shift)
    return buffer.getvalue()


def flac_decode(data: bytes, bits: int) -> np.ndarray:
    """The integer samples of a mono FLAC stream made by ``flac_encode``."""
    soundfile = require("soundfile", "soundfile")
    samples, _ = soundfile.read(io.BytesIO(data), dtype="int32", always_2d=False)
    return samples >> (32 - bits)


def _signal_pieces(edf: EdfFile, index: int) -> Iterator[np.ndarray]:
    h = edf.header
    step = max(1, CHUNK_SAMPLES // h.signals[index].samples_per_record)
    for start in range(0, h.n_records, step):
        yield edf.read_digital(index, start, min(h.n_records, start + step))


def wavpack_encode(pieces: Iterator[np.ndarray], rate: float, bits: int) -> bytes:
    """One mono WavPack stream (``-hh -x6``) of integer samples that fit in ``bits`` bits."""
    width = bits // 8
    with tempfile.TemporaryDirectory() as tmp:
        raw, packed = Path(tmp) / "signal.raw", Path(tmp) / "signal.wv"
        with raw.open("wb") as f:
            for piece in pieces:
                words = (np.asarray(piece, dtype=np.int64) & ((1 << bits) - 1)).astype("<u4")
                f.write(words.view(np.uint8).reshape(-1, 4)[:, :width].tobytes())
        subprocess.run(
            [WAVPACK, *WAVPACK_OPTIONS, f"--raw-pcm={max(1, round(rate))},{bits},1", str(raw),
             "-o", str(packed)],
            check=True, capture_output=True,
        )  # fmt: skip
        return packed.read_bytes()


def _lossless_copy_size(
    path: Path, encode: Callable[[Iterator[np.ndarray], float, int], bytes]
) -> int:
    """Header bytes + ``encode`` of every signal + zstd of the annotation signals."""
    with EdfFile.open(path) as edf:
        h = edf.header
        size = len(edf.raw_header)
        bits = 8 * h.bytes_per_sample
        for i, signal in enumerate(h.signals):
            if signal.is_annotation:
                size += zstd_size(iter([edf.read_raw_signal_bytes(i)]))
            else:
                size += len(encode(_signal_pieces(edf, i), h.sample_rate(i), bits))
        return size


def flac_size(path: Path) -> int:
    """Header bytes + FLAC of every signal + zstd of the annotation signals."""
    return _lossless_copy_size(path, flac_encode)


def wavpack_size(path: Path) -> int:
    """Header bytes + WavPack of every signal + zstd of the annotation signals."""
    return _lossless_copy_size(path, wavpack_encode)


def _timed(name: str, measure: Callable[[], int]) -> BaselineResult:
    started = time.perf_counter()
    size = measure()
    return BaselineResult(name, size, time.perf_counter() - started)


def measure_baselines(path: Path, wavpack: bool = False) -> list[BaselineResult]:
    """zstd -19, xz -9 and FLAC -8 sizes of one EDF/BDF file, each with its compression time;
    with ``wavpack`` also WavPack -hh -x6 if the program is installed."""
    results = [
        _timed("zstd-19", lambda: zstd_size(_chunks(path))),
        _timed("xz-9", lambda: xz_size(_chunks(path))),
        _timed("flac-8", lambda: flac_size(path)),
    ]
    if wavpack and shutil.which(WAVPACK):
        results.append(_timed("wavpack-hh-x6", lambda: wavpack_size(path)))
    return results
