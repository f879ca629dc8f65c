"""Benchmark eegzip on EDF/BDF files against lossless baselines and a wavelet codec of equal size.

Per file and codebook count: the file goes through ``eegzip.api.compress`` (``measure=False``,
so the timing is the encoder alone) and ``eegzip.api.decompress``, each timed as one API call
with the model already loaded (one load's time is reported beside them); the decoded EDF is compared
with the original by ``eegzip.metrics.compare`` (the same metrics ``compress`` stores, computed
on what a user gets back). The wavelet baseline is bisected to the eegzip CODE payload size, the
bytes both spend on the same channels (header and lossless signals would be the same for both),
and its reconstruction is put on the EDF's digital grid before it is measured the same way.

Aggregates: sizes, durations and times are summed (ratio = total input / total output, speed =
total channel-seconds / total wall time), peak memory is the maximum over files, and fidelity is
the mean over files of their overall rows weighted by channel-seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TypeVar

import numpy as np

from eegzip import api
from eegzip.bench.baselines import BaselineResult, measure_baselines
from eegzip.bench.memory import PeakRss, measure_peak_rss
from eegzip.bench.signals import CodecSignals, read_codec_signals
from eegzip.bench.wavelet import WaveletCoder, decode, fit_to_size
from eegzip.codec.checkpoints import load_weights
from eegzip.codec.registry import Codec
from eegzip.metrics import compare
from eegzip.pipeline.compress import Progress

TaskFactory = Callable[[str], Progress]
T = TypeVar("T")


@dataclass(frozen=True)
class StepCost:
    """Wall time and peak memory of one encode or decode API call (model loading included)."""

    wall_seconds: float
    peak: PeakRss

    def merge(self, other: StepCost) -> StepCost:
        def biggest(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else max(a, b)

        return StepCost(
            self.wall_seconds + other.wall_seconds,
            PeakRss(
                biggest(self.peak.peak_mb, other.peak.peak_mb),
                biggest(self.peak.increase_mb, other.peak.increase_mb),
            ),
        )

    def to_dict(self, duration: float, channel_seconds: float) -> dict:
        wall = max(1e-6, self.wall_seconds)
        return {
            "wall_seconds": round(self.wall_seconds, 3),
            "channel_seconds_per_second": round(channel_seconds / wall, 1),
            "x_realtime": round(duration / wall, 1),
            "peak_rss_mb": _round(self.peak.peak_mb, 1),
            "peak_rss_increase_mb": _round(self.peak.increase_mb, 1),
        }


@dataclass(frozen=True)
class WaveletRun:
    bytes: int
    target_bytes: int
    reached: bool
    step_uv: float | None
    fidelity: dict

    def to_dict(self, channel_seconds: float) -> dict:
        return {
            "bytes": self.bytes,
            "target_bytes": self.target_bytes,
            "reached_target": self.reached,
            "bits_per_second_per_channel": round(8 * self.bytes / channel_seconds, 2),
            "step_uv": _round(self.step_uv, 4),
            "fidelity": self.fidelity,
        }


@dataclass(frozen=True)
class CodecRun:
    codebooks: int
    stream_seconds: float  # code streams × duration: channels for DAC-SC, groups for DAC-MC
    output_bytes: int
    code_bytes: int
    encode: StepCost
    decode: StepCost
    clipped_samples: int
    fidelity: dict
    wavelet: WaveletRun


@dataclass(frozen=True)
class Measured:
    """One file's results, or several files' merged (see the module docstring)."""

    name: str
    files: int
    input_bytes: int
    duration_seconds: float
    channel_seconds: float
    baselines: tuple[BaselineResult, ...]
    runs: tuple[CodecRun, ...]


@dataclass(frozen=True, eq=False)
class Example:
    """Signals kept from the first file for the reconstruction plot."""

    name: str
    codebooks: int
    original: CodecSignals
    reconstruction_uv: np.ndarray


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def nominal_bits(codec: Codec, codebooks: int) -> float:
    """Bits per second per code stream before entropy coding: codes × bits per code × frames/s."""
    bits_per_code = math.ceil(math.log2(codec.codebook_size))
    return codebooks * bits_per_code * codec.sample_rate / codec.hop_length


def time_model_load(codec: Codec) -> float:
    """Seconds one model load from its file takes (not part of the timed calls)."""
    started = time.perf_counter()
    load_weights(codec.spec.path)
    return time.perf_counter() - started


def _costed(call: Callable[[], T]) -> tuple[T, StepCost]:
    """The call's result with its wall time and peak memory."""
    with measure_peak_rss() as peak:
        started = time.perf_counter()
        result = call()
        wall = time.perf_counter() - started
    return result, StepCost(wall, peak)


def _measure(original: CodecSignals, reconstruction_uv: np.ndarray, codec: Codec) -> dict:
    report = compare(
        original.uv,
        reconstruction_uv,
        original.sample_rate,
        original.labels,
        mel_sample_rate=codec.sample_rate,
    )
    return report.to_dict()


def _wavelet_run(
    original: CodecSignals, coder: WaveletCoder, target: int, codec: Codec
) -> WaveletRun:
    fitted = fit_to_size(coder, target)
    reconstruction = original.on_edf_grid(decode(fitted.data))
    fidelity = _measure(original, reconstruction, codec)
    return WaveletRun(fitted.bytes, target, fitted.reached, fitted.step_uv, fidelity)


def _codec_run(
    path: Path,
    workdir: Path,
    codec: Codec,
    codebooks: int,
    original: CodecSignals,
    coder: WaveletCoder,
    task: TaskFactory | None,
    grouping: Mapping[str, Any],
) -> tuple[CodecRun, np.ndarray]:
    container, restored = workdir / f"{codebooks}.eegc", workdir / f"{codebooks}.edf"
    packed, encode = _costed(
        lambda: api.compress(
            path,
            container,
            model=codec,
            codebooks=codebooks,
            measure=False,
            force=True,
            progress=task(f"encode {path.name} ×{codebooks}") if task else None,
            **grouping,
        )
    )
    unpacked, decode_cost = _costed(
        lambda: api.decompress(
            container,
            restored,
            model=codec,
            force=True,
            progress=task(f"decode {path.name} ×{codebooks}") if task else None,
        )
    )
    reconstruction = read_codec_signals(restored).uv
    streams = len(packed.grouping["groups"]) if packed.grouping else len(packed.codec_channels)
    run = CodecRun(
        codebooks=codebooks,
        stream_seconds=streams * packed.duration_seconds,
        output_bytes=packed.output_bytes,
        code_bytes=packed.code_bytes,
        encode=encode,
        decode=decode_cost,
        clipped_samples=unpacked.clipped_samples,
        fidelity=_measure(original, reconstruction, codec),
        wavelet=_wavelet_run(original, coder, packed.code_bytes, codec),
    )
    return run, reconstruction


def bench_file(
    path: Path,
    codec: Codec,
    codebooks: Sequence[int],
    task: TaskFactory | None = None,
    grouping: Mapping[str, Any] | None = None,
) -> tuple[Measured, Example]:
    """All measurements of one file; the example keeps the run with the most codebooks.

    ``grouping`` holds api.compress's channel-grouping keywords, for multi-channel models.
    """
    original = read_codec_signals(path)
    baselines = tuple(measure_baselines(path))
    coder = WaveletCoder(original.uv, original.sample_rate)
    runs, example = [], None
    with TemporaryDirectory(prefix="eegzip-bench-") as workdir:
        for n in codebooks:
            run, reconstruction = _codec_run(
                path, Path(workdir), codec, n, original, coder, task, grouping or {}
            )
            runs.append(run)
            if example is None or n > example.codebooks:
                example = Example(path.name, n, original, reconstruction)
    if example is None:
        raise ValueError("no codebook count to benchmark")
    measured = Measured(
        name=str(path),
        files=1,
        input_bytes=path.stat().st_size,
        duration_seconds=original.duration_seconds,
        channel_seconds=original.channel_seconds,
        baselines=baselines,
        runs=tuple(runs),
    )
    return measured, example


def _weighted_overall(reports: Sequence[dict], weights: Sequence[float]) -> dict:
    """Mean of the overall rows weighted by channel-seconds; metrics missing in a file skipped."""

    def mean(values: list[tuple[float | None, float]]) -> float | None:
        present = [(v, w) for v, w in values if v is not None]
        total = sum(w for _, w in present)
        return float(f"{sum(v * w for v, w in present) / total:.6g}") if total else None

    rows = [(report["overall"], w) for report, w in zip(reports, weights, strict=True)]
    first = rows[0][0]
    overall: dict = {"label": "overall"}
    for key, value in first.items():
        if isinstance(value, dict):
            overall[key] = {k: mean([(r[key].get(k), w) for r, w in rows]) for k in value}
        elif key != "label":
            overall[key] = mean([(r.get(key), w) for r, w in rows])
    return {"overall": overall}


def _merge_runs(runs: Sequence[CodecRun], weights: Sequence[float]) -> CodecRun:
    first = runs[0]
    encode, decode_cost = first.encode, first.decode
    for run in runs[1:]:
        encode, decode_cost = encode.merge(run.encode), decode_cost.merge(run.decode)
    wavelets = [run.wavelet for run in runs]
    return CodecRun(
        codebooks=first.codebooks,
        stream_seconds=sum(run.stream_seconds for run in runs),
        output_bytes=sum(run.output_bytes for run in runs),
        code_bytes=sum(run.code_bytes for run in runs),
        encode=encode,
        decode=decode_cost,
        clipped_samples=sum(run.clipped_samples for run in runs),
        fidelity=_weighted_overall([run.fidelity for run in runs], weights),
        wavelet=WaveletRun(
            bytes=sum(w.bytes for w in wavelets),
            target_bytes=sum(w.target_bytes for w in wavelets),
            reached=all(w.reached for w in wavelets),
            step_uv=None,
            fidelity=_weighted_overall([w.fidelity for w in wavelets], weights),
        ),
    )


def merge(files: Sequence[Measured]) -> Measured:
    """The aggregate over files that were run with the same codebook counts."""
    weights = [f.channel_seconds for f in files]
    baselines = tuple(
        replace(
            group[0],
            bytes=sum(b.bytes for b in group),
            seconds=sum(b.seconds for b in group),
        )
        for group in zip(*(f.baselines for f in files), strict=True)
    )
    per_setting = zip(*(f.runs for f in files), strict=True)
    runs = tuple(_merge_runs(group, weights) for group in per_setting)
    return Measured(
        name="all files",
        files=sum(f.files for f in files),
        input_bytes=sum(f.input_bytes for f in files),
        duration_seconds=sum(f.duration_seconds for f in files),
        channel_seconds=sum(weights),
        baselines=baselines,
        runs=runs,
    )


def measured_to_dict(m: Measured, codec: Codec) -> dict:
    def run_dict(run: CodecRun) -> dict:
        return {
            "codebooks": run.codebooks,
            "output_bytes": run.output_bytes,
            "code_bytes": run.code_bytes,
            "ratio": round(m.input_bytes / max(1, run.output_bytes), 3),
            "bits_per_second_per_channel": round(8 * run.code_bytes / m.channel_seconds, 2),
            "nominal_bits_per_second_per_channel": round(
                nominal_bits(codec, run.codebooks) * run.stream_seconds / m.channel_seconds, 2
            ),
            "encode": run.encode.to_dict(m.duration_seconds, m.channel_seconds),
            "decode": run.decode.to_dict(m.duration_seconds, m.channel_seconds),
            "clipped_samples": run.clipped_samples,
            "fidelity": run.fidelity,
            "wavelet": run.wavelet.to_dict(m.channel_seconds),
        }

    return {
        "name": m.name,
        "files": m.files,
        "input_bytes": m.input_bytes,
        "duration_seconds": round(m.duration_seconds, 3),
        "channel_seconds": round(m.channel_seconds, 3),
        "baselines": {b.name: b.to_dict(m.input_bytes) for b in m.baselines},
        "runs": [run_dict(run) for run in m.runs],
    }
