"""Rich tables of a bench run, rendered from the same dictionaries ``--json`` prints.

The tables keep to the headline numbers (band err = mean relative band-power error over the
bands); ``--json`` has every metric, per channel, and the speeds in channel-seconds per second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table


def _f(value: Any, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _name(entry: dict) -> str:
    return f"all {entry['files']} files" if entry["files"] > 1 else escape(Path(entry["name"]).name)


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in ("file", "group") else "right")
    return table


def size_table(entries: list[dict]) -> Table:
    table = _table(
        "eegzip: size, speed (× real time), peak RSS",
        ["file", "n", ".eegc", "ratio", "bit/s/ch (nominal)", "enc ×RT", "dec ×RT",
         "enc / dec MB"],
    )  # fmt: skip
    for entry in entries:
        for run in entry["runs"]:
            enc, dec = run["encode"], run["decode"]
            table.add_row(
                _name(entry),
                str(run["codebooks"]),
                f"{run['output_bytes'] / 1e3:.1f} kB",
                f"{run['ratio']:.1f}×",
                f"{run['bits_per_second_per_channel']:.1f} "
                f"({run['nominal_bits_per_second_per_channel']:.0f})",
                f"{enc['x_realtime']:.0f}",
                f"{dec['x_realtime']:.0f}",
                f"{_f(enc['peak_rss_mb'], '.0f')} / {_f(dec['peak_rss_mb'], '.0f')}",
            )
    return table


def _fidelity_cells(fidelity: dict) -> list[str]:
    o = fidelity["overall"]
    band_errors = [v for v in o["band_error"].values() if v is not None]
    return [
        _f(o["prdn"], ".1f"),
        _f(o["snr_db"], ".1f"),
        _f(o["r"], ".3f"),
        _f(o["mel_loss"], ".2f"),
        _f(sum(band_errors) / len(band_errors) if band_errors else None, ".2f"),
    ]


def fidelity_table(entries: list[dict]) -> Table:
    table = _table(
        "fidelity: eegzip vs wavelet db4 at the same coded size",
        ["file", "codec", "bit/s/ch", "PRDN %", "SNR dB", "r", "mel", "band err"],
    )
    for entry in entries:
        for run in entry["runs"]:
            wavelet = run["wavelet"]
            table.add_row(
                _name(entry),
                f"eegzip ×{run['codebooks']}",
                f"{run['bits_per_second_per_channel']:.1f}",
                *_fidelity_cells(run["fidelity"]),
            )
            table.add_row(
                "",
                "wavelet" if wavelet["reached_target"] else "wavelet (over)",
                f"{wavelet['bits_per_second_per_channel']:.1f}",
                *_fidelity_cells(wavelet["fidelity"]),
                style="dim",
            )
    return table


def baseline_table(entries: list[dict]) -> Table:
    names = list(entries[0]["baselines"]) if entries else []
    table = _table("compression ratio vs lossless baselines", ["file", "EDF", *names, "eegzip"])
    for entry in entries:
        eegzip = ", ".join(f"{r['ratio']:.0f}× (×{r['codebooks']})" for r in entry["runs"])
        table.add_row(
            _name(entry),
            f"{entry['input_bytes'] / 1e6:.2f} MB",
            *(f"{entry['baselines'][n]['ratio']:.2f}×" for n in names),
            eegzip,
        )
    return table


def _mean_std(summary: dict) -> str:
    return f"{summary['mean']:.3f} ± {summary['std']:.3f}"


def _versus(vs: dict | None) -> list[str]:
    if vs is None:
        return ["", "", ""]
    b = vs["balanced_accuracy"]
    verdict = "within noise" if b["within_noise"] else "differs"
    return [
        f"{b['mean_difference']:+.3f} ± {b['std_difference']:.3f}",
        f"{b['corrected_t_p']:.3f} / {b['sign_test_p']:.3f}",
        verdict,
    ]


def task_table(task: dict) -> Table:
    cv = task["cv"]
    table = _table(
        f"{task['task']} ({task['dataset']}, test split: {task['n_recordings']} recordings, "
        f"{task['n_subjects']} subjects; {cv['repeats']}× {cv['folds']}-fold by subject)",
        ["signals", "accuracy", "balanced acc.", "Δ bal. acc. vs original",
         "p corrected t / sign", "verdict", "trained on original: bal. acc. (Δ)"],
    )  # fmt: skip
    for row in task["rows"]:
        if row.get("bitrate") is not None:
            name = f"eegzip {row['bitrate']:g} bit/s"
        elif row["codebooks"] is not None:
            name = f"eegzip ×{row['codebooks']}"
        else:
            name = "original"
        transfer = row.get("trained_on_original")
        transfer_text = (
            f"{_mean_std(transfer['balanced_accuracy'])} "
            f"({transfer['vs_original']['balanced_accuracy']['mean_difference']:+.3f})"
            if transfer
            else ""
        )
        table.add_row(
            name,
            _mean_std(row["accuracy"]),
            _mean_std(row["balanced_accuracy"]),
            *_versus(row.get("vs_original")),
            transfer_text,
        )
    return table


def archival_tables(archival: dict) -> list[Table]:
    """Ratios per group (and over all when there are several), then lossless vs baselines."""
    rows = archival["groups"] + ([archival["overall"]] if len(archival["groups"]) > 1 else [])
    if not rows:
        return []
    names = list(rows[0]["ratio"])
    ratios = _table(
        "compression ratio, whole files (EDF bytes / compressed bytes)",
        ["group", "files", *names],
    )
    versus = list(rows[0]["lossless_vs"])
    against = _table(
        "lossless: baseline bytes / eegzip bytes",
        ["group", *(f"vs {n}" for n in versus)],
    )
    for row in rows:
        name = escape(row["name"])
        ratios.add_row(name, str(row["files"]), *(f"{row['ratio'][n]:.2f}×" for n in names))
        against.add_row(name, *(f"{row['lossless_vs'][n]:.3f}" for n in versus))
    return [ratios, against] if versus else [ratios]


def checks_line(archival: dict) -> str:
    """How many promises were checked, whether all held, the largest error seen per bound."""
    checks = [c for f in archival["files"] for c in f.get("checks", [])]
    worst: dict[float, float] = {}
    for c in checks:
        if c["max_error_uv"] is not None:
            worst[c["bound_uv"]] = max(worst.get(c["bound_uv"], 0.0), c["max_error_uv"])
    largest = ", ".join(f"{e:.3g} µV at ±{b:g} µV" for b, e in worst.items())
    verdict = "all kept" if archival["ok"] else f"[red]{len(archival['problems'])} broken[/]"
    return f"promises checked on {len(checks)} decompressed files: {verdict}" + (
        f" (largest error {largest})" if largest else ""
    )


def ladder_tables(summary: dict) -> list[Table]:
    """Per dataset, one row per rung: rate reached, PRDN against the wavelet and the bound,
    correlation, the alpha band's power ratio and the lowest band's (medians over files)."""
    tables = []
    for name, rungs in summary.items():
        table = _table(
            f"rate ladder: {escape(name)} (PRDN %: mean over files; power ratios: median)",
            ["target", "bit/s/ch", "files", "eegzip", "wavelet", "bound", "ahead", "r", "α",
             "min band"],
        )  # fmt: skip
        for target, s in rungs.items():
            bands = s["eegzip_bands"]
            table.add_row(
                target, f"{s['bits_per_second_per_channel']:.1f}", str(s["files"]),
                f"{s['eegzip_prdn']:.1f}", f"{s['wavelet_prdn']:.1f}", f"{s['bound_prdn']:.1f}",
                f"{s['eegzip_better_files']}/{s['files']}", f"{s['eegzip_r']:.3f}",
                f"{bands['alpha']:.2f}", f"{min(bands.values()):.2f}",
            )  # fmt: skip
        tables.append(table)
    return tables
