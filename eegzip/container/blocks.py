"""Block payloads: typed dataclasses and their byte encodings (layouts in format.py, spec §5).

Decoders raise ValueError with a short reason for any malformed payload; the reader adds the
file name and the block's identity to make the one-line user message.
"""

from __future__ import annotations

import json
import math
import operator
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import zstandard

from . import code_entropy
from .bitpack import pack, packed_size, unpack
from .format import (
    CODE,
    CODE_HEADER,
    CODE_TYPES,
    ECOD,
    EDFH,
    GCOD,
    GCOD_STREAMS,
    INDEX_ENTRY,
    INDX,
    INDZ,
    JSON_DICTIONARY,
    MAX_BITS,
    MAX_CODES_PER_BLOCK,
    MAX_SAMPLES_PER_BLOCK,
    MAX_SIZED_ZSTD,
    META,
    METD,
    METZ,
    MTRC,
    MTRD,
    MTRZ,
    RAW_TYPES,
    RAWS,
    RAWS_HEADER,
    RAWT,
    RESD_HEADER,
    RESD_MAX_ORDER,
    RESD_WIDTH,
    RESIDUAL_TYPES,
    RESP_HEADER,
    RESP_PARTITION,
    RESP_SEGMENT,
    SAMPLE_WIDTHS,
    SIZED_ZSTD_LENGTH,
    SPECTRAL_TYPES,
    XFRM_HEADER,
    ZSTD_LEVEL,
)
from .residual_coding import decode_residuals, encode_residuals

_U16 = 0xFFFF
_U32 = 0xFFFF_FFFF
_U64 = 0xFFFF_FFFF_FFFF_FFFF


@dataclass(frozen=True, eq=False)
class CodeBlock:
    """One time block of neural codes for the codec channels.

    The pipeline reconstructs physical ≈ offsets[c] + scales[c] * model_output[c]; start and
    duration are stored so that error messages and time-range lookups need no META. Codes
    have one row per token stream: per channel, or per channel group for a multi-channel
    model (fewer streams than channels; stored as a GCOD or ECOD block).
    """

    index: int
    start_frame: int
    codes: np.ndarray  # (n_streams, n_codebooks, n_frames), integers < 2**bits
    offsets: np.ndarray  # float32, (n_channels,), n_channels >= n_streams
    scales: np.ndarray  # float32, (n_channels,)
    bits: int
    start_seconds: float
    duration_seconds: float

    def __post_init__(self) -> None:
        _check_int("index", self.index, 0, _U32)
        _check_int("start_frame", self.start_frame, 0, _U64)
        _check_int("bits", self.bits, 1, MAX_BITS)
        _check_time_range(self.start_seconds, self.duration_seconds)
        if self.duration_seconds == 0:
            raise ValueError("a code block must have a duration > 0")
        codes = self.codes
        if codes.ndim != 3 or codes.dtype.kind not in "ui":
            raise ValueError(f"codes must be a 3-D integer array, got {codes.ndim}-D {codes.dtype}")
        n_streams, n_codebooks, n_frames = codes.shape
        n_channels = self.offsets.shape[0] if self.offsets.ndim == 1 else -1
        _check_int("n_channels", n_channels, 1, _U16)
        _check_int("n_streams", n_streams, 1, n_channels)
        _check_int("n_codebooks", n_codebooks, 1, _U16)
        _check_int("n_frames", n_frames, 1, _U32)
        if codes.size > MAX_CODES_PER_BLOCK:
            raise ValueError(f"{codes.size} codes in one block; the limit is {MAX_CODES_PER_BLOCK}")
        if codes.min() < 0 or codes.max() >= 1 << self.bits:
            raise ValueError(f"codes must lie in [0, 2**{self.bits})")
        for name in ("offsets", "scales"):
            values = getattr(self, name)
            if values.dtype != np.float32 or values.shape != (n_channels,):
                raise ValueError(f"{name} must be float32 of shape ({n_channels},)")
            if not np.isfinite(values).all():
                raise ValueError(f"{name} must be finite")

    @property
    def n_channels(self) -> int:
        return self.offsets.shape[0]

    @property
    def n_streams(self) -> int:
        return self.codes.shape[0]

    @property
    def grouped(self) -> bool:
        """Fewer token streams than channels: only a GCOD or ECOD block can hold it."""
        return self.n_streams != self.n_channels

    @property
    def n_codebooks(self) -> int:
        return self.codes.shape[1]

    @property
    def n_frames(self) -> int:
        return self.codes.shape[2]


@dataclass(frozen=True, eq=False)
class RawBlock:
    """Losslessly stored samples of one EDF signal over a run of whole data records.

    The annotation signal goes here too: its bytes read as little-endian words of the sample
    width (int16 for EDF+, int24 for BDF+), so they come back exactly. ``text`` stores the
    words' bytes as they are (RAWT) instead of delta planes (RAWS): zstd finds text in them.
    """

    signal_index: int
    start_record: int
    n_records: int
    samples: np.ndarray  # 1-D integers, n_records * samples_per_record of them
    sample_width: int  # 2: EDF int16, 3: BDF int24
    start_seconds: float
    duration_seconds: float
    text: bool = False

    @property
    def block_type(self) -> bytes:
        return RAWT if self.text else RAWS

    def __post_init__(self) -> None:
        _check_int("signal_index", self.signal_index, 0, _U16)
        _check_int("start_record", self.start_record, 0, _U64)
        _check_int("n_records", self.n_records, 1, _U32)
        _check_time_range(self.start_seconds, self.duration_seconds)  # EDF allows 0 s records
        if self.sample_width not in SAMPLE_WIDTHS:
            raise ValueError(
                f"sample_width must be one of {SAMPLE_WIDTHS}, got {self.sample_width}"
            )
        samples = self.samples
        if samples.ndim != 1 or samples.dtype.kind not in "ui":
            raise ValueError(
                f"samples must be a 1-D integer array, got {samples.ndim}-D {samples.dtype}"
            )
        if not self.n_records <= samples.size <= MAX_SAMPLES_PER_BLOCK:
            raise ValueError(
                f"{samples.size} samples; need {self.n_records}..{MAX_SAMPLES_PER_BLOCK}"
            )
        if samples.size % self.n_records:
            raise ValueError(f"{samples.size} samples do not split into {self.n_records} records")
        half = 1 << (8 * self.sample_width - 1)
        if samples.min() < -half or samples.max() >= half:
            raise ValueError(f"samples do not fit in {self.sample_width} bytes")


@dataclass(frozen=True, eq=False)
class ResidualBlock:
    """Quantised corrections of one code block's decoded samples (bounded-error/lossless layer).

    For channel c: sample = decoded + steps[c] * residuals[c]; recon_crc[c] is the CRC-32 of the
    decoder's digital output (int32 little-endian), so a decoder that computes differently from
    the one that wrote the file is caught instead of silently breaking the error bound.
    A RESP block is predicted from the decoder's output, so writing or reading one needs it
    (``decoded``; it is not stored).
    """

    index: int
    steps: np.ndarray  # uint32, (n_channels,), >= 1
    recon_crc: np.ndarray  # uint32, (n_channels,)
    residuals: np.ndarray  # int32, (n_channels, n_samples)
    start_seconds: float
    duration_seconds: float
    decoded: np.ndarray | None = None  # int32, (n_channels, n_samples): the decoder's output

    def __post_init__(self) -> None:
        _check_residual_fields(self, ("steps", "recon_crc"))
        if self.decoded is not None and (
            self.decoded.shape != self.residuals.shape or self.decoded.dtype.kind not in "ui"
        ):
            raise ValueError(f"decoded must be integers of shape {self.residuals.shape}")


@dataclass(frozen=True, eq=False)
class IntegerResidualBlock:
    """One code block's codec channels in the archival modes, independent of the neural decoder.

    For channel c: sample = clamp(steps[c] * residuals[c], lows[c], highs[c]). The writer sets
    the bounds to the declared digital range widened to the block's own samples, so clamping
    only ever moves a value towards the original: samples outside the declared range are kept
    (exactly, or within the bound). Stored as RESI (1.4), decoded by integer arithmetic only.
    """

    index: int
    steps: np.ndarray  # uint32, (n_channels,), >= 1
    lows: np.ndarray  # int32, (n_channels,)
    highs: np.ndarray  # int32, (n_channels,), >= lows
    residuals: np.ndarray  # int32, (n_channels, n_samples)
    start_seconds: float
    duration_seconds: float

    def __post_init__(self) -> None:
        _check_residual_fields(self, ("steps", "lows", "highs"))
        bounds = np.stack([self.lows, self.highs]).astype(np.int64)
        if (bounds[0] > bounds[1]).any() or bounds.min() < -(2**31) or bounds.max() >= 2**31:
            raise ValueError("clamp bounds must be int32 with lows <= highs")

    def samples(self) -> np.ndarray:
        """The digital values this block restores (int32, channels × samples)."""
        if (self.steps == 1).all():  # lossless: k is the signal (no int64 copy)
            clipped = np.clip(self.residuals, self.lows[:, None], self.highs[:, None])
            return clipped.astype(np.int32, copy=False)
        values = self.residuals.astype(np.int64) * self.steps.astype(np.int64)[:, None]
        return np.clip(values, self.lows[:, None], self.highs[:, None]).astype(np.int32)


def _check_residual_fields(block: ResidualBlock | IntegerResidualBlock, per_channel) -> None:
    """What both residual block types require: index, times, residuals, steps and the other
    per-channel fields named in ``per_channel``."""
    _check_int("index", block.index, 0, _U32)
    _check_time_range(block.start_seconds, block.duration_seconds)
    if block.residuals.ndim != 2 or block.residuals.dtype.kind not in "ui":
        raise ValueError("residuals must be a 2-D integer array")
    n_channels, n_samples = block.residuals.shape
    _check_int("n_channels", n_channels, 1, _U16)
    if not 1 <= n_channels * n_samples <= MAX_SAMPLES_PER_BLOCK:
        raise ValueError(f"{n_channels * n_samples} residuals is out of range")
    for name in per_channel:
        values = getattr(block, name)
        if values.shape != (n_channels,) or values.dtype.kind not in "ui":
            raise ValueError(f"{name} must be integers of shape ({n_channels},)")
    if block.steps.min() < 1 or block.steps.max() > _U32:
        raise ValueError("steps must lie in [1, 2**32)")


@dataclass(frozen=True)
class IndexEntry:
    """Where one block sits in the file, and the time range it covers (0, 0 if none)."""

    block_type: bytes
    flags: int
    key: int  # CODE: block index, RAWS: signal index, else 0
    offset: int
    length: int  # whole block: header + payload + CRC
    start_seconds: float
    duration_seconds: float


def code_block_type(block: CodeBlock, entropy: bool) -> bytes:
    """ECOD when asked for and within its limits; else GCOD for grouped codes, else CODE."""
    if entropy and code_entropy.fits(block.codes.shape, block.bits):
        return ECOD
    return GCOD if block.grouped else CODE


def code_data_offset(block_type: bytes, n_channels: int) -> int:
    """Where the coded codes start in a CODE, GCOD or ECOD payload: after head and scaling."""
    streams = GCOD_STREAMS.size if block_type != CODE else 0
    return CODE_HEADER.size + streams + 8 * n_channels


def encode_code_block(block: CodeBlock, entropy: bool = False) -> bytes:
    """The payload of the block type code_block_type(block, entropy) chooses."""
    block_type = code_block_type(block, entropy)
    head = CODE_HEADER.pack(
        block.start_frame,
        block.start_seconds,
        block.duration_seconds,
        block.index,
        block.n_frames,
        block.n_channels,
        block.n_codebooks,
        block.bits,
    )
    if block_type != CODE:
        head += GCOD_STREAMS.pack(block.n_streams)
    if block_type == ECOD:
        data = code_entropy.encode_codes(block.codes, block.bits)
    else:
        data = _compress(pack(block.codes, block.bits))
    return b"".join(
        (head, block.offsets.astype("<f4").tobytes(), block.scales.astype("<f4").tobytes(), data)
    )


def decode_code_block(payload: bytes, block_type: bytes = CODE) -> CodeBlock:
    """A CODE, GCOD or ECOD payload; the last two store n_streams after the head."""
    if len(payload) < code_data_offset(block_type, 0):
        raise ValueError("payload is shorter than its fixed header")
    start_frame, start, duration, index, n_frames, n_channels, n_codebooks, bits = (
        CODE_HEADER.unpack_from(payload)
    )
    n_streams = n_channels
    if block_type != CODE:
        (n_streams,) = GCOD_STREAMS.unpack_from(payload, CODE_HEADER.size)
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits per code is {bits}, not in 1..{MAX_BITS}")
    if block_type == GCOD and not 1 <= n_streams < n_channels:
        raise ValueError(f"{n_streams} streams for {n_channels} channels; need 1..channels-1")
    if block_type == ECOD and not 1 <= n_streams <= n_channels:
        raise ValueError(f"{n_streams} streams for {n_channels} channels; need 1..channels")
    shape = (n_streams, n_codebooks, n_frames)
    count = n_streams * n_codebooks * n_frames
    if count == 0 or count > MAX_CODES_PER_BLOCK:
        raise ValueError(f"{n_streams}x{n_codebooks}x{n_frames} codes is out of range")
    head = code_data_offset(block_type, 0)
    scaling_end = code_data_offset(block_type, n_channels)
    if len(payload) < scaling_end:
        raise ValueError("payload is too short for its offsets and scales")
    offsets = np.frombuffer(payload, "<f4", n_channels, head)
    scales = np.frombuffer(payload, "<f4", n_channels, head + 4 * n_channels)
    if block_type == ECOD:
        codes = code_entropy.decode_codes(payload[scaling_end:], shape, bits)
    else:
        packed = _decompress(payload[scaling_end:], packed_size(count, bits))
        codes = unpack(packed, bits, count).reshape(shape)
    return CodeBlock(
        index=index,
        start_frame=start_frame,
        codes=codes,
        offsets=offsets.astype(np.float32),
        scales=scales.astype(np.float32),
        bits=bits,
        start_seconds=start,
        duration_seconds=duration,
    )


def encode_raw_block(block: RawBlock) -> bytes:
    head = RAWS_HEADER.pack(
        block.start_record,
        block.start_seconds,
        block.duration_seconds,
        block.n_records,
        block.samples.size,
        block.signal_index,
        block.sample_width,
    )
    if block.text:
        return head + _compress(_to_words(block.samples, block.sample_width))
    return head + _compress(_to_delta_planes(block.samples, block.sample_width))


def decode_raw_block(payload: bytes, block_type: bytes = RAWS) -> RawBlock:
    if len(payload) < RAWS_HEADER.size:
        raise ValueError("payload is shorter than its fixed header")
    start_record, start, duration, n_records, n_samples, signal_index, width = (
        RAWS_HEADER.unpack_from(payload)
    )
    if width not in SAMPLE_WIDTHS:
        raise ValueError(f"sample width is {width}, not one of {SAMPLE_WIDTHS}")
    if not 1 <= n_samples <= MAX_SAMPLES_PER_BLOCK:
        raise ValueError(f"{n_samples} samples is out of range")
    data = _decompress(payload[RAWS_HEADER.size :], n_samples * width)
    text = block_type == RAWT
    return RawBlock(
        signal_index=signal_index,
        start_record=start_record,
        n_records=n_records,
        samples=_from_words(data, width) if text else _from_delta_planes(data, width, n_samples),
        sample_width=width,
        start_seconds=start,
        duration_seconds=duration,
        text=text,
    )


def _undo_prediction(e: np.ndarray, order: int) -> np.ndarray:
    for _ in range(order):
        e = np.cumsum(e)
    return e


def reconstruction_checksums(decoded: np.ndarray) -> np.ndarray:
    """CRC-32 per row of the decoder's digital output as int32 little-endian (recon_crc)."""
    return np.array([zlib.crc32(row.astype("<i4").tobytes()) for row in decoded], np.uint32)


@dataclass(frozen=True)
class ResidualHead:
    """The fixed fields of a RESD or RESP payload, and where its coded data starts."""

    start_seconds: float
    duration_seconds: float
    index: int
    n_samples: int
    n_channels: int
    steps: np.ndarray
    recon_crc: np.ndarray
    body: int
    segment: int = 0  # RESP only
    partition: int = 0  # RESP only


def decode_residual_head(payload: bytes, predictive: bool) -> ResidualHead:
    """Fixed fields of a RESP (``predictive``) or RESD payload, checked."""
    header = RESP_HEADER if predictive else RESD_HEADER
    if len(payload) < header.size:
        raise ValueError("payload is shorter than its fixed header")
    start, duration, index, n_samples, n_channels, *sizes = header.unpack_from(payload)
    if not 1 <= n_channels * n_samples <= MAX_SAMPLES_PER_BLOCK:
        raise ValueError(f"{n_channels} × {n_samples} residuals is out of range")
    if predictive and min(sizes) < 1:
        raise ValueError(f"segment and partition lengths {sizes} must be >= 1")
    at = header.size
    if len(payload) < at + 8 * n_channels:
        raise ValueError("payload is too short for its steps and checksums")
    steps = np.frombuffer(payload, "<u4", n_channels, at).astype(np.uint32)
    crc = np.frombuffer(payload, "<u4", n_channels, at + 4 * n_channels).astype(np.uint32)
    if steps.min() < 1:
        raise ValueError("a quantiser step is 0")
    return ResidualHead(start, duration, index, n_samples, n_channels, steps, crc,
                        at + 8 * n_channels, *sizes)  # fmt: skip


def encode_predictive_block(block: ResidualBlock) -> bytes:
    """A RESP payload; needs ``block.decoded``."""
    if block.decoded is None:
        raise ValueError("a RESP block is predicted from the decoder's output: give decoded")
    return _predictive_payload(block, block.recon_crc.astype("<u4").tobytes(), block.decoded)


def _predictive_payload(
    block: ResidualBlock | IntegerResidualBlock, per_channel: bytes, decoded: np.ndarray | None
) -> bytes:
    """RESP_HEADER, the steps, ``per_channel`` (RESP's checksums, RESI's bounds), then the
    models and coded errors of the residuals (predicted from ``decoded``, or RESI's d = 0)."""
    n_channels, n_samples = block.residuals.shape
    head = RESP_HEADER.pack(
        block.start_seconds, block.duration_seconds, block.index, n_samples, n_channels,
        RESP_SEGMENT, RESP_PARTITION,
    )  # fmt: skip
    return b"".join((
        head,
        block.steps.astype("<u4").tobytes(),
        per_channel,
        encode_residuals(block.residuals, decoded, block.steps, RESP_SEGMENT, RESP_PARTITION),
    ))  # fmt: skip


def decode_predictive_block(payload: bytes, decoded: np.ndarray) -> ResidualBlock:
    """A RESP payload, given the decoder's output whose checksums it stores (checked first)."""
    head = decode_residual_head(payload, predictive=True)
    if decoded.shape != (head.n_channels, head.n_samples):
        raise ValueError(f"decoded output of shape {decoded.shape} for {head.n_channels} × "
                         f"{head.n_samples} residuals")  # fmt: skip
    if not np.array_equal(reconstruction_checksums(decoded), head.recon_crc):
        raise ValueError("the decoder's output does not match the stored checksums")
    residuals = decode_residuals(
        payload[head.body :], decoded, head.steps, head.segment, head.partition
    )
    return _residual_block(head, residuals, decoded)


def encode_integer_residual_block(block: IntegerResidualBlock) -> bytes:
    """A RESI payload (1.4): RESP's layout with d = 0 and clamp bounds for the checksums."""
    bounds = block.lows.astype("<i4").tobytes() + block.highs.astype("<i4").tobytes()
    return _predictive_payload(block, bounds, None)


def decode_integer_residual_block(payload: bytes) -> IntegerResidualBlock:
    """A RESI payload; needs nothing but its bytes."""
    head = decode_residual_head(payload, predictive=True)
    n_channels, at = head.n_channels, head.body  # body: after steps and the 4C-byte field
    if len(payload) < at + 4 * n_channels:
        raise ValueError("payload is too short for its clamp bounds")
    lows = np.frombuffer(payload, "<i4", n_channels, at - 4 * n_channels).astype(np.int32)
    highs = np.frombuffer(payload, "<i4", n_channels, at).astype(np.int32)
    if (lows > highs).any():
        raise ValueError("a clamp bound has low > high")
    zeros = np.zeros((n_channels, head.n_samples), np.int64)
    residuals = decode_residuals(
        payload[at + 4 * n_channels :], zeros, head.steps, head.segment, head.partition,
        codec_terms=False,
    )  # fmt: skip
    if residuals.min() < -(2**31) or residuals.max() >= 2**31:
        raise ValueError("residuals do not fit 32 bits")
    return IntegerResidualBlock(
        index=head.index,
        steps=head.steps,
        lows=lows,
        highs=highs,
        residuals=residuals.astype(np.int32),
        start_seconds=head.start_seconds,
        duration_seconds=head.duration_seconds,
    )


def _residual_block(
    head: ResidualHead, residuals: np.ndarray, decoded: np.ndarray | None = None
) -> ResidualBlock:
    """The decoded block, once its residuals are known to fit the int32 they are stored as."""
    if residuals.min() < -(2**31) or residuals.max() >= 2**31:
        raise ValueError("residuals do not fit 32 bits")
    return ResidualBlock(
        index=head.index,
        steps=head.steps,
        recon_crc=head.recon_crc,
        residuals=residuals.astype(np.int32),
        start_seconds=head.start_seconds,
        duration_seconds=head.duration_seconds,
        decoded=decoded,
    )


def decode_residual_block(payload: bytes) -> ResidualBlock:
    """A RESD payload (1.1): fixed predictors, byte planes, zstd."""
    head = decode_residual_head(payload, predictive=False)
    n_channels, n_samples = head.n_channels, head.n_samples
    at = RESD_HEADER.size
    if len(payload) < at + 9 * n_channels:
        raise ValueError("payload is too short for its steps, checksums and orders")
    orders = payload[at + 8 * n_channels : at + 9 * n_channels]
    if max(orders) > RESD_MAX_ORDER:
        raise ValueError(f"predictor order {max(orders)} is above {RESD_MAX_ORDER}")
    count = n_channels * n_samples
    data = _decompress(payload[at + 9 * n_channels :], count * RESD_WIDTH)
    zigzag = _from_planes(data, RESD_WIDTH, count).astype(np.int64)
    errors = ((zigzag >> 1) ^ -(zigzag & 1)).reshape(n_channels, n_samples)
    rows = [_undo_prediction(e, order) for e, order in zip(errors, orders, strict=True)]
    residuals = np.stack(rows)
    return _residual_block(head, residuals)


def span_of(block_type: bytes, payload: bytes) -> tuple[int, float, float]:
    """(key, start_seconds, duration_seconds) of a block, from its payload's fixed header.

    Lets a reader that lost the index rebuild its entries, and name the time range of a block
    that is cut short (a prefix of the payload is enough).
    """
    if block_type in CODE_TYPES:
        if len(payload) < CODE_HEADER.size:
            raise ValueError("payload is shorter than its fixed header")
        _, start, duration, key, *_ = CODE_HEADER.unpack_from(payload)
    elif block_type in RAW_TYPES:
        if len(payload) < RAWS_HEADER.size:
            raise ValueError("payload is shorter than its fixed header")
        _, start, duration, _, _, key, _ = RAWS_HEADER.unpack_from(payload)
    elif block_type in SPECTRAL_TYPES:
        if len(payload) < XFRM_HEADER.size:
            raise ValueError("payload is shorter than its fixed header")
        start, duration, key, *_ = XFRM_HEADER.unpack_from(payload)
    elif block_type in RESIDUAL_TYPES:  # RESP starts with RESD's fields
        if len(payload) < RESD_HEADER.size:
            raise ValueError("payload is shorter than its fixed header")
        start, duration, key, _, _ = RESD_HEADER.unpack_from(payload)
    else:
        return 0, 0.0, 0.0
    _check_time_range(start, duration)
    return key, start, duration


def encode_sized_zstd(data: bytes, dictionary: bytes | None = None) -> bytes:
    """An EDFZ, MTRZ, METZ or INDZ payload (spec §5.12), or with ``dictionary`` a METD or MTRD
    one (§5.17): the length of ``data``, then ``data`` through zstd."""
    _check_int("uncompressed length", len(data), 0, MAX_SIZED_ZSTD)
    return SIZED_ZSTD_LENGTH.pack(len(data)) + _compress(bytes(data), dictionary)


def decode_sized_zstd(payload: bytes, dictionary: bytes | None = None) -> bytes:
    """Inverse of encode_sized_zstd; ValueError for anything that is not exactly one."""
    if len(payload) < SIZED_ZSTD_LENGTH.size:
        raise ValueError("payload is shorter than its length field")
    (size,) = SIZED_ZSTD_LENGTH.unpack_from(payload)
    _check_int("uncompressed length", size, 0, MAX_SIZED_ZSTD)
    return _decompress(payload[SIZED_ZSTD_LENGTH.size :], size, dictionary)


def json_payload(text: bytes, block_type: bytes) -> bytes:
    """The payload of a JSON block of this type (META, METZ, METD, MTRC, MTRZ, MTRD) holding
    the JSON ``text``: plain, zstd, or zstd with JSON_DICTIONARY (1.5)."""
    if block_type in (META, MTRC):
        return text
    return encode_sized_zstd(text, JSON_DICTIONARY if block_type in (METD, MTRD) else None)


def _encode_json_block(obj: Mapping[str, Any], *block_types: bytes) -> tuple[bytes, bytes]:
    """(type, payload) of the smallest of the forms: a short file's metadata and metrics are
    most of its bytes."""
    text = encode_json(obj)
    forms = [(block_type, json_payload(text, block_type)) for block_type in block_types]
    return min(forms, key=lambda form: len(form[1]))


def decode_json_block(payload: bytes, block_type: bytes) -> dict[str, Any]:
    """The JSON object of a META/METZ/METD or MTRC/MTRZ/MTRD block."""
    if block_type in (META, MTRC):
        return decode_json(payload)
    dictionary = JSON_DICTIONARY if block_type in (METD, MTRD) else None
    return decode_json(decode_sized_zstd(payload, dictionary))


def decode_edf_header(payload: bytes, block_type: bytes) -> bytes:
    """The EDF header bytes held by block 1, verbatim (EDFH) or compressed (EDFZ)."""
    return payload if block_type == EDFH else decode_sized_zstd(payload)


def encode_meta(meta: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(META, METZ or METD, payload), whichever is smallest."""
    return _encode_json_block(meta, META, METZ, METD)


def encode_metrics(metrics: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(MTRC, MTRZ or MTRD, payload), whichever is smallest."""
    return _encode_json_block(metrics, MTRC, MTRZ, MTRD)


def encode_json(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces) so that equal dicts give identical bytes."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object (a mapping), got {type(obj).__name__}")
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def decode_json(payload: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(
            payload.decode("utf-8"),
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise ValueError("JSON is nested too deeply") from None
    except ValueError as exc:  # includes JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"JSON is a {type(obj).__name__}, not an object")
    return obj


def encode_index(entries: Iterable[IndexEntry]) -> bytes:
    """An INDX payload: the entries."""
    return b"".join(
        INDEX_ENTRY.pack(
            e.block_type, e.flags, e.key, e.offset, e.length, e.start_seconds, e.duration_seconds
        )
        for e in entries
    )


def encode_index_block(entries: Iterable[IndexEntry]) -> tuple[bytes, bytes]:
    """(INDX or INDZ, payload): the entries, zstd-compressed (1.5) when that is smaller and
    they fit a sized frame."""
    data = encode_index(entries)
    if len(data) > MAX_SIZED_ZSTD:
        return INDX, data
    packed = encode_sized_zstd(data)
    return (INDZ, packed) if len(packed) < len(data) else (INDX, data)


def decode_index(payload: bytes, block_type: bytes = INDX) -> list[IndexEntry]:
    if block_type == INDZ:
        payload = decode_sized_zstd(payload)
    if len(payload) % INDEX_ENTRY.size:
        raise ValueError(f"length {len(payload)} is not a multiple of {INDEX_ENTRY.size}")
    entries = [IndexEntry(*fields) for fields in INDEX_ENTRY.iter_unpack(payload)]
    for entry in entries:
        _check_time_range(entry.start_seconds, entry.duration_seconds)
    return entries


def _to_delta_planes(samples: np.ndarray, width: int) -> bytes:
    """First differences mod 2**(8*width), stored as byte planes (all low bytes first).

    Differences of a smooth signal are small, so their high bytes are nearly constant and
    separating the planes lets zstd see long runs of them.
    """
    mask = (1 << (8 * width)) - 1
    words = (samples.astype(np.int64) & mask).astype(np.uint32)
    deltas = np.empty_like(words)
    deltas[0] = words[0]
    np.bitwise_and(words[1:] - words[:-1], mask, out=deltas[1:])
    return _to_planes(deltas, width)


def _to_words(samples: np.ndarray, width: int) -> bytes:
    """Samples as little-endian two's-complement words of ``width`` bytes: the EDF's bytes."""
    words = (samples.astype(np.int64) & ((1 << (8 * width)) - 1)).astype("<u4")
    return words.view(np.uint8).reshape(-1, 4)[:, :width].tobytes()


def _from_words(data: bytes, width: int) -> np.ndarray:
    columns = np.frombuffer(data, dtype=np.uint8).reshape(-1, width).astype(np.uint32)
    words = np.zeros(columns.shape[0], dtype=np.uint32)
    for k in range(width):
        words |= columns[:, k] << np.uint32(8 * k)
    return _signed(words, width)


def _signed(words: np.ndarray, width: int) -> np.ndarray:
    half = 1 << (8 * width - 1)
    return ((words.astype(np.int64) ^ half) - half).astype(np.int32)


def _to_planes(words: np.ndarray, width: int) -> bytes:
    """The low ``width`` bytes of uint32 words as byte planes, all low bytes first."""
    return words.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :width].T.tobytes()


def _from_planes(data: bytes, width: int, count: int) -> np.ndarray:
    planes = np.frombuffer(data, dtype=np.uint8).reshape(width, count).astype(np.uint32)
    words = np.zeros(count, dtype=np.uint32)
    for k in range(width):
        words |= planes[k] << np.uint32(8 * k)
    return words


def _from_delta_planes(data: bytes, width: int, count: int) -> np.ndarray:
    deltas = _from_planes(data, width, count)
    # uint32 sums wrap mod 2**32, a multiple of 2**(8*width), so masking gives the exact words.
    words = np.cumsum(deltas, dtype=np.uint32) & np.uint32((1 << (8 * width)) - 1)
    return _signed(words, width)


def _compress(data: bytes, dictionary: bytes | None = None) -> bytes:
    if dictionary is None:
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)
    # No checksum (the block has a CRC) and no dictionary ID (the block type names it).
    return zstandard.ZstdCompressor(
        level=ZSTD_LEVEL, dict_data=_zstd_dictionary(dictionary), write_checksum=False,
        write_dict_id=False,
    ).compress(data)  # fmt: skip


@cache
def _zstd_dictionary(content: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _decompress(data: bytes, size: int, dictionary: bytes | None = None) -> bytes:
    """Exactly one zstd frame of exactly `size` bytes, never allocating more than that."""
    try:
        declared = zstandard.frame_content_size(data)
        if declared not in (-1, size):  # -1: size not recorded in the frame
            raise ValueError(f"zstd frame holds {declared} bytes, expected {size}")
        decompressor = (
            zstandard.ZstdDecompressor()
            if dictionary is None
            else zstandard.ZstdDecompressor(dict_data=_zstd_dictionary(dictionary))
        )
        out = decompressor.decompress(data, max_output_size=size, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise ValueError(f"bad zstd data: {exc}") from None
    if len(out) != size:
        raise ValueError(f"zstd frame holds {len(out)} bytes, expected {size}")
    return out


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if not low <= operator.index(value) <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value}")


def _check_time_range(start: float, duration: float) -> None:
    if not (math.isfinite(start) and math.isfinite(duration) and start >= 0 and duration >= 0):
        raise ValueError(f"invalid time range: start {start} s, duration {duration} s")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return obj
