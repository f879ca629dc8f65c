"""A 24-hour, 21-channel, 256 Hz recording through compress and decompress: time and peak RSS.

The recording is tiled from real EEGMAT channels (resampled to 256 Hz) and written to a
temporary folder record by record (about 2.3 GB for 24 h), never kept. Each step runs in its
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
from scipy.signal import resample_poly
from speed import LABELS, RATE, measure

from eegzip.edf import EdfFile, EdfHeader, EdfWriter, SignalHeader, build_header

CHANNELS = [*LABELS, "A1", "A2"]  # 21


def write_long_recording(data: Path, path: Path, hours: float) -> Path:
    """Stream a long EDF to disk one minute at a time; memory stays at one minute."""
    pool = []
    for src in sorted((data / "eegmat").glob("Subject*_1.edf"))[:12]:
        with EdfFile.open(src) as edf:
            pool += [
                np.clip(np.rint(resample_poly(edf.read_physical(i), 64, 125) / 0.1), -32768, 32767)
                for i, s in enumerate(edf.header.signals)
                if not s.is_annotation
            ]
    signals = tuple(
        SignalHeader(
            label=f"EEG {name}",
            physical_dimension="uV",
            physical_min=-3276.8,
            physical_max=3276.7,
            digital_min=-32768,
            digital_max=32767,
            samples_per_record=RATE,
        )  # fmt: skip
        for name in CHANNELS
    )
    minutes = round(hours * 60)
    header = EdfHeader(startdate="01.01.24", starttime="00.00.00", n_records=minutes * 60,
                       record_duration_raw="1", signals=signals)  # fmt: skip
    rng = np.random.default_rng(0)
    with EdfWriter(path, build_header(header), force=True) as writer:
        for _ in range(minutes):
            rows = []
            for _ in CHANNELS:
                source = pool[rng.integers(len(pool))]
                start = rng.integers(0, len(source) - 60 * RATE)
                rows.append(source[start : start + 60 * RATE].astype(np.int32))
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
