"""Archival modes against lossless baselines: eegzip --lossless and --max-error E vs FLAC, zstd, xz.

Files: the first ``--per-dataset`` test-split files of EEGMAT and Guinea-Bissau and train-split
files of Muse (Muse has no test split), read in place. The measuring, the promise checks on every
decompressed file and the totals are ``eegzip.bench.archival``'s (``eegzip bench --archival``
on these files gives the same numbers); this script picks the files and writes
benchmarks/results/archival.{json,md}. Runs single-threaded: the machine's cores are shared.

    python benchmarks/archival.py --per-dataset 4
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from published import publish

import eegzip
from eegzip.bench.archival import DEFAULT_BOUNDS_UV, Totals, measure_archival


def pick_files(data: Path, per_dataset: int) -> dict[str, list[Path]]:
    with (data / "splits.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    picked = {}
    for dataset, split in (("eegmat", "test"), ("guinea-bissau", "test"), ("muse", "train")):
        files = [data / r["file"] for r in rows if r["dataset"] == dataset and r["split"] == split]
        picked[dataset] = files[:per_dataset]
    return picked


def _log(description: str) -> Callable[[int, int], None]:
    """A progress callback that prints one line per finished file (the run goes to a log)."""

    def progress(done: int, total: int) -> None:
        if done == total:
            print(description, flush=True)

    return progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--per-dataset", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    codec = eegzip.load_codec()
    run = measure_archival(
        pick_files(args.data, args.per_dataset), codec, DEFAULT_BOUNDS_UV, task=_log
    )
    run.raise_if_broken()  # no results file for a run in which a promise was broken
    groups, overall = run.groups(), run.overall()
    results: dict = {
        "command": "python benchmarks/archival.py " + shlex.join(sys.argv[1:]),
        "model": codec.identity(),
        "datasets": {
            g.name: {
                "files": {f.path.name: dict(f.sizes) for f in run.files if f.group == g.name},
                "totals": dict(g.sizes),
            }
            for g in groups
        },
        "overall": dict(overall.sizes) if overall else {},
    }
    rows = [*groups, overall] if overall else groups
    publish("archival", results, report(results["command"], codec.spec.name, rows))


def report(command: str, model: str, rows: list[Totals]) -> str:
    """Ratios per dataset and overall, and the lossless mode against FLAC -8 and zstd -19."""
    names = list(rows[-1].ratios())
    lines = [f"Command: `{command}` (model {model})", "",
             "Compression ratio (EDF bytes / compressed bytes, whole files):", "",
             "| dataset | files | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]  # fmt: skip
    for row in rows:
        cells = " | ".join(f"{r:.2f}×" for r in row.ratios().values())
        lines.append(f"| {row.name} | {row.files} | {cells} |")
    baselines = list(rows[0].versus()) if rows else []
    lines += ["", "eegzip lossless against the lossless baselines (ratio / baseline's ratio):", "",
              "| dataset | " + " | ".join(f"vs {b}" for b in baselines) + " |",
              "|---|" + "---|" * len(baselines)]  # fmt: skip
    for row in rows:
        vs = row.versus()
        lines.append(f"| {row.name} | " + " | ".join(f"{vs[b]:.3f}" for b in baselines) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
