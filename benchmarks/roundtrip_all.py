"""Every EDF in ../shared/data through the three modes, each promise checked on every file.

- ``--lossless``: the decompressed file is byte-identical to the original (header, data
  records, annotations).
- ``--max-error E``: every sample of every signal is within E µV (the coded channels by the
  residual bound, the others exactly); the header bytes are identical.
- lossy (the default): the decompressed EDF has the original's header bytes and annotations.

Also FLAC -8 of every file (eegzip.bench.baselines.flac_size), so that the lossless mode is
compared with it on all of ../shared/data, not only on the sample of benchmarks/archival.py.

The lossless and bounded checks are eegzip.bench.archival.check_promise (the coded channels in
µV, the others byte for byte). Files run in ``--workers`` processes of one thread each. Writes
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

import torch
from published import publish

import eegzip
from eegzip.bench.archival import check_promise
from eegzip.bench.baselines import flac_size

HERE = Path(__file__).resolve().parent


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
            row["lossless_exact"] = check_promise(path, back, 0.0).ok
            eegzip.compress(path, x, max_error_uv=bound_uv, measure=False, force=True)
            eegzip.decompress(x, back, force=True)
            row["bounded_bytes"] = x.stat().st_size
            bounded = check_promise(path, back, bound_uv)
            row["bounded_max_error_uv"] = bounded.max_error_uv
            row["bounded_ok"] = bounded.ok
            eegzip.compress(path, x, measure=False, force=True)
            eegzip.decompress(x, back, force=True)
            row["lossy_bytes"] = x.stat().st_size
            a, b = eegzip.read(path), eegzip.read(back)
            row["lossy_ok"] = a.raw_header == b.raw_header and a.annotations == b.annotations
            row["flac_bytes"] = flac_size(path)
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
    lines += ["", "Lossless against FLAC -8 (FLAC bytes / eegzip bytes):", "",
              "| dataset | files | eegzip lossless | FLAC -8 | vs FLAC -8 |",
              "|---|---|---|---|---|"]  # fmt: skip
    groups = sorted({r["file"].split("/")[0] for r in ok})
    for group in [*groups, "all"]:
        part = [r for r in ok if group == "all" or r["file"].startswith(group + "/")]
        edf_part = sum(r["edf_bytes"] for r in part)
        mine, flac = sum(r["lossless_bytes"] for r in part), sum(r["flac_bytes"] for r in part)
        lines.append(f"| {group} | {len(part)} | {edf_part / mine:.3f}× | {edf_part / flac:.3f}× "
                     f"| {flac / mine:.3f} |")  # fmt: skip
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
    publish("roundtrip_all", results, markdown(results))


if __name__ == "__main__":
    main()
