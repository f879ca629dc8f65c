""".eegc → EDF: the same header bytes, lossless signals as stored, codec channels decoded.

Blocks decode one at a time with their neighbours' codes as context; decoded samples and
lossless samples meet in a small record assembler that writes whole EDF data records, so
memory stays bounded by a block however long the recording is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegzip.codec import registry
from eegzip.codec import spectral as spectral_codec
from eegzip.codec.registry import Codec
from eegzip.container import CodeBlock, ContainerReader, IntegerResidualBlock, RawBlock
from eegzip.container.reader import clock
from eegzip.container.spectral import SpectralBlock
from eegzip.edf import EdfFile, EdfHeader, EdfWriter, parse_header
from eegzip.edf.window import shift_tals, window_header
from eegzip.errors import (
    ContainerFormatError,
    EdfFormatError,
    ModelError,
    UsageError,
)
from eegzip.metrics import FidelityAccumulator
from eegzip.pipeline import spectral
from eegzip.pipeline.compress import Progress
from eegzip.pipeline.groups import Grouping
from eegzip.pipeline.heap import retain_freed_memory
from eegzip.pipeline.layout import BlockLayout
from eegzip.pipeline.meta import ContainerMeta
from eegzip.pipeline.signals import CodecChannels, apply_residual, to_digital, to_uv


@dataclass(frozen=True)
class DecompressResult:
    input: Path
    output: Path | None
    output_bytes: int
    wall_seconds: float
    clipped_samples: int
    fidelity: dict | None
    salvage: Salvage | None = None

    def to_dict(self) -> dict:
        out = {
            "input": str(self.input),
            "output": str(self.output) if self.output else None,
            "output_bytes": self.output_bytes,
            "wall_seconds": round(self.wall_seconds, 3),
            "clipped_samples": self.clipped_samples,
            "fidelity": self.fidelity,
        }
        if self.salvage is not None:
            out.update(self.salvage.to_dict())
        return out


@dataclass(frozen=True)
class Salvage:
    """What ``--salvage`` recovered: the first ``records`` data records, and why not more."""

    records: int
    total_records: int
    record_seconds: float
    damage: tuple[str, ...]  # one line per problem found; empty for an intact file

    @property
    def salvaged_seconds(self) -> float:
        return self.records * self.record_seconds

    @property
    def total_seconds(self) -> float:
        return self.total_records * self.record_seconds

    @property
    def complete(self) -> bool:
        return self.records == self.total_records

    def summary(self) -> str:
        """'salvaged 00:00:00–00:12:48 of 00:30:00 (00:12:48–00:30:00 lost)'."""
        done = f"salvaged {clock(0)}–{clock(self.salvaged_seconds)} of {clock(self.total_seconds)}"
        if self.complete:
            return f"{done}: the whole recording, nothing lost"
        return f"{done} ({clock(self.salvaged_seconds)}–{clock(self.total_seconds)} lost)"

    def to_dict(self) -> dict:
        return {
            "salvaged_records": self.records,
            "total_records": self.total_records,
            "salvaged_seconds": self.salvaged_seconds,
            "total_seconds": self.total_seconds,
            "complete": self.complete,
            "damage": list(self.damage),
            "salvage_summary": self.summary(),
        }


def codec_for(meta: dict, model: str | Path | Codec | None, device: str, name: str) -> Codec:
    """The model a container was made with: by its recorded name, or ``model``; SHA-256 checked."""
    wanted = meta.get("model", {})
    wanted_name, wanted_sha = wanted.get("name", "?"), wanted.get("sha256", "")
    if isinstance(model, Codec):
        if model.spec.sha256 != wanted_sha:
            raise ModelError(
                f"{name}: needs model {wanted_name!r} (sha256 {wanted_sha[:16]}…), not "
                f"{model.spec.name!r} (sha256 {model.spec.sha256[:16]}…)"
            )
        return model
    try:
        spec = registry.resolve(model if model is not None else wanted_name)
    except ModelError:
        raise ModelError(
            f"{name}: needs model {wanted_name!r} (sha256 {wanted_sha[:16]}…), which is not "
            "available here; pass its weights with --model PATH"
        ) from None
    if spec.sha256 != wanted_sha:
        raise ModelError(
            f"{name}: needs model {wanted_name!r} (sha256 {wanted_sha[:16]}…) but "
            f"{spec.path.name} has sha256 {spec.sha256[:16]}…"
        )
    return registry.load(spec, device)


def grouping_from_meta(meta: dict, codec: Codec, n_channels: int, name: str) -> Grouping | None:
    """The recorded channel groups: a multi-channel model needs them, a single-channel none."""
    recorded = meta.get("groups")
    if (recorded is not None) != (codec.kind == "mc"):
        raise ContainerFormatError(
            f"{name}: metadata {'has' if recorded is not None else 'lacks'} channel groups, "
            f"but its model {codec.spec.name!r} is of kind {codec.kind!r}"
        )
    return None if recorded is None else Grouping.from_meta(recorded, n_channels, name)


TimeBlock = CodeBlock | SpectralBlock | IntegerResidualBlock
"""What a time block holds: codes, the spectral codec's coefficients, or (1.5) the RESI layer of
an archival file without codes."""


class _RecordAssembler:
    """Collects per-signal samples and hands out whole data records."""

    def __init__(self, header: EdfHeader) -> None:
        self.per_record = [s.samples_per_record for s in header.signals]
        self.buffers: list[list[np.ndarray]] = [[] for _ in header.signals]
        self.available = [0] * len(header.signals)

    def push(self, signal: int, samples: np.ndarray) -> None:
        self.buffers[signal].append(samples)
        self.available[signal] += len(samples)

    def records_available(self, signal: int) -> int:
        return self.available[signal] // self.per_record[signal]

    def pop(self, records: int) -> list[np.ndarray]:
        out = []
        for i, spr in enumerate(self.per_record):
            data = np.concatenate(self.buffers[i]) if self.buffers[i] else np.zeros(0, np.int32)
            take = records * spr
            out.append(data[:take])
            self.buffers[i] = [data[take:]]
            self.available[i] -= take
        return out


def _code_blocks(
    reader: ContainerReader, first: int, last: int, count: int, context: int = 1
) -> Iterator[tuple[int, dict[int, TimeBlock]]]:
    """Blocks first..last, each with a window holding it and ``context`` neighbours on either
    side among 0..count-1 (neural codes decode with their neighbours'; spectral blocks alone)."""
    window: dict[int, TimeBlock] = {}
    for b in range(first, last + 1):
        for k in range(b - context, b + context + 1):
            if 0 <= k < count and k not in window:
                window[k] = reader.code_block(k)
        window.pop(b - 2, None)
        yield b, window


def record_window(
    header: EdfHeader, start: float | None, duration: float | None, name: str
) -> tuple[int, int]:
    """Data records [first, stop) covering [start, start + duration) seconds (all by default)."""
    total = header.n_records
    if start is None and duration is None:
        return 0, total
    seconds = header.record_duration
    begin = 0.0 if start is None else start
    first = math.floor(begin / seconds + 1e-9)
    stop = total if duration is None else math.ceil((begin + duration) / seconds - 1e-9)
    stop = min(total, stop)
    if begin < 0 or (duration is not None and duration <= 0) or first >= stop:
        raise UsageError(
            f"{name}: window {begin:g} s + {duration} s is outside the recording "
            f"(0–{total * seconds:g} s)"
        )
    return first, stop


def _shifted_annotations(samples: np.ndarray, spr: int, width: int, seconds: int) -> np.ndarray:
    """Annotation-signal samples with TAL onsets moved, record by record."""
    mask = (1 << (8 * width)) - 1
    raw = (samples.astype(np.int64) & mask).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :width]
    records = raw.tobytes()
    size = spr * width
    moved = b"".join(
        shift_tals(records[i : i + size], seconds) for i in range(0, len(records), size)
    )
    values = np.frombuffer(moved, np.uint8).reshape(-1, width).astype(np.int64)
    joined = sum(values[:, k] << (8 * k) for k in range(width))
    half = 1 << (8 * width - 1)
    return ((joined ^ half) - half).astype(np.int32)


def _intact_prefix(
    reader: ContainerReader,
    header: EdfHeader,
    layout: BlockLayout,
    spr: int,
    lossless: list[int],
    bounded: bool,
    name: str,
) -> tuple[Salvage, int]:
    """The longest run of data records from the start whose blocks all read cleanly.

    Returns it and how many code blocks may be used as context. A block is decoded with its
    neighbours' codes, so the block before the first damaged or missing one cannot be
    reproduced as written and is left out too: what is salvaged is exactly what a decode of
    the undamaged file gives. The RESI blocks of an archival file without codes (1.5) each
    decode alone: every intact one is kept.
    """
    damage: list[str] = []
    intact = 0
    last: CodeBlock | None = None
    alone = reader.residuals_are_time_blocks
    for b in range(layout.n_blocks):
        try:
            block = reader.code_block(b)  # the RESI block itself, fully decoded, if alone
            if bounded and not alone and not reader.check_residual(b):
                raise ContainerFormatError(
                    f"{name}: the residual layer of code block {b} is missing"
                )
        except IndexError:
            damage.append(f"{name}: code block {b} is missing")
            break
        except ContainerFormatError as exc:
            damage.append(str(exc))
            break
        intact, last = intact + 1, block
    if intact == layout.n_blocks:
        records = header.n_records
    elif alone:
        records = layout.source_range(intact)[0] // spr
    else:
        usable = max(0, intact - 1)
        records = layout.source_range(usable)[0] // spr
        if last is not None:
            end = last.start_seconds + last.duration_seconds
            span = f"{clock(last.start_seconds)}–{clock(end)}"
            damage.append(
                f"{name}: code block {last.index} ({span}) is intact but left out: "
                "decoding it needs the codes of the block after it"
            )
    for i in lossless:
        covered = 0
        try:
            for block in reader.iter_raw_blocks(i):
                if block.start_record != covered or covered >= records:
                    break
                covered += block.n_records
        except ContainerFormatError as exc:
            if covered < records:
                damage.append(str(exc))
        records = min(records, covered)
    if reader.damage is not None and reader.damage not in damage:
        damage.append(reader.damage)
    salvage = Salvage(records, header.n_records, header.record_duration, tuple(damage))
    return salvage, intact


def _until_damage(blocks: Iterator[RawBlock]) -> Iterator[RawBlock]:
    """Raw blocks up to the first that cannot be read (salvage: later ones are not needed)."""
    try:
        yield from blocks
    except ContainerFormatError:
        return


def _reference_reader(reference: Path, header: EdfHeader, channels: CodecChannels):
    ref = EdfFile.open(reference)
    h = ref.header
    if (h.n_records, len(h.signals)) != (header.n_records, len(header.signals)) or any(
        h.signals[i].samples_per_record != header.signals[i].samples_per_record
        for i in channels.indices
    ):
        ref.close()
        raise EdfFormatError(f"{reference}: does not match the compressed recording's layout")
    return ref


def _residual(reader: ContainerReader, block: int, name: str, decoded: np.ndarray | None = None):
    """The residual layer of ``block``; the reader refuses a RESD/RESP one if the decoder
    differs from the writer's."""
    residual = reader.residual_block(block, decoded)
    if residual is None:
        raise ContainerFormatError(f"{name}: the residual layer of code block {block} is missing")
    return residual


@dataclass(frozen=True)
class DecodedBlock:
    """One code block's decoded codec channels, as digital values, cut to the window asked for.

    ``start_sample`` is the first sample's index in the codec channels' timeline.
    """

    index: int
    start_sample: int
    digital: np.ndarray  # (codec channels, samples) int32
    clipped: int


@dataclass(frozen=True)
class ContainerDecoder:
    """What decoding a container's data records needs, read once from its metadata.

    One implementation of random access, shared by ``decompress`` (which writes the records as
    an EDF) and the lazy reader (which keeps them as arrays): only the code blocks a window
    needs, with their neighbours as context, and only the raw blocks that overlap it.
    """

    reader: ContainerReader
    header: EdfHeader
    codec: Codec | None  # None: the file holds the spectral codec's blocks (XFRM, XFRC)
    layout: BlockLayout
    channels: CodecChannels
    grouping: Grouping | None
    bounded: bool
    name: str
    meta: ContainerMeta

    @classmethod
    def of(
        cls, reader: ContainerReader, model: str | Path | Codec | None, device: str, name: str
    ) -> ContainerDecoder:
        meta = reader.meta
        header = parse_header(reader.edf_header, f"{name} (stored EDF header)")
        checked = ContainerMeta.read(reader, header, name)  # before any model is loaded
        # The spectral codec, and archival files without codes (1.5), have no model; an
        # archival file of format 1.4 is restored from its RESI blocks alone: no model either.
        portable = checked.bounded and not reader.residuals_need_decoder
        codec = (
            None if checked.model is None or portable else codec_for(meta, model, device, name)
        )
        indices = checked.codec_channels
        channels = CodecChannels(
            indices=indices,
            uv_factors=checked.codec_uv_factors,
            samples_per_record=header.signals[indices[0]].samples_per_record,
        )
        return cls(
            reader=reader,
            header=header,
            codec=codec,
            layout=(
                checked.layout(header.record_duration)
                if checked.model is not None or checked.without_codes
                else spectral.layout_for(header, channels.samples_per_record)
            ),
            channels=channels,
            grouping=None if codec is None else grouping_from_meta(meta, codec, len(indices), name),
            bounded=checked.bounded,
            name=name,
            meta=checked,
        )

    @property
    def lossless_indices(self) -> list[int]:
        return list(self.meta.lossless_channels)

    def _spectral_digital(
        self, b: int, block: CodeBlock | SpectralBlock | None, codec_signals
    ) -> tuple[np.ndarray, int]:
        """Block ``b`` of a spectral-codec file, once its shape matches the layout."""
        lo, hi = self.layout.source_range(b)
        if not isinstance(block, SpectralBlock) or (block.n_channels, block.n_samples) != (
            len(self.channels.indices),
            hi - lo,
        ):
            raise ContainerFormatError(
                f"{self.name}: block {b} is not a spectral block of {len(self.channels.indices)}"
                f" channels × {hi - lo} samples, as its metadata implies"
            )
        rate = self.channels.samples_per_record / self.header.record_duration
        decoded = spectral_codec.decode(block, rate)
        return to_digital(decoded, codec_signals, self.channels.uv_factors)

    def _block_digital(
        self, b: int, window: dict[int, TimeBlock], codec_signals
    ) -> tuple[np.ndarray, int]:
        """Block ``b``'s codec channels as digital values, and how many the codec clamped.

        An archival file (1.4) restores them from its RESI block alone, by integer arithmetic
        (in a file without codes, 1.5, that block is the time block in ``window``); older
        archival files correct the neural decoder's output, lossy files are that output.
        """
        if self.bounded and not self.reader.residual_needs_decoder(b):
            block = window.get(b)
            if not isinstance(block, IntegerResidualBlock):
                block = _residual(self.reader, b, self.name)
            lo, hi = self.layout.source_range(b)
            if block.residuals.shape != (len(self.channels.indices), hi - lo):
                raise ContainerFormatError(
                    f"{self.name}: the residual block of time block {b} holds "
                    f"{block.residuals.shape} samples, its metadata implies "
                    f"{(len(self.channels.indices), hi - lo)}"
                )
            return block.samples(), 0
        if self.codec is None:
            return self._spectral_digital(b, window.get(b), codec_signals)
        streams = len(self.grouping.members) if self.grouping else len(self.channels.indices)
        for k, code_block in window.items():
            self.meta.check_code_block(code_block, k, streams, self.name)
        from eegzip.pipeline.blockcodec import decode_block  # torch: the codec only

        digital, clipped = to_digital(
            decode_block(self.codec, self.layout, window, b, self.grouping),
            codec_signals,
            self.channels.uv_factors,
        )
        if self.bounded:
            residual = _residual(self.reader, b, self.name, digital)
            steps = residual.steps.astype(np.int64)
            digital = apply_residual(digital, steps, residual.residuals, codec_signals)
        return digital, clipped

    def records(
        self,
        first: int,
        stop: int,
        *,
        code_blocks: int | None = None,
        annotation_shift: int = 0,
        salvage: bool = False,
        on_block: Callable[[DecodedBlock], None] | None = None,
    ) -> Iterator[list[np.ndarray]]:
        """Data records [first, stop) of every signal, in runs of whole records.

        Each run is one int32 array per signal (the EDF's digital values). ``code_blocks``
        limits the blocks used as context (salvage); ``annotation_shift`` moves TAL onsets
        that many seconds earlier (a window written as an EDF of its own); ``on_block`` sees
        every decoded block.
        """
        reader, header, layout = self.reader, self.header, self.layout
        indices, spr = self.channels.indices, self.channels.samples_per_record
        count = reader.code_block_count if code_blocks is None else code_blocks
        whole = (first, stop) == (0, header.n_records)
        s_first, s_stop = first * spr, stop * spr
        t0, t1 = first * header.record_duration, stop * header.record_duration
        codec_signals = [header.signals[i] for i in indices]
        lossless = {
            i: reader.raw_blocks_between(i, t0, t1) if not whole else reader.iter_raw_blocks(i)
            for i in self.lossless_indices
        }
        if salvage:  # only intact blocks are needed; past them the reader would raise
            lossless = {i: _until_damage(blocks) for i, blocks in lossless.items()}
        assembler = _RecordAssembler(header)
        records_done = 0
        needed = dict.fromkeys(lossless, first)  # the next record of each lossless signal
        b_first, b_last = layout.block_of(s_first), layout.block_of(s_stop - 1)
        context = 0 if self.codec is None else 1
        for b, window in _code_blocks(reader, b_first, b_last, count, context):
            lo, hi = layout.source_range(b)
            keep = slice(max(lo, s_first) - lo, min(hi, s_stop) - lo)
            digital, n_clipped = self._block_digital(b, window, codec_signals)
            digital = digital[:, keep]
            if on_block is not None:
                on_block(DecodedBlock(b, lo + keep.start, digital, n_clipped))
            for row, i in enumerate(indices):
                assembler.push(i, digital[row])
            ready = min(assembler.records_available(i) for i in indices)
            for i, blocks in lossless.items():
                per_record = header.signals[i].samples_per_record
                while assembler.records_available(i) < ready:
                    block = next(blocks, None)
                    if block is None:
                        break
                    start, end = block.start_record, block.start_record + block.n_records
                    if start != needed[i] and not (needed[i] == first and start < first < end):
                        raise ContainerFormatError(
                            f"{self.name}: the lossless blocks of signal {i} give record "
                            f"{start} where record {needed[i]} is needed"
                        )
                    skip = (needed[i] - start) * per_record
                    take = (min(stop, end) - start) * per_record
                    needed[i] = min(stop, end)
                    samples = block.samples[skip:take].astype(np.int32)
                    if annotation_shift and header.signals[i].is_annotation:
                        samples = _shifted_annotations(
                            samples, per_record, header.bytes_per_sample, annotation_shift
                        )
                    assembler.push(i, samples)
            ready = min(assembler.records_available(i) for i in range(len(header.signals)))
            records_done += ready
            if ready:
                yield assembler.pop(ready)
        if records_done != stop - first:
            raise ContainerFormatError(
                f"{self.name}: holds {records_done} of the {stop - first} data records asked for"
            )


def decompress_file(
    source: Path,
    output: Path | None,
    *,
    model: str | Path | Codec | None = None,
    device: str = "cpu",
    force: bool = False,
    reference: Path | None = None,
    start: float | None = None,
    duration: float | None = None,
    progress: Progress | None = None,
    salvage: bool = False,
) -> DecompressResult:
    """Write the EDF, or the window [start, start + duration) s of it as an EDF of its own.

    With ``output=None`` nothing is written (to only measure with ``reference``, or to verify).
    Only the code blocks the window needs are read and decoded.

    ``salvage`` recovers what it can from a damaged file (truncated, a block damaged): the
    longest run of data records from the start whose blocks are all intact, as a valid EDF of
    those records; ``result.salvage`` says what was recovered and what was lost. Nothing at all
    intact raises ContainerFormatError.
    """
    if salvage and (start is not None or duration is not None):
        raise UsageError("--salvage cannot be combined with --start/--duration")
    started = time.perf_counter()
    retain_freed_memory()
    with ContainerReader.open(source, salvage=salvage) as reader:
        decoder = ContainerDecoder.of(reader, model, device, str(source))
        header, layout, channels = decoder.header, decoder.layout, decoder.channels
        indices, spr = channels.indices, channels.samples_per_record
        salvaged = None
        count = None
        if salvage:
            salvaged, count = _intact_prefix(
                reader, header, layout, spr, decoder.lossless_indices, decoder.bounded, str(source)
            )
            if salvaged.records == 0:
                raise ContainerFormatError(
                    f"nothing can be salvaged: {salvaged.damage[0]}"
                    if salvaged.damage
                    else f"{source}: nothing can be salvaged: the recording holds no data records"
                )
            first, stop = 0, salvaged.records
        else:
            first, stop = record_window(header, start, duration, str(source))
        whole = (first, stop) == (0, header.n_records)
        raw_header, shift = (
            (reader.edf_header, 0)
            if whole
            else window_header(reader.edf_header, header, first, stop - first)
        )
        codec_signals = [header.signals[i] for i in indices]
        ref = _reference_reader(reference, header, channels) if reference else None
        accumulator = (
            FidelityAccumulator(
                [s.label for s in codec_signals],
                header.sample_rate(indices[0]),
                mel_sample_rate=(
                    decoder.codec.sample_rate if decoder.codec else spectral.MEL_SAMPLE_RATE
                ),
                mel=not decoder.bounded,  # as compression measured it
            )
            if ref
            else None
        )
        if accumulator is not None and not decoder.bounded:
            registry.bound_torch_threads()  # as compress does for the mel loss
        clipped = 0
        b_first = layout.block_of(first * spr)
        b_total = layout.block_of(stop * spr - 1) - b_first + 1

        def on_block(block: DecodedBlock) -> None:
            nonlocal clipped
            clipped += block.clipped
            if accumulator is not None:
                lo = block.start_sample
                accumulator.update(
                    channels.reader(ref)(lo, lo + block.digital.shape[1]),
                    to_uv(block.digital, codec_signals, channels.uv_factors),
                )
            if progress:
                progress(block.index - b_first + 1, b_total)

        writer = EdfWriter(output, raw_header, force=force, inputs=(source,)) if output else None
        try:
            for records in decoder.records(
                first,
                stop,
                code_blocks=count,
                annotation_shift=shift,
                salvage=salvage,
                on_block=on_block,
            ):
                if writer is not None:
                    writer.write_records(records)
            if writer is not None:
                writer.commit()
        finally:
            if writer is not None:
                writer.abort()
            if ref is not None:
                ref.close()
    return DecompressResult(
        input=source,
        output=output,
        output_bytes=output.stat().st_size if output else 0,
        wall_seconds=time.perf_counter() - started,
        clipped_samples=clipped,
        fidelity=accumulator.result().to_dict() if accumulator else None,
        salvage=salvaged,
    )
