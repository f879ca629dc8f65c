"""eegzip: neural compression of EEG recordings (EDF/EDF+/BDF → .eegc → EDF)."""

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
from eegzip.version import __version__

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
