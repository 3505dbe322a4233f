"""Interpolation between two endpoints. An endpoint is a label name (the label embedding is interpolated
linearly, z fixed by the seed), `seed:N` (z interpolated by slerp), or `seed:N:label name` (both). The
grammar is open: later issues add image files, `code:` entries and `prompt:TEXT`."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.names import LabelIndex
from ..errors import UserError
from .sampling import slerp, z_from_seeds


@dataclass
class Endpoint:
    text: str
    seed: int | None = None
    label: int | None = None


def parse_endpoint(text: str, gen) -> Endpoint:
    """`seed:N`, `seed:N:label`, or a label name (conditional models only)."""

    t = text.strip()
    seed, label_name = None, t
    if t.lower().startswith("seed:"):
        parts = t.split(":", 2)
        try:
            seed = int(parts[1])
            if seed < 0:
                raise ValueError
        except ValueError:
            raise UserError(f"endpoint '{text}': seed must be a non-negative integer (seed:N or seed:N:label)") from None
        label_name = parts[2] if len(parts) > 2 else None
    label = None
    if label_name:
        if not gen.conditional:
            raise UserError(f"endpoint '{text}' names a label, but this model is unconditional; use seed:N")
        label = LabelIndex(gen.classes).find(label_name)
    return Endpoint(t, seed, label)


def interpolate(gen, start: str, end: str, steps: int, seed: int = 0, redraw: int = 0) -> torch.Tensor:
    """(steps, C, H, W) images from `start` to `end` inclusive. With `redraw` R, a seed's latent is the draw
    `generate --redraw R` shows for it (a first draw with a stray fragment replaced by the seed's later draw
    with the fewest)."""
    if not 2 <= steps <= 256:
        raise UserError(f"--steps {steps} is out of range; it must be between 2 and 256")
    a, b = parse_endpoint(start, gen), parse_endpoint(end, gen)
    if gen.conditional:
        if a.label is None or b.label is None:
            raise UserError("a conditional model needs a label at both endpoints (a name, or seed:N:name)")
    sa, sb = (a.seed if a.seed is not None else seed), (b.seed if b.seed is not None else seed)
    ma, mb = gen.member_of([sa, sb])
    if ma != mb:  # a mixture's members have latent spaces of their own: no path joins them
        m = len(gen.members)
        near = sb - (sb - sa) % m  # the seed of seed sa's generator nearest below sb; another seed than sa itself
        raise UserError(f"seeds {sa} and {sb} are drawn by different generators of this mixture of {m} (seed k by "
                        f"generator k mod {m}); interpolate between seeds that are equal mod {m}, e.g. seed:{sa} "
                        f"and seed:{near if near != sa else sa + m}")
    da = db = 0
    if redraw:
        labels = [a.label, b.label] if gen.conditional else None
        da, db = gen.sample_redrawn([sa, sb], labels, redraw=redraw)[1]
    za, zb = z_from_seeds([sa], gen.z_dim, draws=[da])[0], z_from_seeds([sb], gen.z_dim, draws=[db])[0]
    ts = torch.linspace(0, 1, steps)
    z = torch.stack([slerp(za, zb, float(t)) for t in ts])
    if not gen.conditional:
        return gen.sample_tensor(z=z, member=ma)
    ea, eb = gen.label_embedding([a.label])[0], gen.label_embedding([b.label])[0]
    emb = torch.stack([torch.lerp(ea, eb, float(t)) for t in ts])
    return gen.sample_tensor(z=z, embeddings=emb)
