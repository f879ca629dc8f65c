"""Does the neural codec earn a place under the spectral codec? Train-split files, at equal
bytes: the spectral codec alone against the DAC-SC codes (1, 3 or 9 codebooks) plus the
spectral codec on what they leave (the residual), with the rest of the budget.

Bytes counted: the spectral blocks, and for the neural base its code blocks (ECOD) too; the
container's own bytes are the same for both and left out. PRDN is pooled over the coded
channels after removing each channel's mean.

    python benchmarks/ladder_neural_base.py
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
from published import publish

import eegzip
from eegzip.bench.ladder import coded_channels, prdn
from eegzip.codec import spectral
from eegzip.container import ContainerReader
from eegzip.container.spectral import encode_spectral_block

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FILES = (
    "eegmat/Subject00_1.edf",
    "guinea-bissau/gb-003.edf",
    "muse/auditory-P300_subject1_session1_r1.edf",
)
BLOCK_SECONDS = 256.0


def spectral_at(x: np.ndarray, rate: float, budget: float) -> np.ndarray:
    """The spectral codec's reconstruction of x within ``budget`` bytes (step by bisection)."""
    block = round(BLOCK_SECONDS * rate)
    target = 0.85

    def run(step: float) -> tuple[int, np.ndarray]:
        out, size = np.empty_like(x), 0
        for i, lo in enumerate(range(0, x.shape[1], block)):
            analysis = spectral.analyse(x[:, lo : lo + block], rate)
            coded = spectral.encode(analysis, step, index=i, band_target=target)
            size += len(encode_spectral_block(coded))
            out[:, lo : lo + block] = spectral.decode(coded, rate)
        return size, out

    lo, hi = math.log(1e-4), math.log(1e6)
    best = run(math.exp(hi))[1]
    for _ in range(18):
        mid = (lo + hi) / 2
        size, y = run(math.exp(mid))
        if size <= budget:
            hi, best = mid, y
        else:
            lo = mid
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--bitrates", type=float, nargs="+", default=[40.0, 100.0, 200.0])
    args = parser.parse_args()
    command = "python benchmarks/ladder_neural_base.py " + shlex.join(sys.argv[1:])
    print(command, flush=True)
    codec = eegzip.load_codec()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in FILES:
            source = args.data / name
            bases = {}
            for n in (1, 3, 9):
                packed, decoded = Path(tmp) / f"{n}.eegc", Path(tmp) / f"{n}.edf"
                eegzip.compress(source, packed, model=codec, codebooks=n, measure=False, force=True)
                eegzip.decompress(packed, decoded, model=codec, force=True)
                with ContainerReader.open(packed) as reader:
                    indices = tuple(reader.meta["codec_channels"])
                    code_bytes = reader.sizes().get("ECOD", 0)
                bases[n] = (code_bytes, coded_channels(decoded, indices)[0])
            x, rate = coded_channels(source, indices)
            seconds = x.shape[1] / rate
            for bitrate in args.bitrates:
                budget = bitrate * seconds * x.shape[0] / 8
                row = {"file": name, "bitrate": bitrate,
                       "spectral_alone": prdn(x, spectral_at(x, rate, budget))}  # fmt: skip
                for n, (code_bytes, y) in bases.items():
                    left = budget - code_bytes
                    row[f"neural_{n}_plus_spectral"] = (
                        prdn(x, y + spectral_at(x - y, rate, left)) if left > 0 else None
                    )
                rows.append(row)
                print(row, flush=True)
    header = "| file | bit/s/ch | spectral alone | ×1 + spectral | ×3 + spectral | ×9 + spectral |"
    lines = [f"# The neural codec as a base layer under the spectral codec\n\n`{command}`\n",
             "PRDN % at equal bytes (train-split files; '—': the codes alone exceed the budget).\n",
             header, "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        cells = [r[f"neural_{n}_plus_spectral"] for n in (1, 3, 9)]
        text = " | ".join("—" if c is None else f"{c:.1f}" for c in cells)
        lines.append(f"| {r['file']} | {r['bitrate']:g} | {r['spectral_alone']:.1f} | {text} |")
    publish("ladder_neural_base", {"command": command, "rows": rows}, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
