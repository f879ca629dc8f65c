"""The paper's trade-off studies, re-run at eegzip's scale (Figure 4, Figure 5, Table 1).

Every run uses one reduced "study budget" (batch 8, 16-s crops, 1 CPU thread) so that the
rows of a study differ only in what the study varies. Training runs go to runs/studies/NAME
(resumable; logs in log.jsonl); ``report`` evaluates the resulting models through the real
pipeline on a fixed subset of the test split and writes benchmarks/results/studies.{json,md}.

    python benchmarks/audio_corpus.py --out runs/audio           # Table 1's audio
    python benchmarks/studies.py train --chain table1            # hours of CPU, background
    python benchmarks/studies.py train --chain tradeoffs
    python benchmarks/studies.py report

With an official DAC checkpoint, ``--pretrained PATH.pth`` replaces the audio-pretrained
stand-in in Table 1 (its own architecture is then trained from scratch for comparison).
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

import numpy as np
import torch
from heldout import summarise, test_files
from published import publish

import eegzip
from eegzip.codec.checkpoints import load_weights, save_safetensors
from eegzip.codec.registry import MODELS_DIR
from eegzip.train.adapt import code_usage, prune_vocabulary, with_sample_rate
from eegzip.train.data import CropSampler, split_files

HERE = Path(__file__).resolve().parent
SHIPPED = MODELS_DIR / "eegdac-sc-256hz.safetensors"
BUDGET = ["--batch-size", "8", "--crop-seconds", "16", "--eval-every", "250", "--threads", "1"]
FINE_TUNE_STEPS = 1000
PRETRAIN_STEPS = 5000
TABLE1_STEPS = 6000


def run_arguments(runs: Path, audio: Path, pretrained: Path | None) -> dict[str, list[str]]:
    """Each run's `eegzip train` options beyond the data folder and --out."""
    shipped = ["--init", str(SHIPPED), "--steps", str(FINE_TUNE_STEPS)]
    audio_model = pretrained or runs / "table1-audio" / "latest.safetensors"
    scratch = ["--steps", str(TABLE1_STEPS)]
    if pretrained is not None:
        config = load_weights(pretrained)[0].config
        scratch += ["--encoder-dim", str(config.encoder_dim)]
        scratch += ["--decoder-dim", str(config.decoder_dim)]
    return {
        "fig4-trained9": shipped,
        "fig4-trained6": [*shipped, "--n-codebooks", "6"],
        "fig4-trained3": [*shipped, "--n-codebooks", "3"],
        "fig5-vocab512": [*shipped, "--codebook-size", "512"],
        "fig5-rate512": [*shipped, "--sample-rate", "512"],
        **(
            {}
            if pretrained
            else {"table1-audio": ["--audio", str(audio), "--steps", str(PRETRAIN_STEPS)]}
        ),
        "table1-finetuned": [
            *("--init", str(audio_model), "--sample-rate", "256", "--steps", str(TABLE1_STEPS))
        ],
        "table1-scratch": scratch,
    }


CHAINS = {
    "table1": ("table1-audio", "table1-finetuned", "table1-scratch"),
    "tradeoffs": (
        "fig4-trained9",
        "fig4-trained6",
        "fig4-trained3",
        "fig5-vocab512",
        "fig5-rate512",
    ),
}


def train_command(data: Path, runs: Path, name: str, arguments: list[str]) -> list[str]:
    return ["eegzip", "train", str(data), "--out", str(runs / name), *arguments, *BUDGET]


def train(args: argparse.Namespace) -> None:
    arguments = run_arguments(args.runs, args.audio, args.pretrained)
    for name in CHAINS[args.chain]:
        if name not in arguments:
            continue
        command = train_command(args.data, args.runs, name, arguments[name])
        print("$", shlex.join(command), flush=True)
        (args.runs / name).mkdir(parents=True, exist_ok=True)
        with (args.runs / name / "train.log").open("a") as log:
            subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)


def _subset(data: Path) -> dict[str, list[Path]]:
    """Every 3rd EEGMAT and every 6th Guinea-Bissau test file: 12 + 10 recordings."""
    files = test_files(data, gb_stride=6)
    return {"eegmat": files["eegmat"][::3], "guinea-bissau": files["guinea-bissau"]}


def fidelity(model: Path, files: dict[str, list[Path]], codebooks: int) -> dict:
    codec = eegzip.load_codec(model)
    with tempfile.TemporaryDirectory() as tmp:
        return {
            dataset: summarise(
                [
                    eegzip.compress(p, Path(tmp) / "x.eegc", model=codec, codebooks=codebooks,
                                    force=True).to_dict()
                    for p in paths
                ]
            )
            for dataset, paths in files.items()
        }  # fmt: skip


@torch.inference_mode()
def compute_cost(model: Path, repeats: int = 3) -> dict:
    """Parameters and encode+decode seconds per channel-hour of EEG: one thread, best of
    ``repeats`` after a warm-up (the first call pays for allocation)."""
    dac = load_weights(model)[0].prepare_for_inference()
    rate = dac.config.sample_rate
    x = torch.randn(4, 1, 120 * rate) * 0.1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dac.decode_codes(dac.encode_codes(x[:1, :, : 10 * rate]))
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            dac.decode_codes(dac.encode_codes(x))
            times.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    seconds = min(times)
    return {
        "parameters": sum(p.numel() for p in dac.parameters()),
        "model_rate_hz": rate,
        "seconds_per_channel_hour": round(seconds / (4 * 120) * 3600, 1),
    }


def pruned_without_fine_tuning(data: Path, out: Path) -> Path:
    """The shipped model with its 512 most used entries per codebook, as fig5-vocab512 starts."""
    model = load_weights(SHIPPED)[0]
    rate = model.config.sample_rate
    sampler = CropSampler.from_files(split_files(data, "train"), rate, 16 * rate, seed=0)
    usage = code_usage(model, torch.from_numpy(sampler.fixed_set(256, 2)))
    save_safetensors(prune_vocabulary(model, 512, usage), out)
    return out


def at_eeg_rate(pretrained: Path, runs: Path) -> Path:
    """An official checkpoint relabelled to 256 Hz: EEG samples fed as they are, unresampled."""
    out = runs / f"{pretrained.stem}-256hz.safetensors"
    save_safetensors(with_sample_rate(load_weights(pretrained)[0], 256), out)
    return out


def rows(args: argparse.Namespace, runs: Path) -> list[tuple[str, str, Path, int]]:
    """(study, row label, model, codebooks) for every row of the three studies."""
    names = run_arguments(runs, args.audio, args.pretrained)
    final = {name: runs / name / "latest.safetensors" for name in names}
    audio_model = final.get("table1-audio") or at_eeg_rate(args.pretrained, runs)
    out = []
    for n in (9, 6, 3):
        out.append(("figure4", f"pruned at inference to {n} (shipped model)", SHIPPED, n))
        out.append(("figure4", f"pruned at inference to {n} (+{FINE_TUNE_STEPS} steps, 9 trained)",
                    final["fig4-trained9"], n))  # fmt: skip
        if n < 9:
            out.append(("figure4", f"trained with {n} (+{FINE_TUNE_STEPS} steps)",
                        final[f"fig4-trained{n}"], n))  # fmt: skip
    out += [
        ("figure5", "1024 entries, 256 Hz (+1000 steps)", final["fig4-trained9"], 9),
        ("figure5", "512 entries, pruned, no fine-tuning", runs / "vocab512-pruned.safetensors", 9),
        ("figure5", "512 entries, pruned + 1000 steps", final["fig5-vocab512"], 9),
        ("figure5", "1024 entries, 512 Hz (+1000 steps)", final["fig5-rate512"], 9),
        ("table1", "audio-pretrained, unmodified", audio_model, 9),
        ("table1", f"EEG from scratch ({TABLE1_STEPS} steps)", final["table1-scratch"], 9),
        ("table1", f"audio-pretrained + EEG fine-tuning ({TABLE1_STEPS} steps)",
         final["table1-finetuned"], 9),
    ]  # fmt: skip
    return out


def report(args: argparse.Namespace) -> None:
    runs = args.runs
    pruned_without_fine_tuning(args.data, runs / "vocab512-pruned.safetensors")
    files = _subset(args.data)
    results = {
        "command": "python benchmarks/studies.py " + shlex.join(sys.argv[1:]),
        "budget": " ".join(BUDGET),
        "train_commands": {
            name: shlex.join(train_command(args.data, runs, name, a))
            for name, a in run_arguments(runs, args.audio, args.pretrained).items()
        },
        "files": {k: [p.name for p in v] for k, v in files.items()},
        "rows": [],
    }
    for study, label, model, n in rows(args, runs):
        if not model.exists():
            print(f"skip {label}: {model} missing", flush=True)
            continue
        row = {"study": study, "row": label, "model": str(model), "codebooks": n,
               "fidelity": fidelity(model, files, n), "compute": compute_cost(model)}  # fmt: skip
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
    publish("studies", results, markdown(results))


def markdown(results: dict) -> str:
    lines = [f"Command: `{results['command']}`", "", f"Study budget: `{results['budget']}`", ""]
    for study in ("figure4", "figure5", "table1"):
        lines += [
            f"### {study}",
            "",
            "| row | codebooks | bit/s/ch | EEGMAT mel | EEGMAT r | GB mel | GB r | GB PRDN % "
            "| s per ch-hour |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in (r for r in results["rows"] if r["study"] == study):
            e, g = row["fidelity"]["eegmat"], row["fidelity"]["guinea-bissau"]
            bits = np.mean([e["bits_per_second_per_channel"], g["bits_per_second_per_channel"]])
            lines.append(
                f"| {row['row']} | {row['codebooks']} | {bits:.1f} | {e['mel_loss']:.3f} | "
                f"{e['r']:.3f} | {g['mel_loss']:.3f} | {g['r']:.3f} | {g['prdn']:.1f} | "
                f"{row['compute']['seconds_per_channel_hour']} |"
            )
        lines.append("")
    lines += [
        "Seconds per channel-hour: encode + decode of 8 minutes of noise on one thread, best of 3 "
        "after a warm-up, on a machine with no other work running.",
        "",
        "Training commands:",
        "",
        *(f"- {name}: `{command}`" for name, command in results["train_commands"].items()),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("train", "report"))
    parser.add_argument("--chain", choices=sorted(CHAINS), help="Runs to train, in order.")
    parser.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data")
    parser.add_argument("--runs", type=Path, default=Path("runs/studies"))
    parser.add_argument("--audio", type=Path, default=Path("runs/audio"))
    parser.add_argument("--pretrained", type=Path, help="An official DAC .pth for Table 1.")
    args = parser.parse_args()
    if args.action == "train":
        if args.chain is None:
            parser.error("train needs --chain")
        train(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
