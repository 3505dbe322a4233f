"""Image-space metrics of the report's section 7: colour distribution, edge quality (Sobel), noise
(high-frequency residual against a 3x3 median filter) and pairwise pixel distances; for RGBA models, faint alpha
(the grey specks of a transparent background, which the noise measure composited over black cannot see) and
stray fragments (tiny detached opaque bits: broken outlines); and mottled fill (blotchy texture in flat colour)."""
from __future__ import annotations

import numpy as np
import torch

from ..image_stats import faint_alpha, median_residual, mottled_fill, rgb01, stray_fragments
from ..images import BACKGROUND_RGB
from . import EvalData, register


def to_rgb01(x: torch.Tensor, background: str = "black") -> np.ndarray:
    """[-1, 1] (N, C, H, W) -> float (N, H, W, 3) in [0, 1]; RGBA is composited over black."""
    return rgb01(x).permute(0, 2, 3, 1).cpu().numpy()


def edge_strength(imgs: np.ndarray) -> np.ndarray:
    """Mean Sobel gradient magnitude of each image's grey levels (skimage.filters.sobel)."""
    from skimage.color import rgb2gray
    from skimage.filters import sobel

    return np.array([sobel(rgb2gray(im)).mean() for im in imgs])


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
