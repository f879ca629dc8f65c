"""DAC-SC against DAC-MC's three grouping modes (the paper's Table 2 rows), through `eegzip bench`.

For each mode, the same `eegzip bench` runs: held-out size, speed and fidelity on a subset of
the test split (EEGMAT and Guinea-Bissau separately), then the arithmetic and epilepsy
classification tasks on reconstructions. Compute cost is timed apart: compress + decompress
of one Guinea-Bissau file per mode, interleaved, best of ``REPEATS`` (robust to other load on
the machine). Every command is recorded; results go to benchmarks/results/mc_modes.{json,md}.

    python benchmarks/mc_modes.py                      # about 30 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from heldout import test_files
from published import publish

import eegzip

HERE = Path(__file__).resolve().parent
MODES = {
    "Single-Channel DAC-SC": ("eegdac-sc-256hz", []),
    "Single-Channel DAC-MC": ("eegdac-mc-256hz", ["--groups", "none"]),
    "Random-Groups DAC-MC": ("eegdac-mc-256hz", ["--groups", "random", "--group-seed", "0"]),
    "Manual-Groups DAC-MC": ("eegdac-mc-256hz", ["--groups", "manual"]),
}
TASKS = {"arithmetic": [], "epilepsy": ["--limit", "10"]}
REPEATS = 3


def grouping_keywords(grouping: list[str]) -> dict:
    """The api.compress keywords of a mode's --groups options."""
    options = dict(zip(grouping[::2], grouping[1::2], strict=True))
    keywords: dict = {"groups": options.get("--groups")}
    if "--group-seed" in options:
        keywords["group_seed"] = int(options["--group-seed"])
    return keywords


def compute_cost(path: Path, codebooks: int) -> dict[str, float]:
    """Seconds of compress + decompress per channel-hour for each mode (models preloaded)."""
    codecs = {model: eegzip.load_codec(model) for model, _ in MODES.values()}
    best = dict.fromkeys(MODES, float("inf"))
    channel_hours = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        container, restored = Path(tmp) / "x.eegc", Path(tmp) / "x.edf"
        for _ in range(REPEATS):
            for mode, (model, grouping) in MODES.items():
                started = time.perf_counter()
                result = eegzip.compress(
                    path,
                    container,
                    model=codecs[model],
                    codebooks=codebooks,
                    measure=False,
                    force=True,
                    **grouping_keywords(grouping),
                )
                eegzip.decompress(container, restored, model=codecs[model], force=True)
                best[mode] = min(best[mode], time.perf_counter() - started)
                channel_hours = result.duration_seconds * len(result.codec_channels) / 3600
    return {mode: round(seconds / channel_hours, 2) for mode, seconds in best.items()}


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
    results["compute_file"] = subsets["guinea-bissau"][0].name
    cost = compute_cost(subsets["guinea-bissau"][0], codebooks)
    results["modes"] = {}
    for mode, (model, grouping) in MODES.items():
        options = ["--model", model, *grouping, "--codebooks", str(codebooks)]
        row: dict = {"model": model, "grouping": grouping}
        row["seconds_per_channel_hour"] = cost[mode]
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
    lines += ["", f"### Compute (compress + decompress of {results['compute_file']})", ""]
    lines += ["| mode | seconds per channel-hour | vs DAC-SC |", "|---|---|---|"]
    sc = next(iter(results["modes"].values()))["seconds_per_channel_hour"]
    for mode, row in results["modes"].items():
        cost = row["seconds_per_channel_hour"]
        lines.append(f"| {mode} | {cost:.2f} | {cost / sc:.2f}× |")
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
    publish("mc_modes", results, markdown(results))


if __name__ == "__main__":
    main()
