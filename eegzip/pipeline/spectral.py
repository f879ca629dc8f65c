"""The rate ladder: code the EEG channels with the spectral codec at a target bit rate.

``--bitrate B`` asks for B bits per second per coded channel, container bytes included (the EDF
header, annotations, metrics and index count too; the samples of lossless signals such as ECG
or triggers do not, since no rate can shrink them). One quantiser step serves the whole
file, which minimises its pooled squared error for the bytes spent; it is found by a search on
a sample of the file's blocks, so the rate reached is close to, not exactly, the target; the
result reports it. Each block holds its own step, so nothing else depends on the search.

Blocks are whole data records of about 256 s (BLOCK_SECONDS), and each decodes on its own:
random access and damage reports work as for neural code blocks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from eegzip.codec import spectral
from eegzip.container import ContainerWriter
from eegzip.container.format import BLOCK_OVERHEAD, RAWS
from eegzip.container.spectral import SpectralBlock, encode_spectral_block
from eegzip.edf import EdfHeader
from eegzip.errors import UsageError
from eegzip.pipeline.layout import BlockLayout, record_blocks

if TYPE_CHECKING:  # blockcodec imports torch, which the spectral codec does not need
    from eegzip.pipeline.blockcodec import SourceReader

LADDER = (15, 40, 60, 100, 200, 400, 600)
"""The documented rungs, bit/s per coded channel; any rate in between works too."""

DEFAULT_BITRATE = 100.0
"""What ``eegzip compress`` uses when told nothing: on the test split (benchmarks/results/
ladder.md) PRDN 21 % on quiet rest EEG (EEGMAT, r 0.975) and 2.2 % on Guinea-Bissau, every
band keeping ≥ 85 % of its power, files about 80x (EEGMAT, 500 Hz) and 20x (Guinea-Bissau,
128 Hz) smaller than the EDF; a downstream classifier trained on originals loses ≤ 5 points."""

PAPER = "paper"
"""``--bitrate paper``: the paper's configuration, the neural codec alone with 9 × 1024 codes
per 512 samples at 256 Hz (45 bit/s per channel before entropy coding)."""

BAND_TARGET = 0.85
"""Share of every EEG band's power kept from BAND_TARGET_FROM bit/s/ch up (issue: 0.8-1.25)."""

BAND_TARGET_FROM = 40.0
"""Below this rate the codec spends every bit on squared error: restoring the bands there
costs a quarter more PRDN (measured at 15 bit/s/ch on EEGMAT: 84 % → 104 %)."""

BLOCK_SECONDS = 256.0
"""Per block the container spends about 110 bytes (head, framing, index entry, entropy-coder
warm-up): at 64 s that was 14 bit/s for one channel, at 256 s a quarter of it; a window still
decodes in one block."""

SAMPLE_BLOCKS = 6
"""Blocks the step search encodes (evenly spread); more cost time and change the step little."""

SEARCH_OCTAVES = 12
"""Steps are searched within 2**±12 of the sampled coefficients' spread."""

BRACKET_OCTAVES = 4
"""The furthest one encoding moves the step while the budget is not yet bracketed."""

SLOPE_GUESS = -1.0
"""d log(bytes) / d log(step) assumed after the first encoding; later ones use the secant of
the last two (kept within SLOPE_LIMITS). Measured: -0.6 to -1.6 on ../shared/data."""

SLOPE_LIMITS = (0.3, 4.0)

RATE_TOLERANCE = 0.003
"""The search stops once the estimated bytes are within 0.3 % below the budget."""

MAX_ENCODINGS = 14
"""Bounds the search on odd signals; smooth ones stop after 4-7 encodings."""

LN2 = math.log(2.0)

TRANSFORM_CHECK_SHARE = 0.02
"""Above this share of the budget taken by the channel transforms, the step search also tries
coding the channels themselves (XFRM) and keeps the better of the two."""

MEL_SAMPLE_RATE = 256
"""The metrics' mel loss is computed at the neural models' rate, so that rungs compare."""

METRICS_RESERVE = 160
"""Bytes set aside for the metrics block: its overall row, compressed with the format's JSON
dictionary (MTRD, 130-145 bytes)."""

METRICS_MAX_SHARE = 0.05
"""A file keeps its metrics block only if that takes at most this share of its bytes: on a
minute of EEG at 15-40 bit/s per channel the block would cost 6-15 % of the file, bytes the EEG
needs more. Compress still measures and reports the figures; only the stored copy (``info``)
is left out."""

INDEX_ENTRY_COST = 24
"""Bytes of a block's index entry once the index is compressed (INDZ: 18-20 measured; 44 plain)."""

MAX_BITRATE = 1e6


def check_request(
    bitrate: float, codebooks: int | None, max_error_uv: float | None, groups: str | None
) -> None:
    """Refuse a rate that is no rate, and options that belong to the other codecs."""
    if not (math.isfinite(bitrate) and 0 < bitrate <= MAX_BITRATE):
        raise UsageError(f"--bitrate must be a rate in bit/s per channel (0-{MAX_BITRATE:g})")
    clash = [
        name
        for name, value in (
            ("--codebooks", codebooks),
            ("--max-error/--lossless", max_error_uv),
            ("--groups", groups),
        )
        if value is not None
    ]
    if clash:
        raise UsageError(
            f"--bitrate chooses the codec itself and cannot be combined with {clash[0]}"
            f" (--bitrate {PAPER} is the neural codec with 9 codebooks)"
        )


def layout_for(header: EdfHeader, samples_per_record: int) -> BlockLayout:
    """Blocks of whole data records, about BLOCK_SECONDS each, at the signal's own rate."""
    records = max(1, round(BLOCK_SECONDS / header.record_duration))
    return record_blocks(header.n_records, samples_per_record, header.record_duration, records)


RAW_BLOCK_SECONDS = 3600.0
"""Lossless signals (annotations above all) go in blocks of up to an hour with the spectral
codec: a 3-min EEGMAT file's annotations take 0.2 kB in one block instead of 0.5 kB in three,
which at 15-40 bit/s/ch is a tenth of the file."""


def raw_block_records(header: EdfHeader) -> int:
    return max(1, min(header.n_records, round(RAW_BLOCK_SECONDS / header.record_duration)))


def shortfall(bitrate: float) -> tuple[str, ...]:
    """The warning for a file whose container alone takes the asked rate's bytes."""
    return (
        f"at {bitrate:g} bit/s per channel the container's own bytes (EDF header, annotations, "
        "metadata, index) leave nothing for the EEG, which is stored as its block means only; "
        "ask for a higher --bitrate for a recording this short",
    )


def rate_of(sizes: dict[str, int], seconds: float, n_channels: int) -> float:
    """Bit/s per coded channel of a file, from ``ContainerReader.sizes()``: every byte but the
    lossless signals' samples (RAWS; ECG, triggers), which no rate can shrink."""
    coded = sum(sizes.values()) - sizes.get(RAWS.decode(), 0)
    return 8 * coded / max(1e-9, seconds * n_channels)


def band_target_for(bitrate: float) -> float | None:
    return BAND_TARGET if bitrate >= BAND_TARGET_FROM else None


def stores_metrics(bitrate: float, seconds: float, n_channels: int) -> bool:
    """Whether a measured file keeps its metrics block: see METRICS_MAX_SHARE."""
    return METRICS_MAX_SHARE * bitrate * seconds * n_channels / 8 >= METRICS_RESERVE


def _block_cost(block: SpectralBlock) -> int:
    """Bytes a block adds to the file: payload, block framing and its index entry."""
    return len(encode_spectral_block(block)) + BLOCK_OVERHEAD + INDEX_ENTRY_COST


@dataclass(frozen=True)
class StepChoice:
    step_uv: float
    reached: bool  # False: even the coarsest step is over budget (the file is too short)
    coded: Mapping[int, SpectralBlock]  # sampled blocks coded at step_uv, by block index
    decorrelate: bool = True  # blocks code the channels' principal components (XFRC)


def choose_step(
    read: SourceReader,
    layout: BlockLayout,
    header: EdfHeader,
    budget_bytes: float,
    band_target: float | None,
) -> StepChoice:
    """The finest step whose estimated total of block bytes fits ``budget_bytes``, and whether
    the blocks decorrelate their channels.

    Decorrelating (XFRC) costs 2·C² bytes of transform per block. Where that is more than
    TRANSFORM_CHECK_SHARE of the budget (a minute of EEG at the lowest rungs), both ways are
    searched and the one with the smaller squared error on the sampled blocks is kept: on a
    62-s, 8-channel file at 15 bit/s the transform alone took the bytes the EEG needed.
    When the sample is the whole file (up to SAMPLE_BLOCKS blocks, about 25 minutes), its
    blocks at the chosen step are returned, so the file is not coded once more.
    """
    n = layout.n_blocks
    sample_rate = layout.hop / header.record_duration
    picks = sorted({round(i * (n - 1) / max(1, SAMPLE_BLOCKS - 1)) for i in range(SAMPLE_BLOCKS)})
    sampled = {b: read(*layout.source_range(b)) for b in picks}
    n_channels = next(iter(sampled.values())).shape[0]
    ways = [True] if n_channels > 1 else [False]
    if n_channels > 1 and 2 * n_channels**2 * n > TRANSFORM_CHECK_SHARE * budget_bytes:
        ways.append(False)
    choices = [
        _search(
            {b: spectral.analyse(x, sample_rate, decorrelate) for b, x in sampled.items()},
            layout, header, budget_bytes, band_target, decorrelate,
        )  # fmt: skip
        for decorrelate in ways
    ]

    def rank(choice: StepChoice) -> tuple[bool, float]:
        error = sum(
            float(np.sum((sampled[b] - spectral.decode(block, sample_rate)) ** 2))
            for b, block in choice.coded.items()
        )
        return not choice.reached, error

    return choices[0] if len(choices) == 1 else min(choices, key=rank)


def _search(
    analyses: Mapping[int, spectral.Analysis],
    layout: BlockLayout,
    header: EdfHeader,
    budget_bytes: float,
    band_target: float | None,
    decorrelate: bool,
) -> StepChoice:
    """The step search on analysed sample blocks.

    Bytes fall smoothly as the step grows, close to linearly in (log step, log bytes), so a
    bracketed interpolation there (regula falsi) lands within RATE_TOLERANCE of the budget in
    4-7 encodings of the sampled blocks, where a bisection took 15.
    """
    share = layout.source_samples / sum(a.n_samples for a in analyses.values())
    spread = max(float(np.std(a.coefficients)) for a in analyses.values()) or 1.0

    def coded_at(log_step: float) -> tuple[float, dict[int, SpectralBlock]]:
        blocks = {
            b: spectral.encode(
                a, math.exp(log_step), index=b, band_target=band_target,
                start_seconds=layout.source_range(b)[0] / layout.hop * header.record_duration,
            )  # fmt: skip
            for b, a in analyses.items()
        }
        return share * sum(_block_cost(block) for block in blocks.values()), blocks

    log_step = math.log(spread)
    finest, coarsest = log_step - SEARCH_OCTAVES * LN2, log_step + SEARCH_OCTAVES * LN2
    aim = math.log(max(1.0, (1 - RATE_TOLERANCE / 2) * budget_bytes))  # <= 0: nothing fits
    fits: tuple[float, float, dict] | None = None  # finest step within budget: log, bytes, blocks
    over: tuple[float, float] | None = None  # coarsest step over budget: log, bytes
    tried: list[tuple[float, float]] = []  # (log step, log bytes)
    for _ in range(MAX_ENCODINGS):
        total, blocks = coded_at(log_step)
        tried.append((log_step, math.log(max(total, 1.0))))
        if total <= budget_bytes:
            if fits is None or log_step < fits[0]:
                fits = (log_step, total, blocks)
        elif over is None or log_step > over[0]:
            over = (log_step, total)
        if fits is None or over is None:  # not bracketed yet: extrapolate towards the budget
            if log_step >= coarsest if fits is None else log_step <= finest:
                break
            slope = SLOPE_GUESS
            if len(tried) > 1 and tried[-1][0] != tried[-2][0]:
                slope = (tried[-1][1] - tried[-2][1]) / (tried[-1][0] - tried[-2][0])
                slope = min(-SLOPE_LIMITS[0], max(-SLOPE_LIMITS[1], slope))
            move = (aim - tried[-1][1]) / slope
            move = math.copysign(min(max(abs(move), LN2 / 4), BRACKET_OCTAVES * LN2), move)
            log_step = min(coarsest, max(finest, log_step + move))
        else:
            if fits[1] >= (1 - RATE_TOLERANCE) * budget_bytes or fits[0] - over[0] < 1e-6:
                break
            share_of_gap = (math.log(fits[1]) - aim) / (math.log(fits[1]) - math.log(over[1]))
            share_of_gap = min(0.9, max(0.1, share_of_gap))
            log_step = fits[0] + share_of_gap * (over[0] - fits[0])
    if fits is None:
        return StepChoice(math.exp(log_step), False, blocks, decorrelate)
    return StepChoice(math.exp(fits[0]), True, fits[2], decorrelate)


def encode_file(
    writer: ContainerWriter,
    read: SourceReader,
    layout: BlockLayout,
    header: EdfHeader,
    n_channels: int,
    bitrate: float,
    measure: Callable[[int, np.ndarray], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    store_metrics: bool = False,
) -> StepChoice:
    """Choose the step for ``bitrate``, then encode and write every block.

    Called once the metadata, the EDF header and the lossless signals are written, so that
    their bytes come off the budget, as do those of the metrics if ``store_metrics``.
    ``measure(block, µV)`` sees what decoding will give.
    """
    band_target = band_target_for(bitrate)
    seconds = header.n_records * header.record_duration
    budget = (
        bitrate * seconds * n_channels / 8
        - (writer.size_if_closed - writer.bytes_of(RAWS))
        - (METRICS_RESERVE if store_metrics else 0)
    )
    step = choose_step(read, layout, header, budget, band_target)
    sample_rate = layout.hop / header.record_duration
    for b in range(layout.n_blocks):
        lo, hi = layout.source_range(b)
        block = step.coded[b] if b in step.coded else spectral.encode(
            spectral.analyse(read(lo, hi), sample_rate, step.decorrelate),
            step.step_uv,
            index=b,
            start_seconds=lo / layout.hop * header.record_duration,
            band_target=band_target,
        )
        writer.write_spectral_block(block)
        if measure is not None:
            measure(b, spectral.decode(block, sample_rate))
        if progress:
            progress(b + 1, layout.n_blocks)
    return step
