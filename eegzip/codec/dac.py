"""The DAC generator: strided convolutional encoder, residual VQ, transposed-conv decoder.

Module and parameter names follow descript-audio-codec 1.0.0 so that official checkpoints
load with strict key checks. The model knows tensors, never files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from eegzip.codec.layers import Snake1d, WNConv1d, WNConvTranspose1d, fold_weight_norm
from eegzip.codec.quantize import ResidualVectorQuantize


@dataclass(frozen=True)
class DACConfig:
    """Constructor arguments of DAC, named as in its checkpoints' ``metadata.kwargs``."""

    encoder_dim: int = 64
    encoder_rates: tuple[int, ...] = (2, 4, 8, 8)
    latent_dim: int | None = None
    decoder_dim: int = 1536
    decoder_rates: tuple[int, ...] = (8, 8, 4, 2)
    n_codebooks: int = 9
    codebook_size: int = 1024
    codebook_dim: int = 8
    quantizer_dropout: float = 0.0
    sample_rate: int = 44100
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> DACConfig:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"unknown DAC arguments: {', '.join(unknown)}")
        values = dict(kwargs)
        for key in ("encoder_rates", "decoder_rates"):
            if key in values:
                values[key] = tuple(int(r) for r in values[key])
        if isinstance(values.get("quantizer_dropout"), bool):
            values["quantizer_dropout"] = float(values["quantizer_dropout"])
        return cls(**values)

    def to_kwargs(self) -> dict:
        out = asdict(self)
        out.pop("extra")
        out["encoder_rates"] = list(self.encoder_rates)
        out["decoder_rates"] = list(self.decoder_rates)
        return out

    @property
    def hop_length(self) -> int:
        return math.prod(self.encoder_rates)

    @property
    def resolved_latent_dim(self) -> int:
        return self.latent_dim or self.encoder_dim * 2 ** len(self.encoder_rates)


class ResidualUnit(nn.Module):
    def __init__(self, dim: int = 16, dilation: int = 1) -> None:
        super().__init__()
        pad = ((7 - 1) * dilation) // 2
        self.block = nn.Sequential(
            Snake1d(dim),
            WNConv1d(dim, dim, kernel_size=7, dilation=dilation, padding=pad),
            Snake1d(dim),
            WNConv1d(dim, dim, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        trim = (x.shape[-1] - y.shape[-1]) // 2
        if trim > 0:
            x = x[..., trim:-trim]
        return x + y


def _residual_stack(dim: int) -> list[nn.Module]:
    return [ResidualUnit(dim, dilation=d) for d in (1, 3, 9)]


class EncoderBlock(nn.Module):
    def __init__(self, dim: int = 16, stride: int = 1) -> None:
        super().__init__()
        self.block = nn.Sequential(
            *_residual_stack(dim // 2),
            Snake1d(dim // 2),
            WNConv1d(
                dim // 2, dim, kernel_size=2 * stride, stride=stride, padding=math.ceil(stride / 2)
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Encoder(nn.Module):
    def __init__(
        self, d_model: int = 64, strides: tuple[int, ...] = (2, 4, 8, 8), d_latent: int = 64
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(1, d_model, kernel_size=7, padding=3)]
        for stride in strides:
            d_model *= 2
            layers.append(EncoderBlock(d_model, stride=stride))
        layers += [Snake1d(d_model), WNConv1d(d_model, d_latent, kernel_size=3, padding=1)]
        self.block = nn.Sequential(*layers)
        self.enc_dim = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    def __init__(self, input_dim: int = 16, output_dim: int = 8, stride: int = 1) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(input_dim),
            WNConvTranspose1d(
                input_dim,
                output_dim,
                kernel_size=2 * stride,
                stride=stride,
                padding=math.ceil(stride / 2),
            ),
            *_residual_stack(output_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Decoder(nn.Module):
    def __init__(
        self, input_channel: int, channels: int, rates: tuple[int, ...], d_out: int = 1
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(input_channel, channels, kernel_size=7, padding=3)]
        output_dim = channels
        for i, stride in enumerate(rates):
            output_dim = channels // 2 ** (i + 1)
            layers.append(DecoderBlock(channels // 2**i, output_dim, stride))
        layers += [
            Snake1d(output_dim),
            WNConv1d(output_dim, d_out, kernel_size=7, padding=3),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DAC(nn.Module):
    """Descript Audio Codec generator. Input (B, 1, T) in [-1, 1], T a multiple of hop_length."""

    def __init__(self, config: DACConfig | None = None) -> None:
        super().__init__()
        self.config = config or DACConfig()
        cfg = self.config
        self.hop_length = cfg.hop_length
        self.encoder = Encoder(cfg.encoder_dim, cfg.encoder_rates, cfg.resolved_latent_dim)
        self.quantizer = ResidualVectorQuantize(
            input_dim=cfg.resolved_latent_dim,
            n_codebooks=cfg.n_codebooks,
            codebook_size=cfg.codebook_size,
            codebook_dim=cfg.codebook_dim,
            quantizer_dropout=cfg.quantizer_dropout,
        )
        self.decoder = Decoder(cfg.resolved_latent_dim, cfg.decoder_dim, cfg.decoder_rates)
        for module in self.modules():
            if isinstance(module, nn.Conv1d | nn.ConvTranspose1d) and module.bias is not None:
                nn.init.zeros_(module.bias)

    @property
    def n_codebooks(self) -> int:
        return self.config.n_codebooks

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    def encode(self, audio: torch.Tensor, n_quantizers: int | None = None):
        """Returns (z_q, codes, latents, commitment_loss, codebook_loss), as DAC.encode."""
        return self.quantizer(self.encoder(audio), n_quantizers)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, audio: torch.Tensor, n_quantizers: int | None = None) -> dict:
        """Training forward pass; pads to a whole number of frames and trims the output."""
        length = audio.shape[-1]
        pad = math.ceil(length / self.hop_length) * self.hop_length - length
        audio = nn.functional.pad(audio, (0, pad))
        z, codes, latents, commitment_loss, codebook_loss = self.encode(audio, n_quantizers)
        return {
            "audio": self.decode(z)[..., :length],
            "z": z,
            "codes": codes,
            "latents": latents,
            "vq/commitment_loss": commitment_loss,
            "vq/codebook_loss": codebook_loss,
        }

    @torch.inference_mode()
    def encode_codes(self, audio: torch.Tensor, n_codebooks: int | None = None) -> torch.Tensor:
        """Code indices (B, n, frames) for audio (B, 1, frames * hop_length)."""
        return self.encode(audio, n_codebooks)[1]

    @torch.inference_mode()
    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Audio (B, 1, frames * hop_length) from codes (B, n, frames) for any n ≤ n_codebooks."""
        return self.decode(self.quantizer.from_codes(codes))

    def prepare_for_inference(self) -> DAC:
        """Eval mode with folded weight norm: the fast path for compress/decompress."""
        self.eval()
        fold_weight_norm(self)
        return self
