"""The .eegc container: round trips, byte layout, lookups, and refusal of damaged files."""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from eegzip.container import (
    CodeBlock,
    ContainerReader,
    ContainerWriter,
    IntegerResidualBlock,
    RawBlock,
    ResidualBlock,
    pack,
    packed_size,
    unpack,
)
from eegzip.container.blocks import (
    IndexEntry,
    decode_raw_block,
    encode_index,
    encode_json,
    encode_predictive_block,
    encode_raw_block,
    encode_sized_zstd,
    json_payload,
    reconstruction_checksums,
    span_of,
)
from eegzip.container.format import (
    BLOCK_HEADER,
    BLOCK_OVERHEAD,
    CODE_HEADER,
    CRC,
    END_MAGIC,
    FLAG_OPTIONAL,
    FORMAT_MAJOR,
    FORMAT_MINOR,
    INDEX_TYPES,
    INDX,
    MAGIC,
    PREAMBLE,
    PREAMBLE_SIZE,
    RAWS_HEADER,
    TRAILER,
)
from eegzip.errors import (
    ChecksumError,
    ContainerFormatError,
    EegzipError,
    InputNotFoundError,
    OutputExistsError,
    UnsupportedError,
)

META = {"model": {"name": "dac-eeg", "sha256": "ab" * 32, "sample_rate": 250}, "note": "µV ✓"}
EDF_HEADER = b"0       " + "Ünïcode patient".encode("latin-1").ljust(248)
METRICS = {"prd_percent": 4.5, "channels": [1, 2, 3]}
BLOCK_SECONDS = 2.0

Frame = tuple[bytes, int, bytes]  # block type, flags, payload


def code_block(index: int, shape: tuple[int, int, int], bits: int, seed: int = 0) -> CodeBlock:
    rng = np.random.default_rng(seed + index)
    return CodeBlock(
        index=index,
        start_frame=index * shape[2],
        codes=rng.integers(0, 1 << bits, size=shape).astype(np.uint16),
        offsets=rng.normal(size=shape[0]).astype(np.float32),
        scales=rng.uniform(0.1, 50, size=shape[0]).astype(np.float32),
        bits=bits,
        start_seconds=index * BLOCK_SECONDS,
        duration_seconds=BLOCK_SECONDS,
    )


def raw_block(
    signal: int, record: int, samples: np.ndarray, width: int = 2, text: bool = False
) -> RawBlock:
    return RawBlock(
        signal_index=signal,
        start_record=record,
        n_records=2,
        samples=samples.astype(np.int32),
        sample_width=width,
        start_seconds=record * 1.0,
        duration_seconds=2.0,
        text=text,
    )


def annotation_samples(raw: bytes) -> np.ndarray:
    """The spec's convention: annotation bytes travel as their little-endian int16 words."""
    return np.frombuffer(raw, dtype="<i2").astype(np.int32)


# EDF+ TALs with non-ASCII text, zero-padded to 64 bytes: 2 records of 16 int16 "samples".
ANNOTATIONS = (
    ("+0\x14\x14\x00" + "+1.5\x150.5\x14Bewegung – Artefakt\x14\x00").encode().ljust(64, b"\x00")
)


def sample_content(shape: tuple[int, int, int] = (19, 9, 64)) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    return {
        "code": [code_block(0, shape, 10), code_block(1, shape, 9), code_block(2, shape, 10)],
        "raw": [
            raw_block(19, 0, np.tile([-32768, 32767, 0, -1], 8)),  # wraps every step
            raw_block(20, 0, rng.integers(-(2**23), 2**23, 32), width=3),
            raw_block(21, 0, annotation_samples(ANNOTATIONS), text=True),
            raw_block(19, 2, rng.integers(-100, 100, 32)),
        ],
    }


def write_sample(path: Path, content: dict[str, Any] | None = None, **kwargs: Any) -> Path:
    content = content or sample_content()
    with ContainerWriter(path, **kwargs) as writer:
        writer.write_meta(META)
        writer.write_edf_header(EDF_HEADER)
        for code, raw in zip(content["code"], content["raw"], strict=False):  # interleaved
            writer.write_code_block(code)
            writer.write_raw_block(raw)
        for raw in content["raw"][len(content["code"]) :]:
            writer.write_raw_block(raw)
        writer.write_metrics(METRICS)
    return path


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A complete container with tiny blocks, for tests that try many damaged variants."""
    path = tmp_path_factory.mktemp("small") / "small.eegc"
    return write_sample(path, sample_content(shape=(2, 3, 4))).read_bytes()


def read_everything(path: Path, *, salvage: bool = False) -> list[str]:
    """Touch every part of a container the way the pipeline would; returns verify()."""
    with ContainerReader.open(path, salvage=salvage) as reader:
        assert isinstance(reader.meta, dict)
        assert isinstance(reader.edf_header, bytes)
        assert reader.metrics is None or isinstance(reader.metrics, dict)
        for i in range(reader.code_block_count):
            reader.code_block(i)
        list(reader.iter_code_blocks())
        list(reader.iter_raw_blocks())
        list(reader.code_blocks_between(0.0, 3.0))
        reader.sizes()
        return reader.verify()


def split_frames(data: bytes) -> list[Frame]:
    """Blocks of a complete container, in file order, the index excluded (walked by hand)."""
    frames, offset = [], PREAMBLE_SIZE
    while True:
        block_type, flags, length = BLOCK_HEADER.unpack_from(data, offset)
        if block_type in INDEX_TYPES:
            return frames
        frames.append((block_type, flags, data[offset + BLOCK_HEADER.size :][:length]))
        offset += length + BLOCK_OVERHEAD


def block_offsets(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every block including INDX."""
    spans, offset = [], PREAMBLE_SIZE
    while offset < len(data) - TRAILER.size:
        (length,) = struct.unpack_from("<Q", data, offset + 8)
        spans.append((offset, length + BLOCK_OVERHEAD))
        offset += length + BLOCK_OVERHEAD
    return spans


def frame(block_type: bytes, flags: int, payload: bytes) -> bytes:
    header = BLOCK_HEADER.pack(block_type, flags, len(payload))
    return header + payload + CRC.pack(zlib.crc32(header + payload))


def assemble(
    frames: list[Frame], version: tuple[int, int] = (1, 0), index: bytes | None = None
) -> bytes:
    """An independent writer following the spec: lets tests craft CRC-valid odd files."""
    preamble = PREAMBLE.pack(MAGIC, *version)
    out = bytearray(preamble + CRC.pack(zlib.crc32(preamble)))
    entries = []
    for block_type, flags, payload in frames:
        try:
            key, start, duration = span_of(block_type, payload)
        except ValueError:
            key, start, duration = 0, 0.0, 0.0
        framed = frame(block_type, flags, payload)
        entries.append(IndexEntry(block_type, flags, key, len(out), len(framed), start, duration))
        out += framed
    index_offset = len(out)
    out += frame(INDX, 0, encode_index(entries) if index is None else index)
    return bytes(out + TRAILER.pack(index_offset, len(out) - index_offset, END_MAGIC))


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    mutated = bytearray(data)
    mutated[position] ^= 1 << bit
    return bytes(mutated)


# --- round trips ---------------------------------------------------------------------------


def test_round_trip_of_every_block_type(tmp_path: Path) -> None:
    content = sample_content()
    path = write_sample(tmp_path / "rec.eegc", content)
    with ContainerReader.open(path) as reader:
        assert reader.version == (FORMAT_MAJOR, FORMAT_MINOR)
        assert reader.meta == META
        assert reader.edf_header == EDF_HEADER
        assert reader.metrics == METRICS
        assert reader.code_block_count == 3
        for got, want in zip(reader.iter_code_blocks(), content["code"], strict=True):
            assert got.codes.dtype == np.uint16 and got.codes.shape == (19, 9, 64)
            np.testing.assert_array_equal(got.codes, want.codes)
            np.testing.assert_array_equal(got.offsets, want.offsets)
            np.testing.assert_array_equal(got.scales, want.scales)
            assert (got.index, got.start_frame, got.bits) == (
                want.index,
                want.start_frame,
                want.bits,
            )
            assert (got.start_seconds, got.duration_seconds) == (want.start_seconds, BLOCK_SECONDS)
        assert reader.code_block(1).bits == 9
        raws = list(reader.iter_raw_blocks())
        assert len(raws) == len(content["raw"])
        for got, want in zip(raws, content["raw"], strict=True):
            assert got.samples.dtype == np.int32
            np.testing.assert_array_equal(got.samples, want.samples)
            assert (got.signal_index, got.start_record, got.n_records, got.sample_width) == (
                want.signal_index, want.start_record, want.n_records, want.sample_width
            )  # fmt: skip
        annotations = next(reader.iter_raw_blocks(signal_index=21))
        assert annotations.samples.astype("<i2").tobytes() == ANNOTATIONS
        assert [b.start_record for b in reader.iter_raw_blocks(signal_index=19)] == [0, 2]
        assert reader.verify() == []


def test_metrics_are_optional(tmp_path: Path) -> None:
    path = tmp_path / "rec.eegc"
    with ContainerWriter(path) as writer:
        writer.write_meta({})
        writer.write_edf_header(b"")
    with ContainerReader.open(path) as reader:
        assert reader.metrics is None
        assert reader.code_block_count == 0
        assert reader.meta == {} and reader.edf_header == b""


@pytest.mark.parametrize("bits", [1, 9, 10, 16])
def test_extreme_codes_round_trip(tmp_path: Path, bits: int) -> None:
    top = (1 << bits) - 1
    codes = np.array([0, top, top, 0, 1, top - 1], dtype=np.uint16).reshape(1, 2, 3)
    block = CodeBlock(0, 0, codes, np.zeros(1, np.float32), np.ones(1, np.float32), bits, 0.0, 1.0)
    path = tmp_path / "rec.eegc"
    with ContainerWriter(path) as writer:
        writer.write_meta({})
        writer.write_edf_header(b"")
        writer.write_code_block(block)
    with ContainerReader.open(path) as reader:
        np.testing.assert_array_equal(reader.code_block(0).codes, codes)


@pytest.mark.parametrize("text", [False, True], ids=["RAWS", "RAWT"])
@pytest.mark.parametrize("width", [2, 3])
def test_raw_samples_round_trip_at_the_extremes(width: int, text: bool) -> None:
    half = 1 << (8 * width - 1)
    samples = np.array([-half, half - 1, -half, 0, half - 1, half - 1, -1, -half], dtype=np.int32)
    block = RawBlock(3, 7, 4, samples, width, 7.0, 4.0, text=text)
    back = decode_raw_block(encode_raw_block(block), block.block_type)
    np.testing.assert_array_equal(back.samples, samples)
    assert (back.signal_index, back.start_record, back.n_records, back.text) == (3, 7, 4, text)


def test_text_blocks_hold_the_signal_bytes_as_they_are() -> None:
    block = raw_block(21, 0, annotation_samples(ANNOTATIONS), text=True)
    payload = encode_raw_block(block)
    assert zstandard.decompress(payload[RAWS_HEADER.size :]) == ANNOTATIONS
    assert (
        block.block_type == b"RAWT" and dataclasses.replace(block, text=False).block_type == b"RAWS"
    )


def test_writing_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a.eegc").read_bytes()
    second = write_sample(tmp_path / "b.eegc").read_bytes()
    assert first == second


def test_sizes_add_up_to_the_file(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "rec.eegc")
    with ContainerReader.open(path) as reader:
        sizes = reader.sizes()
    assert sum(sizes.values()) == path.stat().st_size
    assert set(sizes) == {
        "preamble", "METD", "EDFZ", "CODE", "RAWS", "RAWT", "MTRC", "INDZ", "trailer"
    }  # fmt: skip
    assert sizes["preamble"] == 16 and sizes["trailer"] == 24


# --- bit packing ---------------------------------------------------------------------------


def test_codes_are_stored_at_exactly_bits_per_code(tmp_path: Path) -> None:
    data = write_sample(tmp_path / "rec.eegc").read_bytes()
    code_payloads = [p for t, _, p in split_frames(data) if t == b"CODE"]
    for payload, bits in zip(code_payloads, (10, 9, 10), strict=True):
        packed = zstandard.ZstdDecompressor().decompress(payload[CODE_HEADER.size + 8 * 19 :])
        assert len(packed) == math.ceil(19 * 9 * 64 * bits / 8)


def test_pack_is_msb_first_with_zero_padding() -> None:
    assert pack(np.array([1, 2, 3]), 2) == bytes([0b01_10_11_00])
    assert pack(np.array([0x3FF, 0]), 10) == b"\xff\xc0\x00"
    assert pack(np.array([[5, 6], [7, 1]], dtype=np.uint8), 3) == bytes(
        [0b101_110_11, 0b1_001_0000]
    )


@settings(max_examples=200, deadline=None)
@given(
    bits=st.integers(1, 16),
    data=st.data(),
)
def test_pack_unpack_round_trip(bits: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=300))
    array = np.array(values, dtype=np.uint16)
    packed = pack(array, bits)
    assert len(packed) == math.ceil(len(values) * bits / 8) == packed_size(len(values), bits)
    np.testing.assert_array_equal(unpack(packed, bits, len(values)), array)


def test_pack_round_trips_across_chunks() -> None:
    values = np.random.default_rng(3).integers(0, 1 << 13, size=3 * 65536 + 5)
    np.testing.assert_array_equal(unpack(pack(values, 13), 13, values.size), values)


def test_pack_and_unpack_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="lie in"):
        pack(np.array([1024]), 10)
    with pytest.raises(ValueError, match="lie in"):
        pack(np.array([-1]), 10)
    with pytest.raises(ValueError, match="bits"):
        pack(np.array([0]), 0)
    with pytest.raises(ValueError, match="bits"):
        pack(np.array([0]), 17)
    with pytest.raises(ValueError, match="integers"):
        pack(np.array([0.5]), 4)
    with pytest.raises(ValueError, match="expected 3 bytes"):
        unpack(b"\x00\x00", 10, 2)
    with pytest.raises(ValueError, match="padding"):
        unpack(b"\xff\xc0\x01", 10, 2)


# --- random access -------------------------------------------------------------------------


def test_time_range_lookup_reads_only_overlapping_blocks(tmp_path: Path) -> None:
    content = {
        "code": [code_block(i, (2, 3, 4), 10) for i in range(4)],  # [0,2) [2,4) [4,6) [6,8)
        "raw": [raw_block(5, record, np.arange(8)) for record in (0, 2, 4, 6)],
    }
    path = write_sample(tmp_path / "rec.eegc", content)
    with ContainerReader.open(path) as reader:

        def codes(t0: float, t1: float) -> list[int]:
            return [b.index for b in reader.code_blocks_between(t0, t1)]

        assert codes(2.0, 4.0) == [1]
        assert codes(1.9, 4.1) == [0, 1, 2]
        assert codes(0.0, 100.0) == [0, 1, 2, 3]
        assert codes(8.0, 9.0) == []
        assert codes(3.0, 3.0) == []
        starts = [b.start_record for b in reader.raw_blocks_between(5, 2.5, 4.5)]
        assert starts == [2, 4]
        assert list(reader.raw_blocks_between(6, 0.0, 10.0)) == []
        with pytest.raises(ValueError):
            reader.code_blocks_between(4.0, 2.0)

    # Damage the last code block: lookups that do not touch it still work, so they seek.
    data = path.read_bytes()
    offset, length = block_offsets(data)[2 + 2 * 3]  # META, EDFH, then (CODE, RAWS) pairs
    assert data[offset : offset + 4] == b"CODE"
    path.write_bytes(flip(data, offset + length // 2))
    with ContainerReader.open(path) as reader:
        assert [b.index for b in reader.code_blocks_between(0.0, 6.0)] == [0, 1, 2]
        with pytest.raises(ChecksumError, match=r"block 8 \(codes, 00:00:06–00:00:08\)"):
            list(reader.code_blocks_between(6.0, 7.0))


# --- refusing what is not a good container -------------------------------------------------


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no such file"):
        ContainerReader.open(tmp_path / "absent.eegc")
    with pytest.raises(InputNotFoundError, match="directory"):
        ContainerReader.open(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"not an eegzip container \(empty file\)"),
        (b"0       Patient X  " + b" " * 300, "not an eegzip container$"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not an eegzip container$"),
        (MAGIC[:5], "truncated: ends inside the preamble"),
    ],
)
def test_not_a_container(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.eegc"
    path.write_bytes(content)
    with pytest.raises(ContainerFormatError, match=message) as caught:
        ContainerReader.open(path)
    assert str(caught.value).startswith(str(path))


def test_text_mode_mangling_is_detected(tmp_path: Path, small_file: bytes) -> None:
    path = tmp_path / "x.eegc"
    path.write_bytes(small_file.replace(b"\r\n", b"\n"))
    with pytest.raises(ContainerFormatError, match="text mode"):
        ContainerReader.open(path)


def test_future_major_version_is_unsupported(tmp_path: Path, small_file: bytes) -> None:
    path = tmp_path / "x.eegc"
    path.write_bytes(assemble(split_frames(small_file), version=(2, 3)))
    with pytest.raises(
        UnsupportedError, match=r"newer eegzip \(format 2\.x\); this eegzip reads 1\.x"
    ):
        ContainerReader.open(path)


def test_future_minor_version_skips_optional_unknown_blocks(
    tmp_path: Path, small_file: bytes
) -> None:
    frames = split_frames(small_file)
    frames.insert(3, (b"XTRA", FLAG_OPTIONAL | 0b110, b"anything"))  # reserved flag bits ignored
    path = tmp_path / "x.eegc"
    path.write_bytes(assemble(frames, version=(1, 7)))
    with ContainerReader.open(path) as reader:
        assert reader.version == (1, 7)
        assert reader.code_block_count == 3
        assert reader.sizes()["XTRA"] == BLOCK_OVERHEAD + len(b"anything")
        assert read_everything(path) == []


def test_unknown_required_block_is_unsupported(tmp_path: Path, small_file: bytes) -> None:
    frames = split_frames(small_file)
    frames.insert(4, (b"XFUT", 0, b"future codes"))
    path = tmp_path / "x.eegc"
    path.write_bytes(assemble(frames, version=(1, 1)))
    with pytest.raises(UnsupportedError, match="block 4 has type 'XFUT', which this eegzip"):
        ContainerReader.open(path)
    frames = split_frames(small_file)
    frames[1] = (b"EDFX", 0, b"a future header encoding")  # where EDFH/EDFZ must be
    path.write_bytes(assemble(frames, version=(1, 9)))
    with pytest.raises(UnsupportedError, match=r"block 1 has type 'EDFX'.*format 1\.9"):
        ContainerReader.open(path)


def test_damaged_preamble(tmp_path: Path, small_file: bytes) -> None:
    path = tmp_path / "x.eegc"
    path.write_bytes(flip(small_file, 9))  # inside the major version
    with pytest.raises(ChecksumError, match="preamble is damaged"):
        ContainerReader.open(path)


def test_truncation_anywhere_is_a_format_error(tmp_path: Path, small_file: bytes) -> None:
    path = tmp_path / "cut.eegc"
    for cut in range(0, len(small_file), 7):
        path.write_bytes(small_file[:cut])
        with pytest.raises(ContainerFormatError) as caught:
            read_everything(path)
        assert "\n" not in str(caught.value)
        assert cut < PREAMBLE_SIZE or "truncated" in str(caught.value), str(caught.value)
        if cut >= PREAMBLE_SIZE:
            try:
                problems = read_everything(path, salvage=True)
            except ContainerFormatError as exc:  # the lost part was needed
                assert "truncated" in str(exc)
            else:  # only index or trailer lost: all data was still there
                assert len(problems) == 1 and "truncated" in problems[0]


def test_truncated_file_names_the_cut_block_and_salvages_the_rest(
    tmp_path: Path, small_file: bytes
) -> None:
    offset, length = block_offsets(small_file)[6]  # the third CODE block
    path = tmp_path / "cut.eegc"
    path.write_bytes(small_file[: offset + length // 2])
    expected = f"{path}: truncated: ends inside block 6 (codes, 00:00:04–00:00:06)"
    with pytest.raises(ContainerFormatError) as caught:
        ContainerReader.open(path)
    assert str(caught.value) == expected
    with ContainerReader.open(path, salvage=True) as reader:
        assert reader.meta == META
        assert reader.code_block(1).index == 1
        blocks = []
        with pytest.raises(ContainerFormatError, match="truncated"):
            blocks.extend(reader.iter_code_blocks())
        assert [b.index for b in blocks] == [0, 1]
        with pytest.raises(ContainerFormatError, match="truncated"):
            reader.code_block(2)
        with pytest.raises(ContainerFormatError, match="truncated"):
            _ = reader.metrics
        assert reader.verify() == [expected]
        assert sum(reader.sizes().values()) == offset + length // 2


def test_one_flipped_bit_in_any_block_names_that_block(tmp_path: Path, small_file: bytes) -> None:
    kinds = ["metadata", "EDF header"] + ["codes", "raw signal 19"] + ["codes", "raw signal 20"]
    kinds += ["codes", "raw signal 21", "raw signal 19", "metrics", "index"]
    times = {2: "00:00:00–00:00:02", 4: "00:00:02–00:00:04", 6: "00:00:04–00:00:06"}
    path = tmp_path / "flipped.eegc"
    spans = block_offsets(small_file)
    assert len(spans) == len(kinds)
    for number, (offset, length) in enumerate(spans):
        for position in (offset + 20, offset + length - 1, offset + length // 2):
            path.write_bytes(flip(small_file, position, bit=number % 8))
            with pytest.raises(ChecksumError) as caught:
                read_everything(path)
            message = str(caught.value)
            assert message.startswith(f"{path}: block {number} ({kinds[number]}")
            assert message.endswith("is damaged: checksum mismatch")
            assert times.get(number, "") in message
        for position in range(offset, offset + BLOCK_HEADER.size, 3):  # type, flags, length
            path.write_bytes(flip(small_file, position, bit=7))
            with pytest.raises(ContainerFormatError, match=f"block {number} .*damaged"):
                read_everything(path)


def test_damaged_trailer(tmp_path: Path, small_file: bytes) -> None:
    path = tmp_path / "x.eegc"
    for position in range(len(small_file) - TRAILER.size, len(small_file), 5):
        path.write_bytes(flip(small_file, position, bit=3))
        with pytest.raises(ContainerFormatError, match="trailer"):
            ContainerReader.open(path)
        problems = read_everything(path, salvage=True)  # data blocks are intact and reachable
        assert len(problems) == 1 and "trailer" in problems[0]


def test_huge_declared_lengths_are_refused_without_allocating(
    tmp_path: Path, small_file: bytes
) -> None:
    path = tmp_path / "x.eegc"
    trailer_at = len(small_file) - TRAILER.size
    index_offset, _, _ = TRAILER.unpack_from(small_file, trailer_at)
    path.write_bytes(small_file[:trailer_at] + TRAILER.pack(index_offset, 1 << 60, END_MAGIC))
    with pytest.raises(ContainerFormatError, match="trailer is damaged"):
        ContainerReader.open(path)
    # A block header claiming 2**60 bytes, in a file with no trailer to contradict it.
    offset, _ = block_offsets(small_file)[2]
    huge = bytearray(small_file[:trailer_at])
    struct.pack_into("<Q", huge, offset + 8, 1 << 60)
    path.write_bytes(bytes(huge))
    with pytest.raises(ContainerFormatError, match="truncated: ends inside block 2 \\(codes"):
        ContainerReader.open(path)


# --- CRC-valid but malformed content -------------------------------------------------------


def replace_payload(small_file: bytes, number: int, payload: bytes) -> bytes:
    frames = split_frames(small_file)
    frames[number] = (frames[number][0], frames[number][1], payload)
    return assemble(frames)


@pytest.mark.parametrize("kind", ["EDF header", "metrics"])
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x00", "shorter than its length field"),
        (struct.pack("<I", 5) + zstandard.ZstdCompressor().compress(b"{}  "), "expected 5"),
        (struct.pack("<I", 4) + zstandard.ZstdCompressor().compress(b"{}  ") + b"!", "zstd"),
        (struct.pack("<I", 2**31) + b"", "uncompressed length"),
        (struct.pack("<I", 4) + b"abcd", "bad zstd data"),
    ],
)
def test_damaged_compressed_blocks_name_the_block(
    tmp_path: Path, small_file: bytes, kind: str, payload: bytes, message: str
) -> None:
    """EDFZ and MTRZ share their payload layout (spec §5.12) and its checks."""
    frames = split_frames(small_file)
    plain, packed = (b"EDFZ", b"EDFZ") if kind == "EDF header" else (b"MTRC", b"MTRZ")
    number = [t for t, _, _ in frames].index(plain)
    frames[number] = (packed, 0, payload)
    path = tmp_path / "x.eegc"
    path.write_bytes(assemble(frames, version=(1, 3)))
    with ContainerReader.open(path) as reader:
        with pytest.raises(ContainerFormatError, match=rf"block {number} \({kind}\).*{message}"):
            _ = reader.edf_header if kind == "EDF header" else reader.metrics
        assert len(reader.verify()) == 1


def test_header_and_metrics_take_the_smaller_of_plain_and_compressed(tmp_path: Path) -> None:
    big = {"channels": [{"label": f"EEG {i}", "prdn": 12.5, "r": 0.9} for i in range(20)]}
    for metrics, header, types in [
        (big, EDF_HEADER, (b"EDFZ", b"MTRD")),  # the dictionary knows the metrics' keys
        ({"r": 1}, b"0 ", (b"EDFH", b"MTRC")),  # too small to pay for a zstd frame
    ]:
        path = tmp_path / "x.eegc"
        with ContainerWriter(path, force=True) as writer:
            writer.write_meta({})
            writer.write_edf_header(header)
            writer.write_metrics(metrics)
        frames = split_frames(path.read_bytes())
        assert (frames[1][0], frames[2][0]) == types
        with ContainerReader.open(path) as reader:
            assert reader.edf_header == header and reader.metrics == metrics
            assert reader.verify() == []


def test_plain_header_and_metrics_of_older_files_still_read(
    tmp_path: Path, small_file: bytes
) -> None:
    frames = split_frames(small_file)
    assert frames[1][0] == b"EDFZ" and len(frames[1][2]) < len(EDF_HEADER)
    frames[1] = (b"EDFH", 0, EDF_HEADER)  # as 1.0-1.2 writers stored it
    path = tmp_path / "x.eegc"
    path.write_bytes(assemble(frames, version=(1, 2)))
    with ContainerReader.open(path) as reader:
        assert reader.edf_header == EDF_HEADER and reader.metrics == METRICS
        assert reader.verify() == []
    number = [t for t, _, _ in frames].index(b"MTRC")
    extra = (b"MTRZ", 0, encode_sized_zstd(encode_json(METRICS)))
    path.write_bytes(assemble([*frames, extra]))
    with pytest.raises(ContainerFormatError, match=f"block {len(frames)} is an unexpected extra"):
        ContainerReader.open(path)
    frames[number] = extra
    path.write_bytes(assemble(frames, version=(1, 3)))
    with ContainerReader.open(path) as reader:
        assert reader.metrics == METRICS


@pytest.mark.parametrize(
    ("number", "payload", "message"),
    [
        (0, b"[1, 2]", "JSON is a list, not an object"),
        (0, b'{"a": NaN}', "NaN"),
        (0, b'{"a": 1, "a": 2}', "duplicate key"),
        (0, b"\xff{}", "invalid JSON"),
        (0, b"[" * 100_000, "JSON"),
        (9, b"{", "invalid JSON"),
    ],
)
def test_json_blocks_must_hold_an_object(
    tmp_path: Path, small_file: bytes, number: int, payload: bytes, message: str
) -> None:
    path = tmp_path / "x.eegc"
    payload = json_payload(payload, split_frames(small_file)[number][0])  # as its block holds it
    path.write_bytes(replace_payload(small_file, number, payload))
    with pytest.raises(ContainerFormatError, match=message):
        read_everything(path)


def test_structure_rules(tmp_path: Path, small_file: bytes) -> None:
    path = tmp_path / "x.eegc"
    frames = split_frames(small_file)
    path.write_bytes(assemble([frames[1], frames[0], *frames[2:]]))
    with pytest.raises(ContainerFormatError, match="block 0 is not the metadata"):
        ContainerReader.open(path)
    path.write_bytes(assemble([*frames[:3], frames[2], *frames[3:]]))
    with pytest.raises(ContainerFormatError, match="block 3 is code block 0, expected 1"):
        ContainerReader.open(path)
    path.write_bytes(assemble(frames[:1]))
    with pytest.raises(ContainerFormatError, match="has no EDF header block"):
        ContainerReader.open(path)
    path.write_bytes(assemble([*frames, (b"EDFH", 0, EDF_HEADER)]))
    with pytest.raises(ContainerFormatError, match="unexpected extra EDF header"):
        ContainerReader.open(path)
    wrong_index = encode_index([IndexEntry(b"META", 0, 0, PREAMBLE_SIZE, 20, 0.0, 0.0)])
    path.write_bytes(assemble(frames, index=wrong_index))
    with pytest.raises(ContainerFormatError, match="index is malformed"):
        ContainerReader.open(path)


# --- the writer ----------------------------------------------------------------------------


def test_overwrite_needs_force(tmp_path: Path) -> None:
    path = tmp_path / "rec.eegc"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists"):
        ContainerWriter(path)
    assert path.read_bytes() == b"precious"
    assert list(tmp_path.iterdir()) == [path]
    write_sample(path, force=True)
    assert path.read_bytes().startswith(MAGIC)
    with pytest.raises(OutputExistsError, match="directory"):
        ContainerWriter(tmp_path, force=True)


def test_exception_inside_with_removes_the_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "rec.eegc"
    with pytest.raises(RuntimeError), ContainerWriter(path) as writer:
        writer.write_meta(META)
        assert len(list(tmp_path.iterdir())) == 1  # the hidden temporary file
        raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_writer_enforces_block_order(tmp_path: Path) -> None:
    path = tmp_path / "rec.eegc"
    with pytest.raises(ValueError, match="cannot write EDF header"), ContainerWriter(path) as w:
        w.write_edf_header(EDF_HEADER)
    with (
        pytest.raises(ValueError, match="code block 1 given; expected 0"),
        ContainerWriter(path) as w,
    ):
        w.write_meta(META)
        w.write_edf_header(EDF_HEADER)
        w.write_code_block(code_block(1, (1, 1, 4), 4))
    with pytest.raises(ValueError, match="cannot write raw block"), ContainerWriter(path) as w:
        w.write_meta(META)
        w.write_edf_header(EDF_HEADER)
        w.write_metrics(METRICS)
        w.write_raw_block(raw_block(0, 0, np.arange(4)))
    writer = ContainerWriter(path)
    with pytest.raises(ValueError, match="before closing"):
        writer.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="cannot write metadata"):
        writer.write_meta(META)


def test_unwritable_output_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(EegzipError, match="cannot create"):
        ContainerWriter(tmp_path / "missing-dir" / "rec.eegc")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"codes": np.zeros((2, 3), np.uint16)},
        {"codes": np.full((1, 1, 2), 16, np.uint16)},
        {"offsets": np.zeros(1, np.float64)},
        {"scales": np.array([np.inf], np.float32)},
        {"duration_seconds": 0.0},
        {"start_seconds": math.nan},
        {"bits": 17},
    ],
)
def test_invalid_code_blocks_are_refused(kwargs: dict[str, Any]) -> None:
    fields = {
        "index": 0,
        "start_frame": 0,
        "codes": np.zeros((1, 1, 2), np.uint16),
        "offsets": np.zeros(1, np.float32),
        "scales": np.ones(1, np.float32),
        "bits": 4,
        "start_seconds": 0.0,
        "duration_seconds": 1.0,
    }
    with pytest.raises(ValueError):
        CodeBlock(**(fields | kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"samples": np.array([40000, 0])},
        {"samples": np.array([1, 2, 3])},  # 3 samples do not split into 2 records
        {"sample_width": 4},
        {"n_records": 0},
    ],
)
def test_invalid_raw_blocks_are_refused(kwargs: dict[str, Any]) -> None:
    fields = {
        "signal_index": 0,
        "start_record": 0,
        "n_records": 2,
        "samples": np.array([1, 2]),
        "sample_width": 2,
        "start_seconds": 0.0,
        "duration_seconds": 2.0,
    }
    with pytest.raises(ValueError):
        RawBlock(**(fields | kwargs))


def test_interleaved_iterators_share_the_file_safely(tmp_path: Path) -> None:
    """The decoder walks several signals' raw blocks side by side."""
    content = sample_content()
    path = write_sample(tmp_path / "rec.eegc", content)
    with ContainerReader.open(path) as reader:
        by_signal = {i: reader.iter_raw_blocks(i) for i in (19, 20, 21)}
        codes = reader.iter_code_blocks()
        first = [next(by_signal[i]).signal_index for i in (21, 20, 19)]
        assert next(codes).index == 0
        assert first == [21, 20, 19]
        assert next(by_signal[19]).start_record == 2
        assert [b.index for b in codes] == [1, 2]


def test_absurd_times_still_give_a_one_line_message(tmp_path: Path, small_file: bytes) -> None:
    frames = split_frames(small_file)
    payload = bytearray(frames[2][2])
    struct.pack_into("<dd", payload, 8, 1.7e308, 1.7e308)  # finite each, their sum is not
    frames[2] = (b"CODE", 0, bytes(payload))
    data = assemble(frames)
    offset, length = block_offsets(data)[2]
    path = tmp_path / "x.eegc"
    path.write_bytes(flip(data, offset + length // 2))
    with pytest.raises(ChecksumError, match=r"block 2 \(codes, 1\.7e\+308 s–inf s\) is damaged"):
        read_everything(path)


# --- residual layer: RESP (1.2), and RESD (1.1) still read -------------------------------


def encode_resd(block: ResidualBlock) -> bytes:
    """A 1.1 RESD payload (order-1 fixed predictor), as eegzip 1.1 wrote them."""
    from eegzip.container.blocks import _compress, _to_planes
    from eegzip.container.format import RESD_HEADER, RESD_WIDTH

    n_channels, n_samples = block.residuals.shape
    e = np.diff(block.residuals.astype(np.int64), axis=1, prepend=0).reshape(-1)
    zigzag = ((e << 1) ^ (e >> 63)).astype(np.uint32)
    return (
        RESD_HEADER.pack(
            block.start_seconds, block.duration_seconds, block.index, n_samples, n_channels
        )
        + block.steps.astype("<u4").tobytes()
        + block.recon_crc.astype("<u4").tobytes()
        + bytes([1] * n_channels)
        + _compress(_to_planes(zigzag, RESD_WIDTH))
    )


def _residual_container(
    path: Path, residual_index: int = 0, legacy: bool = False
) -> tuple[Path, ResidualBlock]:
    """A code block and its residual layer: RESP, or with ``legacy`` a 1.1 file with RESD."""
    rng = np.random.default_rng(3)
    code = CodeBlock(index=0, start_frame=0, codes=rng.integers(0, 1024, (2, 9, 4), np.uint16),
                     offsets=np.zeros(2, np.float32), scales=np.ones(2, np.float32), bits=10,
                     start_seconds=0.0, duration_seconds=8.0)  # fmt: skip
    decoded = rng.integers(-(2**15), 2**15, (2, 1000)).astype(np.int32)
    residual = ResidualBlock(
        index=residual_index,
        steps=np.array([1, 667], np.uint32),
        recon_crc=reconstruction_checksums(decoded),
        residuals=rng.integers(-(2**20), 2**20, (2, 1000)).astype(np.int32),
        start_seconds=0.0,
        duration_seconds=8.0,
        decoded=decoded,
    )
    with ContainerWriter(path) as writer:
        writer.write_meta({"x": 1})
        writer.write_edf_header(b"h" * 512)
        writer.write_code_block(code)
        if residual_index == 0:
            writer.write_residual_block(residual)
        else:
            with pytest.raises(ValueError, match="before its code block"):
                writer.write_residual_block(residual)
    if legacy:
        frames = [(b"RESD", f, encode_resd(residual)) if t == b"RESP" else (t, f, p)
                  for t, f, p in split_frames(path.read_bytes())]  # fmt: skip
        path.write_bytes(assemble(frames, version=(1, 1)))
    return path, residual


@pytest.mark.parametrize("legacy", [False, True])
def test_residual_block_round_trip(tmp_path: Path, legacy: bool) -> None:
    path, written = _residual_container(tmp_path / "r.eegc", legacy=legacy)
    kind = b"RESD" if legacy else b"RESP"
    with ContainerReader.open(path) as reader:
        assert reader.has_residuals and reader.residual_block(1, written.decoded) is None
        block = reader.residual_block(0, written.decoded)
        assert np.array_equal(block.residuals, written.residuals)
        assert np.array_equal(block.steps, written.steps)
        assert np.array_equal(block.recon_crc, written.recon_crc)
        assert reader.verify() == []
        assert kind.decode() in reader.sizes()
        with pytest.raises(UnsupportedError, match="decoder output differs"):
            reader.residual_block(0, written.decoded + 1)
    data = bytearray(path.read_bytes())
    with ContainerReader.open(path) as reader:
        entry = next(e for e in reader._layout.entries if e.block_type == kind)
    data[entry.offset + entry.length // 2] ^= 4
    (tmp_path / "bad.eegc").write_bytes(bytes(data))
    with (
        ContainerReader.open(tmp_path / "bad.eegc") as reader,
        pytest.raises(ChecksumError, match="residual, 00:00:00"),
    ):
        reader.residual_block(0, written.decoded)


def test_resp_needs_the_decoded_output(tmp_path: Path) -> None:
    path, written = _residual_container(tmp_path / "r.eegc")
    with ContainerReader.open(path) as reader, pytest.raises(ValueError, match="decoder's output"):
        reader.residual_block(0)
    with pytest.raises(ValueError, match="give decoded"):
        encode_predictive_block(dataclasses.replace(written, decoded=None))


def _integer_residual_container(path: Path) -> tuple[Path, IntegerResidualBlock]:
    """A code block and its portable residual layer (RESI, 1.4)."""
    rng = np.random.default_rng(4)
    code = CodeBlock(index=0, start_frame=0, codes=rng.integers(0, 1024, (2, 9, 4), np.uint16),
                     offsets=np.zeros(2, np.float32), scales=np.ones(2, np.float32), bits=10,
                     start_seconds=0.0, duration_seconds=8.0)  # fmt: skip
    walk = np.cumsum(rng.integers(-300, 300, (2, 1000)), axis=1)
    residual = IntegerResidualBlock(
        index=0,
        steps=np.array([1, 7], np.uint32),
        lows=np.array([-(2**31), -100], np.int32),
        highs=np.array([2**31 - 1, 100], np.int32),
        residuals=walk.astype(np.int32),
        start_seconds=0.0,
        duration_seconds=8.0,
    )
    with ContainerWriter(path) as writer:
        writer.write_meta({"x": 1})
        writer.write_edf_header(b"h" * 512)
        writer.write_code_block(code)
        writer.write_residual_block(residual)
    return path, residual


def test_integer_residual_block_round_trip(tmp_path: Path) -> None:
    """RESI needs nothing but its bytes; its samples are step·k clamped to the stored bounds."""
    path, written = _integer_residual_container(tmp_path / "r.eegc")
    with ContainerReader.open(path) as reader:
        assert not reader.residual_needs_decoder(0) and reader.verify() == []
        block = reader.residual_block(0)
        assert "RESI" in reader.sizes()
    assert np.array_equal(block.residuals, written.residuals)
    assert np.array_equal(block.lows, written.lows) and np.array_equal(block.highs, written.highs)
    samples = block.samples()
    assert np.array_equal(samples[0], written.residuals[0])
    assert np.array_equal(samples[1], np.clip(7 * written.residuals[1].astype(np.int64), -100, 100))
    with pytest.raises(ValueError, match="lows <= highs"):
        dataclasses.replace(written, lows=written.highs, highs=written.lows)


def test_residual_for_a_missing_code_block_is_refused(tmp_path: Path) -> None:
    _residual_container(tmp_path / "r.eegc", residual_index=5)


def test_block_count_is_bounded_before_the_index_is_read(tmp_path: Path, monkeypatch) -> None:
    """A file listing millions of (empty) blocks is refused, not held in memory."""
    import eegzip.container.reader as reader_module

    path = write_sample(tmp_path / "x.eegc", sample_content())
    monkeypatch.setattr(reader_module, "MAX_BLOCKS", 2)
    with pytest.raises(ContainerFormatError, match="blocks, more than the 2 a file may hold"):
        ContainerReader.open(path)
    cut = tmp_path / "cut.eegc"
    cut.write_bytes(path.read_bytes()[:-30])  # no trailer: blocks are found by scanning
    with ContainerReader.open(cut, salvage=True) as reader:
        assert "holds more than 2 blocks" in str(reader.damage)


def test_json_dictionary_shrinks_the_metadata_and_the_spec_states_it_byte_for_byte() -> None:
    """METD/MTRD (1.5) exist for short files: the dictionary must pay, and a second
    implementation can only use it if formats/eegc.md holds exactly these bytes."""
    from eegzip.container.blocks import encode_meta
    from eegzip.container.format import JSON_DICTIONARY

    meta = {"codec_channels": [0], "codec_uv_factors": [1.0], "created_by": {"eegzip": "9"},
            "edf": {"n_records": 24, "n_signals": 1, "record_duration": 1.0, "variant": "EDF"},
            "lossless_channels": [], "model": None, "spectral": {"bitrate": 100.0}}  # fmt: skip
    block_type, payload = encode_meta(meta)
    assert block_type == b"METD"
    assert len(payload) < 0.5 * len(json_payload(encode_json(meta), b"METZ"))
    spec = (Path(__file__).parents[1] / "formats" / "eegc.md").read_text(encoding="utf-8")
    section = spec.split("### 5.17", 1)[1]
    lines = section.split("```json-dictionary\n", 1)[1].split("```", 1)[0].splitlines()
    assert "\n".join(lines).encode("utf-8") == JSON_DICTIONARY


def test_index_is_compressed_when_smaller_and_reads_back(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "rec.eegc")
    data = path.read_bytes()
    index_offset = struct.unpack_from("<Q", data, len(data) - TRAILER.size)[0]
    assert data[index_offset : index_offset + 4] == b"INDZ"
    with ContainerReader.open(path) as reader:
        assert reader.verify() == [] and reader.code_block_count > 0
    salvaged = tmp_path / "cut.eegc"
    salvaged.write_bytes(data[: len(data) - 10])  # trailer damaged: the index is found by a scan
    with ContainerReader.open(salvaged, salvage=True) as reader:
        assert reader.code_block_count > 0
