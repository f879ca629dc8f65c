"""eegzip bench: lossless baselines, the wavelet codec, the classification harness, the command."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import eegzip
from eegzip.bench import archival as archival_module
from eegzip.bench.archival import (
    LOSSLESS,
    ArchivalFile,
    ArchivalRun,
    PromiseBrokenError,
    PromiseCheck,
    check_promise,
    lossy_name,
    measure_archival,
)
from eegzip.bench.baselines import flac_decode, flac_encode, measure_baselines, wavpack_encode
from eegzip.bench.crossval import make_splits
from eegzip.bench.features import EpochFeatures
from eegzip.bench.signals import read_codec_signals
from eegzip.bench.stats import paired_difference
from eegzip.bench.tasks import evaluate
from eegzip.bench.wavelet import WaveletCoder, decode, fit_to_size
from eegzip.cli import app
from eegzip.cli_bench import parse_bounds, parse_codebooks
from eegzip.edf import EdfFile, build_header
from eegzip.metrics import prdn

WAVPACK = ["wavpack-hh-x6"] if shutil.which("wavpack") else []
"""The archival bench adds WavPack where the program is installed."""


@pytest.fixture(scope="module")
def eegmat_file(shared_data):
    return shared_data / "eegmat" / "Subject20_2.edf"


@pytest.fixture(scope="module")
def short_edf(eegmat_file, tmp_path_factory):
    """The first 20 one-second records of a real EEGMAT recording, as a valid EDF+."""
    with EdfFile.open(eegmat_file) as edf:
        header = build_header(replace(edf.header, n_records=20))
        start = edf.header.header_bytes
        records = eegmat_file.read_bytes()[start : start + 20 * edf.header.record_size]
    path = tmp_path_factory.mktemp("short") / "short.edf"
    path.write_bytes(header + records)
    return path


def test_lossless_baselines_on_real_files(shared_data, eegmat_file):
    for path in (eegmat_file, shared_data / "guinea-bissau" / "gb-004.edf"):
        sizes = {b.name: b.bytes for b in measure_baselines(path)}
        size = path.stat().st_size
        assert set(sizes) == {"zstd-19", "xz-9", "flac-8"}
        assert all(size / 4 < s < size for s in sizes.values()), sizes
        assert sizes["flac-8"] < min(sizes["zstd-19"], sizes["xz-9"])


def test_flac_decodes_back_to_the_digital_samples(eegmat_file):
    with EdfFile.open(eegmat_file) as edf:
        digital = edf.read_digital(0)
        rate = edf.header.sample_rate(0)
    stream = flac_encode(iter([digital[:7000], digital[7000:]]), rate, 16)
    assert np.array_equal(flac_decode(stream, 16), digital)
    bdf_like = np.random.default_rng(0).integers(-(2**23), 2**23, 5000)
    assert np.array_equal(flac_decode(flac_encode(iter([bdf_like]), 2048, 24), 24), bdf_like)


@pytest.mark.skipif(not shutil.which("wvunpack"), reason="WavPack is not installed")
def test_wavpack_baseline_is_a_lossless_copy(tmp_path):
    """The WavPack baseline must hold the samples, or its size would flatter the baseline."""
    rng = np.random.default_rng(1)
    for bits, samples in ((16, np.cumsum(rng.integers(-40, 41, 9000)).astype(np.int64)),
                          (24, rng.integers(-(2**23), 2**23, 5000))):  # fmt: skip
        stream = tmp_path / "s.wv"
        stream.write_bytes(wavpack_encode(iter([samples[:3000], samples[3000:]]), 256, bits))
        raw = tmp_path / "s.raw"
        subprocess.run(["wvunpack", "-q", "-y", "--raw", str(stream), "-o", str(raw)], check=True)
        width = bits // 8
        data = np.frombuffer(raw.read_bytes(), np.uint8).reshape(-1, width).astype(np.int64)
        words = sum(data[:, k] << (8 * k) for k in range(width))
        decoded = np.where(words >= 1 << (bits - 1), words - (1 << bits), words)
        assert np.array_equal(decoded, samples), bits


@pytest.fixture(scope="module")
def gb_minute(shared_data):
    signals = read_codec_signals(shared_data / "guinea-bissau" / "gb-004.edf")
    return signals.uv[:, : round(60 * signals.sample_rate)], signals.sample_rate


def test_wavelet_meets_target_sizes_and_improves_with_size(gb_minute):
    x, rate = gb_minute
    coder = WaveletCoder(x, rate)
    errors = []
    for target in (1500, 6000, 24000):
        fitted = fit_to_size(coder, target)
        assert fitted.reached and 0.97 * target <= fitted.bytes <= target
        errors.append(float(prdn(x, decode(fitted.data)).mean()))
    assert errors[0] > errors[1] > errors[2]
    assert np.abs(decode(coder.encode(1e-3)) - x).max() < 1e-2  # near-lossless when fine


def _synthetic(labels, separation, rng):
    """Epoch features whose band powers differ by ``separation`` between the two classes."""
    out = []
    for label in labels:
        band = rng.normal(size=(12, 10)) + separation * label
        mixing = rng.normal(size=(4, 4))
        cov = np.stack([mixing @ mixing.T + np.eye(4) for _ in range(12)])
        out.append(EpochFeatures(band, cov))
    return out


def test_classifier_separates_classes_and_is_at_chance_on_shuffled_labels():
    rng = np.random.default_rng(0)
    subjects = [f"s{i}" for i in range(20)]
    groups = [s for s in subjects for _ in (0, 1)]  # every subject: one recording per class
    labels = np.array([0, 1] * len(subjects))
    splits = make_splits(labels, groups, folds=5, repeats=3)
    for split in splits:
        train = {groups[i] for i in split.train}
        assert not train & {groups[i] for i in split.test}
    features = _synthetic(labels, 1.0, rng)
    separable = evaluate(features, {}, labels, splits)[0]
    assert np.mean([s.balanced_accuracy for s in separable.own]) > 0.9

    shuffled = np.array([rng.permutation([0, 1]) for _ in subjects]).ravel()
    noise = _synthetic(np.zeros_like(labels), 0.0, rng)
    chance = evaluate(noise, {}, shuffled, make_splits(shuffled, groups, 5, 3))[0]
    assert 0.3 < np.mean([s.balanced_accuracy for s in chance.own]) < 0.7


def test_paired_difference_sees_only_real_shifts():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.6, 0.8, 50)
    same = paired_difference(base, base, 0.25)
    assert same.corrected_t_p == 1.0 and same.within_noise
    worse = paired_difference(base - 0.2 + rng.normal(0, 0.01, 50), base, 0.25)
    assert worse.mean < -0.15 and not worse.within_noise and worse.sign_test_p < 1e-6


def test_parse_codebooks():
    assert parse_codebooks("6", 9) == [6]
    assert parse_codebooks("1-3,9", 9) == [9, 3, 2, 1]
    assert parse_codebooks("none", 9) == []
    for bad in ("0", "10", "5-2", "x"):
        with pytest.raises(typer.BadParameter):
            parse_codebooks(bad, 9)


def test_bench_command_json_and_plots(short_edf, tmp_path):
    plots = tmp_path / "plots"
    args = ["bench", str(short_edf), "--codebooks", "6", "--json", "--plot", str(plots)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["command"].startswith("eegzip bench ") and "--codebooks 6" in out["command"]
    assert {"eegzip_version", "model", "codebooks", "files", "aggregate", "notes"} <= set(out)
    (entry,) = out["files"]
    assert set(entry["baselines"]) == {"zstd-19", "xz-9", "flac-8"}
    (run,) = entry["runs"]
    assert run["codebooks"] == 6 and run["output_bytes"] < entry["input_bytes"]
    assert run["nominal_bits_per_second_per_channel"] > 0
    for step in ("encode", "decode"):
        assert run[step]["x_realtime"] > 0 and run[step]["channel_seconds_per_second"] > 0
    overall = run["fidelity"]["overall"]
    assert {"prd", "prdn", "snr_db", "r", "nmse", "mel_loss", "band_error"} <= set(overall)
    wavelet = run["wavelet"]
    assert wavelet["bytes"] <= wavelet["target_bytes"] == run["code_bytes"]
    assert "prdn" in wavelet["fidelity"]["overall"]
    assert sorted(p.name for p in plots.glob("*.png")) == [
        "rate_distortion.png",
        "reconstruction.png",
    ]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots.glob("*.png"))


def test_task_on_originals_only(shared_data):
    args = ["bench", str(shared_data), "--task", "arithmetic", "--codebooks", "none"]
    result = CliRunner().invoke(app, [*args, "--limit", "3", "--repeats", "2", "--json"])
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)["task"]
    assert task["n_subjects"] == 3 and task["n_recordings"] == 6
    assert task["cv"]["splits"] == 2 * task["cv"]["folds"]
    (row,) = task["rows"]
    assert row["signals"] == "original" and 0 <= row["balanced_accuracy"]["mean"] <= 1


@pytest.fixture(scope="module")
def codec():
    return eegzip.load_codec()


def _shift_sample(path: Path, signal: int, delta: int) -> None:
    """Add ``delta`` digital units to the first sample of a 16-bit EDF signal, in place."""
    with EdfFile.open(path) as edf:
        h = edf.header
        offset = h.header_bytes + 2 * sum(s.samples_per_record for s in h.signals[:signal])
        value = int(edf.read_digital(signal, 0, 1)[0])
    data = bytearray(path.read_bytes())
    data[offset : offset + 2] = np.int16(value + delta).tobytes()
    path.write_bytes(bytes(data))


def test_promise_checks_see_every_kind_of_damage(short_edf, tmp_path):
    copy = tmp_path / "copy.edf"
    copy.write_bytes(short_edf.read_bytes())
    assert check_promise(short_edf, copy, LOSSLESS).ok
    kept = check_promise(short_edf, copy, 1.0)
    assert kept.ok and kept.max_error_uv == 0

    with EdfFile.open(short_edf) as edf:
        gain, first_sample = edf.header.signals[0].gain, edf.header.header_bytes
    _shift_sample(copy, 0, round(0.9 / gain))  # within ±1 µV, no longer byte-identical
    assert check_promise(short_edf, copy, 1.0).ok
    lossless = check_promise(short_edf, copy, LOSSLESS)
    assert not lossless.ok and f"differs at byte {first_sample}" in (lossless.problem or "")

    _shift_sample(copy, 0, round(0.2 / gain))  # now 1.1 µV off
    broken = check_promise(short_edf, copy, 1.0)
    assert not broken.ok and "'EEG F3' off by" in (broken.problem or "")
    assert 1.05 < (broken.max_error_uv or 0) < 1.15

    copy.write_bytes(short_edf.read_bytes())
    _shift_sample(copy, 8, 1)  # the annotation signal is not coded: it must come back exact
    assert "(not coded) differs" in (check_promise(short_edf, copy, 2.0).problem or "")

    data = bytearray(short_edf.read_bytes())
    data[8] ^= 1  # the patient field of the header
    copy.write_bytes(bytes(data))
    assert "header bytes differ" in (check_promise(short_edf, copy, 2.0).problem or "")


def test_archival_modes_keep_their_promises_and_compress(short_edf, codec):
    run = measure_archival({"eegmat": [short_edf]}, codec, (LOSSLESS, 1.0))
    assert run.ok and not run.errors
    (entry,) = run.files
    assert [c.bound_uv for c in entry.checks] == [0.0, 1.0]
    assert 0 < entry.checks[1].max_error_uv <= 1.0
    ratios = run.overall().ratios()
    assert list(ratios) == ["zstd-19", "xz-9", "flac-8", *WAVPACK, "eegzip lossless",
                            "eegzip ±1 µV", "eegzip lossy (9 codebooks)"]  # fmt: skip
    assert 1 < ratios["eegzip lossless"] < ratios["eegzip ±1 µV"] < ratios[lossy_name(codec)]
    assert ratios["eegzip lossless"] > ratios["zstd-19"]


def _fake_file(group: str, edf: int, flac: int, lossless: int) -> ArchivalFile:
    sizes = {"edf": edf, "zstd-19": 2 * lossless, "flac-8": flac, "eegzip lossless": lossless}
    return ArchivalFile(Path(f"{group}.edf"), group, sizes, (PromiseCheck(LOSSLESS),))


def test_archival_totals_per_group_and_overall():
    files = (_fake_file("a", 1000, 400, 250), _fake_file("b", 300, 100, 100),
             _fake_file("a", 1000, 400, 250))  # fmt: skip
    out = ArchivalRun((LOSSLESS,), files).to_dict()
    assert out["ok"] and [g["name"] for g in out["groups"]] == ["a", "b"]
    a, b = out["groups"]
    assert a["files"] == 2 and a["bytes"]["edf"] == 2000 and a["ratio"]["eegzip lossless"] == 4
    assert b["lossless_vs"] == {"flac-8": 1.0, "zstd-19": 2.0}
    overall = out["overall"]
    assert overall["files"] == 3 and overall["ratio"]["eegzip lossless"] == round(2300 / 600, 3)
    assert overall["lossless_vs"]["flac-8"] == round(900 / 600, 3)

    broken = replace(files[1], checks=(PromiseCheck(LOSSLESS, "b.edf: differs at byte 7"),))
    run = ArchivalRun((LOSSLESS,), (files[0], broken))
    assert not run.ok and not run.to_dict()["ok"] and run.problems == ["b.edf: differs at byte 7"]
    with pytest.raises(PromiseBrokenError, match="differs at byte 7"):
        run.raise_if_broken()


def test_parse_bounds():
    assert parse_bounds("2,0,1,0.5,1") == (0.0, 0.5, 1.0, 2.0)
    for bad in ("", "-1", "x", "1,nan", "inf"):
        with pytest.raises(typer.BadParameter):
            parse_bounds(bad)


def test_bench_archival_command_json(short_edf):
    args = ["bench", str(short_edf), "--archival", "--max-error", "1,0", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "--archival --max-error 0,1" in out["command"]
    archival = out["archival"]
    assert archival["ok"] and archival["bounds_uv"] == [0.0, 1.0]
    (group,) = archival["groups"]
    assert group["name"] == short_edf.parent.name and group["files"] == 1
    overall = archival["overall"]
    assert overall["ratio"]["eegzip lossless"] > 1 and overall["ratio"]["eegzip ±1 µV"] > 1
    assert set(overall["lossless_vs"]) == {"flac-8", "zstd-19", *WAVPACK}
    (entry,) = archival["files"]
    assert all(c["ok"] for c in entry["checks"]) and entry["group"] == group["name"]


def test_bench_archival_fails_loudly_on_a_broken_promise(short_edf, monkeypatch):
    decompress = archival_module.api.decompress

    def tampering(source, target, **kwargs):
        result = decompress(source, target, **kwargs)
        _shift_sample(Path(target), 0, 2000)  # ~2.6 µV on EEG F3
        return result

    monkeypatch.setattr(archival_module.api, "decompress", tampering)
    args = ["bench", str(short_edf), "--archival", "--max-error", "1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    archival = json.loads(result.stdout)["archival"]
    assert not archival["ok"] and not archival["files"][0]["checks"][0]["ok"]
    (problem,) = archival["problems"]
    assert "'EEG F3' off by" in problem and "promise broken" in result.stderr


@pytest.mark.parametrize(
    "extra,fragment",
    [(["--archival", "--task", "arithmetic"], "does not combine with --task"),
     (["--archival", "--plot", "figures"], "does not combine with --plot"),
     (["--archival", "--codebooks", "6"], "does not combine with --codebooks"),
     (["--max-error", "1"], "--max-error needs --archival"),
     (["--archival", "--max-error", "1,-2"], "bounds ≥ 0")],
)  # fmt: skip
def test_bench_archival_refuses_what_it_cannot_honour(tmp_path, extra, fragment):
    result = CliRunner().invoke(app, ["bench", str(tmp_path), *extra])
    assert result.exit_code == 2, result.output
    assert fragment in " ".join(result.stderr.split()), result.stderr


def test_bench_errors_print_no_stray_backslash(capsys):
    """Rich markup is escaped once: 'eegzip[bench]' stays as written."""
    from eegzip.cli_bench import _report
    from eegzip.errors import EegzipError

    _report(EegzipError('needs pip install "eegzip[bench]"'))
    assert 'eegzip: error: needs pip install "eegzip[bench]"' in capsys.readouterr().err


def test_bench_ladder_command_json_table_and_plot(short_edf, tmp_path):
    """--ladder: every rate measured against the wavelet at the same bytes and the bound; PRDN
    falls as the rate rises; the table, the JSON and the PNG come from one run."""
    plots = tmp_path / "plots"
    args = ["bench", str(short_edf), "--ladder", "--bitrate", "400,100", "--json",
            "--plot", str(plots)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "--ladder --bitrate 100,400" in out["command"]
    (rungs,) = out["ladder"]["summary"].values()
    low, high = rungs["100"], rungs["400"]
    assert low["files"] == high["files"] == 1
    assert high["eegzip_prdn"] < low["eegzip_prdn"] and high["bound_prdn"] < low["bound_prdn"]
    assert 0.8 * 400 < high["bits_per_second_per_channel"] <= 400 * 1.02
    assert set(high["eegzip_bands"]) == {"delta", "theta", "alpha", "beta", "gamma"}
    assert (plots / "ladder.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = CliRunner().invoke(app, ["bench", str(short_edf), "--ladder", "--bitrate", "200"])
    assert table.exit_code == 0 and "rate ladder" in table.stdout, table.output


@pytest.mark.parametrize(
    "extra,fragment",
    [(["--ladder", "--archival"], "does not combine with --archival"),
     (["--ladder", "--codebooks", "6"], "does not combine with --codebooks"),
     (["--bitrate", "100"], "--bitrate needs --ladder"),
     (["--ladder", "--bitrate", "fast"], "give rates like")],
)  # fmt: skip
def test_bench_ladder_refuses_what_it_cannot_honour(tmp_path, extra, fragment):
    result = CliRunner().invoke(app, ["bench", str(tmp_path), *extra])
    assert result.exit_code == 2, result.output
    assert fragment in " ".join(result.stderr.split()), result.stderr
