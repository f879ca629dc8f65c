"""Speed and memory against zstd -19 on a 20-minute, 19-channel, 256 Hz EDF built from real EEG.

The recording is assembled in a temporary folder from EEGMAT channels (500 Hz, resampled to
256 Hz and tiled across subjects) and never kept. Each tool runs in its own process so its
peak RSS is its own. Random access is measured on a 60-minute recording built the same way:
a 1-minute window against the full decode. The main commands run twice: on the machine as it
is, then with one core kept busy by another process (``python -c "while True: pass"``), as on
a shared server; every run records the 1-minute load average it started at.

    python benchmarks/speed.py [--data ../shared/data] [--out benchmarks/results/speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from eegzip.edf import EdfFile, EdfHeader, EdfWriter, SignalHeader, build_header

LABELS = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3",
          "Pz", "P4", "T6", "O1", "O2"]  # fmt: skip
MINUTES = 20
RATE = 256
NEURAL = "eegzip compress --codebooks 9 --no-metrics (neural codec)"
NEURAL_METRICS = "eegzip compress --codebooks 9 (neural codec, with metrics)"
LOSSLESS = "eegzip compress --lossless --no-metrics"
BOUNDED = "eegzip compress --max-error 1 --no-metrics"
LOSSLESS_DECOMPRESS = "eegzip decompress (lossless file)"
UNDER_LOAD = (
    "zstd -19",
    "eegzip compress --no-metrics",
    "eegzip compress (with metrics)",
    NEURAL,
    NEURAL_METRICS,
    "eegzip decompress",
)
"""The commands measured again with one core busy."""
BUSY_LOOP = [sys.executable, "-c", "while True: pass"]


def eegmat_pool(data: Path, files: int | None = None) -> list[np.ndarray]:
    """Every EEG channel of EEGMAT's rest recordings, in µV, resampled to 256 Hz."""
    pool: list[np.ndarray] = []
    for src in sorted((data / "eegmat").glob("Subject*_1.edf"))[:files]:
        with EdfFile.open(src) as edf:
            for i, s in enumerate(edf.header.signals):
                if not s.is_annotation:
                    pool.append(resample_poly(edf.read_physical(i), 64, 125))
    return pool


def eeg_header(labels: list[str], n_records: int) -> bytes:
    """A plain EDF header: 1-s records at 256 Hz, ±3276.7 µV in int16 (0.1 µV steps)."""
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
        for name in labels
    )
    return build_header(EdfHeader(startdate="01.01.24", starttime="00.00.00",
                                  n_records=n_records, record_duration_raw="1",
                                  signals=signals))  # fmt: skip


def to_digital(uv: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(uv / 0.1), -32768, 32767).astype(np.int32)


def tile_channels(pool: list[np.ndarray], count: int, samples: int) -> list[np.ndarray]:
    """``count`` rows of ``samples`` each, each a concatenation of randomly drawn pool channels."""
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(count):
        picks, total = [], 0
        while total < samples:
            piece = pool[rng.integers(len(pool))]
            picks.append(piece)
            total += len(piece)
        rows.append(np.concatenate(picks)[:samples])
    return rows


def build_recording(data: Path, path: Path, minutes: int = MINUTES) -> Path:
    """19 channels at 256 Hz, each channel a concatenation of real EEGMAT channels."""
    rows = tile_channels(eegmat_pool(data), len(LABELS), minutes * 60 * RATE)
    with EdfWriter(path, eeg_header(LABELS, minutes * 60), force=True) as writer:
        writer.write_records([to_digital(r) for r in rows])
    return path


def measure(command: list[str]) -> dict:
    """Wall time and peak RSS of one command run in a fresh child process."""
    wrapper = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter(); r = subprocess.run(sys.argv[1:]);"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        " r.returncode)"
    )
    load = round(os.getloadavg()[0], 2)
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True
    )
    wall, rss_kb, code = out.stdout.split()[-3:]
    if int(code) != 0:
        raise RuntimeError(f"{shlex.join(command)} failed: {out.stderr}")
    return {
        "command": shlex.join(command),
        "seconds": float(wall),
        "peak_rss_mb": int(rss_kb) / 1024,
        "load_1min_at_start": load,
    }


@contextmanager
def one_core_busy() -> Iterator[None]:
    """Another process spinning on one core while the block runs (a shared machine)."""
    spinner = subprocess.Popen(BUSY_LOOP)
    try:
        time.sleep(1.0)  # let it take its core
        yield
    finally:
        spinner.kill()
        spinner.wait()


def window_in_process(container: Path, tmp: Path) -> dict:
    """Decode times with the model already loaded (what a service or notebook sees)."""
    import eegzip

    codec = eegzip.load_codec()
    times = {}
    for name, window in (("full", {}), ("window", {"start": 1800, "duration": 60})):
        t = time.perf_counter()
        eegzip.decompress(container, tmp / f"{name}.edf", model=codec, force=True, **window)
        times[name] = time.perf_counter() - t
    return {"full_seconds": times["full"], "window_seconds": times["window"],
            "ratio": times["window"] / times["full"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "speed.json"
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--no-random-access",
        action="store_true",
        help="Skip the 60-minute recording (random access): the idle and busy runs only.",
    )
    args = parser.parse_args()
    eegzip = [sys.executable, "-m", "eegzip"]
    with tempfile.TemporaryDirectory() as tmp:
        edf = build_recording(args.data, Path(tmp) / "rec20min.edf")
        runs: dict[str, list[dict]] = {}
        commands = {
            "zstd -19": ["zstd", "-19", "-q", "-f", str(edf), "-o", f"{tmp}/rec.zst"],
            "xz -9": ["xz", "-9", "-k", "-f", "-c", str(edf)],
            "eegzip compress --no-metrics": [
                *eegzip,
                "compress",
                str(edf),
                "-o",
                f"{tmp}/a.eegc",
                "--force",
                "--no-metrics",
            ],
            "eegzip compress (with metrics)": [
                *eegzip,
                "compress",
                str(edf),
                "-o",
                f"{tmp}/b.eegc",
                "--force",
            ],
            NEURAL: [
                *eegzip,
                "compress",
                str(edf),
                "-o",
                f"{tmp}/n.eegc",
                "--force",
                "--codebooks",
                "9",
                "--no-metrics",
            ],
            NEURAL_METRICS: [
                *eegzip,
                "compress",
                str(edf),
                "-o",
                f"{tmp}/m.eegc",
                "--force",
                "--codebooks",
                "9",
            ],
            "eegzip decompress": [
                *eegzip,
                "decompress",
                f"{tmp}/a.eegc",
                "-o",
                f"{tmp}/back.edf",
                "--force",
            ],
            LOSSLESS: [*eegzip, "compress", str(edf), "-o", f"{tmp}/l.eegc", "--force",
                       "--lossless", "--no-metrics"],
            BOUNDED: [*eegzip, "compress", str(edf), "-o", f"{tmp}/e.eegc", "--force",
                      "--max-error", "1", "--no-metrics"],
            LOSSLESS_DECOMPRESS: [*eegzip, "decompress", f"{tmp}/l.eegc", "-o",
                                  f"{tmp}/lback.edf", "--force"],  # fmt: skip
            "python -c 'import eegzip.cli' (start-up)": [sys.executable, "-c", "import eegzip.cli"],
            "eegzip --help": [*eegzip, "--help"],
            "eegzip info": [*eegzip, "info", f"{tmp}/a.eegc"],
        }
        for name, command in commands.items():
            if name == "xz -9":
                command = ["sh", "-c", shlex.join(command) + f" > {tmp}/rec.xz"]
            runs[name] = [measure(command) for _ in range(args.repeats)]
        with one_core_busy():
            for name in UNDER_LOAD:
                busy = [measure(commands[name]) for _ in range(args.repeats)]
                runs[f"{name}, one core busy"] = busy
        hour = build_recording(args.data, Path(tmp) / "rec60min.edf", minutes=60)
        archival = archival_rates(hour, edf, Path(tmp), args.repeats)
        in_process = None if args.no_random_access else random_access(args, runs, hour, Path(tmp))
        sizes = {
            "edf": edf.stat().st_size,
            "zstd -19": Path(f"{tmp}/rec.zst").stat().st_size,
            "xz -9": Path(f"{tmp}/rec.xz").stat().st_size,
            "eegc": Path(f"{tmp}/a.eegc").stat().st_size,
            "eegc --lossless": Path(f"{tmp}/l.eegc").stat().st_size,
            "eegc --max-error 1": Path(f"{tmp}/e.eegc").stat().st_size,
        }
        if Path(f"{tmp}/lback.edf").read_bytes() != edf.read_bytes():
            raise SystemExit("the lossless round trip is not byte-identical")
    best = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    peak = {name: max(r["peak_rss_mb"] for r in rs) for name, rs in runs.items()}
    zstd = best["zstd -19"]
    busy_zstd = best["zstd -19, one core busy"]
    window = "decompress 60 min, window --start 1800 --duration 60"
    result = {
        "command": "python benchmarks/speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "recording": f"{len(LABELS)} channels, {MINUTES} min, {RATE} Hz, EDF int16 (from EEGMAT)",
        "sizes_bytes": sizes,
        "best_seconds": best,
        "peak_rss_mb": peak,
        "runs": runs,
        "random_access_in_process": in_process,
        "archival_rates_60min_in_process": archival,
        "targets": {
            "compress_no_metrics_vs_zstd": best["eegzip compress --no-metrics"] / zstd,
            "compress_with_metrics_vs_zstd": best["eegzip compress (with metrics)"] / zstd,
            "decompress_vs_zstd": best["eegzip decompress"] / zstd,
            "one_core_busy_compress_no_metrics_vs_zstd": best[
                "eegzip compress --no-metrics, one core busy"
            ]
            / busy_zstd,
            "one_core_busy_compress_with_metrics_vs_zstd": best[
                "eegzip compress (with metrics), one core busy"
            ]
            / busy_zstd,
            "neural_compress_no_metrics_vs_zstd": best[NEURAL] / zstd,
            "neural_compress_with_metrics_vs_zstd": best[NEURAL_METRICS] / zstd,
            "one_core_busy_neural_no_metrics_vs_zstd": best[f"{NEURAL}, one core busy"] / busy_zstd,
            "one_core_busy_neural_with_metrics_vs_zstd": best[f"{NEURAL_METRICS}, one core busy"]
            / busy_zstd,
            "one_core_busy_decompress_vs_zstd": best["eegzip decompress, one core busy"]
            / busy_zstd,
            "lossless_compress_vs_zstd": best[LOSSLESS] / zstd,
            "max_error_1_compress_vs_zstd": best[BOUNDED] / zstd,
            "lossless_decompress_vs_zstd": best[LOSSLESS_DECOMPRESS] / zstd,
            "lossless_compress_mb_per_second": sizes["edf"] / 1e6 / best[LOSSLESS],
            "help_seconds": best["eegzip --help"],
            "info_seconds": best["eegzip info"],
            "peak_rss_mb_max": max(peak[k] for k in peak if k.startswith(("eegzip", "decomp"))),
            "window_vs_full_decode": best[window] / best["decompress 60 min"]
            if window in best
            else None,
            "note": "start-up (python + torch import) is part of every eegzip time; "
            "'one core busy': another process spins on one core (" + shlex.join(BUSY_LOOP) + ")",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in ("command", "sizes_bytes", "best_seconds", "peak_rss_mb", "targets")
            },
            indent=2,
        )
    )


def archival_rates(hour: Path, warm_up: Path, tmp: Path, repeats: int) -> dict:
    """MB/s of --lossless and --max-error 1 on the 60-minute recording, compress and
    decompress, in this process on one core, start-up excluded: a first compress and
    decompress of the 20-minute file has imported everything and compiled the kernels."""
    import eegzip

    warm = eegzip.compress(warm_up, tmp / "warm.eegc", max_error_uv=0, measure=False, force=True)
    eegzip.decompress(warm.output, tmp / "warm.edf", force=True)
    mb = hour.stat().st_size / 1e6
    rates: dict[str, dict] = {"edf_mb": mb}
    for name, error_uv in (("--lossless", 0.0), ("--max-error 1", 1.0)):
        out = tmp / f"hour{error_uv:g}.eegc"
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            eegzip.compress(hour, out, max_error_uv=error_uv, measure=False, force=True)
            seconds.append(time.perf_counter() - start)
        back = []
        for _ in range(repeats):
            start = time.perf_counter()
            eegzip.decompress(out, tmp / "hour_back.edf", force=True)
            back.append(time.perf_counter() - start)
        if not error_uv and (tmp / "hour_back.edf").read_bytes() != hour.read_bytes():
            raise SystemExit("the lossless round trip of the hour is not byte-identical")
        rates[name] = {
            "compress_seconds": min(seconds),
            "compress_mb_per_second": mb / min(seconds),
            "decompress_seconds": min(back),
            "decompress_mb_per_second": mb / min(back),
            "eegc_bytes": out.stat().st_size,
        }
    return rates


def random_access(
    args: argparse.Namespace, runs: dict[str, list[dict]], hour: Path, tmp: Path
) -> dict:
    """Full and 1-minute-window decodes of a 60-minute recording (runs gets the CLI runs)."""
    eegzip = [sys.executable, "-m", "eegzip"]
    hour_eegc = f"{tmp}/hour.eegc"
    measure([*eegzip, "compress", str(hour), "-o", hour_eegc, "--no-metrics"])
    runs["decompress 60 min"] = [
        measure([*eegzip, "decompress", hour_eegc, "-o", f"{tmp}/h.edf", "--force"])
        for _ in range(args.repeats)
    ]
    window = ["--start", "1800", "--duration", "60"]
    runs["decompress 60 min, window --start 1800 --duration 60"] = [
        measure([*eegzip, "decompress", hour_eegc, "-o", f"{tmp}/w.edf", "--force", *window])
        for _ in range(args.repeats)
    ]
    return window_in_process(Path(hour_eegc), tmp)


if __name__ == "__main__":
    main()
