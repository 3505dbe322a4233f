"""Generator EMA (Karras et al.): an exponential moving average of G's weights, used for sampling,
evaluation and export, built on PyTorch's AveragedModel.

Two details decide whether an EMA of a BatchNorm generator draws anything in a short run:
- warm-up: the decay is min(decay, (1 + n) / (10 + n)) after n updates, so the average does not stay
  dominated by the random initial weights (with a fixed 0.999, half the weights are still the initial
  ones after 700 steps);
- buffers: BatchNorm's running statistics are copied from G after every update, as StyleGAN2-ADA does;
  averaging them (AveragedModel's use_buffers) starts them from the initial variance of 1.0 and left the
  first layer's variance 16x too large after 350 steps, which made every sample the same blank image.
The decay is computed on the device: no host synchronisation per step.
"""
from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel


class GeneratorEMA(AveragedModel):
    def __init__(self, G: torch.nn.Module, decay: float):
        self.decay = decay

        def ema_update(ema_params, params, n_averaged):
            n = n_averaged.to(ema_params[0].device, torch.float32)
            beta = torch.clamp((1 + n) / (10 + n), max=decay)
            torch._foreach_lerp_(ema_params, params, 1 - beta)

        super().__init__(G, multi_avg_fn=ema_update, use_buffers=False)
        self.requires_grad_(False)

    @torch.no_grad()
    def update_parameters(self, model: torch.nn.Module) -> None:
        super().update_parameters(model)
        for b_ema, b in zip(self.module.buffers(), model.buffers()):
            b_ema.copy_(b)


def make_ema(G: torch.nn.Module, decay: float) -> GeneratorEMA:
    """ema = beta * ema + (1 - beta) * G after every step, beta = min(decay, (1 + n) / (10 + n))."""
    return GeneratorEMA(G, decay)
