"""The seed report's DCGAN (section 4), size-generic.

Generator: z (z_dim x 1 x 1) -> ConvTranspose2d 4x4 to a 4x4 map, then stride-2 ConvTranspose2d blocks
(BatchNorm + ReLU) doubling the side and halving the channels, and a last ConvTranspose2d to RGB(A) + Tanh.
At 64x64 the channels are 512 -> 256 -> 128 -> 64 -> 3, exactly the report's five layers; 32, 128 and 256
remove or add blocks. Discriminator: the mirror, 4x4 stride-2 Conv2d blocks with LeakyReLU(0.2) and
BatchNorm on all but the first, and a last 4x4 Conv2d to one logit (BCEWithLogits = the report's
Sigmoid + BCE, numerically safer).

Options the quality presets switch on (all off = the report's networks, same parameter names):
`attention` puts a self-attention block after the 32x32 map of G and D (the largest map below 32 on
smaller images); `sle` adds skip-layer excitation in G from every map to the one four times larger;
`recon` gives D two decoders that reconstruct the image from its 8x8 map and a random quadrant from its
16x16 map (FastGAN's self-supervised discriminator; the loss is computed when `part` is passed); `mbstd`
adds ProGAN's minibatch-standard-deviation channel before D's last convolution; `upsample="resize"` makes
each of G's stride-2 transposed convolutions a nearest-neighbour 2x upsampling followed by a 3x3 convolution
(Odena et al. 2016, "Deconvolution and checkerboard artifacts"): every output pixel is then computed with the
same kernel, where a 4x4 stride-2 transposed convolution uses a different 2x2 sub-kernel for each of the four
pixel phases, the source of checkerboard patterns.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Decoder, MinibatchStd, SelfAttention, SkipExcitation, pick_quadrant, to_side


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


UPSAMPLES = ("transposed", "resize")


def _up(c_in: int, c_out: int, mode: str) -> list[nn.Module]:
    """One doubling of G's side: the report's 4x4 stride-2 transposed convolution, or resize + 3x3 conv."""
    if mode == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]


class Generator(nn.Module):
    def __init__(self, z_dim: int = 100, size: int = 64, channels: int = 3, base: int = 64,
                 max_channels: int = 512, in_dim: int | None = None, attention: bool = False, sle: bool = False,
                 upsample: str = "transposed"):
        super().__init__()
        if upsample not in UPSAMPLES:
            raise ValueError(f"unknown upsampling {upsample!r}; choose one of {', '.join(UPSAMPLES)}")
        self.z_dim, self.size, self.channels = z_dim, size, channels
        in_dim = in_dim or z_dim  # a conditional generator feeds z concatenated with an embedding
        side = 4
        c = channels_at(side, size, base, max_channels)
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c),
                                   nn.ReLU(True)]
        for _ in range(n_blocks(size) - 1):
            side *= 2
            c_out = channels_at(side, size, base, max_channels)
            layers += [*_up(c, c_out, upsample), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            if attention and side == attention_side(size):
                layers.append(SelfAttention(c_out))
            c = c_out
        layers += [*_up(c, channels, upsample), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.sle = nn.ModuleDict({str(4 * s): SkipExcitation(channels_at(s, size, base, max_channels),
                                                              channels_at(4 * s, size, base, max_channels))
                                  for s in (4 * 2 ** i for i in range(n_blocks(size))) if sle and 4 * s <= size // 2})
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        if not self.sle:
            return self.net(z)
        h, maps = z, {}
        for layer in self.net:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                side = h.shape[-1]
                if str(side) in self.sle:
                    h = self.sle[str(side)](maps[side // 4], h)
                maps[side] = h
        return h


class Discriminator(nn.Module):
    """`norm="batch"` is the report's D; `norm="spectral"` replaces BatchNorm by spectral normalisation of
    every convolution (Miyato et al. 2018), the usual Lipschitz control for small-data GANs."""

    def __init__(self, size: int = 64, channels: int = 3, base: int = 64, max_channels: int = 512,
                 extra_channels: int = 0, norm: str = "batch", attention: bool = False, recon: bool = False,
                 mbstd: bool = False, pack: int = 1):
        super().__init__()
        if norm not in ("batch", "spectral"):
            raise ValueError(f"unknown discriminator norm {norm!r}")
        if pack > 1 and recon:
            raise ValueError("a packed discriminator has no self-supervised decoders")
        self.size, self.channels, self.pack = size, channels, pack
        spectral = norm == "spectral"

        def conv(c_in: int, c_out: int, stride: int, padding: int) -> nn.Module:
            layer = nn.Conv2d(c_in, c_out, 4, stride, padding, bias=spectral)
            dcgan_init(layer)
            return nn.utils.parametrizations.spectral_norm(layer) if spectral else layer

        side = size // 2
        c = channels_at(side, size, base, max_channels)
        layers: list[nn.Module] = [conv((channels + extra_channels) * pack, c, 2, 1),
                                   nn.LeakyReLU(0.2, inplace=True)]
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
        if mbstd:
            layers.append(MinibatchStd())
        layers += [conv(c + int(mbstd), 1, 1, 0)]
        self.net = nn.Sequential(*layers)
        if not spectral:
            self.apply(dcgan_init)
        self.recon = recon
        if recon:
            if size < 32:
                raise ValueError("the self-supervised discriminator needs images of at least 32x32")
            self.decode_full = Decoder(channels_at(8, size, base, max_channels), channels)
            self.decode_part = Decoder(channels_at(16, size, base, max_channels), channels)
            self.decode_full.apply(dcgan_init)
            self.decode_part.apply(dcgan_init)

    def trunk(self, x: torch.Tensor, keep_maps: bool = False) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Every layer but the last convolution: its input features, and (`keep_maps`) the activation maps
        by side, which the self-supervised decoders read."""
        h, maps = x, {}
        for layer in self.net[:-1]:
            h = layer(h)
            if keep_maps and isinstance(layer, nn.LeakyReLU):
                maps[h.shape[-1]] = h
        return h, maps

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """The last convolution: one logit per image, shape (N,)."""
        return self.net[-1](h).flatten()

    def recon_loss(self, x: torch.Tensor, maps: dict[int, torch.Tensor], part: torch.Tensor) -> torch.Tensor:
        """L1 of the decoders' images against the input's first `channels` channels: the whole image from the
        8x8 map, quadrant `part[i]` from the 16x16 map."""
        img, side = x[:, :self.channels], Decoder.SIDE
        return (F.l1_loss(self.decode_full(maps[8]).float(), to_side(img, side).float())
                + F.l1_loss(self.decode_part(pick_quadrant(maps[16], part)).float(),
                            to_side(pick_quadrant(img, part), side).float()))

    def forward(self, x: torch.Tensor, part: torch.Tensor | None = None):
        """One real/fake logit per image, shape (N,), or per pack of `pack` consecutive images (PacGAN; a
        remainder short of a pack is left out). With `part` (a quadrant index 0-3 per image) and `recon`, also
        the self-supervised reconstruction loss."""
        recon = part is not None and self.recon
        if self.pack > 1:  # PacGAN: each pack's images stacked on the channels
            n = x.shape[0] // self.pack * self.pack
            x = x[:n].reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:])
        h, maps = self.trunk(x, keep_maps=recon)
        logits = self.head(h)
        return (logits, self.recon_loss(x, maps, part)) if recon else logits
