"""ECOD: range-coded code indices give back identical codes, match the spec byte for byte, and
refuse damaged streams cleanly; on real recordings they are smaller than CODE blocks."""

from __future__ import annotations

from pathlib import Path

import constriction
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_container import assemble, code_block, split_frames

import eegzip
from eegzip.container import CodeBlock, ContainerReader, ContainerWriter
from eegzip.container.code_entropy import CodeModel, decode_codes, encode_codes, fits
from eegzip.container.format import ECOD_MAX_BITS, ECOD_PRIOR, ECOD_SAME_FRAME, RANGE_PRECISION
from eegzip.edf import EdfFile
from eegzip.errors import ContainerFormatError


def spec_encoding(codes: np.ndarray, bits: int) -> bytes:
    """Spec §5.11 taken literally, symbol by symbol: an independent second encoder."""
    size, target = 1 << bits, (1 << RANGE_PRECISION) - (1 << bits)
    encoder = constriction.stream.queue.RangeEncoder()
    n_streams, n_codebooks, n_frames = codes.shape
    for k in range(n_codebooks):
        for s in range(n_streams):
            counts = np.bincount(codes[:s, k].ravel(), minlength=size)
            for t in range(n_frames):
                base = ECOD_PRIOR + CodeModel().count * counts
                base = base + ECOD_SAME_FRAME * np.bincount(codes[:s, k, t], minlength=size)
                weights = base * target // base.sum()
                weights[np.argmax(ECOD_PRIOR + CodeModel().count * counts)] += (
                    target - weights.sum()
                )
                model = constriction.stream.model.Categorical(
                    weights.astype(np.float64), perfect=False
                )
                encoder.encode(np.array([codes[s, k, t]], np.int32), model)
    words = encoder.get_compressed().astype("<u4")
    return np.uint32(words.size).astype("<u4").tobytes() + words.tobytes()


def skewed_codes(rng: np.random.Generator, shape: tuple[int, ...], bits: int) -> np.ndarray:
    """Codes drawn from a few indices, with repeats across streams as in real blocks."""
    pool = rng.integers(0, 1 << bits, size=max(2, (1 << bits) // 8))
    return pool[rng.zipf(1.5, size=shape) % pool.size].astype(np.uint16)


@pytest.mark.parametrize(
    "shape,bits", [((3, 2, 5), 10), ((1, 1, 1), 1), ((4, 3, 7), 4), ((1, 2, 300), 12)]
)
def test_bytes_follow_the_spec(shape: tuple[int, int, int], bits: int) -> None:
    """(1, 2, 300) at 12 bits spans two range-coder calls per stream: chunking is invisible."""
    codes = skewed_codes(np.random.default_rng(sum(shape)), shape, bits)
    assert encode_codes(codes, bits) == spec_encoding(codes, bits)


def test_spec_example() -> None:
    codes = np.array([[[2, 2, 0]], [[2, 1, 2]]], np.uint16)
    assert encode_codes(codes, 2) == bytes.fromhex("01000000 0fe1d0a0")


@settings(max_examples=80, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 40)),
    bits=st.integers(1, ECOD_MAX_BITS),
    seed=st.integers(0, 2**32 - 1),
    skewed=st.booleans(),
)
def test_round_trip_is_exact(shape, bits, seed, skewed) -> None:
    rng = np.random.default_rng(seed)
    if skewed:
        codes = skewed_codes(rng, shape, bits)
    else:
        codes = rng.integers(0, 1 << bits, size=shape).astype(np.uint16)
    assert np.array_equal(decode_codes(encode_codes(codes, bits), shape, bits), codes)


def test_limits() -> None:
    assert fits((21, 9, 32), 10) and not fits((1, 1, 1), ECOD_MAX_BITS + 1)
    assert not fits((1024, 9, 32 * 16), 12)  # too much decoding work for one block
    with pytest.raises(ValueError, match="beyond ECOD's limits"):
        encode_codes(np.zeros((1, 1, 1), np.uint16), 13)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64), shape=st.tuples(*[st.integers(1, 4)] * 3))
def test_garbage_streams_raise_value_error_only(data: bytes, shape) -> None:
    try:
        codes = decode_codes(data, shape, 10)
    except ValueError:
        return
    assert codes.shape == shape and codes.max() < 1024


def test_damage_is_detected() -> None:
    codes = skewed_codes(np.random.default_rng(1), (3, 2, 8), 10)
    data = encode_codes(codes, 10)
    with pytest.raises(ValueError, match="cut short"):
        decode_codes(data[:-4], codes.shape, 10)
    with pytest.raises(ValueError, match="bytes after"):
        decode_codes(data + b"\0", codes.shape, 10)
    words = len(data) // 4 + 1  # two words more: the decoder sees them (one can hide in its state)
    longer = np.uint32(words).astype("<u4").tobytes() + data[4:] + b"\x01" * 8
    with pytest.raises(ValueError, match="left over"):
        decode_codes(longer, codes.shape, 10)


def grouped_block(index: int) -> CodeBlock:
    plain = code_block(index, (2, 3, 4), 10)
    offsets = np.arange(5, dtype=np.float32)
    return CodeBlock(**{**plain.__dict__, "offsets": offsets, "scales": offsets + 1})


def ecod_file(path: Path) -> tuple[Path, list[CodeBlock]]:
    """ECOD blocks for a plain block, a grouped one (2 streams, 5 channels) and a 13-bit one."""
    blocks = [code_block(0, (3, 2, 4), 10), grouped_block(1), code_block(2, (1, 1, 2), 13)]
    with ContainerWriter(path, entropy=True) as writer:
        writer.write_meta({"block_frames": 4})
        writer.write_edf_header(b"h" * 256)
        for block in blocks:
            writer.write_code_block(block)
    return path, blocks


def test_container_round_trip_and_random_access(tmp_path: Path) -> None:
    path, blocks = ecod_file(tmp_path / "x.eegc")
    with ContainerReader.open(path) as reader:
        assert [f[0] for f in split_frames(path.read_bytes())][2:] == [b"ECOD", b"ECOD", b"CODE"]
        for got, want in zip(reader.iter_code_blocks(), blocks, strict=True):
            assert np.array_equal(got.codes, want.codes) and got.n_streams == want.n_streams
            assert np.array_equal(got.offsets, want.offsets)
        assert [b.index for b in reader.code_blocks_between(2.5, 4.5)] == [1, 2]
        assert reader.verify() == []


@pytest.fixture(scope="module")
def ecod_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("ecod")
    return folder / "bad.eegc", ecod_file(folder / "good.eegc")[0].read_bytes()


@settings(max_examples=200, deadline=None)
@given(
    target=st.sampled_from([2, 3]),
    position=st.integers(0, 1 << 12),
    chunk=st.binary(min_size=1, max_size=8),
)
def test_damaged_ecod_payload_behind_a_valid_checksum(
    ecod_workspace: tuple[Path, bytes], target: int, position: int, chunk: bytes
) -> None:
    """Plain and grouped ECOD blocks; CRCs recomputed, so the ECOD decoder sees the damage."""
    path, good = ecod_workspace
    frames = split_frames(good)
    block_type, flags, payload = frames[target]
    at = position % len(payload)
    frames[target] = (block_type, flags, payload[:at] + chunk + payload[at + len(chunk) :])
    path.write_bytes(assemble(frames, version=(1, 2)))
    try:
        with ContainerReader.open(path) as reader:
            reader.code_block(target - 2)
            assert reader.verify() == []
    except ContainerFormatError as exc:
        assert str(exc).startswith(f"{path}: block ") and "\n" not in str(exc)


def test_real_recording_codes_identical_and_smaller(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "guinea-bissau" / "gb-004.edf"
    codec = eegzip.load_codec()
    results, codes = {}, {}
    for entropy in (True, False):
        out = tmp_path / f"{entropy}.eegc"
        results[entropy] = eegzip.compress(source, out, model=codec, entropy=entropy, measure=False)
        with ContainerReader.open(out) as reader:
            assert set(reader.sizes()) & {"CODE", "ECOD"} == {"ECOD" if entropy else "CODE"}
            codes[entropy] = [b.codes for b in reader.iter_code_blocks()]
            assert reader.metrics["codes"] == results[entropy].code_stats
        eegzip.decompress(out, tmp_path / f"{entropy}.edf", model=codec)
    assert all(np.array_equal(a, b) for a, b in zip(codes[True], codes[False], strict=True))
    assert (tmp_path / "True.edf").read_bytes() == (tmp_path / "False.edf").read_bytes()
    stats, plain = results[True].code_stats, results[False].code_stats
    assert stats["log2_codebook_size"] == 10 and stats["count"] == plain["count"]
    assert stats["bits_per_code"] < 0.96 * plain["bits_per_code"]
    assert results[True].output_bytes < results[False].output_bytes
    with EdfFile.open(tmp_path / "True.edf") as decoded:
        assert decoded.header.n_records > 0
