"""Archival modes against lossless baselines: eegzip --lossless and --max-error E vs FLAC, zstd, xz.

Files: the first ``--per-dataset`` test-split files of EEGMAT and Guinea-Bissau and train-split
files of Muse (Muse has no test split), read in place. Sizes are whole files (header, lossless
signals and annotations included); ratio = EDF bytes / compressed bytes, summed over files.

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
    out = here / "results" / "archival.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    names = list(next(iter(results["datasets"].values()))["totals"])[1:]
    lines = [f"Command: `{results['command']}` (model {codec.spec.name})", "",
             "Compression ratio (EDF bytes / compressed bytes, whole files):", "",
             "| dataset | files | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]  # fmt: skip
    for dataset, r in results["datasets"].items():
        t = r["totals"]
        cells = " | ".join(f"{t['edf'] / t[n]:.2f}×" for n in names)
        lines.append(f"| {dataset} | {len(r['files'])} | {cells} |")
    markdown = "\n".join(lines) + "\n"
    out.with_suffix(".md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
