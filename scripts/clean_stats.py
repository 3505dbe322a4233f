"""How clean are a model's samples, per mixture member? Stray fragments and faint alpha in seconds, not minutes.

`emojigan evaluate` measures the same two numbers (`stray_fragment_rate`, `faint_alpha`) beside everything else in
minutes; this draws only the samples, so a continuation can be judged while it trains, and splits them by the
mixture member that drew each seed (seed k: member k mod M). With `--data`, each fragment is also placed against
the training emoji nearest to its sample in alpha (as `train.silhouette` does): its distance in pixels from that
emoji's silhouette (alpha > SILHOUETTE_ALPHA), which says what `train.silhouette_margin` spares.

    python scripts/clean_stats.py faces64 runs/f64-sil-m0 --n 1536 --data ~/.cache/emojigan/datasets/faces-64-transparent
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy import ndimage

from emojigan.data.dataset import load_images
from emojigan.errors import UserError, script_main
from emojigan.metrics.evaluate import titled_generator
from emojigan.metrics.image_stats import faint_alpha, small_parts, stray_fragments, stray_limit
from emojigan.training.step import SILHOUETTE_ALPHA, nearest_by_alpha

DISTANCE_BINS = ((0, 0.5, "on the silhouette"), (0.5, 1.5, "1 px off"), (1.5, 2.5, "2 px off"),
                 (2.5, 4.5, "3-4 px off"), (4.5, float("inf"), "farther"))


def fragment_distances(x: torch.Tensor, keys: torch.Tensor) -> np.ndarray:
    """For every stray fragment of samples `x` (N, 4, H, W) in [-1, 1]: its distance in pixels from the
    silhouette (alpha > 0.02) of the training image nearest its sample in alpha (`keys`: (K, H*W) in [0, 1]).
    0 = on the silhouette (a piece broken off inside the emoji's outline)."""
    a = (x[:, 3].float().clamp(-1, 1) + 1) / 2
    nearest = nearest_by_alpha(x, keys)
    limit = stray_limit(*a.shape[-2:])
    out = []
    for im, k in zip((a > 0.5).numpy(), nearest.tolist()):
        labels, small = small_parts(im, limit)
        if not small.any():
            continue
        outside = ~(keys[k].view(im.shape) > SILHOUETTE_ALPHA).numpy()
        dist = ndimage.distance_transform_edt(outside)
        out += [float(dist[labels == j].min()) for j in np.flatnonzero(small)]
    return np.array(out)


def member_rows(title: str, x: torch.Tensor, members: np.ndarray, keys: torch.Tensor | None) -> list[list[str]]:
    """Table rows: the whole model, then each member when there are several."""
    strays, faint = stray_fragments(x), faint_alpha(x)
    M = int(members.max()) + 1
    rows = []
    for m in ([None] if M == 1 else [None, *range(M)]):
        pick = np.ones(len(x), bool) if m is None else members == m
        row = [title if m is None else f"  member {m}", str(int(pick.sum())), f"{(strays[pick] > 0).mean():.1%}",
               f"{strays[pick].mean():.3f}", f"{faint[pick].mean():.2%}"]
        if keys is not None:
            d = fragment_distances(x[torch.from_numpy(pick)], keys)
            row += [f"{((d >= lo) & (d < hi)).mean():.0%}" if len(d) else "-" for lo, hi, _ in DISTANCE_BINS]
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="NAME or TITLE=NAME: shipped names, run folders (RUN[:best]) or exports")
    p.add_argument("--n", type=int, default=1024, help="seeds 0..n-1 (a mixture's members share them k mod M)")
    p.add_argument("--data", default=None, help="the training images (a built dataset, RGBA at the models' size): "
                                                "place each fragment against its sample's nearest emoji")
    a = p.parse_args()
    if not 1 <= a.n <= 65536:
        raise UserError(f"--n {a.n} is out of range; it must be between 1 and 65536")
    keys = {}  # side -> the training images' alpha, loaded at each model's size once
    head = ["model", "samples", "with a fragment", "fragments per sample", "faint alpha (share of pixels)"]
    if a.data:
        head += [f"fragments {label}" for *_, label in DISTANCE_BINS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for spec in a.models:
        title, gen = titled_generator(spec, needs_alpha="fragments and faint alpha need")
        if a.data and gen.size not in keys:
            real = load_images(a.data, gen.size, "transparent").images
            keys[gen.size] = ((real[:, 3].float() + 1) / 2).flatten(1)
        seeds = list(range(a.n))
        x = gen.sample_tensor(seeds=seeds)
        for row in member_rows(title, x, np.array(gen.member_of(seeds)), keys.get(gen.size)):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    script_main("clean_stats.py", main)
