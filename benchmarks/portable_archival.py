"""Portable archival coder (RESI, format 1.4) against the codec-predicted one (RESP, 1.3).

RESP predicted each sample also from the neural decoder's reconstruction, so a file decoded only
where the decoder's float output was bit-identical (same torch, device and thread count). RESI
predicts from the signal's own past and the earlier channels only. This measures what that
costs: file sizes and compress / decompress wall time of ``--lossless`` and ``--max-error 1``,
through the CLI of both versions, on the first ``--per-dataset`` files of each dataset (as
benchmarks/archival.py picks them). Every decode is checked (lossless: byte-identical).

The old version is an export of the last 1.3 commit:

    git archive 2462c27 | tar -x -C /tmp/eegzip_old
    python benchmarks/portable_archival.py --old /tmp/eegzip_old --per-dataset 2
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archival import pick_files
from published import publish

MODES = {"lossless": ["--lossless"], "max-error 1": ["--max-error", "1"]}


def _run(tree: Path | None, work: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one eegzip command, run from ``tree`` (None:
    this checkout) in ``work`` (not in a checkout, where ``python -m`` would import the
    checkout's eegzip). CPU time is what to compare on a shared machine: wall time there
    mostly measures the other users."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "eegzip", *args], env=env, check=True, cwd=work,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return time.perf_counter() - started, cpu


def measure(edf: Path, tree: Path | None, mode: list[str], work: Path) -> dict:
    packed, unpacked = work / "x.eegc", work / "x.edf"
    flags = ["-o", str(packed), "--force", "--no-metrics", *mode]
    compress = _run(tree, work, "compress", str(edf), *flags)
    decompress = _run(tree, work, "decompress", str(packed), "-o", str(unpacked), "--force")
    exact = unpacked.read_bytes() == edf.read_bytes()
    return {"bytes": packed.stat().st_size, "byte_identical": exact,
            "compress_s": round(compress[0], 2), "compress_cpu_s": round(compress[1], 2),
            "decompress_s": round(decompress[0], 2),
            "decompress_cpu_s": round(decompress[1], 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--old", type=Path, required=True, help="export of the 1.3 eegzip")
    parser.add_argument("--per-dataset", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, files in pick_files(args.data, args.per_dataset).items():
            for edf in files:
                for mode, flags in MODES.items():
                    old = measure(edf, args.old, flags, Path(tmp))
                    new = measure(edf, None, flags, Path(tmp))
                    if mode == "lossless" and not (old["byte_identical"] and new["byte_identical"]):
                        raise SystemExit(f"{edf}: a lossless decode is not byte-identical")
                    size = edf.stat().st_size
                    rows.append({"dataset": dataset, "file": edf.name, "mode": mode,
                                 "edf_bytes": size, "old": old, "new": new})  # fmt: skip
                    print(rows[-1], flush=True)
    command = "python benchmarks/portable_archival.py " + shlex.join(sys.argv[1:])
    publish("portable_archival", {"command": command, "rows": rows}, report(command, rows))


def report(command: str, rows: list[dict]) -> str:
    lines = [f"Command: `{command}` (one thread; CPU seconds, start-up included; RESI's compress "
             "includes its self-check, a full decode)", "",
             "| dataset | mode | files | size RESI / RESP | compress CPU s RESP → RESI "
             "| decompress CPU s RESP → RESI |", "|---|---|---|---|---|---|"]  # fmt: skip
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["mode"]), []).append(row)
    for mode in MODES:
        groups[("overall", mode)] = [r for r in rows if r["mode"] == mode]
    for (dataset, mode), group in groups.items():
        def total(side: str, key: str, group=group) -> float:
            return sum(r[side][key] for r in group)

        lines.append(
            f"| {dataset} | {mode} | {len(group)} | "
            f"{total('new', 'bytes') / total('old', 'bytes'):.3f} | "
            f"{total('old', 'compress_cpu_s'):.1f} → {total('new', 'compress_cpu_s'):.1f} | "
            f"{total('old', 'decompress_cpu_s'):.1f} → {total('new', 'decompress_cpu_s'):.1f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
