"""The importable API that the CLI is a thin shell over.

import eegzip
result = eegzip.compress("rec.edf")                  # writes rec.eegc
eegzip.decompress("rec.eegc", "rec.decoded.edf")
eegzip.verify("rec.eegc", full=True).ok              # intact, and decodes as promised
tokens = eegzip.tokens("rec.eegc")                   # the code indices, for research
recording = eegzip.read("rec.edf")                   # header, signals, annotations
with eegzip.open("rec.eegc") as r:                   # lazy; also EDF/BDF and http(s) URLs
    x = r.read(start=60, duration=10, channels=["EEG Fz"])   # only the blocks it needs
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from eegzip.codec import registry
from eegzip.codec.registry import Codec
from eegzip.container import CONTAINER_SUFFIX, ContainerReader
from eegzip.container.source import is_url
from eegzip.edf import Recording, parse_header
from eegzip.edf import read as read_edf
from eegzip.errors import InputNotFoundError, UnsupportedError, UsageError
from eegzip.pipeline.groups import Grouping
from eegzip.pipeline.meta import ContainerMeta
from eegzip.pipeline.spectral import DEFAULT_BITRATE, PAPER, rate_of
from eegzip.pipeline.tokens import read_tokens
from eegzip.pipeline.verify import VerifyReport, verify_file

if TYPE_CHECKING:  # the codec pipeline (torch, scipy) is imported by the calls that run it
    from eegzip.pipeline.compress import CompressResult, Progress
    from eegzip.pipeline.decompress import DecompressResult
    from eegzip.pipeline.reader import RecordingReader


def load_codec(model: str | Path | None = None, device: str = "cpu") -> Codec:
    """Load a model once to reuse it over many files (``None`` = the shipped default)."""
    return registry.load(registry.resolve(model), device)


def location(path: str | Path) -> str | Path:
    """A URL as it is (a Path would fold its ``//``), anything else as a Path."""
    return path if isinstance(path, str) and is_url(path) else Path(path)


def default_output(source: str | Path) -> Path:
    """rec.edf → rec.eegc; rec.eegc → rec.decoded.edf (never the original's name); for a URL,
    that name in the current directory."""
    path = Path(Path(urlsplit(source).path).name) if isinstance(source, str) else source
    if path.suffix.lower() == CONTAINER_SUFFIX:
        with ContainerReader.open(source, salvage=True) as reader:  # the metadata suffices
            variant = str(reader.meta.get("edf", {}).get("variant", "EDF"))
        return path.with_name(
            f"{path.stem}.decoded.{'bdf' if variant.startswith('BDF') else 'edf'}"
        )
    return path.with_suffix(CONTAINER_SUFFIX)


def parse_bitrate(bitrate: float | str | None) -> float | None:
    """A rate in bit/s per channel, or None for the neural codec (nothing, or ``"paper"``)."""
    if bitrate is None or bitrate == PAPER:
        return None
    try:
        return float(bitrate)
    except ValueError:
        raise UsageError(
            f"--bitrate must be bit/s per channel (e.g. 60) or {PAPER!r}, not {bitrate!r}"
        ) from None


def compress(
    path: str | Path,
    output: str | Path | None = None,
    *,
    model: str | Path | Codec | None = None,
    codebooks: int | None = None,
    bitrate: float | str | None = None,
    channels: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    device: str = "cpu",
    force: bool = False,
    measure: bool = True,
    max_error_uv: float | None = None,
    groups: str | None = None,
    group_seed: int | None = None,
    group_size: int | None = None,
    entropy: bool = True,
    anonymize: bool = False,
    shift_date: int = 0,
    drop_date: bool = False,
    drop_annotation_text: bool = False,
    progress: Progress | None = None,
) -> CompressResult:
    """Compress one EDF/BDF file to .eegc; returns sizes, timing and fidelity.

    ``bitrate`` (bit/s per coded channel, whole file included) codes the EEG with the spectral
    codec at that rate instead of the neural codec: the rate ladder, which needs no model;
    ``"paper"`` is the paper's configuration, the neural codec with 9 codebooks. With none of
    ``bitrate``, ``codebooks``, ``model``, ``max_error_uv``, ``groups`` and ``entropy=False``
    given, the ladder's default rung (DEFAULT_BITRATE, 100 bit/s per channel) is used.

    ``max_error_uv`` adds a residual layer so that every decoded sample of the coded channels
    is within that many µV of the original; 0 makes the whole file lossless. Alone it writes
    no neural codes (format 1.5: the residual blocks are the time blocks; no model, no torch);
    with ``codebooks``, ``model`` or ``groups`` as well, the file also keeps that many
    codebooks of codes (tokens) under its residual layer. ``codebooks`` defaults to all of the
    model's, or to 1 under a residual layer.

    A multi-channel (DAC-MC) model codes each group of channels as one token stream:
    ``groups`` is ``"manual"`` (scalp regions, the default), ``"random"`` (groups of
    ``group_size``, drawn with ``group_seed``), ``"none"`` (every channel alone) or the path of
    a JSON list of lists of channel labels. The container records the groups.

    ``entropy`` range-codes the code indices (about 8 % smaller code data on real EEG,
    identical codes); ``False`` writes them bit-packed and zstd-compressed, as before 1.2.
    The result's ``code_stats`` gives the bits per code against log2(codebook size) and the
    codes' empirical entropy.

    ``anonymize`` stores the header in EDF+'s anonymised form (patient ``X X X X``, recording
    ``Startdate <date> X X X``); ``shift_date`` moves the start date by that many days,
    ``drop_date`` withholds it, ``drop_annotation_text`` drops every annotation text (each
    implies ``anonymize``). The original identifiers are not written to the container.
    """
    from eegzip.edf.anonymize import Anonymization
    from eegzip.pipeline.compress import CompressOptions, compress_file

    if isinstance(location(path), str):
        raise UnsupportedError(f"{path}: compress reads local EDF/BDF files, not URLs")
    source = Path(path)
    target = Path(output) if output else default_output(source)
    neural_asked = not entropy or any(
        v is not None for v in (codebooks, model, max_error_uv, groups)
    )
    rate = parse_bitrate(bitrate)
    if bitrate is None and not neural_asked:
        rate = DEFAULT_BITRATE
    if bitrate == PAPER:
        codebooks = codebooks or 9
    if rate is not None or (
        max_error_uv is not None and codebooks is None and model is None and groups is None
    ):  # the spectral codec, or an archival file without neural codes: no model
        codec = None
    else:
        codec = model if isinstance(model, Codec) else load_codec(model, device)
    options = CompressOptions(
        bitrate=rate,
        codebooks=codebooks,
        channels=channels,
        exclude=exclude,
        measure=measure,
        force=force,
        max_error_uv=max_error_uv,
        groups=groups,
        group_seed=group_seed,
        group_size=group_size,
        entropy=entropy,
        anonymize=(
            Anonymization(shift_date, drop_date, drop_annotation_text)
            if anonymize or shift_date or drop_date or drop_annotation_text
            else None
        ),
    )
    return compress_file(source, target, codec, options, progress)


def decompress(
    path: str | Path,
    output: str | Path | None = None,
    *,
    model: str | Path | Codec | None = None,
    device: str = "cpu",
    force: bool = False,
    reference: str | Path | None = None,
    start: float | None = None,
    duration: float | None = None,
    progress: Progress | None = None,
    salvage: bool = False,
) -> DecompressResult:
    """Rebuild the EDF from a .eegc; with ``reference`` also measure fidelity against it.

    ``start``/``duration`` (seconds) give only that window, as an EDF of whole data records
    whose header start time and annotations keep their absolute times; only the code blocks
    the window needs are decoded.

    ``salvage`` recovers the intact start of a damaged file (truncated, a block damaged) as an
    EDF of whole data records; ``result.salvage`` tells what was recovered and what was lost.
    """
    from eegzip.pipeline.decompress import decompress_file

    source = location(path)
    if isinstance(source, Path) and not source.is_file():
        raise InputNotFoundError(f"{source}: no such file")
    target = Path(output) if output else default_output(source)
    return decompress_file(
        source,
        target,
        model=model,
        device=device,
        force=force,
        reference=Path(reference) if reference else None,
        start=start,
        duration=duration,
        progress=progress,
        salvage=salvage,
    )


def verify(
    path: str | Path,
    *,
    full: bool = False,
    model: str | Path | Codec | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
) -> VerifyReport:
    """Check a .eegc for damage: structure, every block's CRC, every block decodes.

    ``full`` also decodes the whole recording through the codec, as ``decompress`` does but
    writing nothing, and for a lossless or bounded file checks the decoder's output against
    the checksums the encoder stored, so the file is known to reproduce what it promised.
    Damage is reported (``ok``, ``problems``), not raised; EegzipError means the file could
    not be checked (missing, from a newer eegzip, model unavailable).
    """
    return verify_file(location(path), full=full, model=model, device=device, progress=progress)


tokens = read_tokens
"""``eegzip.tokens(path, ...)``: the discrete tokens of a .eegc or an EDF/BDF (read_tokens)."""


def open(  # noqa: A001 - eegzip.open, as io.open and gzip.open
    path: str | Path, *, model: str | Path | Codec | None = None, device: str = "cpu"
) -> RecordingReader:
    """A `.eegc` (a path or URL) or EDF/BDF file, read lazily: ``channels``, ``sample_rates``,
    ``units``, ``annotations``, ``header``; ``read(start=, duration=, channels=, units=)`` gives
    numpy arrays and ``to_mne(...)`` an MNE Raw, decoding only the blocks a window needs."""
    from eegzip.pipeline.reader import open_recording

    return open_recording(path, model=model, device=device)


def read(path: str | Path) -> Recording:
    """An EDF/BDF file as a Recording: header, digital samples with scaling, annotations."""
    return read_edf(path)


def info(path: str | Path) -> dict:
    """What a .eegc (a path or URL) holds: recording header, model, channels, blocks, sizes,
    stored metrics."""
    source = location(path)
    with ContainerReader.open(source) as reader:
        header = parse_header(reader.edf_header, f"{source} (stored EDF header)")
        meta = ContainerMeta.read(reader, header, str(source))
        codec_set = set(meta.codec_channels)
        labels = [header.signals[i].label for i in meta.codec_channels]
        groups = meta.groups
        grouping = Grouping.from_meta(groups, len(labels), str(source)) if groups else None
        model = meta.model
        return {
            "file": str(source),
            "format_version": "{}.{}".format(*reader.version),
            "bytes": sum(reader.sizes().values()),
            "recording": {
                "variant": header.variant,
                "patient": header.patient.strip(),
                "recording": header.recording.strip(),
                "start": header.start_datetime.isoformat(),
                "duration_seconds": header.duration,
                "n_records": header.n_records,
                "record_duration": header.record_duration,
            },
            "anonymized": meta.extra.get("anonymized"),
            "model": dataclasses.asdict(model) if model else None,
            "codebooks_kept": meta.codebooks_kept,
            "grouping": grouping.summary(labels) if grouping else None,
            "channels": [
                {
                    "index": i,
                    "label": s.label.strip(),
                    "unit": s.physical_dimension.strip(),
                    "sample_rate": header.sample_rate(i),
                    "storage": "codec" if i in codec_set else "lossless",
                }
                for i, s in enumerate(header.signals)
            ],
            "code_blocks": reader.code_block_count,
            "max_error_uv": meta.max_error_uv,
            "block_seconds": meta.block_frames * model.hop_length / model.sample_rate
            if model
            else meta.block_frames * header.record_duration,  # records per block
            "spectral": meta.extra.get("spectral"),
            "bits_per_second_per_channel": rate_of(
                reader.sizes(), header.duration, len(codec_set)
            ),
            "sizes": reader.sizes(),
            "metrics": reader.metrics,
        }
