"""Per-group quality of a model conditioned on OpenMoji emojis (text models): for each OpenMoji group among its
labels (smileys-emotion, animals-nature, ...), the samples drawn for that group's labels against that group's
training emojis: KID, precision and recall (k=3) in the feature space, and the copy rate (nearest same-group
training SSIM >= 0.95). Groups of fewer than 4 labels are left out. A model that does well on faces and badly on animals shows it here, not in one average."""
from __future__ import annotations

import torch

from ..data.catalog import by_hexcode
from ..latent.sampling import z_from_seeds
from .distribution import kid, precision_recall
from .memorization import COPY_SSIM, nearest_ssim


def group_quality(gen, space, real: torch.Tensor, real_feat: torch.Tensor, per_label: int = 4, seed: int = 0
                  ) -> dict:
    """{"group_quality": {group: {labels, kid, precision, recall, copy_rate}}} over `per_label` samples of each label
    (seeds seed.. in order); `real` are the training images, one per label, and `real_feat` their features."""
    catalog = by_hexcode()
    groups: dict[str, list[int]] = {}
    for y, c in enumerate(gen.classes):
        e = catalog.get(c.get("hexcode", ""))
        groups.setdefault(e.group if e is not None else "other", []).append(y)
    out = {}
    for group, labels in sorted(groups.items()):
        if len(labels) < 4:  # precision and recall's k=3 balls need 4 emojis
            continue
        ys = [y for y in labels for _ in range(per_label)]
        z = z_from_seeds(list(range(seed, seed + per_label)), gen.z_dim).repeat(len(labels), 1)
        fake = gen.sample_tensor(z=z, labels=ys)
        fake_feat = space(fake)
        idx = torch.tensor(labels)
        kid_mean, _ = kid(real_feat[idx], fake_feat, seed=seed)
        # one sample per label (its first seed) against one render per label: recall's k-NN balls among the samples
        # shrink as samples are added (metrics/distribution.py, PR_SET), so the counts are kept equal
        precision, recall = precision_recall(real_feat[idx], fake_feat[::per_label])
        best, _ = nearest_ssim(fake, real[idx])
        out[group] = {"labels": len(labels), "kid": round(kid_mean, 4), "precision": round(precision, 3),
                      "recall": round(recall, 3), "copy_rate": round(float((best >= COPY_SSIM).double().mean()), 3)}
    return {"group_quality": out}
