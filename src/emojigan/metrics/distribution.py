"""Distribution metrics in feature space: KID (unbiased; subsets no larger than the real set) and FID via
torchmetrics on precomputed features, precision/recall (Kynkaanniemi et al. 2019, k=3) on fixed-size sets of
samples, coverage (Naeem et al. 2020), PCA and t-SNE."""
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
        # sync_on_compute off: the features are this process's own; under torchrun only rank 0 evaluates, and
        # torchmetrics' default sync waited there for ranks that never came (a deadlock at the first evaluation)
        m = KernelInceptionDistance(feature=Precomputed(real_feat.shape[1]), subsets=subsets,
                                    subset_size=size, sync_on_compute=False)
    m.update(real_feat.double(), real=True)
    m.update(fake_feat.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = m.compute()
    return float(mean), float(std)


def fid(real_feat: torch.Tensor, fake_feat: torch.Tensor) -> float:
    from torchmetrics.image.fid import FrechetInceptionDistance

    m = FrechetInceptionDistance(feature=Precomputed(real_feat.shape[1]), sync_on_compute=False)
    m.update(real_feat.double(), real=True)
    m.update(fake_feat.double(), real=False)
    return float(m.compute())


def kth_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, D) points -> (N,) distance from each to its k-th nearest other point: the radius of its k-NN ball
    in precision/recall (Kynkaanniemi et al. 2019)."""
    d = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")
    return d.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0


# Samples per precision/recall set: the quality issue's protocol (256 samples against the 111 faces). Recall's
# balls are the k-NN radii among the samples, so they shrink as samples are added: with 4-5 samples of each
# emoji, a model that draws all 111 faces (cond128, downsampled) reads 0.97 at 256 samples but 0.22 at 512,
# its k=3 neighbours being its own near-identical drawings of one emoji (docs/RESULTS.md, "Recall depends on
# the sample count"). Larger evaluations average disjoint sets of this size instead of growing the set.
PR_SET = 256


def _pr_masks(real_feat: torch.Tensor, fake_feat: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fakes inside some real's k-NN ball, reals inside some fake's k-NN ball): boolean masks."""
    real_feat, fake_feat = real_feat.double(), fake_feat.double()
    r_real, r_fake = kth_radius(real_feat, k), kth_radius(fake_feat, k)
    d = torch.cdist(fake_feat, real_feat, compute_mode="donot_use_mm_for_euclid_dist")  # (fake, real)
    return (d <= r_real[None, :]).any(dim=1), (d <= r_fake[:, None]).any(dim=0)


def precision_recall(real_feat: torch.Tensor, fake_feat: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Precision: share of fakes inside some real's k-NN ball; recall: share of reals inside some fake's."""
    precise, recalled = _pr_masks(real_feat, fake_feat, k)
    return float(precise.double().mean()), float(recalled.double().mean())


def precision_recall_sets(real_feat: torch.Tensor, fake_feat: torch.Tensor, k: int = 3,
                          size: int = PR_SET) -> tuple[dict[str, float], np.ndarray]:
    """Precision and recall averaged over the disjoint sets of `size` consecutive samples (all samples when
    there are fewer; a last partial set is left out), with recall's spread over the sets; and, per real emoji,
    the number of sets that recall it (0 = no set of samples comes near it: an emoji the model misses)."""
    n_sets = max(1, len(fake_feat) // size)
    size = min(size, len(fake_feat))
    masks = [_pr_masks(real_feat, fake_feat[i * size:(i + 1) * size], k) for i in range(n_sets)]
    pr = np.array([[float(p.double().mean()), float(r.double().mean())] for p, r in masks])
    hits = torch.stack([r for _, r in masks]).sum(0).numpy().astype(np.int32)
    return {"precision": float(pr[:, 0].mean()), "recall": float(pr[:, 1].mean()),
            "recall_min": float(pr[:, 1].min()), "recall_max": float(pr[:, 1].max()),
            "pr_sets": n_sets, "pr_set_size": size, "recall_missed": int((hits == 0).sum())}, hits


def coverage(real_feat: torch.Tensor, fake_feat: torch.Tensor, k: int = 1) -> float:
    """Naeem et al. 2020: share of real emojis whose own k-NN ball (among the reals) holds some sample. Its
    balls come from the fixed real set. With k=1: some sample is nearer to the emoji than any other real
    emoji is (Naeem's k=5 suits large sets; among 111 faces every ball of k >= 3 holds a sample of the shipped
    faces64 at 512 samples, and a collapse onto one sample reads 0.01 at k=1)."""
    real_feat, fake_feat = real_feat.double(), fake_feat.double()
    d = torch.cdist(real_feat, fake_feat, compute_mode="donot_use_mm_for_euclid_dist")  # (real, fake)
    return float((d.min(dim=1).values <= kth_radius(real_feat, k)).double().mean())


@register("kid")
def _kid(d: EvalData):
    mean, std = kid(d.real_feat, d.fake_feat, seed=d.seed)
    return {"kid": mean, "kid_std": std, "fid": fid(d.real_feat, d.fake_feat)}, {}


@register("precision_recall")
def _pr(d: EvalData):
    scalars, hits = precision_recall_sets(d.real_feat, d.fake_feat, 3)
    return {**scalars, "coverage": coverage(d.real_feat, d.fake_feat)}, {"recall_hits": hits}


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
