#!/usr/bin/env python3
"""Throughput of emojigan's full training step (D on real and fake, then G) for the report's DCGAN.

    python benchmarks/train_throughput.py                      # 64x64, batch 16 and 64, CPU or GPU
    python benchmarks/train_throughput.py --size 128 --batch-sizes 16 --json out.json

Prints img/s (median over rounds) with the machine and torch version. Not collected by pytest.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, header  # noqa: E402

from emojigan.inference import pick_device  # noqa: E402
from emojigan.models import build  # noqa: E402
from emojigan.training.step import GANStep, make_optimizers  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(size: int, batch: int, steps: int, rounds: int, device: torch.device) -> list[float]:
    torch.manual_seed(0)
    G, D = build("dcgan", size, 3, 100, 64, 64, 512)
    G, D = G.to(device), D.to(device)
    opt_G, opt_D = make_optimizers(G, D, 1.5e-4, 1.05e-4, (0.4, 0.999), device)
    gan = GANStep(G, D, opt_G, opt_D)
    data = torch.rand(128, 3, size, size, device=device) * 2 - 1  # resident, as in training
    noise = torch.Generator(device=device).manual_seed(1)
    acc = torch.zeros(4, device=device)

    def run(n: int) -> None:
        for i in range(n):
            idx = torch.randint(0, len(data), (batch,), device=device, generator=noise)
            z = torch.randn(batch, 100, device=device, generator=noise)
            acc.add_(gan.step(data[idx], z))
        acc.tolist()  # one host sync per round, as training reads losses every few steps

    run(3)  # warm-up
    rates = []
    for _ in range(rounds):
        sync(device)
        t0 = time.perf_counter()
        run(steps)
        sync(device)
        rates.append(steps * batch / (time.perf_counter() - t0))
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-sizes", default="16,64")
    ap.add_argument("--steps", type=int, default=10, help="steps per timed round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    device = pick_device(a.device)
    info = describe(device)
    print(header(info))
    print(f"{'size':>5} {'batch':>6} {'img/s (median)':>15} {'ms/step':>9} {'rounds':>20}")
    results = []
    for batch in (int(b) for b in a.batch_sizes.split(",")):
        rates = time_steps(a.size, batch, a.steps, a.rounds, device)
        med = statistics.median(rates)
        print(f"{a.size:>5} {batch:>6} {med:>15.1f} {1000 * batch / med:>9.1f} "
              f"{' '.join(f'{r:.0f}' for r in rates):>20}")
        results.append({"size": a.size, "batch": batch, "img_per_s": med, "rounds": rates})
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": info, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
