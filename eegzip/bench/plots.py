"""PNG figures of a bench run (matplotlib, Agg backend, so no display is needed).

- ``rate_distortion.png``: bits/s/channel vs PRDN and vs mel loss, eegzip (one point per codebook
  count) and the wavelet codec at the same sizes, over all files together.
- ``reconstruction.png``: a few seconds of up to three channels, original vs eegzip, and
  spectrograms of one channel's original and reconstruction on a shared colour scale.
- ``ladder.png`` (``bench --ladder``): per dataset, PRDN and the alpha power ratio against the
  file's bit rate, eegzip against the wavelet at the same bytes and the Gaussian bound.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
from scipy.signal import spectrogram

from eegzip.bench import require
from eegzip.bench.run import Example

EXCERPT_S = 4.0
EXAMPLE_CHANNELS = 3
SPECTROGRAM_S = 2.0
POWER_FLOOR = 1e-12


def _pyplot() -> ModuleType:
    matplotlib = require("matplotlib", "matplotlib")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", "matplotlib")


def _metric(fidelity: dict, metric: str) -> float:
    value = fidelity["overall"][metric]
    return float("nan") if value is None else float(value)


def rate_distortion(aggregate: dict, path: Path) -> Path:
    """From the aggregate JSON of a bench run (``runs`` with eegzip and wavelet fidelity)."""
    plt = _pyplot()
    runs = sorted(aggregate["runs"], key=lambda r: r["bits_per_second_per_channel"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, metric, label in zip(axes, ("prdn", "mel_loss"), ("PRDN %", "mel loss"), strict=True):
        ax.plot(
            [r["bits_per_second_per_channel"] for r in runs],
            [_metric(r["fidelity"], metric) for r in runs],
            "o-",
            label="eegzip",
        )
        for r in runs:
            ax.annotate(
                f"×{r['codebooks']}",
                (r["bits_per_second_per_channel"], _metric(r["fidelity"], metric)),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
        ax.plot(
            [r["wavelet"]["bits_per_second_per_channel"] for r in runs],
            [_metric(r["wavelet"]["fidelity"], metric) for r in runs],
            "s--",
            label="wavelet db4 (same size)",
        )
        ax.set_xlabel("bits / s / channel (coded)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"Rate–distortion over {aggregate['files']} file(s)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _excerpt(example: Example) -> slice:
    """EXCERPT_S seconds from the middle of the recording."""
    rate = example.original.sample_rate
    n = example.original.uv.shape[1]
    length = min(n, round(EXCERPT_S * rate))
    start = max(0, n // 2 - length // 2)
    return slice(start, start + length)


def _spectrogram_db(x: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nperseg = min(len(x), round(SPECTROGRAM_S * rate))
    freqs, times, power = spectrogram(x - x.mean(), fs=rate, nperseg=nperseg)
    return freqs, times, 10 * np.log10(np.maximum(power, POWER_FLOOR))


def reconstruction(example: Example, path: Path) -> Path:
    plt = _pyplot()
    original, rate = example.original, example.original.sample_rate
    channels = min(EXAMPLE_CHANNELS, original.uv.shape[0])
    window = _excerpt(example)
    t = np.arange(window.start, window.stop) / rate
    fig, axes = plt.subplots(channels + 2, 1, figsize=(10, 2.2 * (channels + 2)))
    for ax, row in zip(axes[:channels], range(channels), strict=True):
        ax.plot(t, original.uv[row, window], lw=0.8, label="original")
        ax.plot(t, example.reconstruction_uv[row, window], lw=0.8, label="eegzip")
        ax.set_ylabel(f"{original.labels[row]} (µV)")
        ax.legend(loc="upper right", fontsize=8)
    axes[channels - 1].set_xlabel("time (s)")
    spectra = [
        _spectrogram_db(signal[0], rate) for signal in (original.uv, example.reconstruction_uv)
    ]
    low = min(np.percentile(s[2], 5) for s in spectra)
    high = max(s[2].max() for s in spectra)
    for ax, (freqs, times, power), name in zip(
        axes[channels:], spectra, ("original", "eegzip"), strict=True
    ):
        mesh = ax.pcolormesh(times, freqs, power, vmin=low, vmax=high, shading="auto")
        ax.set_ylabel("Hz")
        ax.set_title(f"{original.labels[0]} spectrogram, {name}", fontsize=9)
        fig.colorbar(mesh, ax=ax, label="dB (µV²/Hz)")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"{example.name}: eegzip ×{example.codebooks} codebooks")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(aggregate: dict, example: Example, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        rate_distortion(aggregate, directory / "rate_distortion.png"),
        reconstruction(example, directory / "reconstruction.png"),
    ]


def ladder(summary: dict, path: Path) -> Path:
    """From the ``summary`` of bench.ladder.measure_ladder: one column per dataset."""
    plt = _pyplot()
    from matplotlib.ticker import NullFormatter

    datasets = list(summary)
    fig, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 7), squeeze=False)
    for col, name in enumerate(datasets):
        rungs = list(summary[name].values())
        rate = [s["bits_per_second_per_channel"] for s in rungs]
        top, bottom = axes[0, col], axes[1, col]
        top.plot(rate, [s["eegzip_prdn"] for s in rungs], "o-", label="eegzip --bitrate")
        top.plot(rate, [s["wavelet_prdn"] for s in rungs], "s--", label="wavelet, same bytes")
        top.plot(rate, [s["bound_prdn"] for s in rungs], ":", label="Gaussian bound")
        top.set(title=name, ylabel="PRDN %")
        bottom.plot(rate, [s["eegzip_bands"]["alpha"] for s in rungs], "o-", label="eegzip")
        bottom.plot(rate, [s["wavelet_bands"]["alpha"] for s in rungs], "s--", label="wavelet")
        bottom.axhspan(0.8, 1.25, color="green", alpha=0.1)
        bottom.set(ylabel="alpha power ratio")
        for ax in (top, bottom):
            ax.set(xscale="log", xlabel="bit/s per channel (file)")
            ax.set_xticks(rate, [f"{r:.0f}" for r in rate])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
