"""Image-space statistics of the report's section 7: colour distribution, edge quality (Sobel), noise
(high-frequency residual against a 3x3 median filter) and pairwise pixel distances; for RGBA models, faint alpha
(the grey specks of a transparent background, which the noise measure composited over black cannot see) and
stray fragments (tiny detached opaque bits: broken outlines); and mottled fill (blotchy texture in flat colour)."""
from __future__ import annotations

import numpy as np
import torch

from ..images import BACKGROUND_RGB
from . import EvalData, register


def rgb01(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] (N, C, H, W) -> float (N, 3, H, W) in [0, 1], as the images look: RGBA composited over black."""
    x = (x.float().clamp(-1, 1) + 1) / 2
    return x[:, :3] * x[:, 3:4] if x.shape[1] == 4 else x


def to_rgb01(x: torch.Tensor, background: str = "black") -> np.ndarray:
    """[-1, 1] (N, C, H, W) -> float (N, H, W, 3) in [0, 1]; RGBA is composited over black."""
    return rgb01(x).permute(0, 2, 3, 1).cpu().numpy()


def edge_strength(imgs: np.ndarray) -> np.ndarray:
    """Mean Sobel gradient magnitude of each image's grey levels (skimage.filters.sobel)."""
    from skimage.color import rgb2gray
    from skimage.filters import sobel

    return np.array([sobel(rgb2gray(im)).mean() for im in imgs])


def median_residual(img: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images minus their 3x3 median filter per channel (edges replicated), the median held
    constant: the high-frequency residual `noise_energy` measures and the grain loss (training.step) trains on.
    A 3x3 median keeps edges and flat fills and removes single-pixel specks, so the residual is the specks."""
    import torch.nn.functional as F

    win = F.pad(img, (1, 1, 1, 1), mode="replicate").unfold(2, 3, 1).unfold(3, 3, 1)  # (N, C, H, W, 3, 3)
    return img - win.reshape(*win.shape[:4], 9).median(dim=-1).values.detach()


def noise_energy(imgs: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Mean squared residual of each (N, H, W, C) image against its 3x3 median filter (per channel)."""
    x = torch.from_numpy(np.ascontiguousarray(imgs, dtype=np.float32)).permute(0, 3, 1, 2)
    out = np.zeros(len(x))
    with torch.no_grad():
        for i in range(0, len(x), chunk):  # in chunks: the 3x3 windows hold 9 copies of the images
            out[i:i + chunk] = median_residual(x[i:i + chunk]).square().mean(dim=(1, 2, 3)).numpy()
    return out


def foreground_hsv(imgs: np.ndarray, background: str, max_pixels: int = 200_000, seed: int = 0) -> np.ndarray:
    """HSV of pixels that differ from the background colour (the emoji itself), (M, 3) in [0, 1]."""
    from skimage.color import rgb2hsv

    bg = np.array(BACKGROUND_RGB.get(background, (0, 0, 0))) / 255.0
    px = imgs.reshape(-1, 3)
    px = px[np.abs(px - bg).max(axis=1) > 0.1]
    if len(px) > max_pixels:
        px = px[np.random.default_rng(seed).choice(len(px), max_pixels, replace=False)]
    return rgb2hsv(px[None])[0] if len(px) else np.zeros((0, 3))


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
    from scipy import ndimage

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
    import torch.nn.functional as F

    mean = F.avg_pool2d(img, k, 1, k // 2, count_include_pad=False)
    sq = F.avg_pool2d(img * img, k, 1, k // 2, count_include_pad=False)
    return ((sq - mean * mean).clamp_min(0).sum(1, keepdim=True) + eps).sqrt()


def fill_interior(x: torch.Tensor, k: int = FILL_WINDOW) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 1, H, W) bool: the pixels whose whole k x k window is opaque (alpha above
    0.99), where an RGBA image's colour means something and its window lies inside the emoji; every pixel of an
    RGB image."""
    import torch.nn.functional as F

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


def _ratio(fake: float, real: float) -> float:
    """fake / real. Where the real images have none of the quantity (flat images: no edges, no noise; no faint
    alpha), none in the samples reads 1 (as the real) and any reads as a large ratio, with no division by zero."""
    fake, real = float(fake), float(real)
    if real < 1e-9:
        return 1.0 if fake < 1e-9 else fake / 1e-9
    return fake / real


@register("image_stats")
def _image_stats(d: EvalData):
    real, fake = to_rgb01(d.real), to_rgb01(d.fake)
    bg = "black" if d.background == "transparent" else d.background
    e_r, e_f = edge_strength(real), edge_strength(fake)
    n_r, n_f = noise_energy(real), noise_energy(fake)
    hsv_r, hsv_f = foreground_hsv(real, bg, seed=d.seed), foreground_hsv(fake, bg, seed=d.seed)
    pd_f = torch.pdist(torch.from_numpy(fake.reshape(len(fake), -1)).double()).numpy()
    pd_r = torch.pdist(torch.from_numpy(real.reshape(len(real), -1)).double()).numpy()
    scalars = {
        "edge_mean": float(e_f.mean()), "edge_mean_real": float(e_r.mean()),
        "edge_ratio": _ratio(e_f.mean(), e_r.mean()),
        "noise_energy": float(n_f.mean()), "noise_energy_real": float(n_r.mean()),
        "noise_ratio": _ratio(n_f.mean(), n_r.mean()),
        "pixel_distance_mean": float(pd_f.mean()), "pixel_distance_mean_real": float(pd_r.mean()),
        "hue_std": float(hsv_f[:, 0].std()) if len(hsv_f) else 0.0,
        "hue_std_real": float(hsv_r[:, 0].std()) if len(hsv_r) else 0.0,
    }
    m_r, m_f = mottled_fill(d.real), mottled_fill(d.fake)
    scalars |= {"mottled_fill": float(m_f.mean()), "mottled_fill_real": float(m_r.mean())}
    if d.real.shape[1] == 4 and d.fake.shape[1] == 4:
        f_r, f_f = faint_alpha(d.real), faint_alpha(d.fake)
        scalars |= {"faint_alpha": float(f_f.mean()), "faint_alpha_real": float(f_r.mean()),
                    "faint_alpha_ratio": _ratio(f_f.mean(), f_r.mean())}
        s_r, s_f = stray_fragments(d.real), stray_fragments(d.fake)
        scalars |= {"stray_fragment_rate": float((s_f > 0).mean()), "stray_fragment_rate_real": float((s_r > 0).mean()),
                    "stray_fragments": float(s_f.mean())}
    rng = np.random.default_rng(d.seed)
    pick = lambda a, n: a[rng.choice(len(a), min(n, len(a)), replace=False)] if len(a) else a  # noqa: E731
    arrays = {"edges": e_f, "edges_real": e_r, "noise": n_f, "noise_real": n_r,
              "hsv": pick(hsv_f, 50_000).astype(np.float32), "hsv_real": pick(hsv_r, 50_000).astype(np.float32),
              "pixel_distances": pd_f.astype(np.float32), "pixel_distances_real": pd_r.astype(np.float32)}
    return scalars, arrays
