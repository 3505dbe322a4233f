"""Latent matching for coverage (IMLE): every training emoji gets its own latent, whose image G pulls toward it.

The adversarial loss never asks G to cover every training emoji, only to make what it draws look real; on
faces64, recall (the share of real emojis near some sample) stayed at 0.07-0.26 whatever was added to D. IMLE
(Li & Malik 2018; Adaptive IMLE, Aghabozorgi et al. 2023, for 100-shot synthesis) asks the reverse: each
real image must have a generated image near it. Every `train.imle_every` epochs `match_latents` draws a pool
of latents, generates them as training does (train-mode BatchNorm, running statistics left untouched), and
gives each training image a latent of its own (an assignment: no two images share one, which plain
nearest-neighbour matching would do for look-alikes) with the closest image at 16x16. The G step then also
minimises w * mean |G(z_i) - x_i| over its batch's images (`GANStep`, `imle=`); the rest of latent space
stays shaped by D alone.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

MATCH_SIZE = 16  # images are compared at 16x16: the layout of a face, not its pixel noise


def thumbnails(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C * 16 * 16) area-averaged thumbnails (all channels, alpha included)."""
    return F.adaptive_avg_pool2d(x.float(), MATCH_SIZE).flatten(1)


def assign(cost: torch.Tensor) -> torch.Tensor:
    """For an (n_real, n_pool) cost matrix with n_pool >= n_real: the pool index given to each real row,
    all distinct, minimising the total cost (the Hungarian algorithm, scipy's linear_sum_assignment)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost.double().cpu().numpy())
    out = torch.empty(cost.shape[0], dtype=torch.long)
    out[torch.as_tensor(rows)] = torch.as_tensor(cols)
    return out


@torch.no_grad()
def match_latents(G: nn.Module, real: torch.Tensor, z_dim: int, pool: int, batch_size: int,
                  generator: torch.Generator, autocast=contextlib.nullcontext) -> torch.Tensor:
    """(N, z_dim) latents, one per image of `real`, drawn from a pool of max(pool, N) standard-normal latents
    so that the generated images are as close as possible to their real ones in total (see `assign`).
    G runs in chunks of `batch_size` as in training (inside `autocast()`, the training step's precision), and its
    BatchNorm running statistics are restored after."""
    device = real.device
    n_pool = max(pool, len(real))
    z = torch.randn(n_pool, z_dim, generator=generator, device=device)
    buffers = {k: v.clone() for k, v in G.named_buffers()}
    was_training = G.training
    G.train()
    try:
        thumbs = []
        for i in range(0, n_pool, batch_size):
            with autocast():
                thumbs.append(thumbnails(G(z[i:i + batch_size])))
    finally:
        for k, v in G.named_buffers():
            v.copy_(buffers[k])
        G.train(was_training)
    cost = torch.cdist(thumbnails(real), torch.cat(thumbs))
    return z[assign(cost).to(device)]


def imle_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute pixel difference between G's images of the matched latents and their training images."""
    return F.l1_loss(recon.float(), target.float())
