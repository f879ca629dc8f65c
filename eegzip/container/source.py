"""Where a container's bytes come from: a local file, or a URL read by byte ranges.

ContainerReader only seeks and reads, so a remote file needs nothing but a seekable file
object that fetches what is read. ``http(s)://`` goes through urllib with HTTP Range requests
(no extra dependency); any other ``scheme://`` goes through fsspec if it is installed. A server
that ignores Range requests is downloaded whole, with a warning.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import threading
import urllib.error
import urllib.request
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from eegzip.errors import InputNotFoundError, UnsupportedError

from .format import PREAMBLE_SIZE

HEAD_BYTES = PREAMBLE_SIZE
"""Read from a URL's start when it is opened: the preamble, read first anyway, and the
Content-Range answer tells the file's size. (Not the end: some range servers, Python's
RangeHTTPServer among them, refuse suffix ranges such as ``bytes=-24``.)"""

CACHE_RANGES = 64
"""Fetched ranges kept per URL, most recently used first: a block read twice is fetched once."""

CACHE_BYTES = 32 << 20
"""At most this many bytes of them (an EDF read by the chunk would otherwise pile up)."""

REMEMBERED_URLS = 8
"""URLs whose fetched ranges outlive the file object, so that opening the same URL again in
this process (a command plans, then reads) fetches its index once. Reused only while the
URL's size, ETag and Last-Modified, asked at every open, are unchanged."""

TIMEOUT_SECONDS = 30.0

_CACHE_LOCK = threading.Lock()  # caches of one URL are shared by its open files
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class RemoteWarning(UserWarning):
    """Something a user should know about a remote read (the server ignores Range requests)."""


def is_url(name: str | os.PathLike[str]) -> bool:
    """``http://...``, ``https://...``, ``s3://...``: anything with a scheme."""
    return isinstance(name, str) and _URL.match(name) is not None


class RangeFile(io.RawIOBase):
    """A read-only, seekable file whose bytes come from ``fetch(offset, length)``.

    Every range fetched is kept (``CACHE_RANGES`` of them, least recently used dropped), and a
    read inside a kept range is served from it. ``fetched`` lists the (offset, length) of every
    fetch, so what a read cost can be measured.
    """

    def __init__(
        self,
        name: str,
        size: int,
        fetch: Callable[[int, int], bytes],
        cache: OrderedDict[int, bytes] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.size = size
        self._fetch = fetch
        self._position = 0
        self._cache: OrderedDict[int, bytes] = OrderedDict() if cache is None else cache
        self.fetched: list[tuple[int, int]] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError(f"{self.name}: read from a closed file")
        start = self._position
        stop = self.size if size is None or size < 0 else min(self.size, start + size)
        if stop <= start:
            return b""
        data = self._cached(start, stop)
        if data is None:
            data = self._fetch(start, stop - start)
            self.fetched.append((start, len(data)))
            self.keep(start, data)
        self._position = start + len(data)
        return data

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def keep(self, offset: int, data: bytes) -> None:
        """Remember ``data`` as the bytes at ``offset`` (the reader's tail prefetch uses it)."""
        with _CACHE_LOCK:
            self._cache[offset] = data
            self._cache.move_to_end(offset, last=False)
            while len(self._cache) > CACHE_RANGES or (
                len(self._cache) > 1 and sum(map(len, self._cache.values())) > CACHE_BYTES
            ):
                self._cache.popitem()

    def _cached(self, start: int, stop: int) -> bytes | None:
        with _CACHE_LOCK:
            for offset, data in self._cache.items():
                if offset <= start and stop <= offset + len(data):
                    self._cache.move_to_end(offset, last=False)
                    return data[start - offset : stop - offset]
        return None

    @property
    def bytes_fetched(self) -> int:
        return sum(length for _, length in self.fetched)


def open_source(name: str | os.PathLike[str]) -> tuple[BinaryIO, int]:
    """An open binary file for a path or URL, and its size in bytes.

    Missing, unreachable or unreadable inputs raise InputNotFoundError with a one-line message.
    """
    if is_url(name):
        assert isinstance(name, str)
        if name.lower().startswith(("http://", "https://")):
            return _open_http(name)
        return _open_fsspec(name)
    path = Path(name)
    try:
        file = open(path, "rb")  # noqa: SIM115 - the caller owns it
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputNotFoundError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputNotFoundError(f"{path}: cannot open: {exc.strerror or exc}") from None
    return file, os.fstat(file.fileno()).st_size


def source_size(file: BinaryIO) -> int:
    """Size of a file from open_source."""
    if isinstance(file, RangeFile):
        return file.size
    if isinstance(file, io.BytesIO):
        return len(file.getbuffer())
    return os.fstat(file.fileno()).st_size


def _request(url: str, first: int, last: int) -> urllib.request.Request:
    """GET of bytes first..last (inclusive)."""
    wanted = f"bytes={first}-{last}"
    return urllib.request.Request(url, headers={"Range": wanted, "Accept-Encoding": "identity"})


def _failure(url: str, exc: BaseException) -> InputNotFoundError:
    if isinstance(exc, urllib.error.HTTPError):
        return InputNotFoundError(f"{url}: the server answered {exc.code} {exc.reason}")
    if isinstance(exc, urllib.error.URLError):
        return InputNotFoundError(f"{url}: cannot reach the server: {exc.reason}")
    if isinstance(exc, http.client.IncompleteRead):
        got = len(exc.partial)
        return InputNotFoundError(
            f"{url}: the server closed the connection after {got} of "
            f"{got + (exc.expected or 0)} bytes"
        )
    return InputNotFoundError(f"{url}: the transfer failed: {exc}")


def _body(url: str, response: http.client.HTTPResponse, expected: int | None) -> bytes:
    try:
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise _failure(url, exc) from None
    if expected is not None and len(data) != expected:
        raise InputNotFoundError(
            f"{url}: the server closed the connection after {len(data)} of {expected} bytes"
        )
    return data


def _open_http(url: str) -> tuple[BinaryIO, int]:
    """A RangeFile over ``url``, primed with its first bytes; a whole download if the
    server ignores Range requests."""
    request = _request(url, 0, HEAD_BYTES - 1)
    downloaded = _DOWNLOADED.get(url)
    if downloaded is not None:  # a whole download before: unchanged (304) means reuse it
        for header, value in downloaded[0].items():
            request.add_header(header, value)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and downloaded is not None:
            return io.BytesIO(downloaded[1]), len(downloaded[1])
        if exc.code != 416:  # 416: an empty file has no first bytes
            raise _failure(url, exc) from None
        return io.BytesIO(b""), 0
    except (OSError, http.client.HTTPException) as exc:
        raise _failure(url, exc) from None
    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        content_range = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if response.status != 206 or content_range is None:
            warnings.warn(
                f"{url}: the server does not support range requests; downloading the whole file",
                RemoteWarning,
                stacklevel=2,
            )
            data = _body(url, response, expected)
            _remember_download(url, response.headers, data)
            return io.BytesIO(data), len(data)
        head = _body(url, response, expected)
        version = (response.headers.get("ETag"), response.headers.get("Last-Modified"))
    first, size = int(content_range.group(1)), int(content_range.group(3))

    def fetch(offset: int, count: int) -> bytes:
        try:
            with urllib.request.urlopen(
                _request(url, offset, offset + count - 1), timeout=TIMEOUT_SECONDS
            ) as part:
                if part.status != 206:
                    raise InputNotFoundError(f"{url}: the server stopped honouring range requests")
                return _body(url, part, count)
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # past the end: the file is shorter than it said
                return b""
            raise _failure(url, exc) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _failure(url, exc) from None

    file = RangeFile(url, size, fetch, _remembered(url, (size, *version)))
    file.fetched.append((first, len(head)))
    file.keep(first, head)
    return file, size  # type: ignore[return-value]


_REMEMBERED: OrderedDict[str, tuple[tuple, OrderedDict[int, bytes]]] = OrderedDict()
_DOWNLOADED: OrderedDict[str, tuple[dict[str, str], bytes]] = OrderedDict()
"""The last whole download (a server without ranges) with the headers that ask whether it
changed: a command that opens the file twice downloads it once."""


def _remember_download(url: str, headers, data: bytes) -> None:
    asks = {
        ask: headers[given]
        for given, ask in (("ETag", "If-None-Match"), ("Last-Modified", "If-Modified-Since"))
        if headers.get(given)
    }
    with _CACHE_LOCK:
        _DOWNLOADED.pop(url, None)
        if asks and len(data) <= CACHE_BYTES:
            _DOWNLOADED[url] = (asks, data)
        while len(_DOWNLOADED) > 1:
            _DOWNLOADED.popitem(last=False)


def _remembered(url: str, version: tuple[int, str | None, str | None]) -> OrderedDict[int, bytes]:
    """The ranges fetched by an earlier open of ``url`` if its version (size, ETag,
    Last-Modified) is the same, else new ones; a server that gives neither ETag nor
    Last-Modified cannot show a change, so nothing is kept for it."""
    cache: OrderedDict[int, bytes] = OrderedDict()
    if version[1:] == (None, None):
        return cache
    with _CACHE_LOCK:
        known = _REMEMBERED.pop(url, None)
        if known is not None and known[0] == version:
            cache = known[1]
        _REMEMBERED[url] = (version, cache)
        while len(_REMEMBERED) > REMEMBERED_URLS:
            _REMEMBERED.popitem(last=False)
    return cache


def _open_fsspec(url: str) -> tuple[BinaryIO, int]:
    try:
        import fsspec
    except ImportError:
        raise UnsupportedError(
            f"{url}: reading this kind of URL needs fsspec (pip install fsspec); "
            "http(s) URLs need nothing extra"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
        size = int(fs.size(path))
    except FileNotFoundError:
        raise InputNotFoundError(f"{url}: no such file") from None
    except ValueError as exc:  # unknown protocol
        raise UnsupportedError(f"{url}: {exc}") from None
    except (OSError, ImportError) as exc:
        raise InputNotFoundError(f"{url}: cannot open: {exc}") from None

    def fetch(offset: int, count: int) -> bytes:
        try:
            return bytes(fs.cat_file(path, start=offset, end=offset + count))
        except (OSError, ValueError) as exc:
            raise InputNotFoundError(f"{url}: the transfer failed: {exc}") from None

    return RangeFile(url, size, fetch), size  # type: ignore[return-value]
