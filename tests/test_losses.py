"""Each training loss term falls as the output approaches the target and is zero at equality."""

from __future__ import annotations

import math

import pytest
import torch

from eegzip.codec.dac import DAC, DACConfig
from eegzip.train.losses import (
    LOSS_RECIPES,
    BandPowerLoss,
    CodecLoss,
    ComplexSTFTLoss,
    LossWeights,
    relative_l1,
    relative_l2,
)

RATE = 256
TINY = DACConfig(encoder_dim=4, encoder_rates=(2, 4, 8, 8), decoder_dim=16,
                 decoder_rates=(8, 8, 4, 2), n_codebooks=2, codebook_size=32,
                 sample_rate=RATE, quantizer_dropout=0.0)  # fmt: skip

TERMS = {
    "waveform": relative_l1,
    "waveform_l2": relative_l2,
    "complex_stft": ComplexSTFTLoss(RATE),
    "band_power": BandPowerLoss(RATE),
}


def _rhythm(batch: int = 3, seconds: float = 8.0, seed: int = 0) -> torch.Tensor:
    """(batch, 1, T) alpha-like sines of random phase over slow drift and noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * RATE)) / RATE
    phase = 2 * math.pi * torch.rand(batch, 1, generator=g)
    alpha = 0.05 * torch.sin(2 * math.pi * 10.0 * t + phase)
    drift = 0.2 * torch.sin(2 * math.pi * 0.7 * t + 2 * phase)
    return (alpha + drift + 0.01 * torch.randn(batch, t.numel(), generator=g))[:, None]


@pytest.mark.parametrize("name", TERMS)
def test_term_falls_towards_target_and_is_zero_at_equality(name):
    loss = TERMS[name]
    x = _rhythm()
    far = _rhythm(seed=1) * 0.3  # another rhythm's phase, quieter: wrong waveform and power
    values = [float(loss(x + a * (far - x), x)) for a in (1.0, 0.5, 0.2, 0.05)]
    assert all(b < a for a, b in zip(values[:-1], values[1:], strict=True)), values
    assert float(loss(x.clone(), x)) == 0.0


def test_band_power_counts_a_missing_alpha_rhythm():
    x = _rhythm(batch=2)
    t = torch.arange(x.shape[-1]) / RATE
    without_alpha = x - 0.05 * torch.sin(2 * math.pi * 10 * t)  # wrong phase: alpha not removed
    assert float(TERMS["band_power"](without_alpha, x)) > 0.1


@pytest.mark.parametrize("name", TERMS)
def test_small_gradient_steps_of_a_tiny_model_lower_each_term(name):
    """Each term's gradient reaches the decoder's weights with the right sign (the encoder
    is held still so that the codes, and hence the loss surface, stay put)."""
    torch.manual_seed(0)
    model = DAC(TINY)
    x = _rhythm(batch=2, seconds=4.0)
    off = {k: 0.0 for k in ("mel", "waveform", "commitment", "codebook")}
    loss_fn = CodecLoss(RATE, LossWeights(**{**off, name: 1.0}))
    values = []
    for _ in range(4):
        terms = loss_fn(x, model(x))
        values.append(float(terms[name].detach()))
        model.zero_grad()
        terms["total"].backward()
        weights = list(model.decoder.parameters())
        norm = torch.sqrt(sum((p.grad**2).sum() for p in weights))
        with torch.no_grad():
            for p in weights:
                p -= 1e-3 * p.grad / norm
    assert all(b < a for a, b in zip(values[:-1], values[1:], strict=True)), values


def test_total_is_the_configured_weighted_sum_and_zero_weights_skip_terms():
    x = _rhythm(batch=2, seconds=8.0)
    out = DAC(TINY)(x)
    weights = LossWeights(mel=0.5, waveform=2.0, waveform_l2=3.0, complex_stft=0.0, band_power=4.0)
    terms = CodecLoss(RATE, weights)(x, out)
    assert "complex_stft" not in terms and "stft" not in terms
    expected = sum(getattr(weights, k) * v for k, v in terms.items() if k != "total")
    assert torch.allclose(terms["total"], expected)


def test_weights_parse_recipes_and_overrides():
    assert LossWeights.parse("dac") == LOSS_RECIPES["dac"]
    assert LossWeights.parse("dac").mel == 15.0 and LossWeights.parse("dac").waveform == 0.0
    mixed = LossWeights.parse("waveform, mel=2,band_power=0")
    assert mixed.mel == 2.0 and mixed.band_power == 0.0 and mixed.waveform_l2 == 10.0
    assert LossWeights.parse("complex_stft=1") == LossWeights(complex_stft=1.0)
    for bad, message in [("nope", "recipe"), ("mel=x", "name=number"), ("phase=1", "term")]:
        with pytest.raises(ValueError, match=message):
            LossWeights.parse(bad)
