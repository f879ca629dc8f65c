"""The training loop: resumable, with held-out checks and codebook health.

Defaults come from the notes measured on a 2-core CPU: lr 3e-4 with warm-up (1e-3 diverged),
gradient clipping, dead-code re-initialisation, and a held-out check every few hundred steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from eegzip.codec.checkpoints import Model, load_weights
from eegzip.codec.dac import DAC, DACConfig
from eegzip.metrics.fidelity import BANDS
from eegzip.metrics.mel import MultiScaleMelLoss
from eegzip.train.adapt import (
    ModelChanges,
    code_usage,
    keep_codebooks,
    prune_vocabulary,
    with_sample_rate,
)
from eegzip.train.data import AUDIO_RATE, CropSampler, SyntheticRhythms, split_files
from eegzip.train.discriminators import Discriminator, discriminator_loss, generator_losses
from eegzip.train.losses import CodecLoss, LossWeights
from eegzip.train.pack import Pack
from eegzip.train.run import RunFolder, step_fields

EVAL_CODEBOOKS = (3, 6, 9)


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    out_dir: Path
    model: DACConfig = field(default_factory=DACConfig)
    init: Path | None = None
    changes: ModelChanges = field(default_factory=ModelChanges)
    audio_dir: Path | None = None
    packed: Path | None = None
    """A training pack (``benchmarks/pack_training_data.py``) read instead of data_dir's EDFs,
    train and held-out crops alike: what a lent GPU gets, since only the repository travels."""
    synthetic_share: float = 0.0
    """Share of training crops replaced by synthetic rhythms (``data.SyntheticRhythms``)."""
    steps: int = 10_000
    max_seconds: float | None = None
    """Stop after this much wall time in this session, data loading included (held-out check,
    checkpoint and export first)."""
    batch_size: int = 16
    crop_seconds: float = 16.0
    lr: float = 3e-4
    warmup_steps: int = 300
    lr_decay: float = 0.999996
    grad_clip: float = 1.0
    eval_every: int = 250
    eval_crops: int = 32
    dead_code_every: int = 100
    seed: int = 0
    train_datasets: tuple[str, ...] = ()
    eval_datasets: tuple[str, ...] = ("eegmat", "guinea-bissau")
    weights: LossWeights = field(default_factory=LossWeights)
    best_by: str = "mel"
    gan: bool = False
    device: str = "cpu"

    def to_json(self) -> dict:
        out = asdict(self)
        out["model"] = self.model.to_kwargs()
        return json.loads(json.dumps(out, default=str))


def _lr_factor(step: int, config: TrainConfig) -> float:
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    return warm * config.lr_decay**step


@torch.no_grad()
def _reset_dead_codes(model: Model, usage: torch.Tensor, latents: torch.Tensor) -> int:
    """Move never-used codes onto random recent encoder outputs; returns how many moved."""
    moved = 0
    dim_start = 0
    for i, vq in enumerate(model.quantizer.quantizers):
        dim = vq.codebook_dim
        z = latents[:, dim_start : dim_start + dim].transpose(1, 2).reshape(-1, dim)
        dim_start += dim
        dead = torch.nonzero(usage[i] == 0).flatten()
        if len(dead) == 0 or len(z) == 0:
            continue
        picks = torch.randint(0, len(z), (len(dead),), device=z.device)
        vq.codebook.weight[dead] = z[picks] + 1e-3 * torch.randn_like(z[picks])
        moved += len(dead)
    return moved


def _perplexity(usage: torch.Tensor) -> list[float]:
    p = usage.float() / usage.sum(dim=1, keepdim=True).clamp(min=1)
    entropy = -(p * torch.log(p.clamp(min=1e-12))).sum(dim=1)
    return [round(float(v), 1) for v in torch.exp(entropy)]


class CodeUsage:
    """Counts each codebook's entries between dead-code resets (DAC-SC and DAC-MC alike)."""

    def __init__(self, model: Model, device: torch.device):
        self.model = model
        self.counts = torch.zeros(
            model.n_codebooks, model.codebook_size, dtype=torch.long, device=device
        )

    def update(self, out: dict, reset: bool) -> dict:
        """Count this step's codes; on ``reset``, move dead codes and report perplexity."""
        codes = out["codes"]
        for i in range(codes.shape[1]):
            self.counts[i] += torch.bincount(codes[:, i].flatten(), minlength=len(self.counts[i]))
        if not reset:
            return {}
        record = {
            "perplexity": _perplexity(self.counts),
            "dead_codes_reset": _reset_dead_codes(self.model, self.counts, out["latents"].detach()),
        }
        self.counts.zero_()
        return record


BEST_BY = ("mel", "prd")
"""Held-out measures a run can call "best" by (lower is better): DAC's mel loss, or PRD, the
waveform error that the waveform-aware losses aim at."""


def held_out_score(heldout: dict[str, dict], n_codebooks: int, metric: str = "mel") -> float:
    """Mean held-out ``metric`` at the most codebooks checked: what "best" means."""
    top = str(eval_codebooks(n_codebooks)[-1])
    return float(np.mean([r[top][metric] for r in heldout.values()]))


def eval_codebooks(n_codebooks: int) -> list[int]:
    """Codebook counts of the held-out checks: 3, 6 and 9 (or the model's all)."""
    return sorted({n for n in EVAL_CODEBOOKS if n <= n_codebooks} | {min(9, n_codebooks)})


def alpha_ratio(y: torch.Tensor, crops: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Per crop, reconstructed / original 8-13 Hz power: the rhythm a clinician reads first."""
    spectra = [torch.fft.rfft(s.reshape(len(s), -1).double()).abs() ** 2 for s in (y, crops)]
    freqs = torch.fft.rfftfreq(crops.shape[-1], 1.0 / sample_rate)
    band = (freqs >= BANDS["alpha"][0]) & (freqs < BANDS["alpha"][1])
    kept, original = (s[:, band.to(s.device)].sum(-1) for s in spectra)
    return kept / original.clamp(min=1e-30)


def crop_fidelity(y: torch.Tensor, crops: torch.Tensor, mel: MultiScaleMelLoss) -> dict:
    """Mel loss, PRD, SNR, r and median alpha-power ratio of reconstructions ``y`` of ``crops``
    (N, 1, T)."""
    err = ((y - crops) ** 2).sum()
    centred = crops - crops.mean(dim=-1, keepdim=True)
    yc = y - y.mean(dim=-1, keepdim=True)
    r = (centred * yc).sum(-1) / (centred.norm(dim=-1) * yc.norm(dim=-1)).clamp(min=1e-12)
    return {
        "mel": round(float(mel(y, crops)), 4),
        "prd": round(float(100 * torch.sqrt(err / (crops**2).sum())), 2),
        "snr_db": round(float(10 * torch.log10((centred**2).sum() / err)), 2),
        "r": round(float(r.mean()), 4),
        "alpha_ratio": round(float(alpha_ratio(y, crops, mel.sample_rate).median()), 4),
    }


@torch.no_grad()
def evaluate(model: DAC, crops: torch.Tensor, mel: MultiScaleMelLoss) -> dict[str, dict]:
    """Held-out fidelity in the codec domain at 3, 6 and 9 codebooks (or the model's all)."""
    model.eval()
    results = {
        str(n): crop_fidelity(model.decode_codes(model.encode_codes(crops, n)), crops, mel)
        for n in eval_codebooks(model.n_codebooks)
    }
    model.train()
    return results


def _discriminator_step(
    disc: Discriminator, optimizer: torch.optim.Optimizer, real, fake, config: TrainConfig
) -> torch.Tensor:
    loss = discriminator_loss(disc, real, fake)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(disc.parameters(), config.grad_clip)
    optimizer.step()
    return loss.detach()


def _initial_model(config: TrainConfig) -> DAC:
    """The configured model, or the init weights with the requested changes but vocabulary."""
    if config.init is None:
        return DAC(config.model)
    model, _ = load_weights(config.init)
    changes = config.changes
    if changes.n_codebooks is not None:
        model = keep_codebooks(model, changes.n_codebooks)
    if changes.sample_rate is not None:
        model = with_sample_rate(model, changes.sample_rate)
    return model


def _training_sampler(config: TrainConfig, rate: int, crop: int) -> CropSampler:
    if config.audio_dir is not None:
        return CropSampler.from_audio(config.audio_dir, crop, seed=config.seed)
    if config.packed is not None:
        channels, groups = Pack.open(config.packed).channels("train", config.train_datasets, rate)
        sampler = CropSampler(channels, crop, config.seed, groups)
    else:
        paths = split_files(config.data_dir, "train", config.train_datasets)
        sampler = CropSampler.from_files(paths, rate, crop, seed=config.seed)
    if config.synthetic_share:
        sampler.synthetic = SyntheticRhythms(config.synthetic_share, rate)
    return sampler


def _eval_samplers(config: TrainConfig, rate: int, crop: int) -> dict[str, CropSampler]:
    """One sampler of test-split crops per evaluated dataset, from the pack or the EDFs."""
    if config.packed is not None:
        pack = Pack.open(config.packed)
        datasets = sorted({i.dataset for i in pack.select("test", config.eval_datasets)})
        if not datasets:
            raise ValueError(f"{config.packed}: no test-split channels of the evaluated datasets")
        return {d: CropSampler(pack.channels("test", [d], rate)[0], crop, 1) for d in datasets}
    test_files = split_files(config.data_dir, "test", config.eval_datasets)
    if not test_files:
        raise ValueError(f"no test-split files of {', '.join(config.eval_datasets)}")
    return {
        dataset: CropSampler.from_files([p for p in test_files if p.parent.name == dataset], rate,
                                        crop, seed=1)
        for dataset in sorted({p.parent.name for p in test_files})
    }  # fmt: skip


def train(config: TrainConfig, report: Callable[[dict], None] = print) -> Path:
    """Train (or resume) and return the path of the exported safetensors model."""
    started = time.monotonic()  # max_seconds counts data loading too: a lease's budget does
    torch.manual_seed(config.seed)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    model = _initial_model(config)
    rate = model.config.sample_rate
    crop = int(round(config.crop_seconds * rate / model.hop_length)) * model.hop_length
    sampler = _training_sampler(config, rate, crop)
    source_rate = AUDIO_RATE if config.audio_dir is not None else rate
    if config.init is not None and config.changes.codebook_size is not None:
        usage = code_usage(model, torch.from_numpy(sampler.fixed_set(256, config.seed + 2)))
        model = prune_vocabulary(model, config.changes.codebook_size, usage)
    model = model.to(device)
    eval_sets = {
        dataset: torch.from_numpy(crops.fixed_set(config.eval_crops, 1)).to(device)
        for dataset, crops in _eval_samplers(config, rate, crop * 2).items()
    }
    if device.type == "cuda":  # TF32 matrix products: ~1e-3 relative error, several times faster
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # training shapes are fixed: pick the fastest convs
    loss_fn = CodecLoss(rate, config.weights).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.8, 0.99))
    disc = Discriminator().to(device) if config.gan else None
    optimizer_d = (
        torch.optim.AdamW(disc.parameters(), lr=config.lr, betas=(0.8, 0.99)) if disc else None
    )
    run = RunFolder(
        config.out_dir,
        {"model": model, "optimizer": optimizer, "discriminator": disc, "optimizer_d": optimizer_d},
        device,
    )
    if run.step:
        sampler.resume_at(config.seed, run.step)
    (config.out_dir / "config.json").write_text(json.dumps(config.to_json(), indent=2))
    report(
        {
            "event": "start",
            "step": run.step,
            "train_items": len(sampler.channels),
            "train_hours": round(sampler.total_samples / source_rate / 3600, 2),
            "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
        }
    )
    usage = CodeUsage(model, device)
    model.train()
    while run.step < config.steps:
        for opt in (optimizer, optimizer_d) if optimizer_d else (optimizer,):
            for group in opt.param_groups:
                group["lr"] = config.lr * _lr_factor(run.step, config)
        x = torch.from_numpy(sampler.batch(config.batch_size)).to(device)
        out = model(x)
        terms = loss_fn(x, out)
        if disc is not None:
            terms["discriminator"] = _discriminator_step(disc, optimizer_d, x, out["audio"], config)
            adversarial, matching = generator_losses(disc, x, out["audio"])
            terms["adversarial"], terms["feature_matching"] = adversarial, matching
            w = config.weights
            terms["total"] = terms["total"] + w.adversarial * adversarial
            terms["total"] = terms["total"] + w.feature_matching * matching
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        run.step += 1
        step = run.step
        record: dict = {"step": step, **usage.update(out, step % config.dead_code_every == 0)}
        if step % 20 == 0 or step == 1:
            record.update(step_fields(terms, grad_norm, optimizer, run.elapsed))
        out_of_time = config.max_seconds is not None and (
            time.monotonic() - started >= config.max_seconds
        )
        if step % config.eval_every == 0 or step == config.steps or out_of_time:
            record["heldout"] = {
                dataset: evaluate(model, crops, loss_fn.mel) for dataset, crops in eval_sets.items()
            }
            run.save(model, held_out_score(record["heldout"], model.n_codebooks, config.best_by))
        run.log(record, report)
        if out_of_time:
            break
    return run.close()
