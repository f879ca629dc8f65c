"""The container's metadata (spec §5.1) as one typed, validated object.

Why: the META block is JSON that anyone can write, and a checksum only proves it was not
damaged, not that it makes sense. Read by hand, wrong types and values gave tracebacks or,
worse, a wrong decode without error (a missing ``max_error_uv`` skipped the residual layer of
an archival file). Here it is parsed once, every field checked for type and range, and then
checked against the stored EDF header and the blocks, before anything is allocated or a model
is loaded. Keys this eegzip does not know are kept in ``extra``; new optional fields take a
default, so files without them stay readable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eegzip.container import ContainerReader
from eegzip.container.blocks import CodeBlock
from eegzip.edf import MAX_SIGNALS, EdfHeader
from eegzip.errors import ContainerFormatError
from eegzip.pipeline.channels import uv_factor
from eegzip.pipeline.layout import BlockLayout, record_blocks

MAX_CODEBOOKS = 64
MAX_CODEBOOK_SIZE = 1 << 16
MAX_HOP = 1 << 16
MAX_RATE_HZ = 1 << 20
MAX_RESAMPLE_TERM = 1 << 20  # up and down of the rate ratio
MAX_BLOCK_FRAMES = 1 << 16
MAX_SOURCE_SAMPLES = 1 << 44  # 2 years at 256 kHz
MAX_CODE_BLOCKS = 1 << 24  # bounds the index a reader walks: 64-s blocks for 34 years

_KNOWN = {
    "model", "codebooks_kept", "codec_channels", "codec_uv_factors", "lossless_channels",
    "resample", "block_frames", "context_frames", "source_samples", "raw_block_records", "edf",
    "max_error_uv", "groups",
}  # fmt: skip


class _Fields:
    """Typed access to one JSON object; every failure is one ContainerFormatError line."""

    def __init__(self, obj: Any, where: str, name: str) -> None:
        if not isinstance(obj, Mapping):
            raise ContainerFormatError(f"{name}: metadata {where.rstrip('.')} is not an object")
        self.obj, self.where, self.name = obj, where, name

    def fail(self, key: str, wanted: str) -> ContainerFormatError:
        value = repr(self.obj.get(key, "missing"))[:40]
        return ContainerFormatError(
            f"{self.name}: metadata {self.where}{key} must be {wanted}, not {value}"
        )

    def int(self, key: str, low: int, high: int) -> int:
        value = self.obj.get(key)
        if type(value) is not int or not low <= value <= high:
            raise self.fail(key, f"an integer in {low}..{high}")
        return value

    def number(self, key: str, low: float, high: float, optional: bool = False) -> float | None:
        value = self.obj.get(key)
        if value is None and optional:
            return None
        if type(value) not in (int, float) or not (math.isfinite(value) and low <= value <= high):
            raise self.fail(key, f"a number in {low:g}..{high:g}")
        return float(value)

    def text(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str) or (choices is not None and value not in choices):
            raise self.fail(key, f"one of {', '.join(choices)}" if choices else "a string")
        return value

    def ints(self, key: str, high: int) -> tuple[int, ...]:
        value = self.obj.get(key)
        if not isinstance(value, list) or len(value) > high + 1 or not all(
            type(v) is int and 0 <= v <= high for v in value
        ):
            raise self.fail(key, f"a list of integers in 0..{high}")
        return tuple(value)

    def numbers(self, key: str, count: int) -> tuple[float, ...]:
        value = self.obj.get(key)
        if not isinstance(value, list) or len(value) != count or not all(
            type(v) in (int, float) and math.isfinite(v) and v > 0 for v in value
        ):
            raise self.fail(key, f"{count} positive numbers")
        return tuple(float(v) for v in value)

    def object(self, key: str) -> _Fields:
        return _Fields(self.obj.get(key), f"{self.where}{key}.", self.name)


@dataclass(frozen=True)
class ModelRef:
    """The neural model a container was coded with (META ``model``)."""

    name: str
    kind: str  # "sc" or "mc"
    sha256: str
    sample_rate: int  # Hz
    hop_length: int  # model samples per code frame
    n_codebooks: int
    codebook_size: int

    @classmethod
    def parse(cls, f: _Fields) -> ModelRef:
        kind = f.text("kind", ("sc", "mc")) if "kind" in f.obj else "sc"  # absent before 1.2
        return cls(
            name=f.text("name"),
            kind=kind,
            sha256=f.text("sha256"),
            sample_rate=f.int("sample_rate", 1, MAX_RATE_HZ),
            hop_length=f.int("hop_length", 1, MAX_HOP),
            n_codebooks=f.int("n_codebooks", 1, MAX_CODEBOOKS),
            codebook_size=f.int("codebook_size", 2, MAX_CODEBOOK_SIZE),
        )


@dataclass(frozen=True)
class ContainerMeta:
    """META, typed (spec §5.1); ``read`` is the only way to get one from a file."""

    model: ModelRef | None  # None: the spectral codec (extra "spectral") or archival, no codes
    codebooks_kept: int
    codec_channels: tuple[int, ...]  # EDF signal indices, in the code blocks' channel order
    codec_uv_factors: tuple[float, ...]  # physical unit → µV, per codec channel
    lossless_channels: tuple[int, ...]
    up: int  # model rate / codec channels' rate = up / down
    down: int
    block_frames: int
    context_frames: int
    source_samples: int  # per codec channel
    raw_block_records: int
    n_records: int
    n_signals: int
    max_error_uv: float | None = None  # set: archival (a residual layer for every time block)
    groups: Mapping[str, Any] | None = None  # multi-channel models; Grouping.from_meta checks it
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys not listed above

    @property
    def bounded(self) -> bool:
        return self.max_error_uv is not None

    @property
    def without_codes(self) -> bool:
        """An archival file without neural codes (1.5): its RESI blocks are its time blocks,
        of ``block_frames`` data records each."""
        return self.model is None and self.bounded

    @classmethod
    def parse(cls, meta: Mapping[str, Any], name: str) -> ContainerMeta:
        """Types and ranges of every field (ContainerFormatError naming the first bad one)."""
        f = _Fields(meta, "", name)
        edf = f.object("edf")
        n_signals = edf.int("n_signals", 1, MAX_SIGNALS)
        codec_channels = f.ints("codec_channels", n_signals - 1)
        model = None if meta.get("model") is None else ModelRef.parse(f.object("model"))
        resample = f.object("resample")
        block_frames = f.int("block_frames", 1, MAX_BLOCK_FRAMES)
        return cls(
            model=model,
            codebooks_kept=f.int("codebooks_kept", 0, model.n_codebooks if model else 0),
            codec_channels=codec_channels,
            codec_uv_factors=f.numbers("codec_uv_factors", len(codec_channels)),
            lossless_channels=f.ints("lossless_channels", n_signals - 1),
            up=resample.int("up", 1, MAX_RESAMPLE_TERM),
            down=resample.int("down", 1, MAX_RESAMPLE_TERM),
            block_frames=block_frames,
            context_frames=f.int("context_frames", 0, block_frames),
            source_samples=f.int("source_samples", 1, MAX_SOURCE_SAMPLES),
            raw_block_records=f.int("raw_block_records", 1, 2**32 - 1),
            n_records=edf.int("n_records", 1, 2**63 - 1),
            n_signals=n_signals,
            max_error_uv=f.number("max_error_uv", 0.0, 1e12, optional=True),
            groups=f.object("groups").obj if meta.get("groups") is not None else None,
            extra={k: v for k, v in meta.items() if k not in _KNOWN},
        )

    @classmethod
    def read(cls, reader: ContainerReader, header: EdfHeader, name: str) -> ContainerMeta:
        """Parsed, and checked against the stored EDF header and the file's blocks (those of
        an intact file: salvage finds out itself what a damaged one still holds)."""
        meta = cls.parse(reader.meta, name)
        meta.check(header, name)
        if reader.damage is None:
            meta.check_blocks(reader, header, name)
        return meta

    def check(self, header: EdfHeader, name: str) -> None:
        """Cross-checks against the stored EDF header."""

        def fail(what: str) -> ContainerFormatError:
            return ContainerFormatError(f"{name}: metadata {what}")

        if (self.n_signals, self.n_records) != (len(header.signals), header.n_records):
            raise fail(
                f"describes {self.n_signals} signals and {self.n_records} records, the stored "
                f"EDF header {len(header.signals)} and {header.n_records}"
            )
        listed = self.codec_channels + self.lossless_channels
        if not self.codec_channels or sorted(listed) != list(range(self.n_signals)):
            raise fail("codec and lossless channels do not partition the EDF's signals")
        rates = {header.signals[i].samples_per_record for i in self.codec_channels}
        if len(rates) != 1 or any(header.signals[i].is_annotation for i in self.codec_channels):
            raise fail("lists codec channels of different rates or an annotation signal")
        if self.source_samples != header.n_records * rates.pop():
            raise fail(f"source_samples {self.source_samples} does not match the EDF header")
        dimensions = [header.signals[i].physical_dimension for i in self.codec_channels]
        units = [uv_factor(d) or 1.0 for d in dimensions]
        if list(self.codec_uv_factors) != units:
            raise fail("codec_uv_factors do not match the codec channels' units (µV/mV/V)")
        if (self.model is None) != (self.codebooks_kept == 0):
            raise fail("codebooks_kept must be 1..n_codebooks with a model, 0 without")
        spectral = self.extra.get("spectral") is not None
        if spectral and (self.model is not None or self.bounded):
            raise fail("has spectral-codec settings with a model or max_error_uv")
        if self.model is None and not (spectral or self.bounded):
            raise fail("names no model but neither spectral-codec settings nor max_error_uv")
        if self.without_codes and (self.up, self.down, self.context_frames) != (1, 1, 0):
            raise fail("of an archival file without codes must have resample 1/1, context 0")
        if (self.groups is not None) != (self.model is not None and self.model.kind == "mc"):
            raise fail("has channel groups exactly when its model is multi-channel (kind mc)")

    def layout(self, record_duration: float | None = None) -> BlockLayout:
        """The block geometry: code frames of a neural-codec file, or data records of an
        archival file without codes (which needs the EDF's ``record_duration``)."""
        if self.without_codes and record_duration is not None:
            spr = self.source_samples // self.n_records
            return record_blocks(self.n_records, spr, record_duration, self.block_frames)
        if self.model is None:
            raise ValueError("a file without a neural model has no code-frame layout")
        return BlockLayout(
            up=self.up,
            down=self.down,
            hop=self.model.hop_length,
            model_rate=self.model.sample_rate,
            block_frames=self.block_frames,
            context_frames=self.context_frames,
            source_samples=self.source_samples,
        )

    def check_blocks(self, reader: ContainerReader, header: EdfHeader, name: str) -> None:
        """The number of time blocks the layout implies, code blocks iff a model, and a
        residual layer iff archival."""
        if self.model is None and not self.bounded:  # the spectral codec: checked on decoding
            return
        if reader.residuals_are_time_blocks != self.without_codes:
            raise ContainerFormatError(
                f"{name}: metadata {'names no' if self.model is None else 'names a'} model but "
                f"the file holds {'code' if self.model is None else 'no code'} blocks"
            )
        expected = self.layout(header.record_duration).n_blocks
        kind = "residual" if self.without_codes else "code"
        if expected > MAX_CODE_BLOCKS:
            raise ContainerFormatError(f"{name}: metadata implies {expected:,} {kind} blocks")
        if reader.code_block_count != expected:
            raise ContainerFormatError(
                f"{name}: holds {reader.code_block_count} {kind} blocks, its metadata implies "
                f"{expected}"
            )
        if reader.has_residuals != self.bounded:
            raise ContainerFormatError(
                f"{name}: metadata says {'archival' if self.bounded else 'lossy'} but the file "
                f"{'lacks' if self.bounded else 'has'} a residual layer"
            )

    @property
    def n_streams(self) -> int:
        """Token streams per code block: channel groups, or channels."""
        members = self.groups.get("members") if self.groups is not None else None
        return len(members) if isinstance(members, list) else len(self.codec_channels)

    def check_code_blocks(self, reader: ContainerReader, name: str) -> None:
        """Every code block's shape (verify: decoding checks those of the blocks it reads)."""
        if self.model is not None:
            for index, block in enumerate(reader.iter_code_blocks()):
                self.check_code_block(block, index, self.n_streams, name)

    def check_code_block(self, block: CodeBlock, index: int, n_streams: int, name: str) -> None:
        """A code block's shape against the layout: frames, channels, streams, codebooks."""
        layout = self.layout()
        first = index * self.block_frames
        frames = min(layout.total_frames, first + self.block_frames) - first
        got = (block.start_frame, block.n_frames, block.n_channels, block.codes.shape[:2])
        wanted = (first, frames, len(self.codec_channels), (n_streams, self.codebooks_kept))
        if got != wanted:
            raise ContainerFormatError(
                f"{name}: code block {index} has (start frame, frames, channels, (streams, "
                f"codebooks)) {got}, its metadata implies {wanted}"
            )
