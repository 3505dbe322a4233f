"""Device and precision choice, shared by training, generation and the feature network."""
from __future__ import annotations

import torch

from .errors import UserError


def pick_device(name: str = "auto") -> torch.device:
    """`auto`: CUDA, then MPS, then the CPU; a named device that is absent is a user error."""
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


def cpu_flags() -> set[str]:
    """The CPU's feature flags (/proc/cpuinfo; empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return set(next(ln for ln in f if ln.startswith("flags")).split())
    except (OSError, StopIteration):
        return set()


def cpu_has_bf16() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def bf16_native(device: torch.device) -> bool:
    """Whether the device computes bf16 natively (CUDA with bf16, CPUs with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_bf16()


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto`: bf16 autocast where the device computes bf16 natively, else fp32."""
    if precision != "auto":
        return precision
    return "bf16" if bf16_native(device) else "fp32"
