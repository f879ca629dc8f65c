"""eegzip's native codec against descript-audio-codec 1.0.0's own modules.

The upstream package is installed with --no-deps (its audiotools dependency needs a CUDA-only
torchaudio here), so its audiotools/argbind imports are stubbed and only its model modules run.
An upstream model is saved the way official checkpoints are, then loaded into eegzip.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from eegzip.codec.checkpoints import load_weights
from eegzip.errors import ModelError

UPSTREAM_MODULES = ("dac.nn.layers", "dac.nn.quantize", "dac.model.base", "dac.model.dac")


def _stub(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


@pytest.fixture(scope="module")
def upstream():
    """descript-audio-codec's DAC class, imported without running its package __init__."""
    spec = importlib.util.find_spec("dac")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CI") == "true":
            pytest.fail("descript-audio-codec==1.0.0 is not installed (pip install --no-deps)")
        pytest.skip("descript-audio-codec not installed")
    root = Path(next(iter(spec.submodule_search_locations)))

    class BaseModel(nn.Module):
        INTERN: list = []
        EXTERN: list = []

    ml = _stub("audiotools.ml", BaseModel=BaseModel)
    stubs = {
        "audiotools": _stub("audiotools", AudioSignal=object, STFTParams=object, ml=ml),
        "audiotools.ml": ml,
        "tqdm": _stub("tqdm", tqdm=lambda x, **_: x),
        "dac": _stub("dac", __path__=[str(root)]),
        "dac.nn": _stub("dac.nn", __path__=[str(root / "nn")]),
        "dac.model": _stub("dac.model", __path__=[str(root / "model")]),
    }
    saved = {name: sys.modules.get(name) for name in [*stubs, *UPSTREAM_MODULES]}
    sys.modules.update(stubs)
    try:
        for name in UPSTREAM_MODULES:
            path = root / (name.removeprefix("dac.").replace(".", "/") + ".py")
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        yield sys.modules["dac.model.dac"].DAC
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


CONFIGS = {
    "eeg-small": dict(
        encoder_dim=8,
        encoder_rates=[2, 4, 8, 8],
        decoder_dim=128,
        decoder_rates=[8, 8, 4, 2],
        n_codebooks=9,
        codebook_size=1024,
        codebook_dim=8,
        quantizer_dropout=0.5,
        sample_rate=256,
    ),
    "other-rates": dict(
        encoder_dim=16,
        encoder_rates=[2, 4, 5],
        decoder_dim=64,
        decoder_rates=[5, 4, 2],
        n_codebooks=4,
        codebook_size=512,
        codebook_dim=4,
        sample_rate=16000,
    ),
}


def _save_official(model: nn.Module, kwargs: dict, path: Path) -> None:
    torch.save({"state_dict": model.state_dict(), "metadata": {"kwargs": kwargs}}, path)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_codes_and_audio_match_upstream(upstream, tmp_path, name):
    kwargs = CONFIGS[name]
    torch.manual_seed(0)
    reference = upstream(**kwargs).eval()
    # Random weights give near-tied code distances; perturb so the test means something.
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "weights.pth"
    _save_official(reference, kwargs, path)
    model, _ = load_weights(path)
    model.eval()
    hop = model.hop_length
    audio = 0.3 * torch.randn(3, 1, hop * 24)
    with torch.no_grad():
        z_ref, codes_ref, *_ = reference.encode(audio)
        out_ref = reference.decode(z_ref)
        z, codes, *_ = model.encode(audio)
        assert torch.equal(codes, codes_ref)
        assert torch.allclose(model.decode(z), out_ref, atol=1e-5, rtol=0)
        model.prepare_for_inference()
        assert torch.equal(model.encode_codes(audio), codes_ref)
        assert torch.allclose(model.decode_codes(codes_ref), out_ref, atol=1e-5, rtol=0)
        pruned = reference.decode(reference.quantizer.from_codes(codes_ref[:, :3])[0])
        assert torch.allclose(model.decode_codes(codes_ref[:, :3]), pruned, atol=1e-5, rtol=0)


def test_strict_key_check(upstream, tmp_path):
    kwargs = CONFIGS["eeg-small"]
    state = upstream(**kwargs).state_dict()
    state.pop("decoder.model.0.weight_g")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save({"state_dict": state, "metadata": {"kwargs": kwargs}}, path)
    with pytest.raises(ModelError, match="1 missing .*1 unexpected"):
        load_weights(path)


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "metadata": {"kwargs": {}}, "x": _Payload()}, path)
    with pytest.raises(ModelError, match="not a loadable DAC checkpoint"):
        load_weights(path)
