"""Generator EMA (Karras et al.): an exponential moving average of G's weights, used for sampling,
evaluation and export. PyTorch's own AveragedModel with its EMA update; BatchNorm statistics are averaged
too (use_buffers), so the EMA generator is a complete eval-mode model."""
from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def make_ema(G: torch.nn.Module, decay: float) -> AveragedModel:
    """ema = decay * ema + (1 - decay) * G after every step."""
    ema = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    ema.requires_grad_(False)
    return ema
