"""DAC-SC against DAC-MC's three grouping modes (the paper's Table 2 rows), through `eegzip bench`.

For each mode, the same `eegzip bench` runs: held-out size, speed and fidelity on a subset of
the test split (EEGMAT and Guinea-Bissau separately), then the arithmetic and epilepsy
classification tasks on reconstructions. Every command is recorded; results go to
benchmarks/results/mc_modes.{json,md}.

    python benchmarks/mc_modes.py                      # about 30 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from heldout import test_files

HERE = Path(__file__).resolve().parent
MODES = {
    "Single-Channel DAC-SC": ("eegdac-sc-256hz", []),
    "Single-Channel DAC-MC": ("eegdac-mc-256hz", ["--groups", "none"]),
    "Random-Groups DAC-MC": ("eegdac-mc-256hz", ["--groups", "random", "--group-seed", "0"]),
    "Manual-Groups DAC-MC": ("eegdac-mc-256hz", ["--groups", "manual"]),
}
TASKS = {"arithmetic": [], "epilepsy": ["--limit", "10"]}


def bench(arguments: list[str]) -> dict:
    command = ["eegzip", "bench", *arguments, "--json"]
    print("$", shlex.join(command), flush=True)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def file_row(out: dict) -> dict:
    (run,) = out["aggregate"]["runs"]
    overall = run["fidelity"]["overall"]
    return {
        "command": out["command"],
        "files": out["aggregate"]["files"],
        "bits_per_second_per_channel": run["bits_per_second_per_channel"],
        "nominal_bits_per_second_per_channel": run["nominal_bits_per_second_per_channel"],
        "encode_x_realtime": run["encode"]["x_realtime"],
        "decode_x_realtime": run["decode"]["x_realtime"],
        "fidelity": {k: overall[k] for k in ("prdn", "snr_db", "r", "mel_loss")},
    }


def task_row(out: dict) -> dict:
    rows = out["task"]["rows"]
    (coded,) = (r for r in rows if r["signals"] == "eegzip")
    original = next(r for r in rows if r["signals"] == "original")
    delta = coded["vs_original"]["balanced_accuracy"]
    return {
        "command": out["command"],
        "original": original["balanced_accuracy"],
        "reconstructed": coded["balanced_accuracy"],
        "trained_on_original": coded["trained_on_original"]["balanced_accuracy"],
        "difference": delta["mean_difference"],
        "corrected_t_p": delta["corrected_t_p"],
    }


def run(data: Path, codebooks: int) -> dict:
    files = test_files(data, gb_stride=12)
    subsets = {"eegmat": files["eegmat"][::6], "guinea-bissau": files["guinea-bissau"]}
    results: dict = {"command": "python benchmarks/mc_modes.py " + shlex.join(sys.argv[1:])}
    results["modes"] = {}
    for mode, (model, grouping) in MODES.items():
        options = ["--model", model, *grouping, "--codebooks", str(codebooks)]
        row: dict = {"model": model, "grouping": grouping}
        row["files"] = {
            name: file_row(bench([*map(str, paths), *options])) for name, paths in subsets.items()
        }
        row["tasks"] = {
            task: task_row(bench([str(data), "--task", task, *extra, *options]))
            for task, extra in TASKS.items()
        }
        results["modes"][mode] = row
    return results


def markdown(results: dict) -> str:
    lines = [f"Command: `{results['command']}`", "", "### Size, fidelity and speed", ""]
    lines += [
        "| mode | dataset | bit/s/ch (nominal) | PRDN % | r | mel | encode × RT | decode × RT |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, row in results["modes"].items():
        for name, f in row["files"].items():
            q = f["fidelity"]
            lines.append(
                f"| {mode} | {name} ({f['files']} files) | {f['bits_per_second_per_channel']:.1f} "
                f"({f['nominal_bits_per_second_per_channel']:.1f}) | {q['prdn']:.1f} | "
                f"{q['r']:.3f} | {q['mel_loss']:.3f} | {f['encode_x_realtime']:.0f} | "
                f"{f['decode_x_realtime']:.0f} |"
            )
    lines += ["", "### Downstream balanced accuracy (mean ± sd over CV splits)", ""]
    lines += [
        "| mode | task | originals | reconstructions | trained on originals | Δ | p |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, row in results["modes"].items():
        for task, t in row["tasks"].items():
            o, c, x = t["original"], t["reconstructed"], t["trained_on_original"]
            lines.append(
                f"| {mode} | {task} | {o['mean']:.3f} ± {o['std']:.3f} | "
                f"{c['mean']:.3f} ± {c['std']:.3f} | {x['mean']:.3f} ± {x['std']:.3f} | "
                f"{t['difference']:+.3f} | {t['corrected_t_p']:.2f} |"
            )
    lines += ["", "Per-run commands are in mc_modes.json.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data")
    parser.add_argument("--codebooks", type=int, default=9)
    args = parser.parse_args()
    results = run(args.data, args.codebooks)
    out = HERE / "results" / "mc_modes.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
