"""The report's conditional DCGAN (section 8), size-generic.

G: z (z_dim) concatenated with a learned label embedding (embed_dim, 50 in the report) feeds the DCGAN
generator stack (150 inputs at the report's settings). D: the label's own embedding, spread over the
image as an embed_dim-channel map, is concatenated to the image channels before the DCGAN discriminator
stack. `embedding=` lets latent tools (interpolation, later text prompts) feed G any point of the
embedding space instead of a label."""
from __future__ import annotations

import torch
from torch import nn

from .dcgan import Discriminator, Generator


class CondGenerator(nn.Module):
    def __init__(self, n_classes: int, z_dim: int = 100, embed_dim: int = 50, size: int = 128, channels: int = 3,
                 base: int = 64, max_channels: int = 512, attention: bool = False):
        super().__init__()
        if n_classes < 1:
            raise ValueError("a conditional generator needs at least one class")
        self.n_classes, self.z_dim, self.embed_dim = n_classes, z_dim, embed_dim
        self.size, self.channels = size, channels
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.net = Generator(z_dim, size, channels, base, max_channels, in_dim=z_dim + embed_dim, attention=attention)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                embedding: torch.Tensor | None = None) -> torch.Tensor:
        e = self.embed(labels) if embedding is None else embedding
        return self.net(torch.cat([z.flatten(1), e.to(z.dtype)], dim=1))


class CondDiscriminator(nn.Module):
    """The report's D: the label embedding concatenated to the image as extra channels."""

    def __init__(self, n_classes: int, embed_dim: int = 50, size: int = 128, channels: int = 3, base: int = 64,
                 max_channels: int = 512, norm: str = "batch", attention: bool = False):
        super().__init__()
        self.n_classes, self.size, self.channels = n_classes, size, channels
        self.embed = nn.Embedding(n_classes, embed_dim)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)
        self.net = Discriminator(size, channels, base, max_channels, extra_channels=embed_dim, norm=norm,
                                 attention=attention)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        e = self.embed(labels)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3]).to(x.dtype)
        xe = torch.cat([x, e], dim=1)
        if x.is_contiguous(memory_format=torch.channels_last):
            xe = xe.contiguous(memory_format=torch.channels_last)
        return self.net(xe)
