"""Where is a model's faint alpha? Its samples over white with every faintly opaque pixel (alpha in
`FAINT_ALPHA`, evaluate's faint-alpha measure) painted magenta, one panel per model, on the same seeds.

Over white a faint speck is nearly invisible, yet it is what `faint_alpha_ratio` counts and what shows as a
grey haze over a dark page; this makes it visible. Models are shipped names or run folders (`RUN` = its last
generator, `RUN:best` = its best); a conditional model draws seed k with label k % labels, as `generate` does.

    python scripts/faint_map.py cond128@a613079=runs/old.safetensors cond128 --n 32 --seed 88 --out faint.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from emojigan import images
from emojigan.errors import UserError, script_main
from emojigan.metrics.evaluate import titled_generator
from emojigan.metrics.image_stats import FAINT_ALPHA, faint_alpha

MAGENTA = (255, 0, 255)


def faint_panel(x: torch.Tensor, nrow: int | None) -> images.Image.Image:
    """Samples (N, 4, H, W) in [-1, 1] composited over white, their faint-alpha pixels magenta."""
    lo, hi = FAINT_ALPHA
    ims = []
    for im in images.to_pil(x):
        a = np.asarray(im)[..., 3] / 255
        rgb = np.array(images.composite(im, "white"))
        rgb[(a > lo) & (a < hi)] = MAGENTA
        ims.append(images.Image.fromarray(rgb))
    return images.grid(ims, nrow=nrow)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="NAME or TITLE=NAME: shipped names, run folders (RUN[:best]) or exports")
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--nrow", type=int, default=None)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if not 1 <= a.n <= 1024:
        raise UserError(f"--n {a.n} is out of range; it must be between 1 and 1024")
    out = Path(a.out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out} must be a .png file")
    panels = []
    for spec in a.models:
        title, gen = titled_generator(spec, needs_alpha="faint alpha needs")
        x = gen.sample_tensor(seeds=list(range(a.seed, a.seed + a.n)))
        share = float(faint_alpha(x).mean())
        panels.append((f"{title}: faint alpha {share:.2%} of pixels", faint_panel(x, a.nrow)))
    images.save_png(images.side_by_side(panels), out)
    print(f"{out}: {len(panels)} panels, faint alpha (alpha {FAINT_ALPHA[0]}-{FAINT_ALPHA[1]}) in magenta")


if __name__ == "__main__":
    script_main("faint_map.py", main)
