"""A 24-hour, 21-channel, 256 Hz recording through compress and decompress: time and peak RSS.

The recording is tiled from real EEGMAT channels (resampled to 256 Hz) and written to a
temporary folder record by record (about 0.93 GB for 24 h), never kept. Each step runs in its
own process so its peak RSS is its own.

    python benchmarks/long_recording.py --hours 24
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
from speed import LABELS, RATE, eeg_header, eegmat_pool, measure, to_digital

from eegzip.edf import EdfWriter

CHANNELS = [*LABELS, "A1", "A2"]  # 21


def write_long_recording(data: Path, path: Path, hours: float) -> Path:
    """Stream a long EDF to disk one minute at a time; memory stays at one minute."""
    pool = [to_digital(x) for x in eegmat_pool(data, files=12)]
    minutes = round(hours * 60)
    rng = np.random.default_rng(0)
    with EdfWriter(path, eeg_header(CHANNELS, minutes * 60), force=True) as writer:
        for _ in range(minutes):
            rows = []
            for _ in CHANNELS:
                source = pool[rng.integers(len(pool))]
                start = rng.integers(0, len(source) - 60 * RATE)
                rows.append(source[start : start + 60 * RATE])
            writer.write_records(rows)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    eegzip = [sys.executable, "-m", "eegzip"]
    with tempfile.TemporaryDirectory(dir=here) as tmp:
        edf = write_long_recording(args.data, Path(tmp) / "long.edf", args.hours)
        runs = {
            "compress --no-metrics": measure(
                [*eegzip, "compress", str(edf), "-o", f"{tmp}/long.eegc", "--no-metrics"]
            ),
            "decompress": measure(
                [*eegzip, "decompress", f"{tmp}/long.eegc", "-o", f"{tmp}/back.edf"]
            ),
        }
        sizes = {"edf": edf.stat().st_size, "eegc": Path(f"{tmp}/long.eegc").stat().st_size}
    result = {
        "command": "python benchmarks/long_recording.py " + shlex.join(sys.argv[1:]),
        "recording": f"{len(CHANNELS)} channels, {args.hours:g} h, {RATE} Hz (tiled EEGMAT)",
        "sizes_bytes": sizes,
        "runs": runs,
        "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs.values()),
    }
    out = here / "results" / f"long_recording_{args.hours:g}h.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
