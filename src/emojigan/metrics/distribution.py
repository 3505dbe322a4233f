"""Distribution metrics in feature space: KID (unbiased; subsets no larger than the real set) and FID via
torchmetrics on precomputed features, precision/recall (Kynkaanniemi et al. 2019, k=3), PCA and t-SNE."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from . import EvalData, register


class Precomputed(nn.Module):
    """Lets torchmetrics' KID/FID take features we already extracted (its `feature=` custom-module hook)."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def kid(real_feat: torch.Tensor, fake_feat: torch.Tensor, subsets: int = 100, seed: int = 0) -> tuple[float, float]:
    """Unbiased KID (polynomial kernel, degree 3), mean and std over random subsets of size
    min(1000, N_real, N_fake): the usual 1000 cannot be drawn from 111 real emojis."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(1000, len(real_feat), len(fake_feat))
    with warnings.catch_warnings():  # its note on keeping features in memory: ours are already in memory
        warnings.simplefilter("ignore", UserWarning)
        m = KernelInceptionDistance(feature=Precomputed(real_feat.shape[1]), subsets=subsets,
                                    subset_size=size)
    m.update(real_feat.double(), real=True)
    m.update(fake_feat.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = m.compute()
    return float(mean), float(std)


def fid(real_feat: torch.Tensor, fake_feat: torch.Tensor) -> float:
    from torchmetrics.image.fid import FrechetInceptionDistance

    m = FrechetInceptionDistance(feature=Precomputed(real_feat.shape[1]))
    m.update(real_feat.double(), real=True)
    m.update(fake_feat.double(), real=False)
    return float(m.compute())


def _kth_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    d = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")
    return d.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0


def precision_recall(real_feat: torch.Tensor, fake_feat: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Precision: share of fakes inside some real's k-NN ball; recall: share of reals inside some fake's."""
    real_feat, fake_feat = real_feat.double(), fake_feat.double()
    r_real, r_fake = _kth_radius(real_feat, k), _kth_radius(fake_feat, k)
    d = torch.cdist(fake_feat, real_feat, compute_mode="donot_use_mm_for_euclid_dist")  # (fake, real)
    precision = (d <= r_real[None, :]).any(dim=1).double().mean()
    recall = (d <= r_fake[:, None]).any(dim=0).double().mean()
    return float(precision), float(recall)


@register("kid")
def _kid(d: EvalData):
    mean, std = kid(d.real_feat, d.fake_feat, seed=d.seed)
    return {"kid": mean, "kid_std": std, "fid": fid(d.real_feat, d.fake_feat)}, {}


@register("precision_recall")
def _pr(d: EvalData):
    p, r = precision_recall(d.real_feat, d.fake_feat, 3)
    return {"precision": p, "recall": r}, {}


@register("feature_stats")
def _feature_stats(d: EvalData):
    """Per-dimension feature variance and pairwise feature distances (the report's last two figures)."""
    fv, rv = d.fake_feat.var(0).numpy(), d.real_feat.var(0).numpy()
    fd = torch.pdist(d.fake_feat.double()).numpy()
    rd = torch.pdist(d.real_feat.double()).numpy()
    return ({"feature_variance_mean": float(fv.mean()), "feature_variance_mean_real": float(rv.mean()),
             "feature_distance_mean": float(fd.mean()), "feature_distance_mean_real": float(rd.mean())},
            {"feature_variance": fv, "feature_variance_real": rv, "feature_distances": fd.astype(np.float32),
             "feature_distances_real": rd.astype(np.float32)})


@register("embedding")
def _embedding(d: EvalData):
    """PCA and t-SNE of generated and real features together (rows: fake first, then real)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = torch.cat([d.fake_feat, d.real_feat]).double().numpy()
    pca = PCA(n_components=2, random_state=d.seed)
    p = pca.fit_transform(x)
    perplexity = float(min(30, (len(x) - 1) / 3))
    t = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=d.seed).fit_transform(x)
    return ({"pca_explained_variance_2d": float(pca.explained_variance_ratio_.sum())},
            {"pca": p.astype(np.float32), "tsne": t.astype(np.float32),
             "embedding_is_real": np.r_[np.zeros(len(d.fake_feat)), np.ones(len(d.real_feat))].astype(bool)})
