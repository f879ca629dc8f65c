"""Model changes for the paper's studies: fewer codebooks, smaller vocabulary, audio data."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from eegzip.codec.checkpoints import load_weights, save_safetensors
from eegzip.codec.dac import DAC, DACConfig
from eegzip.train.adapt import ModelChanges, code_usage, keep_codebooks, prune_vocabulary
from eegzip.train.data import AUDIO_RATE, CropSampler
from eegzip.train.loop import TrainConfig, train

TINY = DACConfig(encoder_dim=4, decoder_dim=32, n_codebooks=4, codebook_size=64,
                 sample_rate=256, quantizer_dropout=0.5)  # fmt: skip


def _model() -> DAC:
    torch.manual_seed(0)
    return DAC(TINY).eval()


def test_keeping_codebooks_equals_pruning_at_inference():
    model, x = _model(), torch.randn(2, 1, 2048) * 0.3
    kept = keep_codebooks(model, 2).eval()
    assert kept.n_codebooks == 2
    assert torch.equal(kept.encode_codes(x), model.encode_codes(x, 2))
    assert torch.allclose(kept.decode_codes(kept.encode_codes(x)),
                          model.decode_codes(model.encode_codes(x, 2)))  # fmt: skip
    with pytest.raises(ValueError):
        keep_codebooks(model, 5)


def test_pruned_vocabulary_keeps_the_most_used_entries():
    model, x = _model(), torch.randn(8, 1, 4096) * 0.3
    usage = code_usage(model, x)
    assert usage.shape == (4, 64) and int(usage[0].sum()) == 8 * 8
    pruned = prune_vocabulary(model, 16, usage).eval()
    assert pruned.codebook_size == 16
    top = torch.argsort(usage[0], descending=True, stable=True)[:16].sort().values
    kept_first = pruned.quantizer.quantizers[0].codebook.weight
    assert torch.equal(kept_first, model.quantizer.quantizers[0].codebook.weight[top])
    assert int(pruned.encode_codes(x).max()) < 16


def test_audio_sampler_balances_folders(tmp_path):
    rng = np.random.default_rng(0)
    for group, seconds in (("speech", 1.0), ("music", 4.0)):
        (tmp_path / group).mkdir()
        samples = 0.5 * np.sin(np.arange(int(seconds * 16000)) / 7) + 0.01 * rng.normal(size=1)
        soundfile.write(tmp_path / group / "a.wav", samples, 16000)
    sampler = CropSampler.from_audio(tmp_path, 2048, seed=0)
    assert sorted(sampler.groups) == ["music", "speech"]
    assert len(sampler.channels[sampler.groups.index("speech")]) == AUDIO_RATE
    crops = sampler.batch(64)
    assert crops.shape == (64, 1, 2048) and np.abs(crops).max() <= 1.0
    assert 0.25 < sampler._weights[sampler.groups.index("speech")] < 0.75


def test_fine_tuning_with_fewer_codebooks_and_entries(shared_data, tmp_path):
    init = tmp_path / "init.safetensors"
    save_safetensors(_model(), init)
    config = TrainConfig(data_dir=shared_data, out_dir=tmp_path / "run", init=init,
                         changes=ModelChanges(n_codebooks=2, codebook_size=32), steps=1,
                         batch_size=2, crop_seconds=8.0, eval_every=1, eval_crops=2,
                         train_datasets=("muse",), eval_datasets=("eegmat",))  # fmt: skip
    train(config, lambda record: None)
    model, _ = load_weights(tmp_path / "run" / "latest.safetensors")
    assert (model.n_codebooks, model.codebook_size) == (2, 32)
