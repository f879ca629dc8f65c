"""The .eegc binary container: bytes in, bytes out; knows nothing of torch or EDF semantics.

Layout and rules: formats/eegc.md. Constants: format.py.
"""

from .bitpack import pack, packed_size, unpack
from .blocks import CodeBlock, IntegerResidualBlock, RawBlock, ResidualBlock
from .format import FORMAT_MAJOR, FORMAT_MINOR
from .reader import ContainerReader
from .writer import ContainerWriter

CONTAINER_SUFFIX = ".eegc"

__all__ = [
    "CONTAINER_SUFFIX",
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "CodeBlock",
    "ContainerReader",
    "ContainerWriter",
    "IntegerResidualBlock",
    "RawBlock",
    "ResidualBlock",
    "pack",
    "packed_size",
    "unpack",
]
