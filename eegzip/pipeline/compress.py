"""EDF → .eegc: read, choose channels, resample, scale, encode block by block, write.

Lossless signals (non-EEG, other rates, annotations) are stored as digital samples. With
``measure=True`` every block is also decoded as it will be on decompression, quantised to the
EDF's digital grid, and compared with the original, so the stored metrics describe exactly
what a user gets back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eegzip.codec import registry
from eegzip.codec.registry import Codec
from eegzip.container import ContainerReader, ContainerWriter, IntegerResidualBlock, RawBlock
from eegzip.container.format import MAX_SAMPLES_PER_BLOCK
from eegzip.edf import EdfFile, EdfHeader
from eegzip.edf.anonymize import Anonymization, anonymized_header, without_annotation_text
from eegzip.edf.header import with_record_count
from eegzip.edf.reader import digital_from_bytes
from eegzip.errors import EegzipError, NoCodableChannelError, UnsupportedError, UsageError
from eegzip.metrics import FidelityAccumulator
from eegzip.pipeline import spectral
from eegzip.pipeline.channels import MAX_CODEC_RATE, select_codec_channels, uv_factor
from eegzip.pipeline.groups import Grouping, plan_grouping
from eegzip.pipeline.heap import retain_freed_memory
from eegzip.pipeline.layout import BlockLayout, record_blocks
from eegzip.pipeline.recording_info import signal_infos
from eegzip.pipeline.resample import rate_ratio
from eegzip.pipeline.signals import CodecChannels, quantised, to_digital, to_uv
from eegzip.version import __version__

BLOCK_FRAMES = 32
"""Code frames per block: 64 s at 256 Hz; the unit of random access and of damage reports."""

CONTEXT_FRAMES = 3
"""Frames of context on each side of a block (covers the codec's effective receptive field)."""

ARCHIVAL_BLOCK_SECONDS = 256.0
"""Time block of an archival file without codes (whole data records): its RESI block restores
it alone, so it is the unit of random access. Measured on rec20 and one file of each dataset of
../shared/data (lossless and 1 µV): 256 s gave files 0.6-1.9 % smaller than 64 s; 1024 s at
most 0.6 % smaller than 256 s (two of the four files larger), for four times the decoding per
random access."""

ARCHIVAL_CODEBOOKS = 1
"""Default codebooks with a residual layer: the predictive coder gets little from a finer
reconstruction, so more codebooks cost more than they save (1 codebook gave the smallest files
at E = 0, 0.5, 1 and 2 µV on all three datasets of ../shared/data, 2-10 % below 9)."""

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CompressOptions:
    codebooks: int | None = None
    channels: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    measure: bool = True
    force: bool = False
    block_frames: int = BLOCK_FRAMES
    context_frames: int = CONTEXT_FRAMES
    max_error_uv: float | None = None
    """With a value, a residual layer bounds every sample's error by it (0: lossless)."""
    groups: str | None = None
    """Multi-channel models: manual, random, none or a JSON file of groups (default manual)."""
    group_seed: int | None = None
    group_size: int | None = None
    entropy: bool = True
    """Range-code the code indices (ECOD blocks, about 8 % smaller) instead of zstd."""
    bitrate: float | None = None
    """Code with the spectral codec at this many bit/s per coded channel (pipeline/spectral.py)
    instead of the neural codec; file bytes included."""
    anonymize: Anonymization | None = None
    """Store the header (and annotations) de-identified in EDF+'s forms (edf/anonymize.py)."""


@dataclass
class CodeStats:
    """Bits the stored codes take per code, against log2(codebook size) and their entropy.

    The empirical entropy is zeroth order, per codebook over the whole file (plug-in), what a
    static per-file model would reach before paying for its table; on short files it is
    biased low.
    """

    codebook_size: int
    entropy_coded: bool
    codes: int = 0
    coded_bytes: int = 0
    counts: np.ndarray | None = None  # (codebooks, codebook_size)

    def add(self, codes: np.ndarray, coded_bytes: int) -> None:
        if self.counts is None:
            self.counts = np.zeros((codes.shape[1], self.codebook_size), np.int64)
        self.codes += codes.size
        self.coded_bytes += coded_bytes
        for k, row in enumerate(self.counts):
            row += np.bincount(codes[:, k].ravel(), minlength=self.codebook_size)

    def to_dict(self) -> dict:
        counts = self.counts if self.counts is not None else np.zeros((0, 1), np.int64)
        p = counts / np.maximum(1, counts.sum(axis=1, keepdims=True))
        entropy = -(counts * np.log2(np.where(p > 0, p, 1))).sum() / max(1, self.codes)
        return {
            "count": self.codes,
            "entropy_coded": self.entropy_coded,
            "bits_per_code": round(8 * self.coded_bytes / max(1, self.codes), 4),
            "log2_codebook_size": round(math.log2(self.codebook_size), 4),
            "empirical_entropy_bits": round(float(entropy), 4),
        }


@dataclass(frozen=True)
class CompressResult:
    input: Path
    output: Path
    input_bytes: int
    output_bytes: int
    duration_seconds: float
    codec_channels: tuple[str, ...]
    lossless_channels: tuple[str, ...]
    codebooks: int
    code_bytes: int
    wall_seconds: float
    clipped_samples: int
    fidelity: dict | None = field(default=None)
    warnings: tuple[str, ...] = ()
    max_error_uv: float | None = None
    residual_bytes: int = 0
    grouping: dict | None = None
    """Multi-channel models: ``mode`` and ``groups`` (lists of channel labels)."""
    code_stats: dict | None = None
    """CodeStats.to_dict(): bits per stored code vs log2(codebook size) and entropy."""
    bitrate: float | None = None
    """The spectral codec's target, bit/s per coded channel (None: the neural codec)."""

    sizes: dict[str, int] = field(default_factory=dict)
    """Bytes per block type (ContainerReader.sizes())."""

    @property
    def bits_per_second_per_channel(self) -> float:
        """The rate reached (spectral.rate_of: the file less its lossless signals' samples)."""
        return spectral.rate_of(self.sizes, self.duration_seconds, len(self.codec_channels))

    @property
    def ratio(self) -> float:
        return self.input_bytes / max(1, self.output_bytes)

    @property
    def code_bits_per_second_per_channel(self) -> float:
        """Actual coded bits (after zstd) per second per codec channel."""
        return 8 * self.code_bytes / max(1e-9, self.duration_seconds * len(self.codec_channels))

    def to_dict(self) -> dict:
        return {
            "input": str(self.input),
            "output": str(self.output),
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "ratio": round(self.ratio, 3),
            "duration_seconds": self.duration_seconds,
            "codec_channels": list(self.codec_channels),
            "lossless_channels": list(self.lossless_channels),
            "codebooks": self.codebooks,
            "code_bits_per_second_per_channel": round(self.code_bits_per_second_per_channel, 2),
            "wall_seconds": round(self.wall_seconds, 3),
            "clipped_samples": self.clipped_samples,
            "fidelity": self.fidelity,
            "warnings": list(self.warnings),
            "max_error_uv": self.max_error_uv,
            "residual_bytes": self.residual_bytes,
            "grouping": self.grouping,
            "code_stats": self.code_stats,
            "bitrate_target": self.bitrate,
            "bits_per_second_per_channel": round(self.bits_per_second_per_channel, 2),
        }


def recording_warnings(
    header: EdfHeader, clipped: int, count_unknown: bool = False
) -> tuple[str, ...]:
    """What a user should know about this file's reconstruction."""
    notes = []
    if count_unknown:
        notes.append(
            f"the header's record count is -1 (unknown): stored as {header.n_records}, counted "
            "from the file size, so the decompressed file states it (the only field that differs)"
        )
    if header.variant.endswith("+D"):
        notes.append(
            "discontinuous recording (EDF+D): records are coded as one continuous signal, so "
            "samples next to a gap blend across it; record times and annotations stay exact"
        )
    if clipped:
        notes.append(
            f"{clipped} decoded samples exceeded their channel's digital range and were clamped"
        )
    return tuple(notes)


def plan_channels(header: EdfHeader, options: CompressOptions, name: str) -> CodecChannels:
    infos = signal_infos(header)
    try:
        indices = select_codec_channels(infos, options.channels, options.exclude)
    except ValueError as exc:
        raise NoCodableChannelError(f"{name}: {exc}") from exc
    if not indices:
        raise NoCodableChannelError(
            f"{name}: no channel for the codec (no EEG in µV/mV/V at ≥ 64 Hz); "
            "choose channels with --channels"
        )
    rate = header.sample_rate(indices[0])
    if rate > MAX_CODEC_RATE:  # resampling ratios beyond rate_ratio's 1/10 000 (rd.edf)
        raise UnsupportedError(
            f"{name}: the codec channels' rate, {rate:g} Hz "
            f"({header.signals[indices[0]].samples_per_record} samples per "
            f"{header.record_duration_raw}-s record), is above the {MAX_CODEC_RATE:g} Hz eegzip "
            "resamples; check the header's record duration"
        )
    return CodecChannels(
        indices=tuple(indices),
        uv_factors=tuple(uv_factor(infos[i].physical_dimension) or 1.0 for i in indices),
        samples_per_record=header.signals[indices[0]].samples_per_record,
    )


def plan_groups(codec: Codec, labels: list[str], options: CompressOptions) -> Grouping | None:
    """The channel groups of a multi-channel model (scalp regions unless told otherwise)."""
    if codec.kind != "mc":
        if options.groups is not None:
            raise UsageError(
                f"--groups needs a multi-channel (DAC-MC) model; {codec.spec.name} codes "
                "every channel alone"
            )
        return None
    return plan_grouping(
        options.groups or "manual",
        labels,
        codec.model.config.electrodes,
        options.group_seed,
        options.group_size,
    )


def make_layout(header: EdfHeader, channels: CodecChannels, codec: Codec, options) -> BlockLayout:
    rate = header.sample_rate(channels.indices[0])
    up, down = rate_ratio(rate, codec.sample_rate)
    return BlockLayout(
        up=up,
        down=down,
        hop=codec.hop_length,
        model_rate=codec.sample_rate,
        block_frames=options.block_frames,
        context_frames=options.context_frames,
        source_samples=header.n_records * channels.samples_per_record,
    )


def archival_layout(header: EdfHeader, channels: CodecChannels) -> BlockLayout:
    """Time blocks of an archival file without codes: whole data records, about
    ARCHIVAL_BLOCK_SECONDS each, within a block's sample limit."""
    spr = channels.samples_per_record
    records = min(
        round(ARCHIVAL_BLOCK_SECONDS / header.record_duration),
        MAX_SAMPLES_PER_BLOCK // (spr * len(channels.indices)),
    )
    return record_blocks(header.n_records, spr, header.record_duration, max(1, records))


def build_meta(
    header: EdfHeader,
    channels: CodecChannels,
    layout: BlockLayout,
    codec: Codec | None,
    codebooks: int,
    raw_records: int,
    grouping: Grouping | None = None,
) -> dict:
    groups = {"groups": grouping.to_meta()} if grouping else {}
    return {
        **groups,
        "created_by": {"eegzip": __version__},
        "model": codec.identity() if codec else None,
        "codebooks_kept": codebooks,
        "codec_channels": list(channels.indices),
        "codec_uv_factors": list(channels.uv_factors),
        "lossless_channels": [i for i in range(len(header.signals)) if i not in channels.indices],
        "resample": {"up": layout.up, "down": layout.down},
        "block_frames": layout.block_frames,
        "context_frames": layout.context_frames,
        "source_samples": layout.source_samples,
        "raw_block_records": raw_records,
        "edf": {
            "variant": header.variant,
            "n_records": header.n_records,
            "record_duration": header.record_duration,
            "n_signals": len(header.signals),
        },
    }


def _annotation_samples(edf: EdfFile, index: int, start: int, stop: int) -> np.ndarray:
    """An annotation signal's words over records [start, stop) with every text dropped."""
    h = edf.header
    size = h.signals[index].samples_per_record * h.bytes_per_sample
    data = edf.read_raw_signal_bytes(index, start, stop)
    timekeeping = index == h.annotation_indices[0]
    kept = b"".join(
        without_annotation_text(data[k : k + size], timekeeping) for k in range(0, len(data), size)
    )
    return digital_from_bytes(kept, h.bytes_per_sample)


def _write_lossless(
    edf: EdfFile, writer: ContainerWriter, indices, raw_records: int, drop_text: bool = False
) -> None:
    h = edf.header
    for i in indices:
        for start in range(0, h.n_records, raw_records):
            stop = min(h.n_records, start + raw_records)
            text = h.signals[i].is_annotation
            writer.write_raw_block(
                RawBlock(
                    signal_index=i,
                    start_record=start,
                    n_records=stop - start,
                    samples=(
                        _annotation_samples(edf, i, start, stop)
                        if text and drop_text
                        else edf.read_digital(i, start, stop)
                    ),
                    sample_width=h.bytes_per_sample,
                    start_seconds=start * h.record_duration,
                    duration_seconds=(stop - start) * h.record_duration,
                    text=text,
                )
            )


def block_sizes(path: Path) -> dict[str, int]:
    with ContainerReader.open(path) as reader:
        return reader.sizes()


def payload_bytes(path: Path, *block_types: str) -> int:
    sizes = block_sizes(path)
    return sum(sizes.get(t, 0) for t in block_types)


def compress_file(
    source: Path,
    output: Path,
    codec: Codec | None,
    options: CompressOptions = CompressOptions(),
    progress: Progress | None = None,
) -> CompressResult:
    """``codec`` is the neural model; None with ``options.bitrate`` (the spectral codec) or
    with ``options.max_error_uv`` (archival without codes: the RESI blocks are the time
    blocks, so nothing needs a model, nor torch, to write or read the file)."""
    started = time.perf_counter()
    retain_freed_memory()
    archival = options.max_error_uv is not None
    without_codes = codec is None and options.bitrate is None and archival
    if options.bitrate is not None:
        spectral.check_request(
            options.bitrate, options.codebooks, options.max_error_uv, options.groups
        )
        codebooks = 0
    elif without_codes:
        if options.codebooks is not None or options.groups is not None:
            raise UsageError("--codebooks and --groups need the neural model")
        codebooks = 0
    else:
        if codec is None:
            raise UsageError("the neural codec needs a model")
        codebooks = options.codebooks or (ARCHIVAL_CODEBOOKS if archival else codec.n_codebooks)
        if not 1 <= codebooks <= codec.n_codebooks:
            raise EegzipError(
                f"--codebooks must be 1..{codec.n_codebooks} for {codec.spec.name}"
            )
    if options.max_error_uv is not None and not options.max_error_uv >= 0:
        raise EegzipError(f"--max-error must be ≥ 0 µV, not {options.max_error_uv}")
    with (
        EdfFile.open(source) as edf,
        ContainerWriter(
            output, force=options.force, entropy=options.entropy, inputs=(source,)
        ) as writer,
    ):
        h = edf.header
        channels = plan_channels(h, options, str(source))
        labels = [h.signals[i].label for i in channels.indices]
        grouping = plan_groups(codec, labels, options) if codec is not None else None
        if without_codes:
            layout = archival_layout(h, channels)
        elif codec is None:
            layout = spectral.layout_for(h, channels.samples_per_record)
        else:
            layout = make_layout(h, channels, codec, options)
        raw_records = max(1, round(layout.block_samples / layout.model_rate / h.record_duration))
        if without_codes:
            raw_records = layout.block_frames  # the lossless signals in the same time blocks
        elif codec is None:
            raw_records = spectral.raw_block_records(h)
        meta = build_meta(h, channels, layout, codec, codebooks, raw_records, grouping)
        meta["max_error_uv"] = options.max_error_uv
        if codec is None and not without_codes:
            meta["spectral"] = {"bitrate": options.bitrate}
        anonymize = options.anonymize
        if anonymize is not None:
            meta["anonymized"] = anonymize.to_meta()
        writer.write_meta(meta)
        stored_header = (
            anonymized_header(edf.raw_header, h, anonymize, str(source))
            if anonymize
            else edf.raw_header
        )
        count_unknown = stored_header[236:244].strip() == b"-1"
        if count_unknown:  # counted from the file size by the reader: state it
            stored_header = with_record_count(stored_header, h)
        writer.write_edf_header(stored_header)
        lossless = [i for i in range(len(h.signals)) if i not in channels.indices]
        drop_text = anonymize is not None and anonymize.drop_annotation_text
        _write_lossless(edf, writer, lossless, raw_records, drop_text)
        read = channels.reader(edf)
        codec_signals = [h.signals[i] for i in channels.indices]
        rate = h.sample_rate(channels.indices[0])
        accumulator = (
            FidelityAccumulator(
                [s.label for s in codec_signals],
                rate,
                mel_sample_rate=codec.sample_rate if codec else spectral.MEL_SAMPLE_RATE,
                mel=not archival,  # exact or bounded: 0 if exact, else not measured (no torch)
            )
            if options.measure
            else None
        )
        if accumulator is not None and not archival:
            registry.bound_torch_threads()  # the mel loss: torch's second thread stalls when busy
        steps = (
            channels.residual_steps(codec_signals, options.max_error_uv)
            if options.max_error_uv is not None
            else None
        )
        read_digital = channels.reader(edf, digital=True)
        recent: dict = {}
        clipped = 0

        def finish(block: int) -> None:
            """Decode as decompression will (the residual layer, or the codec), then measure.

            The residual layer (RESI) quantises the samples themselves: it needs nothing of the
            neural decoder, whose float output varies across machines and thread counts.
            """
            nonlocal clipped
            lo, hi = layout.source_range(block)
            if steps is not None:
                k, lows, highs = quantised(read_digital(lo, hi), steps, codec_signals)
                spr = channels.samples_per_record
                start, duration = (
                    (lo // spr * h.record_duration, (hi - lo) // spr * h.record_duration)
                    if without_codes  # whole data records
                    else (recent[block].start_seconds, recent[block].duration_seconds)
                )
                residual = IntegerResidualBlock(
                    index=block,
                    steps=steps.astype(np.uint32),
                    lows=lows,
                    highs=highs,
                    residuals=k,
                    start_seconds=start,
                    duration_seconds=duration,
                )
                writer.write_residual_block(residual, time_block=without_codes)
                if accumulator is None:
                    return
                digital = residual.samples()
            else:
                from eegzip.pipeline.blockcodec import decode_block  # torch: the codec only

                digital, n_clipped = to_digital(
                    decode_block(codec, layout, recent, block, grouping),
                    codec_signals,
                    channels.uv_factors,
                )
                clipped += n_clipped
            if accumulator is not None:
                accumulator.update(read(lo, hi), to_uv(digital, codec_signals, channels.uv_factors))

        needs_decoding = accumulator is not None or steps is not None
        duration = h.n_records * h.record_duration
        stores_metrics = codec is not None or without_codes or (
            accumulator is not None
            and spectral.stores_metrics(options.bitrate, duration, len(codec_signals))
        )
        if without_codes:
            for b in range(layout.n_blocks):
                finish(b)
                if progress:
                    progress(b + 1, layout.n_blocks)
        elif codec is None:

            def measure(block: int, decoded_uv: np.ndarray) -> None:
                nonlocal clipped
                digital, n_clipped = to_digital(decoded_uv, codec_signals, channels.uv_factors)
                clipped += n_clipped
                lo, hi = layout.source_range(block)
                accumulator.update(read(lo, hi), to_uv(digital, codec_signals, channels.uv_factors))

            step = spectral.encode_file(
                writer, read, layout, h, len(codec_signals), options.bitrate,
                measure if accumulator else None, progress, stores_metrics,
            )  # fmt: skip
        else:
            from eegzip.pipeline.blockcodec import encode_block  # torch: the codec only

            code_stats = CodeStats(codec.codebook_size, options.entropy)
            for b in range(layout.n_blocks):
                recent[b] = encode_block(codec, layout, read, b, codebooks, grouping)
                code_stats.add(recent[b].codes, writer.write_code_block(recent[b]))
                if needs_decoding and b >= 1:
                    finish(b - 1)
                recent.pop(b - 2, None)
                if progress:
                    progress(b + 1, layout.n_blocks)
            if needs_decoding:
                finish(layout.n_blocks - 1)
        fidelity = accumulator.result().to_dict() if accumulator else None
        metrics = {
            "fidelity": fidelity,
            "clipped_samples": clipped,
            "codebooks": codebooks,
            "duration_seconds": duration,
        }
        if codec is not None:
            metrics["codes"] = code_stats.to_dict()
        elif not without_codes:  # compact: the overall row only (short files are mostly overhead)
            if fidelity is not None:
                metrics["fidelity"] = {k: v for k, v in fidelity.items() if k != "channels"}
            metrics["spectral"] = {
                "step_uv": float(f"{step.step_uv:.6g}"),  # each block holds its exact step
                "bitrate_reachable": step.reached,
            }
        if stores_metrics:  # not for spectral files unmeasured, or too short to afford it
            writer.write_metrics(metrics)
        if steps is not None:
            from eegzip.pipeline.selfcheck import check_archival  # imports decompress

            writer.check_before_publishing(
                lambda packed: check_archival(
                    source, packed, codec, steps,
                    header=None if anonymize else stored_header, exact_text=not drop_text,
                )  # fmt: skip
            )
    return CompressResult(
        input=source,
        output=output,
        input_bytes=source.stat().st_size,
        output_bytes=output.stat().st_size,
        duration_seconds=duration,
        codec_channels=tuple(s.label.strip() for s in codec_signals),
        lossless_channels=tuple(h.signals[i].label.strip() for i in lossless),
        codebooks=codebooks,
        code_bytes=payload_bytes(output, "CODE", "GCOD", "ECOD"),
        wall_seconds=time.perf_counter() - started,
        clipped_samples=clipped,
        fidelity=fidelity,
        warnings=recording_warnings(h, clipped, count_unknown)
        + (
            spectral.shortfall(options.bitrate)
            if codec is None and not without_codes and not step.reached
            else ()
        ),
        max_error_uv=options.max_error_uv,
        residual_bytes=payload_bytes(output, "RESD", "RESP", "RESI"),
        grouping=grouping.summary(labels) if grouping else None,
        code_stats=metrics.get("codes"),
        bitrate=options.bitrate,
        sizes=block_sizes(output),
    )
