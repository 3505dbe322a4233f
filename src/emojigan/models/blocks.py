"""Blocks that the quality presets add to the DCGAN stacks (the report's future work, section 7):

- `SelfAttention`: SAGAN's non-local block (Zhang et al. 2019), spatial awareness for features that sit
  far apart (two eyes and a mouth), with a learned gate that starts at 0 so the block begins as identity.
  As in BigGAN, keys and values are 2x2 max-pooled: at 32x32 a 1024x256 attention map instead of
  1024x1024, a quarter of the work of the block's dominant term.
- `PatchDiscriminator`: PatchGAN's local critic, trained beside D against speckle (cond128 uses it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, channels: int, spectral: bool = False):
        super().__init__()
        wrap = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
        inner = max(channels // 8, 1)
        self.q = wrap(nn.Conv2d(channels, inner, 1, bias=False))
        self.k = wrap(nn.Conv2d(channels, inner, 1, bias=False))
        self.v = wrap(nn.Conv2d(channels, max(channels // 2, 1), 1, bias=False))
        self.o = wrap(nn.Conv2d(max(channels // 2, 1), channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)                       # (N, HW, C/8)
        k = F.max_pool2d(self.k(x), 2).flatten(2)                      # (N, C/8, HW/4)
        v = F.max_pool2d(self.v(x), 2).flatten(2).transpose(1, 2)      # (N, HW/4, C/2)
        a = torch.softmax(torch.bmm(q, k), dim=-1)                     # SAGAN: no temperature
        a = torch.bmm(a, v).transpose(1, 2).reshape(n, -1, h, w)
        if x.is_contiguous(memory_format=torch.channels_last):
            a = a.contiguous(memory_format=torch.channels_last)
        return x + self.gamma.to(a.dtype) * self.o(a)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017, pix2pix): a small fully convolutional critic with a local receptive field
    that scores every patch of an image, not the whole image. pix2pix uses it to model exactly what a global
    D lets through: high-frequency structure (speckle on flat colour, ragged strokes). `layers` stride-2 4x4
    convolutions (widths base, 2 base, ...) then a 4x4 convolution to one logit per patch: receptive field
    4 + 3 (2 + 4 + ...) pixels, 22 for 2 layers, 46 for 3. Spectral norm and no BatchNorm, so its score of an
    image does not depend on the rest of the batch. Unconditional: it judges texture, not labels."""

    def __init__(self, channels: int, layers: int = 2, base: int = 64, max_channels: int = 256):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        mods: list[nn.Module] = []
        c_in = channels
        for i in range(layers):
            c_out = min(base * 2 ** i, max_channels)
            mods += [sn(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            c_in = c_out
        mods.append(sn(nn.Conv2d(c_in, 1, 4, 1, 1)))
        self.net = nn.Sequential(*mods)

    @staticmethod
    def receptive_field(layers: int) -> int:
        return 4 + sum(3 * 2 ** i for i in range(1, layers + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, P) logits, one per patch."""
        return self.net(x).flatten(1)
