"""Measuring remote random access: a loopback HTTP server with Range support that logs what
it sends, and a long real recording to serve.

Python's http.server answers every request with the whole file, so this small threaded server
implements single byte ranges (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) itself. It can also
ignore ranges, or close connections early, to exercise the client's fallbacks and errors.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from eegzip.edf import EdfFile, EdfWriter, build_header, encode_tals

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeServer(ThreadingHTTPServer):
    """Serves the files of ``root`` on 127.0.0.1; ``log`` holds (first byte, bytes sent) per
    answer. ``ranges=False`` ignores Range headers; ``cut_after`` closes each connection after
    that many body bytes."""

    daemon_threads = True

    def __init__(self, root: Path, *, ranges: bool = True, cut_after: int | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.ranges = ranges
        self.cut_after = cut_after
        self.log: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def bytes_sent(self) -> int:
        with self.lock:
            return sum(n for _, n in self.log)


class _Handler(BaseHTTPRequestHandler):
    server: RangeServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.server.root / self.path.lstrip("/").split("?")[0]
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        size = len(data)
        match = _RANGE.fullmatch(self.headers.get("Range", ""))
        status, first, body = 200, 0, data
        if match is not None and self.server.ranges:
            lo, hi = match.groups()
            if lo == "":  # a suffix: the last `hi` bytes
                first, last = max(0, size - int(hi or 0)), size - 1
            else:
                first, last = int(lo), min(size - 1, int(hi) if hi else size - 1)
            if first >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, body = 206, data[first : last + 1]
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{first + len(body) - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
        self.end_headers()
        if self.server.cut_after is not None:
            body = body[: self.server.cut_after]
        with self.server.lock:
            self.server.log.append((first, len(body)))
        self.wfile.write(body)


@contextmanager
def serving(
    root: Path, *, ranges: bool = True, cut_after: int | None = None
) -> Iterator[RangeServer]:
    """A RangeServer over ``root``, running in a thread for the ``with`` block."""
    server = RangeServer(root, ranges=ranges, cut_after=cut_after)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def write_concatenated_eegmat(data: Path, path: Path, files: int) -> Path:
    """An EDF+ of ``files`` EEGMAT rest recordings of 182 s one after the other (real EEG, 8
    channels at 500 Hz), the annotation signal's time keeping renumbered; written record by
    record."""
    sources = sorted((data / "eegmat").glob("Subject*_1.edf"))
    opened = []
    for source in sources:
        edf = EdfFile.open(source)
        if edf.header.n_records == 182 and len(opened) < files:
            opened.append(edf)
        else:
            edf.close()
    if len(opened) < files:
        raise ValueError(f"{data / 'eegmat'} has only {len(opened)} rest files of 182 s")
    first = opened[0].header
    annotation = first.annotation_indices[0]
    tal_bytes = first.signals[annotation].samples_per_record * first.bytes_per_sample
    total = sum(edf.header.n_records for edf in opened)
    with EdfWriter(path, build_header(replace(first, n_records=total)), force=True) as writer:
        record = 0
        for edf in opened:
            with edf:
                for r in range(edf.header.n_records):
                    rows = [edf.read_digital(i, r, r + 1) for i in range(len(first.signals))]
                    tals = encode_tals(float(record), [], tal_bytes)
                    rows[annotation] = np.frombuffer(tals, "<i2").astype(np.int32)
                    writer.write_records(rows)
                    record += 1
    return path
