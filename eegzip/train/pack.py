"""A compact copy of a training split, for machines that get the repository and nothing else.

A GPU lent for a few minutes sees only the working tree (64 MiB in all), not ``../shared/data``.
A pack holds the codable channels of the train split (and a few test-split files for held-out
checks) as per-channel int16 first differences, byte planes apart, zstd-compressed:

* channels above the model rate are resampled to it first (training resamples them anyway);
* each channel is quantised to ``max(its EDF quantum, min_step_uv, span / 32767)`` µV around
  the µV of the EDF's digital 0, so a channel at or below the model rate whose quantum is
  coarser than ``min_step_uv`` (Guinea-Bissau, Muse) is stored exactly, and the rest with an
  error of at most half a step (0.025 µV at the default, against ~10 µV of rest EEG).

Folder layout: ``index.json`` (format, version, what was packed and how, one entry per channel
with its byte range) and ``channels.bin`` (the zstd frames, one per channel).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import zstandard

from eegzip.train.data import CodableSignal, at_model_rate, read_codable_signals, split_files

PACK_FORMAT = "eegzip-train-pack"
PACK_VERSION = 1
INDEX_NAME = "index.json"
DATA_NAME = "channels.bin"
ZSTD_LEVEL = 19
INT16_SPAN = 32767


@dataclass(frozen=True)
class PackedChannel:
    """Where one channel lies in ``channels.bin`` and how to turn it back into µV."""

    file: str
    """The EDF, relative to the data folder."""
    dataset: str
    split: str
    label: str
    rate_hz: float
    samples: int
    offset_uv: float
    step_uv: float
    start: int
    """Byte offset of the channel's zstd frame in ``channels.bin``."""
    length: int


def quantise(uv: np.ndarray, offset_uv: float, step_uv: float) -> np.ndarray:
    """int16 steps of ``step_uv`` around ``offset_uv`` (the caller sized the step to fit)."""
    return np.clip(np.rint((uv - offset_uv) / step_uv), -INT16_SPAN - 1, INT16_SPAN).astype(
        np.int16
    )


def encode_steps(steps: np.ndarray) -> bytes:
    """int16 → first differences (mod 2^16) → high-byte plane, low-byte plane → zstd."""
    diff = np.diff(steps.astype(np.int64), prepend=0) % 65536
    planes = np.concatenate([(diff >> 8).astype(np.uint8), (diff & 255).astype(np.uint8)])
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(planes.tobytes())


def decode_steps(frame: bytes, samples: int) -> np.ndarray:
    """The inverse of ``encode_steps``: the int16 steps, exactly."""
    try:
        planes = np.frombuffer(zstandard.ZstdDecompressor().decompress(frame), np.uint8)
    except zstandard.ZstdError as exc:
        raise ValueError(f"damaged packed channel ({exc})") from None
    if planes.size != 2 * samples:
        raise ValueError(f"packed channel holds {planes.size // 2} samples, index says {samples}")
    diff = (planes[:samples].astype(np.int64) << 8) | planes[samples:]
    return (np.cumsum(diff) % 65536).astype(np.uint16).view(np.int16)


def channel_step(signal: CodableSignal, uv: np.ndarray, min_step_uv: float) -> float:
    """The coarsest of the EDF quantum, ``min_step_uv`` and what int16 needs for the span."""
    span = float(np.max(np.abs(uv - signal.offset_uv))) if uv.size else 0.0
    return max(signal.step_uv, min_step_uv, span / INT16_SPAN)


@dataclass(frozen=True)
class PackSpec:
    """What to pack: the model rate, the finest step kept, and which test files to add."""

    model_rate: int = 256
    min_step_uv: float = 0.05
    test_files_per_dataset: int = 3
    train_stride: int = 1
    """Keep every n-th train file (1: all) of the ``strided`` datasets (empty: of every one)."""
    strided: tuple[str, ...] = ()


def pack_files(data_dir: Path, spec: PackSpec) -> list[tuple[str, str, str]]:
    """(file, dataset, split) rows to pack: the train split (strided) and a few test files."""
    with (data_dir / "splits.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    chosen = []
    for dataset in sorted({r["dataset"] for r in rows}):
        train = [r["file"] for r in rows if r["dataset"] == dataset and r["split"] == "train"]
        test = [r["file"] for r in rows if r["dataset"] == dataset and r["split"] == "test"]
        stride = spec.train_stride if not spec.strided or dataset in spec.strided else 1
        chosen += [(f, dataset, "train") for f in train[::stride]]
        chosen += [(f, dataset, "test") for f in test[: spec.test_files_per_dataset]]
    return chosen


def write_pack(
    data_dir: Path,
    out_dir: Path,
    spec: PackSpec,
    command: str,
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    """Pack ``data_dir`` into ``out_dir`` (written under temporary names, then renamed)."""
    split_files(data_dir, "train")  # the same clear error as training when splits.csv is absent
    out_dir.mkdir(parents=True, exist_ok=True)
    items: list[PackedChannel] = []
    partial = out_dir / (DATA_NAME + ".tmp")
    with partial.open("wb") as data:
        for file, dataset, split in pack_files(data_dir, spec):
            progress(file)
            for signal in read_codable_signals(data_dir / file):
                uv, rate = signal.uv, signal.rate_hz
                if rate > spec.model_rate:
                    uv, rate = at_model_rate(uv, rate, spec.model_rate), float(spec.model_rate)
                step = channel_step(signal, uv, spec.min_step_uv)
                frame = encode_steps(quantise(uv, signal.offset_uv, step))
                items.append(
                    PackedChannel(file, dataset, split, signal.label, rate, len(uv),
                                  signal.offset_uv, step, data.tell(), len(frame))
                )  # fmt: skip
                data.write(frame)
    index = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "source": str(data_dir),
        "command": command,
        "spec": asdict(spec),
        "items": [asdict(item) for item in items],
    }
    index_partial = out_dir / (INDEX_NAME + ".tmp")
    index_partial.write_text(json.dumps(index, indent=1))
    partial.replace(out_dir / DATA_NAME)
    index_partial.replace(out_dir / INDEX_NAME)
    return index


@dataclass(frozen=True)
class Pack:
    """A pack folder, read back: its index, and channels in µV at the model rate on demand."""

    folder: Path
    items: tuple[PackedChannel, ...]
    spec: PackSpec

    @classmethod
    def open(cls, folder: Path) -> Pack:
        index_path = folder / INDEX_NAME
        if not index_path.exists() or not (folder / DATA_NAME).exists():
            raise FileNotFoundError(f"{folder}: not a training pack (no {INDEX_NAME}/{DATA_NAME})")
        index = json.loads(index_path.read_text())
        if index.get("format") != PACK_FORMAT or index.get("version") != PACK_VERSION:
            raise ValueError(f"{folder}: not an eegzip training pack of version {PACK_VERSION}")
        items = tuple(PackedChannel(**item) for item in index["items"])
        spec = index["spec"]
        return cls(folder, items, PackSpec(**{**spec, "strided": tuple(spec["strided"])}))

    def select(self, split: str, datasets: Sequence[str] = ()) -> list[PackedChannel]:
        return [
            i for i in self.items if i.split == split and (not datasets or i.dataset in datasets)
        ]

    def load(self, items: Sequence[PackedChannel], model_rate: int) -> list[np.ndarray]:
        """float32 µV at ``model_rate`` of each item, in order."""
        out = []
        with (self.folder / DATA_NAME).open("rb") as data:
            for item in items:
                data.seek(item.start)
                steps = decode_steps(data.read(item.length), item.samples)
                uv = item.offset_uv + item.step_uv * steps.astype(np.float64)
                out.append(at_model_rate(uv, item.rate_hz, model_rate))
        return out

    def channels(
        self, split: str, datasets: Sequence[str], model_rate: int
    ) -> tuple[list[np.ndarray], list[str]]:
        """(µV channels at ``model_rate``, their datasets) of one split: a CropSampler's input."""
        items = self.select(split, datasets)
        if not items:
            raise ValueError(f"{self.folder}: no {split} channels of {list(datasets) or 'any'}")
        return self.load(items, model_rate), [i.dataset for i in items]

    @property
    def bytes(self) -> int:
        return (self.folder / DATA_NAME).stat().st_size + (self.folder / INDEX_NAME).stat().st_size
