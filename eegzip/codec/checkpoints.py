"""Loading and saving codec weights: official DAC ``.pth`` files and eegzip safetensors.

Official checkpoints are ``{"state_dict": ..., "metadata": {"kwargs": {...}}}`` written with
``torch.save``. They are read with ``weights_only=True``: no pickle code ever runs. eegzip's
own models are safetensors with the model's kwargs as JSON in the header metadata, and a
``format`` key saying which model: DAC-SC (``eegzip-dac-1``) or DAC-MC (``eegzip-dacmc-1``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from eegzip.atomic import AtomicOutput
from eegzip.codec.dac import DAC, DACConfig
from eegzip.codec.multichannel import MCConfig, MultiChannelDAC
from eegzip.errors import InputNotFoundError, ModelError

SAFETENSORS_FORMAT = "eegzip-dac-1"
"""Value of the ``format`` metadata key of eegzip single-channel (DAC-SC) models."""

MC_SAFETENSORS_FORMAT = "eegzip-dacmc-1"
"""Value of the ``format`` metadata key of eegzip multi-channel (DAC-MC) models."""

Model = DAC | MultiChannelDAC

_BUILDERS = {
    SAFETENSORS_FORMAT: lambda kwargs: DAC(DACConfig.from_kwargs(kwargs)),
    MC_SAFETENSORS_FORMAT: lambda kwargs: MultiChannelDAC(MCConfig.from_kwargs(kwargs)),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


MAX_PARAMETERS = 1 << 28
"""Largest model built: 268 M parameters, 1 GiB of float32 (the official 44 kHz DAC has 74 M)."""

_MAX_CONFIG_INT = 1 << 20  # any integer of a configuration (dims, rates, sizes)
_MAX_CONFIG_LIST = 1024  # entries of a list (rates, electrode names)
_MAX_CODEBOOKS = 64  # one module each: bounds the work of even sizing a model


def build_model(kwargs: dict, source: str, model_format: str = SAFETENSORS_FORMAT) -> Model:
    """The model a configuration describes, sized first without allocating anything.

    Why: a weights file is input like any other; a 200-byte file whose configuration asks for
    a huge model must be refused, not make eegzip try to allocate tens of GB.
    """
    try:
        _check_config(kwargs)
        with torch.device("meta"):  # shapes only
            size = sum(p.numel() for p in _BUILDERS[model_format](kwargs).parameters())
        if size > MAX_PARAMETERS:
            raise ValueError(f"{size:,} parameters, above the {MAX_PARAMETERS:,} eegzip builds")
        return _BUILDERS[model_format](kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{source}: bad model configuration: {exc}") from exc


def _check_config(value, key: str = "configuration") -> None:
    """Every integer and list of a configuration within bounds (ValueError naming the key)."""
    if isinstance(value, dict):
        if not isinstance(value.get("n_codebooks", 0), int) or not (
            0 <= value.get("n_codebooks", 0) <= _MAX_CODEBOOKS
        ):
            raise ValueError(f"n_codebooks must be 1..{_MAX_CODEBOOKS}")
        for k, v in value.items():
            _check_config(v, str(k))
    elif isinstance(value, list | tuple):
        if len(value) > _MAX_CONFIG_LIST:
            raise ValueError(f"{key} has {len(value)} entries (at most {_MAX_CONFIG_LIST})")
        for v in value:
            _check_config(v, key)
    elif isinstance(value, int | float) and not abs(value) <= _MAX_CONFIG_INT:
        raise ValueError(f"{key} is {value!r} (at most {_MAX_CONFIG_INT:,})")


def load_state_strict(model: Model, state: dict[str, torch.Tensor], source: str) -> None:
    """Load weights, naming missing/unexpected keys or shape mismatches in one line."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise ModelError(f"{source}: weights do not fit the model: {'; '.join(parts)} keys")
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise ModelError(
                f"{source}: weight {key} has shape {tuple(value.shape)}, "
                f"the model needs {tuple(expected[key].shape)}"
            )
    model.load_state_dict(state, strict=True)


def load_official(path: Path) -> DAC:
    """An official descript-audio-codec checkpoint (.pth), loaded without unpickling code."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad or unsafe file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: not a loadable DAC checkpoint: {reason}") from exc
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise ModelError(f"{path}: not a DAC checkpoint (no 'state_dict')")
    kwargs = (blob.get("metadata") or {}).get("kwargs")
    if not isinstance(kwargs, dict):
        raise ModelError(f"{path}: DAC checkpoint without metadata.kwargs")
    model = build_model(kwargs, str(path))
    load_state_strict(model, blob["state_dict"], str(path))
    return model


def load_safetensors(path: Path) -> tuple[Model, dict[str, str]]:
    """An eegzip model and its header metadata."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable safetensors model: {exc}") from exc
    model_format = metadata.get("format", "")
    if model_format not in _BUILDERS or "config" not in metadata:
        raise ModelError(f"{path}: safetensors file is not an eegzip model")
    model = build_model(json.loads(metadata["config"]), str(path), model_format)
    load_state_strict(model, state, str(path))
    return model, metadata


def save_safetensors(
    model: Model, path: Path, extra: dict[str, str] | None = None, dtype: torch.dtype | None = None
) -> None:
    """Write weights and config; ``dtype`` stores floating tensors narrower (float16 halves a
    file that has to fit a transfer limit; loading casts back to the model's float32)."""
    model_format = (
        MC_SAFETENSORS_FORMAT if isinstance(model, MultiChannelDAC) else SAFETENSORS_FORMAT
    )
    metadata = {"format": model_format, "config": json.dumps(model.config.to_kwargs())}
    metadata.update(extra or {})
    state = {
        k: v.detach().to(dtype if dtype and v.is_floating_point() else v.dtype).contiguous().cpu()
        for k, v in model.state_dict().items()
    }
    with AtomicOutput(Path(path), force=True) as output:
        output.file.write(save(state, metadata=metadata))


def load_weights(path: Path) -> tuple[Model, dict[str, str]]:
    """Any supported weights file, by content: safetensors or an official torch checkpoint."""
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such model file")
    with path.open("rb") as f:
        head = f.read(8)
    if head[:2] == b"PK" or head[:1] == b"\x80":  # zip-based or legacy torch.save
        return load_official(path), {}
    return load_safetensors(path)
