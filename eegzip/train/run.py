"""A training run's folder and the bookkeeping both training loops share.

The folder holds ``checkpoint.pt`` (everything needed to resume), ``latest.safetensors`` and
``best.safetensors`` (the best held-out mel loss so far) and ``log.jsonl``. Keeping this in one
place is what makes every run resumable and every log readable the same way.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from eegzip.atomic import AtomicOutput
from eegzip.codec.checkpoints import save_safetensors

Stateful = Any
"""A module or optimiser: anything with state_dict() and load_state_dict()."""


class RunFolder:
    """Resume, checkpoint and log one run; ``parts`` name what the checkpoint holds."""

    def __init__(self, out_dir: Path, parts: Mapping[str, Stateful | None], device: torch.device):
        self.out_dir = out_dir
        self.parts = {name: part for name, part in parts.items() if part is not None}
        self.checkpoint = out_dir / "checkpoint.pt"
        self.step, self.best, self._elapsed_before = 0, math.inf, 0.0
        if self.checkpoint.exists():
            state = torch.load(self.checkpoint, map_location=device, weights_only=True)
            for name, part in self.parts.items():
                if name in state:
                    part.load_state_dict(state[name])
            self.step, self.best = int(state["step"]), float(state.get("best", math.inf))
            self._elapsed_before = float(state.get("elapsed_s", 0.0))
        self._started = time.time()
        self._log = (out_dir / "log.jsonl").open("a")

    @property
    def elapsed(self) -> float:
        """Training seconds over every session of this run."""
        return self._elapsed_before + time.time() - self._started

    def save(self, model: torch.nn.Module, score: float) -> None:
        """Checkpoint (atomically), export latest, and best if ``score`` is the best yet."""
        self.best = min(self.best, score)
        state = {name: part.state_dict() for name, part in self.parts.items()}
        state.update(step=self.step, elapsed_s=self.elapsed, best=self.best)
        with AtomicOutput(self.checkpoint, force=True) as output:
            torch.save(state, output.file)
        metadata = {"step": str(self.step)}
        save_safetensors(model, self.out_dir / "latest.safetensors", metadata)
        if score == self.best:
            save_safetensors(model, self.out_dir / "best.safetensors", metadata)

    def log(self, record: dict, report: Callable[[dict], None]) -> None:
        """Append a record (beyond its step) to log.jsonl and pass it to ``report``."""
        if len(record) > 1:
            self._log.write(json.dumps(record) + "\n")
            self._log.flush()
            report(record)

    def close(self) -> Path:
        self._log.close()
        return self.out_dir / "best.safetensors"


def step_fields(
    terms: Mapping[str, torch.Tensor],
    grad_norm: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    elapsed: float,
) -> dict:
    """The periodic loss record: every loss term, gradient norm, learning rate, wall time."""
    return {
        **{k: round(float(v.detach()), 4) for k, v in terms.items()},
        "grad_norm": round(float(grad_norm), 3),
        "lr": optimizer.param_groups[0]["lr"],
        "elapsed_s": round(elapsed, 1),
    }
