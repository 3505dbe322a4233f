"""Load an exported generator and draw emojis from it: `emojigan.load_generator(path).sample(n, seed=0)`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from . import images
from .errors import UserError
from .latent import z_from_seeds
from .models import ARCHS
from .training.checkpoint import read_export

EXPORT_NAME = "generator.safetensors"


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{name}' asked for, but no CUDA GPU is available; use --device cpu or auto")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError(f"device '{name}' asked for, but MPS is not available; use --device cpu or auto")
    return dev


def resolve_export(path: str | Path) -> Path:
    """A run folder or a .safetensors file -> the generator export to load."""
    p = Path(path)
    if p.is_dir():
        exp = p / EXPORT_NAME
        if not exp.is_file():
            raise UserError(f"{p} has no {EXPORT_NAME} (has its training reached a checkpoint?)")
        return exp
    if not p.exists():
        raise UserError(f"{p} does not exist; give a run folder or a .safetensors generator")
    return p


class EmojiGenerator:
    """A trained generator in eval mode, with its config. Images depend only on their own seeds."""

    def __init__(self, G: torch.nn.Module, meta: dict[str, Any], device: torch.device):
        self.G, self.meta, self.device = G, meta, device
        model, data = meta["model"], meta["data"]
        self.z_dim: int = model["z_dim"]
        self.size: int = data["size"]
        self.background: str = data["background"]
        self.channels: int = 4 if self.background == "transparent" else 3

    @torch.inference_mode()
    def sample_tensor(self, n: int | None = None, seed: int = 0, seeds: list[int] | None = None,
                      batch_size: int = 256) -> torch.Tensor:
        """(N, C, H, W) images in [-1, 1] on the CPU, for `seeds` or for seeds seed..seed+n-1."""
        if seeds is None:
            seeds = list(range(seed, seed + (n if n is not None else 1)))
        z = z_from_seeds(seeds, self.z_dim)
        out = [self.G(z[i:i + batch_size].to(self.device)).float().cpu() for i in range(0, len(z), batch_size)]
        return torch.cat(out)

    def sample(self, n: int = 1, seed: int = 0, seeds: list[int] | None = None,
               background: str | None = None) -> list[Image.Image]:
        """PIL images; `background` composites an RGBA model over black/white (default: as trained)."""
        ims = images.to_pil(self.sample_tensor(n, seed, seeds))
        return [self.composite(im, background) for im in ims]

    def composite(self, im: Image.Image, background: str | None) -> Image.Image:
        if background is None or background == self.background:
            return im
        if self.channels == 3:
            raise UserError(f"this model was trained on a {self.background} background and has no alpha "
                            f"channel; --background {background} needs a model trained on transparent data")
        return images.composite(im, background)


def load_generator(path: str | Path, device: str = "cpu") -> EmojiGenerator:
    """Load a run folder's exported generator (or a .safetensors export) for sampling."""
    exp = resolve_export(path)
    tensors, meta = read_export(exp)
    model, data = meta.get("model", {}), meta.get("data", {})
    arch = model.get("arch")
    if arch not in ARCHS:
        raise UserError(f"{exp} uses architecture '{arch}', which this emojigan does not know")
    channels = 4 if data.get("background") == "transparent" else 3
    G = ARCHS[arch][0](z_dim=model["z_dim"], size=data["size"], channels=channels, base=model["g_base"],
                       max_channels=model["max_channels"])
    try:
        G.load_state_dict({k: v.float() for k, v in tensors.items()})
    except RuntimeError as e:
        raise UserError(f"{exp} does not match its own config ({str(e).splitlines()[0][:100]})") from None
    dev = pick_device(device)
    return EmojiGenerator(G.to(dev).eval(), meta, dev)
