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


BF16_TOLERANCE = 2.0  # mean absolute difference from FP32, in 1/255 steps, that bf16 generation may have


def cpu_has_bf16() -> bool:
    try:
        flags = next(ln for ln in open("/proc/cpuinfo", encoding="utf-8") if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class EmojiGenerator:
    """A trained generator in eval mode, with its config. Images depend only on their own seeds.

    Generation takes the fastest exact-enough path by itself: channels_last, and bf16 autocast where the
    device computes bf16 natively (CUDA, CPUs with AVX512-BF16/AMX) and the images of a probe batch match
    FP32 within BF16_TOLERANCE / 255 on average; `precision` = "fp32" or "bf16" forces one."""

    def __init__(self, G: torch.nn.Module, meta: dict[str, Any], device: torch.device, precision: str = "auto",
                 channels_last: bool = True):
        # (training passes its own layout: converting a module mid-training would change its parameters' layout)
        self.G = G.to(memory_format=torch.channels_last) if channels_last else G
        self.meta, self.device = meta, device
        model, data = meta["model"], meta["data"]
        self.z_dim: int = model["z_dim"]
        self.size: int = data["size"]
        self.background: str = data["background"]
        self.channels: int = 4 if self.background == "transparent" else 3
        self.precision = precision if precision != "auto" else self._choose_precision()

    def _forward(self, z: torch.Tensor, precision: str) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            return self.G(z).float()

    @torch.inference_mode()
    def _choose_precision(self) -> str:
        native = self.device.type == "cuda" or (self.device.type == "cpu" and cpu_has_bf16())
        if not native:
            return "fp32"
        z = z_from_seeds(list(range(16)), self.z_dim).to(self.device)
        diff = (self._forward(z, "fp32") - self._forward(z, "bf16")).abs().mean() * 127.5
        return "bf16" if float(diff) <= BF16_TOLERANCE else "fp32"

    @torch.inference_mode()
    def sample_tensor(self, n: int | None = None, seed: int = 0, seeds: list[int] | None = None,
                      batch_size: int = 256) -> torch.Tensor:
        """(N, C, H, W) images in [-1, 1] on the CPU, for `seeds` or for seeds seed..seed+n-1."""
        if seeds is None:
            seeds = list(range(seed, seed + (n if n is not None else 1)))
        z = z_from_seeds(seeds, self.z_dim)
        out = [self._forward(z[i:i + batch_size].to(self.device), self.precision).cpu()
               for i in range(0, len(z), batch_size)]
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


def load_generator(path: str | Path, device: str = "cpu", precision: str = "auto") -> EmojiGenerator:
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
    if precision not in ("auto", "fp32", "bf16"):
        raise UserError(f"precision '{precision}' is unknown; choose auto, fp32 or bf16")
    return EmojiGenerator(G.to(dev).eval(), meta, dev, precision)
