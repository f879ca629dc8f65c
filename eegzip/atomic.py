"""One way to write an output file: a recognisable temporary file next to it, renamed on success.

Why: every writer (.eegc, EDF, .npz, weights) must leave either the complete file or nothing,
never overwrite without ``--force``, never destroy its own input, and clean up after itself
even when killed. The temporary file is ``.NAME.eegzip-tmp-PID`` in the target's directory
(same file system, so the rename is atomic); SIGTERM removes this process's temporary files
before it dies (SIGINT raises KeyboardInterrupt, which unwinds into ``abort``), and the next
output written to a directory removes those left there by processes that no longer run
(``kill -9``, a power cut).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import BinaryIO

from eegzip.errors import EegzipError, OutputExistsError, UsageError

TMP_MARK = ".eegzip-tmp-"
_STALE = re.compile(r"^\..+" + re.escape(TMP_MARK) + r"(\d+)$")
_live: set[Path] = set()  # this process's temporary files
_swept: set[Path] = set()  # directories already swept by this process
_lock = threading.Lock()


def temporary_path(target: Path) -> Path:
    """``.NAME.eegzip-tmp-PID`` next to ``target``."""
    return target.with_name(f".{target.name}{TMP_MARK}{os.getpid()}")


def check_target(target: Path, force: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse a directory, one of the inputs (even with ``force``), or an existing file
    without ``force``."""
    for source in inputs:
        if _same_file(target, source):
            raise UsageError(f"{target}: is the input file; choose another output")
    if target.is_dir():
        raise OutputExistsError(f"{target}: is a directory")
    if target.exists() and not force:
        raise OutputExistsError(f"{target}: already exists (use --force to overwrite)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


class AtomicOutput:
    """A file being written for ``target``: write to ``file``, then ``commit()`` or ``abort()``.

    As a context manager it commits on a normal exit and aborts on an exception.
    """

    def __init__(self, target: Path, *, force: bool = False, inputs: tuple[Path, ...] = ()):
        self.target = Path(target)
        self.force = force
        self.inputs = tuple(Path(p) for p in inputs)
        check_target(self.target, force, self.inputs)
        sweep_stale(self.target.parent)
        self.temporary = temporary_path(self.target)
        try:  # os.open, not mkstemp: the file gets the umask's permissions, not 0600
            fd = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise EegzipError(f"{self.target}: cannot create: {exc.strerror or exc}") from None
        _register(self.temporary)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.committed = False

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def close_file(self) -> None:
        """Flush, sync and close the temporary file (before checking it, or by commit)."""
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()

    def commit(self) -> Path:
        """Rename the complete temporary file onto the target; abort on any failure."""
        try:
            self.close_file()
            check_target(self.target, self.force, self.inputs)  # it may have appeared meanwhile
            os.replace(self.temporary, self.target)
        except BaseException:
            self.abort()
            raise
        self.committed = True
        _unregister(self.temporary)
        _fsync_directory(self.target.parent)
        return self.target

    def abort(self) -> None:
        """Drop the temporary file, leaving the target untouched; a no-op after commit."""
        with contextlib.suppress(OSError):
            self.file.close()
        if not self.committed:
            self.temporary.unlink(missing_ok=True)
            _unregister(self.temporary)


def sweep_stale(directory: Path) -> list[Path]:
    """Remove eegzip temporary files in ``directory`` whose process no longer runs (once per
    directory and process); returns what was removed."""
    directory = directory.resolve()
    with _lock:
        if directory in _swept:
            return []
        _swept.add(directory)
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            match = _STALE.match(entry.name)
            if match and not _running(int(match.group(1))) and entry.is_file():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True


def _register(path: Path) -> None:
    with _lock:
        _live.add(path)
    _install_sigterm_handler()


def _unregister(path: Path) -> None:
    with _lock:
        _live.discard(path)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Remove this process's temporary files, then die of the signal as it would have."""
    for path in list(_live):
        with contextlib.suppress(OSError):
            path.unlink()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_sigterm_handler() -> None:
    """Only from the main thread, and only over the default action (not over a pool's own)."""
    if threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
