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
