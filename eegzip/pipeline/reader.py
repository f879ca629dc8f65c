"""A lazy reader for `.eegc` and EDF/BDF alike: windows of samples as numpy arrays or MNE Raw.

Opening reads headers only. ``read`` reads the data records that cover the window asked for:
from an EDF by file offset, from a `.eegc` through ContainerDecoder, the same random access
``decompress --start/--duration`` uses, so a window holds exactly the samples a full
decompression gives for that span, and only the code blocks it needs are decoded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from eegzip.codec.registry import Codec
from eegzip.container import CONTAINER_SUFFIX, ContainerReader
from eegzip.container.format import MAGIC
from eegzip.container.source import is_url, open_source
from eegzip.edf import Annotation, EdfFile, EdfHeader, parse_header
from eegzip.edf.annotations import AnnotationTrack, parse_annotation_records
from eegzip.errors import UnsupportedError, UsageError
from eegzip.pipeline.channels import NON_EEG_PATTERN, uv_factor
from eegzip.pipeline.decompress import ContainerDecoder, record_window

UNITS = ("uV", "V", "physical")
"""What ``read`` can give: voltages in µV or V (other signals in their own unit), or every
signal in its own physical unit."""

_MNE_TYPES = (
    (re.compile(r"\b(ECG|EKG)\b", re.IGNORECASE), "ecg"),
    (re.compile(r"\bEMG\b", re.IGNORECASE), "emg"),
    (re.compile(r"\bEOG\b", re.IGNORECASE), "eog"),
    (re.compile(r"\b(RESP\w*|THOR\w*|ABD\w*|FLOW)\b", re.IGNORECASE), "resp"),
    (re.compile(r"\b(TRIG\w*|STATUS|STIM\w*|EVENT\w*|MARK\w*)\b", re.IGNORECASE), "stim"),
)


@dataclass(frozen=True)
class Channel:
    """One data signal (annotation signals are not channels): label, rate in Hz, unit."""

    index: int  # position among the EDF's signals
    label: str
    sample_rate: float
    unit: str  # the EDF's physical dimension, e.g. "uV"
    uv_per_unit: float | None  # None for a signal that is not a voltage

    @property
    def mne_type(self) -> str:
        """MNE channel type: from the label, else eeg for a voltage, else misc."""
        spaced = self.label.replace("-", " ")
        for pattern, kind in _MNE_TYPES:
            if pattern.search(spaced):
                return kind
        if self.uv_per_unit is None or NON_EEG_PATTERN.search(spaced):
            return "misc"
        return "eeg"


class RecordingReader:
    """A recording opened lazily; use ``eegzip.open(path)``, ideally as a context manager.

    ``channels``, ``sample_rates``, ``units``, ``annotations``, ``header``/``raw_header`` and
    ``start`` come from the headers (and, for annotations, the annotation signal); ``read`` and
    ``to_mne`` read only the data records the window needs.
    """

    def __init__(
        self,
        name: str,
        header: EdfHeader,
        raw_header: bytes,
        edf: EdfFile | None,
        container: ContainerReader | None,
        model: str | Path | Codec | None,
        device: str,
    ) -> None:
        self.name = name
        self.header = header
        self.raw_header = raw_header
        """The EDF header bytes (for a `.eegc`, those it stores: anonymised if it was)."""
        self._edf = edf
        self._container = container
        self._model = model
        self._device = device
        self._decoder: ContainerDecoder | None = None
        self._annotation_track: AnnotationTrack | None = None
        self._channels = tuple(
            Channel(
                i,
                s.label.strip(),
                header.sample_rate(i),
                s.physical_dimension.strip(),
                uv_factor(s.physical_dimension),
            )
            for i, s in enumerate(header.signals)
            if not s.is_annotation
        )

    @classmethod
    def open(
        cls, path: str | Path, *, model: str | Path | Codec | None = None, device: str = "cpu"
    ) -> RecordingReader:
        """A `.eegc` (local or a URL) or an EDF/BDF file; the kind is told by its signature."""
        name = str(path)
        if not _is_container(name):
            file, size = open_source(name)
            edf = EdfFile.from_file(path if is_url(name) else Path(name), file, size)
            return cls(name, edf.header, edf.raw_header, edf, None, model, device)
        container = ContainerReader.open(name)
        try:
            raw = container.edf_header
            header = parse_header(raw, f"{name} (stored EDF header)")
        except BaseException:
            container.close()
            raise
        return cls(name, header, raw, None, container, model, device)

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for source in (self._edf, self._container):
            if source is not None:
                source.close()

    @property
    def channel_info(self) -> tuple[Channel, ...]:
        return self._channels

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel labels in file order (annotation signals excluded)."""
        return tuple(c.label for c in self._channels)

    @property
    def sample_rates(self) -> dict[str, float]:
        """Hz per channel label."""
        return {c.label: c.sample_rate for c in self._channels}

    @property
    def units(self) -> dict[str, str]:
        """The EDF's physical dimension per channel label."""
        return {c.label: c.unit for c in self._channels}

    @property
    def duration(self) -> float:
        """Seconds of data."""
        return self.header.duration

    @property
    def start(self) -> datetime:
        """The recording's start (header date and time; UTC, as EDF does not say)."""
        return self.header.start_datetime.replace(tzinfo=timezone.utc)

    @property
    def annotations(self) -> tuple[Annotation, ...]:
        """EDF+ annotations (onset and duration in seconds from the start, text)."""
        track = self._track()
        return () if track is None else track.annotations

    def read(
        self,
        start: float = 0.0,
        duration: float | None = None,
        channels: Sequence[str] | None = None,
        units: str = "uV",
    ) -> np.ndarray | dict[float, np.ndarray]:
        """Samples of [start, start + duration) s (to the end by default), channels × samples.

        ``channels``: labels (default all). ``units``: "uV" or "V" turns voltage channels into
        that unit and leaves others in theirs; "physical" leaves every channel in its own.
        Where the channels' rates differ, a dict from rate (Hz) to the array of the channels
        at that rate, in the order asked for.
        """
        if units not in UNITS:
            raise UsageError(f"units must be one of {', '.join(UNITS)}, not {units!r}")
        chosen = self._chosen(channels)
        first, stop = record_window(self.header, start, duration, self.name)
        digital = self._digital(first, stop, [c.index for c in chosen])
        end = self.duration if duration is None else min(self.duration, start + duration)
        by_rate: dict[float, list[np.ndarray]] = {}
        for channel in chosen:
            signal = self.header.signals[channel.index]
            rate = channel.sample_rate
            offset = first * self.header.signals[channel.index].samples_per_record
            lo = round(start * rate) - offset
            hi = round(end * rate) - offset
            values = signal.offset + signal.gain * digital[channel.index][lo:hi].astype(np.float64)
            by_rate.setdefault(rate, []).append(values * _unit_factor(channel, units))
        arrays = {rate: np.stack(rows) for rate, rows in by_rate.items()}
        return next(iter(arrays.values())) if len(arrays) == 1 else arrays

    def to_mne(
        self,
        start: float = 0.0,
        duration: float | None = None,
        channels: Sequence[str] | None = None,
    ) -> Any:
        """An ``mne.io.RawArray``: volts for voltages, channel types from the labels, the
        measurement date, and the annotations (onsets from the measurement date). Its
        ``first_samp`` is the window's start, so times stay those of the recording.
        """
        try:
            import mne
        except ImportError:
            raise UnsupportedError("to_mne needs MNE-Python: pip install 'eegzip[mne]'") from None
        chosen = self._chosen(channels)
        rates = sorted({c.sample_rate for c in chosen})
        if len(rates) > 1:
            listed = ", ".join(f"{r:g}" for r in rates)
            raise UsageError(
                f"{self.name}: the channels have different rates ({listed} Hz); "
                "choose channels of one rate with channels=[...]"
            )
        data = self.read(start, duration, [c.label for c in chosen], units="V")
        assert isinstance(data, np.ndarray)
        info = mne.create_info(
            [c.label for c in chosen], rates[0], [c.mne_type for c in chosen], verbose=False
        )
        meas_date = self.start + timedelta(seconds=self._start_offset())
        raw = mne.io.RawArray(data, info, first_samp=round(start * rates[0]), verbose=False)
        raw.set_meas_date(meas_date)
        end = self.duration if duration is None else start + duration
        kept = [
            a for a in self.annotations if a.onset < end and a.onset + (a.duration or 0) >= start
        ]
        raw.set_annotations(
            mne.Annotations(
                onset=[a.onset for a in kept],
                duration=[a.duration or 0.0 for a in kept],
                description=[a.text for a in kept],
                orig_time=meas_date,
            )
        )
        return raw

    def _chosen(self, channels: Sequence[str] | None) -> list[Channel]:
        if channels is None:
            return list(self._channels)
        if isinstance(channels, str):
            channels = [channels]
        by_label = {c.label: c for c in self._channels}
        by_folded = {c.label.lower(): c for c in self._channels}
        chosen, unknown = [], []
        for name in channels:
            found = by_label.get(name.strip()) or by_folded.get(name.strip().lower())
            (chosen if found else unknown).append(found or name)
        if unknown:
            raise UsageError(
                f"{self.name}: no channel named {', '.join(map(repr, unknown))} "
                f"(channels: {', '.join(self.channels)})"
            )
        return chosen

    def _digital(self, first: int, stop: int, signals: list[int]) -> dict[int, np.ndarray]:
        """Stored integers of ``signals`` over data records [first, stop)."""
        if self._edf is not None:
            return {i: self._edf.read_digital(i, first, stop) for i in signals}
        runs: dict[int, list[np.ndarray]] = {i: [] for i in signals}
        for records in self._container_decoder().records(first, stop):
            for i in signals:
                runs[i].append(records[i])
        return {i: np.concatenate(parts) for i, parts in runs.items()}

    def _container_decoder(self) -> ContainerDecoder:
        if self._decoder is None:
            assert self._container is not None
            self._decoder = ContainerDecoder.of(
                self._container, self._model, self._device, self.name
            )
        return self._decoder

    def _track(self) -> AnnotationTrack | None:
        """The EDF+ annotation signals, parsed once (None for plain EDF/BDF)."""
        header = self.header
        if not header.is_plus or not header.annotation_indices:
            return None
        if self._annotation_track is not None:
            return self._annotation_track
        if self._edf is not None:
            edf = self._edf
            track = AnnotationTrack(edf.start_subsecond, edf.record_onsets, edf.annotations)
        else:
            assert self._container is not None
            width = header.bytes_per_sample
            per_signal = []
            for i in header.annotation_indices:
                size = header.signals[i].samples_per_record * width
                blocks = self._container.iter_raw_blocks(i)
                data = b"".join(_word_bytes(b.samples, width) for b in blocks)
                per_signal.append([data[k : k + size] for k in range(0, len(data), size)])
            track = parse_annotation_records(zip(*per_signal, strict=True), self.name)
        self._annotation_track = track
        return track

    def _start_offset(self) -> float:
        """Seconds from the header's whole-second start to the first record (EDF+)."""
        track = self._track()
        return 0.0 if track is None else track.start_offset


def _unit_factor(channel: Channel, units: str) -> float:
    if units == "physical" or channel.uv_per_unit is None:
        return 1.0
    return channel.uv_per_unit * (1.0 if units == "uV" else 1e-6)


def _word_bytes(samples: np.ndarray, width: int) -> bytes:
    """Stored integers back to the little-endian words of the file (annotation text)."""
    return samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :width].tobytes()


def _is_container(name: str) -> bool:
    """Whether a file starts with the .eegc signature (else it is taken for an EDF/BDF); a URL
    by its name, so that telling costs no request."""
    if is_url(name):
        return urlsplit(name).path.lower().endswith(CONTAINER_SUFFIX)
    file, _ = open_source(name)
    with file:
        return file.read(len(MAGIC)) == MAGIC


def open_recording(
    path: str | Path, *, model: str | Path | Codec | None = None, device: str = "cpu"
) -> RecordingReader:
    """``eegzip.open``: a `.eegc` or EDF/BDF file (or a `.eegc` URL), read lazily."""
    return RecordingReader.open(path, model=model, device=device)


__all__ = ["Channel", "RecordingReader", "open_recording"]
