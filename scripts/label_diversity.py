"""How much does a conditional model's noise change its drawing? SSIM between draws of one label, label by label.

`emojigan evaluate`'s copy rate counts samples within SSIM 0.95 of some training image. A conditional model trained
on one emoji per label may draw each label's emoji almost alike for every z; then its copy rate says how clean
that one drawing is, not whether the noise makes new ones. This draws `--draws` seeds for every `--every`-th label
and prints, per model, the mean and lowest SSIM between two draws of one label (as evaluate compares images: over
black, `metrics.fidelity.same_label_ssim`). Near 1: the label decides the image and z hardly matters.
`emojigan evaluate` reports the same measure over all labels (8 draws each) as `label_diversity_ssim`.

    python scripts/label_diversity.py cond128 runs/c128-flat --every 8 --draws 8
"""
from __future__ import annotations

import argparse

import torch

from emojigan.errors import UserError, script_main
from emojigan.metrics.evaluate import titled_generator
from emojigan.metrics.fidelity import same_label_ssim


def draws_ssim(gen, labels: list[int], draws: int, seed: int) -> torch.Tensor:
    """(len(labels), draws * (draws - 1) / 2): SSIM of every pair of draws (seeds seed..seed+draws-1) per label."""
    x = torch.cat([gen.sample_tensor(seeds=list(range(seed, seed + draws)), labels=[y] * draws) for y in labels])
    return same_label_ssim(x, draws)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="NAME or TITLE=NAME: shipped names, run folders (RUN[:best]) or exports")
    p.add_argument("--every", type=int, default=8, help="every k-th label, from the first (default 8)")
    p.add_argument("--draws", type=int, default=8, help="seeds per label (default 8)")
    p.add_argument("--seed", type=int, default=100, help="first seed (default 100)")
    a = p.parse_args()
    if not 1 <= a.every <= 10_000 or not 2 <= a.draws <= 256:
        raise UserError(f"--every {a.every} / --draws {a.draws}: use every 1-10000 labels and 2-256 draws")
    models = []
    for spec in a.models:
        title, gen = titled_generator(spec)
        if not gen.conditional:
            raise UserError(f"{spec} is not conditional: it has no labels to hold fixed")
        models.append((title, gen))
    print("| model | labels | draws each | same-label SSIM, mean | lowest | pairs at or above 0.95 |")
    print("|---|---|---|---|---|---|")
    for title, gen in models:
        labels = list(range(0, len(gen.classes), a.every))
        s = draws_ssim(gen, labels, a.draws, a.seed)
        print(f"| {title} | {len(labels)} | {a.draws} | {float(s.mean()):.3f} | {float(s.min()):.3f} | "
              f"{float((s >= 0.95).float().mean()):.0%} |")


if __name__ == "__main__":
    script_main("label_diversity.py", main)
