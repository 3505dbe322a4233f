"""The report's conditional DCGAN (section 8), size-generic.

G: z (z_dim) concatenated with a learned label embedding (embed_dim, 50 in the report) feeds the DCGAN
generator stack (150 inputs at the report's settings). D: the label's own embedding, spread over the
image as an embed_dim-channel map, is concatenated to the image channels before the DCGAN discriminator
stack. `embedding=` lets latent tools (interpolation, later text prompts) feed G any point of the
embedding space instead of a label."""
from __future__ import annotations

import torch
from torch import nn

from .dcgan import Discriminator, Generator, dcgan_init


class CondGenerator(nn.Module):
    def __init__(self, n_classes: int, z_dim: int = 100, embed_dim: int = 50, size: int = 128, channels: int = 3,
                 base: int = 64, max_channels: int = 512, attention: bool = False, sle: bool = False,
                 upsample: str = "transposed"):
        super().__init__()
        if n_classes < 1:
            raise ValueError("a conditional generator needs at least one class")
        self.n_classes, self.z_dim, self.embed_dim = n_classes, z_dim, embed_dim
        self.size, self.channels = size, channels
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.net = Generator(z_dim, size, channels, base, max_channels, in_dim=z_dim + embed_dim, attention=attention,
                             sle=sle, upsample=upsample)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                embedding: torch.Tensor | None = None) -> torch.Tensor:
        e = self.embed(labels) if embedding is None else embedding
        return self.net(torch.cat([z.flatten(1), e.to(z.dtype)], dim=1))


class CondDiscriminator(nn.Module):
    """`cond="concat"` is the report's D (label embedding concatenated to the image as channels);
    `cond="projection"` is the projection discriminator (Miyato & Koyama 2018, as in BigGAN): the image
    alone goes through the stack and the logit gains <embed(y), sum-pooled last features>, which asks D
    directly whether the image is *this* emoji."""

    def __init__(self, n_classes: int, embed_dim: int = 50, size: int = 128, channels: int = 3, base: int = 64,
                 max_channels: int = 512, norm: str = "batch", attention: bool = False, recon: bool = False,
                 cond: str = "concat", mbstd: bool = False):
        super().__init__()
        if cond not in ("concat", "projection"):
            raise ValueError(f"unknown conditioning {cond!r}")
        self.n_classes, self.size, self.channels, self.cond = n_classes, size, channels, cond
        if cond == "concat":
            self.embed = nn.Embedding(n_classes, embed_dim)
            nn.init.normal_(self.embed.weight, 0.0, 1.0)
        self.net = Discriminator(size, channels, base, max_channels, extra_channels=embed_dim if cond == "concat" else 0,
                                 norm=norm, attention=attention, recon=recon, mbstd=mbstd)
        if cond == "projection":
            last = self.net.net[-1]
            c_last = (last.parametrizations.weight.original if hasattr(last, "parametrizations") else last.weight).shape[1]
            self.embed = nn.Embedding(n_classes, c_last)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor, part: torch.Tensor | None = None):
        if self.cond == "projection":
            return self._projection(x, labels, part)
        e = self.embed(labels)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3]).to(x.dtype)
        xe = torch.cat([x, e], dim=1)
        if x.is_contiguous(memory_format=torch.channels_last):
            xe = xe.contiguous(memory_format=torch.channels_last)
        return self.net(xe, part)

    def _projection(self, x, labels, part):
        recon = part is not None and self.net.recon
        h, maps = self.net.trunk(x, keep_maps=recon)
        proj = (self.embed(labels).to(h.dtype) * h.sum(dim=(2, 3))).sum(dim=1)
        logits = self.net.head(h)
        logits = logits + proj.to(logits.dtype)
        return (logits, self.net.recon_loss(x, maps, part)) if recon else logits
