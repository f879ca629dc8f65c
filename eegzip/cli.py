"""The ``eegzip`` command: a thin Typer shell over :mod:`eegzip.api`.

Exit codes: 0 ok · 1 internal error · 2 usage · 3 input missing · 4 invalid or damaged input
(also: damage found by verify) · 5 unsupported input or nothing to code · 6 output exists (use
--force) · 7 model unavailable · 130 interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eegzip import api, batch
from eegzip.cli_bench import BENCH_EPILOG, bench_command
from eegzip.cli_options import (
    DeviceOption,
    ForceOption,
    GroupSeedOption,
    GroupSizeOption,
    GroupsOption,
    JsonOption,
    ManifestOption,
    ModelOption,
    OutputOption,
    RayAddressOption,
    RayOption,
    WorkersOption,
)
from eegzip.codec import registry
from eegzip.errors import EegzipError, InputNotFoundError, UsageError

app = typer.Typer(
    help="Compress EEG recordings (EDF/EDF+/BDF) with a neural codec into .eegc files.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

EDF_SUFFIXES = batch.EDF_SUFFIXES


def _fail(error: EegzipError) -> None:
    errors.print(
        f"[bold red]eegzip: error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
    )


def _run_all(
    items: list[Path], work: Callable[[Path], Any], as_json: bool, *, listed: bool = False
) -> list[Any]:
    """Run ``work`` on each item; errors are reported one line each and decide the exit code.

    JSON is a list, or the one result for a single item unless ``listed``.
    """
    results, exit_code = [], 0
    for item in items:
        try:
            results.append(work(item))
        except EegzipError as error:
            _fail(error)
            exit_code = exit_code or error.exit_code
            if as_json:
                results.append(
                    {"input": str(item), "error": str(error), "exit_code": error.exit_code}
                )
    if as_json:
        one = len(items) == 1 and not listed
        print(json.dumps(results[0] if one else results, indent=2, default=str))
    if exit_code:
        raise typer.Exit(exit_code)
    return results


def _expand(
    paths: Sequence[str | Path], suffixes: set[str], *, required: bool = False
) -> list[Any]:
    """Files as given, directories searched recursively for the suffixes; URLs as they are.

    With ``required``, finding none is an error, so that an empty folder cannot pass as done.
    """
    out = batch.find_inputs(paths, suffixes)
    if required and not out:
        listed = ", ".join(sorted(suffixes))
        _fail(InputNotFoundError(f"no {listed} files in {', '.join(map(str, paths))}"))
        raise typer.Exit(InputNotFoundError.exit_code)
    return out


def _short(item: str | Path) -> str:
    """A file's name, or a URL's last part, for progress bars."""
    return item.rsplit("/", 1)[-1] if isinstance(item, str) else item.name


def _warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Warnings from below the CLI (a server ignoring range requests): one line on stderr."""
    text = f"[yellow]eegzip: warning:[/] {escape(str(message))}"
    errors.print(text, highlight=False, soft_wrap=True)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], Callable[[int, int], None]]]:
    """Yields a factory: task(description) → callback(done, total) updating a Rich bar."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not enabled,
    ) as bar:

        def task(description: str) -> Callable[[int, int], None]:
            task_id = bar.add_task(description, total=None)
            return lambda done, total: bar.update(task_id, completed=done, total=total)

        yield task


@dataclass(frozen=True)
class BatchOptions:
    """How a command runs its files: where, how many at once, and the manifest."""

    workers: int | None
    ray: bool
    ray_address: str | None
    manifest: Path | None


def _run_jobs(
    kind: batch.Kind,
    paths: Sequence[str | Path],
    output: Path | None,
    options: dict[str, Any],
    how: BatchOptions,
    *,
    force: bool = False,
    as_json: bool = False,
    listed: bool = False,
    required: bool = False,
    bar: bool = True,
) -> tuple[list[dict], int]:
    """Plan and run one command's files through eegzip.batch, with a progress bar counting
    files and channel-hours; a failure is one line as it happens, a batch ends with a
    one-line summary. Returns the results, in the inputs' order, and the exit code (the
    first failure's), for the caller to raise once it has printed the files that went well.

    JSON is a list, or the one result for a single file unless ``listed``; ``bar`` False
    shows no progress (work too quick to watch).
    """
    _expand(paths, batch.INPUT_SUFFIXES[kind], required=required)  # none found: one clear line
    try:  # planning opens the inputs (outputs' names, channel-hours): a bad one fails here
        jobs = batch.plan(kind, paths, output, options, force=force)
    except EegzipError as error:
        _fail(error)
        raise typer.Exit(error.exit_code) from None
    manifest = how.manifest
    if manifest is None and output is not None and output.is_dir() and kind != "verify":
        manifest = output / batch.MANIFEST_NAME
    order = {str(job.input): i for i, job in enumerate(jobs)}
    found: list[tuple[int, dict]] = []
    with _batch_progress(kind, jobs, enabled=bar and not as_json) as (update, file_progress):

        def on_outcome(outcome: batch.FileOutcome, summary: batch.BatchSummary) -> None:
            update(summary)
            job = outcome.job
            if outcome.status == "failed" and outcome.result is None:
                errors.print(
                    f"[bold red]eegzip: error:[/] {escape(outcome.error or '')}",
                    highlight=False,
                    soft_wrap=True,
                )
            result = outcome.result or {
                "input": str(job.input),
                "error": outcome.error,
                "exit_code": outcome.exit_code,
            }
            found.append((order.get(str(job.input), len(order)), result))

        try:
            summary = batch.run_batch(
                jobs,
                workers=how.workers,
                manifest=manifest,
                on_outcome=on_outcome,
                file_progress=file_progress,
                ray=how.ray,
                ray_address=how.ray_address,
            )
        except EegzipError as error:  # the backend itself (Ray missing or unreachable)
            _fail(error)
            raise typer.Exit(error.exit_code) from None
    results = [r for _, r in sorted(found, key=lambda pair: pair[0])]
    if len(jobs) > 1:
        errors.print(summary.line(), highlight=False, soft_wrap=True)
    if as_json:
        one = len(jobs) == 1 and not listed
        print(json.dumps(results[0] if one else results, indent=2, default=str))
    return results, summary.exit_code


@contextmanager
def _batch_progress(
    kind: str, jobs: list[batch.FileJob], *, enabled: bool
) -> Iterator[tuple[Callable[[batch.BatchSummary], None], Callable[[batch.FileJob], Any]]]:
    """Yields (update(summary), file_progress(job)): one bar over the batch counting files and
    channel-hours, and a bar of code blocks for each file run in this process."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not enabled,
    ) as bar:
        hours = sum(job.channel_hours for job in jobs)
        overall = bar.add_task(kind, total=hours or None, count="", visible=len(jobs) > 1)

        def update(summary: batch.BatchSummary) -> None:
            count = (
                f"{summary.finished}/{summary.total} files · {summary.channel_hours:.2f}/"
                f"{summary.total_channel_hours:.2f} channel-hours · {summary.failed} failed"
            )
            bar.update(overall, completed=summary.channel_hours, count=count)

        def file_progress(job: batch.FileJob) -> Callable[[int, int], None]:
            task_id = bar.add_task(f"{kind} {_short(job.input)}", total=None, count="")

            def advance(done: int, total: int) -> None:
                bar.update(task_id, completed=done, total=total, count=f"{done}/{total}")

            return advance

        yield update, file_progress


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _fidelity_cells(fidelity: dict | None) -> list[str]:
    overall = (fidelity or {}).get("overall", {})
    return [
        _fmt(overall.get("prdn"), ".1f"),
        _fmt(overall.get("snr_db"), ".1f"),
        _fmt(overall.get("r"), ".3f"),
        _fmt(overall.get("mel_loss"), ".3f"),
    ]


@app.command(
    epilog="Examples:\n\n  eegzip compress rec.edf\n\n  eegzip compress recordings/ -o archive/"
    " --codebooks 6\n\n  eegzip compress rec.edf --exclude 'EEG Fp1' --json"
    "\n\n  eegzip compress rec.edf --max-error 1   (every coded sample within 1 µV)"
    "\n\n  eegzip compress rec.edf --bitrate 60   (the spectral codec at 60 bit/s per channel)"
    "\n\n  eegzip compress rec.edf --lossless"
    "\n\n  eegzip compress rec.edf --model eegdac-mc-256hz --groups random --group-seed 3"
)
def compress(
    inputs: Annotated[list[str], typer.Argument(help="EDF/BDF files or directories.")],
    output: OutputOption = None,
    codebooks: Annotated[
        int | None,
        typer.Option(
            "--codebooks",
            "-n",
            help="Keep the first N codebooks (default: all). With --max-error/--lossless, "
            "keep N codebooks of neural codes (tokens) under the residual layer; without it "
            "(or --model), archival files hold no codes and need no model.",
        ),
    ] = None,
    bitrate: Annotated[
        str | None,
        typer.Option(
            "--bitrate",
            "-b",
            help="Target bit/s per coded channel, whole file included (rungs 15, 40, 60, 100, "
            "200, 400, 600; any value): the spectral codec, no model needed. 'paper': the "
            "neural codec with 9 codebooks.",
            metavar="RATE",
        ),
    ] = None,
    channels: Annotated[
        list[str] | None,
        typer.Option("--channels", help="Code exactly these labels (repeat, or comma-separate)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Keep these labels lossless (repeat, or comma-separate)."),
    ] = None,
    no_metrics: Annotated[
        bool, typer.Option("--no-metrics", help="Skip the decode-and-compare pass.")
    ] = False,
    max_error: Annotated[
        float | None,
        typer.Option(
            "--max-error",
            help="Bound every coded sample's error by E µV (residual layer; no neural codes "
            "and no model unless --codebooks/--model is given too).",
        ),
    ] = None,
    lossless: Annotated[
        bool,
        typer.Option(
            "--lossless",
            help="Residual layer with E = 0: data records bit-exact (no neural codes unless "
            "--codebooks/--model is given too).",
        ),
    ] = False,
    groups: GroupsOption = None,
    group_seed: GroupSeedOption = None,
    group_size: GroupSizeOption = None,
    no_entropy: Annotated[
        bool,
        typer.Option(
            "--no-entropy",
            help="Store the code indices bit-packed + zstd instead of range-coded (ECOD): "
            "about 8 % larger code data, same codes.",
        ),
    ] = False,
    anonymize: Annotated[
        bool,
        typer.Option(
            "--anonymize",
            help="Store the header de-identified in EDF+'s forms: patient 'X X X X', "
            "recording 'Startdate <date> X X X' (the originals are not stored).",
        ),
    ] = False,
    shift_date: Annotated[
        int,
        typer.Option(
            "--shift-date",
            help="Move the start date by DAYS (implies --anonymize).",
            metavar="DAYS",
        ),
    ] = 0,
    drop_date: Annotated[
        bool,
        typer.Option(
            "--drop-date",
            help="Withhold the start date: 'Startdate X', 01.01.85 (implies --anonymize).",
        ),
    ] = False,
    drop_annotation_text: Annotated[
        bool,
        typer.Option(
            "--drop-annotation-text",
            help="Drop every annotation text, keep the time keeping (implies --anonymize).",
        ),
    ] = False,
    model: ModelOption = None,
    device: DeviceOption = "cpu",
    force: ForceOption = False,
    workers: WorkersOption = None,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    manifest: ManifestOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compress EDF/BDF recordings to .eegc (EEG through the codec, the rest lossless).

    A directory or several files make a batch: --workers files at once, an output that
    already exists and verifies is skipped (run it again after an interrupt), one JSON line
    per file in the manifest.
    """
    model_name = _model_name(model)
    options = {
        "model": model,
        "device": device,
        "codebooks": codebooks,
        "bitrate": bitrate,
        "channels": _labels(channels),
        "exclude": _labels(exclude),
        "measure": not no_metrics,
        "max_error_uv": 0.0 if lossless else max_error,
        "groups": groups,
        "group_seed": group_seed,
        "group_size": group_size,
        "entropy": not no_entropy,
        "anonymize": anonymize,
        "shift_date": shift_date,
        "drop_date": drop_date,
        "drop_annotation_text": drop_annotation_text,
    }
    how = BatchOptions(workers, ray, ray_address, manifest)
    results, exit_code = _run_jobs(
        "compress", inputs, output, options, how, force=force, as_json=as_json
    )
    done = [r for r in results if "error" not in r]
    if not as_json:
        for r in done:
            if r.get("skipped"):
                console.print(f"{escape(r['input'])} → {escape(r['output'])}: already done")
                continue
            _print_compressed(r, model_name)
        for r in done:
            for note in r.get("warnings", ()):
                errors.print(
                    f"[yellow]warning:[/] {Path(r['input']).name}: {note}", highlight=False
                )
    if exit_code:
        raise typer.Exit(exit_code)


def _labels(values: list[str] | None) -> tuple[str, ...]:
    """Labels from repeated options and/or comma-separated lists."""
    return tuple(part.strip() for v in values or () for part in v.split(",") if part.strip())


def _print_compressed(r: dict, model_name: str) -> None:
    prdn, snr, corr, mel = _fidelity_cells(r["fidelity"])
    coder = (
        f"the spectral codec (target {r['bitrate_target']:g}, reached "
        f"{r['bits_per_second_per_channel']:.1f} bit/s per channel, container included)"
        if r["bitrate_target"] is not None
        else "the residual layer alone (archival, no model: no neural codes)"
        if r["code_stats"] is None
        else f"{model_name} ({r['codebooks']} codebooks, "
        f"{r['code_bits_per_second_per_channel']:.0f} bit/s per channel, "
        f"{r['code_stats']['bits_per_code']:.2f} bit/code)"
    )
    console.print(
        f"[bold]{escape(Path(r['input']).name)}[/] → {escape(r['output'])}: "
        f"{r['input_bytes'] / 1e6:.2f} MB → {r['output_bytes'] / 1e3:.1f} kB "
        f"([bold]{r['ratio']:.1f}×[/]) in {r['wall_seconds']:.1f} s\n"
        f"  {r['duration_seconds']:.0f} s · {len(r['codec_channels'])} channels coded by "
        f"{coder} · "
        f"{len(r['lossless_channels'])} stored losslessly\n"
        f"  fidelity: PRDN {prdn} %, SNR {snr} dB, r {corr}, mel loss {mel} · "
        f"{r['clipped_samples']} samples clipped",
        highlight=False,
    )
    if r["max_error_uv"] is not None:
        console.print(
            f"  residual layer: {_bound(r['max_error_uv'])} ({r['residual_bytes'] / 1e3:.1f} kB "
            "of the file)",
            highlight=False,
        )
    if r["grouping"]:
        console.print(f"  {_groups_line(r['grouping'])}", highlight=False)
    for note in r["warnings"]:
        errors.print(f"[yellow]warning:[/] {escape(note)}", highlight=False)


def _blocks(info: dict) -> str:
    """'5 blocks of 256 s' (the last one may be shorter), '1 block of 182 s'."""
    n = info["code_blocks"]
    seconds = min(info["block_seconds"], info["recording"]["duration_seconds"])
    return f"{n} block{'s' if n != 1 else ''} of {seconds:.0f} s"


def _bound(max_error_uv: float) -> str:
    return "lossless" if max_error_uv == 0 else f"every sample within ±{max_error_uv:g} µV"


def _groups_line(grouping: dict) -> str:
    groups = grouping["groups"]
    seed = f", seed {grouping['seed']}" if grouping["seed"] is not None else ""
    listed = " · ".join(",".join(g) for g in groups)
    return escape(f"{len(groups)} groups ({grouping['mode']}{seed}): {listed}")


def _model_name(model: str | None) -> str:
    """The model's name, found without loading it (an unknown model stops here)."""
    try:
        return registry.resolve(model).name
    except EegzipError as error:
        _fail(error)
        raise typer.Exit(error.exit_code) from None


def _load_codec(model: str | None, device: str):
    try:
        return api.load_codec(model, device)
    except EegzipError as error:
        _fail(error)
        raise typer.Exit(error.exit_code) from None


@app.command(
    epilog="Examples:\n\n  eegzip decompress rec.eegc\n\n  eegzip decompress rec.eegc -o out.edf"
    " --reference rec.edf\n\n  eegzip decompress rec.eegc -o minute10.edf --start 600 --duration 60"
    "\n\n  eegzip decompress damaged.eegc --salvage"
)
def decompress(
    inputs: Annotated[list[str], typer.Argument(help=".eegc files, directories or URLs.")],
    output: OutputOption = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Original EDF: recompute the metrics against it."),
    ] = None,
    start: Annotated[
        float | None, typer.Option("--start", help="Only from this second (random access).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Only this many seconds.")
    ] = None,
    salvage: Annotated[
        bool,
        typer.Option(
            "--salvage",
            help="Damaged file: recover the intact start of the recording, say what was lost.",
        ),
    ] = False,
    model: ModelOption = None,
    device: DeviceOption = "cpu",
    force: ForceOption = False,
    workers: WorkersOption = None,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    manifest: ManifestOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild EDF files from .eegc: same header and annotations, decoded EEG."""
    options = {
        "model": model,
        "device": device,
        "reference": reference,
        "start": start,
        "duration": duration,
        "salvage": salvage,
    }
    how = BatchOptions(workers, ray, ray_address, manifest)
    results, exit_code = _run_jobs(
        "decompress", inputs, output, options, how, force=force, as_json=as_json
    )
    for r in () if as_json else (r for r in results if "error" not in r):
        if r.get("skipped"):
            console.print(f"{escape(r['input'])} → {escape(r['output'])}: already done")
            continue
        line = f"{r['input']} → {r['output']} ({r['output_bytes'] / 1e6:.2f} MB, "
        line += f"{r['wall_seconds']:.1f} s, {r['clipped_samples']} samples clipped)"
        console.print(line, highlight=False)
        if r["fidelity"]:
            cells = _fidelity_cells(r["fidelity"])
            console.print(
                f"  vs reference: PRDN {cells[0]} %, SNR {cells[1]} dB, r {cells[2]}, "
                f"mel {cells[3]}",
                highlight=False,
            )
        if salvage:
            _salvage_lines(r)
    if exit_code:
        raise typer.Exit(exit_code)


def _salvage_lines(r: dict) -> None:
    """What --salvage recovered; a loss goes to stderr in colour so it cannot be missed."""
    lost = not r["complete"]
    summary = escape(f"{Path(r['input']).name}: {r['salvage_summary']}")
    if not r["damage"]:
        console.print(f"[green]{summary}[/]", highlight=False, soft_wrap=True)
        return
    colour = "bold red" if lost else "yellow"
    label = "LOST DATA" if lost else "warning"
    errors.print(f"[{colour}]{label}: {summary}[/]", highlight=False, soft_wrap=True)
    for line in r["damage"]:
        errors.print(f"  [{colour}]{escape(line)}[/]", highlight=False, soft_wrap=True)


@app.command(epilog="Example:\n\n  eegzip info rec.eegc --json")
def info(
    inputs: Annotated[list[str], typer.Argument(help=".eegc files or URLs.")],
    as_json: JsonOption = False,
) -> None:
    """Show what a .eegc holds: recording, model, channels, blocks, sizes, metrics."""
    results = _run_all(inputs, api.info, as_json)
    if as_json:
        return
    for r in results:
        rec, model = r["recording"], r["model"] or {}
        console.print(f"[bold]{r['file']}[/] · eegc {r['format_version']} · {r['bytes']:,} bytes")
        console.print(
            f"  {rec['variant']} · start {rec['start']} · {rec['duration_seconds']:.0f} s · "
            f"{rec['n_records']} records of {rec['record_duration']} s",
            highlight=False,
        )
        console.print(f"  patient: {rec['patient']!r}  recording: {rec['recording']!r}")
        if r.get("anonymized"):
            how = r["anonymized"]
            console.print(
                f"  anonymised: patient {how['patient']!r}, start date {how['start_date']}, "
                f"annotation text {how['annotation_text']}",
                highlight=False,
            )
        if r["spectral"]:
            console.print(
                f"  spectral codec · target {r['spectral']['bitrate']:g} bit/s per channel, "
                f"reached {r['bits_per_second_per_channel']:.1f} · {_blocks(r)}",
                highlight=False,
            )
        elif not model:
            console.print(
                f"  archival, no model (no neural codes): {_bound(r['max_error_uv'])} · "
                f"{_blocks(r)} · "
                f"{r['bits_per_second_per_channel']:.1f} bit/s per channel",
                highlight=False,
            )
        else:
            console.print(
                f"  model {model.get('name')} (sha256 {str(model.get('sha256'))[:16]}…), "
                f"{r['codebooks_kept']}/{model.get('n_codebooks')} codebooks × "
                f"{model.get('codebook_size')}, {model.get('sample_rate')} Hz, hop "
                f"{model.get('hop_length')} · {_blocks(r)} · "
                f"{r['bits_per_second_per_channel']:.1f} bit/s per "
                "channel",
                highlight=False,
            )
        if r["grouping"]:
            console.print(f"  {_groups_line(r['grouping'])}", highlight=False)
        table = Table("#", "label", "unit", "Hz", "storage")
        for ch in r["channels"]:
            table.add_row(
                str(ch["index"]), ch["label"], ch["unit"], f"{ch['sample_rate']:g}", ch["storage"]
            )
        console.print(table)
        console.print("  sizes: " + ", ".join(f"{k} {v:,}" for k, v in r["sizes"].items()))
        fidelity = (r["metrics"] or {}).get("fidelity")
        if fidelity:
            cells = _fidelity_cells(fidelity)
            console.print(
                f"  stored fidelity: PRDN {cells[0]} %, SNR {cells[1]} dB, r {cells[2]}, "
                f"mel {cells[3]}",
                highlight=False,
            )


@app.command(
    epilog="Exit codes: 0 every file intact · 4 damage found · 3, 5, 7 a file could not be "
    "checked (missing, from a newer eegzip, model unavailable).\n\nExamples:\n\n"
    "  eegzip verify rec.eegc\n\n  eegzip verify archive/ --full --json"
)
def verify(
    inputs: Annotated[list[str], typer.Argument(help=".eegc files, directories or URLs.")],
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Also decode everything through the codec (writing nothing); for lossless "
            "and --max-error files, check the decoder's output against the stored checksums.",
        ),
    ] = False,
    model: ModelOption = None,
    device: DeviceOption = "cpu",
    workers: WorkersOption = None,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    manifest: ManifestOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check .eegc files for damage: checksums, structure, every block decodes."""
    options = {"full": full, "model": model, "device": device}
    how = BatchOptions(workers, ray, ray_address, manifest)
    results, exit_code = _run_jobs(
        "verify", inputs, None, options, how, as_json=as_json, listed=True, required=True,
        bar=full,
    )  # fmt: skip
    for r in () if as_json else (r for r in results if "error" not in r):
        for problem in r["problems"]:
            console.print(f"[red]{escape(problem)}[/]", highlight=False, soft_wrap=True)
        if r["ok"]:
            line = f"{escape(r['file'])}: [green]OK[/]{_full_note(r)}"
            console.print(line, highlight=False, soft_wrap=True)
    if exit_code:
        raise typer.Exit(exit_code)


def _full_note(r: dict) -> str:
    """What a passed --full check proved (a lossy file stores no checksums to compare)."""
    if not r["full"]:
        return ""
    done = f" · decoded {r['decoded_seconds']:g} s through the codec"
    if r["checksummed_blocks"]:
        n = r["checksummed_blocks"]
        return f"{done}, its output matches the stored checksums of all {n} blocks"
    if r.get("portable_blocks"):
        return f" · decoded {r['decoded_seconds']:g} s exactly (archival: needs no codec)"
    return f"{done} (lossy: no checksums stored)"


@app.command(
    epilog="Examples:\n\n  eegzip tokens rec.eegc\n\n  eegzip tokens recordings/ -o tokens/"
    " --codebooks 4 --json\n\n  eegzip tokens rec.edf --model eegdac-mc-256hz --groups manual"
)
def tokens(
    inputs: Annotated[
        list[str], typer.Argument(help=".eegc or EDF/BDF files, directories, or .eegc URLs.")
    ],
    output: OutputOption = None,
    codebooks: Annotated[
        int | None,
        typer.Option("--codebooks", "-n", help="Keep the first N codebooks (default: all)."),
    ] = None,
    groups: GroupsOption = None,
    group_seed: GroupSeedOption = None,
    group_size: GroupSizeOption = None,
    model: ModelOption = None,
    device: DeviceOption = "cpu",
    force: ForceOption = False,
    workers: WorkersOption = None,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    manifest: ManifestOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export discrete EEG tokens (code indices) to <name>.tokens.npz.

    A .eegc gives the tokens it stores (its own model and groups; no model is run); an
    EDF/BDF is coded on the fly with --model and the grouping options, nothing else written.
    """
    options = {
        "model": model,
        "device": device,
        "codebooks": codebooks,
        "groups": groups,
        "group_seed": group_seed,
        "group_size": group_size,
    }
    how = BatchOptions(workers, ray, ray_address, manifest)
    results, exit_code = _run_jobs(
        "tokens", inputs, output, options, how, force=force, as_json=as_json, listed=True,
        required=True,
    )  # fmt: skip
    for r in () if as_json else (r for r in results if "error" not in r):
        if r.get("skipped"):
            console.print(f"{escape(r['input'])} → {escape(r['output'])}: already done")
            continue
        console.print(
            f"{escape(r['input'])} → {escape(r['output'])}: {r['streams']} streams × "
            f"{r['codebooks']} codebooks × {r['frames']} frames of {r['frame_seconds']:g} s "
            f"({escape(r['model']['name'])}, codebook size {r['codebook_size']})",
            highlight=False,
            soft_wrap=True,
        )
    if exit_code:
        raise typer.Exit(exit_code)


@app.command(epilog="Example:\n\n  eegzip models --json")
def models(as_json: JsonOption = False) -> None:
    """List the models shipped with eegzip."""
    specs = registry.shipped_models()
    rows = [
        {
            "name": s.name,
            "default": s.name == registry.DEFAULT_MODEL,
            "kind": s.kind,
            "sha256": s.sha256,
            "summary": s.summary,
            "card": s.card,
        }
        for s in specs
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("name", "default", "kind", "sha256", "summary")
    for row in rows:
        table.add_row(
            row["name"],
            "✓" if row["default"] else "",
            row["kind"],
            row["sha256"][:16] + "…",
            row["summary"],
        )
    console.print(table)


@app.command(epilog="Example:\n\n  eegzip demo --seconds 120 --dir demo/")
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the demo files.")] = Path(
        "eegzip-demo"
    ),
    seconds: Annotated[int, typer.Option("--seconds", help="Length of the recording.")] = 120,
    device: DeviceOption = "cpu",
    as_json: JsonOption = False,
) -> None:
    """Write a realistic synthetic 19-channel EDF, compress it, decompress it, show metrics."""
    from eegzip.demo import make_demo_edf

    directory.mkdir(parents=True, exist_ok=True)
    source = make_demo_edf(directory / "demo.edf", seconds=seconds, force=True)
    container = directory / "demo.eegc"
    restored = directory / "demo.decoded.edf"
    with _progress(not as_json) as task:  # the default: the ladder's default rung
        packed = api.compress(source, container, force=True, progress=task("compress"))
        unpacked = api.decompress(
            container, restored, device=device, force=True, progress=task("decompress")
        )
    result = {"edf": str(source), "compress": packed.to_dict(), "decompress": unpacked.to_dict()}
    if as_json:
        print(json.dumps(result, indent=2))
        return
    prd, snr, r, mel = _fidelity_cells(packed.fidelity)
    console.print(
        f"[bold]demo[/]: {source} ({packed.input_bytes / 1e6:.2f} MB, {packed.duration_seconds:.0f}"
        f" s, {len(packed.codec_channels)} EEG channels through the codec, "
        f"{len(packed.lossless_channels)} lossless)\n"
        f"  → {container} ({packed.output_bytes / 1e3:.1f} kB, {packed.ratio:.1f}×, "
        f"{packed.bits_per_second_per_channel:.0f} bit/s per channel) in "
        f"{packed.wall_seconds:.1f} s\n"
        f"  → {restored} in {unpacked.wall_seconds:.1f} s\n"
        f"  fidelity: PRDN {prd} %, SNR {snr} dB, r {r}, mel loss {mel}",
        highlight=False,
    )


@app.command(
    epilog="Examples:\n\n  eegzip view rec.eegc\n\n  eegzip view rec.eegc --reference rec.edf "
    "--port 8765 --no-browser"
)
def view(
    path: Annotated[Path, typer.Argument(help="A .eegc or EDF/BDF file.")],
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free).")
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL only; open no browser.")
    ] = False,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Original EDF: overlay it, with each page's PRDN."),
    ] = None,
) -> None:
    """Page through a recording in the browser, decoding only the window on screen."""
    import webbrowser

    from eegzip.view import make_server

    try:
        server = make_server(path, port, reference)
    except EegzipError as error:
        _fail(error)
        raise typer.Exit(error.exit_code) from None
    console.print(f"eegzip view: {server.url}  (Ctrl-C stops)", highlight=False)
    if not no_browser:
        webbrowser.open(server.url)
    # A process started in the background of a script inherits SIGINT ignored; the server
    # promises that Ctrl-C (SIGINT) stops it, wherever it was started from.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("eegzip view: stopped")
    finally:
        server.server_close()


@app.command(
    epilog="Examples:\n\n  eegzip datasets\n\n  eegzip datasets --fetch eegmat --dest data/eegmat"
    "\n\n  eegzip datasets --fetch eegmat --dest data/eegmat --mirror /archive/eegmat"
)
def datasets(
    fetch: Annotated[
        str | None, typer.Option("--fetch", help="Download this dataset (eegmat).")
    ] = None,
    dest: Annotated[Path, typer.Option("--dest", help="Where fetched files go.")] = Path("data"),
    mirror: Annotated[
        str | None,
        typer.Option("--mirror", help="Folder or URL to fetch from instead of the dataset's home."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Describe the datasets eegzip bench knows; fetch EEGMAT with SHA-256 checks."""
    from eegzip.bench import datasets as known

    if fetch is None:
        rows = known.describe()
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        for d in rows:
            console.print(f"[bold]{d['name']}[/]: {escape(d['title'])}", highlight=False)
            console.print(
                f"  {escape(d['content'])}\n  tasks: {', '.join(d['tasks'])} · licence "
                f"{d['licence']} · {d['home']}\n  cite: {escape(d['citation'])}",
                highlight=False,
            )
        return
    with _progress(not as_json) as task:
        result = _run_all(
            [dest], lambda d: known.fetch(fetch, d, mirror, task(f"fetch {fetch}")), as_json
        )
    if not as_json:
        r = result[0]
        console.print(
            f"{r['dataset']}: {r['fetched']} files fetched, {r['kept']} already there and "
            f"verified, in {r['dest']} (from {r['source']})",
            highlight=False,
        )


@app.command(
    epilog="Examples:\n\n  eegzip train ../shared/data --out runs/sc256 --steps 20000\n\n"
    "  eegzip train ../shared/data --out runs/ft --init weights.pth  # fine-tune official DAC"
)
def train(
    data: Annotated[
        Path,
        typer.Argument(
            help="Folder of EDFs with splits.csv (train/test), or a training pack "
            "(benchmarks/pack_training_data.py)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Run folder (checkpoints, logs).")],
    steps: Annotated[
        int, typer.Option(help="Total optimiser steps (resumes if out has a checkpoint).")
    ] = 10_000,
    init: Annotated[
        Path | None, typer.Option(help="Start from these weights (.pth official DAC or eegzip).")
    ] = None,
    encoder_dim: Annotated[int, typer.Option(help="DAC encoder_dim.")] = 8,
    decoder_dim: Annotated[int, typer.Option(help="DAC decoder_dim.")] = 128,
    n_codebooks: Annotated[
        int | None,
        typer.Option(help="DAC n_codebooks (default 9); with --init, keep the first n."),
    ] = None,
    codebook_size: Annotated[
        int | None,
        typer.Option(help="DAC codebook_size (default 1024); with --init, keep the most used."),
    ] = None,
    sample_rate: Annotated[
        int | None,
        typer.Option(help="Model rate in Hz, default 256 (EEG is resampled to it)."),
    ] = None,
    audio: Annotated[
        Path | None,
        typer.Option(help="Train on the audio files in this folder instead (pretraining)."),
    ] = None,
    quantizer_dropout: Annotated[
        float, typer.Option(help="Share of items with fewer codebooks.")
    ] = 0.5,
    batch_size: Annotated[int, typer.Option(help="Crops per step.")] = 16,
    crop_seconds: Annotated[float, typer.Option(help="Crop length in seconds.")] = 16.0,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, betas 0.8/0.99).")] = 3e-4,
    eval_every: Annotated[int, typer.Option(help="Held-out check and checkpoint interval.")] = 250,
    max_seconds: Annotated[
        float | None,
        typer.Option(help="Stop after this much training time (held-out check and export first)."),
    ] = None,
    threads: Annotated[int, typer.Option(help="CPU threads for torch.")] = 2,
    gan: Annotated[
        bool, typer.Option("--gan", help="Add DAC's multi-period and multi-band discriminators.")
    ] = False,
    loss: Annotated[
        str,
        typer.Option(
            help="Loss weights: a recipe (eegzip, dac, waveform) and/or name=value pairs, e.g. "
            "'waveform,mel=0.5'. Terms: mel, stft, waveform (relative L1), waveform_l2, "
            "complex_stft, band_power, commitment, codebook, adversarial, feature_matching."
        ),
    ] = "eegzip",
    best_by: Annotated[
        str, typer.Option(help="Held-out measure that picks best.safetensors: mel or prd.")
    ] = "mel",
    synthetic_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of training crops replaced by synthetic rhythms (sines, 1-30 Hz, "
            "10-200 µV, half over pink noise).",
        ),
    ] = 0.0,
    multichannel: Annotated[
        bool,
        typer.Option(
            "--multichannel",
            help="Train DAC-MC: groups of channels, one token stream per group (--init may be "
            "a DAC-SC model; --batch-size counts groups).",
        ),
    ] = False,
    device: DeviceOption = "cpu",
) -> None:
    """Train a codec on EEG from scratch or fine-tune one; resumable, held-out checks logged."""
    import torch

    from eegzip.codec.dac import DACConfig
    from eegzip.train.adapt import ModelChanges
    from eegzip.train.loop import BEST_BY, TrainConfig
    from eegzip.train.loop import train as train_model
    from eegzip.train.losses import LossWeights
    from eegzip.train.pack import INDEX_NAME as PACK_INDEX_NAME

    try:
        weights = LossWeights.parse(loss)
        if best_by not in BEST_BY:
            raise ValueError(f"--best-by must be one of {', '.join(BEST_BY)}, not {best_by!r}")
    except ValueError as exc:
        _fail(UsageError(str(exc)))
        raise typer.Exit(UsageError.exit_code) from None
    torch.set_num_threads(threads)
    config = TrainConfig(
        data_dir=data,
        out_dir=out,
        model=DACConfig(
            encoder_dim=encoder_dim,
            decoder_dim=decoder_dim,
            n_codebooks=n_codebooks or 9,
            codebook_size=codebook_size or 1024,
            sample_rate=sample_rate or 256,
            quantizer_dropout=quantizer_dropout,
        ),
        init=init,
        changes=ModelChanges(n_codebooks, codebook_size, sample_rate),
        audio_dir=audio,
        packed=data if (data / PACK_INDEX_NAME).exists() else None,
        steps=steps,
        max_seconds=max_seconds,
        batch_size=batch_size,
        crop_seconds=crop_seconds,
        lr=lr,
        eval_every=eval_every,
        weights=weights,
        best_by=best_by,
        synthetic_share=synthetic_share,
        gan=gan,
        device=str(registry.pick_device(device)),
    )
    with _progress(errors.is_terminal) as task:
        advance = task(f"train {out.name}")

        def report(record: dict) -> None:
            if "step" in record:
                advance(record["step"], steps)
            if "heldout" in record or "event" in record or not errors.is_terminal:
                errors.print(json.dumps(record), highlight=False, soft_wrap=True)

        try:
            if multichannel:
                from eegzip.train.mc_loop import train_multichannel

                best = train_multichannel(config, report=report)
            else:
                best = train_model(config, report)
        except (FileNotFoundError, ValueError) as exc:
            _fail(EegzipError(str(exc)))
            raise typer.Exit(1) from None
    console.print(f"best held-out model: {best}")


def main() -> None:
    warnings.showwarning = _warning
    try:
        app()
    except KeyboardInterrupt:
        errors.print("eegzip: interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: still one line unless debugging
        if os.environ.get("EEGZIP_DEBUG"):
            raise
        errors.print(
            f"eegzip: internal error: {type(exc).__name__}: {exc} "
            "(set EEGZIP_DEBUG=1 for a traceback, and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


app.command(name="bench", epilog=BENCH_EPILOG)(bench_command)
