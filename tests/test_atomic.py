"""Outputs: complete or absent, never the input, temporary files cleaned up even when killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from eegzip.atomic import TMP_MARK, AtomicOutput, sweep_stale, temporary_path
from eegzip.cli import app
from eegzip.demo import make_demo_edf
from eegzip.errors import OutputExistsError, UsageError

runner = CliRunner()


def test_temporary_files_are_named_recognisably(tmp_path):
    target = tmp_path / "x.eegc"
    assert temporary_path(target).name == f".x.eegc{TMP_MARK}{os.getpid()}"
    with AtomicOutput(target) as output:
        output.file.write(b"data")
        assert output.temporary.exists() and not target.exists()
    assert target.read_bytes() == b"data" and os.listdir(tmp_path) == ["x.eegc"]
    with pytest.raises(RuntimeError), AtomicOutput(target, force=True) as output:
        output.file.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"data" and os.listdir(tmp_path) == ["x.eegc"]
    with pytest.raises(OutputExistsError, match="use --force"):
        AtomicOutput(target)
    with pytest.raises(UsageError, match="is the input file"):
        AtomicOutput(target, force=True, inputs=(tmp_path / "." / "x.eegc",))


def test_stale_temporary_files_are_swept(tmp_path):
    """Left by a process that no longer runs (kill -9): removed by the next run there."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".old.eegc{TMP_MARK}{int(dead.stdout)}"
    mine = temporary_path(tmp_path / "busy.eegc")  # this process: still being written
    other = tmp_path / ".notes.txt.tmp"
    for path in (stale, mine, other):
        path.write_bytes(b"x")
    assert sweep_stale(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_output_that_is_the_input_is_refused_even_with_force(tmp_path, command):
    source = make_demo_edf(tmp_path / "a.edf", seconds=10)
    if command == "decompress":
        assert runner.invoke(app, ["compress", str(source), "-o", str(tmp_path / "a.eegc"),
                                   "--no-metrics"]).exit_code == 0  # fmt: skip
        source = tmp_path / "a.eegc"
    before = source.read_bytes()
    result = runner.invoke(app, [command, str(source), "-o", str(source), "--force"])
    assert result.exit_code == 2 and "is the input file" in result.stderr
    assert source.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if TMP_MARK in p.name]


def test_sigterm_removes_the_temporary_file(tmp_path):
    source = make_demo_edf(tmp_path / "long.edf", seconds=600)
    out = tmp_path / "out"
    out.mkdir()
    child = subprocess.Popen([sys.executable, "-m", "eegzip", "compress", str(source), "-o",
                              str(out / "long.eegc")], stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(TMP_MARK in p.name for p in out.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is None, "finished before it could be interrupted"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == -signal.SIGTERM
    assert list(out.iterdir()) == []
