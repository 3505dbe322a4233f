"""Batched, on-device augmentation of RGBA emoji renders for training the feature network: random
affine (scale, shift, rotation, flip), background colour, colour jitter, blur, noise and cutout, so
that features are stable under what generators get slightly wrong."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _u(n: int, lo: float, hi: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (hi - lo) + lo


def augment(rgba: torch.Tensor, g: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """(N, 4, H, W) in [0, 1] -> (N, 3, H, W) in [-1, 1]."""
    n, dev = rgba.shape[0], rgba.device
    s = strength
    scale = _u(n, 1 - 0.2 * s, 1 + 0.2 * s, g, dev)
    angle = _u(n, -15 * s, 15 * s, g, dev) * math.pi / 180
    flip = torch.where(torch.rand(n, generator=g, device=dev) < 0.5, -1.0, 1.0)
    tx, ty = _u(n, -0.15 * s, 0.15 * s, g, dev), _u(n, -0.15 * s, 0.15 * s, g, dev)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(rgba.shape), align_corners=False)
    x = F.grid_sample(rgba, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    rgb, alpha = x[:, :3], x[:, 3:4]
    # background: black, white, a grey, or a random colour
    kind = torch.randint(0, 4, (n,), generator=g, device=dev)
    grey = torch.rand(n, 1, generator=g, device=dev).expand(n, 3)
    colour = torch.rand(n, 3, generator=g, device=dev)
    bg = torch.where((kind == 0)[:, None], 0.0, torch.where((kind == 1)[:, None], 1.0,
                                                             torch.where((kind == 2)[:, None], grey, colour)))
    x = rgb * alpha + bg[:, :, None, None] * (1 - alpha)
    # colour jitter: brightness, contrast, saturation
    x = x + _u(n, -0.1 * s, 0.1 * s, g, dev)[:, None, None, None]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * _u(n, 1 - 0.2 * s, 1 + 0.2 * s, g, dev)[:, None, None, None] + mean
    luma = x.mean(dim=1, keepdim=True)
    x = (x - luma) * _u(n, 1 - 0.3 * s, 1 + 0.3 * s, g, dev)[:, None, None, None] + luma
    # blur half of them a little, then noise
    k = torch.tensor([1.0, 2.0, 1.0], device=dev)
    k = (k[:, None] * k[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=3)
    x = torch.where((torch.rand(n, generator=g, device=dev) < 0.5 * s)[:, None, None, None], blurred, x)
    sigma = _u(n, 0, 0.06 * s, g, dev)[:, None, None, None]
    x = x + sigma * torch.randn(x.shape, generator=g, device=dev)
    # cutout: one square of a quarter side on a third of the images
    h = x.shape[-1]
    c = h // 4
    cy = torch.randint(0, h - c, (n,), generator=g, device=dev)
    cx = torch.randint(0, h - c, (n,), generator=g, device=dev)
    ys = torch.arange(h, device=dev)[None, :, None]
    xs = torch.arange(h, device=dev)[None, None, :]
    box = ((ys >= cy[:, None, None]) & (ys < cy[:, None, None] + c) & (xs >= cx[:, None, None])
           & (xs < cx[:, None, None] + c))
    use = (torch.rand(n, generator=g, device=dev) < 0.33 * s)[:, None, None]
    x = x * (~(box & use))[:, None].float()
    return (x.clamp(0, 1) * 2 - 1)
