"""EmojiNet: a small CNN trained to classify OpenMoji subgroups; its pooled activations are emojigan's
offline feature space (a few MB, trained on all 4,495 OpenMoji emojis with augmentation)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 64


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class EmojiNet(nn.Module):
    def __init__(self, n_classes: int, width: int = 32, feature_dim: int = 256):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_block(3, w), *_block(w, w), nn.MaxPool2d(2),              # 32x32
            *_block(w, 2 * w), *_block(2 * w, 2 * w), nn.MaxPool2d(2),  # 16x16
            *_block(2 * w, 4 * w), *_block(4 * w, 4 * w), nn.MaxPool2d(2),  # 8x8
            *_block(4 * w, feature_dim), *_block(feature_dim, feature_dim),
        )
        self.head = nn.Linear(feature_dim, n_classes)
        self.feature_dim = feature_dim

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] RGB (or RGBA, composited over black) at any size -> the network's 64x64 input."""
        if x.shape[1] == 4:
            alpha = (x[:, 3:4] + 1) / 2
            x = (x[:, :3] + 1) / 2 * alpha * 2 - 1
        if x.shape[-1] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True,
                              align_corners=False)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.prepare(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
