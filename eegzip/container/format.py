"""Every constant of the .eegc container format; formats/eegc.md is the prose twin of this file.

Changing a value here changes the file format: update the spec and the version in the same edit.
"""

from __future__ import annotations

import struct

# Version written by this eegzip; readers accept any minor of FORMAT_MAJOR (spec §8).
FORMAT_MAJOR = 1
FORMAT_MINOR = 1

# PNG-style: the high byte catches 7-bit channels, CR LF / LF catch newline translation,
# 0x1A stops DOS `type`.
MAGIC = b"\x89EEG\r\n\x1a\n"
END_MAGIC = b"EEGCEND\n"

# All integers and floats are little-endian ("<"); no padding anywhere.
CRC = struct.Struct("<I")  # zlib.crc32 (CRC-32/ISO-HDLC) of the bytes it follows
PREAMBLE = struct.Struct("<8sHH")  # magic, major, minor; then CRC of these 12 bytes
PREAMBLE_SIZE = PREAMBLE.size + CRC.size
BLOCK_HEADER = struct.Struct("<4sIQ")  # type, flags, payload length; then payload, then CRC
BLOCK_OVERHEAD = BLOCK_HEADER.size + CRC.size
TRAILER = struct.Struct("<QQ8s")  # index block offset, index block length, END_MAGIC

# Block flags. Bits 1-31 are reserved: written as 0, ignored by 1.x readers.
FLAG_OPTIONAL = 1 << 0  # readers that do not know this block type may skip it

# Block types defined in 1.0.
META = b"META"
EDFH = b"EDFH"
CODE = b"CODE"
RAWS = b"RAWS"
MTRC = b"MTRC"
INDX = b"INDX"
# Defined in 1.1.
RESD = b"RESD"

# Reserved for later versions; a 1.x reader treats them like any unknown type.
RESERVED_TYPES = {
    b"ECOD": "entropy-coded codes",
}

# Human names used in error messages ("block 12 (codes, 00:12:48–00:14:56)").
BLOCK_KINDS = {
    META: "metadata",
    EDFH: "EDF header",
    CODE: "codes",
    RAWS: "raw signal",
    MTRC: "metrics",
    INDX: "index",
    RESD: "residual",
}

# Fixed-size head of a CODE payload: start_frame, start_seconds, duration_seconds,
# block_index, n_frames, n_channels, n_codebooks, bits.
# Followed by n_channels f32 offsets, n_channels f32 scales, one zstd frame of packed codes.
CODE_HEADER = struct.Struct("<QddIIHHB")

# Fixed-size head of a RAWS payload:
# start_record, start_seconds, duration_seconds, n_records, n_samples, signal_index, sample_width.
# Followed by one zstd frame of the byte planes of the sample differences.
RAWS_HEADER = struct.Struct("<QddIIHB")

# Fixed-size head of a RESD payload (1.1): start_seconds, duration_seconds, block_index (the
# CODE block it corrects), n_samples (per channel), n_channels.
# Followed by n_channels u32 steps, n_channels u32 CRC-32s of the decoder's digital output,
# n_channels u8 predictor orders (0-2, FLAC's fixed polynomial predictors), and one zstd frame of
# the byte planes of the zigzag-coded prediction errors of the quantised residuals, channel
# after channel.
RESD_HEADER = struct.Struct("<ddIIH")
RESD_WIDTH = 4  # bytes per zigzag-coded prediction error
RESD_MAX_ORDER = 2

# One INDX entry per block before the index:
# type, flags, key (CODE: block_index, RAWS: signal_index, else 0), offset, length,
# start_seconds, duration_seconds (0, 0 for blocks without a time range).
INDEX_ENTRY = struct.Struct("<4sIIQQdd")

MAX_BITS = 16  # codes are stored at 1..16 bits each
MAX_CODES_PER_BLOCK = 1 << 24  # bounds a reader's memory: <= 32 MiB of packed codes
MAX_SAMPLES_PER_BLOCK = 1 << 24  # <= 48 MiB of 24-bit samples
SAMPLE_WIDTHS = (2, 3)  # bytes per EDF (int16) / BDF (int24) sample

# Writer's zstd level (readers accept any). Measured on this project's machines: 0.7 ms for a
# 19x9x64 code block; ~95 ms per 10 min of a 256 Hz raw signal, 3% smaller than level 9.
ZSTD_LEVEL = 19
