"""DAC-MC: one residual-VQ token stream per group of channels (Kastrati et al., multi-channel).

Each channel goes through the single-channel DAC encoder (shared weights, same parameter
names, so a DAC-SC checkpoint initialises it) with small adapters told which electrode it is;
a transformer layer lets the channels of a group see each other at every latent frame; an
attention pooling makes one latent per frame, which DAC's RVQ codes. Decoding gives each
channel its own latent from the group's (conditioned on its electrode) and runs the shared
DAC decoder. Bits therefore scale with groups, not channels. Every new part starts as the
identity (zero-initialised outputs), so a fresh model built from DAC-SC codes a one-channel
group exactly as DAC-SC does.

Groups are batched as (groups, channels, ...) with a boolean mask of the real channels;
padding channels are never computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from eegzip.codec.dac import DAC, DACConfig, Decoder, Encoder
from eegzip.codec.electrodes import ELECTRODES
from eegzip.codec.layers import Snake1d, fold_weight_norm
from eegzip.codec.quantize import ResidualVectorQuantize

NEW_MODULES = (
    "channel_embedding",
    "encoder_adapters",
    "channel_attention",
    "pooling",
    "channel_latent",
    "decoder_adapters",
)
"""Top-level modules DAC-SC does not have; everything else loads from a DAC-SC state dict."""


@dataclass(frozen=True)
class MCConfig:
    """Constructor arguments of MultiChannelDAC; ``dac`` configures the shared backbone."""

    dac: DACConfig = field(default_factory=DACConfig)
    adapter_dim: int = 16
    embedding_dim: int = 32
    attention_heads: int = 4
    electrodes: tuple[str, ...] = ELECTRODES

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> MCConfig:
        values = dict(kwargs)
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown DAC-MC arguments: {', '.join(unknown)}")
        values["dac"] = DACConfig.from_kwargs(values.get("dac", {}))
        if "electrodes" in values:
            values["electrodes"] = tuple(str(e) for e in values["electrodes"])
        return cls(**values)

    def to_kwargs(self) -> dict:
        return {
            "dac": self.dac.to_kwargs(),
            "adapter_dim": self.adapter_dim,
            "embedding_dim": self.embedding_dim,
            "attention_heads": self.attention_heads,
            "electrodes": list(self.electrodes),
        }

    @property
    def sample_rate(self) -> int:
        return self.dac.sample_rate


class Adapter(nn.Module):
    """Residual 1x1 bottleneck told the channel's electrode; adds exactly 0 until trained."""

    def __init__(self, dim: int, hidden: int, embedding_dim: int) -> None:
        super().__init__()
        self.down = nn.Conv1d(dim, hidden, kernel_size=1)
        self.condition = nn.Linear(embedding_dim, hidden)
        self.activation = Snake1d(hidden)
        self.up = nn.Conv1d(hidden, dim, kernel_size=1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """x (N, dim, T), embedding (N, embedding_dim)."""
        hidden = self.down(x) + self.condition(embedding)[..., None]
        return x + self.up(self.activation(hidden))


class ChannelAttention(nn.Module):
    """One pre-norm transformer layer across a group's channels at each latent frame."""

    def __init__(self, dim: int, heads: int, embedding_dim: int) -> None:
        super().__init__()
        self.identity = nn.Linear(embedding_dim, dim)
        self.norm_attention = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_feedforward = nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(
            nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)
        )
        for layer in (self.attention.out_proj, self.feedforward[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """z (G, C, D, F), embedding (G, C, E), mask (G, C) → z updated, same shape."""
        groups, channels, dim, frames = z.shape
        tokens = z.permute(0, 3, 1, 2).reshape(groups * frames, channels, dim)
        identity = self.identity(embedding)[:, None].expand(groups, frames, channels, dim)
        h = self.norm_attention(tokens + identity.reshape(groups * frames, channels, dim))
        padding = (~mask)[:, None].expand(groups, frames, channels).reshape(-1, channels)
        tokens = tokens + self.attention(h, h, h, key_padding_mask=padding, need_weights=False)[0]
        tokens = tokens + self.feedforward(self.norm_feedforward(tokens))
        return tokens.reshape(groups, frames, channels, dim).permute(0, 2, 3, 1)


class AttentionPool(nn.Module):
    """One latent per frame: the group's channel latents weighted by a learned softmax score.

    A one-channel group gets weight exactly 1, so its latent passes unchanged.
    """

    def __init__(self, dim: int, embedding_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.score = nn.Linear(dim, 1)
        self.prior = nn.Linear(embedding_dim, 1)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """z (G, C, D, F), embedding (G, C, E), mask (G, C) → (G, D, F)."""
        scores = self.score(self.norm(z.transpose(2, 3)))[..., 0] + self.prior(embedding)
        scores = scores.masked_fill(~mask[..., None], -math.inf)
        weights = torch.softmax(scores, dim=1)
        return (weights[:, :, None, :] * z).sum(dim=1)


def _scatter(rows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, ...) rows of the real channels back into (G, C, ...), zeros for padding."""
    out = rows.new_zeros((*mask.shape, *rows.shape[1:]))
    out[mask] = rows
    return out


class MultiChannelDAC(nn.Module):
    """DAC-MC generator. Inputs (G, C, T) in [-1, 1] with channel ids (G, C) and mask (G, C)."""

    def __init__(self, config: MCConfig | None = None) -> None:
        super().__init__()
        self.config = config or MCConfig()
        cfg, dac = self.config, self.config.dac
        latent = dac.resolved_latent_dim
        self.hop_length = dac.hop_length
        self.channel_embedding = nn.Embedding(len(cfg.electrodes) + 1, cfg.embedding_dim)
        nn.init.normal_(self.channel_embedding.weight, std=0.02)
        self.encoder = Encoder(dac.encoder_dim, dac.encoder_rates, latent)
        encoder_dims = [dac.encoder_dim * 2 ** (i + 1) for i in range(len(dac.encoder_rates))]
        self.encoder_adapters = nn.ModuleList(
            Adapter(dim, cfg.adapter_dim, cfg.embedding_dim) for dim in [*encoder_dims, latent]
        )
        self.channel_attention = ChannelAttention(latent, cfg.attention_heads, cfg.embedding_dim)
        self.pooling = AttentionPool(latent, cfg.embedding_dim)
        self.quantizer = ResidualVectorQuantize(
            input_dim=latent,
            n_codebooks=dac.n_codebooks,
            codebook_size=dac.codebook_size,
            codebook_dim=dac.codebook_dim,
            quantizer_dropout=dac.quantizer_dropout,
        )
        self.channel_latent = Adapter(latent, latent, cfg.embedding_dim)
        self.decoder = Decoder(latent, dac.decoder_dim, dac.decoder_rates)
        decoder_dims = [dac.decoder_dim // 2 ** (i + 1) for i in range(len(dac.decoder_rates))]
        self.decoder_adapters = nn.ModuleList(
            Adapter(dim, cfg.adapter_dim, cfg.embedding_dim) for dim in decoder_dims
        )
        for module in (self.encoder, self.quantizer, self.decoder):  # as DAC initialises them
            for conv in module.modules():
                if isinstance(conv, nn.Conv1d | nn.ConvTranspose1d) and conv.bias is not None:
                    nn.init.zeros_(conv.bias)

    @classmethod
    def from_single_channel(cls, model: DAC, config: MCConfig | None = None) -> MultiChannelDAC:
        """DAC-MC whose backbone, quantizer and decoder are a trained DAC-SC's weights."""
        config = config or MCConfig()
        mc = cls(replace(config, dac=model.config))
        missing, unexpected = mc.load_state_dict(model.state_dict(), strict=False)
        foreign = [k for k in missing if k.split(".")[0] not in NEW_MODULES]
        if unexpected or foreign:
            raise ValueError(
                f"DAC-SC weights do not fit DAC-MC: {len(unexpected)} unexpected, "
                f"{len(foreign)} missing keys (e.g. {(unexpected or foreign)[0]})"
            )
        return mc

    @property
    def n_codebooks(self) -> int:
        return self.config.dac.n_codebooks

    @property
    def codebook_size(self) -> int:
        return self.config.dac.codebook_size

    def encode_channels(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """Each channel alone through the adapted encoder: (N, 1, T) → (N, D, F).

        Walks the encoder's layers (input conv, strided blocks, activation, latent conv) so
        that an adapter follows each block and the latent.
        """
        layers = list(self.encoder.block)
        blocks = len(self.encoder_adapters) - 1
        h = layers[0](x)
        for layer, adapter in zip(layers[1 : 1 + blocks], self.encoder_adapters[:-1], strict=True):
            h = adapter(layer(h), embedding)
        for layer in layers[1 + blocks :]:
            h = layer(h)
        return self.encoder_adapters[-1](h, embedding)

    def group_latent(
        self, x: torch.Tensor, channel_ids: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """One latent per group and frame, before quantization: (G, C, T) → (G, D, F)."""
        embedding = self.channel_embedding(channel_ids)
        rows = self.encode_channels(x[mask][:, None], embedding[mask])
        z = self.channel_attention(_scatter(rows, mask), embedding, mask)
        return self.pooling(z, embedding, mask)

    def encode(
        self,
        x: torch.Tensor,
        channel_ids: torch.Tensor,
        mask: torch.Tensor,
        n_quantizers: int | None = None,
    ):
        """Returns (z_q, codes (G, N, F), latents, commitment_loss, codebook_loss)."""
        return self.quantizer(self.group_latent(x, channel_ids, mask), n_quantizers)

    def decode(
        self, z_q: torch.Tensor, channel_ids: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Each channel of each group from the group's latent (G, D, F): → (G, C, T)."""
        embedding = self.channel_embedding(channel_ids)[mask]
        latent = z_q[:, None].expand(*mask.shape, *z_q.shape[1:])[mask]
        h = self.channel_latent(latent, embedding)
        layers = list(self.decoder.model)
        blocks = len(self.decoder_adapters)
        h = layers[0](h)
        for layer, adapter in zip(layers[1 : 1 + blocks], self.decoder_adapters, strict=True):
            h = adapter(layer(h), embedding)
        for layer in layers[1 + blocks :]:
            h = layer(h)
        return _scatter(h[:, 0], mask)

    def forward(
        self,
        x: torch.Tensor,
        channel_ids: torch.Tensor,
        mask: torch.Tensor,
        n_quantizers: int | None = None,
    ) -> dict:
        """Training pass; pads to whole frames and trims. ``audio`` is (G, C, T)."""
        length = x.shape[-1]
        pad = math.ceil(length / self.hop_length) * self.hop_length - length
        x = nn.functional.pad(x, (0, pad))
        z, codes, latents, commitment_loss, codebook_loss = self.encode(
            x, channel_ids, mask, n_quantizers
        )
        return {
            "audio": self.decode(z, channel_ids, mask)[..., :length],
            "z": z,
            "codes": codes,
            "latents": latents,
            "vq/commitment_loss": commitment_loss,
            "vq/codebook_loss": codebook_loss,
        }

    @torch.inference_mode()
    def encode_codes(
        self,
        x: torch.Tensor,
        channel_ids: torch.Tensor,
        mask: torch.Tensor,
        n_codebooks: int | None = None,
    ) -> torch.Tensor:
        """Code indices (G, n, frames) for groups (G, C, frames * hop_length)."""
        return self.encode(x, channel_ids, mask, n_codebooks)[1]

    @torch.inference_mode()
    def decode_codes(
        self, codes: torch.Tensor, channel_ids: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Channels (G, C, frames * hop_length) from codes (G, n, frames), any n ≤ n_codebooks."""
        return self.decode(self.quantizer.from_codes(codes), channel_ids, mask)

    def prepare_for_inference(self) -> MultiChannelDAC:
        self.eval()
        fold_weight_norm(self)
        return self
