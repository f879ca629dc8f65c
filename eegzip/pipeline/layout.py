"""Where each code block sits in model time and in a signal's own samples.

Blocks are fixed spans of ``block_frames`` code frames on the model-rate timeline, counted from
the recording's start. Each block is encoded from a window with ``context_frames`` of signal on
both sides and decoded with its neighbours' codes as context, so a block's codes depend only on
the recording, never on how much is read at a time, and any block decodes on its own.

Resampling windows start on source samples that fall exactly on model samples (multiples of
``down``), so a window's resampled samples line up with the global model timeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BlockLayout:
    """Geometry of blocks for one signal rate (rate ratio model/source = up/down)."""

    up: int
    down: int
    hop: int
    model_rate: int
    block_frames: int
    context_frames: int
    source_samples: int

    @property
    def block_samples(self) -> int:
        """Model samples per block."""
        return self.block_frames * self.hop

    @property
    def context_samples(self) -> int:
        return self.context_frames * self.hop

    @property
    def model_samples(self) -> int:
        """Model-rate samples that the recording covers."""
        return math.ceil(self.source_samples * self.up / self.down)

    @property
    def total_frames(self) -> int:
        return max(1, math.ceil(self.model_samples / self.hop))

    @property
    def n_blocks(self) -> int:
        return max(1, math.ceil(self.model_samples / self.block_samples))

    @property
    def resampler_margin(self) -> int:
        """Model samples beyond a window that the polyphase filter reaches (scipy's 10 taps)."""
        return 10 * max(self.up, self.down) // min(self.up, self.down) + 2

    def source_start(self, block: int) -> int:
        """First source sample whose time falls in ``block`` (its samples end at the next's)."""
        return min(self.source_samples, -(-block * self.block_samples * self.down // self.up))

    def block_of(self, source_sample: int) -> int:
        """The block a source sample belongs to."""
        return min(self.n_blocks - 1, source_sample * self.up // (self.block_samples * self.down))

    def source_range(self, block: int) -> tuple[int, int]:
        return self.source_start(block), self.source_start(block + 1)

    def aligned_source_window(self, model_start: int, model_stop: int) -> tuple[int, int, int]:
        """Source span covering model samples [start, stop) plus margin, clamped to the data.

        Returns (source_start, source_stop, model index of source_start). source_start is a
        multiple of ``down``, so resampled sample j sits at model index (returned value) + j.
        """
        margin = self.resampler_margin
        lo = max(0, ((model_start - margin) * self.down // self.up) // self.down * self.down)
        hi = min(self.source_samples, -(-(model_stop + margin) * self.down // self.up) + 1)
        return lo, max(lo, hi), lo * self.up // self.down

    def encode_window(self, block: int) -> tuple[int, int]:
        """Model-sample span fed to the encoder for ``block`` (context both sides)."""
        start = block * self.block_samples
        return start - self.context_samples, start + self.block_samples + self.context_samples

    def decode_frames(self, block: int) -> tuple[int, int]:
        """Frame span decoded for ``block``: its own frames plus neighbours' as context."""
        first = max(0, block * self.block_frames - self.context_frames)
        last = min(self.total_frames, (block + 1) * self.block_frames + self.context_frames)
        return first, last


def record_blocks(
    n_records: int, samples_per_record: int, record_duration: float, records_per_block: int
) -> BlockLayout:
    """Blocks of ``records_per_block`` whole data records at the signal's own rate, each decoded
    alone (no context): the spectral codec's, and those of an archival file without codes."""
    return BlockLayout(
        up=1,
        down=1,
        hop=samples_per_record,
        model_rate=max(1, round(samples_per_record / record_duration)),
        block_frames=records_per_block,
        context_frames=0,
        source_samples=n_records * samples_per_record,
    )
