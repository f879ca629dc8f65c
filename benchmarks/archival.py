"""Archival modes against lossless baselines: eegzip --lossless and --max-error E vs FLAC, zstd, xz.

Files: the first ``--per-dataset`` test-split files of EEGMAT and Guinea-Bissau and train-split
files of Muse (Muse has no test split), read in place. Sizes are whole files (header, lossless
signals and annotations included); ratio = EDF bytes / compressed bytes, summed over files.
Archival modes use the default codebooks (1 with a residual layer). Runs single-threaded:
the machine's cores are shared.

    python benchmarks/archival.py --per-dataset 4
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import tempfile
from pathlib import Path

import torch

import eegzip
from eegzip.bench.baselines import measure_baselines

BOUNDS_UV = (0.5, 1.0, 2.0)


def pick_files(data: Path, per_dataset: int) -> dict[str, list[Path]]:
    with (data / "splits.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    picked = {}
    for dataset, split in (("eegmat", "test"), ("guinea-bissau", "test"), ("muse", "train")):
        files = [data / r["file"] for r in rows if r["dataset"] == dataset and r["split"] == split]
        picked[dataset] = files[:per_dataset]
    return picked


def measure_file(path: Path, codec, tmp: Path) -> dict:
    sizes = {"edf": path.stat().st_size}
    sizes.update({b.name: b.bytes for b in measure_baselines(path)})
    for bound in (0.0, *BOUNDS_UV):
        out = tmp / "x.eegc"
        result = eegzip.compress(
            path, out, model=codec, max_error_uv=bound, measure=False, force=True
        )
        name = "eegzip lossless" if bound == 0 else f"eegzip ±{bound:g} µV"
        sizes[name] = result.output_bytes
        if bound == 0:  # the promise, checked on every file
            back = eegzip.decompress(out, tmp / "back.edf", model=codec, force=True).output
            assert back.read_bytes() == path.read_bytes(), f"{path}: lossless round trip differs"
    lossy = eegzip.compress(path, tmp / "y.eegc", model=codec, measure=False, force=True)
    sizes["eegzip lossy (9 codebooks)"] = lossy.output_bytes
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--per-dataset", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    codec = eegzip.load_codec()
    results: dict = {
        "command": "python benchmarks/archival.py " + shlex.join(sys.argv[1:]),
        "model": codec.identity(),
        "datasets": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, files in pick_files(args.data, args.per_dataset).items():
            per_file = {p.name: measure_file(p, codec, Path(tmp)) for p in files}
            totals: dict[str, int] = {}
            for sizes in per_file.values():
                for k, v in sizes.items():
                    totals[k] = totals.get(k, 0) + v
            results["datasets"][dataset] = {"files": per_file, "totals": totals}
            print(dataset, json.dumps(totals), flush=True)
    overall: dict[str, int] = {}
    for r in results["datasets"].values():
        for k, v in r["totals"].items():
            overall[k] = overall.get(k, 0) + v
    results["overall"] = overall
    out = here / "results" / "archival.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(report(results, codec.spec.name))
    print(out.with_suffix(".md").read_text())


def report(results: dict, model: str) -> str:
    """Ratios per dataset and overall, and the lossless mode against FLAC -8 and zstd -19."""
    rows = {name: r["totals"] for name, r in results["datasets"].items()}
    rows["overall"] = results["overall"]
    counts = {name: len(r["files"]) for name, r in results["datasets"].items()}
    counts["overall"] = sum(counts.values())
    names = list(rows["overall"])[1:]
    lines = [f"Command: `{results['command']}` (model {model})", "",
             "Compression ratio (EDF bytes / compressed bytes, whole files):", "",
             "| dataset | files | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]  # fmt: skip
    for dataset, t in rows.items():
        cells = " | ".join(f"{t['edf'] / t[n]:.2f}×" for n in names)
        lines.append(f"| {dataset} | {counts[dataset]} | {cells} |")
    lines += ["", "eegzip lossless against the lossless baselines (ratio / baseline's ratio):", "",
              "| dataset | vs flac-8 | vs zstd-19 |", "|---|---|---|"]  # fmt: skip
    for dataset, t in rows.items():
        lossless = t["eegzip lossless"]
        lines.append(
            f"| {dataset} | {t['flac-8'] / lossless:.3f} | {t['zstd-19'] / lossless:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
