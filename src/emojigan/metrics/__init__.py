"""Evaluation metrics, registered by name. Each metric is one small function of an `EvalData` that returns
scalars (for metrics.json) and arrays (for the figures); plots and reports read those files, never recompute."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch


@dataclass
class EvalData:
    real: torch.Tensor          # (N_real, C, H, W) in [-1, 1], the training images
    fake: torch.Tensor          # (N_fake, C, H, W) in [-1, 1], generated
    real_feat: torch.Tensor     # (N_real, D) in the chosen feature space
    fake_feat: torch.Tensor     # (N_fake, D)
    background: str = "black"
    seed: int = 0
    cache: dict = field(default_factory=dict)  # shared intermediate results (e.g. nearest neighbours)


MetricFn = Callable[[EvalData], tuple[dict[str, float], dict[str, np.ndarray]]]
METRICS: dict[str, MetricFn] = {}


def register(name: str) -> Callable[[MetricFn], MetricFn]:
    def deco(fn: MetricFn) -> MetricFn:
        METRICS[name] = fn
        return fn
    return deco


def compute_all(data: EvalData, names: list[str] | None = None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    scalars: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    for name in names or list(METRICS):
        s, a = METRICS[name](data)
        scalars.update(s)
        arrays.update(a)
    return scalars, arrays


from . import distribution, image_metrics, memorization  # noqa: E402,F401  (each registers its metrics)
