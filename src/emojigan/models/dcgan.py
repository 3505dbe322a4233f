"""The seed report's DCGAN (section 4), size-generic.

Generator: z (z_dim x 1 x 1) -> ConvTranspose2d 4x4 to a 4x4 map, then stride-2 ConvTranspose2d blocks
(BatchNorm + ReLU) doubling the side and halving the channels, and a last ConvTranspose2d to RGB(A) + Tanh.
At 64x64 the channels are 512 -> 256 -> 128 -> 64 -> 3, exactly the report's five layers; 32, 128 and 256
remove or add blocks. Discriminator: the mirror, 4x4 stride-2 Conv2d blocks with LeakyReLU(0.2) and
BatchNorm on all but the first, and a last 4x4 Conv2d to one logit (BCEWithLogits = the report's
Sigmoid + BCE, numerically safer).

Options (all off = the report's networks, same parameter names): `attention` puts a self-attention block
after the 32x32 map of G and D (the largest map below 32 on smaller images); D's `norm="spectral"` replaces
its BatchNorm by spectral normalisation.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import SelfAttention


def channels_at(side: int, size: int, base: int, max_channels: int) -> int:
    """Feature channels of the map at `side` px in a network for `size` px images (base at size/2)."""
    return min(max_channels, base * size // (2 * side))


def n_blocks(size: int) -> int:
    if size < 16 or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= 16, got {size}")
    return int(math.log2(size)) - 2  # stride-2 stages between 4x4 and size x size


def attention_side(size: int) -> int:
    """Where the self-attention block goes: the 32x32 map, or the largest map of a smaller network."""
    return min(32, size // 2)


def dcgan_init(m: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02); BatchNorm weights N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, z_dim: int = 100, size: int = 64, channels: int = 3, base: int = 64,
                 max_channels: int = 512, in_dim: int | None = None, attention: bool = False):
        super().__init__()
        self.z_dim, self.size, self.channels = z_dim, size, channels
        in_dim = in_dim or z_dim  # a conditional generator feeds z concatenated with an embedding
        side = 4
        c = channels_at(side, size, base, max_channels)
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c),
                                   nn.ReLU(True)]
        for _ in range(n_blocks(size) - 1):
            side *= 2
            c_out = channels_at(side, size, base, max_channels)
            layers += [nn.ConvTranspose2d(c, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            if attention and side == attention_side(size):
                layers.append(SelfAttention(c_out))
            c = c_out
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.net(z)


class Discriminator(nn.Module):
    """`norm="batch"` is the report's D; `norm="spectral"` replaces BatchNorm by spectral normalisation of
    every convolution (Miyato et al. 2018), the usual Lipschitz control for small-data GANs."""

    def __init__(self, size: int = 64, channels: int = 3, base: int = 64, max_channels: int = 512,
                 extra_channels: int = 0, norm: str = "batch", attention: bool = False):
        super().__init__()
        if norm not in ("batch", "spectral"):
            raise ValueError(f"unknown discriminator norm {norm!r}")
        self.size, self.channels = size, channels
        spectral = norm == "spectral"

        def conv(c_in: int, c_out: int, stride: int, padding: int) -> nn.Module:
            layer = nn.Conv2d(c_in, c_out, 4, stride, padding, bias=spectral)
            dcgan_init(layer)
            return nn.utils.parametrizations.spectral_norm(layer) if spectral else layer

        side = size // 2
        c = channels_at(side, size, base, max_channels)
        layers: list[nn.Module] = [conv(channels + extra_channels, c, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        if attention and side == attention_side(size):
            layers.append(SelfAttention(c, spectral))
        for _ in range(n_blocks(size) - 1):
            side //= 2
            c_out = channels_at(side, size, base, max_channels)
            layers += [conv(c, c_out, 2, 1)] + ([] if spectral else [nn.BatchNorm2d(c_out)])
            layers += [nn.LeakyReLU(0.2, inplace=True)]
            if attention and side == attention_side(size):
                layers.append(SelfAttention(c_out, spectral))
            c = c_out
        layers += [conv(c, 1, 1, 0)]
        self.net = nn.Sequential(*layers)
        if not spectral:
            self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One real/fake logit per image, shape (N,)."""
        return self.net(x).flatten()
