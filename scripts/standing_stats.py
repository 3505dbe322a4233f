"""Recompute an EMA generator's BatchNorm statistics for its own weights ("standing statistics", BigGAN).

Training copies G's running statistics into the EMA generator after every step (emojigan.training.ema), so the
exported EMA G normalises with statistics of the raw G's activations. This script copies a run folder (without
its training states, evaluations and samples), runs each export's G in training mode over BATCHES batches of
BATCH latents with cumulative BatchNorm averages, and writes the exports back with those statistics, so
`emojigan evaluate` can measure the difference:

    python scripts/standing_stats.py runs/faces64-16k runs/faces64-16k-standing
    emojigan evaluate runs/faces64-16k-standing --checkpoint best --n 512 --out runs/faces64-16k-standing/eval
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from emojigan.errors import UserError, script_main
from emojigan.inference import resolve_export
from emojigan.models import generator_from_config
from emojigan.training.checkpoint import export_generator, read_export


@torch.no_grad()
def standing_stats(G: torch.nn.Module, z_dim: int, batches: int, batch: int, seed: int = 12345,
                   n_classes: int = 0) -> torch.nn.Module:
    norms = [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                                   # cumulative average over all batches
    g = torch.Generator().manual_seed(seed)
    G.train()
    for _ in range(batches):
        z = torch.randn(batch, z_dim, generator=g)
        G(z, torch.randint(n_classes, (batch,), generator=g)) if n_classes else G(z)
    for m, mom in zip(norms, momenta):
        m.momentum = mom
    return G.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--batch", type=int, default=16, help="the training batch size (default 16)")
    args = ap.parse_args()
    src, dst = Path(args.run), Path(args.out)
    if not src.is_dir():
        raise UserError(f"{src} is not a run folder")
    read_export(resolve_export(src))  # a run with a readable export, before anything is written
    if dst.exists():
        raise UserError(f"{dst} exists; choose a new folder")
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoints", "eval*", "samples"))
    for exp in sorted(dst.glob("generator*.safetensors")):
        tensors, meta = read_export(exp)
        dtype = next(v.dtype for v in tensors.values() if v.is_floating_point())
        model = meta["model"]
        G = generator_from_config(model, meta["data"]["size"], meta["data"]["channels"])
        G.load_state_dict({k: v.float() for k, v in tensors.items()})
        before = {k: v.clone() for k, v in G.state_dict().items() if k.endswith("running_var")}
        standing_stats(G, model["z_dim"], args.batches, args.batch, n_classes=model.get("n_classes", 0))
        ratio = torch.stack([(G.state_dict()[k] / v).mean() for k, v in before.items()])
        print(f"{exp.name}: running variance new/old, mean over layers {float(ratio.mean()):.3f} "
              f"(min {float(ratio.min()):.3f}, max {float(ratio.max()):.3f})")
        export_generator(G, {k: v for k, v in meta.items() if k not in ("format", "format_version")}, exp, dtype)


if __name__ == "__main__":
    script_main("standing_stats", main)
