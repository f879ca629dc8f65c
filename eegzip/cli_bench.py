"""The ``eegzip bench`` command (CLI layer: the measuring code in eegzip/bench/ knows no CLI);
``eegzip.cli`` registers it and is imported lazily here for its shared helpers."""

from __future__ import annotations

import json
import math
import shlex
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from eegzip.bench import DEFAULT_BOUNDS_UV, REPEATS, require
from eegzip.cli_options import (
    DeviceOption,
    GroupSeedOption,
    GroupSizeOption,
    GroupsOption,
    JsonOption,
    ModelOption,
)
from eegzip.cli_tables import (
    archival_tables,
    baseline_table,
    checks_line,
    fidelity_table,
    ladder_tables,
    size_table,
    task_table,
)
from eegzip.codec.registry import Codec
from eegzip.errors import EegzipError, InputNotFoundError
from eegzip.pipeline.spectral import LADDER, MAX_BITRATE
from eegzip.version import __version__

if TYPE_CHECKING:  # the measuring code (torch, scipy) is imported when a bench runs
    from eegzip.bench.run import Example

TASK_CODEBOOKS = (9, 6, 3)
LADDER_TEXT = ",".join(f"{r:g}" for r in LADDER)
DEFAULT_MAX_ERROR = ",".join(f"{b:g}" for b in DEFAULT_BOUNDS_UV)

BENCH_EPILOG = (
    "Examples:\n\n  eegzip bench rec.edf --codebooks 6\n\n"
    "  eegzip bench recordings/ --codebooks 1-9 --limit 10 --plot figures/ --json\n\n"
    "  eegzip bench data/ --task epilepsy --codebooks 9,6,3\n\n"
    "  eegzip bench data/ --task arithmetic --codebooks none   (originals only)\n\n"
    "  eegzip bench data/ --archival --max-error 0,1   (lossless and ±1 µV vs FLAC, zstd)\n\n"
    "  eegzip bench data/eegmat data/guinea-bissau --ladder --plot figures/   (rate ladder)\n\n"
    "Needs the bench extra: pip install 'eegzip\\[bench]'."
)

NOTES = {
    "sizes": "ratio = EDF bytes / .eegc bytes; bits_per_second_per_channel = 8 × CODE-block "
    "bytes / (duration × codec channels); nominal = codebooks × ceil(log2 codebook size) × "
    "frames per second × code streams per channel (1 for DAC-SC; groups / channels for DAC-MC)",
    "speed": "wall time of one eegzip.api.compress (measure=False) and one "
    "eegzip.api.decompress call per file with the model already loaded; model_load_seconds "
    "is one load of the weights file, for reference",
    "memory": "peak RSS while each step ran (Linux VmHWM, reset through /proc/self/clear_refs "
    "before the step), which includes the interpreter, torch and the loaded model; "
    "peak_rss_increase_mb is the rise over the RSS at the step's start",
    "fidelity": "eegzip.metrics.compare of the decoded EDF against the original, codec "
    "channels in µV (equal to what compress stores with its metrics on)",
    "wavelet": "db4, 5 levels, 2-s windows, one uniform step bisected to the eegzip CODE bytes "
    "(reached_target false: even all-zero coefficients do not fit); output on the EDF grid",
    "aggregate": "sizes and times summed, peak memory the maximum, fidelity the mean of the "
    "files' overall rows weighted by channel-seconds",
}


class TaskName(str, Enum):
    epilepsy = "epilepsy"
    arithmetic = "arithmetic"


def _report(error: EegzipError) -> None:
    """One error line (cli._fail escapes Rich markup itself: escaping here too printed a stray
    backslash, as in "eegzip\\[bench]")."""
    from eegzip import cli

    cli._fail(error)


def parse_codebooks(text: str, available: int) -> list[int]:
    """'6', '1-9', '3,6,9', '1-3,9' or 'none' → sorted distinct counts in 1..available."""
    if text.strip().lower() == "none":
        return []
    counts: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            first, last = int(low), int(high or low)
            if first > last:
                raise ValueError
            counts.update(range(first, last + 1))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected N, A-B, a comma list of those, or none", param_hint="--codebooks"
        ) from None
    if not all(1 <= n <= available for n in counts):
        raise typer.BadParameter(
            f"{text!r}: the model has codebooks 1..{available}", param_hint="--codebooks"
        )
    return sorted(counts, reverse=True)


def parse_bounds(text: str) -> tuple[float, ...]:
    """'0,0.5,1,2' → (0.0, 0.5, 1.0, 2.0): distinct µV bounds, ascending; 0 is lossless."""
    try:
        bounds = {float(part) for part in text.split(",")}
    except ValueError:
        bounds = set()
    if not bounds or not all(math.isfinite(b) and b >= 0 for b in bounds):
        raise typer.BadParameter(
            f"{text!r}: expected a comma list of bounds ≥ 0 in µV (0: lossless)",
            param_hint="--max-error",
        )
    return tuple(sorted(bounds))


def command_line(ctx: typer.Context) -> str:
    """The invocation with every option spelled out (defaults too), which reproduces the run."""
    words = ["eegzip", ctx.info_name or "bench"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if value is None or value is False:
            continue
        if param.param_type_name == "argument":
            words.extend(str(v) for v in value)
        elif value is True:
            words.append(param.opts[0])
        else:
            words.extend([param.opts[0], str(value.value if isinstance(value, Enum) else value)])
    return shlex.join(words)


def _edf_files(paths: list[Path], limit: int | None) -> list[Path]:
    from eegzip import cli

    items = cli._expand(paths, cli.EDF_SUFFIXES)[:limit]
    if not items:
        raise InputNotFoundError(f"no EDF/BDF files in {', '.join(map(str, paths))}")
    return items


def _by_folder(items: list[Path]) -> dict[str, list[Path]]:
    """Files grouped by the name of their folder (a dataset), in order."""
    groups: dict[str, list[Path]] = {}
    for item in items:
        groups.setdefault(item.resolve().parent.name, []).append(item)
    return groups


def _run_bench(
    paths: list[Path],
    codec: Codec,
    codebooks: str | None,
    limit: int | None,
    show: bool,
    grouping: dict[str, Any],
) -> tuple[dict[str, Any], Example | None, int]:
    """Bench every file; the JSON fields, the plot example and the exit code of failed files."""
    from eegzip import cli
    from eegzip.bench.run import bench_file, measured_to_dict, merge, time_model_load

    counts = parse_codebooks(codebooks or str(codec.n_codebooks), codec.n_codebooks)
    if not counts:
        raise typer.BadParameter("benchmarking files needs a codebook count")
    items = _edf_files(paths, limit)
    model_load = time_model_load(codec)
    measured, files, example, exit_code = [], [], None, 0
    with cli._progress(show) as task:
        for item in items:
            try:
                result, file_example = bench_file(item, codec, counts, task, grouping)
            except EegzipError as error:
                _report(error)
                exit_code = exit_code or error.exit_code
                files.append({"name": str(item), "error": str(error), "exit_code": error.exit_code})
                continue
            measured.append(result)
            files.append(measured_to_dict(result, codec))
            example = example or file_example
    output = {
        "codebooks": counts,
        "model_load_seconds": round(model_load, 3),
        "notes": NOTES,
        "files": files,
        "aggregate": measured_to_dict(merge(measured), codec) if measured else None,
    }
    return output, example, exit_code


def _run_archival(
    paths: list[Path],
    codec: Codec,
    bounds: tuple[float, ...],
    limit: int | None,
    show: bool,
    grouping: dict[str, Any],
) -> tuple[dict[str, Any], int]:
    """Archival modes on every file, grouped by folder; the JSON and the exit code.

    A broken promise is an error of its own (exit 1, ``ok: false``): ratios of a file that did
    not give back what it promised must not pass for a result.
    """
    from eegzip import cli
    from eegzip.bench.archival import measure_archival

    groups = _by_folder(_edf_files(paths, limit))
    with cli._progress(show) as task:
        run = measure_archival(groups, codec, bounds, task=task, grouping=grouping, keep_going=True)
    exit_code = 0
    for error in run.errors:
        _report(EegzipError(error.message))
        exit_code = exit_code or error.exit_code
    for problem in run.problems:
        _report(EegzipError(f"promise broken: {problem}"))
    return run.to_dict(), exit_code or (0 if run.ok else 1)


def _run_task(
    name: str,
    root: Path,
    codec: Codec | None,
    codebooks: str | None,
    limit: int | None,
    repeats: int,
    show: bool,
    grouping: dict[str, Any],
) -> dict[str, Any]:
    from eegzip import cli
    from eegzip.bench.tasks import run_task

    available = codec.n_codebooks if codec else 0
    default = ",".join(str(n) for n in TASK_CODEBOOKS if n <= available) or "none"
    counts = parse_codebooks(codebooks or default, available)
    with cli._progress(show) as progress:
        task = run_task(
            name,
            root,
            codec,
            counts,
            limit=limit,
            repeats=repeats,
            task=progress,
            grouping=grouping,
        )
    return {"codebooks": counts, "task": task}


def _run_ladder(
    paths: list[Path], bitrates: tuple[float, ...], limit: int | None, show: bool
) -> dict[str, Any]:
    """The ladder on every file, one group (dataset) per folder."""
    from eegzip import cli
    from eegzip.bench.ladder import measure_ladder

    with cli._progress(show) as task:
        return measure_ladder(_by_folder(_edf_files(paths, limit)), bitrates, task=task)


def parse_bitrates(text: str) -> tuple[float, ...]:
    """'15,40,100' → (15.0, 40.0, 100.0): ladder rates in bit/s per channel, sorted."""
    try:
        rates = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: give rates like 15,40,100", param_hint="--bitrate"
        ) from None
    if not rates or not all(0 < r <= MAX_BITRATE for r in rates):
        raise typer.BadParameter(
            f"{text!r}: rates in (0, {MAX_BITRATE:g}]", param_hint="--bitrate"
        )
    return tuple(rates)


def _print(console: Console, result: dict[str, Any]) -> None:
    console.print(f"command: {result['command']}", highlight=False, soft_wrap=True)
    if "ladder" in result:
        for table in ladder_tables(result["ladder"]["summary"]):
            console.print(table)
        for path in result.get("plots", []):
            console.print(f"wrote {path}", highlight=False)
        return
    if "archival" in result:
        for table in archival_tables(result["archival"]):
            console.print(table)
        console.print(checks_line(result["archival"]), highlight=False)
        return
    if "task" in result:
        console.print(task_table(result["task"]))
        console.print(
            "Δ: paired over the same splits; p: Nadeau–Bengio corrected resampled t-test and "
            "sign test of the balanced-accuracy differences; within noise: corrected p ≥ 0.05",
            highlight=False,
        )
        return
    entries = [f for f in result["files"] if "error" not in f]
    if len(entries) > 1:
        entries.append(result["aggregate"])
    if entries:
        for table in (size_table(entries), fidelity_table(entries), baseline_table(entries)):
            console.print(table)
    for path in result.get("plots", []):
        console.print(f"wrote {path}", highlight=False)


def _require_extras(task: bool, plot: bool, archival: bool = False) -> None:
    """Fail before any long work if a package of the bench extra is missing."""
    if task:
        needs = [("sklearn", "scikit-learn")]
    elif archival:
        needs = [("soundfile", "soundfile")]
    else:
        needs = [("pywt", "PyWavelets"), ("soundfile", "soundfile")]
    if plot:
        needs.append(("matplotlib", "matplotlib"))
    for module, package in needs:
        require(module, package)


def _check_archival(
    ctx: typer.Context, archival: bool, task: bool, plot: bool, codebooks: str | None
) -> tuple[float, ...]:
    """The bounds to measure; options --archival cannot honour are refused, not ignored."""
    if not archival:
        if ctx.params.get("max_error") is not None:
            raise typer.BadParameter("--max-error needs --archival", param_hint="--max-error")
        return ()
    refused = {
        "--task": task,
        "--plot": plot,
        "--codebooks (archival modes use 1 codebook, the lossy column all)": codebooks is not None,
    }
    _refuse("--archival", refused)
    given = ctx.params.get("max_error")
    bounds = parse_bounds(DEFAULT_MAX_ERROR if given is None else given)
    # Spelled out in the command line like every other default, so that it reproduces the run.
    ctx.params["max_error"] = ",".join(f"{b:g}" for b in bounds)
    return bounds


def bench_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(help="EDF/BDF files or folders; with --task, the data folder (splits.csv)."),
    ],
    codebooks: Annotated[
        str | None,
        typer.Option(
            "--codebooks",
            "-n",
            help="6, a sweep 1-9, a list 3,6,9, or none (originals only, --task). "
            "Default: all of the model's; 9,6,3 with --task.",
        ),
    ] = None,
    task: Annotated[
        TaskName | None,
        typer.Option("--task", help="Downstream classification on the test split instead."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="At most N files (with --task: subjects per class)."),
    ] = None,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Cross-validation repeats for --task.")
    ] = REPEATS,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write PNG figures into this folder.")
    ] = None,
    archival: Annotated[
        bool,
        typer.Option(
            "--archival",
            help="Lossless and bounded-error modes vs FLAC -8, zstd -19, xz -9 instead, every "
            "promise checked on the decompressed file; grouped by folder.",
        ),
    ] = False,
    max_error: Annotated[
        str | None,
        typer.Option(
            "--max-error",
            help="With --archival: µV bounds to measure, a comma list; 0 is --lossless "
            f"(default {DEFAULT_MAX_ERROR}).",
        ),
    ] = None,
    ladder: Annotated[
        bool,
        typer.Option(
            "--ladder",
            help="The rate ladder instead: eegzip --bitrate against the wavelet at equal file "
            "bytes and the Gaussian bound, PRDN, r and band power; grouped by folder.",
        ),
    ] = False,
    bitrate: Annotated[
        str | None,
        typer.Option(
            "--bitrate", help=f"With --ladder: rates in bit/s per channel (default {LADDER_TEXT})."
        ),
    ] = None,
    model: ModelOption = None,
    device: DeviceOption = "cpu",
    groups: GroupsOption = None,
    group_seed: GroupSeedOption = None,
    group_size: GroupSizeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Benchmark against zstd, xz, FLAC and wavelets; --task: classify after compression."""
    from eegzip import cli
    from eegzip.bench.plots import write_plots

    if task is not None and len(paths) != 1:
        raise typer.BadParameter("--task takes one path: the data folder")
    if task is not None and plot is not None:
        raise typer.BadParameter("--plot draws file benchmarks, not --task results")
    bounds = _check_archival(ctx, archival, task is not None, plot is not None, codebooks)
    rates = _check_ladder(ctx, ladder, task is not None, archival, codebooks)
    result: dict[str, Any] = {"command": command_line(ctx), "eegzip_version": __version__}
    exit_code = 0
    grouping = {"groups": groups, "group_seed": group_seed, "group_size": group_size}
    try:
        _require_extras(task is not None, plot is not None, archival)
        if ladder:
            result["ladder"] = _run_ladder(paths, rates, limit, not as_json)
            if plot is not None and result["ladder"]["summary"]:
                from eegzip.bench.plots import ladder as ladder_plot

                result["plots"] = [str(ladder_plot(result["ladder"]["summary"],
                                                   plot / "ladder.png"))]  # fmt: skip
            _finish(result, as_json, 0)
            return
        originals_only = task is not None and (codebooks or "").strip().lower() == "none"
        codec = None if originals_only else cli._load_codec(model, device)
        result.update(model=codec.identity() if codec else None, device=device)
        if task is not None:
            show = not as_json
            result.update(
                _run_task(task.value, paths[0], codec, codebooks, limit, repeats, show, grouping)
            )
        elif archival and codec is not None:
            output, exit_code = _run_archival(paths, codec, bounds, limit, not as_json, grouping)
            result["archival"] = output
        elif codec is not None:
            output, example, exit_code = _run_bench(
                paths, codec, codebooks, limit, not as_json, grouping
            )
            result.update(output)
            if plot is not None and example is not None and output["aggregate"]:
                result["plots"] = [str(p) for p in write_plots(output["aggregate"], example, plot)]
    except EegzipError as error:
        _report(error)
        raise typer.Exit(error.exit_code) from None
    _finish(result, as_json, exit_code)


def _finish(result: dict[str, Any], as_json: bool, exit_code: int) -> None:
    from eegzip import cli

    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print(cli.console, result)
    if exit_code:
        raise typer.Exit(exit_code)


def _refuse(mode: str, refused: dict[str, bool]) -> None:
    """A usage error for the first option given that ``mode`` cannot honour."""
    for name, given in refused.items():
        if given:
            raise typer.BadParameter(f"{mode} does not combine with {name}")


def _check_ladder(
    ctx: typer.Context, ladder: bool, task: bool, archival: bool, codebooks: str | None
) -> tuple[float, ...]:
    """The rates to measure; options --ladder cannot honour are refused, not ignored."""
    if not ladder:
        if ctx.params.get("bitrate") is not None:
            raise typer.BadParameter("--bitrate needs --ladder", param_hint="--bitrate")
        return ()
    refused = {
        "--task": task,
        "--archival": archival,
        "--codebooks": codebooks is not None,
        "--model (the ladder's spectral codec has none)": ctx.params.get("model") is not None,
    }
    _refuse("--ladder", refused)
    rates = parse_bitrates(ctx.params.get("bitrate") or LADDER_TEXT)
    ctx.params["bitrate"] = ",".join(f"{r:g}" for r in rates)  # the command line reproduces it
    return rates
