"""One code block in, one code block out: the only place that joins signal, layout and model.

``encode_block`` turns the codec channels' physical samples around a block into a CodeBlock;
``decode_block`` turns a block and its neighbours' codes back into that block's samples at the
recording's own rate. Both work on one block at a time, so memory is bounded by the block size.
With a multi-channel model and a grouping, each group of channels is one token stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from eegzip.codec.registry import Codec
from eegzip.container import CodeBlock
from eegzip.pipeline.groups import Grouping
from eegzip.pipeline.layout import BlockLayout
from eegzip.pipeline.resample import resample
from eegzip.pipeline.scaling import block_scaling, to_model_domain

SourceReader = Callable[[int, int], np.ndarray]
"""(start, stop) → physical samples (channels, stop - start) of the codec channels, in µV."""


def _bits_for(codebook_size: int) -> int:
    return max(1, (codebook_size - 1).bit_length())


def _model_window(
    layout: BlockLayout, read: SourceReader, start: int, stop: int, n_channels: int
) -> np.ndarray:
    """Model-rate samples [start, stop) in µV; zeros-as-NaN outside the recording."""
    window = np.full((n_channels, stop - start), np.nan)
    lo, hi, model_lo = layout.aligned_source_window(start, stop)
    if hi <= lo:
        return window
    resampled = resample(read(lo, hi), layout.up, layout.down)
    first = max(start, model_lo, 0)
    last = min(stop, model_lo + resampled.shape[1], layout.model_samples)
    if last > first:
        window[:, first - start : last - start] = resampled[:, first - model_lo : last - model_lo]
    return window


def _group_inputs(grouping: Grouping, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(channel index, electrode ids, mask), each (groups, largest group)."""
    index, mask = grouping.padded()
    ids = np.asarray(grouping.electrode_ids, dtype=np.int64)[index]
    return tuple(torch.from_numpy(a).to(device) for a in (index, ids, mask))


def _encode(
    codec: Codec, x: np.ndarray, n_codebooks: int, grouping: Grouping | None
) -> torch.Tensor:
    """Codes (streams, n, frames) of model-domain channels (C, T): per channel or per group."""
    signal = torch.from_numpy(x).to(codec.device)
    if grouping is None:
        return codec.model.encode_codes(signal[:, None], n_codebooks)
    index, ids, mask = _group_inputs(grouping, codec.device)
    return codec.model.encode_codes(signal[index], ids, mask, n_codebooks)


def _decode(codec: Codec, codes: torch.Tensor, grouping: Grouping | None) -> torch.Tensor:
    """Model-domain channels (C, T) from codes (streams, n, frames)."""
    if grouping is None:
        return codec.model.decode_codes(codes)[:, 0]
    index, ids, mask = _group_inputs(grouping, codec.device)
    groups = codec.model.decode_codes(codes, ids, mask)
    channels = groups.new_empty((len(grouping.electrode_ids), groups.shape[-1]))
    channels[index[mask]] = groups[mask]
    return channels


def encode_block(
    codec: Codec,
    layout: BlockLayout,
    read: SourceReader,
    block: int,
    n_codebooks: int,
    grouping: Grouping | None = None,
) -> CodeBlock:
    """Codes of one block, encoded with ``context_frames`` of signal on either side."""
    s_lo, s_hi = layout.source_range(block)
    own = read(s_lo, s_hi)
    offsets, scales = block_scaling(own)
    start, stop = layout.encode_window(block)
    window = _model_window(layout, read, start, stop, own.shape[0])
    x = np.nan_to_num(to_model_domain(window, offsets, scales), nan=0.0)
    with torch.inference_mode():
        codes = _encode(codec, x, n_codebooks, grouping)
    first_frame = block * layout.block_frames
    frames = min(layout.block_frames, layout.total_frames - first_frame)
    ctx = layout.context_frames
    kept = codes[:, :, ctx : ctx + frames].cpu().numpy().astype(np.uint16)
    seconds_per_frame = layout.hop / layout.model_rate
    return CodeBlock(
        index=block,
        start_frame=first_frame,
        codes=kept,
        offsets=offsets,
        scales=scales,
        bits=_bits_for(codec.codebook_size),
        start_seconds=first_frame * seconds_per_frame,
        duration_seconds=frames * seconds_per_frame,
    )


def decode_block(
    codec: Codec,
    layout: BlockLayout,
    blocks: Mapping[int, CodeBlock],
    block: int,
    grouping: Grouping | None = None,
) -> np.ndarray:
    """Physical samples (channels, n) of ``block`` at the source rate, in µV.

    ``blocks`` holds the block and whichever neighbours exist; their codes serve as context.
    """
    hop = layout.hop
    first, last = layout.decode_frames(block)
    parts, scale_parts, offset_parts = [], [], []
    for b in (block - 1, block, block + 1):
        if b not in blocks:
            continue
        cb = blocks[b]
        lo = max(first, cb.start_frame) - cb.start_frame
        hi = min(last, cb.start_frame + cb.n_frames) - cb.start_frame
        if hi <= lo:
            continue
        if not parts:
            first = cb.start_frame + lo
        parts.append(cb.codes[:, :, lo:hi])
        scale_parts.append(np.repeat(cb.scales[:, None].astype(np.float64), (hi - lo) * hop, 1))
        offset_parts.append(np.repeat(cb.offsets[:, None].astype(np.float64), (hi - lo) * hop, 1))
    codes = torch.from_numpy(np.concatenate(parts, axis=2).astype(np.int64)).to(codec.device)
    with torch.inference_mode():
        y = _decode(codec, codes, grouping).double().cpu().numpy()
    physical = y * np.concatenate(scale_parts, 1) + np.concatenate(offset_parts, 1)
    # Back to the source rate from a model sample that lands exactly on a source sample.
    span_start = first * hop
    aligned = -(-span_start // layout.up) * layout.up
    source = resample(physical[:, aligned - span_start :], layout.down, layout.up)
    source_first = aligned * layout.down // layout.up
    s_lo, s_hi = layout.source_range(block)
    out = source[:, s_lo - source_first : s_hi - source_first]
    if out.shape[1] < s_hi - s_lo:  # rounding at the very end of the recording
        out = np.pad(out, ((0, 0), (0, s_hi - s_lo - out.shape[1])), mode="edge")
    return out
