"""The archival modes on the same files as the lossless baselines (``eegzip bench --archival``).

Per file: the EDF's bytes, zstd -19, xz -9, FLAC -8 and WavPack -hh -x6 where the program is
installed (``measure_baselines``), eegzip with a
residual layer at each bound (0 = ``--lossless``, else ``--max-error E`` µV: as eegzip writes
them by default, without neural codes, 1.5) and once lossy with all codebooks for reference.
Each archival file is decompressed and its promise checked on what a user gets back, so a
ratio is never reported for a file that broke it without the run saying so (``ArchivalRun.ok``).
Sizes are whole files; ratio = total EDF bytes / total compressed bytes, per group of files and
over all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from eegzip import api
from eegzip.bench import DEFAULT_BOUNDS_UV, LOSSLESS
from eegzip.bench.baselines import measure_baselines
from eegzip.bench.run import TaskFactory
from eegzip.codec.registry import Codec
from eegzip.edf import EdfFile
from eegzip.errors import EegzipError
from eegzip.pipeline.compress import CompressOptions, Progress, plan_channels

VERSUS = ("flac-8", "wavpack-hh-x6", "zstd-19")
"""The baselines lossless eegzip is reported against (issues #6, #16; WavPack where installed)."""
RELATIVE_SLACK = 1e-9
"""Slack on a bound: the quantiser step is floor(E / gain + 1e-9), and physical values are
floats; an EDF's resolution is many orders coarser, so this hides no real excess."""
COMPARE_BYTES = 1 << 20
CHUNK_SAMPLES = 1 << 20

NOTES = {
    "ratio": "EDF bytes / compressed bytes, whole files (header, every signal, annotations), "
    "summed over the files of a group",
    "lossless_vs": "baseline bytes / eegzip lossless bytes (> 1: eegzip is smaller)",
    "checks": "every archival file is decompressed: lossless must give back the EDF byte for "
    "byte; a bound E needs the same header bytes, the same bytes in every signal the codec "
    "does not code, and every sample of the coded ones within E µV (physical values)",
    "ok": "every check above held; files eegzip could not take are listed with their error "
    "instead (they set the exit code, not ok)",
    "codebooks": "archival modes are written as by default, without neural codes (no model); "
    "the lossy column uses all of the model's codebooks, without residual layer, and is not "
    "checked",
}


class PromiseBrokenError(EegzipError):
    """A decompressed archival file is not what its mode promises: a bug in eegzip."""


def mode_name(bound_uv: float) -> str:
    """The size column of one archival mode (the keys of benchmarks/results/archival.json)."""
    return "eegzip lossless" if bound_uv == LOSSLESS else f"eegzip ±{bound_uv:g} µV"


def lossy_name(codec: Codec) -> str:
    return f"eegzip lossy ({codec.n_codebooks} codebooks)"


@dataclass(frozen=True)
class PromiseCheck:
    """One archival mode's promise, checked on the decompressed file."""

    bound_uv: float
    problem: str | None = None
    max_error_uv: float | None = None
    """Largest error over the coded signals (µV); None when lossless (bytes are compared)."""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bound_uv": self.bound_uv,
            "ok": self.ok,
            "max_error_uv": self.max_error_uv,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Totals:
    """Sizes of one file or summed over files; ``sizes`` starts with "edf"."""

    name: str
    files: int
    sizes: Mapping[str, int]

    def ratios(self) -> dict[str, float]:
        edf = self.sizes["edf"]
        return {k: edf / max(1, v) for k, v in self.sizes.items() if k != "edf"}

    def versus(self) -> dict[str, float]:
        """Baseline bytes / eegzip lossless bytes; empty when the lossless mode was not run."""
        lossless = self.sizes.get(mode_name(LOSSLESS))
        if lossless is None:
            return {}
        return {b: self.sizes[b] / max(1, lossless) for b in VERSUS if b in self.sizes}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "files": self.files,
            "bytes": dict(self.sizes),
            "ratio": {k: round(v, 3) for k, v in self.ratios().items()},
            "lossless_vs": {k: round(v, 3) for k, v in self.versus().items()},
        }


def merge(name: str, entries: Sequence[Totals]) -> Totals:
    sizes: dict[str, int] = {}
    for entry in entries:
        for key, value in entry.sizes.items():
            sizes[key] = sizes.get(key, 0) + value
    return Totals(name, sum(e.files for e in entries), sizes)


@dataclass(frozen=True)
class ArchivalFile:
    path: Path
    group: str
    sizes: Mapping[str, int]
    checks: tuple[PromiseCheck, ...]

    @property
    def totals(self) -> Totals:
        return Totals(str(self.path), 1, self.sizes)

    @property
    def problems(self) -> list[str]:
        return [c.problem for c in self.checks if c.problem]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.totals.to_dict(),
            "group": self.group,
            "ok": not self.problems,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class FileError:
    """A file that could not be measured (not an EDF, nothing to code, ...)."""

    path: Path
    group: str
    message: str
    exit_code: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": str(self.path),
            "group": self.group,
            "error": self.message,
            "exit_code": self.exit_code,
        }


@dataclass(frozen=True)
class ArchivalRun:
    bounds_uv: tuple[float, ...]
    files: tuple[ArchivalFile, ...]
    errors: tuple[FileError, ...] = ()

    @property
    def problems(self) -> list[str]:
        """Every broken promise, one line each naming the file."""
        return [p for f in self.files for p in f.problems]

    @property
    def ok(self) -> bool:
        """Every measured file kept every promise (files in ``errors`` are reported apart)."""
        return not self.problems

    def raise_if_broken(self) -> None:
        if self.problems:
            raise PromiseBrokenError("; ".join(self.problems))

    def groups(self) -> list[Totals]:
        names = list(dict.fromkeys(f.group for f in self.files))
        return [merge(n, [f.totals for f in self.files if f.group == n]) for n in names]

    def overall(self) -> Totals | None:
        return merge("overall", [f.totals for f in self.files]) if self.files else None

    def to_dict(self) -> dict[str, Any]:
        overall = self.overall()
        return {
            "bounds_uv": list(self.bounds_uv),
            "ok": self.ok,
            "problems": self.problems,
            "notes": NOTES,
            "files": [f.to_dict() for f in self.files] + [e.to_dict() for e in self.errors],
            "groups": [g.to_dict() for g in self.groups()],
            "overall": overall.to_dict() if overall else None,
        }


def first_difference(a: Path, b: Path) -> int | None:
    """Offset of the first byte where two files differ (a length too), None if identical."""
    offset = 0
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            ca, cb = fa.read(COMPARE_BYTES), fb.read(COMPARE_BYTES)
            if ca != cb:
                n = min(len(ca), len(cb))
                a_bytes, b_bytes = np.frombuffer(ca, np.uint8, n), np.frombuffer(cb, np.uint8, n)
                diff = np.flatnonzero(a_bytes != b_bytes)
                return offset + (int(diff[0]) if diff.size else n)
            if not ca:
                return None
            offset += len(ca)


def _record_ranges(edf: EdfFile) -> Iterator[tuple[int, int]]:
    h = edf.header
    step = max(1, CHUNK_SAMPLES // max(1, sum(s.samples_per_record for s in h.signals)))
    for start in range(0, h.n_records, step):
        yield start, min(h.n_records, start + step)


def _bounded_problem(original: Path, decoded: Path, bound_uv: float) -> tuple[str | None, float]:
    """What breaks ``--max-error bound_uv`` in ``decoded`` (None: nothing) and the max error."""
    with EdfFile.open(original) as a, EdfFile.open(decoded) as b:
        if a.raw_header != b.raw_header or a.header.n_records != b.header.n_records:
            return "header bytes differ", math.nan
        coded = plan_channels(a.header, CompressOptions(), str(original))
        factors = dict(zip(coded.indices, coded.uv_factors, strict=True))
        worst, worst_label = 0.0, ""
        for lo, hi in _record_ranges(a):
            for i, signal in enumerate(a.header.signals):
                if i not in factors:
                    if a.read_raw_signal_bytes(i, lo, hi) != b.read_raw_signal_bytes(i, lo, hi):
                        label = signal.label.strip()
                        return f"signal {label!r} (not coded) differs in records {lo}..{hi}", worst
                    continue
                error = np.abs(a.read_physical(i, lo, hi) - b.read_physical(i, lo, hi))
                largest = float(error.max(initial=0.0)) * factors[i]
                if largest > worst:
                    worst, worst_label = largest, signal.label.strip()
    if worst > bound_uv * (1 + RELATIVE_SLACK):
        return f"signal {worst_label!r} off by {worst:.6g} µV > {bound_uv:g} µV", worst
    return None, worst


def check_promise(original: Path, decoded: Path, bound_uv: float) -> PromiseCheck:
    """Is ``decoded`` what compressing ``original`` with this bound promises? (0: lossless)"""
    where = f"{original}: {mode_name(bound_uv)}:"
    if bound_uv == LOSSLESS:
        offset = first_difference(original, decoded)
        problem = None if offset is None else f"{where} decompressed file differs at byte {offset}"
        return PromiseCheck(bound_uv, problem)
    problem, worst = _bounded_problem(original, decoded, bound_uv)
    return PromiseCheck(
        bound_uv,
        None if problem is None else f"{where} {problem}",
        None if math.isnan(worst) else round(worst, 6),
    )


def measure_file(
    path: Path,
    group: str,
    codec: Codec,
    bounds_uv: Sequence[float] = DEFAULT_BOUNDS_UV,
    progress: Progress | None = None,
    grouping: Mapping[str, Any] | None = None,
) -> ArchivalFile:
    """Sizes of every baseline and mode for one file, each archival mode's promise checked.

    ``progress`` advances once per step (baselines, each mode's compress and check, lossy).
    ``grouping`` holds api.compress's channel-grouping keywords, for multi-channel models.
    """
    steps, done = 2 + 2 * len(bounds_uv), 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    sizes = {"edf": path.stat().st_size}
    sizes.update({b.name: b.bytes for b in measure_baselines(path, wavpack=True)})
    step()
    checks = []
    with TemporaryDirectory(prefix="eegzip-archival-") as workdir:
        container, restored = Path(workdir) / "x.eegc", Path(workdir) / "x.edf"
        keywords = {"model": codec, "force": True, **(grouping or {})}
        for bound in bounds_uv:  # no model: archival files hold no neural codes
            packed = api.compress(path, container, max_error_uv=bound, measure=False, force=True)
            sizes[mode_name(bound)] = packed.output_bytes
            step()
            api.decompress(container, restored, force=True)
            checks.append(check_promise(path, restored, bound))
            step()
        lossy = api.compress(path, container, measure=False, **keywords)
        sizes[lossy_name(codec)] = lossy.output_bytes
        step()
    return ArchivalFile(path, group, sizes, tuple(checks))


def measure_archival(
    groups: Mapping[str, Sequence[Path]],
    codec: Codec,
    bounds_uv: Sequence[float] = DEFAULT_BOUNDS_UV,
    *,
    task: TaskFactory | None = None,
    grouping: Mapping[str, Any] | None = None,
    keep_going: bool = False,
) -> ArchivalRun:
    """Every file of every group; ``keep_going`` lists files eegzip cannot take in ``errors``
    instead of raising (broken promises never raise here: see ``ArchivalRun.ok``)."""
    files, errors = [], []
    for group, paths in groups.items():
        for path in paths:
            progress = task(f"archival {path.name}") if task else None
            try:
                files.append(measure_file(path, group, codec, bounds_uv, progress, grouping))
            except EegzipError as error:
                if not keep_going:
                    raise
                errors.append(FileError(path, group, str(error), error.exit_code))
    return ArchivalRun(tuple(bounds_uv), tuple(files), tuple(errors))
