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
from eegzip.metrics.mel import (
    DAC_MEL_CONFIG,
    MelLossConfig,
    MultiScaleMelLoss,
    MultiScaleSTFTLoss,
    mel_filterbank,
    mel_loss,
)
from eegzip.metrics.report import (
    ChannelFidelity,
    FidelityAccumulator,
    FidelityReport,
    compare,
)

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
