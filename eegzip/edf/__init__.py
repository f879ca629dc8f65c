"""EDF/EDF+/BDF input and output: header model, streaming reader, atomic writer."""

from eegzip.edf.annotations import Annotation, AnnotationTrack, encode_tals
from eegzip.edf.header import (
    BDF_VERSION,
    EDF_VERSION,
    MAX_RECORD_BYTES,
    MAX_SIGNALS,
    EdfHeader,
    SignalHeader,
    build_header,
    parse_header,
)
from eegzip.edf.reader import EdfFile
from eegzip.edf.recording import Recording, read
from eegzip.edf.writer import EdfWriter, write

__all__ = [
    "BDF_VERSION",
    "EDF_VERSION",
    "MAX_RECORD_BYTES",
    "MAX_SIGNALS",
    "Annotation",
    "AnnotationTrack",
    "EdfFile",
    "EdfHeader",
    "EdfWriter",
    "Recording",
    "SignalHeader",
    "build_header",
    "encode_tals",
    "parse_header",
    "read",
    "write",
]
