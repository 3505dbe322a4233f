"""How k-NN recall depends on the number of samples, for real models and two references.

Recall (Kynkaanniemi et al. 2019) counts a real emoji as covered when it lies inside some sample's k-NN ball,
the ball's radius being the distance to that sample's k-th nearest *sample*. Adding samples shrinks every
ball, so the same model reads a lower recall from more samples; with only ~111 real emojis the effect is
large. This script measures it: for each model, N samples are drawn once and split into disjoint sets of
each size (recall averaged over the sets, min-max shown), with coverage of all N beside it (Naeem et al.
2020, k=1: some sample is nearer to the emoji than any other real emoji). Conditional models draw the data's
emojis by label, round-robin (their labels must include every image's hexcode), downsampled to the data's
size. A copier (every real emoji, shifted by up to 2 pixels) is the first row, for scale.

    python scripts/recall_scale.py faces64 cond128 --subset faces --size 64 --background transparent
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from emojigan.config import Config
from emojigan.errors import UserError, script_main
from emojigan.features import load_feature_space
from emojigan.inference import load_generator
from emojigan.metrics.distribution import coverage, precision_recall_sets
from emojigan.training.run import load_dataset


def draw(model: str, names: list[str], n: int, size: int, channels: int) -> torch.Tensor:
    """n samples of `model` (seeds 0..n-1) at `size`; conditional models draw label of image i % len(names)."""
    g = load_generator(model, precision="fp32")
    labels = None
    if g.conditional:
        hexes = [c.get("hexcode", "") for c in g.meta["classes"]]
        missing = [h for h in names if h not in hexes]
        if missing:
            raise UserError(f"{model} has no label for {len(missing)} of the data's emojis (e.g. {missing[0]})")
        labels = [hexes.index(names[i % len(names)]) for i in range(n)]
    x = g.sample_tensor(seeds=list(range(n)), labels=labels)
    if x.shape[1] != channels:
        raise UserError(f"{model} draws {x.shape[1]} channels; the data has {channels} (match --background)")
    if x.shape[-1] < size:
        raise UserError(f"{model} draws {x.shape[-1]} px images; the data is {size} px (only larger models are "
                        f"downsampled)")
    return F.interpolate(x, size=size, mode="area") if x.shape[-1] != size else x


def copier(real: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Real emoji i % len(real), rolled by up to 2 pixels each way: a model that only copies."""
    g = torch.Generator().manual_seed(seed)
    shifts = torch.randint(-2, 3, (n, 2), generator=g).tolist()
    return torch.stack([torch.roll(real[i % len(real)], tuple(s), (1, 2)) for i, s in enumerate(shifts)])


def recall_by_set_size(real_feat: torch.Tensor, fake_feat: torch.Tensor, sizes: list[int]) -> dict[int, tuple]:
    """{size: (mean recall, min, max, number of sets)} over disjoint consecutive sets of each size."""
    out = {}
    for s in sizes:
        r, _ = precision_recall_sets(real_feat, fake_feat, size=s)
        out[s] = (r["recall"], r["recall_min"], r["recall_max"], r["pr_sets"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="shipped model names, run folders or .safetensors exports")
    ap.add_argument("--subset", default="faces")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--background", default="transparent")
    ap.add_argument("--sizes", default="128,256,512,1024", help="set sizes, comma-separated")
    args = ap.parse_args()
    try:
        sizes = sorted(int(s) for s in args.sizes.split(","))
    except ValueError:
        sizes = [0]
    if sizes[0] < 4:
        raise UserError(f"--sizes {args.sizes!r}: give set sizes of at least 4, e.g. 128,256,512")
    cfg = Config()
    cfg.data.subset, cfg.data.size, cfg.data.background = args.subset, args.size, args.background
    data = load_dataset(cfg.validate(), progress=False)
    space = load_feature_space("openmoji")
    real_feat, n = space(data.images), sizes[-1]
    rows = [("copier (real emojis shifted <= 2 px)", copier(data.images, n))]
    rows += [(m, draw(m, data.names, n, args.size, data.images.shape[1])) for m in args.models]
    print(f"{len(data)} real emojis ({args.subset}, {args.size} px, {args.background}); recall (k=3) by samples per "
          f"set: mean over the disjoint sets of {n} samples (min-max); coverage of all {n}\n")
    print("| model | " + " | ".join(f"recall, {s} a set" for s in sizes) + f" | coverage ({n}) |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for name, x in rows:
        feat = space(x)
        cells = [f"{m:.3f} ({lo:.3f}-{hi:.3f}, {k} sets)" if k > 1 else f"{m:.3f}"
                 for m, lo, hi, k in recall_by_set_size(real_feat, feat, sizes).values()]
        print(f"| {name} | " + " | ".join(cells) + f" | {coverage(real_feat, feat):.3f} |")


if __name__ == "__main__":
    script_main("recall_scale", main)
