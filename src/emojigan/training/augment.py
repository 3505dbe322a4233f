"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", 2020): the same
random, differentiable colour / translation / cutout transforms applied to real and generated images in
both the D and the G step, so D cannot memorise ~100 training images and G still gets useful gradients.
Follows the authors' reference policy; randomness comes from the caller's generator (exact resumes).

With a probability `p` (a 0-dim device tensor), each transform is applied to each image with probability
p instead of always: the adaptive augmentation of StyleGAN2-ADA (Karras et al. 2020), where the training
loop raises p while D overfits (E[sign D(real)] above a target) and lowers it otherwise."""
from __future__ import annotations

import torch
import torch.nn.functional as F



def _rand(x: torch.Tensor, g: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=g, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    n = x.shape[0]
    rgb, alpha = x[:, :3], x[:, 3:]
    rgb = rgb + (_rand(x, g, n, 1, 1, 1) - 0.5)                                   # brightness
    mean = rgb.mean(dim=1, keepdim=True)
    rgb = (rgb - mean) * (_rand(x, g, n, 1, 1, 1) * 2) + mean                      # saturation
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = (rgb - mean) * (_rand(x, g, n, 1, 1, 1) + 0.5) + mean                    # contrast
    return torch.cat([rgb, alpha], dim=1)


def translation(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), generator=g, device=x.device)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=g, device=x.device)
    by, gy, gx = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy + ty + 1, 0, h + 1)
    gx = torch.clamp(gx + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # zeros outside, as in the reference
    return padded.permute(0, 2, 3, 1)[by, gy, gx].permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def cutout(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g, device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g, device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= oy - ch // 2) & (ys < oy - ch // 2 + ch) & (xs >= ox - cw // 2) & (xs < ox - cw // 2 + cw)
    return x * (~inside)[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor, policy: str, g: torch.Generator | None = None,
                 p: torch.Tensor | None = None) -> torch.Tensor:
    """Apply the comma-separated `policy` ("color,translation,cutout") to a batch in [-1, 1]; with `p`, each
    transform reaches each image with probability p (drawn on the device: no host synchronisation)."""
    for name in (q.strip() for q in policy.split(",") if q.strip()):
        y = {"color": color, "translation": translation, "cutout": cutout}[name](x, g)
        if p is not None:
            keep = torch.rand(x.shape[0], 1, 1, 1, generator=g, device=x.device) >= p
            y = torch.where(keep, x, y)
        x = y
    return x


def mirror_some(x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
    """Each image of the batch mirrored left-right with probability 1/2 (`train.mirror`: dataset x-flips, real
    images only; unlike DiffAugment, G learns the mirrored images as data). Drawn on the device."""
    flip = torch.rand(x.shape[0], 1, 1, 1, generator=g, device=x.device) < 0.5
    return torch.where(flip, x.flip(-1), x)


class AdaptiveP:
    """The ADA controller: p moves by sign(E[sign D(real)] - target) * images / (kimg * 1000), clamped to
    [0, 1]. It lives on the device (the augmentations read it without a sync); `update` runs at the
    loop's loss-reading interval with the mean sign accumulated since the last read."""

    def __init__(self, target: float, kimg: float, device: torch.device, p: float = 0.0):
        self.target, self.kimg = target, kimg
        self.p = torch.tensor(float(p), device=device)

    def update(self, mean_sign: float, n_images: int) -> float:
        step = n_images / (self.kimg * 1000)
        self.p.add_(step if mean_sign > self.target else -step).clamp_(0.0, 1.0)
        return float(self.p)
