"""Label fidelity of a conditional model: for samples drawn for each label, the share whose nearest real
emoji in feature space is that label's own emoji (top-1), or among its 5 nearest (top-5).

The shipped feature network was trained to tell OpenMoji *subgroups* apart, so two smiling faces sit close
in it; a second, feature-free measure asks the same question in pixel space: the share of samples whose
nearest real emoji by SSIM is the asked one (`label_fidelity_ssim_top1`).

Beside fidelity, the same samples give the model's **same-label diversity** (`label_diversity_ssim`): the SSIM
between two draws of one label. A conditional model trained on one emoji per label may draw each label alike for
every z; then its copy rate says how clean that one drawing is, not whether the noise makes new ones."""
from __future__ import annotations

import numpy as np
import torch

from ..image_stats import rgb01
from .memorization import nearest_ssim, ssim_matrix


def same_label_ssim(x: torch.Tensor, draws: int) -> torch.Tensor:
    """(L, draws * (draws - 1) / 2): the SSIM of every pair of draws of one label, for label-major samples `x`
    ((L * draws, C, H, W) in [-1, 1]), compared as evaluate compares images (over black, `ssim_matrix`)."""
    if draws < 2 or len(x) % draws:
        raise ValueError(f"{len(x)} samples are not labels of {draws} draws (at least 2) each")
    upper = torch.triu(torch.ones(draws, draws, dtype=torch.bool), diagonal=1)
    img = rgb01(x)
    return torch.stack([ssim_matrix(img[i:i + draws], img[i:i + draws])[upper] for i in range(0, len(x), draws)])


def label_fidelity(gen, space, real_feat: torch.Tensor, per_label: int = 8, seed: int = 0,
                   real: torch.Tensor | None = None, redraw: int = 0,
                   truncation: float | None = None) -> tuple[dict[str, float], dict[str, np.ndarray], torch.Tensor]:
    """Class i = real image i (as conditional training sets it up): a sample counts when its nearest real emoji
    is the asked one. Returns scalars, arrays (per-label top-1) and the samples (label-major) for the
    worst-labels grid."""
    n_classes = len(gen.classes)
    labels = [y for y in range(n_classes) for _ in range(per_label)]
    seeds = [seed + k for _ in range(n_classes) for k in range(per_label)]
    fake = gen.sample_tensor(seeds=seeds, labels=labels, truncation=truncation, redraw=redraw)
    feat = space(fake)
    d = torch.cdist(feat.double(), real_feat.double())
    nearest5 = d.topk(min(5, d.shape[1]), dim=1, largest=False).indices
    y = torch.tensor(labels)
    top1 = (nearest5[:, 0] == y).double()
    top5 = (nearest5 == y[:, None]).any(dim=1).double()
    per = top1.view(n_classes, per_label).mean(dim=1)
    scalars = {"label_fidelity_top1": float(top1.mean()), "label_fidelity_top5": float(top5.mean()),
               "label_fidelity_chance": 1 / n_classes, "label_fidelity_per_label_n": per_label}
    if fake.ndim == 4:  # images (a test's stand-in generator may draw feature vectors)
        pairs = same_label_ssim(fake, per_label)
        scalars |= {"label_diversity_ssim": float(pairs.mean()),
                    "label_diversity_share_095": float((pairs >= 0.95).double().mean())}
    if real is not None:
        _, idx = nearest_ssim(fake, real)
        scalars["label_fidelity_ssim_top1"] = float((idx.cpu() == y).double().mean())
    return scalars, {"label_fidelity_per_label": per.numpy()}, fake
