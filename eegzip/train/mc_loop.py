"""Training DAC-MC with the single-channel loop's recipe, over groups of channels.

Same optimiser, warm-up and decay, gradient clipping, dead-code resets, held-out checks and
resumable checkpoints as ``loop.py``. What differs: the model (initialised from a DAC-SC
checkpoint, or resumed from DAC-MC), the data (groups cropped at one time from one recording)
and that the losses see every real channel of every group, as single-channel crops.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from eegzip.codec.checkpoints import load_weights, save_safetensors
from eegzip.codec.multichannel import MCConfig, MultiChannelDAC
from eegzip.metrics.mel import MultiScaleMelLoss
from eegzip.train.data import split_files
from eegzip.train.loop import (
    TrainConfig,
    _checkpoint_path,
    _lr_factor,
    _perplexity,
    _reset_dead_codes,
    crop_fidelity,
    eval_codebooks,
)
from eegzip.train.losses import CodecLoss
from eegzip.train.mc_data import GroupBatch, GroupCropSampler, GroupMix

EVAL_MIX = GroupMix(manual=1.0, random=0.0, single=0.0)
"""Held-out checks code scalp regions, the grouping compression uses by default."""


def initial_model(config: TrainConfig, mc: MCConfig) -> MultiChannelDAC:
    """DAC-MC weights from --init as they are, DAC-SC weights as its backbone, else fresh."""
    if config.init is None:
        return MultiChannelDAC(replace(mc, dac=config.model))
    model, _ = load_weights(config.init)
    if isinstance(model, MultiChannelDAC):
        return model
    return MultiChannelDAC.from_single_channel(model, mc)


def _tensors(batch: GroupBatch, device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(a).to(device) for a in (batch.x, batch.ids, batch.mask))


def _per_channel(x: torch.Tensor, mask: torch.Tensor, out: dict) -> tuple[torch.Tensor, dict]:
    """Crops and outputs as (N, 1, T) single channels, the shape the codec loss takes."""
    return x[mask][:, None], {**out, "audio": out["audio"][mask][:, None]}


@torch.no_grad()
def evaluate_groups(
    model: MultiChannelDAC, batch: tuple[torch.Tensor, ...], mel: MultiScaleMelLoss
) -> dict[str, dict]:
    """Held-out fidelity of every channel of the groups at 3, 6 and 9 codebooks."""
    x, ids, mask = batch
    model.eval()
    results = {}
    for n in eval_codebooks(model.n_codebooks):
        y = model.decode_codes(model.encode_codes(x, ids, mask, n), ids, mask)
        results[str(n)] = crop_fidelity(y[mask][:, None], x[mask][:, None], mel)
    model.train()
    return results


def train_multichannel(
    config: TrainConfig,
    mix: GroupMix | None = None,
    mc: MCConfig | None = None,
    report: Callable[[dict], None] = print,
) -> Path:
    """Train (or resume) DAC-MC and return the path of the best exported model."""
    mix, mc = mix or GroupMix(), mc or MCConfig()
    if config.gan or config.audio_dir is not None or config.changes.any():
        raise ValueError("--multichannel trains on EEG without --gan, --audio or model changes")
    torch.manual_seed(config.seed)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    model = initial_model(config, mc).to(device)
    rate, hop = model.config.sample_rate, model.hop_length
    crop = int(round(config.crop_seconds * rate / hop)) * hop
    vocabulary = model.config.electrodes
    train_files = split_files(config.data_dir, "train", config.train_datasets)
    sampler = GroupCropSampler.from_files(train_files, rate, crop, vocabulary, mix, config.seed)
    test_files = split_files(config.data_dir, "test", config.eval_datasets)
    eval_sets = {
        dataset: _tensors(
            GroupCropSampler.from_files(
                [p for p in test_files if p.parent.name == dataset], rate, crop * 2, vocabulary,
                EVAL_MIX, seed=1,
            ).fixed_set(config.eval_crops, 1),
            device,
        )
        for dataset in sorted({p.parent.name for p in test_files})
    }  # fmt: skip
    loss_fn = CodecLoss(rate, config.weights).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.8, 0.99))
    step, best, elapsed_before = 0, math.inf, 0.0
    checkpoint = _checkpoint_path(config.out_dir)
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best = int(state["step"]), float(state.get("best", math.inf))
        elapsed_before = float(state.get("elapsed_s", 0.0))
        sampler._rng = np.random.default_rng([config.seed, step])
    settings = {**config.to_json(), "multichannel": {"mix": asdict(mix), **mc.to_kwargs()}}
    settings["multichannel"].pop("electrodes")
    (config.out_dir / "config.json").write_text(json.dumps(settings, indent=2))
    log = (config.out_dir / "log.jsonl").open("a")
    report(
        {
            "event": "start",
            "step": step,
            "train_recordings": len(sampler.montages),
            "train_hours": round(sampler.total_samples / rate / 3600, 2),
            "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
        }
    )
    usage = torch.zeros(model.n_codebooks, model.codebook_size, dtype=torch.long, device=device)
    model.train()
    started = time.time()
    while step < config.steps:
        for group in optimizer.param_groups:
            group["lr"] = config.lr * _lr_factor(step, config)
        batch = sampler.batch(config.batch_size)
        x, ids, mask = _tensors(batch, device)
        out = model(x, ids, mask)
        terms = loss_fn(*_per_channel(x, mask, out))
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        record: dict = {"step": step}
        for i in range(out["codes"].shape[1]):
            usage[i] += torch.bincount(out["codes"][:, i].flatten(), minlength=model.codebook_size)
        if step % config.dead_code_every == 0:
            record["perplexity"] = _perplexity(usage)
            record["dead_codes_reset"] = _reset_dead_codes(model, usage, out["latents"].detach())
            usage.zero_()
        if step % 20 == 0 or step == 1:
            record.update({k: round(float(v.detach()), 4) for k, v in terms.items()})
            record["grad_norm"] = round(float(grad_norm), 3)
            record["lr"] = optimizer.param_groups[0]["lr"]
            record["channels"] = batch.n_channels
            record["elapsed_s"] = round(elapsed_before + time.time() - started, 1)
        if step % config.eval_every == 0 or step == config.steps:
            record["heldout"] = {
                name: evaluate_groups(model, batch, loss_fn.mel)
                for name, batch in eval_sets.items()
            }
            top = str(eval_codebooks(model.n_codebooks)[-1])
            score = float(np.mean([r[top]["mel"] for r in record["heldout"].values()]))
            best = min(best, score)
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": step,
                    "elapsed_s": elapsed_before + time.time() - started,
                    "best": best,
                },
                checkpoint.with_suffix(".tmp"),
            )
            checkpoint.with_suffix(".tmp").replace(checkpoint)
            save_safetensors(model, config.out_dir / "latest.safetensors", {"step": str(step)})
            if score == best:
                save_safetensors(model, config.out_dir / "best.safetensors", {"step": str(step)})
        if len(record) > 1:
            log.write(json.dumps(record) + "\n")
            log.flush()
            report(record)
    log.close()
    return config.out_dir / "best.safetensors"
