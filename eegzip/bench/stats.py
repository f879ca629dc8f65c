"""Is a reconstruction's score different from the original's beyond the noise of the splits?

Both are scored on the same splits, so the test is on the per-split differences. Those are not
independent (the training sets of k-fold splits and of repeats overlap), which makes a plain
paired t-test far too confident; the corrected resampled t-test of Nadeau & Bengio (2003)
inflates the variance by (1/J + n_test/n_train) for J splits. The sign test (ties dropped) is
given next to it as a check that does not assume normal differences (it ignores the overlap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class PairedDifference:
    mean: float
    std: float
    n_pairs: int
    higher: int
    lower: int
    corrected_t_p: float
    sign_test_p: float

    @property
    def within_noise(self) -> bool:
        return self.corrected_t_p >= ALPHA

    def to_dict(self) -> dict:
        return {
            "mean_difference": round(self.mean, 4),
            "std_difference": round(self.std, 4),
            "n_pairs": self.n_pairs,
            "splits_higher": self.higher,
            "splits_lower": self.lower,
            "corrected_t_p": round(self.corrected_t_p, 4),
            "sign_test_p": round(self.sign_test_p, 4),
            "within_noise": self.within_noise,
        }


def corrected_t_p(differences: np.ndarray, test_to_train: float) -> float:
    """Two-sided p of the Nadeau–Bengio corrected resampled t-test of mean difference 0."""
    n = len(differences)
    mean = float(np.mean(differences))
    variance = float(np.var(differences, ddof=1)) if n > 1 else 0.0
    if variance == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    t = mean / math.sqrt((1.0 / n + test_to_train) * variance)
    return float(2 * stats.t.sf(abs(t), df=n - 1))


def paired_difference(
    scores: np.ndarray, reference: np.ndarray, test_to_train: float
) -> PairedDifference:
    """``scores − reference`` over the same splits; ``test_to_train`` = n_test / n_train."""
    d = np.asarray(scores, dtype=float) - np.asarray(reference, dtype=float)
    higher, lower = int(np.count_nonzero(d > 0)), int(np.count_nonzero(d < 0))
    sign_p = float(stats.binomtest(higher, higher + lower).pvalue) if higher + lower else 1.0
    return PairedDifference(
        mean=float(d.mean()),
        std=float(d.std(ddof=1)) if len(d) > 1 else 0.0,
        n_pairs=len(d),
        higher=higher,
        lower=lower,
        corrected_t_p=corrected_t_p(d, test_to_train),
        sign_test_p=sign_p,
    )
