"""A one-minute window of a remote .eegc: bytes fetched and time, against recording length.

Recordings of 30, 61 and 91 minutes are concatenated from real EEGMAT rest files (8 channels,
500 Hz) in a temporary folder, compressed with the default spectral codec and with the shipped
neural model, and served from a loopback HTTP server with Range support. The window
[600, 660) s is read with ``eegzip.open(url)`` and with ``eegzip.decompress(url, start=600,
duration=60)``, and checked against a local read.

    python benchmarks/remote_window.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from published import publish

import eegzip
from eegzip.bench.remote import serving, write_concatenated_eegmat

FILES = (10, 20, 30)  # 182-s rest files: 30, 61 and 91 minutes
CODECS = {  # name: compress options
    "spectral 100 bit/s (default)": {},
    "neural, 9 codebooks (--bitrate paper)": {"bitrate": "paper"},
}
START, DURATION = 600.0, 60.0


def measure(edf: Path, codec: str, folder: Path) -> dict:
    coded = folder / f"{edf.stem}.eegc"
    eegzip.compress(edf, coded, measure=False, force=True, **CODECS[codec])
    size = coded.stat().st_size
    with eegzip.open(coded) as local:
        minutes = local.duration / 60
        expected = local.read(start=START, duration=DURATION)
    row: dict = {"codec": codec, "minutes": round(minutes, 1), "eegc_bytes": size}
    with serving(folder) as server:  # each way on its own server: a URL of its own, no
        url = f"{server.url}/{coded.name}"  # ranges remembered from the other
        started = time.perf_counter()
        with eegzip.open(url) as remote:
            window = remote.read(start=START, duration=DURATION)
        row["read_seconds"] = round(time.perf_counter() - started, 3)
        row["read_bytes"], row["read_requests"] = server.bytes_sent, len(server.log)
    assert np.array_equal(window, expected), "remote window differs from the local one"
    out = folder / f"window-{edf.stem}.edf"
    with serving(folder) as server:
        url = f"{server.url}/{coded.name}"
        eegzip.decompress(url, out, start=START, duration=DURATION, force=True)
        row["decompress_bytes"], row["decompress_requests"] = server.bytes_sent, len(server.log)
    local_window = folder / f"local-{edf.stem}.edf"
    eegzip.decompress(coded, local_window, start=START, duration=DURATION, force=True)
    assert out.read_bytes() == local_window.read_bytes(), "remote EDF window differs"
    row["read_fraction"] = round(row["read_bytes"] / size, 4)
    row["decompress_fraction"] = round(row["decompress_bytes"] / size, 4)
    return row


def report(results: dict) -> str:
    lines = [
        "# A one-minute window of a remote .eegc",
        "",
        f"`{results['command']}`: EEGMAT rest files concatenated (8 channels, 500 Hz), "
        f"window [{START:g}, {START + DURATION:g}) s over loopback HTTP with "
        "Range requests; every window equals the local read byte for byte.",
        "",
        "| codec | minutes | .eegc bytes | eegzip.open + read: bytes (share), requests, s "
        "| decompress URL --start --duration: bytes (share), requests |",
        "|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['codec']} | {r['minutes']:g} | {r['eegc_bytes']:,} | {r['read_bytes']:,} "
            f"({100 * r['read_fraction']:.1f} %), {r['read_requests']}, {r['read_seconds']:.2f} "
            f"| {r['decompress_bytes']:,} ({100 * r['decompress_fraction']:.1f} %), "
            f"{r['decompress_requests']} |"
        )
    lines += [
        "",
        "A window fetches the preamble, trailer, index (one entry per block), metadata and "
        "EDF header, then the blocks it overlaps: for the neural codec its code blocks (64 s "
        "each) and one more on each side as their context, for the spectral codec its 256-s "
        "blocks; and the annotation signal's blocks. The share falls as the recording grows.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parent.parent / "shared" / "data")
    args = parser.parse_args()
    command = "python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/remote_window.py"] + sys.argv[1:]
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        edfs = [write_concatenated_eegmat(args.data, folder / f"rec{n}.edf", n) for n in FILES]
        rows = [measure(edf, codec, folder) for codec in CODECS for edf in edfs]
    publish(
        "remote_window",
        {"command": command, "rows": rows},
        report({"command": command, "rows": rows}),
    )


if __name__ == "__main__":
    main()
