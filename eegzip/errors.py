"""Typed errors. Each carries the one-line message the CLI prints and its exit code."""

from __future__ import annotations


class EegzipError(Exception):
    """Base class: anything eegzip reports to a user as a clean one-line error."""

    exit_code = 1


class SelfCheckError(EegzipError):
    """An archival file did not decode to what it promises: nothing was written (a bug)."""

    exit_code = 1


class UsageError(EegzipError):
    """An option's value cannot be used (e.g. a --groups file naming no coded channel)."""

    exit_code = 2


class InputNotFoundError(EegzipError):
    """An input path does not exist or cannot be opened."""

    exit_code = 3


class EdfFormatError(EegzipError):
    """The input is not a valid EDF/EDF+/BDF file (bad header, truncated, inconsistent)."""

    exit_code = 4


class ContainerFormatError(EegzipError):
    """The input is not a valid .eegc container (bad magic, truncated, malformed)."""

    exit_code = 4


class ChecksumError(ContainerFormatError):
    """A container block failed its checksum: the file is damaged."""


class UnsupportedError(EegzipError):
    """Valid input that this version cannot handle (future container version, EDF variant)."""

    exit_code = 5


class NoCodableChannelError(EegzipError):
    """Nothing in the recording can go to the neural codec under the chosen options."""

    exit_code = 5


class OutputExistsError(EegzipError):
    """The output file exists and --force was not given."""

    exit_code = 6


class ModelError(EegzipError):
    """A model cannot be found, loaded, or does not match what a container needs."""

    exit_code = 7
