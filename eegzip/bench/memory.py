"""Peak resident memory of one step of work inside a long-lived process (Linux).

``ru_maxrss`` is a high-water mark over the whole process life, so it cannot tell one run from
the next. Linux lets a process reset that mark: writing "5" to /proc/self/clear_refs sets VmHWM
back to the current RSS. Each measured step resets it, runs, and reads VmHWM: the peak RSS while
the step ran, which includes what was already resident (interpreter, torch, the loaded model).
The increase over the RSS at the start is reported too. Elsewhere both are None.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_PEAK = "5"


@dataclass
class PeakRss:
    peak_mb: float | None = None
    increase_mb: float | None = None


def _status_kb(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+)\s+kB", STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise OSError(f"{STATUS} has no {field}")
    return int(match.group(1))


def _reset_peak() -> int | None:
    """Reset VmHWM; the current RSS in kB, or None where this is not possible."""
    try:
        CLEAR_REFS.write_text(RESET_PEAK)
        return _status_kb("VmRSS")
    except OSError:
        return None


@contextmanager
def measure_peak_rss() -> Iterator[PeakRss]:
    """Fills the yielded PeakRss (in MB) when the block ends."""
    result = PeakRss()
    start_kb = _reset_peak()
    yield result
    if start_kb is not None:
        peak_kb = _status_kb("VmHWM")
        result.peak_mb = peak_kb / 1024
        result.increase_mb = (peak_kb - start_kb) / 1024
