"""The training loop runs, checkpoints, resumes and exports a loadable model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from eegzip.cli import app
from eegzip.codec.checkpoints import load_weights
from eegzip.codec.dac import DACConfig
from eegzip.train.data import CropSampler, SyntheticRhythms, pink_noise
from eegzip.train.discriminators import Discriminator, discriminator_loss, generator_losses
from eegzip.train.loop import TrainConfig, train
from eegzip.train.losses import LossWeights

TINY = DACConfig(encoder_dim=4, encoder_rates=(2, 4, 8, 8), decoder_dim=32,
                 decoder_rates=(8, 8, 4, 2), n_codebooks=3, codebook_size=64,
                 sample_rate=256, quantizer_dropout=0.5)  # fmt: skip


@pytest.mark.parametrize("gan", [False, True])
def test_train_resume_and_export(shared_data, tmp_path, gan):
    config = TrainConfig(data_dir=shared_data, out_dir=tmp_path, model=TINY, steps=2,
                         batch_size=2, crop_seconds=8.0, eval_every=2, eval_crops=2,
                         train_datasets=("muse",), eval_datasets=("eegmat",), gan=gan)  # fmt: skip
    records: list[dict] = []
    best = train(config, records.append)
    assert best.exists() and (tmp_path / "checkpoint.pt").exists()
    assert records[-1]["heldout"]["eegmat"]["3"]["prd"] > 0
    if gan:
        assert any("adversarial" in r for r in records)
    resumed: list[dict] = []
    train(TrainConfig(**{**config.__dict__, "steps": 3}), resumed.append)
    assert resumed[0]["step"] == 2 and resumed[-1]["step"] == 3
    model, metadata = load_weights(tmp_path / "latest.safetensors")
    assert model.config == TINY and metadata["step"] == "3"
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert logged[-1]["step"] == 3


def test_discriminator_losses_have_gradients():
    disc = Discriminator()
    real, fake = torch.randn(2, 1, 2048), torch.randn(2, 1, 2048, requires_grad=True)
    assert discriminator_loss(disc, real, fake).item() > 0
    adversarial, matching = generator_losses(disc, real, fake)
    (adversarial + matching).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_waveform_recipe_trains_logs_its_terms_and_picks_best_by_prd(shared_data, tmp_path):
    config = TrainConfig(data_dir=shared_data, out_dir=tmp_path, model=TINY, steps=1,
                         batch_size=2, crop_seconds=8.0, eval_every=1, eval_crops=2,
                         train_datasets=("muse",), eval_datasets=("eegmat",),
                         weights=LossWeights.parse("waveform"), best_by="prd")  # fmt: skip
    records: list[dict] = []
    train(config, records.append)
    assert {"waveform_l2", "complex_stft", "band_power"} <= set(records[1])
    heldout = records[-1]["heldout"]["eegmat"]["3"]
    assert heldout["alpha_ratio"] > 0
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["best"] == pytest.approx(heldout["prd"])
    assert json.loads((tmp_path / "config.json").read_text())["weights"]["band_power"] == 1.0


@pytest.mark.parametrize("args", [["--loss", "mel=loud"], ["--loss", "nope"], ["--best-by", "r"]])
def test_train_refuses_bad_loss_options_in_one_line(tmp_path, args):
    result = CliRunner().invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_synthetic_rhythms_replace_a_share_of_crops_with_eeg_band_sines():
    quiet = [np.zeros(10_000, np.float32) for _ in range(3)]
    sampler = CropSampler(quiet, 2048, 0, None, SyntheticRhythms(share=0.5, rate_hz=256.0))
    x = sampler.batch(400)[:, 0]
    synthetic = np.abs(x).max(axis=-1) > 0
    assert 150 < synthetic.sum() < 250
    spectra = np.abs(np.fft.rfft(x[synthetic], axis=-1))
    peaks = np.fft.rfftfreq(2048, 1 / 256)[spectra.argmax(axis=-1)]
    assert peaks.min() >= 0.9 and peaks.max() <= 31.0
    sampler.resume_at(0, 7)
    again = sampler.batch(4)
    sampler.resume_at(0, 7)
    assert np.array_equal(sampler.batch(4), again)


def test_pink_noise_has_unit_rms_and_falls_with_frequency():
    noise = pink_noise(np.random.default_rng(0), 65536)
    power = np.abs(np.fft.rfft(noise)) ** 2
    assert abs(noise.std() - 1) < 1e-6
    assert power[10:100].mean() > 5 * power[1000:10000].mean()
