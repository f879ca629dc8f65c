"""Training DAC-MC with the single-channel loop's recipe, over groups of channels.

Same optimiser, warm-up and decay, gradient clipping, dead-code resets, held-out checks and
resumable checkpoints as ``loop.py``. What differs: the model (initialised from a DAC-SC
checkpoint, or resumed from DAC-MC), the data (groups cropped at one time from one recording)
and that the losses see every real channel of every group, as single-channel crops.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch

from eegzip.codec.checkpoints import load_weights
from eegzip.codec.multichannel import MCConfig, MultiChannelDAC
from eegzip.metrics.mel import MultiScaleMelLoss
from eegzip.train.data import split_files
from eegzip.train.loop import (
    CodeUsage,
    TrainConfig,
    _lr_factor,
    crop_fidelity,
    eval_codebooks,
    held_out_score,
)
from eegzip.train.losses import CodecLoss
from eegzip.train.mc_data import GroupBatch, GroupCropSampler, GroupMix
from eegzip.train.run import RunFolder, step_fields

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
    if config.gan or config.audio_dir or config.packed or config.changes.any():
        raise ValueError(
            "--multichannel trains on EEG without --gan, --audio, --packed or model changes"
        )
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
    run = RunFolder(config.out_dir, {"model": model, "optimizer": optimizer}, device)
    if run.step:
        sampler.resume_at(config.seed, run.step)
    settings = {**config.to_json(), "multichannel": {"mix": asdict(mix), **mc.to_kwargs()}}
    settings["multichannel"].pop("electrodes")
    (config.out_dir / "config.json").write_text(json.dumps(settings, indent=2))
    report(
        {
            "event": "start",
            "step": run.step,
            "train_recordings": len(sampler.montages),
            "train_hours": round(sampler.total_samples / rate / 3600, 2),
            "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
        }
    )
    usage = CodeUsage(model, device)
    model.train()
    while run.step < config.steps:
        for group in optimizer.param_groups:
            group["lr"] = config.lr * _lr_factor(run.step, config)
        batch = sampler.batch(config.batch_size)
        x, ids, mask = _tensors(batch, device)
        out = model(x, ids, mask)
        terms = loss_fn(*_per_channel(x, mask, out))
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        run.step += 1
        step = run.step
        record: dict = {"step": step, **usage.update(out, step % config.dead_code_every == 0)}
        if step % 20 == 0 or step == 1:
            record.update(step_fields(terms, grad_norm, optimizer, run.elapsed))
            record["channels"] = batch.n_channels
        if step % config.eval_every == 0 or step == config.steps:
            record["heldout"] = {
                name: evaluate_groups(model, batch, loss_fn.mel)
                for name, batch in eval_sets.items()
            }
            run.save(model, held_out_score(record["heldout"], model.n_codebooks, config.best_by))
        run.log(record, report)
    return run.close()
