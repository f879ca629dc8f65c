"""Train a wider DAC-SC on a lent GPU within a hard time budget; export, round trip, throughput.

Only the repository travels to a lent GPU, so the data comes from the pack written by
``benchmarks/pack_training_data.py`` (carried as ``packed/``). In one budget (default 540 s,
data loading included) the script

1. trains a wider model (encoder 32, decoder 256: 7.9 M parameters) from scratch on the pack's
   train split with the waveform-aware loss, TF32, batch 64 of 16-s crops, held-out checks on
   the pack's test files, stopping in time to leave ``--reserve-s`` for the rest;
2. exports the best held-out model (by PRD) to ``$OUT/model.safetensors`` (float16 when float32
   would not fit the 16 MiB a returned file may have) with a card ``$OUT/model.json``;
3. round-trips test recordings built from the pack through ``eegzip compress/decompress
   --device cuda`` with the new model and the shipped one (PRDN, r, alpha-power ratio);
4. measures compress and decompress throughput on the device in channel-hours per second, on a
   19-channel recording tiled from the pack's test channels;
5. sends pure sines (2, 10, 20 Hz at 30 and 150 µV) through the pipeline: power kept and r.

Everything is written to ``--out`` as it is known, so a run cut short still returns its
figures. Run through ``benchmarks/gpu_train.sh`` (it installs carried wheels first).

    python benchmarks/gpu_train.py --out $OUT                       # on the GPU
    python benchmarks/gpu_train.py --out /tmp/rehearsal --tiny      # CPU rehearsal, ~3 min
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from speed import LABELS, RATE, tile_channels
from waveform_check import SINES, decoded_alpha_ratio, sine, write_edf

import eegzip
from eegzip.codec.checkpoints import load_weights, save_safetensors
from eegzip.codec.dac import DACConfig
from eegzip.codec.registry import DEFAULT_MODEL
from eegzip.train.loop import TrainConfig, train
from eegzip.train.losses import LossWeights
from eegzip.train.pack import Pack

RETURN_LIMIT_BYTES = 16 * 2**20 - 2**16
"""A file under $OUT comes back from the device machine only up to 16 MiB."""


@dataclass
class Budget:
    """Seconds left of the script's hard limit."""

    total_s: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.total_s - (time.monotonic() - self.started)


def _say(message: str) -> None:
    print(message, flush=True)


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data, indent=1, default=str))
    partial.replace(path)


def _eegzip(args: list[str], timeout: float) -> dict:
    """Run the eegzip CLI with --json in a fresh process; wall time includes start-up."""
    started = time.monotonic()
    try:
        command = [sys.executable, "-m", "eegzip", *args, "--json", "--force"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "args": args}
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:], "exit_code": done.returncode, "args": args}
    out = json.loads(done.stdout)
    result = out[0] if isinstance(out, list) else out
    return {**result, "process_seconds": round(time.monotonic() - started, 2)}


def test_recordings(pack: Pack, folder: Path) -> dict[str, Path]:
    """The first test file of each dataset in the pack, rebuilt as a 256 Hz EDF."""
    out = {}
    for dataset in sorted({i.dataset for i in pack.select("test")}):
        items = pack.select("test", [dataset])
        first = [i for i in items if i.file == items[0].file]
        labels = [i.label.removeprefix("EEG ").strip() for i in first]
        out[dataset] = write_edf(folder / f"{dataset}.edf", labels, pack.load(first, RATE))
    return out


def round_trip(model: str, edf: Path, device: str, timeout: float) -> dict:
    """compress + decompress --reference on ``device``: sizes, PRDN, r, alpha ratio, times."""
    eegc, back = edf.with_suffix(".eegc"), edf.with_suffix(".decoded.edf")
    packed = _eegzip(["compress", str(edf), "-o", str(eegc), "--model", model,
                      "--device", device, "--no-metrics"], timeout / 2)  # fmt: skip
    if "error" in packed:
        return packed
    unpacked = _eegzip(["decompress", str(eegc), "-o", str(back), "--reference", str(edf),
                        "--model", model, "--device", device], timeout / 2)  # fmt: skip
    if "error" in unpacked:
        return unpacked
    overall = unpacked["fidelity"]["overall"]
    return {
        "bits_per_second_per_channel": packed.get("bits_per_second_per_channel"),
        "prdn": overall["prdn"],
        "r": overall["r"],
        "alpha_ratio": decoded_alpha_ratio(edf, back),
        "compress_seconds": packed["wall_seconds"],
        "decompress_seconds": unpacked["wall_seconds"],
    }


def throughput(model: str, pack: Pack, folder: Path, minutes: float, device: str, timeout: float):
    """Channel-hours per second of compress (--no-metrics) and decompress on ``device``."""
    pool = pack.load(pack.select("test"), RATE)
    rows = tile_channels(pool, len(LABELS), int(minutes * 60 * RATE))
    edf = write_edf(folder / "throughput.edf", LABELS, rows)
    channel_hours = len(LABELS) * minutes / 60
    out: dict = {"channel_hours": round(channel_hours, 3), "device": device}
    steps = {
        "compress": ["compress", str(edf), "-o", str(folder / "t.eegc"), "--no-metrics"],
        "decompress": ["decompress", str(folder / "t.eegc"), "-o", str(folder / "t.edf")],
    }
    for name, args in steps.items():
        result = _eegzip([*args, "--model", model, "--device", device], timeout / 2)
        if "error" in result:
            return {**out, name: result}
        out[name] = {
            "wall_seconds": result["wall_seconds"],
            "process_seconds": result["process_seconds"],
            "channel_hours_per_second": round(channel_hours / result["wall_seconds"], 2),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--pack", type=Path, default=here.parent / "packed")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/eegzip-gpu-train"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget-s", type=float, default=540.0, help="Hard limit, all stages.")
    parser.add_argument(
        "--reserve-s",
        type=float,
        default=150.0,
        help="Left after training for export, round trips and throughput.",
    )
    parser.add_argument("--encoder-dim", type=int, default=32)
    parser.add_argument("--decoder-dim", type=int, default=256)
    parser.add_argument("--init", type=Path, default=None, help="Fine-tune these weights instead.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--crop-seconds", type=float, default=16.0)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-crops", type=int, default=32)
    parser.add_argument("--loss", default="waveform")
    parser.add_argument("--synthetic-share", type=float, default=0.0)
    parser.add_argument("--throughput-minutes", type=float, default=30.0)
    parser.add_argument("--tiny", action="store_true", help="CPU rehearsal: tiny model and batch.")
    args = parser.parse_args()
    if args.tiny:
        args.encoder_dim, args.decoder_dim, args.batch_size, args.crop_seconds = 4, 16, 2, 8.0
        args.eval_every, args.eval_crops, args.warmup_steps = 25, 2, 5
        args.throughput_minutes = min(args.throughput_minutes, 2.0)
    budget = Budget(args.budget_s)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    run = args.work / "run"
    device = args.device
    environment = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else device,
        "cuda_available": torch.cuda.is_available(),
    }
    _say(json.dumps({"event": "environment", **environment}))
    pack = Pack.open(args.pack)

    config = TrainConfig(
        data_dir=args.pack,
        out_dir=run,
        model=DACConfig(
            encoder_dim=args.encoder_dim,
            decoder_dim=args.decoder_dim,
            sample_rate=RATE,
            quantizer_dropout=0.5,
        ),  # as `eegzip train`'s defaults
        init=args.init,
        packed=args.pack,
        steps=10**9,
        max_seconds=max(10.0, budget.left() - args.reserve_s),
        batch_size=args.batch_size,
        crop_seconds=args.crop_seconds,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        eval_crops=args.eval_crops,
        weights=LossWeights.parse(args.loss),
        synthetic_share=args.synthetic_share,
        best_by="prd",
        device=device,
    )
    best = train(config, lambda record: _say(json.dumps(record)))
    model, metadata = load_weights(best)
    params = sum(p.numel() for p in model.parameters())
    exported = args.out / "model.safetensors"
    stored = torch.float32 if params * 4 < RETURN_LIMIT_BYTES else torch.float16
    save_safetensors(model, exported, {"step": metadata.get("step", "")}, dtype=stored)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    (args.out / "train_log.jsonl").write_text((run / "log.jsonl").read_text())
    timed = [r for r in log if "elapsed_s" in r]
    card = {
        "name": "eegdac-sc-256hz-gpu",
        "summary": f"DAC-SC for EEG trained on {environment['device']}: encoder "
        f"{args.encoder_dim}, decoder {args.decoder_dim}, {params / 1e6:.2f} M params, "
        f"{log[-1]['step']} steps, {args.loss} loss",
        "architecture": {**model.config.to_kwargs(), "parameters": params},
        "stored_dtype": str(stored).removeprefix("torch."),
        "exported_from_step": int(metadata.get("step", 0) or 0),
        "data": {"pack": str(args.pack), "pack_command": json.loads(
            (args.pack / "index.json").read_text())["command"], "pack_spec": asdict(pack.spec)},
        "training_commands": [command],
        "losses": asdict(config.weights),
        "environment": environment,
        "training": {
            "config": config.to_json(),
            "steps": log[-1]["step"],
            "train_seconds": timed[-1]["elapsed_s"] if timed else None,
            "heldout_during_training": {r["step"]: r["heldout"] for r in log if "heldout" in r},
        },
    }  # fmt: skip
    _write_json(args.out / "model.json", card)
    _say(json.dumps({"event": "exported", "steps": log[-1]["step"], "left_s": budget.left()}))

    recordings = test_recordings(pack, args.work)
    card["roundtrip"] = {}
    for name, model_ref in [("trained", str(exported)), ("shipped", DEFAULT_MODEL)]:
        for dataset, edf in recordings.items():
            if budget.left() < 30:
                break
            result = round_trip(model_ref, edf, device, min(120.0, budget.left() - 20))
            card["roundtrip"][f"{name}/{dataset}"] = result
            _say(json.dumps({"event": "roundtrip", "model": name, "dataset": dataset, **result}))
            _write_json(args.out / "model.json", card)
    if budget.left() > 30:
        card["throughput"] = throughput(str(exported), pack, args.work, args.throughput_minutes,
                                        device, budget.left() - 15)  # fmt: skip
        _say(json.dumps({"event": "throughput", **card["throughput"]}))
    if budget.left() > 40:  # pure sines through the pipeline, in-process on the device
        codec, card["sines"] = eegzip.load_codec(exported, device), {}
        for frequency, amplitude in SINES:
            if budget.left() < 10:
                break
            result = sine(codec, frequency, amplitude, args.work, 9)
            card["sines"][f"{frequency:g} Hz {amplitude:g} uV"] = result
            _say(json.dumps({"event": "sine", "hz": frequency, "uv": amplitude, **result}))
    card["script_seconds"] = round(args.budget_s - budget.left(), 1)
    _write_json(args.out / "model.json", card)
    _say(json.dumps({"event": "done", "seconds": card["script_seconds"]}))


if __name__ == "__main__":
    main()
