"""How hard does a G-step loss (`train.fragments`, `train.flat`) pull on G, against the adversarial one? Batch by batch.

Adam divides each step by a running root mean square of past gradients (beta2 = 0.999: about a thousand steps of
memory), so a term whose gradient is far larger than the adversarial one, even in a few batches, shrinks G's
adversarial steps for the thousand that follow while D keeps learning. This draws training-mode batches from a
model (a shipped name, a run folder or an export; with its D, as `--init` would start), and prints per batch the
norm of G's gradient from the non-saturating adversarial loss and from the chosen term at weight 1, then their
medians and the term's weight at which the two medians match.

    python scripts/grad_balance.py faces64 --member 2 --batches 20
    python scripts/grad_balance.py cond128 --term flat
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from emojigan.config import Config
from emojigan.errors import UserError, script_main
from emojigan.inference import resolve_export
from emojigan.models import build
from emojigan.training.checkpoint import read_export_meta
from emojigan.training.init import adopt_model, load_init
from emojigan.training.step import flat_loss, fragment_loss

TERMS = {"fragments": fragment_loss, "flat": flat_loss}


def g_norm(G: torch.nn.Module, loss: torch.Tensor) -> float:
    G.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    return float(torch.sqrt(sum((p.grad.float() ** 2).sum() for p in G.parameters() if p.grad is not None)))


def balance(spec: str, member: int, batches: int, batch_size: int, seed: int,
            term: str = "fragments") -> list[tuple[float, float, float]]:
    """Per batch: (adversarial gradient norm, the term's gradient norm at weight 1, the term's value)."""
    cfg = Config()
    cfg.train.init_member = member
    cfg = adopt_model(cfg, spec, set())
    rgba = cfg.data.background == "transparent"
    if term == "fragments" and not rgba:
        raise UserError(f"{spec} draws without an alpha channel; the fragment loss needs a transparent model")
    classes = read_export_meta(resolve_export(spec)).get("classes", [])
    m, d = cfg.model, cfg.data
    G, D = build(m.arch, d.size, 4 if rgba else 3, m.z_dim, m.g_base, m.d_base, m.max_channels, n_classes=len(classes),
                 embed_dim=m.embed_dim, d_norm=m.d_norm, attention=m.attention, sle=m.sle, d_recon=bool(m.d_recon),
                 d_cond=m.d_cond, d_mbstd=m.d_mbstd, d_pack=m.d_pack, g_upsample=m.g_upsample)[:2]
    print(load_init(G, D, spec, member))
    for p in D.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batches):
        z = torch.randn(batch_size, m.z_dim, generator=gen)
        args = (torch.randint(0, len(classes), (batch_size,), generator=gen),) if classes else ()
        x = G(z, *args)
        out = D(x, *args)
        out = out[0] if isinstance(out, tuple) else out
        value = TERMS[term](x)
        v = float(value.detach())
        rows.append((g_norm(G, F.softplus(-out.float()).mean()), g_norm(G, value) if v > 0 else 0.0, v))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a shipped name, a run folder or an export (RGBA)")
    p.add_argument("--member", type=int, default=0, help="with a mixture: which generator (default 0)")
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--term", default="fragments", choices=sorted(TERMS), help="the loss to weigh (default fragments)")
    a = p.parse_args()
    if not 1 <= a.batches <= 10_000 or not 1 <= a.batch_size <= 1024:
        raise UserError(f"--batches {a.batches} / --batch-size {a.batch_size}: use 1-10000 batches of 1-1024")
    rows = balance(a.model, a.member, a.batches, a.batch_size, a.seed, a.term)
    print(f"| batch | adversarial | {a.term} (weight 1) | {a.term} loss |")
    print("|---|---|---|---|")
    for i, (adv, frag, loss) in enumerate(rows):
        print(f"| {i} | {adv:.3g} | {frag:.3g} | {loss:.3g} |")
    adv = np.median([r[0] for r in rows])
    hit = [r[1] for r in rows if r[1] > 0]
    frag = float(np.median(hit)) if hit else 0.0
    print(f"median adversarial norm {adv:.3g}; {a.term} norm {frag:.3g} in the {len(hit)} of {len(rows)} batches "
          f"where it is above 0" + (f"; the two match at train.{a.term} = {adv / frag:.3g}" if frag else ""))


if __name__ == "__main__":
    script_main("grad_balance.py", main)
