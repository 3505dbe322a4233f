"""Would a mixture of generators cover more of the real emojis than each one alone?

Each GAN run drops some of the 111 faces, and independently trained runs need not drop the same ones. This
measures a uniform mixture of M unconditional generators (sample k is drawn by member k mod M, from seed k,
as `generate` draws it) against each member alone on the same seeds, with `emojigan evaluate`'s metrics
(KID, precision/recall on sets of 256, coverage, copies, edge and noise ratios), and prints one markdown
table. Members are run folders (`RUN` = its last generator, `RUN:best` = its best), shipped model names or
both. All must have been trained on the same data (subset, size, background).

    python scripts/mixture_eval.py runs/f64-ema995:best runs/f64-seed1:best runs/f64-seed2:best --n 512 \\
        --out runs/mixture
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from emojigan import images
from emojigan.errors import UserError, script_main
from emojigan.features import load_feature_space
from emojigan.inference import load_generator
from emojigan.metrics import EvalData, compute_all
from emojigan.metrics.evaluate import MAX_N, export_of, load_run, split_checkpoint
from emojigan.training.run import load_dataset

COLUMNS = ("kid", "precision", "recall", "coverage", "copy_rate", "edge_ratio", "noise_ratio", "faint_alpha_ratio",
           "stray_fragment_rate", "mottled_fill")


def member(spec: str):
    """'RUN' | 'RUN:best' | a shipped name -> (label, generator, data config)."""
    path, checkpoint = split_checkpoint(spec)
    run, raw, cfg = load_run(path)
    gen = load_generator(export_of(run, raw, checkpoint))
    if gen.conditional:
        raise UserError(f"{spec} is a conditional model; a mixture here is of unconditional generators")
    return spec, gen, cfg


def mixture_samples(gens: list, n: int) -> torch.Tensor:
    """(n, C, H, W): sample k from member k mod M, seed k."""
    parts = [g.sample_tensor(seeds=list(range(i, n, len(gens)))) for i, g in enumerate(gens)]
    out = torch.empty((n, *parts[0].shape[1:]))
    for i, x in enumerate(parts):
        out[i::len(gens)] = x
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("members", nargs="+", help="RUN, RUN:best or a shipped model name; two or more")
    p.add_argument("--n", type=int, default=512, help="samples per model (sets of 256 for precision/recall)")
    p.add_argument("--out", required=True, help="folder for mixture.json, mixture.md and the mixture's grid")
    a = p.parse_args(argv)
    if len(a.members) < 2:
        raise UserError("a mixture needs two or more members")
    if not 2 <= a.n <= MAX_N:
        raise UserError(f"--n {a.n} is out of range; it must be between 2 and {MAX_N}")
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    members = [member(s) for s in a.members]
    keys = {(c.data.subset, c.data.group, c.data.subgroup, c.data.path, c.data.size, c.data.background)
            for _, _, c in members}
    if len(keys) > 1:
        raise UserError("the members were trained on different data (subset, size or background); mix models "
                        "of the same data")
    cfg = members[0][2]
    real = load_dataset(cfg, progress=False).images
    space = load_feature_space("openmoji")
    real_feat = space(real)
    rows = {}
    candidates = [(label, gen.sample_tensor(seeds=list(range(a.n)))) for label, gen, _ in members]
    candidates.append((f"mixture of {len(members)}", mixture_samples([g for _, g, _ in members], a.n)))
    for label, fake in candidates:
        scalars, arrays = compute_all(EvalData(real, fake, real_feat, space(fake), cfg.data.background, 0))
        rows[label] = {k: float(scalars[k]) for k in COLUMNS if k in scalars} | {
            "missed": int((arrays["recall_hits"] == 0).sum())}
        print(f"{label}: KID {rows[label]['kid']:.4f}, recall {rows[label]['recall']:.3f}, "
              f"copies {rows[label]['copy_rate']:.1%}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    show = images.for_display(images.to_pil(candidates[-1][1][:64]))
    images.save_png(images.grid(show, nrow=8), out / "samples.png")
    (out / "mixture.json").write_text(json.dumps({"n": a.n, "members": a.members, "rows": rows}, indent=1))
    cols = [k for k in COLUMNS if k in rows[candidates[0][0]]]  # faint alpha, stray fragments: RGBA only
    lines = ["| model | " + " | ".join(cols) + " | missed |", "|---" * (len(cols) + 2) + "|"]
    for label, r in rows.items():
        lines.append(f"| {label} | " + " | ".join(f"{r[k]:.3f}" for k in cols) + f" | {r['missed']} |")
    (out / "mixture.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    script_main("mixture_eval.py", main)
