"""The public datasets ``eegzip bench`` knows, and fetching EEGMAT with checksum verification.

Files are listed by a ``SHA256SUMS.txt`` at the source (PhysioNet publishes one per release);
each file is downloaded to a temporary name, its SHA-256 checked, then renamed, so an
interrupted or corrupted fetch never leaves a file that looks complete.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from eegzip.atomic import AtomicOutput
from eegzip.codec.checkpoints import sha256_of
from eegzip.errors import EegzipError, InputNotFoundError

CHECKSUMS = "SHA256SUMS.txt"


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    home: str
    citation: str
    licence: str
    content: str
    tasks: tuple[str, ...]
    fetch_url: str | None


DATASETS = (
    Dataset(
        name="eegmat",
        title="EEG During Mental Arithmetic Tasks v1.0.0 (PhysioNet)",
        home="https://physionet.org/content/eegmat/1.0.0/",
        citation="Zyma I, Tukaev S, Seleznov I, et al. Electroencephalograms during Mental "
        "Arithmetic Task Performance. Data 2019;4(1):14, doi:10.3390/data4010014; PhysioNet "
        "doi:10.13026/C2JQ1P",
        licence="ODC-By 1.0",
        content="36 subjects, rest (_1) and serial subtraction (_2), EDF at 500 Hz",
        tasks=("arithmetic",),
        fetch_url="https://physionet.org/files/eegmat/1.0.0/",
    ),
    Dataset(
        name="guinea-bissau",
        title="EEG of people with epilepsy and controls in Guinea-Bissau (Emotiv EPOC), Zenodo",
        home="https://doi.org/10.5281/zenodo.1252141",
        citation="van Hees VT, van Diessen E, Sinke MRT, et al. Reliable and automatic epilepsy "
        "classification with affordable, consumer-grade electroencephalography in rural "
        "sub-Saharan Africa. bioRxiv 2018, doi:10.1101/324616",
        licence="CC BY 4.0",
        content="97 subjects (51 epilepsy, 46 control), 14 channels at 128 Hz; released as "
        "CSV, so eegzip does not fetch it (convert to EDF+ as ../shared/data/README.md says)",
        tasks=("epilepsy",),
        fetch_url=None,
    ),
)


def describe() -> list[dict]:
    return [asdict(d) for d in DATASETS]


def _dataset(name: str) -> Dataset:
    for d in DATASETS:
        if d.name == name:
            return d
    raise EegzipError(f"unknown dataset {name!r} (known: {', '.join(d.name for d in DATASETS)})")


def _open(base: str, name: str):
    """A readable stream of ``name`` under ``base`` (an http(s) URL or a local folder)."""
    if base.startswith(("http://", "https://")):
        url = base.rstrip("/") + "/" + name
        try:
            return urllib.request.urlopen(url, timeout=60)  # noqa: S310 (http(s) only)
        except (urllib.error.URLError, TimeoutError) as exc:
            raise InputNotFoundError(f"{url}: cannot fetch ({exc})") from None
    path = Path(base) / name
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such file in the mirror")
    return path.open("rb")


def _checksums(base: str) -> dict[str, str]:
    with _open(base, CHECKSUMS) as stream:
        text = stream.read().decode("utf-8", "replace")
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 64:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    if not sums:
        raise EegzipError(f"{base}: {CHECKSUMS} lists no files")
    return sums


def fetch(
    name: str,
    dest: Path,
    source: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Fetch a dataset's EDF and CSV files into ``dest``; every file's SHA-256 is verified."""
    dataset = _dataset(name)
    base = source or dataset.fetch_url
    if base is None:
        raise EegzipError(f"{name}: eegzip cannot fetch this dataset; see {dataset.home}")
    wanted = {
        f: h for f, h in _checksums(base).items() if f.endswith((".edf", ".csv")) and "/" not in f
    }
    dest.mkdir(parents=True, exist_ok=True)
    fetched = kept = 0
    for done, (file, expected) in enumerate(sorted(wanted.items()), start=1):
        target = dest / file
        if target.is_file() and sha256_of(target) == expected:
            kept += 1
        else:
            output = AtomicOutput(target, force=True)
            try:
                with _open(base, file) as stream:
                    shutil.copyfileobj(stream, output.file)
                output.close_file()
                if sha256_of(output.temporary) != expected:
                    raise EegzipError(f"{file}: SHA-256 mismatch after download from {base}")
                output.commit()
            finally:
                output.abort()
            fetched += 1
        if progress:
            progress(done, len(wanted))
    return {"dataset": name, "dest": str(dest), "source": base, "fetched": fetched, "kept": kept}
