"""Pixel statistics that the training losses (losses.py) and the metrics (metrics/) both use, so that a loss
trains on exactly what `evaluate` measures: images as they look (RGBA over black), the residual against a 3x3
median, faint alpha, stray fragments (tiny detached opaque bits: broken outlines) and mottled fill."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def rgb01(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] (N, C, H, W) -> float (N, 3, H, W) in [0, 1], as the images look: RGBA composited over black."""
    x = (x.float().clamp(-1, 1) + 1) / 2
    return x[:, :3] * x[:, 3:4] if x.shape[1] == 4 else x


def pixel_l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) mean absolute difference of two batches in [-1, 1] as they look (RGBA over black), plus half that of the
    alpha channel: how far a reconstruction is from its target (GAN inversion, the learned encoder)."""
    loss = (rgb01(x) - rgb01(y)).abs().mean(dim=(1, 2, 3))
    if x.shape[1] == 4:
        loss = loss + (x[:, 3] - y[:, 3]).abs().mean(dim=(1, 2)) / 2
    return loss


def median_residual(img: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images minus their 3x3 median filter per channel (edges replicated), the median held
    constant: the high-frequency residual `evaluate`'s noise measure averages and the grain loss trains on.
    A 3x3 median keeps edges and flat fills and removes single-pixel specks, so the residual is the specks."""
    win = F.pad(img, (1, 1, 1, 1), mode="replicate").unfold(2, 3, 1).unfold(3, 3, 1)  # (N, C, H, W, 3, 3)
    return img - win.reshape(*win.shape[:4], 9).median(dim=-1).values.detach()


FAINT_ALPHA = (0.02, 0.25)  # alpha between these: anti-aliasing in the renders, stray specks in samples


def faint_alpha(x: torch.Tensor) -> np.ndarray:
    """Each RGBA image's share of faintly opaque pixels (alpha in FAINT_ALPHA, exclusive). A render has them only
    along anti-aliased outlines; a generator that leaves specks in the transparent background has many more."""
    a = (x[:, 3].float().clamp(-1, 1) + 1) / 2
    lo, hi = FAINT_ALPHA
    return ((a > lo) & (a < hi)).float().mean(dim=(1, 2)).cpu().numpy()


STRAY_PIXELS = 12  # at 64x64 (scaled with the image area): an opaque part this small is a fragment, not a feature


def stray_limit(h: int, w: int) -> int:
    """STRAY_PIXELS scaled from 64x64 to an h x w image (at least 1)."""
    return max(1, round(STRAY_PIXELS * h * w / 64 ** 2))


def small_parts(image: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, small) of a 2-D boolean image: its 4-connected parts (scipy.ndimage.label; 0 = background) and, per
    label, whether that part has at most `limit` pixels (False for the background)."""
    from scipy import ndimage  # slow to import; only RGBA models need it

    labels, n = ndimage.label(image)
    small = np.bincount(labels.ravel(), minlength=n + 1) <= limit
    small[0] = False
    return labels, small


def stray_fragments(x: torch.Tensor) -> np.ndarray:
    """Each RGBA image's count of stray fragments: opaque (alpha > 0.5) connected parts of at most STRAY_PIXELS
    pixels at 64x64 (scaled by area). Emojis' small parts (tears, sweat drops, sparkles) are larger; the broken bits
    of outline a generator leaves beside a face are not (`small_parts`, 4-connected)."""
    a = (x[:, 3].float().clamp(-1, 1) + 1) / 2
    limit = stray_limit(*a.shape[-2:])
    return np.array([int(small_parts(im, limit)[1].sum()) for im in (a > 0.5).cpu().numpy()])


FILL_WINDOW = 5       # px: the window of `local_std` (about an eye's width at 64x64)
MOTTLE_STD = (0.02, 0.08)  # a window's colour std between these: visible texture in a fill, not an edge (the renders'
                           # fills are flat, below 0.01; a window across an outline reaches 0.2-0.6)


def local_std(img: torch.Tensor, k: int = FILL_WINDOW, eps: float = 0.0) -> torch.Tensor:
    """(N, C, H, W) -> (N, 1, H, W): the colour standard deviation of each pixel's k x k window (the root of the
    channels' summed variances; windows cut by the border use the pixels they hold). `eps` is added under the root
    (a loss needs it: the root's slope is infinite at 0)."""
    mean = F.avg_pool2d(img, k, 1, k // 2, count_include_pad=False)
    sq = F.avg_pool2d(img * img, k, 1, k // 2, count_include_pad=False)
    return ((sq - mean * mean).clamp_min(0).sum(1, keepdim=True) + eps).sqrt()


def fill_interior(x: torch.Tensor, k: int = FILL_WINDOW) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 1, H, W) bool: the pixels whose whole k x k window is opaque (alpha above
    0.99), where an RGBA image's colour means something and its window lies inside the emoji; every pixel of an
    RGB image."""
    if x.shape[1] != 4:
        return torch.ones_like(x[:, :1], dtype=torch.bool)
    a = (x[:, 3:4].float().clamp(-1, 1) + 1) / 2
    return -F.max_pool2d(-a, k, 1, k // 2) > 0.99


def mottle_mask(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mottled, interior), each (N, 1, H, W) bool, of images in [-1, 1]: the interior pixels (`fill_interior`) and
    those of them whose window's colour std lies in MOTTLE_STD, the pixels `mottled_fill` counts."""
    x = x.float().clamp(-1, 1)
    s, inner = local_std((x[:, :3] + 1) / 2), fill_interior(x)
    lo, hi = MOTTLE_STD
    return (s >= lo) & (s < hi) & inner, inner


def mottled_fill(x: torch.Tensor, chunk: int = 64) -> np.ndarray:
    """Each image's share of interior pixels (`fill_interior`) whose window's colour std lies in MOTTLE_STD: a
    blotchy texture in what the renders draw as flat colour (their share: 2-3%), too coarse for the 3x3-median noise
    measure and too faint for an edge. Images without interior count 0."""
    out = np.zeros(len(x))
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            hit, inner = mottle_mask(x[i:i + chunk])
            out[i:i + chunk] = (hit.sum(dim=(1, 2, 3)).float() / inner.sum(dim=(1, 2, 3)).clamp_min(1)).numpy()
    return out
