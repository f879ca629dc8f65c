"""Remote random access: a real, long .eegc served over HTTP with Range support, read by window.

The server is a small threaded handler written here (http.server has no Range support); it
logs every range it serves, so the test can count what a one-minute window costs.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.container.source import RemoteWarning
from eegzip.edf import EdfFile, EdfWriter, build_header, encode_tals
from eegzip.errors import ContainerFormatError, InputNotFoundError

SUBJECTS = 30  # 30 EEGMAT rest files of 182 s: 91 minutes (see the window test)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@pytest.fixture(scope="module")
def long_eegc(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 91-minute EDF+ of real EEGMAT records (30 subjects' rest files one after the
    other, annotation TALs renumbered), compressed with the shipped model."""
    files = [shared_data / "eegmat" / f"Subject{n:02d}_1.edf" for n in range(SUBJECTS + 4)]
    opened = [EdfFile.open(f) for f in files]
    opened = [f for f in opened if f.header.n_records == 182][:SUBJECTS]
    assert len(opened) == SUBJECTS
    first = opened[0].header
    total = sum(f.header.n_records for f in opened)
    folder = tmp_path_factory.mktemp("long")
    edf = folder / "long.edf"
    annotation = first.annotation_indices[0]
    tal_bytes = first.signals[annotation].samples_per_record * 2
    with EdfWriter(edf, build_header(replace(first, n_records=total))) as writer:
        record = 0
        for f in opened:
            for r in range(f.header.n_records):
                rows = [f.read_digital(i, r, r + 1) for i in range(len(first.signals))]
                tals = encode_tals(float(record), [], tal_bytes)
                rows[annotation] = np.frombuffer(tals, "<i2").astype(np.int32)
                writer.write_records(rows)
                record += 1
    for f in opened:
        f.close()
    out = folder / "long.eegc"
    eegzip.compress(edf, out, measure=False)
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, *, ranges: bool, cut_after: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.ranges = ranges
        self.cut_after = cut_after  # close the connection after this many body bytes
        self.log: list[tuple[int, int]] = []  # (first byte, bytes sent) of every answer
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

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
        if match is None or not self.server.ranges:
            first, body, status = 0, data, 200
        else:
            lo, hi = match.groups()
            if lo == "":  # suffix: the last `hi` bytes
                first, last = max(0, size - int(hi)), size - 1
            else:
                first, last = int(lo), min(size - 1, int(hi) if hi else size - 1)
            if first >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, status = data[first : last + 1], 206
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{first + len(body) - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after is not None:
            body = body[: self.server.cut_after]
        with self.server.lock:
            self.server.log.append((first, len(body)))
        self.wfile.write(body)


@pytest.fixture()
def serve() -> Iterator:
    servers: list[_Server] = []

    def start(root: Path, **options) -> tuple[_Server, str]:
        server = _Server(root, **options)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_one_minute_window_transfers_under_a_tenth(long_eegc: Path, serve) -> None:
    server, base = serve(long_eegc.parent, ranges=True)
    url = f"{base}/{long_eegc.name}"
    size = long_eegc.stat().st_size
    with eegzip.open(url) as remote:
        assert remote.duration >= 30 * 60
        window = remote.read(start=600, duration=60)
    sent = sum(n for _, n in server.log)
    assert sent < 0.10 * size, f"{sent} of {size} bytes for one minute: {server.log}"
    assert len(server.log) > 3  # trailer, index, metadata, header, blocks: ranges, not all
    with eegzip.open(long_eegc) as local:
        assert np.array_equal(window, local.read(start=600, duration=60))


def test_cli_on_a_url(long_eegc: Path, serve, tmp_path: Path) -> None:
    server, base = serve(long_eegc.parent, ranges=True)
    url = f"{base}/{long_eegc.name}"
    runner = CliRunner()
    out = tmp_path / "window.edf"
    result = runner.invoke(
        app, ["decompress", url, "-o", str(out), "--start", "600", "--duration", "60"]
    )
    assert result.exit_code == 0, result.output
    sent = sum(n for _, n in server.log)
    assert sent < 0.10 * long_eegc.stat().st_size
    local = tmp_path / "local.edf"
    eegzip.decompress(long_eegc, local, start=600, duration=60)
    assert out.read_bytes() == local.read_bytes()
    info = runner.invoke(app, ["info", url, "--json"])
    assert info.exit_code == 0, info.output
    assert '"bytes": ' + str(long_eegc.stat().st_size) in info.output
    verified = runner.invoke(app, ["verify", url])
    assert verified.exit_code == 0, verified.output
    assert "OK" in verified.output


def test_server_without_ranges_downloads_whole_file_with_a_warning(demo_eegc: Path, serve):
    server, base = serve(demo_eegc.parent, ranges=False)
    with pytest.warns(RemoteWarning, match="does not support range requests"):
        remote = eegzip.open(f"{base}/{demo_eegc.name}")
    with remote, eegzip.open(demo_eegc) as local:
        assert np.array_equal(remote.read(start=10, duration=5), local.read(start=10, duration=5))
    assert server.log == [(0, demo_eegc.stat().st_size)]


def test_bad_remote_inputs_are_one_clear_error(demo_eegc: Path, serve, tmp_path: Path) -> None:
    runner = CliRunner()
    # Unreachable: a port nothing listens on (bound then closed).
    _, base = serve(demo_eegc.parent, ranges=True)
    with pytest.raises(InputNotFoundError, match="answered 404"):
        eegzip.info(f"{base}/missing.eegc")
    closed = _Server(demo_eegc.parent, ranges=True)
    port = closed.server_address[1]
    closed.server_close()
    result = runner.invoke(app, ["info", f"http://127.0.0.1:{port}/demo.eegc"])
    assert result.exit_code == InputNotFoundError.exit_code
    assert "cannot reach the server" in result.output
    assert "Traceback" not in result.output
    # A server that closes the connection mid-transfer.
    _, base = serve(demo_eegc.parent, ranges=True, cut_after=10)
    with pytest.raises(InputNotFoundError, match="closed the connection"):
        eegzip.info(f"{base}/{demo_eegc.name}")
    # A truncated file on the server.
    cut = tmp_path / "cut.eegc"
    cut.write_bytes(demo_eegc.read_bytes()[: os.path.getsize(demo_eegc) // 2])
    _, base = serve(tmp_path, ranges=True)
    with pytest.raises(ContainerFormatError, match="truncated"):
        eegzip.info(f"{base}/cut.eegc")
    result = runner.invoke(app, ["decompress", f"{base}/cut.eegc", "-o", str(tmp_path / "x.edf")])
    assert result.exit_code == ContainerFormatError.exit_code
    assert not (tmp_path / "x.edf").exists()


def test_no_warning_from_a_range_server(demo_eegc: Path, serve) -> None:
    _, base = serve(demo_eegc.parent, ranges=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with eegzip.open(f"{base}/{demo_eegc.name}") as remote:
            assert remote.channels
