"""Batches: worker processes, resume after an interrupt, isolated failures, the manifest."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import eegzip
from eegzip import batch
from eegzip.atomic import TMP_MARK
from eegzip.cli import app
from eegzip.demo import make_demo_edf

runner = CliRunner()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short synthetic EDF+ files (different seeds) and one that is not an EDF."""
    folder = tmp_path_factory.mktemp("recordings")
    make_demo_edf(folder / "a.edf", seconds=20, seed=1)
    (folder / "sub").mkdir()
    make_demo_edf(folder / "sub" / "b.edf", seconds=20, seed=2)
    (folder / "broken.edf").write_bytes(b"not an EDF at all")
    return folder


def _manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_workers_isolate_failures_write_a_manifest_and_resume(recordings, tmp_path):
    out = tmp_path / "out"
    args = ["compress", str(recordings), "-o", str(out), "--no-metrics", "--codebooks", "3"]
    first = runner.invoke(app, [*args, "--workers", "2"])
    assert first.exit_code == 4, first.output  # the broken file's code; the others are done
    assert "3 files: 2 compressed, 0 skipped (already done), 1 failed" in first.stderr
    assert sum("broken.edf" in line for line in first.stderr.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.eegc", "b.eegc", batch.MANIFEST_NAME]
    records = {Path(r["input"]).name: r for r in _manifest(out / batch.MANIFEST_NAME)}
    assert {n: r["status"] for n, r in records.items()} == {
        "a.edf": "done",
        "b.edf": "done",
        "broken.edf": "failed",
    }
    done = records["a.edf"]
    assert done["bytes_in"] == (recordings / "a.edf").stat().st_size
    assert done["bytes_out"] == (out / "a.eegc").stat().st_size
    assert done["ratio"] == pytest.approx(done["bytes_in"] / done["bytes_out"], rel=1e-3)
    assert done["channel_hours"] == pytest.approx(21 * 20 / 3600, rel=1e-3)  # 21 signals
    assert done["seconds"] > 0 and done["error"] is None and done["worker_peak_rss_mb"] > 0
    assert "too short" in records["broken.edf"]["error"] and records["broken.edf"]["exit_code"] == 4

    # Same bytes from one worker in this process: nothing depends on the worker count.
    single = tmp_path / "single.eegc"
    eegzip.compress(recordings / "a.edf", single, measure=False, codebooks=3)
    assert single.read_bytes() == (out / "a.eegc").read_bytes()

    # Interrupted runs leave whole files or none: remove one, run again, only it is redone.
    kept = (out / "a.eegc").stat().st_mtime_ns
    (out / "b.eegc").unlink()
    again = runner.invoke(app, [*args, "--workers", "1"])
    assert "3 files: 1 compressed, 1 skipped (already done), 1 failed" in again.stderr
    assert (out / "a.eegc").stat().st_mtime_ns == kept and (out / "b.eegc").exists()
    statuses = [r["status"] for r in _manifest(out / batch.MANIFEST_NAME)]
    assert len(statuses) == 6 and statuses.count("skipped") == 1


def test_an_existing_output_that_does_not_verify_is_not_overwritten(recordings, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.eegc").write_bytes(b"EEGC half a file")
    result = runner.invoke(
        app, ["compress", str(recordings / "a.edf"), str(recordings / "sub"), "-o", str(out),
              "--no-metrics", "--codebooks", "1", "--workers", "1"]
    )  # fmt: skip
    assert result.exit_code == 6, result.output
    assert "does not verify" in result.stderr and "--force" in result.stderr
    assert (out / "a.eegc").read_bytes() == b"EEGC half a file"
    assert (out / "b.eegc").exists()


def test_decompress_verify_and_tokens_run_as_batches(recordings, tmp_path):
    packed = tmp_path / "packed"
    sources = [str(recordings / "a.edf"), str(recordings / "sub")]
    args = ["--no-metrics", "--codebooks", "2", "--workers", "1"]
    assert runner.invoke(app, ["compress", *sources, "-o", str(packed), *args]).exit_code == 0
    (packed / "damaged.eegc").write_bytes((packed / "a.eegc").read_bytes()[:-40])

    checked = runner.invoke(
        app, ["verify", str(packed), "--workers", "2", "--manifest", str(tmp_path / "v.jsonl")]
    )
    assert checked.exit_code == 4, checked.output
    assert "3 files: 2 verified, 0 skipped (already done), 1 failed" in checked.stderr
    statuses = {Path(r["input"]).name: r["status"] for r in _manifest(tmp_path / "v.jsonl")}
    assert statuses == {"a.eegc": "done", "b.eegc": "done", "damaged.eegc": "failed"}

    (packed / "damaged.eegc").unlink()
    unpacked = runner.invoke(
        app, ["decompress", str(packed), "-o", str(tmp_path / "edf"), "--workers", "2", "--json"]
    )
    assert unpacked.exit_code == 0, unpacked.output
    outputs = [Path(r["output"]).name for r in json.loads(unpacked.stdout)]
    assert outputs == ["a.decoded.edf", "b.decoded.edf"]  # in the inputs' order
    assert (tmp_path / "edf" / batch.MANIFEST_NAME).exists()

    tokens = runner.invoke(app, ["tokens", str(packed), "-o", str(tmp_path / "tok"), "-w", "2"])
    assert tokens.exit_code == 0, tokens.output
    saved = eegzip.Tokens.load(tmp_path / "tok" / "b.tokens.npz")
    assert saved.codes.shape[1] == 2


def test_real_recordings_through_two_workers_match_one_process(shared_data, tmp_path):
    folder = tmp_path / "gb"
    folder.mkdir()
    for name in ("gb-001.edf", "gb-002.edf"):
        shutil.copy(shared_data / "guinea-bissau" / name, folder / name)
    out = tmp_path / "out"
    result = runner.invoke(app, ["compress", str(folder), "-o", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    records = _manifest(out / batch.MANIFEST_NAME)
    assert all(0 < r["fidelity"]["prdn"] < 100 and 0 < r["fidelity"]["r"] < 1 for r in records)
    alone = tmp_path / "alone.eegc"
    eegzip.compress(folder / "gb-002.edf", alone)
    assert alone.read_bytes() == (out / "gb-002.eegc").read_bytes()


STOP_TWICE = """
import os, signal
from eegzip import batch
batch._init_worker()
batch._in_job = True
try:
    os.kill(os.getpid(), signal.SIGTERM)
    signal.pause()
except batch._Stopped:
    os.kill(os.getpid(), signal.SIGTERM)  # the pool's own SIGTERM, during the unwinding
    print("unwound")
"""


def test_a_stopping_worker_is_not_cut_short_by_a_second_sigterm():
    """Told to stop, a pool worker unwinds its job (removing its temporary file); the pool
    sends the workers left a second SIGTERM once it sees one gone, which must not interrupt
    that unwinding (seen: a temporary file left behind after Ctrl-C, in 1 of 16 runs)."""
    done = subprocess.run(
        [sys.executable, "-c", STOP_TWICE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "unwound", done.stderr


def test_interrupted_batch_leaves_no_partial_file_and_finishes_on_rerun(shared_data, tmp_path):
    folder = tmp_path / "gb"
    folder.mkdir()
    names = [f"gb-00{i}.edf" for i in range(1, 5)]
    for name in names:
        shutil.copy(shared_data / "guinea-bissau" / name, folder / name)
    out = tmp_path / "out"
    args = ["compress", str(folder), "-o", str(out), "--no-metrics"]
    command = [sys.executable, "-m", "eegzip", *args, "--workers", "2"]
    # A shell may start background jobs with SIGINT ignored; give the child the default.
    child = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 240
    while not any(TMP_MARK in p.name for p in out.glob(".*")) and time.monotonic() < deadline:
        time.sleep(0.2)  # until a worker is writing
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=120) == 130, child.stderr.read() if child.stderr else ""
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # temporary files gone
    finished = {p.name for p in out.glob("*.eegc")}
    assert len(finished) < len(names)
    again = runner.invoke(app, [*args, "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert f"{len(finished)} skipped" in again.stderr
    assert {p.name for p in out.glob("*.eegc")} == {n.replace(".edf", ".eegc") for n in names}
    statuses = [r["status"] for r in _manifest(out / batch.MANIFEST_NAME)]
    assert statuses.count("done") == len(names) and statuses.count("skipped") == len(finished)
