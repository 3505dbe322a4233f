"""Where is a model's faint alpha, or its mottled fill? Its samples over white with every faintly opaque pixel (alpha
in `FAINT_ALPHA`, evaluate's faint-alpha measure; `--show faint`, the default) or every mottled pixel (inside the
emoji, its 5x5 window's colour std in `MOTTLE_STD`, evaluate's mottled fill; `--show mottle`) painted magenta, or
nothing painted (`--show plain`), one panel per model, on the same seeds.

Over white a faint speck is nearly invisible, yet it is what `faint_alpha_ratio` counts and what shows as a
grey haze over a dark page; this makes it visible. Models are shipped names or run folders (`RUN` = its last
generator, `RUN:best` = its best); a conditional model draws seed k with label k % labels, as `generate` does.

    python experiments/faint_map.py faces64 cond128 --n 32 --seed 88 --out faint.png
    python experiments/faint_map.py cond128 --show mottle --n 32 --seed 88 --out mottle.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from emojigan import images
from emojigan.errors import UserError, script_main
from emojigan.export import resolve_export, split_checkpoint
from emojigan.image_stats import FAINT_ALPHA, MOTTLE_STD, faint_alpha, mottle_mask, mottled_fill
from emojigan.inference import load_generator

MAGENTA = (255, 0, 255)


def faint_panel(x: torch.Tensor, nrow: int | None, show: str = "faint") -> images.Image.Image:
    """Samples (N, 4, H, W) in [-1, 1] composited over white, their faint-alpha pixels (or mottled pixels, or
    none) magenta."""
    lo, hi = FAINT_ALPHA
    mottled = mottle_mask(x)[0][:, 0].numpy() if show == "mottle" else None
    ims = []
    for i, im in enumerate(images.to_pil(x)):
        a = np.asarray(im)[..., 3] / 255
        rgb = np.array(images.composite(im, "white"))
        if show == "faint":
            rgb[(a > lo) & (a < hi)] = MAGENTA
        elif show == "mottle":
            rgb[mottled[i]] = MAGENTA
        ims.append(images.Image.fromarray(rgb))
    return images.grid(ims, nrow=nrow)


def titled_generator(spec: str):
    """'TITLE=NAME' or 'NAME' (a shipped name, a run folder as RUN[:best], or an export) -> (its title, the loaded
    generator); it must draw an alpha channel."""
    title, _, src = spec.rpartition("=")
    gen = load_generator(resolve_export(*split_checkpoint(src)))
    if gen.channels != 4:
        raise UserError(f"{src} draws without an alpha channel; faint alpha needs a transparent model")
    return title or src, gen


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="NAME or TITLE=NAME: shipped names, run folders (RUN[:best]) or exports")
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--nrow", type=int, default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--show", choices=("faint", "mottle", "plain"), default="faint",
                   help="paint faint alpha (default), mottled fill, or nothing")
    a = p.parse_args()
    if not 1 <= a.n <= 1024:
        raise UserError(f"--n {a.n} is out of range; it must be between 1 and 1024")
    out = Path(a.out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out} must be a .png file")
    panels = []
    for spec in a.models:
        title, gen = titled_generator(spec)
        x = gen.sample_tensor(seeds=list(range(a.seed, a.seed + a.n)))
        if a.show == "faint":
            caption = f"faint alpha {float(faint_alpha(x).mean()):.2%} of pixels"
        else:
            caption = f"mottled fill {float(mottled_fill(x).mean()):.1%} of the inside"
        panels.append((f"{title}: {caption}", faint_panel(x, a.nrow, a.show)))
    images.save_png(images.side_by_side(panels), out)
    painted = {"faint": f"faint alpha (alpha {FAINT_ALPHA[0]}-{FAINT_ALPHA[1]}) in magenta",
               "mottle": f"mottled fill (5x5 colour std {MOTTLE_STD[0]}-{MOTTLE_STD[1]}) in magenta",
               "plain": "nothing painted"}[a.show]
    print(f"{out}: {len(panels)} panels, {painted}")


if __name__ == "__main__":
    script_main("faint_map.py", main)

