"""Group a training set into K clusters of look-alike images, for self-conditioned training.

A conditional GAN must draw every class it is asked for, so conditioning on clusters of the training set
pushes the generator to cover each group of emojis, where an unconditional one can drop the rare ones
(Liu et al. 2020, "Diverse Image Generation via Self-Conditioned GANs", cluster D's features during
training; we cluster once, before training, in the shipped OpenMoji feature space).

Why features and not pixels: k-means on 16x16 thumbnails of the 111 `faces` puts most yellow faces in two
or three big clusters and makes a singleton of every oddly coloured emoji (12 clusters: sizes 40, 37, 16, 5,
4, 2, 2 and five of 1), and a singleton class is one emoji to memorize; in feature space the same k-means
gives sizes 22 down to 4. The evaluation measures coverage in that same space, so runs that use clusters
also report feature-free measures (nearest-training SSIM) beside it.

Neighbourhoods (`model.neighbors`) are the instance-conditioned alternative (Casanova et al. 2021, IC-GAN):
every training image keeps its own class, but D's real image for class i is one of image i's k nearest
training images, so each class is a small overlapping neighbourhood: there are as many of them as images (no
emoji is left out of every class, as a rare one can be left out of an unconditional G's modes), and none is
a single image to memorize.

Rarity weights (`train.balance`) keep the data unconditional and change only how often D sees each image:
image i is drawn with probability proportional to r_i ** alpha, r_i its distance to its 3rd-nearest training
image (the radius k-NN recall uses), so the emojis that no other emoji resembles, which an unconditional G
drops first, are shown more often.

A focus list (`train.focus`) is the hard version: only the images it names are drawn. AdaGAN (Tolstikhin et al.
2017, "AdaGAN: Boosting Generative Models") adds mixture members trained on the data the mixture so far covers
worst; `emojigan evaluate` counts, per real emoji, the sets of samples that recall it (recall_hits.csv), and
scripts/focus_list.py turns the rarely recalled ones into a focus file for the next member.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError


def cluster_features(feat: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """(N, D) features -> (N,) int64 cluster of each: k-means (k-means++, 10 restarts). Clusters are
    numbered by their first member (image 0 is in cluster 0), so the numbering does not depend on k-means'."""
    from sklearn.cluster import KMeans

    n = len(feat)
    if not 1 <= k <= n:
        raise UserError(f"model.clusters {k}: the training set has {n} images; choose between 1 and {n}")
    if k == 1:
        return torch.zeros(n, dtype=torch.int64)
    raw = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(feat.double().cpu().numpy())
    order = {c: i for i, c in enumerate(dict.fromkeys(raw.tolist()))}  # first appearance -> 0, 1, ...
    return torch.tensor([order[c] for c in raw.tolist()], dtype=torch.int64)


def cluster_images(x: torch.Tensor, k: int, seed: int = 0, device: str | torch.device = "cpu") -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1] -> (N,) cluster of each, in the shipped OpenMoji feature space."""
    return cluster_features(openmoji_features(x, device), k, seed)


def openmoji_features(x: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1] -> (N, D) features of the shipped OpenMoji network, on the CPU."""
    from ..features import load_feature_space

    return load_feature_space("openmoji", device=device)(x.to(device)).cpu()


def nearest_neighbors(feat: torch.Tensor, k: int) -> torch.Tensor:
    """(N, D) features -> (N, k) int64: each image's k nearest images by Euclidean distance, itself first
    (ties broken by index, so the table does not depend on the device)."""
    n = len(feat)
    if not 1 <= k <= n:
        raise UserError(f"model.neighbors {k}: the training set has {n} images; choose between 1 and {n}")
    f = feat.double().cpu()
    dist = torch.cdist(f, f)
    dist.fill_diagonal_(-1.0)  # itself first, even beside an exact duplicate
    order = torch.sort(dist, dim=1, stable=True).indices  # stable: equal distances keep index order
    return order[:, :k].to(torch.int64).contiguous()


def neighbor_table(x: torch.Tensor, k: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1] -> (N, k) nearest training images of each, in the shipped OpenMoji
    feature space (the instance-conditioned GAN's neighbourhoods)."""
    return nearest_neighbors(openmoji_features(x, device), k)


def rarity_weights(feat: torch.Tensor, alpha: float, k: int = 3) -> torch.Tensor:
    """(N, D) features -> (N,) float64 sampling probabilities proportional to r_i ** alpha, r_i the distance
    from image i to its k-th nearest other image (k capped at N - 1); uniform for alpha = 0 or one image."""
    n = len(feat)
    if n < 2 or alpha == 0:
        return torch.full((n,), 1.0 / max(n, 1), dtype=torch.float64)
    from ..metrics.distribution import kth_radius  # recall's own ball radius

    r = kth_radius(feat.double().cpu(), min(k, n - 1))
    w = r.clamp_min(1e-12) ** alpha
    return w / w.sum()


def balance_weights(x: torch.Tensor, alpha: float, device: str | torch.device = "cpu") -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1] -> (N,) sampling probabilities of `rarity_weights`, in the shipped
    OpenMoji feature space."""
    return rarity_weights(openmoji_features(x, device), alpha)


def read_focus(path: str | Path) -> list[str]:
    """The names in a focus file: one per line, blank lines and # comments skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"train.focus {path}: cannot read it ({type(e).__name__}); give a text file of emoji "
                        f"names, one per line") from None
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    names = [n for n in names if n]
    if not names:
        raise UserError(f"train.focus {path} names no images; give one hexcode, character or annotation per line")
    return names


def focus_weights(data, path: str | Path) -> torch.Tensor:
    """(N,) float64 sampling probabilities: uniform over the training images the focus file at `path` names
    (OpenMoji hexcode, character or annotation, or a file stem for a folder of images), 0 for the others."""
    from .names import LabelIndex

    classes = [{**(data.labels[i] if data.labels else {}), "stem": data.names[i]} for i in range(len(data))]
    for c in classes:
        c.setdefault("hexcode", c["stem"])
    index = LabelIndex(classes)
    chosen = set()
    for name in read_focus(path):
        try:
            chosen.add(index.find(name))
        except UserError as e:
            why = str(e).replace(" (`emojigan labels RUN` lists all)", "").replace("label", "image")
            raise UserError(f"train.focus {path}: {why}") from None
    w = torch.zeros(len(data), dtype=torch.float64)
    w[sorted(chosen)] = 1.0 / len(chosen)
    return w
