"""Every EDF in ../shared/data through the three modes, each promise checked on every file.

- ``--lossless``: the decompressed file is byte-identical to the original (header, data
  records, annotations).
- ``--max-error E``: every sample of every signal is within E µV (the coded channels by the
  residual bound, the others exactly); the header bytes are identical.
- lossy (the default): the decompressed EDF has the original's header bytes and annotations.

Files run in ``--workers`` processes of one thread each. Writes
benchmarks/results/roundtrip_all.{json,md}.

    python benchmarks/roundtrip_all.py --max-error 1
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

import eegzip

HERE = Path(__file__).resolve().parent


def largest_error_uv(original: Path, decoded: Path) -> float:
    """Largest |decoded − original| over every sample of every signal, in physical units."""
    a, b = eegzip.read(original), eegzip.read(decoded)
    if a.raw_header != b.raw_header:
        return float("inf")
    return max(
        (float(np.max(np.abs(a.physical(i) - b.physical(i)), initial=0.0))
         for i in range(len(a.digital))),
        default=0.0,
    )  # fmt: skip


def check_file(path: Path, bound_uv: float) -> dict:
    torch.set_num_threads(1)
    row: dict = {"file": f"{path.parent.name}/{path.name}", "edf_bytes": path.stat().st_size}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        x, back = Path(tmp) / "x.eegc", Path(tmp) / "x.edf"
        try:
            eegzip.compress(path, x, max_error_uv=0.0, measure=False)
            eegzip.decompress(x, back)
            row["lossless_bytes"] = x.stat().st_size
            row["lossless_exact"] = back.read_bytes() == path.read_bytes()
            eegzip.compress(path, x, max_error_uv=bound_uv, measure=False, force=True)
            eegzip.decompress(x, back, force=True)
            row["bounded_bytes"] = x.stat().st_size
            row["bounded_max_error_uv"] = largest_error_uv(path, back)
            row["bounded_ok"] = row["bounded_max_error_uv"] <= bound_uv * (1 + 1e-9)
            eegzip.compress(path, x, measure=False, force=True)
            eegzip.decompress(x, back, force=True)
            row["lossy_bytes"] = x.stat().st_size
            a, b = eegzip.read(path), eegzip.read(back)
            row["lossy_ok"] = a.raw_header == b.raw_header and a.annotations == b.annotations
        except eegzip.EegzipError as error:
            row["error"] = str(error)
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def markdown(results: dict) -> str:
    rows = results["files"]
    bound = results["max_error_uv"]
    passed = {
        "lossless byte-identical": sum(bool(r.get("lossless_exact")) for r in rows),
        f"every sample within ±{bound:g} µV": sum(bool(r.get("bounded_ok")) for r in rows),
        "lossy: header and annotations identical": sum(bool(r.get("lossy_ok")) for r in rows),
    }
    edf = sum(r["edf_bytes"] for r in rows)
    lines = [f"Command: `{results['command']}`", "", f"{len(rows)} EDF files, "
             f"{edf / 1e6:.1f} MB, {results['seconds'] / 60:.0f} min wall time.", "",
             "| promise | files that keep it |", "|---|---|"]  # fmt: skip
    lines += [f"| {name} | {n} / {len(rows)} |" for name, n in passed.items()]
    ok = [r for r in rows if "error" not in r]
    lines += ["", "| mode | ratio over all files |", "|---|---|"]
    for mode in ("lossless", "bounded", "lossy"):
        size = sum(r[f"{mode}_bytes"] for r in ok)
        label = f"±{bound:g} µV" if mode == "bounded" else mode
        lines.append(f"| {label} | {sum(r['edf_bytes'] for r in ok) / size:.2f}× |")
    failures = [r for r in rows if "error" in r or not (
        r.get("lossless_exact") and r.get("bounded_ok") and r.get("lossy_ok"))]  # fmt: skip
    lines += ["", f"Failures: {len(failures)}"]
    lines += [f"- {r['file']}: {r.get('error') or r}" for r in failures]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data")
    parser.add_argument("--max-error", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    files = sorted(args.data.glob("*/*.edf"))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = []
        for row in pool.map(check_file, files, [args.max_error] * len(files)):
            rows.append(row)
            print(json.dumps(row), flush=True)
    results = {
        "command": "python benchmarks/roundtrip_all.py " + shlex.join(sys.argv[1:]),
        "max_error_uv": args.max_error,
        "seconds": round(time.perf_counter() - started, 1),
        "files": rows,
    }
    out = HERE / "results" / "roundtrip_all.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
