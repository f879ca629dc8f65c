"""Subject-disjoint repeated cross-validation of a recording-level EEG classifier.

The unit of evaluation is the recording. Splits are StratifiedGroupKFold over recordings with
subjects as groups, reshuffled for every repeat, so no subject is ever on both sides of a
split. The classifier sees epochs: band-power and tangent-space features (the tangent space
fitted on the training epochs), standardised, L2 logistic regression. Each training recording
weighs the same in total whatever its length, and both classes weigh the same. A test recording's
score is the mean decision value of its epochs; accuracy and balanced accuracy are per fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eegzip.bench import require
from eegzip.bench.features import EpochFeatures, TangentSpace

REGULARISATION_C = 0.01
"""Inverse L2 strength on standardised features. Fixed (a few dozen subjects cannot also pay for
a nested search); chosen once by 5×5 CV on the train-split subjects of both tasks, where
0.003–0.03 scored alike, and never looked at on the test split."""
MAX_ITER = 2000


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # recording indices
    test: np.ndarray


def make_splits(
    labels: np.ndarray, groups: Sequence[str], folds: int, repeats: int, seed: int = 0
) -> list[Split]:
    """``repeats`` reshuffled subject-disjoint stratified k-fold partitions of the recordings."""
    model_selection = require("sklearn.model_selection", "scikit-learn")
    splits = []
    for repeat in range(repeats):
        cv = model_selection.StratifiedGroupKFold(folds, shuffle=True, random_state=seed + repeat)
        for train, test in cv.split(np.zeros(len(labels)), labels, groups):
            splits.append(Split(train, test))
    return splits


class RecordingClassifier:
    """Epoch-level logistic regression whose decisions are averaged per recording."""

    def __init__(self) -> None:
        preprocessing = require("sklearn.preprocessing", "scikit-learn")
        linear_model = require("sklearn.linear_model", "scikit-learn")
        self.tangent = TangentSpace()
        self.scaler = preprocessing.StandardScaler()
        self.model = linear_model.LogisticRegression(C=REGULARISATION_C, max_iter=MAX_ITER)

    def _matrix(self, recordings: Sequence[EpochFeatures]) -> np.ndarray:
        band = np.concatenate([r.band_power for r in recordings])
        tangent = self.tangent.transform(np.concatenate([r.covariance for r in recordings]))
        return np.hstack([band, tangent])

    def fit(self, recordings: Sequence[EpochFeatures], labels: np.ndarray) -> RecordingClassifier:
        self.tangent.fit(np.concatenate([r.covariance for r in recordings]))
        x = self._matrix(recordings)
        y = np.repeat(labels, [r.n_epochs for r in recordings])
        per_class = {c: np.count_nonzero(labels == c) for c in np.unique(labels)}
        weights = np.concatenate(
            [
                np.full(r.n_epochs, 1.0 / (r.n_epochs * per_class[label]))
                for r, label in zip(recordings, labels, strict=True)
            ]
        )
        weights *= len(weights) / weights.sum()
        x = self.scaler.fit(x, sample_weight=weights).transform(x)
        self.model.fit(x, y, sample_weight=weights)
        return self

    def predict(self, recordings: Sequence[EpochFeatures]) -> np.ndarray:
        """One class per recording, from the mean decision value of its epochs."""
        scores = self.model.decision_function(self.scaler.transform(self._matrix(recordings)))
        bounds = np.cumsum([0] + [r.n_epochs for r in recordings])
        means = np.array([scores[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
        return self.model.classes_[(means > 0).astype(int)]


@dataclass(frozen=True)
class FoldScore:
    accuracy: float
    balanced_accuracy: float


def score(truth: np.ndarray, predicted: np.ndarray) -> FoldScore:
    metrics = require("sklearn.metrics", "scikit-learn")
    return FoldScore(
        float(metrics.accuracy_score(truth, predicted)),
        float(metrics.balanced_accuracy_score(truth, predicted)),
    )
