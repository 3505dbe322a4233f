"""Machine description printed at the head of every benchmark table."""
from __future__ import annotations

import platform

import torch


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_extensions() -> list[str]:
    from emojigan.devices import cpu_flags

    flags = cpu_flags()
    wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile"]
    return [f for f in wanted if f in flags]


def describe(device: torch.device) -> dict:
    d = {"cpu": cpu_model(), "cpu_extensions": cpu_extensions(), "threads": torch.get_num_threads(),
         "torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    if device.type == "cuda":
        d["gpu"] = torch.cuda.get_device_name(device)
    return d


def header(info: dict) -> str:
    lines = [f"# machine: {info['cpu']} ({', '.join(info['cpu_extensions']) or 'no AVX2'}), "
             f"{info['threads']} threads; torch {info['torch']}; python {info['python']}; device {info['device']}"]
    if "gpu" in info:
        lines.append(f"# gpu: {info['gpu']}")
    return "\n".join(lines)
