"""Does a model keep waveforms and rhythms? PRDN, r and alpha ratio on a few test files; sines.

For each model: the first ``--files`` test-split files of EEGMAT and Guinea-Bissau go through
``eegzip.compress`` and ``eegzip.decompress`` (the real pipeline, 9 codebooks by default);
PRDN and r come from the decompress report against the original, the alpha ratio is decoded /
original 8-13 Hz power (median over channels). Then pure sines (60 s, 256 Hz, one channel)
at 2, 10 and 20 Hz and 30 and 150 µV: power kept and r.

    python benchmarks/waveform_check.py --models eegdac-sc-256hz runs/wf-cpu/best.safetensors
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from heldout import test_files
from published import publish
from speed import RATE, eeg_header, to_digital

import eegzip
from eegzip.edf import EdfWriter
from eegzip.train.data import load_labelled_channels
from eegzip.train.loop import alpha_ratio

SINES = [(f, a) for f in (2.0, 10.0, 20.0) for a in (30.0, 150.0)]


def write_edf(path: Path, labels: list[str], rows: list[np.ndarray]) -> Path:
    """A 256 Hz EDF of µV rows, each centred on its median (the codec removes it anyway)."""
    seconds = min(len(r) for r in rows) // RATE
    rows = [r[: seconds * RATE] - np.median(r) for r in rows]
    with EdfWriter(path, eeg_header(labels, seconds), force=True) as writer:
        writer.write_records([to_digital(r) for r in rows])
    return path


def decoded_alpha_ratio(original: Path, decoded: Path) -> float:
    """Median over channels of decoded / original 8-13 Hz power."""
    a, b = (
        torch.from_numpy(np.stack([s for _, s in load_labelled_channels(p, RATE)]))[:, None]
        for p in (original, decoded)
    )
    n = min(a.shape[-1], b.shape[-1])
    return round(float(alpha_ratio(b[..., :n], a[..., :n], RATE).median()), 4)


def round_trip(codec, edf: Path, tmp: Path, codebooks: int) -> dict:
    eegc, back = tmp / "x.eegc", tmp / "x.edf"
    eegzip.compress(edf, eegc, model=codec, codebooks=codebooks, force=True, measure=False)
    result = eegzip.decompress(eegc, back, model=codec, force=True, reference=edf).to_dict()
    overall = result["fidelity"]["overall"]
    return {
        "prdn": overall["prdn"],
        "r": overall["r"],
        "alpha_ratio": decoded_alpha_ratio(edf, back),
        "back": back,
    }


def sine(codec, frequency: float, amplitude: float, tmp: Path, codebooks: int) -> dict:
    t = np.arange(60 * RATE) / RATE
    edf = write_edf(tmp / "sine.edf", ["Cz"], [amplitude * np.sin(2 * np.pi * frequency * t)])
    result = round_trip(codec, edf, tmp, codebooks)
    original, decoded = (load_labelled_channels(p, RATE)[0][1] for p in (edf, result["back"]))
    a, b = original - original.mean(), decoded[: len(original)] - decoded.mean()
    return {
        "power_ratio": round(float((b**2).sum() / (a**2).sum()), 4),
        "r": round(float(np.corrcoef(a, b)[0, 1]), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--models", nargs="+", default=[None])
    parser.add_argument("--files", type=int, default=3, help="Test files per dataset.")
    parser.add_argument("--codebooks", type=int, default=9)
    parser.add_argument("--name", default="waveform_check")
    args = parser.parse_args()
    files = {k: v[: args.files] for k, v in test_files(args.data, 1).items()}
    results: dict = {
        "command": shlex.join(["python", *sys.argv]),
        "files": {k: [p.name for p in v] for k, v in files.items()},
        "models": {},
    }
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for ref in args.models:
            codec = eegzip.load_codec(ref)
            name = str(ref or codec.spec.name)
            entry: dict = {"sha256": codec.spec.sha256, "datasets": {}, "sines": {}}
            for dataset, paths in files.items():
                per_file = [round_trip(codec, p, tmp, args.codebooks) for p in paths]
                entry["datasets"][dataset] = {
                    k: round(float(np.mean([f[k] for f in per_file])), 4)
                    for k in ("prdn", "r", "alpha_ratio")
                }
                s = entry["datasets"][dataset]
                rows.append(f"| {name} | {dataset} ({len(paths)} files) | {s['prdn']:.1f} % | "
                            f"{s['r']:.3f} | {s['alpha_ratio']:.3f} |")  # fmt: skip
                print(rows[-1], flush=True)
            for frequency, amplitude in SINES:
                s = sine(codec, frequency, amplitude, tmp, args.codebooks)
                entry["sines"][f"{frequency:g} Hz {amplitude:g} uV"] = s
                rows.append(f"| {name} | sine {frequency:g} Hz, {amplitude:g} µV | | {s['r']:.3f} "
                            f"| power kept {s['power_ratio']:.3f} |")  # fmt: skip
                print(rows[-1], flush=True)
            results["models"][name] = entry
    markdown = "\n".join([
        f"Command: `{results['command']}` ({args.codebooks} codebooks)", "",
        "| model | input | PRDN | r | alpha ratio (sines: power kept) |",
        "|---|---|---|---|---|", *rows,
    ]) + "\n"  # fmt: skip
    publish(args.name, results, markdown)


if __name__ == "__main__":
    main()
