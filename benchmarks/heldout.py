"""Held-out fidelity of a model through the real pipeline, at several codebook counts.

Every test-split file of EEGMAT and (every ``--gb-stride``-th of) Guinea-Bissau is compressed
with ``eegzip.compress`` (which decodes, quantises to the EDF grid and compares with the
original); the per-file overall metrics are averaged per dataset. Writes JSON and Markdown
under benchmarks/results/ and, with ``--card``, the held-out section of the model card.

    python benchmarks/heldout.py --model eegdac-sc-256hz --codebooks 3 6 9 --card
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from published import publish

import eegzip
from eegzip.codec.registry import MODELS_DIR

METRICS = ("prdn", "snr_db", "r", "mel_loss", "nmse")
BANDS = ("delta", "theta", "alpha", "beta", "gamma")


def test_files(data: Path, gb_stride: int) -> dict[str, list[Path]]:
    with (data / "splits.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    eegmat = [data / r["file"] for r in rows if r["dataset"] == "eegmat"]
    gb = [data / r["file"] for r in rows if r["dataset"] == "guinea-bissau"][::gb_stride]
    return {"eegmat": eegmat, "guinea-bissau": gb}


def summarise(reports: list[dict]) -> dict:
    overall = [r["fidelity"]["overall"] for r in reports]
    out = {m: float(np.nanmean([o[m] if o[m] is not None else np.nan for o in overall]))
           for m in METRICS}  # fmt: skip
    out["band_error"] = {
        b: float(np.nanmean([o["band_error"].get(b) or np.nan for o in overall])) for b in BANDS
    }
    out["bits_per_second_per_channel"] = float(
        np.mean([r["code_bits_per_second_per_channel"] for r in reports])
    )
    out["files"] = len(reports)
    return out


def training_facts(run: Path) -> dict:
    """Steps, wall time and configuration of a training run, from its own files."""
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    timed = [r for r in records if "elapsed_s" in r]
    evaluated = [r for r in records if "heldout" in r]
    return {
        "config": json.loads((run / "config.json").read_text()),
        "steps": max(r["step"] for r in records),
        "wall_hours": round(timed[-1]["elapsed_s"] / 3600, 2) if timed else None,
        "heldout_during_training": {r["step"]: r["heldout"] for r in evaluated},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--model", default=None)
    parser.add_argument("--codebooks", type=int, nargs="+", default=[3, 6, 9])
    parser.add_argument("--gb-stride", type=int, default=3)
    parser.add_argument("--card", action="store_true", help="Write the model card's results.")
    parser.add_argument(
        "--run", type=Path, nargs="*", default=[], help="Training run folders, in order (phases)."
    )
    args = parser.parse_args()
    codec = eegzip.load_codec(args.model)
    files = test_files(args.data, args.gb_stride)
    results: dict = {
        "command": "python benchmarks/heldout.py " + shlex.join(sys.argv[1:]),
        "model": {"name": codec.spec.name, "sha256": codec.spec.sha256},
        "files": {k: [p.name for p in v] for k, v in files.items()},
        "codebooks": {},
    }
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.codebooks:
            per_dataset = {}
            for dataset, paths in files.items():
                reports = [
                    eegzip.compress(
                        p, Path(tmp) / "x.eegc", model=codec, codebooks=n, force=True
                    ).to_dict()  # fmt: skip
                    for p in paths
                ]
                per_dataset[dataset] = summarise(reports)
                print(n, dataset, json.dumps(per_dataset[dataset]), flush=True)
            results["codebooks"][str(n)] = per_dataset
    results["wall_seconds"] = round(time.time() - started, 1)
    table = [
        "| codebooks | dataset | bit/s/ch | PRDN % | SNR dB | r | mel loss | alpha err | files |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, per_dataset in results["codebooks"].items():
        for dataset, s in per_dataset.items():
            table.append(
                f"| {n} | {dataset} | {s['bits_per_second_per_channel']:.1f} | {s['prdn']:.1f} | "
                f"{s['snr_db']:.2f} | {s['r']:.3f} | {s['mel_loss']:.3f} | "
                f"{s['band_error']['alpha']:.3f} | {s['files']} |"
            )
    markdown = "\n".join([f"Command: `{results['command']}`", "", *table]) + "\n"
    publish(f"heldout_{codec.spec.name}", results, markdown)
    if args.card:
        card_path = MODELS_DIR / f"{codec.spec.name}.json"
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        card["heldout"] = {"command": results["command"], "codebooks": results["codebooks"]}
        if args.run:
            card["training"] = [training_facts(run) for run in args.run]
        card_path.write_text(json.dumps(card, indent=2) + "\n")


if __name__ == "__main__":
    main()
