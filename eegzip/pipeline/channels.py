"""Which signals go to the neural codec and which are stored losslessly."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from eegzip.edf.header import uv_factor

NON_EEG_PATTERN = re.compile(
    r"\b(ECG|EKG|EMG|EOG|RESP\w*|PLETH|SPO2|SAO2|PULSE|HR|TEMP\w*|TRIG\w*|STATUS|EVENT\w*|"
    r"MARK\w*|STIM\w*|PHOTIC|DC\d*|BP|POS\w*|GYRO\w*|ACC\w*|AUX\w*|SNORE|THOR\w*|ABD\w*|"
    r"FLOW|LIGHT|BATT\w*|COUNTER|CQ\w*|SAMPLE\w*)\b",
    re.IGNORECASE,
)
"""Labels of signals that are not scalp EEG, even when measured in volts."""

MIN_CODEC_RATE = 64.0
"""Below this rate a signal is not EEG the codec can help with (and is tiny anyway)."""

MAX_CODEC_RATE = 100_000.0
"""Above this rate (Hz) a record duration is wrong, and resampling ratios would explode."""


@dataclass(frozen=True)
class SignalInfo:
    """What channel selection needs to know of one signal."""

    label: str
    physical_dimension: str
    sample_rate: float
    is_annotation: bool


def looks_like_eeg(signal: SignalInfo) -> bool:
    return (
        not signal.is_annotation
        and uv_factor(signal.physical_dimension) is not None
        and signal.sample_rate >= MIN_CODEC_RATE
        and NON_EEG_PATTERN.search(signal.label.replace("-", " ")) is None
    )


def _matches(label: str, names: Sequence[str]) -> bool:
    wanted = {n.strip().lower() for n in names}
    return label.strip().lower() in wanted


def select_codec_channels(
    signals: Sequence[SignalInfo],
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[int]:
    """Indices of the signals for the codec: EEG at the recording's main EEG rate.

    ``include`` (labels) replaces the automatic choice; ``exclude`` removes labels from it.
    Signals at another rate than the chosen ones' most common rate stay lossless, because
    one container codes one model-rate timeline.
    """
    if include:
        unknown = [n for n in include if not any(_matches(s.label, [n]) for s in signals)]
        if unknown:
            raise ValueError(f"no channel named {', '.join(map(repr, unknown))}")
        chosen = [
            i for i, s in enumerate(signals) if _matches(s.label, include) and not s.is_annotation
        ]
    else:
        chosen = [i for i, s in enumerate(signals) if looks_like_eeg(s)]
    if exclude:
        chosen = [i for i in chosen if not _matches(signals[i].label, exclude)]
    if not chosen:
        return []
    main_rate = Counter(signals[i].sample_rate for i in chosen).most_common(1)[0][0]
    return [i for i in chosen if signals[i].sample_rate == main_rate]
