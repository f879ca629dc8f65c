"""Downstream tasks at three rungs of the rate ladder: EEGMAT rest vs mental arithmetic and
Guinea-Bissau epilepsy vs control, on the test split, classifiers trained on originals and on
reconstructions (eegzip/bench/tasks.py), reconstructions at --bitrate 40, 100 and 300.

    python benchmarks/ladder_tasks.py
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from published import publish

from eegzip.bench.tasks import run_task

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _row_text(row: dict) -> str:
    name = "original" if row["signals"] == "original" else f"{row['bitrate']:g} bit/s"
    own = row["balanced_accuracy"]["mean"]
    transfer = row.get("trained_on_original")
    if transfer is None:
        return f"| {name} | {own:.3f} | | |"
    loss = transfer["vs_original"]["balanced_accuracy"]["mean_difference"]
    return (
        f"| {name} | {own:.3f} | {transfer['balanced_accuracy']['mean']:.3f} | {100 * loss:+.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--bitrates", type=float, nargs="+", default=[40.0, 100.0, 300.0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    command = "python benchmarks/ladder_tasks.py " + shlex.join(sys.argv[1:])
    print(command, flush=True)
    results = {"command": command, "tasks": {}}
    intro = (
        "Balanced accuracy, mean over the splits; the last column is the classifier trained "
        "on originals and tested on reconstructions, in points against the originals.\n"
    )
    lines = [f"# Downstream tasks on the rate ladder\n\n`{command}`\n", intro]
    for task in ("arithmetic", "epilepsy"):
        out = run_task(task, args.data, None, (), repeats=args.repeats, bitrates=args.bitrates)
        results["tasks"][task] = out
        lines += [f"\n## {task} ({out['n_recordings']} recordings, {out['n_subjects']} subjects, "
                  f"{out['cv']['splits']} splits)\n",
                  "| signals | trained and tested on them | trained on originals | Δ points |",
                  "|---|---|---|---|"]  # fmt: skip
        lines += [_row_text(row) for row in out["rows"]]
        print(lines[-1], flush=True)
    publish("ladder_tasks", results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
