"""Downstream classification on original signals and on eegzip reconstructions (the paper's
Table 2, on the data we have).

- ``epilepsy``: Guinea-Bissau epilepsy vs control, one recording per subject. Only the 200 s
  around the planned eye-condition switch at 180 s are used (80–280 s), so every recording gives
  about as much eyes-closed as eyes-open EEG: the protocol order is confounded with the group
  (all open-first recordings are controls), and whole recordings would carry that order in
  their alpha power. Header dates, which also track the group, are never read.
- ``arithmetic``: EEGMAT rest (``_1``) vs mental arithmetic (``_2``), whole recordings; every
  subject gives one of each, and subjects are the CV groups.

Only test-split subjects (splits.csv) take part. Reconstructions go through ``eegzip.api``
(one loaded codec, ``measure=False``) into a temporary folder and are read back like any EDF.
Every condition is scored on the same splits: a classifier trained and tested on that
condition's signals, and the classifier trained on the originals tested on it.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from eegzip import api
from eegzip.bench import REPEATS
from eegzip.bench.crossval import FoldScore, RecordingClassifier, Split, make_splits, score
from eegzip.bench.features import EPOCH_S, EpochFeatures, epoch_features
from eegzip.bench.signals import read_codec_signals
from eegzip.bench.stats import paired_difference
from eegzip.codec.registry import Codec
from eegzip.errors import InputNotFoundError
from eegzip.pipeline.compress import Progress

SPLITS_FILE = "splits.csv"
FOLDS = 5
EYES_SWITCH_S = 180.0
EYES_HALF_WINDOW_S = 100.0

Window = Callable[[float], tuple[float, float]]


@dataclass(frozen=True)
class LabelledRecording:
    path: Path
    subject: str
    label: int  # index into TaskSpec.classes


@dataclass(frozen=True)
class TaskSpec:
    name: str
    dataset: str
    classes: tuple[str, str]
    window: Window
    window_text: str
    label_of: Callable[[Path, str], str]  # (data root, file in splits.csv) → class name


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise InputNotFoundError(
            f"{path}: not found; --task needs the data folder that holds {SPLITS_FILE}, "
            "eegmat/ and guinea-bissau/"
        ) from None


@cache
def _gb_groups(root: Path) -> dict[str, str]:
    return {row["file"]: row["group"] for row in _csv_rows(root / "guinea-bissau/labels.csv")}


def _gb_group(root: Path, file: str) -> str:
    return _gb_groups(root)[Path(file).name]


def _eegmat_condition(_root: Path, file: str) -> str:
    return {"1": "rest", "2": "arithmetic"}[Path(file).stem.rsplit("_", 1)[1]]


def _around_eyes_switch(duration: float) -> tuple[float, float]:
    return (
        max(0.0, EYES_SWITCH_S - EYES_HALF_WINDOW_S),
        min(duration, EYES_SWITCH_S + EYES_HALF_WINDOW_S),
    )


def _whole(duration: float) -> tuple[float, float]:
    return 0.0, duration


TASKS = {
    "epilepsy": TaskSpec(
        "epilepsy",
        "guinea-bissau",
        ("control", "epilepsy"),
        _around_eyes_switch,
        "80–280 s (100 s either side of the eye-condition switch)",
        _gb_group,
    ),
    "arithmetic": TaskSpec(
        "arithmetic", "eegmat", ("rest", "arithmetic"), _whole, "whole recording", _eegmat_condition
    ),
}


def task_recordings(spec: TaskSpec, root: Path, limit: int | None) -> list[LabelledRecording]:
    """The task's test-split recordings; ``limit`` keeps the first N subjects of each class."""
    rows = [
        row
        for row in _csv_rows(root / SPLITS_FILE)
        if row["dataset"] == spec.dataset and row["split"] == "test"
    ]
    recordings = [
        LabelledRecording(
            root / row["file"], row["subject"], spec.classes.index(spec.label_of(root, row["file"]))
        )
        for row in sorted(rows, key=lambda r: r["file"])
    ]
    if limit is None:
        return recordings
    keep = set()
    for label in (0, 1):
        subjects = sorted({r.subject for r in recordings if r.label == label})
        keep.update(subjects[:limit])
    return [r for r in recordings if r.subject in keep]


def recording_features(path: Path, window: Window) -> EpochFeatures:
    signals = read_codec_signals(path)
    start, stop = window(signals.duration_seconds)
    lo, hi = round(start * signals.sample_rate), round(stop * signals.sample_rate)
    return epoch_features(signals.uv[:, lo:hi], signals.sample_rate)


def reconstructed_features(
    path: Path,
    codec: Codec | None,
    setting: Mapping[str, Any],
    window: Window,
    workdir: Path,
) -> EpochFeatures:
    """Features of ``path`` after compress → decompress with api.compress keywords ``setting``
    (``codebooks`` and channel grouping for the neural codec, or a ladder ``bitrate``)."""
    container, restored = workdir / "reconstruction.eegc", workdir / "reconstruction.edf"
    model = None if "bitrate" in setting else codec
    api.compress(path, container, model=model, measure=False, force=True, **setting)
    api.decompress(container, restored, model=model, force=True)
    return recording_features(restored, window)


def setting_name(setting: Mapping[str, Any]) -> str:
    if "bitrate" in setting:
        return f"eegzip {setting['bitrate']:g} bit/s"
    return f"eegzip ×{setting['codebooks']}"


@dataclass
class ConditionScores:
    """Scores of one kind of signal over all splits."""

    name: str
    setting: Mapping[str, Any] | None  # None: the originals
    own: list[FoldScore]  # trained and tested on these signals
    transfer: list[FoldScore]  # trained on originals, tested on these signals


def pick(features: Sequence[EpochFeatures], index: np.ndarray) -> list[EpochFeatures]:
    return [features[i] for i in index]


def evaluate(
    original: Sequence[EpochFeatures],
    conditions: dict[str, tuple[Mapping[str, Any], Sequence[EpochFeatures]]],
    labels: np.ndarray,
    splits: Sequence[Split],
) -> list[ConditionScores]:
    """Scores of the originals and of each reconstruction (by setting) on the same splits."""
    rows = [ConditionScores("original", None, [], [])]
    rows += [ConditionScores(name, s, [], []) for name, (s, _) in conditions.items()]
    for split in splits:
        train, test, truth = split.train, split.test, labels[split.test]
        base = RecordingClassifier().fit(pick(original, train), labels[train])
        base_score = score(truth, base.predict(pick(original, test)))
        rows[0].own.append(base_score)
        rows[0].transfer.append(base_score)
        for row, (_, features) in zip(rows[1:], conditions.values(), strict=True):
            own = RecordingClassifier().fit(pick(features, train), labels[train])
            row.own.append(score(truth, own.predict(pick(features, test))))
            row.transfer.append(score(truth, base.predict(pick(features, test))))
    return rows


def _summary(scores: Sequence[FoldScore]) -> dict:
    out = {}
    for metric in ("accuracy", "balanced_accuracy"):
        values = np.array([getattr(s, metric) for s in scores])
        out[metric] = {
            "mean": round(float(values.mean()), 4),
            "std": round(float(values.std(ddof=1)), 4),
        }
    return out


def _versus(scores: Sequence[FoldScore], reference: Sequence[FoldScore], ratio: float) -> dict:
    return {
        metric: paired_difference(
            np.array([getattr(s, metric) for s in scores]),
            np.array([getattr(s, metric) for s in reference]),
            ratio,
        ).to_dict()
        for metric in ("accuracy", "balanced_accuracy")
    }


def _row_dict(row: ConditionScores, reference: ConditionScores, ratio: float) -> dict:
    setting = row.setting or {}
    out: dict = {
        "signals": "original" if row.setting is None else "eegzip",
        "codebooks": setting.get("codebooks"),
        **({"bitrate": setting["bitrate"]} if "bitrate" in setting else {}),
        **_summary(row.own),
    }
    if row.setting is not None:
        out["vs_original"] = _versus(row.own, reference.own, ratio)
        out["trained_on_original"] = {
            **_summary(row.transfer),
            "vs_original": _versus(row.transfer, reference.own, ratio),
        }
    return out


def _each(
    recordings: Sequence[LabelledRecording],
    extract: Callable[[LabelledRecording], EpochFeatures],
    progress: Progress | None,
) -> list[EpochFeatures]:
    out = []
    for i, recording in enumerate(recordings):
        out.append(extract(recording))
        if progress:
            progress(i + 1, len(recordings))
    return out


def _reconstructions(
    recordings: Sequence[LabelledRecording],
    codec: Codec | None,
    settings: Sequence[Mapping[str, Any]],
    window: Window,
    name: str,
    task: Callable[[str], Progress] | None,
) -> dict[str, tuple[Mapping[str, Any], list[EpochFeatures]]]:
    """Features of every recording after compress → decompress, per setting."""
    with TemporaryDirectory(prefix="eegzip-task-") as workdir:
        return {
            setting_name(s): (
                s,
                _each(
                    recordings,
                    lambda r, s=s: reconstructed_features(r.path, codec, s, window, Path(workdir)),
                    task(f"{name}: {setting_name(s)}") if task else None,
                ),
            )
            for s in settings
        }


def run_task(
    name: str,
    root: Path,
    codec: Codec | None,
    codebooks: Sequence[int],
    *,
    limit: int | None = None,
    folds: int = FOLDS,
    repeats: int = REPEATS,
    task: Callable[[str], Progress] | None = None,
    grouping: Mapping[str, Any] | None = None,
    bitrates: Sequence[float] = (),
) -> dict:
    """Classify originals and reconstructions at each codebook count and each ladder bit rate;
    the JSON-ready result.

    ``grouping`` holds api.compress's channel-grouping keywords, for multi-channel models.
    """
    started = time.perf_counter()
    spec = TASKS[name]
    recordings = task_recordings(spec, root, limit)
    labels = np.array([r.label for r in recordings])
    groups = [r.subject for r in recordings]
    original = _each(
        recordings,
        lambda r: recording_features(r.path, spec.window),
        task(f"{name}: features") if task else None,
    )
    if codebooks and codec is None:
        raise ValueError("reconstructions need a codec")
    settings = [{"codebooks": n, **(grouping or {})} for n in codebooks]
    settings += [{"bitrate": float(b)} for b in bitrates]
    conditions = _reconstructions(recordings, codec, settings, spec.window, name, task)
    subjects_per_class = [len({r.subject for r in recordings if r.label == c}) for c in (0, 1)]
    folds = max(2, min(folds, *subjects_per_class))
    splits = make_splits(labels, groups, folds, repeats)
    ratio = float(np.mean([len(s.test) / len(s.train) for s in splits]))
    rows = evaluate(original, conditions, labels, splits)
    return {
        "task": name,
        "dataset": spec.dataset,
        "classes": list(spec.classes),
        "unit": "recording",
        "n_recordings": len(recordings),
        "n_subjects": len(set(groups)),
        "class_counts": {c: int(np.count_nonzero(labels == i)) for i, c in enumerate(spec.classes)},
        "window": spec.window_text,
        "epochs": {"seconds": EPOCH_S, "total": sum(f.n_epochs for f in original)},
        "cv": {
            "scheme": "repeated StratifiedGroupKFold over recordings, subjects as groups",
            "folds": folds,
            "repeats": repeats,
            "splits": len(splits),
            "test_to_train": round(ratio, 4),
        },
        "rows": [_row_dict(row, rows[0], ratio) for row in rows],
        "seconds": round(time.perf_counter() - started, 1),
    }
