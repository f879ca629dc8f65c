"""The ``eegzip view`` server: one recording, on 127.0.0.1, through a fixed table of routes.

Each page the browser asks for is read with ``eegzip.open``'s lazy reader, so a `.eegc`
decodes only the code blocks under the window, and it is sent as little-endian float32
arrays, reduced to a (min, max) pair per pixel column when the page has more samples than
the screen has columns. Request paths are only looked up in ``ROUTES``, never used as file
names; the page itself is package data.

A window is sent as: a little-endian uint32 n, n bytes of JSON header (padded with spaces to
a multiple of 4), then float32 values, trace after trace in the header's order.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from eegzip import api
from eegzip.errors import EegzipError, InputNotFoundError, UsageError
from eegzip.metrics.fidelity import BANDS, band_powers, prdn, welch_psd
from eegzip.pipeline.reader import RecordingReader, _is_container, open_recording
from eegzip.view.montage import MONTAGES, Derivation, derivations, derive, sources

HOST = "127.0.0.1"
MAX_PAGE_SECONDS = 600.0
"""Longest window one request may ask for (bounds the server's memory per request)."""
WIDTH_RANGE = (16, 8192)
"""Pixel columns a request may ask for."""
CACHE_WINDOWS = 32
"""Recent windows kept, encoded, for paging back and forth."""

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
}


@dataclass(frozen=True)
class WindowRequest:
    """What ``/api/window`` was asked for: seconds from the start, trace names, montage,
    pixel columns."""

    start: float
    duration: float
    channels: tuple[str, ...]  # derivation names; empty: all of the montage
    montage: str
    width: int

    @classmethod
    def from_query(cls, query: str) -> WindowRequest:
        fields = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        channels = tuple(c for c in fields.get("channels", "").split(",") if c.strip())
        montage = fields.get("montage", "recorded")
        if montage not in MONTAGES:
            raise UsageError(f"montage must be one of {', '.join(MONTAGES)}, not {montage!r}")
        width = int(_number(fields, "width", 1000))
        return cls(
            _number(fields, "start", 0.0),
            _number(fields, "duration", 10.0),
            channels,
            montage,
            min(max(width, WIDTH_RANGE[0]), WIDTH_RANGE[1]),
        )


def _number(fields: dict[str, str], name: str, default: float) -> float:
    text = fields.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, not {text!r}")
    return value


class ViewerSession:
    """The one recording a server shows (and its original, for the overlay), with a cache of
    encoded windows. Reading is serialised: the decoder is not shared between threads."""

    def __init__(self, path: Path, reference: Path | None = None) -> None:
        for given in (path, reference):
            if given is not None and not given.is_file():
                raise InputNotFoundError(f"{given}: no such file")
        self.path = path
        self.reader = open_recording(path)
        self.reference: RecordingReader | None = None
        try:
            if reference is not None:
                self.reference = open_recording(reference)
                _check_reference(self.reader, self.reference, reference)
            self.summary = _summary(path, self.reader)
        except BaseException:
            self.close()
            raise
        self._lock = threading.Lock()
        self._cache: OrderedDict[WindowRequest, bytes] = OrderedDict()

    def close(self) -> None:
        self.reader.close()
        if self.reference is not None:
            self.reference.close()

    def info(self) -> dict[str, Any]:
        """What the page needs once: channels, duration, annotations, montages, summary."""
        reader = self.reader
        return {
            "file": self.path.name,
            "start": reader.start.isoformat(),
            "duration": reader.duration,
            "channels": [
                {"label": c.label, "rate": c.sample_rate, "unit": c.unit}
                for c in reader.channel_info
            ],
            "annotations": [
                {"onset": a.onset, "duration": a.duration, "text": a.text}
                for a in reader.annotations
            ],
            "montages": {
                m: [d.name for d in derivations(reader.channel_info, m)] for m in MONTAGES
            },
            "reference": None if self.reference is None else Path(self.reference.name).name,
            "summary": self.summary,
        }

    def window(self, request: WindowRequest) -> bytes:
        """The encoded window (from the cache when it was asked for recently)."""
        with self._lock:
            cached = self._cache.get(request)
            if cached is not None:
                self._cache.move_to_end(request)
                return cached
            encoded = self._encode(request)
            self._cache[request] = encoded
            if len(self._cache) > CACHE_WINDOWS:
                self._cache.popitem(last=False)
            return encoded

    def _encode(self, request: WindowRequest) -> bytes:
        duration = self.reader.duration
        if request.duration <= 0 or request.duration > MAX_PAGE_SECONDS:
            raise UsageError(f"duration must be in (0, {MAX_PAGE_SECONDS:g}] s")
        if not 0 <= request.start < duration:
            raise UsageError(
                f"start {request.start:g} s is outside the recording (0 to {duration:g} s)"
            )
        end = min(duration, request.start + request.duration)
        chosen = _choose(derivations(self.reader.channel_info, request.montage), request)
        shown = _traces(self.reader, chosen, request.start, end)
        header: dict[str, Any] = {
            "start": request.start,
            "seconds": end - request.start,
            "montage": request.montage,
            "traces": [],
        }
        values = []
        series = [("signal", shown)]
        if self.reference is not None:
            original = _traces(self.reference, chosen, request.start, end)
            series.append(("reference", original))
            header["metrics"] = _window_metrics(self.reader, chosen, original, shown)
        eeg = {c.label for c in self.reader.channel_info if c.mne_type == "eeg"}
        for kind, traces in series:
            for derivation, (rate, trace) in zip(chosen, traces, strict=True):
                reduced = _reduce(trace, request.width)
                header["traces"].append(
                    {
                        "name": derivation.name,
                        "series": kind,
                        "eeg": derivation.plus in eeg,  # else drawn scaled to its row
                        "rate": rate,
                        "samples": int(trace.size),
                        "minmax": reduced.size != trace.size,
                        "count": int(reduced.size),
                    }
                )
                values.append(reduced)
        return encode_window(header, values)


def _check_reference(reader: RecordingReader, reference: RecordingReader, path: Path) -> None:
    """The original must hold the recording's channels at the same rates, for as long."""
    rates = reference.sample_rates
    wrong = [c.label for c in reader.channel_info if rates.get(c.label) != c.sample_rate]
    if wrong or abs(reference.duration - reader.duration) > 1e-6:
        what = f"channels {', '.join(wrong)} differ" if wrong else "its duration differs"
        raise UsageError(f"{path}: not the original of {reader.name} ({what})")


def _summary(path: Path, reader: RecordingReader) -> dict[str, Any]:
    """Model, rate and stored fidelity of a `.eegc` (from ``eegzip.info``); size of an EDF."""
    if not _is_container(str(path)):
        return {"format": reader.header.variant, "bytes": path.stat().st_size}
    info = api.info(path)
    model = info["model"]
    if info["spectral"]:
        codec = f"spectral ladder, {info['spectral']['bitrate']:g} bit/s per channel target"
    else:
        codec = f"{model['name']}, {info['codebooks_kept']}/{model['n_codebooks']} codebooks"
    overall = ((info["metrics"] or {}).get("fidelity") or {}).get("overall") or {}
    return {
        "format": f"eegc {info['format_version']}",
        "bytes": info["bytes"],
        "codec": codec,
        "bits_per_second_per_channel": info["bits_per_second_per_channel"],
        "coded_channels": sum(c["storage"] == "codec" for c in info["channels"]),
        "fidelity": {k: overall.get(k) for k in ("prdn", "snr_db", "r") if k in overall},
    }


def _choose(offered: tuple[Derivation, ...], request: WindowRequest) -> list[Derivation]:
    if not offered:
        raise UsageError(f"the {request.montage} montage needs 10-20 electrode labels")
    if not request.channels:
        return list(offered)
    by_name = {d.name: d for d in offered}
    unknown = [c for c in request.channels if c not in by_name]
    if unknown:
        raise UsageError(f"no trace named {', '.join(map(repr, unknown))} in this montage")
    return [by_name[c] for c in request.channels]


def _traces(
    reader: RecordingReader, chosen: list[Derivation], start: float, end: float
) -> list[tuple[float, np.ndarray]]:
    """(rate in Hz, µV samples) of each derivation over [start, end)."""
    labels = sources(chosen)
    data = reader.read(start, end - start, labels)
    rates = reader.sample_rates
    if isinstance(data, np.ndarray):
        window = dict(zip(labels, data, strict=True))
    else:  # mixed rates: one array per rate, channels in the order asked for
        rows = {rate: iter(array) for rate, array in data.items()}
        window = {label: next(rows[rates[label]]) for label in labels}
    return [(rates[d.plus], derive(d, window)) for d in chosen]


def _reduce(trace: np.ndarray, width: int) -> np.ndarray:
    """float32 samples, or (min, max) per pixel column when there are over two per column;
    column j of n samples over w columns holds samples [⌊j n / w⌋, ⌊(j+1) n / w⌋)."""
    if trace.size <= 2 * width:
        return trace.astype("<f4")
    edges = np.arange(width, dtype=np.int64) * trace.size // width
    pairs = np.empty((width, 2), "<f4")
    pairs[:, 0] = np.minimum.reduceat(trace, edges)
    pairs[:, 1] = np.maximum.reduceat(trace, edges)
    return pairs.reshape(-1)


def _window_metrics(
    reader: RecordingReader,
    chosen: list[Derivation],
    original: list[tuple[float, np.ndarray]],
    shown: list[tuple[float, np.ndarray]],
) -> dict[str, Any]:
    """PRDN per voltage trace, and reconstruction-over-original band power, summed over them
    (one Welch PSD per rate and series, over all traces at that rate at once)."""
    voltages = {c.label for c in reader.channel_info if c.uv_per_unit is not None}
    by_rate: dict[float, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for derivation, (rate, x), (_, y) in zip(chosen, original, shown, strict=True):
        if derivation.plus in voltages and x.size >= 2:
            by_rate.setdefault(rate, []).append((derivation.name, x, y))
    per_trace: dict[str, float | None] = {}
    power = {band: [0.0, 0.0] for band in BANDS}
    for rate, rows in by_rate.items():
        x = np.stack([row[1] for row in rows])
        y = np.stack([row[2] for row in rows])
        values = np.atleast_1d(prdn(x, y))
        per_trace.update({row[0]: _finite(float(v)) for row, v in zip(rows, values, strict=True)})
        for column, signals in enumerate((x, y)):
            freqs, psd = welch_psd(signals, rate)
            for band, value in band_powers(freqs, psd).items():
                power[band][column] += float(np.sum(value))
    return {
        "prdn": per_trace,
        "band_power_ratio": {
            band: _finite(rec / orig) if orig > 0 else None
            for band, (orig, rec) in power.items()
        },
    }


def _finite(value: float) -> float | None:
    """JSON has no inf or NaN: those become null."""
    return value if math.isfinite(value) else None


def encode_window(header: dict[str, Any], values: list[np.ndarray]) -> bytes:
    """uint32 header length, the JSON header padded to 4 bytes, then the float32 values."""
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = b"".join(np.ascontiguousarray(v, "<f4").tobytes() for v in values)
    return len(text).to_bytes(4, "little") + text + body


class ViewerServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1 that serves one ViewerSession."""

    daemon_threads = True

    def __init__(self, session: ViewerSession, port: int = 0) -> None:
        self.session = session
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as error:
            raise UsageError(f"cannot listen on {HOST}:{port}: {error.strerror}") from None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def server_close(self) -> None:
        super().server_close()
        self.session.close()


def make_server(path: Path, port: int = 0, reference: Path | None = None) -> ViewerServer:
    """A server for ``path`` (port 0: any free one); call ``serve_forever`` to run it."""
    session = ViewerSession(path, reference)
    try:
        return ViewerServer(session, port)
    except BaseException:
        session.close()
        raise


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    server_version = "eegzip-view"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        if not self._host_allowed():
            self._json({"error": "requests must address 127.0.0.1"}, HTTPStatus.FORBIDDEN)
            return
        routes: dict[str, Callable[[str], None]] = {
            "/api/info": lambda _: self._json(self.server.session.info()),
            "/api/window": self._window,
        }
        if url.path in _STATIC:
            name, kind = _STATIC[url.path]
            self._send(files("eegzip.view").joinpath("static", name).read_bytes(), kind)
        elif url.path in routes:
            routes[url.path](url.query)
        else:
            self._json({"error": f"no such page: {url.path}"}, HTTPStatus.NOT_FOUND)

    def _window(self, query: str) -> None:
        try:
            body = self.server.session.window(WindowRequest.from_query(query))
        except UsageError as error:
            self._json({"error": str(error)}, HTTPStatus.BAD_REQUEST)
        except EegzipError as error:
            self._json({"error": str(error)}, HTTPStatus.INTERNAL_SERVER_ERROR)
        else:
            self._send(body, "application/octet-stream")

    def _host_allowed(self) -> bool:
        """Only Host names of the loopback address (a guard against DNS rebinding)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host in {HOST, "localhost"}

    def _json(self, value: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(json.dumps(value).encode(), "application/json", status)

    def _send(self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header(
            "Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'"
        )
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the terminal shows the URL, not one line per request."""
