"""Keep freed memory in the process's heap while eegzip codes (glibc only).

Why: the residual coder and the decoders allocate and free arrays of 0.1–20 MB many times
per block (design matrices, filters, token streams). By default glibc hands such blocks back
to the system when they are freed (they are mmapped, or trimmed off the top of the heap), so
every new one page-faults its memory in again. On the 2-core CI machine a page fault costs
about a microsecond: allocating and filling a 480 kB array took 7× as long as with the
memory kept, and the lossless compress of an hour 6 % longer. Raising the two thresholds
keeps freed blocks for reuse; the price is that the process keeps its peak heap until it
exits (`benchmarks/results/speed.json` records the peak RSS).
"""

from __future__ import annotations

import ctypes
from functools import cache

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_MMAPPED_FROM = 64 << 20  # only blocks from 64 MiB up are mmapped (and unmapped when freed)
_KEPT_FREE = 256 << 20  # up to 256 MiB of free heap is kept, not trimmed


@cache
def retain_freed_memory() -> bool:
    """Set once per process; False where the C library has no mallopt (not glibc: nothing
    changes there)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    kept = mallopt(_M_MMAP_THRESHOLD, _MMAPPED_FROM) and mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE)
    return bool(kept)
