"""The rate ladder measured: eegzip at a target bit rate against the wavelet baseline at the
same file size and the Gaussian rate-distortion bound.

Per file and rate: eegzip compresses through the real pipeline (``--bitrate``), the file is
decompressed to an EDF and read back, and its EEG channels are compared with the original's.
The wavelet baseline (bench/wavelet.py) gets the whole ``.eegc`` size as its budget, so the EDF
header, annotations and index that eegzip stores count against eegzip only. PRDN is pooled over
a file's channels after removing each channel's mean; band ratios are decoded / original power
per band (Welch, metrics/fidelity.py), median over channels.

The bound: each channel's 2-s windows are taken as independent Gaussian vectors whose
spectrum (the DCT periodogram) is known; reverse water-filling with one water level over the
whole file gives the least pooled squared error any coder can reach at that rate.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.fft import dct

from eegzip.bench.run import TaskFactory
from eegzip.bench.wavelet import WaveletCoder, fit_to_size
from eegzip.bench.wavelet import decode as wavelet_decode
from eegzip.codec.spectral import window_samples
from eegzip.edf import EdfFile
from eegzip.metrics.fidelity import BANDS, band_powers, welch_psd
from eegzip.pipeline.compress import CompressOptions, compress_file
from eegzip.pipeline.decompress import decompress_file


def coded_channels(path: Path, indices: tuple[int, ...]) -> tuple[np.ndarray, float]:
    """(channels, samples) µV of the given signals, and their rate."""
    with EdfFile.open(path) as edf:
        h = edf.header
        x = np.stack([edf.read_physical(i, 0, h.n_records) for i in indices])
        return x, h.sample_rate(indices[0])


def prdn(x: np.ndarray, y: np.ndarray) -> float:
    centred = x - x.mean(axis=1, keepdims=True)
    return float(100 * np.sqrt(np.sum((x - y) ** 2) / max(1e-300, np.sum(centred**2))))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over channels of each channel's correlation."""
    xc, yc = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    den = np.sqrt(np.sum(xc**2, 1) * np.sum(yc**2, 1))
    return float(np.mean(np.sum(xc * yc, 1) / np.maximum(den, 1e-300)))


def band_ratios(x: np.ndarray, y: np.ndarray, rate: float) -> dict[str, float]:
    freqs, px = welch_psd(x, rate)
    _, py = welch_psd(y, rate)
    bx, by = band_powers(freqs, px), band_powers(freqs, py)
    return {b: float(np.median(by[b] / np.maximum(bx[b], 1e-300))) for b in bx if b in BANDS}


def gaussian_bound_prdn(x: np.ndarray, rate: float, bits_per_second_per_channel: float) -> float:
    """PRDN of reverse water-filling over 2-s-window DCT periodograms at the given rate."""
    window = window_samples(rate)
    n_channels, n = x.shape
    n_windows = n // window
    if n_windows == 0:
        return float("nan")
    centred = x - x.mean(axis=1, keepdims=True)
    c = dct(centred[:, : n_windows * window].reshape(n_channels, n_windows, window),
            norm="ortho", axis=-1)  # fmt: skip
    variances = np.sort((c**2).ravel())
    budget = bits_per_second_per_channel * n_channels * n_windows * window / rate

    def bits(level: float) -> float:
        strong = variances[variances > level]
        return float(0.5 * np.sum(np.log2(strong / level)))

    lo, hi = math.log(variances[-1] * 1e-12 + 1e-300), math.log(variances[-1] + 1e-300)
    for _ in range(60):
        mid = (lo + hi) / 2
        if bits(math.exp(mid)) > budget:
            lo = mid
        else:
            hi = mid
    level = math.exp(hi)
    distortion = np.sum(np.minimum(variances, level))
    return float(
        100 * np.sqrt(distortion / max(1e-300, np.sum(centred[:, : c.size // n_channels] ** 2)))
    )


def measure_file(path: Path, bitrates: list[float]) -> list[dict]:
    """One row per rate: eegzip, the wavelet at equal bytes, and the bound."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bitrate in bitrates:
            packed, decoded = Path(tmp) / "f.eegc", Path(tmp) / "f.edf"
            started = time.perf_counter()
            result = compress_file(
                path, packed, None, CompressOptions(bitrate=bitrate, measure=False, force=True)
            )
            seconds = time.perf_counter() - started
            indices = tuple(int(i) for i in _codec_indices(packed))
            decompress_file(packed, decoded, force=True)
            x, rate = coded_channels(path, indices)
            y, _ = coded_channels(decoded, indices)
            fitted = fit_to_size(WaveletCoder(x, rate), result.output_bytes)
            w = wavelet_decode(fitted.data)
            rows.append({
                "file": path.name,
                "bitrate_target": bitrate,
                "bits_per_second_per_channel": result.bits_per_second_per_channel,
                "bytes": result.output_bytes,
                "compress_seconds": seconds,
                "eegzip": {"prdn": prdn(x, y), "r": pearson(x, y),
                           "bands": band_ratios(x, y, rate)},
                "wavelet": {"prdn": prdn(x, w), "r": pearson(x, w),
                            "bands": band_ratios(x, w, rate), "bytes": fitted.bytes,
                            "reached": fitted.reached},
                "bound_prdn": gaussian_bound_prdn(x, rate, result.bits_per_second_per_channel),
            })  # fmt: skip
    return rows


def _codec_indices(packed: Path) -> list[int]:
    from eegzip.container import ContainerReader

    with ContainerReader.open(packed) as reader:
        return list(reader.meta["codec_channels"])


def summarise(rows: Sequence[dict]) -> dict:
    """One rung over files: mean PRDN and r, median band ratios, files where eegzip is ahead."""

    def mean(key: str, coder: str) -> float:
        return float(np.mean([r[coder][key] for r in rows]))

    def bands(coder: str) -> dict[str, float]:
        return {b: float(np.median([r[coder]["bands"][b] for r in rows])) for b in BANDS}

    return {
        "files": len(rows),
        "bits_per_second_per_channel": float(
            np.mean([r["bits_per_second_per_channel"] for r in rows])
        ),
        "eegzip_prdn": mean("prdn", "eegzip"),
        "wavelet_prdn": mean("prdn", "wavelet"),
        "bound_prdn": float(np.nanmean([r["bound_prdn"] for r in rows])),
        "eegzip_r": mean("r", "eegzip"),
        "wavelet_r": mean("r", "wavelet"),
        "eegzip_bands": bands("eegzip"),
        "wavelet_bands": bands("wavelet"),
        "eegzip_better_files": int(sum(r["eegzip"]["prdn"] <= r["wavelet"]["prdn"] for r in rows)),
        "compress_seconds": float(np.mean([r["compress_seconds"] for r in rows])),
    }


def measure_ladder(
    groups: Mapping[str, Sequence[Path]],
    bitrates: Sequence[float],
    task: TaskFactory | None = None,
    on_file: Callable[[str, Path, list[dict]], None] | None = None,
) -> dict:
    """Every file of every group (a dataset) at every rate: ``{"summary": {group: {rate:
    summarise(...)}}, "files": {group: rows}}``; ``on_file`` sees each file's rows."""
    files: dict[str, list[dict]] = {}
    for name, paths in groups.items():
        files[name] = []
        progress = task(f"ladder {name}") if task else None
        for done, path in enumerate(paths):
            rows = measure_file(path, list(bitrates))
            files[name] += rows
            if on_file is not None:
                on_file(name, path, rows)
            if progress is not None:
                progress(done + 1, len(paths))
    summary = {
        name: {f"{b:g}": summarise([r for r in rows if r["bitrate_target"] == b]) for b in bitrates}
        for name, rows in files.items()
        if rows
    }
    return {"summary": summary, "files": files}
