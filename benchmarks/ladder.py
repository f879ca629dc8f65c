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

import numpy as np
from published import RESULTS, publish

from eegzip.bench.ladder import measure_file
from eegzip.pipeline.spectral import LADDER

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BANDS = ("delta", "theta", "alpha", "beta", "gamma")


def test_files(data: Path, gb_files: int, eegmat_files: int | None) -> dict[str, list[Path]]:
    with (data / "splits.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    eegmat = [data / r["file"] for r in rows if r["dataset"] == "eegmat"][:eegmat_files]
    gb = [data / r["file"] for r in rows if r["dataset"] == "guinea-bissau"][:gb_files]
    return {"eegmat": eegmat, "guinea-bissau": gb}


def summary(rows: list[dict]) -> dict:
    def mean(key, coder):
        return float(np.mean([r[coder][key] for r in rows]))

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
        "eegzip_bands": {
            b: float(np.median([r["eegzip"]["bands"][b] for r in rows])) for b in BANDS
        },
        "wavelet_bands": {
            b: float(np.median([r["wavelet"]["bands"][b] for r in rows])) for b in BANDS
        },
        "eegzip_better_files": int(sum(r["eegzip"]["prdn"] <= r["wavelet"]["prdn"] for r in rows)),
        "compress_seconds": float(np.mean([r["compress_seconds"] for r in rows])),
    }


def _rung_ticks(ax, rates: list[float]) -> None:
    from matplotlib.ticker import NullFormatter

    ax.set_xticks(rates, [f"{r:.0f}" for r in rates])
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(results)
    fig, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 7), squeeze=False)
    for col, name in enumerate(datasets):
        rungs = results[name]
        rate = [s["bits_per_second_per_channel"] for s in rungs.values()]
        ax = axes[0, col]
        ax.plot(rate, [s["eegzip_prdn"] for s in rungs.values()], "o-", label="eegzip --bitrate")
        ax.plot(
            rate, [s["wavelet_prdn"] for s in rungs.values()], "s--", label="wavelet, same bytes"
        )
        ax.plot(rate, [s["bound_prdn"] for s in rungs.values()], ":", label="Gaussian bound")
        ax.set(xscale="log", title=name, ylabel="PRDN %", xlabel="bit/s per channel (file)")
        _rung_ticks(ax, rate)
        ax.legend()
        ax = axes[1, col]
        ax.plot(rate, [s["eegzip_bands"]["alpha"] for s in rungs.values()], "o-", label="eegzip")
        ax.plot(rate, [s["wavelet_bands"]["alpha"] for s in rungs.values()], "s--", label="wavelet")
        ax.axhspan(0.8, 1.25, color="green", alpha=0.1)
        ax.set(xscale="log", ylabel="alpha power ratio", xlabel="bit/s per channel (file)")
        _rung_ticks(ax, rate)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


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
        plot(summary, RESULTS / "plots" / f"{args.name}.png")
        return
    command = "python benchmarks/ladder.py " + shlex.join(sys.argv[1:])
    print(command, flush=True)
    per_file: dict[str, list[dict]] = {}
    for dataset, files in test_files(args.data, args.gb_files, args.eegmat_files).items():
        per_file[dataset] = []
        for path in files:
            rows = measure_file(path, args.bitrates)
            per_file[dataset] += rows
            print(
                dataset,
                path.name,
                " ".join(
                    f"{r['bitrate_target']:g}:{r['eegzip']['prdn']:.1f}/{r['wavelet']['prdn']:.1f}"
                    for r in rows
                ),
                flush=True,
            )
    results = {
        name: {
            f"{b:g}": summary([r for r in rows if r["bitrate_target"] == b]) for b in args.bitrates
        }
        for name, rows in per_file.items()
    }
    plot(results, RESULTS / "plots" / f"{args.name}.png")
    publish(
        args.name,
        {"command": command, "summary": results, "files": per_file},
        markdown(results, command),
    )


if __name__ == "__main__":
    main()
