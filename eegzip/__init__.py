"""eegzip: neural compression of EEG recordings (EDF/EDF+/BDF → .eegc → EDF)."""

__version__ = "0.1.0"

from eegzip.api import (  # noqa: E402
    compress,
    decompress,
    info,
    load_codec,
    open,
    read,
    tokens,
    verify,
)
from eegzip.errors import EegzipError  # noqa: E402
from eegzip.pipeline.tokens import Tokens  # noqa: E402

__all__ = [
    "EegzipError",
    "Tokens",
    "__version__",
    "compress",
    "decompress",
    "info",
    "load_codec",
    "open",
    "read",
    "tokens",
    "verify",
]
