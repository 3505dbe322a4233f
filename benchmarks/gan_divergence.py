"""How far two dcgan64 trainings drift apart when one starts with float-rounding-sized noise.

GAN training is chaotic: a difference at the level of float32 rounding (another cuDNN algorithm, a CUDA graph
replay, TF32) grows to a visible weight difference within tens of steps. This measures that growth on the
CPU, where two identical runs are bit-identical, so a graphed-vs-eager comparison on a GPU can be read
against it.

    python benchmarks/gan_divergence.py [--steps 70]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import BETAS, LR_D, LR_G, Z  # noqa: E402

from emojigan.config import TrainConfig  # noqa: E402
from emojigan.models import build  # noqa: E402
from emojigan.training.step import GANStep, make_nets  # noqa: E402


def train(eps: float, steps: int) -> tuple[dict, torch.Tensor]:
    """`steps` FP32 dcgan64 steps at batch 16 on fixed random data; G's initial weights scaled by 1 + eps * noise."""
    torch.manual_seed(0)
    G, D = build("dcgan", 64, 3, Z, 64, 64, 512)
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(1 + eps * torch.randn_like(p))
    gan = GANStep(make_nets(G, D, LR_G, LR_D, BETAS, torch.device("cpu")), TrainConfig())
    g = torch.Generator().manual_seed(1)
    data = torch.rand(111, 3, 64, 64, generator=g) * 2 - 1
    for _ in range(steps):
        out = gan.step(data[torch.randint(0, 111, (16,), generator=g)], torch.randn(16, Z, generator=g))
    return {k: v.clone() for k, v in G.state_dict().items()}, out


def max_diff(a: dict, b: dict) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=70)
    a = ap.parse_args()
    if a.steps < 1:
        ap.error(f"--steps {a.steps}: train at least one step")  # one line, exit code 2
    torch.set_num_threads(1)  # one thread: the same run twice is then bit-identical
    ref, ref_out = train(0.0, a.steps)
    again, _ = train(0.0, a.steps)
    print(f"same start: max |G_a - G_b| after {a.steps} steps = {max_diff(ref, again):.3g}")
    for eps in (1e-7, 1e-5):
        other, out = train(eps, a.steps)
        print(f"G perturbed by {eps:g} (relative) at the start: max |G_a - G_b| = {max_diff(ref, other):.3g}; "
              f"last loss_d / loss_g {ref_out[0]:.4f} / {ref_out[1]:.4f} vs {out[0]:.4f} / {out[1]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
