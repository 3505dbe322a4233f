"""Interpolation between two endpoints. An endpoint is
- `seed:N` (z interpolated by slerp), `seed:N:label name`, or a label name (conditional models: the label embedding
  interpolated linearly, z fixed by `--seed`);
- `code:FILE:i`, entry i of a codes file of `emojigan encode`;
- `prompt:TEXT` (text models: the prompt's point in the conditioning space, z fixed by `--seed`);
- an image file or an OpenMoji name, encoded first (`invert.encode`).
A mixture's members have latent spaces of their own: two encoded ends are encoded into one member, and two seeds or
codes of different members are refused, saying so."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.names import LabelIndex
from ..errors import UserError
from .encoder import load_encoder
from .inputs import load_inputs
from .invert import Codes, encode
from .sampling import MAX_SEED, slerp, z_from_seeds

ENCODE_STEPS = 30  # optimization steps for an endpoint that is an image or an OpenMoji name


@dataclass
class Endpoint:
    text: str
    seed: int | None = None
    label: int | None = None
    code: Codes | None = None       # a code from a file, or one encoded here
    target: str | None = None       # an image file or OpenMoji name still to encode
    embedding: torch.Tensor | None = None  # a prompt's conditioning point (text models)


def parse_endpoint(text: str, gen) -> Endpoint:
    """`seed:N`, `seed:N:label`, `code:FILE:i`, a label name (conditional models), an image file or an OpenMoji
    name."""
    t = text.strip()
    if t.lower().startswith("prompt:"):
        return Endpoint(t, embedding=gen.prompt_embedding([t[7:]])[0])
    if t.lower().startswith("code:"):
        path, _, index = t[5:].rpartition(":")
        if not path or not index.isdigit():
            raise UserError(f"endpoint '{text}': write code:FILE:i, entry i of a codes file of `emojigan encode`")
        if not Path(path).is_file():
            raise UserError(f"endpoint '{text}': {path} does not exist")
        codes = Codes.load(path)
        codes.check_model(gen, path)
        return Endpoint(t, code=codes.entry(int(index), path))
    seed, label_name = None, t
    if t.lower().startswith("seed:"):
        parts = t.split(":", 2)
        try:
            seed = int(parts[1])
            if not 0 <= seed <= MAX_SEED:
                raise ValueError
        except ValueError:
            raise UserError(f"endpoint '{text}': seed must be a non-negative integer below 2**63 (seed:N or "
                            f"seed:N:label)") from None
        label_name = parts[2] if len(parts) > 2 else None
        if label_name and not gen.conditional:
            raise UserError(f"endpoint '{text}' names a label, but this model is unconditional; use seed:N")
    if not label_name:
        return Endpoint(t, seed)
    if Path(label_name).is_file() and seed is None:
        return Endpoint(t, target=label_name)
    if gen.conditional:
        try:
            return Endpoint(t, seed, LabelIndex(gen.classes).find(label_name))
        except UserError:
            if seed is not None:
                raise
    return Endpoint(t, target=label_name)  # an OpenMoji name: encoded (an unknown one is an error there)


def encode_endpoint(gen, end: Endpoint, member: int | None = None) -> Codes:
    names, x = load_inputs([end.target], gen.size, gen.background)
    return encode(gen, x, names, steps=ENCODE_STEPS, members=None if member is None else [member], progress=False,
                  encoder=load_encoder(gen))


def interpolate(gen, start: str, end: str, steps: int, seed: int = 0, redraw: int = 0) -> torch.Tensor:
    """(steps, C, H, W) images from `start` to `end` inclusive. With `redraw` R, a seed's latent is the draw
    `generate --redraw R` shows for it (a first draw with a stray fragment replaced by the seed's later draw
    with the fewest)."""
    if not 2 <= steps <= 256:
        raise UserError(f"--steps {steps} is out of range; it must be between 2 and 256")
    a, b = parse_endpoint(start, gen), parse_endpoint(end, gen)
    if a.target is not None:
        a.code = encode_endpoint(gen, a, b.code.member.item() if b.code is not None else None)
    if b.target is not None:  # into the member of the other end
        b.code = encode_endpoint(gen, b, a.code.member.item() if a.code is not None else None)
    ends = []
    for e in (a, b):
        if e.code is not None:
            ends.append((e.code.z[0], int(e.code.member[0]),
                         e.code.embedding[0] if e.code.embedding is not None else None))
            continue
        if e.embedding is not None:
            ends.append((z_from_seeds([seed], gen.z_dim)[0], 0, e.embedding))
            continue
        if gen.conditional and e.label is None:
            raise UserError("a conditional model needs a label, a code, a prompt or an image at both endpoints "
                            "(a name, seed:N:name, code:FILE:i, prompt:TEXT or an image file)")
        s = e.seed if e.seed is not None else seed
        draw = gen.sample_redrawn([s], [e.label] if gen.conditional else None, redraw=redraw)[1][0] if redraw else 0
        ends.append((z_from_seeds([s], gen.z_dim, draws=[draw])[0], gen.member_of([s])[0],
                     gen.label_embedding([e.label])[0] if gen.conditional else None))
    (za, ma, ea), (zb, mb, eb) = ends
    if ma != mb:  # a mixture's members have latent spaces of their own: no path joins them
        m = len(gen.members)
        if a.seed is not None and b.seed is not None and a.code is None and b.code is None:
            sa, sb = a.seed, b.seed
            near = sb - (sb - sa) % m
            raise UserError(f"seeds {sa} and {sb} are drawn by different generators of this mixture of {m} (seed k by "
                            f"generator k mod {m}); interpolate between seeds that are equal mod {m}, e.g. seed:{sa} "
                            f"and seed:{near if near != sa else sa + m}")
        raise UserError(f"'{start}' is in generator {ma} and '{end}' in generator {mb} of this mixture of {m}: a path "
                        f"between them would cross generators; give the ends of one generator (an image or an "
                        f"OpenMoji name is encoded into the other end's)")
    ts = torch.linspace(0, 1, steps)
    z = torch.stack([slerp(za, zb, float(t)) for t in ts])
    if not gen.conditional:
        return gen.sample_tensor(z=z, member=ma)
    emb = torch.stack([torch.lerp(ea, eb, float(t)) for t in ts])
    return gen.sample_tensor(z=z, embeddings=emb)
