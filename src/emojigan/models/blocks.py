"""Blocks that the quality presets add to the DCGAN stacks (the report's future work, section 7):

- `SelfAttention`: SAGAN's non-local block (Zhang et al. 2019), spatial awareness for features that sit
  far apart (two eyes and a mouth), with a learned gate that starts at 0 so the block begins as identity.
  As in BigGAN, keys and values are 2x2 max-pooled: at 32x32 a 1024x256 attention map instead of
  1024x1024, a quarter of the work of the block's dominant term.
- `SkipExcitation`: FastGAN's skip-layer excitation (Liu et al. 2021): a low-resolution map gates the
  channels of a map four times larger, a cheap long skip path that carries global layout to fine layers.
- `Decoder`: FastGAN's self-supervised discriminator head: a small decoder that reconstructs the image (or
  a quadrant of it) from D's 8x8 features, so D must learn features that describe the whole emoji
  instead of memorising ~100 images.
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


class SkipExcitation(nn.Module):
    """`high * sigmoid(f(pool4(low)))`: channel gates for the large map computed from the small one."""

    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.net = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_low, c_high, 4, 1, 0, bias=False),
                                 nn.LeakyReLU(0.1), nn.Conv2d(c_high, c_high, 1, bias=False), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.net(low)


class Decoder(nn.Module):
    """8x8 features -> a 32x32 image in [-1, 1] (two nearest-neighbour upsamplings + 3x3 convolutions)."""

    SIDE = 32

    def __init__(self, c_in: int, channels: int, width: int = 64):
        super().__init__()

        def up(a: int, b: int) -> list[nn.Module]:
            return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, 1, 1, bias=False),
                    nn.BatchNorm2d(b), nn.LeakyReLU(0.2, inplace=True)]

        self.net = nn.Sequential(*up(c_in, width), *up(width, width // 2),
                                 nn.Conv2d(width // 2, channels, 3, 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 8:
            x = F.adaptive_avg_pool2d(x, 8)
        return self.net(x)


def quadrants(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 4, C, H/2, W/2): top-left, top-right, bottom-left, bottom-right."""
    n, c, h, w = x.shape
    return x.reshape(n, c, 2, h // 2, 2, w // 2).permute(0, 2, 4, 1, 3, 5).reshape(n, 4, c, h // 2, w // 2)


def pick_quadrant(x: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """Quadrant `part[i]` (0-3) of each image: a gather on the device, no host synchronisation."""
    return quadrants(x)[torch.arange(len(x), device=x.device), part]


def to_side(x: torch.Tensor, side: int) -> torch.Tensor:
    return x if x.shape[-1] == side else F.interpolate(x, size=(side, side), mode="area")


class MinibatchStd(nn.Module):
    """ProGAN's minibatch standard deviation (Karras et al. 2018): one extra channel holding the average
    standard deviation of the features across the batch, so D can see a batch that lacks variety (mode
    collapse) and push G toward diversity."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.float().std(dim=0, unbiased=False).add(1e-8).mean() if len(x) > 1 else x.new_zeros((), dtype=torch.float32)
        y = std.to(x.dtype).expand(x.shape[0], 1, x.shape[2], x.shape[3])
        out = torch.cat([x, y], dim=1)
        return out.contiguous(memory_format=torch.channels_last) if x.is_contiguous(memory_format=torch.channels_last) else out


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
