"""In-training evaluation (`train.eval_every`): KID, precision/recall and the copy rate of a fixed set of seeds
against the training images' precomputed features, and the rule that keeps a 'best' checkpoint."""
from __future__ import annotations

import torch

from ..features import load_feature_space
from ..metrics.distribution import kid, precision_recall_sets
from ..metrics.memorization import COPY_SSIM, nearest_ssim


class InTrainingEval:
    """KID, precision/recall and nearest-training SSIM of generated images, in the OpenMoji feature space."""

    def __init__(self, real: torch.Tensor, device: torch.device):
        self.space = load_feature_space("openmoji", device=device)
        self.real, self.device = real, device
        self.real_feat = self.space(real)

    def __call__(self, fake: torch.Tensor) -> dict:
        fake_feat = self.space(fake)
        k, k_std = kid(self.real_feat, fake_feat, subsets=50)
        pr, _ = precision_recall_sets(self.real_feat, fake_feat)  # sets of 256, as evaluate measures
        s, _ = nearest_ssim(fake.to(self.device), self.real.to(self.device))
        return {"kid": k, "kid_std": k_std, "precision": pr["precision"], "recall": pr["recall"],
                "ssim_nearest": float(s.mean()), "copy_rate": float((s >= COPY_SSIM).double().mean())}


def better_checkpoint(row: dict, best_kid: float, max_copies: float) -> bool:
    """Whether an in-training evaluation makes a new 'best' checkpoint: a lower KID than the best so far, with at
    most `max_copies` of its samples copies of a training emoji (longer training can trade memorization for KID:
    three 14,000-step faces64 runs copied 6-16% of their samples, at most 1.2% at 7,000)."""
    return row["kid"] < best_kid and row["copy_rate"] <= max_copies
