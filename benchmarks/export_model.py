"""Ship a trained run as a model: eegzip/models/NAME.safetensors and its card NAME.json.

The card records the architecture, the run's own configuration, steps and held-out log
(``heldout.training_facts``), the commands given, and the figures of a waveform check of this
model file (``benchmarks/waveform_check.py`` results), so that nothing in it is typed by hand.

    python benchmarks/export_model.py runs/wf-cpu --name eegdac-sc-256hz-wf \\
        --check benchmarks/results/waveform_check.json --command "eegzip train ..."
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from heldout import training_facts

from eegzip.codec.checkpoints import load_weights, sha256_of
from eegzip.codec.registry import MODELS_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="Training run folder.")
    parser.add_argument("--name", required=True)
    parser.add_argument("--weights", type=Path, help="Default: the run's best.safetensors.")
    parser.add_argument("--summary", required=True)
    parser.add_argument("--command", action="append", default=[], help="Training commands.")
    parser.add_argument("--check", type=Path, help="waveform_check JSON naming this run's file.")
    parser.add_argument("--limitations", default="")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    source = args.weights or args.run / "best.safetensors"
    target = MODELS_DIR / f"{args.name}.safetensors"
    if target.exists() and not args.force:
        sys.exit(f"{target} exists (use --force)")
    model, metadata = load_weights(source)
    digest = sha256_of(source)
    card: dict = {
        "name": args.name,
        "summary": args.summary,
        "architecture": {
            "family": "Descript Audio Codec generator (single-channel, DAC-SC)",
            **model.config.to_kwargs(),
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "exported_from_step": int(metadata.get("step", 0)),
        "training_commands": args.command,
        "limitations": args.limitations,
        "licence": "MIT (weights trained by the eegzip project)",
        "training": [training_facts(args.run)],
    }
    if args.check:
        check = json.loads(args.check.read_text())
        mine = [v for v in check["models"].values() if v["sha256"] == digest]
        if not mine:
            sys.exit(f"{args.check} has no results for {source} (sha256 {digest[:16]}…)")
        card["checks"] = {"command": check["command"], "files": check["files"], **mine[0]}
    shutil.copyfile(source, target)
    target.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB) and its card")


if __name__ == "__main__":
    main()
