"""Discrete EEG tokens: the code indices of a recording as one array, for research use.

A .eegc already holds the tokens, so they are read from it without a model; an EDF/BDF is
first compressed into a temporary .eegc with the usual pipeline, so the tokens are exactly
those ``eegzip compress`` would store. The per-block offsets and scales come along, so
decoded model output can be turned back into µV later (spec §14).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from eegzip.atomic import AtomicOutput, check_target
from eegzip.codec import registry
from eegzip.codec.registry import Codec
from eegzip.container import CONTAINER_SUFFIX, CodeBlock, ContainerReader
from eegzip.container.source import is_url
from eegzip.edf import parse_header
from eegzip.errors import (
    ContainerFormatError,
    EegzipError,
    InputNotFoundError,
    UnsupportedError,
    UsageError,
)
from eegzip.pipeline.groups import Grouping
from eegzip.pipeline.meta import ContainerMeta
from eegzip.version import __version__

if TYPE_CHECKING:
    from eegzip.pipeline.compress import Progress

TOKENS_SUFFIX = ".tokens.npz"


@dataclass(frozen=True, eq=False)
class Tokens:
    """Code indices of one recording, all code blocks joined along frames.

    Stream ``s`` is one codec channel (single-channel model) or one channel group
    (multi-channel model); ``stream_channels[s]`` are its EDF signal indices. Frame ``f``
    starts at ``f * frame_seconds`` from the recording's start and belongs to code block
    ``f // block_frames``, whose row of ``offsets``/``scales`` maps the model's output for
    the codec channels (columns, in the order of ``channels``) back to µV.
    """

    codes: np.ndarray  # uint16, (streams, codebooks, frames)
    stream_labels: tuple[str, ...]
    stream_channels: tuple[tuple[int, ...], ...]
    channels: tuple[int, ...]  # EDF signal indices of the offsets/scales columns
    channel_labels: tuple[str, ...]
    frame_seconds: float
    codebook_size: int
    model: dict[str, str]  # name, sha256
    source: Path
    block_frames: int
    offsets: np.ndarray  # float32, (blocks, channels)
    scales: np.ndarray  # float32, (blocks, channels)

    @property
    def frame_start_seconds(self) -> np.ndarray:
        return np.arange(self.codes.shape[2]) * self.frame_seconds

    def describe(self) -> dict[str, Any]:
        """Everything but the arrays, JSON-ready: the npz's ``meta`` and the CLI's report."""
        return {
            "stream_labels": list(self.stream_labels),
            "stream_channels": [list(s) for s in self.stream_channels],
            "channels": list(self.channels),
            "channel_labels": list(self.channel_labels),
            "frame_seconds": self.frame_seconds,
            "codebook_size": self.codebook_size,
            "block_frames": self.block_frames,
            "model": self.model,
            "source": self.source.name,
            "eegzip": __version__,
        }

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write an uncompressed .npz atomically (temporary file, then rename)."""
        target = Path(path)
        try:
            with AtomicOutput(target, force=force) as output:
                np.savez(
                    output.file,
                    codes=self.codes,
                    frame_start_seconds=self.frame_start_seconds,
                    offsets=self.offsets,
                    scales=self.scales,
                    meta=np.array(json.dumps(self.describe())),
                )
        except OSError as exc:
            raise EegzipError(f"{target}: cannot write ({exc.strerror or exc})") from None
        return target

    @classmethod
    def load(cls, path: str | Path) -> Tokens:
        """Read back what ``save`` wrote (``source`` is then the original's file name)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                return cls(
                    codes=data["codes"],
                    stream_labels=tuple(meta["stream_labels"]),
                    stream_channels=tuple(tuple(s) for s in meta["stream_channels"]),
                    channels=tuple(meta["channels"]),
                    channel_labels=tuple(meta["channel_labels"]),
                    frame_seconds=float(meta["frame_seconds"]),
                    codebook_size=int(meta["codebook_size"]),
                    model=meta["model"],
                    source=Path(meta["source"]),
                    block_frames=int(meta["block_frames"]),
                    offsets=data["offsets"],
                    scales=data["scales"],
                )
        except FileNotFoundError:
            raise InputNotFoundError(f"{path}: no such file") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ContainerFormatError(f"{path}: not an eegzip tokens file ({exc})") from None


def check_output(path: Path, force: bool) -> None:
    """Refuse a directory, or an existing file without ``force`` (before the work, not after)."""
    check_target(path, force)


def read_tokens(
    path: str | Path,
    *,
    model: str | Path | Codec | None = None,
    codebooks: int | None = None,
    device: str = "cpu",
    groups: str | None = None,
    group_seed: int | None = None,
    group_size: int | None = None,
    progress: Progress | None = None,
) -> Tokens:
    """The discrete tokens (code indices) of a .eegc, or of an EDF/BDF coded on the fly.

    ``codes`` is (streams, codebooks, frames) uint16: one stream per codec channel, or per
    channel group for a multi-channel model (``stream_labels`` joins its labels with "+");
    frame ``f`` starts at ``f * frame_seconds``. A .eegc is read as stored, without a model:
    ``model`` and the grouping options only choose how an EDF/BDF is coded, as for
    ``compress``, in a temporary folder that is removed afterwards. ``codebooks`` keeps the
    first N codebooks. ``Tokens.save`` writes an .npz, ``Tokens.load`` reads it back.
    """
    if is_url(path):  # a .eegc read by byte ranges
        name = Path(urlsplit(str(path)).path)
        if name.suffix.lower() != CONTAINER_SUFFIX:
            raise UnsupportedError(f"{path}: only .eegc files can be read from a URL")
        return _container_tokens(str(path), Path(name.name), codebooks)
    source = Path(path)
    if source.suffix.lower() == CONTAINER_SUFFIX:
        return _container_tokens(source, source, codebooks)
    from eegzip.pipeline.compress import CompressOptions, compress_file  # torch: EDFs only

    codec = model if isinstance(model, Codec) else registry.load(registry.resolve(model), device)
    # Only the codes are kept: no metrics, and bit-packing is faster than range coding.
    options = CompressOptions(
        codebooks=codebooks,
        measure=False,
        groups=groups,
        group_seed=group_seed,
        group_size=group_size,
        entropy=False,
    )
    with tempfile.TemporaryDirectory(prefix="eegzip-tokens-") as folder:
        container = Path(folder) / f"{source.stem}{CONTAINER_SUFFIX}"
        compress_file(source, container, codec, options, progress)
        return _container_tokens(container, source, None)


def _container_tokens(path: str | Path, source: Path, codebooks: int | None) -> Tokens:
    with ContainerReader.open(path) as reader:
        header = parse_header(reader.edf_header, f"{path} (stored EDF header)")
        meta = ContainerMeta.read(reader, header, str(path))
        model = meta.model
        if model is None and meta.bounded:
            raise UnsupportedError(
                f"{path}: an archival file with no neural codes; compress with --codebooks N "
                "to keep them (or run eegzip tokens on the EDF)"
            )
        if model is None:
            raise UnsupportedError(
                f"{path}: holds no neural codes (the spectral codec, --bitrate); tokens come "
                "from the EDF: decompress it, then eegzip tokens on the EDF"
            )
        frame_seconds = model.hop_length / model.sample_rate
        channels = meta.codec_channels
        labels = tuple(header.signals[i].label.strip() for i in channels)
        block_frames = meta.block_frames
        identity = {"name": model.name, "sha256": model.sha256}
        codebook_size = model.codebook_size
        members = (
            Grouping.from_meta(meta.groups, len(channels), str(path)).members
            if meta.groups
            else tuple((i,) for i in range(len(channels)))
        )
        blocks = list(reader.iter_code_blocks())
    _check_tiling(blocks, block_frames, (len(members), len(channels)), str(path))
    kept = blocks[0].n_codebooks
    if codebooks is not None and not 1 <= codebooks <= kept:
        raise UsageError(f"{path}: --codebooks must be 1..{kept} (the codebooks it stores)")
    codes = np.concatenate([b.codes[:, :codebooks] for b in blocks], axis=2)
    return Tokens(
        codes=codes.astype(np.uint16, copy=False),
        stream_labels=tuple("+".join(labels[i] for i in g) for g in members),
        stream_channels=tuple(tuple(channels[i] for i in g) for g in members),
        channels=channels,
        channel_labels=labels,
        frame_seconds=frame_seconds,
        codebook_size=codebook_size,
        model=identity,
        source=source,
        block_frames=block_frames,
        offsets=np.stack([b.offsets for b in blocks]),
        scales=np.stack([b.scales for b in blocks]),
    )


def _check_tiling(
    blocks: list[CodeBlock], block_frames: int, streams_channels: tuple[int, int], name: str
) -> None:
    """Block k must hold frames [k·F, (k+1)·F) (the last may be shorter), spec §14, and
    every block the same streams, codebooks and channels, so the codes join into one array."""
    if not blocks:
        raise ContainerFormatError(f"{name}: holds no code blocks")
    for k, block in enumerate(blocks):
        last = k == len(blocks) - 1
        full = block.n_frames == block_frames or (last and block.n_frames < block_frames)
        if block.start_frame != k * block_frames or not full:
            raise ContainerFormatError(
                f"{name}: code block {k} holds frames {block.start_frame}.."
                f"{block.start_frame + block.n_frames - 1}; the blocks do not tile the "
                f"recording in blocks of {block_frames} frames"
            )
        shape = (block.n_streams, block.n_channels)
        if shape != streams_channels or block.n_codebooks != blocks[0].n_codebooks:
            raise ContainerFormatError(
                f"{name}: code block {k} has {block.n_streams} streams, {block.n_channels} "
                f"channels and {block.n_codebooks} codebooks, unlike the metadata or block 0"
            )
