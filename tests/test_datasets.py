"""eegzip datasets: describing, and fetching EEGMAT from a mirror served over loopback HTTP."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading

import pytest
from typer.testing import CliRunner

from eegzip.cli import app

runner = CliRunner()


@pytest.fixture()
def mirror(shared_data, tmp_path):
    """Three EEGMAT files and their SHA256SUMS.txt, served on 127.0.0.1."""
    root = tmp_path / "mirror"
    root.mkdir()
    lines = []
    for name in ("Subject00_1.edf", "Subject00_2.edf", "subject-info.csv"):
        data = (shared_data / "eegmat" / name).read_bytes()
        (root / name).write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
    (root / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_describe():
    rows = json.loads(runner.invoke(app, ["datasets", "--json"]).stdout)
    assert {r["name"] for r in rows} == {"eegmat", "guinea-bissau"}
    assert all(r["citation"] and r["licence"] for r in rows)


def test_fetch_over_http_verifies_and_resumes(mirror, shared_data, tmp_path):
    root, url = mirror
    dest = tmp_path / "dest"
    args = ["datasets", "--fetch", "eegmat", "--dest", str(dest), "--mirror", url, "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["fetched"] == 3
    for name in ("Subject00_1.edf", "subject-info.csv"):
        assert (dest / name).read_bytes() == (shared_data / "eegmat" / name).read_bytes()
    again = json.loads(runner.invoke(app, args).stdout)
    assert (again["fetched"], again["kept"]) == (0, 3)


def test_fetch_rejects_a_corrupted_file(mirror, tmp_path):
    root, url = mirror
    data = bytearray((root / "Subject00_2.edf").read_bytes())
    data[5000] ^= 1
    (root / "Subject00_2.edf").write_bytes(bytes(data))
    dest = tmp_path / "dest"
    result = runner.invoke(app, ["datasets", "--fetch", "eegmat", "--dest", str(dest),
                                 "--mirror", url])  # fmt: skip
    assert result.exit_code == 1 and "SHA-256 mismatch" in result.stderr
    assert not (dest / "Subject00_2.edf").exists()
    assert not any(p.name.endswith(".part") for p in dest.iterdir())


def test_fetch_from_a_local_folder_and_unknown_names(mirror, tmp_path):
    root, _ = mirror
    ok = runner.invoke(app, ["datasets", "--fetch", "eegmat", "--dest", str(tmp_path / "d"),
                             "--mirror", str(root)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["datasets", "--fetch", "tuh", "--dest", str(tmp_path / "e")])
    assert bad.exit_code == 1 and "unknown dataset" in bad.stderr
