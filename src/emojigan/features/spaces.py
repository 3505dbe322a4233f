"""Feature spaces, pluggable by name: `openmoji` (the shipped EmojiNet, offline default) and `inception`
(the standard FID Inception-v3 as the TorchScript file StyleGAN2-ADA's metrics load)."""
from __future__ import annotations

import json
import warnings
from importlib import resources
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ..data import cache_dir
from ..errors import UserError
from .net import EmojiNet

INCEPTION_FILE = "inception-2015-12-05.pt"
SPACES = ("openmoji", "inception")


class FeatureSpace:
    """Callable: images (N, C, H, W) in [-1, 1] -> features (N, dim) float32 on the CPU."""

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor], dim: int, device: torch.device,
                 batch_size: int = 128, classifier: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 classes: list[str] | None = None):
        self.name, self.fn, self.dim, self.device, self.batch_size = name, fn, dim, device, batch_size
        self.classifier, self.classes = classifier, classes

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = [self.fn(x[i:i + self.batch_size].to(self.device)).float().cpu()
               for i in range(0, len(x), self.batch_size)]
        return torch.cat(out) if out else torch.empty(0, self.dim)


def shipped_openmoji_path() -> Path:
    return Path(str(resources.files("emojigan.pretrained") / "openmoji-features.safetensors"))


def load_openmoji(path: str | Path | None = None, device: torch.device = torch.device("cpu")) -> FeatureSpace:
    p = Path(path) if path else shipped_openmoji_path()
    if not p.is_file():
        raise UserError(f"the OpenMoji feature network is missing at {p}; rebuild it with "
                        f"`emojigan features train --out {p}`")
    try:
        with safe_open(str(p), framework="pt") as f:
            info = json.loads((f.metadata() or {})["emojigan"])
        tensors = load_file(str(p))
    except Exception as e:  # corrupt file: several exception types
        raise UserError(f"{p} is not a readable feature network ({type(e).__name__})") from None
    net = EmojiNet(len(info["classes"]), width=info["width"], feature_dim=info["feature_dim"])
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    net = net.to(device).eval()
    return FeatureSpace("openmoji", net.features, net.feature_dim, device, classifier=net,
                        classes=info["classes"])


def inception_candidates(weights: str | Path | None) -> list[Path]:
    if weights:
        return [Path(weights)]
    cache = cache_dir()
    return [cache / INCEPTION_FILE, Path.home() / ".cache" / "dnnlib" / "downloads" / INCEPTION_FILE]


def load_inception(weights: str | Path | None = None, device: torch.device = torch.device("cpu")) -> FeatureSpace:
    """torch.jit.load the StyleGAN2-ADA Inception TorchScript; called as net(uint8 NCHW, return_features=True)."""
    paths = inception_candidates(weights)
    found = next((p for p in paths if p.is_file()), None)
    if found is None:
        raise UserError(f"the FID Inception network ({INCEPTION_FILE}, the TorchScript file StyleGAN2-ADA's "
                        f"metrics use) is not at {' or '.join(map(str, paths))}; put it there or pass "
                        f"--inception-weights PATH (emojigan downloads nothing), or use --features openmoji")
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated, but it is the format the file comes in
            warnings.simplefilter("ignore", DeprecationWarning)
            net = torch.jit.load(str(found), map_location=device).eval()
    except Exception as e:
        raise UserError(f"{found} is not a loadable TorchScript file ({type(e).__name__})") from None

    def fn(x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 4:
            alpha = (x[:, 3:4] + 1) / 2
            x = ((x[:, :3] + 1) / 2 * alpha) * 2 - 1
        u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return net(u8, return_features=True)

    dim = int(fn(torch.zeros(1, 3, 64, 64, device=device)).shape[-1])
    return FeatureSpace("inception", fn, dim, device, batch_size=64)


def load_feature_space(name: str = "openmoji", inception_weights: str | Path | None = None,
                       device: str | torch.device = "cpu", openmoji_weights: str | Path | None = None) -> FeatureSpace:
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if name == "openmoji":
        return load_openmoji(openmoji_weights, dev)
    if name == "inception":
        return load_inception(inception_weights, dev)
    raise UserError(f"unknown feature space '{name}'; choose one of {', '.join(SPACES)}")
