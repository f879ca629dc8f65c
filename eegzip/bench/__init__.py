"""``eegzip bench``: sizes, speed, memory and fidelity against baselines, and downstream tasks.

The bench needs packages the codec itself does not (scikit-learn, PyWavelets, soundfile,
matplotlib); they come with the ``bench`` extra and are imported through ``require`` so a
missing one is a clear one-line error instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from eegzip.errors import EegzipError

EXTRA_HINT = "pip install 'eegzip[bench]'"

LOSSLESS = 0.0
DEFAULT_BOUNDS_UV = (LOSSLESS, 0.5, 1.0, 2.0)
"""Bounds (µV) ``bench --archival`` measures by default; 0 is lossless. Defined here, with
REPEATS, so that the command's defaults do not import the measuring code (torch, scipy)."""
REPEATS = 10
"""Repeats of the 5-fold subject-disjoint cross-validation of ``bench --task``."""


class MissingBenchDependencyError(EegzipError):
    """An optional package of the ``bench`` extra is not installed."""


def require(module: str, package: str) -> ModuleType:
    """Import ``module`` or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingBenchDependencyError(
            f"eegzip bench needs {package} (module {module!r}); install it with {EXTRA_HINT}"
        ) from None
