#!/usr/bin/env python3
"""Throughput of emojigan's training step against a plain reference loop, and generation latency.

    python benchmarks/train_throughput.py                          # project step, 64x64, batch 16 and 64
    python benchmarks/train_throughput.py --compare-reference      # + the reference, A/B, + generation table
    python benchmarks/train_throughput.py --compare-reference --device cuda --json out.json

The reference is written here the pytorch/examples DCGAN way: PNG files decoded by a DataLoader every step,
a host-to-device copy per batch, D's weight gradients computed in the G step, losses read with .item() every
step, default Adam, contiguous tensors. Both use the same models, optimizer settings and seed, and run
alternately over several rounds. GFLOP per step come from torch.utils.flop_counter; the practical peak is a
large FP32 matrix product timed in the same run. Not collected by pytest.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, header  # noqa: E402

from emojigan.config import TrainConfig  # noqa: E402
from emojigan.devices import pick_device  # noqa: E402
from emojigan.inference import EmojiGenerator  # noqa: E402
from emojigan.models import build  # noqa: E402
from emojigan.training.step import STATS, GANStep, GraphedStep, make_nets  # noqa: E402

LR_G, LR_D, BETAS, Z = 1.5e-4, 1.05e-4, (0.4, 0.999), 100


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_size(device: torch.device) -> int:
    """Side of the matmul that measures the practical peak: 2048 on a CPU, 8192 on a GPU (where a smaller one
    is too short to time)."""
    return 8192 if device.type == "cuda" else 2048


def matmul_peak(device: torch.device, n: int, reps: int = 5) -> float:
    """GFLOP/s of an n^3 FP32 matrix product: the practical peak the step is measured against."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = 0.0
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t) / 1e9)
    return best


def step_gflop(size: int, batch: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    G, D = build("dcgan", size, 3, Z, 64, 64, 512)
    gan = GANStep(make_nets(G, D, LR_G, LR_D, BETAS, torch.device("cpu")), TrainConfig())
    with FlopCounterMode(display=False) as fc:
        gan.step(torch.rand(batch, 3, size, size) * 2 - 1, torch.randn(batch, Z))
    return fc.get_total_flops() / 1e9


def reference_gflop(folder: Path, size: int, batch: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    ref = Reference(folder, size, batch, torch.device("cpu"))
    with FlopCounterMode(display=False) as fc:
        ref.run(1)
    return fc.get_total_flops() / 1e9


class PNGFolder(torch.utils.data.Dataset):
    """The reference's data path: decode a PNG file per item (torchvision's ImageFolder + ToTensor + Normalize)."""

    def __init__(self, folder: Path):
        self.files = sorted(folder.glob("*.png"))

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.files[i]) as im:
            x = torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32)).permute(2, 0, 1) / 255
        return (x - 0.5) / 0.5


class Reference:
    def __init__(self, folder: Path, size: int, batch: int, device: torch.device):
        torch.manual_seed(0)
        self.G, self.D = (m.to(device) for m in build("dcgan", size, 3, Z, 64, 64, 512))
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=LR_G, betas=BETAS)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=LR_D, betas=BETAS)
        self.loader = torch.utils.data.DataLoader(PNGFolder(folder), batch_size=batch, shuffle=True, drop_last=True,
                                                  num_workers=0)
        self.it = iter(self.loader)
        self.device, self.bce = device, torch.nn.BCEWithLogitsLoss()

    def run(self, steps: int) -> None:
        for _ in range(steps):
            try:
                real = next(self.it)
            except StopIteration:
                self.it = iter(self.loader)
                real = next(self.it)
            real = real.to(self.device)
            b = real.size(0)
            label = torch.full((b,), 1.0, device=self.device)
            self.D.zero_grad()
            err_real = self.bce(self.D(real), label)
            err_real.backward()
            fake = self.G(torch.randn(b, Z, device=self.device))
            label.fill_(0.0)
            err_fake = self.bce(self.D(fake.detach()), label)
            err_fake.backward()
            self.opt_D.step()
            self.G.zero_grad()
            label.fill_(1.0)
            err_g = self.bce(self.D(fake), label)
            err_g.backward()
            self.opt_G.step()
            _ = (err_real + err_fake).item(), err_g.item()  # the example prints these every step


class Project:
    def __init__(self, size: int, batch: int, device: torch.device, precision: str = "fp32",
                 compile_: bool = False, graphs: bool = True):
        torch.manual_seed(0)
        fmt = torch.channels_last
        G, D = (m.to(device, memory_format=fmt) for m in build("dcgan", size, 3, Z, 64, 64, 512))
        graphs = graphs and device.type == "cuda" and not compile_
        nets = make_nets(G, D, LR_G, LR_D, BETAS, device, capturable=graphs)
        if compile_:
            G, D = torch.compile(G), torch.compile(D)
        gan = GANStep(nets, TrainConfig(), precision=precision)
        self.stepper = GraphedStep(gan) if graphs else gan
        self.data = (torch.rand(111, 3, size, size, device=device) * 2 - 1).contiguous(memory_format=fmt)
        self.noise = torch.Generator(device=device).manual_seed(1)
        self.acc = torch.zeros(len(STATS), device=device)
        self.batch, self.device = batch, device

    def run(self, steps: int) -> None:
        for i in range(steps):
            idx = torch.randint(0, len(self.data), (self.batch,), device=self.device, generator=self.noise)
            z = torch.randn(self.batch, Z, device=self.device, generator=self.noise)
            self.acc += self.stepper.step(self.data[idx], z)
        self.acc.tolist()  # the loop reads losses every few steps: one sync per round


def timed(fn, steps: int, device: torch.device) -> float:
    sync(device)
    t = time.perf_counter()
    fn(steps)
    sync(device)
    return time.perf_counter() - t


def write_pngs(folder: Path, size: int, n: int = 111) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")


def generation_table(device: torch.device, rounds: int) -> list[dict]:
    rows = []
    for size, n in ((64, 64), (128, 16)):
        torch.manual_seed(0)
        G, _ = build("dcgan", size, 3, Z, 64, 64, 512)
        G = G.to(device).eval()
        z = torch.randn(n, Z, device=device)

        def plain():
            with torch.inference_mode():
                return G(z)

        ref = plain()
        fast = EmojiGenerator(G, {"model": {"z_dim": Z}, "data": {"size": size, "background": "black"}}, device)

        def project():
            with torch.inference_mode():
                return fast._forward(z, fast.precision)

        diff = float((project().float() - ref).abs().mean() * 127.5)
        plain_ms, proj_ms = [], []
        for _ in range(rounds):
            plain_ms.append(timed(lambda k: [plain() for _ in range(k)], 3, device) / 3 * 1000)
            proj_ms.append(timed(lambda k: [project() for _ in range(k)], 3, device) / 3 * 1000)
        G.to(memory_format=torch.contiguous_format)
        rows.append({"size": size, "n": n, "plain_fp32_ms": statistics.median(plain_ms),
                     "project_ms": statistics.median(proj_ms), "project_path": f"channels_last+{fast.precision}",
                     "mean_abs_diff_255": diff})
    return rows


def reference_process(steps: int, size: int, batch: int, device: torch.device) -> None:
    """The reference as a whole process (start-up included), for comparison with `emojigan train`."""
    with tempfile.TemporaryDirectory() as tmp:
        write_pngs(Path(tmp), size)
        Reference(Path(tmp), size, batch, device).run(steps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-sizes", default="16,64")
    ap.add_argument("--steps", type=int, default=10, help="steps per timed round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compare-reference", action="store_true", help="A/B against the plain reference loop")
    ap.add_argument("--variants", default="fp32", help="project variants: fp32,bf16,compile,eager (comma-separated; on CUDA fp32 and bf16 "
                    "replay the step as a CUDA graph, eager is fp32 without it)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--reference-steps", type=int, help="only run the reference loop for this many steps "
                    "(a whole process, for benchmarks/train_process.py)")
    a = ap.parse_args()
    device = pick_device(a.device)
    if a.reference_steps:
        reference_process(a.reference_steps, a.size, int(a.batch_sizes.split(",")[0]), device)
        return 0
    info = describe(device)
    n = peak_size(device)
    peak = matmul_peak(device, n)
    print(header(info))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # both loops: pytorch/examples' dcgan sets it too
    print(f"# practical peak ({n}^3 FP32 matmul): {peak:.0f} GFLOP/s")
    results: dict = {"machine": info, "matmul_peak_gflops": peak, "train": [], "generate": []}
    with tempfile.TemporaryDirectory() as tmp:
        if a.compare_reference:
            write_pngs(Path(tmp), a.size)
        print(f"{'size':>5} {'batch':>6} {'variant':>22} {'img/s':>9} {'ms/step':>9} {'GFLOP/s':>9} {'% peak':>7} "
              f"{'vs ref':>7}")
        for batch in (int(b) for b in a.batch_sizes.split(",")):
            gflops_of = {"project": step_gflop(a.size, batch)}
            if a.compare_reference:
                gflops_of["reference"] = reference_gflop(Path(tmp), a.size, batch)
            runners = {}
            if a.compare_reference:
                runners["reference (examples)"] = Reference(Path(tmp), a.size, batch, device)
            for v in a.variants.split(","):
                runners[f"project {v}"] = Project(a.size, batch, device, precision="bf16" if v == "bf16" else "fp32",
                                                  compile_=v == "compile", graphs=v != "eager")
            for r in runners.values():
                r.run(3)  # warm-up (and compilation / graph capture)
            times: dict[str, list[float]] = {k: [] for k in runners}
            for _ in range(a.rounds):  # A/B alternation
                for k, r in runners.items():
                    times[k].append(timed(r.run, a.steps, device))
            ref_rate = None
            for k, ts in times.items():
                gflop = gflops_of["reference" if k.startswith("reference") else "project"]
                sec = statistics.median(ts) / a.steps
                rate = batch / sec
                ref_rate = rate if k.startswith("reference") else ref_rate
                ratio = rate / ref_rate if ref_rate else float("nan")
                print(f"{a.size:>5} {batch:>6} {k:>22} {rate:>9.1f} {sec * 1000:>9.1f} {gflop / sec:>9.1f} "
                      f"{100 * gflop / sec / peak:>6.0f}% {ratio:>6.2f}x")
                results["train"].append({"size": a.size, "batch": batch, "variant": k, "img_per_s": rate,
                                         "ms_per_step": sec * 1000, "gflop_per_step": gflop,
                                         "gflops": gflop / sec, "share_of_peak": gflop / sec / peak,
                                         "vs_reference": ratio})
    if a.compare_reference:
        print(f"\n{'generate':>12} {'plain FP32 ms':>14} {'project ms':>11} {'path':>20} {'ratio':>6} {'diff/255':>9}")
        for row in generation_table(device, a.rounds):
            print(f"{row['n']:>4} @ {row['size']:>3}px {row['plain_fp32_ms']:>14.1f} {row['project_ms']:>11.1f} "
                  f"{row['project_path']:>20} {row['project_ms'] / row['plain_fp32_ms']:>6.2f} "
                  f"{row['mean_abs_diff_255']:>9.3f}")
            results["generate"].append(row)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
