"""Would drawing the rarely drawn emojis more often, at sampling time, raise recall?

Draws a pool of samples, finds each one's nearest training emoji (in OpenMoji features or in pixels), and
picks `--n` of them without replacement with probability proportional to c ** -beta, c the number of pool
samples that share its nearest emoji: beta 0 keeps the model's own mix, 1 flattens it over the emojis it draws.
Prints `evaluate`'s distribution metrics (precision/recall over sets of 256, KID, coverage, missed emojis)
for the pool's first `--n` samples (seeds 0..n-1, what `evaluate` scores) and for each beta. Selecting by the
same features that score recall flatters it; `--by pixels` is the fair version.

    python scripts/balanced_pool.py faces64 --pool 4096 --n 512 --betas 0.5,1
"""
from __future__ import annotations

import argparse

import torch

from emojigan.errors import UserError, script_main
from emojigan.features import load_feature_space
from emojigan.inference import load_generator
from emojigan.metrics.distribution import coverage, kid, precision_recall_sets
from emojigan.metrics.evaluate import export_of, load_run, split_checkpoint
from emojigan.training.run import load_dataset


def balanced_pick(nearest: torch.Tensor, n: int, beta: float, seed: int = 0) -> torch.Tensor:
    """Indices of `n` pool samples drawn without replacement, sample i with weight c_i ** -beta (c_i: how many
    pool samples share sample i's nearest emoji)."""
    counts = torch.bincount(nearest).double()
    w = counts[nearest] ** -beta
    return torch.multinomial(w, n, replacement=False, generator=torch.Generator().manual_seed(seed))


def scores(real_feat: torch.Tensor, fake_feat: torch.Tensor) -> str:
    s, _ = precision_recall_sets(real_feat, fake_feat, 3)
    k, k_std = kid(real_feat, fake_feat)
    return (f"| {s['precision']:.3f} | {s['recall']:.3f} ({s['recall_min']:.3f}-{s['recall_max']:.3f}) | "
            f"{s['recall_missed']} | {k:.4f} ± {k_std:.4f} | {coverage(real_feat, fake_feat):.3f} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a shipped name, a run folder (RUN[:best]) or an export")
    p.add_argument("--pool", type=int, default=4096, help="samples drawn (seeds 0..pool-1)")
    p.add_argument("--n", type=int, default=512, help="samples kept and scored")
    p.add_argument("--betas", default="0.5,1", help="comma-separated exponents")
    p.add_argument("--by", choices=("features", "pixels"), default="pixels",
                   help="nearest training emoji in OpenMoji features, or in pixels (L2 over RGB(A))")
    a = p.parse_args(argv)
    try:
        betas = [float(b) for b in a.betas.split(",")]
    except ValueError:
        raise UserError(f"--betas {a.betas!r} must be comma-separated numbers, e.g. 0.5,1") from None
    if not all(0 <= b <= 4 for b in betas):
        raise UserError(f"--betas {a.betas}: each exponent must be between 0 and 4")
    if not 2 <= a.n <= a.pool <= 65536:
        raise UserError(f"--n {a.n} and --pool {a.pool}: need 2 <= n <= pool <= 65536")
    path, checkpoint = split_checkpoint(a.model)
    run, raw, cfg = load_run(path)
    gen = load_generator(export_of(run, raw, checkpoint))
    if gen.conditional:
        raise UserError(f"{a.model} is conditional: its labels already choose what to draw")
    real = load_dataset(cfg, progress=False).images.float()
    fake = gen.sample_tensor(seeds=list(range(a.pool)))
    space = load_feature_space("openmoji")
    real_feat, fake_feat = space(real), space(fake)
    if a.by == "features":
        nearest = torch.cdist(fake_feat, real_feat).argmin(1)
    else:
        nearest = torch.cdist(fake.flatten(1).float(), real.flatten(1)).argmin(1)
    drawn = torch.bincount(nearest, minlength=len(real))
    print(f"{a.model}: {a.pool} samples near {int((drawn > 0).sum())} of {len(real)} training emojis (by {a.by}); "
          f"the most drawn takes {float(drawn.max()) / a.pool:.1%}")
    print("| samples | precision | recall (sets of 256) | missed | KID | coverage |")
    print("|---|---|---|---|---|---|")
    print(f"| seeds 0-{a.n - 1} " + scores(real_feat, fake_feat[:a.n]))
    for beta in betas:
        print(f"| {a.n} of {a.pool}, beta {beta:g} " + scores(real_feat, fake_feat[balanced_pick(nearest, a.n, beta)]))


if __name__ == "__main__":
    script_main("balanced_pool.py", main)
