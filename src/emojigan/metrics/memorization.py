"""Memorization: each generated sample's nearest training image in pixel space, feature space and by SSIM;
the distribution of nearest-training SSIM and the copy rate (share with nearest SSIM >= 0.95)."""
from __future__ import annotations

import torch

from . import EvalData, register
from ..image_stats import rgb01

COPY_SSIM = 0.95


def _gaussian_band(n: int, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(n, n) matrix M such that M @ signal is the signal reflect-padded by size // 2 and Gaussian-filtered
    ('valid'), i.e. what torchmetrics' SSIM does along one axis."""
    pad = size // 2
    x = torch.arange(size, dtype=torch.float64) - pad
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    band = torch.zeros(n, n + 2 * pad, dtype=torch.float64)
    for i in range(n):
        band[i, i:i + size] = g
    src = torch.arange(-pad, n + pad).abs()                 # reflect: -1 -> 1, n -> n - 2
    src = torch.where(src > n - 1, 2 * (n - 1) - src, src)
    reflect = torch.zeros(n + 2 * pad, n, dtype=torch.float64)
    reflect[torch.arange(n + 2 * pad), src] = 1
    return (band @ reflect).float()


def ssim_matrix(a: torch.Tensor, b: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """SSIM of every pair (a_i, b_j) of [0, 1] images, (N_a, N_b): Wang et al.'s index exactly as torchmetrics
    computes it (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, reflect padding, mean over pixels and channels).
    Gaussian filtering as two matrix products makes all-pairs SSIM ~100x faster than per-pair calls;
    tests check it against torchmetrics' own function."""
    h, w = a.shape[-2:]
    gh, gw = _gaussian_band(h).to(a.device), _gaussian_band(w).to(a.device)

    def filt(x: torch.Tensor) -> torch.Tensor:
        return gh @ x @ gw.T

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    a, b = a.float(), b.float()
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b = (filt(a * a) - mu_a ** 2).clamp_min(0), (filt(b * b) - mu_b ** 2).clamp_min(0)
    out = torch.empty(len(a), len(b), device=a.device)
    for i in range(0, len(a), chunk):
        ma, va = mu_a[i:i + chunk, None], var_a[i:i + chunk, None]
        cov = filt(a[i:i + chunk, None] * b[None]) - ma * mu_b[None]
        s = ((2 * ma * mu_b[None] + c1) * (2 * cov + c2)) / ((ma ** 2 + mu_b[None] ** 2 + c1) * (va + var_b[None] + c2))
        out[i:i + chunk] = s.mean(dim=(2, 3, 4))
    return out


def nearest_ssim(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each fake ([-1, 1]), the highest SSIM to any real image and that image's index. RGBA images are
    compared as they look, composited over black (as the image statistics are), not with alpha as a fourth
    channel: a noisy alpha outside the face then counts only where it shows."""
    s = ssim_matrix(rgb01(fake), rgb01(real))
    best, arg = s.max(dim=1)
    return best.cpu(), arg.cpu()


def nearest(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = torch.cdist(a.flatten(1).double(), b.flatten(1).double(), compute_mode="donot_use_mm_for_euclid_dist")
    v, i = d.min(dim=1)
    return v, i


@register("memorization")
def _memorization(d: EvalData):
    s, s_idx = nearest_ssim(d.fake, d.real)
    pix, pix_idx = nearest((d.fake + 1) / 2, (d.real + 1) / 2)
    feat, feat_idx = nearest(d.fake_feat, d.real_feat)
    order = torch.argsort(s, descending=True)
    return ({"ssim_nearest_mean": float(s.mean()), "ssim_nearest_max": float(s.max()),
             "copy_rate": float((s >= COPY_SSIM).double().mean()),
             # feature-free coverage: the share of real emojis that are some sample's nearest by SSIM
             "ssim_coverage": len(set(s_idx.tolist())) / len(d.real),
             "pixel_nearest_mean": float(pix.mean()), "feature_nearest_mean": float(feat.mean()),
             "nearest_agreement_pixel_feature": float((pix_idx == feat_idx).double().mean())},
            {"ssim_nearest": s.numpy(), "ssim_nearest_index": s_idx.numpy(),
             "pixel_nearest_index": pix_idx.numpy(), "feature_nearest_index": feat_idx.numpy(),
             "closest_order": order.numpy()})
