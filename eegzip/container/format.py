"""Every constant of the .eegc container format; formats/eegc.md is the prose twin of this file.

Changing a value here changes the file format: update the spec and the version in the same edit.
"""

from __future__ import annotations

import struct

# Version written by this eegzip; readers accept any minor of FORMAT_MAJOR (spec §8).
FORMAT_MAJOR = 1
FORMAT_MINOR = 5

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
# Defined in 1.2.
GCOD = b"GCOD"
RESP = b"RESP"
ECOD = b"ECOD"
# Defined in 1.3.
EDFZ = b"EDFZ"
RAWT = b"RAWT"
MTRZ = b"MTRZ"
# Defined in 1.4.
RESI = b"RESI"
XFRM = b"XFRM"
METZ = b"METZ"
# Defined in 1.5.
METD = b"METD"
MTRD = b"MTRD"
INDZ = b"INDZ"
XFRC = b"XFRC"

# Block 0: the metadata, as canonical JSON (META), zstd-compressed (METZ, 1.4: 150-200 bytes
# less per file) or zstd-compressed with JSON_DICTIONARY (METD, 1.5: another 200-250 bytes
# less). The writer writes the smallest; on a short file these bytes are most of the file.
META_TYPES = (META, METZ, METD)

# Block 1: the EDF header, verbatim (EDFH) or zstd-compressed (EDFZ, 1.3).
HEADER_TYPES = (EDFH, EDFZ)

# The metrics, as canonical JSON (MTRC), zstd-compressed (MTRZ, 1.3) or zstd-compressed with
# JSON_DICTIONARY (MTRD, 1.5): at most one per file.
METRICS_TYPES = (MTRC, MTRZ, MTRD)

# The last block: the index, as entries (INDX) or zstd-compressed (INDZ, 1.5: its offsets,
# zero flags and times compress about 2.5x, a hundred bytes on a short file).
INDEX_TYPES = (INDX, INDZ)

# Raw-content zstd dictionary of METD and MTRD frames (spec §5.17): three lines of JSON shaped
# like eegzip's metadata and metrics, whose keys and common values the frames then refer to
# instead of spelling out. Part of the format: never edited (a new one needs new block types).
JSON_DICTIONARY = (
    b'{"block_frames":32,"codebooks_kept":1,"codec_channels":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,'
    b'14,15,16,17,18],"codec_uv_factors":[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1000.0,1000000.0],'
    b'"context_frames":3,"created_by":{"eegzip":"0.1.0"},"edf":{"n_records":3600,'
    b'"n_signals":20,"record_duration":1.0,"variant":"BDF+D"},"groups":{"members":[[0,1,2,3]]}'
    b',"lossless_channels":[19,20,21],"max_error_uv":1.0,"model":{"codebook_size":1024,'
    b'"hop_length":512,"kind":"sc","n_codebooks":9,"name":"eegdac-sc-256hz","sample_rate":256,'
    b'"sha256":""},"raw_block_records":64,"resample":{"down":125,"up":64},'
    b'"source_samples":921600}\n'
    b'{"clipped_samples":0,"codebooks":9,"codes":{"bits_per_code":8.6,"count":6552,'
    b'"empirical_entropy_bits":6.8,"entropy_coded":true,"log2_codebook_size":10.0},'
    b'"duration_seconds":3600.0,"fidelity":{"channels":[{"band_error":{"alpha":0.01,'
    b'"beta":0.01,"delta":0.01,"gamma":0.01,"theta":0.01},"label":"EEG Fp1","mel_loss":1.5,'
    b'"nmse":0.5,"prd":50.5,"prdn":50.5,"r":0.5,"snr_db":3.0}],"n_samples":921600,'
    b'"overall":{"band_error":{"alpha":0.1,"beta":0.1,"delta":0.1,"gamma":0.1,"theta":0.1},'
    b'"label":"overall","mel_loss":2.5,"nmse":0.1,"prd":30.5,"prdn":30.5,"r":0.95,'
    b'"snr_db":10.0},"sample_rate":256.0},"spectral":{"bitrate_reachable":true,'
    b'"step_uv":10.0}}\n'
    b'{"block_frames":256,"codebooks_kept":0,"codec_channels":[0,1,2,3,4,5,6,7,8,9,10,11,12,'
    b'13,14,15,16,17,18],"codec_uv_factors":[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0],'
    b'"context_frames":0,"created_by":{"eegzip":"0.1.0"},"edf":{"n_records":300,'
    b'"n_signals":20,"record_duration":1.0,"variant":"EDF+C"},"lossless_channels":[],'
    b'"max_error_uv":null,"model":null,"raw_block_records":300,"resample":{"down":1,"up":1},'
    b'"source_samples":76800,"spectral":{"bitrate":100.0}}'
)

# EDFZ and MTRZ payloads (1.3), METZ payloads (1.4), and METD, MTRD and INDZ payloads (1.5):
# u32 length n, then one zstd frame of exactly n bytes (the EDF header; the MTRC or META JSON;
# the INDX entries), made with JSON_DICTIONARY for METD and MTRD. EDF headers are mostly spaces
# and JSON repeats its keys: zstd makes them 3-18x smaller, which is 10-35 % of a lossy file of
# a few minutes of EEG.
SIZED_ZSTD_LENGTH = struct.Struct("<I")
MAX_SIZED_ZSTD = 1 << 24  # EDF headers: 256 bytes x (1 + 9999 signals) is 2.6 MB

# Blocks holding the codes of one time block; numbered together by block_index.
CODE_TYPES = (CODE, GCOD, ECOD)
# Blocks each holding one time block of the coded channels, numbered 0, 1, 2, … by block_index:
# neural codes, or (1.4) the spectral codec's coefficients. A file holds one kind or the other.
SPECTRAL_TYPES = (XFRM, XFRC)
TIME_BLOCK_TYPES = (*CODE_TYPES, *SPECTRAL_TYPES)

# Human names used in error messages ("block 12 (codes, 00:12:48–00:14:56)").
BLOCK_KINDS = {
    META: "metadata",
    EDFH: "EDF header",
    EDFZ: "EDF header",
    CODE: "codes",
    RAWS: "raw signal",
    RAWT: "raw signal",
    MTRC: "metrics",
    MTRZ: "metrics",
    INDX: "index",
    RESD: "residual",
    GCOD: "grouped codes",
    RESP: "residual",
    RESI: "residual",
    XFRM: "spectral",
    XFRC: "spectral",
    METZ: "metadata",
    METD: "metadata",
    MTRD: "metrics",
    INDZ: "index",
    ECOD: "entropy-coded codes",
}

# Blocks holding the residual layer of one code block: RESD (1.1) and RESP (1.2), still read;
# RESI (1.4), which does not depend on the neural decoder's output.
RESIDUAL_TYPES = (RESD, RESP, RESI)
# Residual blocks that are (1.5) the time blocks themselves in a file holding no block of
# TIME_BLOCK_TYPES: an archival file written without neural codes, whose RESI blocks are
# numbered 0, 1, 2, … by block_index and each restore their span of the coded channels alone.
RESIDUAL_TIME_TYPES = (RESI,)

# Fixed-size head of a CODE payload: start_frame, start_seconds, duration_seconds,
# block_index, n_frames, n_channels, n_codebooks, bits.
# Followed by n_channels f32 offsets, n_channels f32 scales, one zstd frame of packed codes.
CODE_HEADER = struct.Struct("<QddIIHHB")

# A GCOD payload (1.2) is a CODE payload for codes of S channel groups (one token stream per
# group, S <= n_channels): the CODE fixed head, then u16 n_streams S, then n_channels f32
# offsets, n_channels f32 scales, and one zstd frame of the (S, n_codebooks, n_frames) codes.
GCOD_STREAMS = struct.Struct("<H")

# An ECOD payload (1.2) is a GCOD payload (n_streams 1..n_channels) whose codes are range coded
# instead of bit-packed and zstd-compressed: u32 word count, then the words (spec §5.11).
# Model: for codebook k and stream s, symbol i weighs ECOD_PRIOR + ECOD_COUNT_WEIGHT × (times i
# was coded in codebook k's earlier streams of the block) + ECOD_SAME_FRAME × (earlier streams
# holding i in the same frame). These weights were the best of a small grid on the codes of
# 18 files of ../shared/data; previous-frame and lower-codebook contexts gained 0.2 % or less
# and are left out (benchmarks/results/entropy.md).
ECOD_PRIOR = 1
ECOD_COUNT_WEIGHT = 3
ECOD_SAME_FRAME = 32
ECOD_MAX_BITS = 12  # alphabets of up to 4096 symbols; wider codes stay in CODE/GCOD blocks
ECOD_MAX_WORK = 1 << 30  # bounds decoding work: codes × alphabet size per block
ECOD_ROWS = 1 << 20  # table entries per range-coder call (bounds memory, not the format)

# Blocks holding one signal losslessly: as delta planes (RAWS) or as the bytes of the file
# (RAWT, 1.3: for text, i.e. the EDF+ annotation signal, whose bytes delta planes scramble;
# zstd then makes annotation blocks about a third smaller).
RAW_TYPES = (RAWS, RAWT)

# Fixed-size head of a RAWS or RAWT payload:
# start_record, start_seconds, duration_seconds, n_records, n_samples, signal_index, sample_width.
# Followed by one zstd frame: of the byte planes of the sample differences (RAWS), or of the
# samples as little-endian words of sample_width bytes (RAWT).
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

# Fixed-size head of a RESP payload (1.2), the predictive residual layer that replaces RESD:
# RESD's five fields, then segment_length (samples per set of prediction coefficients) and
# partition_length (samples per entropy context). Followed by n_channels u32 steps,
# n_channels u32 CRC-32s of the decoder's digital output, the prediction models (channel after
# channel, segment after segment: RESP_MODEL_HEAD, u16 neighbour channels, packed
# coefficients), u32 word count, the range-coded words and the raw bits (spec §5.10).
RESP_HEADER = struct.Struct("<ddIIHIH")
# A RESI payload (1.4) is RESP's with the signal's own quantised values in place of the
# decoder's output (d = 0, so no codec terms: every model's codec_lags is 0) and per-channel
# i32 clamp bounds in place of the checksums: RESP_HEADER, n_channels u32 steps, n_channels
# i32 lows, n_channels i32 highs, then the models and the range-coded errors as in RESP. Its
# decoding is integer arithmetic only, so it gives the same samples on every machine.
# An XFRM payload (1.4) is one block of the spectral codec (spec §5.14): XFRM_HEADER
# (start_seconds, duration_seconds, block_index, n_samples per channel, n_channels, window,
# partition_length, step in µV, recon_offset, n_bands), n_channels f32 means in µV, n_bands > 0:
# n_channels × n_bands u8 gain codes then as many u8 noise codes, n_channels u32 frequency
# counts F_c (bins up to the channel's last nonzero one), then the quantised DCT coefficients of
# bins 0..F_c-1 (channel after channel, frequency-major) as one row range coded as RESP's errors.
XFRM_HEADER = struct.Struct("<ddIIHIIfBB")
# An XFRC payload (1.5, spec §5.18) is an XFRM payload whose rows are not the channels but the
# components z = T·x / 2**XFRC_TRANSFORM_SHIFT of an orthonormal channel transform T, stored as
# n_channels × n_channels i16 (row-major) right after the channel means; the decoder gives
# x = Tᵀ·z / 2**XFRC_TRANSFORM_SHIFT. EEG channels share most of their signal (a common
# reference, volume conduction): decorrelating them lowered PRDN by 10-25 % at equal bytes on
# train files of EEGMAT and Guinea-Bissau.
XFRC_TRANSFORM_SHIFT = 14
XFRM_BAND_EDGES_HZ = (0.5, 4.0, 8.0, 13.0, 30.0, 45.0)  # delta, theta, alpha, beta, gamma
XFRM_GAIN_STEPS_PER_OCTAVE = 32  # gain code g multiplies by 2**(g / 32)
XFRM_NOISE_LEVELS = 256  # noise code n is an RMS of n / 256 quantiser steps
XFRM_RECON_LEVELS = 256  # recon_offset r: a magnitude |q| ≥ 1 is dequantised to |q| − r / 256
XFRM_MAX_WINDOW = 1 << 20
XFRM_PARTITION = 64  # writer's choice: coefficients per entropy context
RESP_MODEL_HEAD = struct.Struct("<BBBBB")  # order, codec_lags, n_neighbours, shift, coef_bits
RESP_MAX_ORDER = 32  # own-history taps
RESP_CODEC_LAGS = 3  # most codec terms: k[t-1] and Δd[t+j] for |j| < codec_lags
RESP_MAX_NEIGHBOURS = 16  # earlier channels whose errors may be regressors
RESP_MAX_COEF_BITS = 32
RESP_MAX_SHIFT = 48
RESP_CONTEXTS = 64  # scale contexts per partition, and the alphabet of their deltas
RESP_TOKENS = 256  # token alphabet: values < 16 directly, then 4 tokens per bit length
RESP_DIRECT_TOKENS = 16
RANGE_PRECISION = 24  # constriction's range coder (RESP, ECOD): probabilities in 2**-24
RESP_PRIOR_WIDTH = 16  # triangular prior: weight 16 at a context's centre token, 0 from 16 away
RESP_COUNT_WEIGHT = 2  # weight of each coded token against the prior
RESP_FIRST_CHUNK = 16  # models are refreshed after 16, 32, 64, … tokens of a context
# Writer's choices (readers accept any segment_length and partition_length >= 1): measured on
# ../shared/data, 32768-sample segments fitted on every 8th sample give files within 0.1-0.6 %
# of 8192-sample ones fitted on every other, in half the time; 128-sample partitions were
# 0.3-1 % smaller than 256.
RESP_SEGMENT = 32768
RESP_PARTITION = 128

# One INDX entry per block before the index:
# type, flags, key (CODE: block_index, RAWS: signal_index, else 0), offset, length,
# start_seconds, duration_seconds (0, 0 for blocks without a time range).
INDEX_ENTRY = struct.Struct("<4sIIQQdd")

MAX_BITS = 16  # codes are stored at 1..16 bits each
MAX_CODES_PER_BLOCK = 1 << 24  # bounds a reader's memory: <= 32 MiB of packed codes
MAX_SAMPLES_PER_BLOCK = 1 << 24  # <= 48 MiB of 24-bit samples
MAX_BLOCKS = 1 << 20  # blocks per file: bounds a reader's index in memory (~0.4 GB at most)
SAMPLE_WIDTHS = (2, 3)  # bytes per EDF (int16) / BDF (int24) sample

# Writer's zstd level (readers accept any). Measured on this project's machines: 0.7 ms for a
# 19x9x64 code block; ~95 ms per 10 min of a 256 Hz raw signal, 3% smaller than level 9.
ZSTD_LEVEL = 19
