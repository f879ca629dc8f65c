"""Fixed-width bit packing of code indices: `bits` bits per value, most significant bit first.

A 1024-entry codebook needs 10 bits per code, not the 16 of a uint16; packing saves 37.5%
before zstd sees the bytes.
"""

from __future__ import annotations

import numpy as np

from .format import MAX_BITS

# Values handled per step: bounds the temporary bit matrix to 1 MiB. Must be a multiple of 8
# so that every chunk but the last fills whole bytes.
_CHUNK = 1 << 16


def packed_size(count: int, bits: int) -> int:
    """Bytes needed for `count` values of `bits` bits: the last byte is zero-padded."""
    return (count * bits + 7) // 8


def pack(values: np.ndarray, bits: int) -> bytes:
    """Pack unsigned integers (any shape, flattened in C order) at `bits` bits each."""
    _check_bits(bits)
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind not in "ui":
        raise ValueError(f"values must be integers, not {flat.dtype}")
    if flat.size and (flat.min() < 0 or flat.max() >= 1 << bits):
        raise ValueError(f"values must lie in [0, 2**{bits})")
    words = flat.astype(">u2")
    parts = []
    for start in range(0, words.size, _CHUNK):
        chunk = words[start : start + _CHUNK]
        bit_matrix = np.unpackbits(chunk.view(np.uint8).reshape(-1, 2), axis=1)
        parts.append(np.packbits(bit_matrix[:, MAX_BITS - bits :]).tobytes())
    return b"".join(parts)


def unpack(data: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of `pack`: `count` values as a flat uint16 array.

    Rejects a length other than packed_size(count, bits) and nonzero padding bits, so that
    exactly one byte string encodes each array.
    """
    _check_bits(bits)
    if count < 0:
        raise ValueError("count must be >= 0")
    if len(data) != packed_size(count, bits):
        raise ValueError(
            f"expected {packed_size(count, bits)} bytes for {count} codes of {bits} bits, "
            f"got {len(data)}"
        )
    raw = np.frombuffer(data, dtype=np.uint8)
    spare = len(data) * 8 - count * bits
    if spare and raw[-1] & ((1 << spare) - 1):
        raise ValueError("nonzero padding bits after the last code")
    out = np.empty(count, dtype=np.uint16)
    chunk_bytes = _CHUNK * bits // 8
    for i, start in enumerate(range(0, count, _CHUNK)):
        n = min(_CHUNK, count - start)
        chunk = raw[i * chunk_bytes : (i + 1) * chunk_bytes]
        bit_matrix = np.zeros((n, MAX_BITS), dtype=np.uint8)
        bit_matrix[:, MAX_BITS - bits :] = np.unpackbits(chunk, count=n * bits).reshape(n, bits)
        out[start : start + n] = np.packbits(bit_matrix, axis=1).view(">u2").reshape(n)
    return out


def _check_bits(bits: int) -> None:
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in 1..{MAX_BITS}, got {bits}")
