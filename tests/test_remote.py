"""Remote random access: a real, long .eegc served over HTTP with Range support, read by window.

The server (eegzip.bench.remote; http.server has no Range support) logs every range it
serves, so the test can count what a one-minute window costs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.bench.remote import RangeServer, serving, write_concatenated_eegmat
from eegzip.cli import app
from eegzip.container.source import RemoteWarning
from eegzip.errors import ContainerFormatError, InputNotFoundError, UnsupportedError

SUBJECTS = 30  # EEGMAT rest files of 182 s: 91 minutes (see the window test)


@pytest.fixture(scope="module")
def long_eegc(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 91-minute EDF+ of real EEGMAT records, compressed with the default codec."""
    folder = tmp_path_factory.mktemp("long")
    edf = write_concatenated_eegmat(shared_data, folder / "long.edf", SUBJECTS)
    out = folder / "long.eegc"
    eegzip.compress(edf, out, measure=False)
    return out


@pytest.fixture()
def serve() -> Iterator:
    with ExitStack() as stack:

        def start(root: Path, **options) -> tuple[RangeServer, str]:
            server = stack.enter_context(serving(root, **options))
            return server, server.url

        yield start


def test_one_minute_window_transfers_under_a_tenth(long_eegc: Path, serve) -> None:
    server, base = serve(long_eegc.parent, ranges=True)
    url = f"{base}/{long_eegc.name}"
    size = long_eegc.stat().st_size
    with eegzip.open(url) as remote:
        assert remote.duration >= 30 * 60
        window = remote.read(start=600, duration=60)
    sent = server.bytes_sent
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
    sent = server.bytes_sent
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
    refused = runner.invoke(app, ["compress", url.replace(".eegc", ".edf")])
    assert refused.exit_code == UnsupportedError.exit_code
    assert "not URLs" in refused.output


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
    closed = RangeServer(demo_eegc.parent)
    port = closed.server_address[1]
    closed.server_close()
    result = runner.invoke(app, ["info", f"http://127.0.0.1:{port}/demo.eegc"])
    assert result.exit_code == InputNotFoundError.exit_code
    assert "cannot reach the server" in result.output
    assert "Traceback" not in result.output
    # A server that closes the connection mid-transfer.
    for cut in (10, 100):  # in the first answer, or later (the index and blocks are longer)
        _, base = serve(demo_eegc.parent, ranges=True, cut_after=cut)
        with pytest.raises(InputNotFoundError, match=f"closed the connection after {cut} of"):
            eegzip.info(f"{base}/{demo_eegc.name}")
    result = runner.invoke(app, ["decompress", f"{base}/{demo_eegc.name}", "-o", str(tmp_path)])
    assert result.exit_code == InputNotFoundError.exit_code
    assert "closed the connection" in result.output and "Traceback" not in result.output
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


def test_fsspec_url(demo_eegc: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    memory.pipe("/eegzip-test/demo.eegc", demo_eegc.read_bytes())
    try:
        with (
            eegzip.open("memory://eegzip-test/demo.eegc") as remote,
            eegzip.open(demo_eegc) as local,
        ):
            assert np.array_equal(remote.read(start=3, duration=4), local.read(start=3, duration=4))
        assert eegzip.verify("memory://eegzip-test/demo.eegc").ok
        with pytest.raises(InputNotFoundError, match="no such file"):
            eegzip.info("memory://eegzip-test/missing.eegc")
    finally:
        memory.rm("/eegzip-test", recursive=True)


def test_remote_edf_window(shared_data: Path, serve) -> None:
    source = shared_data / "eegmat" / "Subject00_1.edf"
    server, base = serve(source.parent)
    with eegzip.open(f"{base}/{source.name}") as remote, eegzip.open(source) as local:
        assert remote.channels == local.channels and remote.raw_header == local.raw_header
        window = remote.read(start=30, duration=10)
        assert np.array_equal(window, local.read(start=30, duration=10))
    assert server.bytes_sent < source.stat().st_size / 10  # the header and 10 of 182 records


def test_tokens_of_a_url(demo_edf: Path, serve, tmp_path: Path) -> None:
    neural = tmp_path / "served" / "neural.eegc"
    neural.parent.mkdir()
    eegzip.compress(demo_edf, neural, measure=False, bitrate="paper")
    _, base = serve(neural.parent)
    out = tmp_path / "t.npz"
    result = CliRunner().invoke(app, ["tokens", f"{base}/neural.eegc", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert np.array_equal(eegzip.Tokens.load(out).codes, eegzip.tokens(neural).codes)
