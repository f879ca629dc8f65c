"""Reconstruction fidelity: waveform metrics, band powers, DAC's mel loss, streamed reports."""

from eegzip.metrics.fidelity import (
    BANDS,
    ErrorEnergies,
    PairMoments,
    band_power_errors,
    band_powers,
    nmse,
    pearson_r,
    prd,
    prdn,
    relative_band_errors,
    snr_db,
    welch_psd,
)
from eegzip.metrics.report import (
    ChannelFidelity,
    FidelityAccumulator,
    FidelityReport,
    compare,
)

_MEL_NAMES = (
    "DAC_MEL_CONFIG", "MelLossConfig", "MultiScaleMelLoss", "MultiScaleSTFTLoss",
    "mel_filterbank", "mel_loss",
)  # fmt: skip


def __getattr__(name: str):
    """The mel loss's names, imported on first use: it needs torch, which an archival
    compression that measures only exact or bounded signals never loads."""
    if name in _MEL_NAMES:
        from eegzip.metrics import mel

        return getattr(mel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BANDS",
    "DAC_MEL_CONFIG",
    "ChannelFidelity",
    "ErrorEnergies",
    "FidelityAccumulator",
    "FidelityReport",
    "MelLossConfig",
    "MultiScaleMelLoss",
    "MultiScaleSTFTLoss",
    "PairMoments",
    "band_power_errors",
    "band_powers",
    "compare",
    "mel_filterbank",
    "mel_loss",
    "nmse",
    "pearson_r",
    "prd",
    "prdn",
    "relative_band_errors",
    "snr_db",
    "welch_psd",
]
