"""Many files at once: the per-file operations of :mod:`eegzip.api` run in worker processes
(or as Ray tasks), resumable, each failure isolated, every file recorded in a manifest.

Each file is one independent job, so parallelism comes from files and every worker runs the
codec with one torch thread (``registry.TORCH_THREADS``): the bytes do not depend on how many
workers there are, or on the backend. A job whose output already exists and verifies is
skipped, so an interrupted batch run again finishes only the rest (outputs are written to a
temporary name and renamed: a half-written one never exists). One bad file fails alone; the
summary counts the failures. The manifest gets one JSON line per file as it finishes.

    from eegzip.batch import plan, run_batch
    jobs = plan("compress", ["recordings/"], Path("archive"), {"max_error_uv": 1.0})
    summary = run_batch(jobs, workers=2, manifest=Path("archive/eegzip-manifest.jsonl"))
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

from eegzip import api
from eegzip.container import CONTAINER_SUFFIX, ContainerReader
from eegzip.edf import EdfFile, parse_header
from eegzip.errors import ContainerFormatError, EegzipError, OutputExistsError, UsageError
from eegzip.pipeline.tokens import TOKENS_SUFFIX, Tokens, check_output

Kind = Literal["compress", "decompress", "verify", "tokens"]
Progress = Callable[[int, int], None]

EDF_SUFFIXES = frozenset({".edf", ".bdf"})
MANIFEST_NAME = "eegzip-manifest.jsonl"
"""The manifest's name in the output folder when none is given (``--manifest``)."""
INPUT_SUFFIXES: Mapping[str, frozenset[str]] = {
    "compress": EDF_SUFFIXES,
    "decompress": frozenset({CONTAINER_SUFFIX}),
    "verify": frozenset({CONTAINER_SUFFIX}),
    "tokens": EDF_SUFFIXES | {CONTAINER_SUFFIX},
}
RAY_EXTRA = "pip install 'eegzip[ray]'"
RAY_OBJECT_STORE_BYTES = 128 << 20
STOPPED_EXIT = 143
"""Exit status of a pool worker stopped by SIGTERM (128 + 15, as the shell reports it)."""


@dataclass(frozen=True)
class FileJob:
    """One file's work: ``options`` are the keyword arguments of the api call (picklable:
    a model is passed by name or path and loaded once in each worker)."""

    kind: Kind
    input: str | Path
    output: Path | None
    options: Mapping[str, Any] = field(default_factory=dict)
    force: bool = False
    resume: bool = False
    """Skip the job if its output exists and verifies (batch runs); else an existing output
    is an error unless ``force``."""
    channel_hours: float = 0.0
    """Recorded signals (annotations excluded) × hours: what the progress bar counts."""


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file; ``record()`` is its manifest line."""

    job: FileJob
    status: Literal["done", "skipped", "failed"]
    seconds: float
    bytes_in: int | None = None
    bytes_out: int | None = None
    fidelity: dict | None = None
    error: str | None = None
    exit_code: int = 0
    result: dict | None = None
    """The api call's full result (``to_dict()``), or for a skipped file what is stored."""
    worker_peak_rss_mb: float = 0.0

    @property
    def ratio(self) -> float | None:
        """EDF bytes / .eegc bytes (compress: in/out, decompress: out/in)."""
        if not self.bytes_in or not self.bytes_out or self.job.kind in ("verify", "tokens"):
            return None
        edf, eegc = (
            (self.bytes_in, self.bytes_out)
            if self.job.kind == "compress"
            else (self.bytes_out, self.bytes_in)
        )
        return round(edf / eegc, 3)

    def record(self) -> dict[str, Any]:
        return {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": self.job.kind,
            "input": str(self.job.input),
            "output": str(self.job.output) if self.job.output else None,
            "status": self.status,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "ratio": self.ratio,
            "seconds": round(self.seconds, 3),
            "channel_hours": round(self.job.channel_hours, 4),
            "fidelity": self.fidelity,
            "error": self.error,
            "exit_code": self.exit_code,
            "worker_peak_rss_mb": round(self.worker_peak_rss_mb, 1),
        }


@dataclass(frozen=True)
class BatchSummary:
    """Counts so far, or at the end; ``line()`` is the one-line summary a user sees."""

    kind: Kind
    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    channel_hours: float = 0.0
    total_channel_hours: float = 0.0
    seconds: float = 0.0
    exit_code: int = 0
    """0, or the exit code of the first failure (which decides the command's)."""

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed

    def add(self, outcome: FileOutcome, seconds: float) -> BatchSummary:
        return replace(
            self,
            done=self.done + (outcome.status == "done"),
            skipped=self.skipped + (outcome.status == "skipped"),
            failed=self.failed + (outcome.status == "failed"),
            channel_hours=self.channel_hours + outcome.job.channel_hours,
            seconds=seconds,
            exit_code=self.exit_code or outcome.exit_code,
        )

    def line(self) -> str:
        verb = {"compress": "compressed", "decompress": "decompressed", "verify": "verified",
                "tokens": "tokenised"}[self.kind]  # fmt: skip
        return (
            f"{self.total} files: {self.done} {verb}, {self.skipped} skipped (already done), "
            f"{self.failed} failed · {self.channel_hours:.2f} channel-hours in "
            f"{self.seconds:.1f} s"
        )


def usable_cores() -> int:
    """The cores this process may run on (its affinity), the default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def find_inputs(paths: Sequence[str | Path], suffixes: Iterable[str]) -> list[str | Path]:
    """Files (and URLs) as given, directories searched recursively for the suffixes."""
    wanted = frozenset(suffixes)
    found: list[str | Path] = []
    for given in paths:
        path = api.location(given)
        if isinstance(path, Path) and path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in wanted))
        else:
            found.append(path)
    return found


def plan(
    kind: Kind,
    paths: Sequence[str | Path],
    output: Path | None,
    options: Mapping[str, Any],
    *,
    force: bool = False,
) -> list[FileJob]:
    """The jobs for ``paths``: outputs into ``output`` (a folder when there are several
    inputs or it is one), beside the inputs when it is None. Several inputs or a directory
    make a batch, which resumes: existing outputs that verify are skipped."""
    items = find_inputs(paths, INPUT_SUFFIXES[kind])
    folders = [p for p in map(api.location, paths) if isinstance(p, Path) and p.is_dir()]
    many = len(items) > 1 or bool(folders)
    return [
        FileJob(
            kind=kind,
            input=item,
            output=_output_for(kind, item, output, many),
            options=dict(options),
            force=force,
            resume=many and not force,
            channel_hours=channel_hours(item),
        )
        for item in items
    ]


def _output_for(kind: Kind, item: str | Path, output: Path | None, many: bool) -> Path | None:
    if kind == "verify":
        return None
    if output is not None and not (many or output.is_dir()):
        return output
    name = api.default_output(item) if kind != "tokens" else Path(_stem(item) + TOKENS_SUFFIX)
    if output is None:
        return name if isinstance(item, str) else item.with_name(name.name)
    output.mkdir(parents=True, exist_ok=True)
    return output / name.name


def _stem(item: str | Path) -> str:
    return Path(str(item).rsplit("/", 1)[-1]).stem


def channel_hours(item: str | Path) -> float:
    """Signals (annotations excluded) × recorded hours, from the header; 0 if unreadable
    (the job itself then reports why)."""
    try:
        if str(item).lower().endswith(CONTAINER_SUFFIX):
            with ContainerReader.open(item, salvage=True) as reader:
                header = parse_header(reader.edf_header, str(item))
        else:
            with EdfFile.open(item) as edf:
                header = edf.header
    except (EegzipError, OSError):
        return 0.0
    signals = sum(not s.is_annotation for s in header.signals)
    return signals * header.duration / 3600


def run_batch(
    jobs: Sequence[FileJob],
    *,
    workers: int | None = None,
    manifest: Path | None = None,
    on_outcome: Callable[[FileOutcome, BatchSummary], None] | None = None,
    file_progress: Callable[[FileJob], Progress | None] | None = None,
    ray_address: str | None = None,
    ray: bool = False,
) -> BatchSummary:
    """Run the jobs; returns the summary. Outcomes reach ``on_outcome`` as they finish, and
    the manifest (appended to, one JSON line per file) at the same time.

    ``workers`` processes (default: the usable cores; never more than the jobs); with one,
    the jobs run in this process and ``file_progress`` may give each a block-level progress
    callback. ``ray`` (a local cluster) or ``ray_address`` run them as Ray tasks instead.
    """
    started = time.perf_counter()
    summary = BatchSummary(
        kind=jobs[0].kind if jobs else "compress",
        total=len(jobs),
        total_channel_hours=sum(j.channel_hours for j in jobs),
    )
    if manifest is not None:
        manifest.parent.mkdir(parents=True, exist_ok=True)
    if ray or ray_address:
        outcomes = _on_ray(jobs, ray_address, workers)
    else:
        n = max(1, min(workers or usable_cores(), len(jobs)))
        outcomes = _in_process(jobs, file_progress) if n == 1 else _in_pool(jobs, n)
    for outcome in outcomes:
        summary = summary.add(outcome, time.perf_counter() - started)
        if manifest is not None:
            with manifest.open("a", encoding="utf-8") as out:
                out.write(json.dumps(outcome.record(), default=str) + "\n")
        if on_outcome:
            on_outcome(outcome, summary)
    return summary


def _in_process(
    jobs: Iterable[FileJob], file_progress: Callable[[FileJob], Progress | None] | None
) -> Iterator[FileOutcome]:
    for job in jobs:
        yield run_job(job, file_progress(job) if file_progress else None)


def _in_pool(jobs: Sequence[FileJob], workers: int) -> Iterator[FileOutcome]:
    """Worker processes (spawned: no torch state forked), outcomes in completion order.

    On an interrupt, queued jobs are cancelled and the workers told to stop (SIGTERM), which
    removes their temporary files. A worker that dies (killed, out of memory) breaks the
    pool: the files not yet finished are reported failed, and running again retries them.
    """
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker)
    pending: dict[Future, FileJob] = {pool.submit(run_job, job): job for job in jobs}
    try:
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                job = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    died = "a worker process died (killed, out of memory?); run again to retry"
                    yield _failed(job, f"{job.input}: {died}", 1, 0.0)
    except BaseException:
        for process in list(pool._processes.values()):  # no public way to stop running jobs
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Stopped(BaseException):
    """Raised in a pool worker's job by SIGTERM: unwinds it (temporary files removed)."""


_in_job = False
"""Whether this process is inside run_job (a SIGTERM then unwinds the job first)."""


def _init_worker() -> None:
    """A pool worker leaves Ctrl-C to the parent, and stops cleanly when told to."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    _bound_threads()


def _stop(_signum: int, _frame: object) -> None:
    # Once stopping, further SIGTERMs are ignored: the pool sends its own to the workers left
    # when it sees one gone, and one landing in the unwinding (say, inside the temporary
    # file's removal) would cut it short and leave the file behind.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _in_job:
        raise _Stopped
    os._exit(STOPPED_EXIT)


@cache
def _bound_threads() -> None:
    """One BLAS/OpenMP thread per worker process as well (torch's are set at model load)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _on_ray(
    jobs: Sequence[FileJob], address: str | None, workers: int | None
) -> Iterator[FileOutcome]:
    """The same jobs as Ray tasks of one CPU each; Ray reuses its worker processes, so the
    model is loaded once per worker. A local cluster started here is shut down after."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        if address:
            options["address"] = address
        else:  # a small object store: tasks pass paths and small result dicts, not data
            options.update(
                num_cpus=workers or usable_cores(),
                _node_ip_address="127.0.0.1",
                object_store_memory=RAY_OBJECT_STORE_BYTES,
            )
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(
                f"cannot reach the Ray cluster {address or '(local)'}: {exc}"
            ) from None
    task = ray.remote(num_cpus=1, max_retries=0)(run_job)
    # Absolute paths, as a task may run in another directory (or node: a shared filesystem).
    pending = {task.remote(_absolute(job)): job for job in jobs}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            try:
                yield replace(ray.get(ready[0]), job=job)
            except ray.exceptions.RayError as exc:
                yield _failed(job, f"Ray task failed: {type(exc).__name__}: {exc}", 1, 0.0)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def _absolute(job: FileJob) -> FileJob:
    """The job with every local path absolute (inputs, outputs, a --reference)."""

    def absolute(value: Any) -> Any:
        return value.resolve() if isinstance(value, Path) else value

    options = {name: absolute(value) for name, value in job.options.items()}
    return replace(job, input=absolute(job.input), output=absolute(job.output), options=options)


def run_job(job: FileJob, progress: Progress | None = None) -> FileOutcome:
    """One file, start to end; never raises for the file's own problems (they are its
    outcome), so one bad file cannot stop a batch."""
    global _in_job
    _bound_threads()
    started = time.perf_counter()
    _in_job = True
    try:
        if job.resume and job.output is not None and job.output.exists():
            return _skipped(job, time.perf_counter() - started)
        return _RUNNERS[job.kind](job, progress, started)
    except EegzipError as error:
        return _failed(job, str(error), error.exit_code, time.perf_counter() - started)
    except Exception as exc:  # a bug met by one file: reported, and the batch goes on
        message = f"internal error: {type(exc).__name__}: {exc} (please report it)"
        return _failed(job, f"{job.input}: {message}", 1, time.perf_counter() - started)
    except _Stopped:  # the job has unwound: its temporary output is gone
        os._exit(STOPPED_EXIT)
    finally:
        _in_job = False


def _size(path: str | Path | None) -> int | None:
    return path.stat().st_size if isinstance(path, Path) and path.is_file() else None


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _failed(job: FileJob, error: str, exit_code: int, seconds: float) -> FileOutcome:
    return FileOutcome(
        job, "failed", seconds, _size(job.input), error=error, exit_code=exit_code,
        worker_peak_rss_mb=_peak_rss_mb(),
    )  # fmt: skip


def _fidelity_summary(fidelity: dict | None) -> dict | None:
    overall = (fidelity or {}).get("overall")
    if not overall:
        return None
    return {k: overall.get(k) for k in ("prdn", "snr_db", "r", "mel_loss")}


def _done(job: FileJob, result: dict, seconds: float, fidelity: dict | None) -> FileOutcome:
    return FileOutcome(
        job, "done", seconds, _size(job.input), _size(job.output), fidelity, result=result,
        worker_peak_rss_mb=_peak_rss_mb(),
    )  # fmt: skip


def _wants_anonymized(options: Mapping[str, Any]) -> bool:
    """Whether compress options ask for de-identification (any of them implies it)."""
    keys = ("anonymize", "shift_date", "drop_date", "drop_annotation_text")
    return any(options.get(key) for key in keys)


def _skipped(job: FileJob, seconds: float) -> FileOutcome:
    """The output exists: skip it if it verifies, else fail (never overwritten without
    --force)."""
    target = job.output
    assert target is not None
    stored: dict[str, Any] = {"input": str(job.input), "output": str(target), "skipped": True}
    fidelity = None
    try:
        if job.kind == "compress":
            report = api.verify(target)
            if not report.ok:
                raise OutputExistsError("; ".join(report.problems))
            info = api.info(target)
            if _wants_anonymized(job.options) and not info["anonymized"]:
                raise OutputExistsError(
                    f"{target}: exists but is not anonymised, as asked (use --force)"
                )
            fidelity = _fidelity_summary((info["metrics"] or {}).get("fidelity"))
        elif job.kind == "decompress":
            EdfFile.open(target).close()
        else:
            Tokens.load(target)
    except EegzipError as error:
        raise OutputExistsError(
            f"{target}: already exists but does not verify ({error}); use --force to redo it"
        ) from None
    return FileOutcome(
        job, "skipped", seconds, _size(job.input), _size(target), fidelity, result=stored,
        worker_peak_rss_mb=_peak_rss_mb(),
    )  # fmt: skip


def _compress(job: FileJob, progress: Progress | None, started: float) -> FileOutcome:
    result = api.compress(job.input, job.output, force=job.force, progress=progress, **job.options)
    summary = _fidelity_summary(result.fidelity)
    if summary is not None or result.max_error_uv is not None:
        summary = {**(summary or {}), "max_error_uv": result.max_error_uv,
                   "clipped_samples": result.clipped_samples}  # fmt: skip
    return _done(job, result.to_dict(), time.perf_counter() - started, summary)


def _decompress(job: FileJob, progress: Progress | None, started: float) -> FileOutcome:
    result = api.decompress(
        job.input, job.output, force=job.force, progress=progress, **job.options
    )
    seconds = time.perf_counter() - started
    return _done(job, result.to_dict(), seconds, _fidelity_summary(result.fidelity))


def _verify(job: FileJob, progress: Progress | None, started: float) -> FileOutcome:
    report = api.verify(job.input, progress=progress, **job.options).to_dict()
    seconds = time.perf_counter() - started
    if report["ok"]:
        return _done(job, report, seconds, None)
    failed = _failed(job, "; ".join(report["problems"]), ContainerFormatError.exit_code, seconds)
    return replace(failed, result=report)


def _tokens(job: FileJob, progress: Progress | None, started: float) -> FileOutcome:
    assert job.output is not None
    check_output(job.output, job.force)  # before coding a long EDF, not after
    found = api.tokens(job.input, progress=progress, **job.options)
    saved = found.save(job.output, force=job.force)
    streams, books, frames = found.codes.shape
    shape = {"streams": streams, "codebooks": books, "frames": frames}
    result = {"input": str(job.input), "output": str(saved), **shape, **found.describe()}
    return _done(job, result, time.perf_counter() - started, None)


_RUNNERS: Mapping[str, Callable[[FileJob, Progress | None, float], FileOutcome]] = {
    "compress": _compress,
    "decompress": _decompress,
    "verify": _verify,
    "tokens": _tokens,
}
