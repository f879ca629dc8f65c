"""Fuzzing the reader: damaged containers raise ContainerFormatError or UnsupportedError only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_container import assemble, read_everything, sample_content, split_frames, write_sample

from eegzip.container import ContainerReader
from eegzip.container.format import BLOCK_HEADER, CRC, TRAILER
from eegzip.errors import ContainerFormatError, UnsupportedError

Mutation = tuple[str, int, bytes]


@pytest.fixture(scope="module", params=[False, True], ids=["CODE", "ECOD"])
def workspace(tmp_path_factory: pytest.TempPathFactory, request) -> tuple[Path, bytes]:
    """A scratch path, and a small valid container (a few KB) to mutate: its code blocks
    zstd-packed (CODE) or range coded (ECOD)."""
    folder = tmp_path_factory.mktemp("fuzz")
    content = sample_content(shape=(2, 3, 4))
    original = write_sample(folder / "original.eegc", content, entropy=request.param)
    return folder / "mutated.eegc", original.read_bytes()


mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate"]),
        st.integers(0, 1 << 16),  # position, taken modulo the current length
        st.binary(min_size=1, max_size=12),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, steps: list[Mutation]) -> bytes:
    out = bytearray(data)
    for kind, position, chunk in steps:
        at = position % (len(out) + 1)
        if kind == "flip" and at < len(out):
            out[at] ^= 1 << (chunk[0] % 8)
        elif kind == "overwrite":
            out[at : at + len(chunk)] = chunk
        elif kind == "insert":
            out[at:at] = chunk
        elif kind == "delete":
            del out[at : at + len(chunk)]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


def assert_only_clean_errors(path: Path) -> None:
    """Open and read everything, strictly and in salvage mode; only our errors may escape."""
    for salvage in (False, True):
        try:
            read_everything(path, salvage=salvage)
        except (ContainerFormatError, UnsupportedError) as exc:
            message = str(exc)
            assert message.startswith(f"{path}: ") and "\n" not in message, message


@settings(max_examples=300, deadline=None)
@given(steps=mutations)
def test_mutated_bytes(workspace: tuple[Path, bytes], steps: list[Mutation]) -> None:
    path, original = workspace
    path.write_bytes(mutate(original, steps))
    assert_only_clean_errors(path)


@settings(max_examples=300, deadline=None)
@given(target=st.integers(0, 11), steps=mutations)
def test_mutated_payloads_with_valid_checksums(
    workspace: tuple[Path, bytes], target: int, steps: list[Mutation]
) -> None:
    """CRCs recomputed after the damage: exercises the decoders' and the index's own checks."""
    path, original = workspace
    frames = split_frames(original)
    if target < len(frames):
        block_type, flags, payload = frames[target]
        frames[target] = (block_type, flags, mutate(payload, steps))
        path.write_bytes(assemble(frames))
    else:
        path.write_bytes(assemble(frames, index=mutate(index_payload(original), steps)))
    assert_only_clean_errors(path)


def index_payload(data: bytes) -> bytes:
    index_offset, index_length, _ = TRAILER.unpack_from(data, len(data) - TRAILER.size)
    return data[index_offset + BLOCK_HEADER.size : index_offset + index_length - CRC.size]


@pytest.fixture(scope="module", params=["RESP", "RESD", "RESI"])
def residual_file(tmp_path_factory: pytest.TempPathFactory, request) -> tuple[Path, bytes, Any]:
    from test_container import _integer_residual_container, _residual_container

    folder = tmp_path_factory.mktemp("fuzz-resd")
    if request.param == "RESI":
        original, _ = _integer_residual_container(folder / "original.eegc")
        return folder / "mutated.eegc", original.read_bytes(), None
    original, block = _residual_container(folder / "original.eegc", legacy=request.param == "RESD")
    return folder / "mutated.eegc", original.read_bytes(), block.decoded


@settings(max_examples=150, deadline=None)
@given(steps=mutations)
def test_mutated_residual_payloads(residual_file: tuple[Path, bytes, Any], steps: list[Mutation]):
    """The residual decoders see damaged payloads behind valid checksums (RESP, RESD, RESI)."""
    path, original, decoded = residual_file
    frames = split_frames(original)
    target = next(i for i, f in enumerate(frames) if f[0] in (b"RESD", b"RESP", b"RESI"))
    block_type, flags, payload = frames[target]
    frames[target] = (block_type, flags, mutate(payload, steps))
    path.write_bytes(assemble(frames, version=(1, 2)))
    for salvage in (False, True):
        try:
            with ContainerReader.open(path, salvage=salvage) as reader:
                reader.residual_block(0, decoded)
                reader.verify()
        except (ContainerFormatError, UnsupportedError) as exc:
            assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)


# --- metadata with valid checksums but bad values, through the pipeline -----------------------

_ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 1, 2**31]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
    st.lists(st.integers(-3, 20), max_size=4), st.dictionaries(st.text(max_size=3), st.integers()),
)  # fmt: skip


def _leaves(obj: Any, path: tuple = ()) -> list[tuple]:
    """Every key path of a JSON object (objects and lists), the object itself first."""
    paths = [path]
    listed = obj if isinstance(obj, list) else []
    items = obj.items() if isinstance(obj, dict) else enumerate(listed)
    for key, value in items:
        paths += _leaves(value, (*path, key))
    return paths


def _replaced(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], value)
    return copy


@pytest.fixture(scope="module", params=["lossy", "lossless"])
def demo_container(tmp_path_factory: pytest.TempPathFactory, request) -> tuple[Path, Any, bool]:
    import eegzip
    from eegzip.demo import make_demo_edf

    folder = tmp_path_factory.mktemp("fuzz-meta")
    edf = make_demo_edf(folder / "demo.edf", seconds=10)
    codec = eegzip.load_codec()
    bound = 0.0 if request.param == "lossless" else None
    out = eegzip.compress(edf, folder / "demo.eegc", model=codec, measure=False, max_error_uv=bound)
    return out.output, codec, bound is not None


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_metadata_with_valid_checksums_is_decoded_or_refused_in_one_line(demo_container, data):
    """CRC-valid META mutations (the class of defect that gave 21 distinct tracebacks and 7
    silent wrong decodes): the pipeline raises one EegzipError line, or decodes, and then a
    lossless file to exactly its source."""
    from eegzip.container.blocks import decode_json_block, encode_json, json_payload
    from eegzip.errors import EegzipError
    from eegzip.pipeline.decompress import decompress_file

    path, codec, lossless = demo_container
    frames = split_frames(path.read_bytes())
    block_type, flags, payload = frames[0]
    meta = decode_json_block(payload, block_type)
    where = data.draw(st.sampled_from(_leaves(meta)[1:]))
    value = data.draw(_ODD_VALUES)
    mutated = _replaced(meta, where, value) if data.draw(st.booleans()) else _deleted(meta, where)
    frames[0] = (block_type, flags, json_payload(encode_json(mutated), block_type))
    odd = path.with_name("odd.eegc")
    odd.write_bytes(assemble(frames, version=(1, 5)))
    restored = odd.with_suffix(".edf")
    try:
        decompress_file(odd, restored, model=codec, force=True)
    except EegzipError as exc:
        assert "\n" not in str(exc) and str(odd) in str(exc), str(exc)
        return
    if lossless:
        assert restored.read_bytes() == path.with_name("demo.edf").read_bytes(), (where, value)


def _deleted(obj: Any, path: tuple) -> Any:
    if len(path) == 1:
        copy = dict(obj) if isinstance(obj, dict) else list(obj)
        del copy[path[0]]
        return copy
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[path[0]] = _deleted(copy[path[0]], path[1:])
    return copy
