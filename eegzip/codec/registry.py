"""Models shipped inside the package, and resolution of ``--model NAME|PATH``.

A model is a directory entry: ``<name>.safetensors`` plus its card ``<name>.json``. Containers
record the model's name and the SHA-256 of its weights file, so decompression can insist on
exactly the weights that made the codes. A model is of kind ``sc`` (DAC-SC: each channel coded
alone) or ``mc`` (DAC-MC: one token stream per channel group).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from eegzip.errors import ModelError

if TYPE_CHECKING:  # torch is imported only when a model is loaded: start-up stays fast
    import torch

    from eegzip.codec.checkpoints import Model

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = "eegdac-sc-256hz"
DEFAULT_EEG_RATE = 256
"""Model rate assumed for checkpoints that do not state one (official audio DAC weights)."""

TORCH_THREADS = 1
"""Intra- and inter-op torch threads per process while a codec runs. One thread keeps a file's
speed when another process holds a core (torch's worker threads wait on it: 5x slower with two
threads on two busy cores), and makes the codes independent of the machine's thread count, so
the same input gives the same bytes anywhere. Parallelism comes from files instead (--workers)."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's weights are and what its card says."""

    name: str
    path: Path
    card: dict = field(default_factory=dict, compare=False)

    @property
    def sha256(self) -> str:
        return _cached_sha256(self.path, self.path.stat().st_mtime_ns)

    @property
    def summary(self) -> str:
        return str(self.card.get("summary", ""))

    @property
    def kind(self) -> str:
        """``sc`` or ``mc``, as the card says (cards before DAC-MC are single-channel)."""
        return str(self.card.get("kind", "sc"))


@cache
def _cached_sha256(path: Path, _mtime_ns: int) -> str:
    from eegzip.codec.checkpoints import sha256_of

    return sha256_of(path)


@dataclass
class Codec:
    """A loaded model ready for inference, with the facts the pipeline needs."""

    spec: ModelSpec
    model: Model
    sample_rate: int
    device: torch.device

    @property
    def kind(self) -> str:
        """``mc`` for a multi-channel model (codes groups of channels), else ``sc``."""
        from eegzip.codec.multichannel import MultiChannelDAC

        return "mc" if isinstance(self.model, MultiChannelDAC) else "sc"

    @property
    def hop_length(self) -> int:
        return self.model.hop_length

    @property
    def n_codebooks(self) -> int:
        return self.model.n_codebooks

    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    def identity(self) -> dict:
        """What a container records of the model: enough to find and check it again."""
        return {
            "name": self.spec.name,
            "kind": self.kind,
            "sha256": self.spec.sha256,
            "sample_rate": self.sample_rate,
            "hop_length": self.hop_length,
            "n_codebooks": self.n_codebooks,
            "codebook_size": self.codebook_size,
        }


def shipped_models() -> list[ModelSpec]:
    specs = []
    for weights in sorted(MODELS_DIR.glob("*.safetensors")):
        card_path = weights.with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        specs.append(ModelSpec(weights.stem, weights, card))
    return specs


def resolve(ref: str | Path | None) -> ModelSpec:
    """A shipped model by name, or a weights file by path (official .pth or eegzip)."""
    ref = DEFAULT_MODEL if ref is None else ref
    by_name = {spec.name: spec for spec in shipped_models()}
    if str(ref) in by_name:
        return by_name[str(ref)]
    path = Path(ref).expanduser()
    if path.is_file():
        return ModelSpec(path.stem, path.resolve())
    known = ", ".join(sorted(by_name)) or "none"
    raise ModelError(f"unknown model {str(ref)!r}: not a shipped model ({known}) nor a file")


def pick_device(device: str) -> torch.device:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("--device cuda: CUDA is not available on this machine")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ModelError(f"--device {device}: {exc}") from exc


def load(spec: ModelSpec, device: str = "cpu") -> Codec:
    """The model ready for inference; loaded once per weights file and device, then shared."""
    bound_torch_threads()
    return _load(spec, spec.sha256, str(pick_device(device)))


def bound_torch_threads() -> None:
    """Run torch with TORCH_THREADS threads in this process (the one place that sets them)."""
    import torch

    torch.set_num_threads(TORCH_THREADS)
    if torch.get_num_interop_threads() != TORCH_THREADS:
        # Allowed once, before any inter-op work; after that the pool stays as it is.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(TORCH_THREADS)


@cache
def _load(spec: ModelSpec, _sha256: str, device: str) -> Codec:
    from eegzip.codec.checkpoints import load_weights

    model, metadata = load_weights(spec.path)
    rate = int(metadata.get("eeg_sample_rate", 0)) or (
        model.config.sample_rate if metadata else DEFAULT_EEG_RATE
    )
    target = pick_device(device)
    return Codec(spec, model.to(target).prepare_for_inference(), rate, target)
