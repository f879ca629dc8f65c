"""The rate ladder on the test split: eegzip --bitrate against the wavelet baseline at equal
file size, with the Gaussian bound; table, JSON and a PNG of PRDN and alpha ratio per dataset.

    python benchmarks/ladder.py --gb-files 20
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from pathlib import Path

from published import RESULTS, publish

from eegzip.bench.ladder import measure_ladder
from eegzip.bench.plots import ladder as ladder_plot
from eegzip.metrics.fidelity import BANDS
from eegzip.pipeline.spectral import LADDER

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_files(data: Path, gb_files: int, eegmat_files: int | None) -> dict[str, list[Path]]:
    with (data / "splits.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    eegmat = [data / r["file"] for r in rows if r["dataset"] == "eegmat"][:eegmat_files]
    gb = [data / r["file"] for r in rows if r["dataset"] == "guinea-bissau"][:gb_files]
    return {"eegmat": eegmat, "guinea-bissau": gb}


def markdown(results: dict, command: str) -> str:
    lines = [
        f"# Rate ladder on the test split\n\n`{command}`\n",
        "PRDN: mean over files; band ratios: median over files of each file's median over "
        "channels (decoded / original power). The wavelet gets the whole .eegc size.\n",
    ]
    for name, rungs in results.items():
        lines += [
            f"\n## {name}\n",
            "| target | bit/s/ch | files | eegzip PRDN % | wavelet PRDN % | bound % "
            "| eegzip ≤ wavelet (files) | r eegzip / wavelet | eegzip bands δ θ α β γ "
            "| wavelet bands δ θ α β γ | compress s |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for target, s in rungs.items():
            eb = " ".join(f"{s['eegzip_bands'][b]:.2f}" for b in BANDS)
            wb = " ".join(f"{s['wavelet_bands'][b]:.2f}" for b in BANDS)
            lines.append(
                f"| {target} | {s['bits_per_second_per_channel']:.1f} | {s['files']} | "
                f"{s['eegzip_prdn']:.1f} | {s['wavelet_prdn']:.1f} | {s['bound_prdn']:.1f} | "
                f"{s['eegzip_better_files']}/{s['files']} | "
                f"{s['eegzip_r']:.3f} / {s['wavelet_r']:.3f} | "
                f"{eb} | {wb} | {s['compress_seconds']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--gb-files", type=int, default=20)
    parser.add_argument("--eegmat-files", type=int, default=None)
    parser.add_argument("--bitrates", type=float, nargs="+", default=list(LADDER))
    parser.add_argument("--name", default="ladder")
    parser.add_argument("--replot", action="store_true", help="redraw the PNG from the JSON")
    args = parser.parse_args()
    if args.replot:
        summary = json.loads((RESULTS / f"{args.name}.json").read_text())["summary"]
        ladder_plot(summary, RESULTS / "plots" / f"{args.name}.png")
        return
    command = "python benchmarks/ladder.py " + shlex.join(sys.argv[1:])
    print(command, flush=True)

    def show(dataset: str, path: Path, rows: list[dict]) -> None:
        rungs = [f"{r['bitrate_target']:g}:{r['eegzip']['prdn']:.1f}/{r['wavelet']['prdn']:.1f}"
                 for r in rows]  # fmt: skip
        print(dataset, path.name, " ".join(rungs), flush=True)

    groups = test_files(args.data, args.gb_files, args.eegmat_files)
    run = measure_ladder(groups, args.bitrates, on_file=show)
    ladder_plot(run["summary"], RESULTS / "plots" / f"{args.name}.png")
    publish(
        args.name,
        {"command": command, "summary": run["summary"], "files": run["files"]},
        markdown(run["summary"], command),
    )


if __name__ == "__main__":
    main()
