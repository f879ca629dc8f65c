"""The Ray backend: a real local cluster (127.0.0.1, 2 CPUs) started inside the test run."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eegzip import batch
from eegzip.cli import app

runner = CliRunner()
FILES = ("gb-001.edf", "gb-002.edf")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster of 2 CPUs on 127.0.0.1; yields its address (HOST:PORT)."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    ray.init(
        num_cpus=2,
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        object_store_memory=batch.RAY_OBJECT_STORE_BYTES,
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def real_folder(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gb")
    for name in FILES:
        shutil.copy(shared_data / "guinea-bissau" / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def by_workers(real_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder compressed by the local process pool: what Ray must reproduce."""
    out = tmp_path_factory.mktemp("workers")
    _compress(real_folder, out, "--workers", "2")
    return out


def _compress(folder: Path, out: Path, *backend: str) -> None:
    args = ["compress", str(folder), "-o", str(out), "--no-metrics", *backend]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def test_ray_gives_the_bytes_of_the_worker_processes(cluster, real_folder, by_workers, tmp_path):
    _compress(real_folder, tmp_path / "ray", "--ray")
    for name in FILES:
        eegc = name.replace(".edf", ".eegc")
        assert (tmp_path / "ray" / eegc).read_bytes() == (by_workers / eegc).read_bytes()
    records = (tmp_path / "ray" / batch.MANIFEST_NAME).read_text().splitlines()
    assert len(records) == len(FILES) and all('"status": "done"' in r for r in records)
    assert all('"worker_peak_rss_mb": 0.0' not in r for r in records)  # memory is reported


def test_a_second_driver_joins_by_address_and_resumes(cluster, real_folder, by_workers, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(by_workers / "gb-001.eegc", out)  # as if interrupted after the first file
    done = subprocess.run(
        [sys.executable, "-m", "eegzip", "compress", str(real_folder), "-o", str(out),
         "--no-metrics", "--ray-address", cluster],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 files: 1 compressed, 1 skipped (already done), 0 failed" in done.stderr
    assert (out / "gb-002.eegc").read_bytes() == (by_workers / "gb-002.eegc").read_bytes()


def test_without_ray_one_line_names_the_extra(demo_edf, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if not installed
    result = runner.invoke(app, ["compress", str(demo_edf), "-o", str(tmp_path), "--ray"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "pip install 'eegzip[ray]'" in lines[0]
    assert list(tmp_path.iterdir()) == []
