"""eegzip: neural compression of EEG recordings (EDF/EDF+/BDF → .eegc → EDF)."""

__version__ = "0.1.0"

from eegzip.api import compress, decompress, info, load_codec, read, tokens, verify  # noqa: E402
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
    "read",
    "tokens",
    "verify",
]
