"""How well `emojigan edit` moves samples toward the emojis a word tags.

A word's direction (latent/directions.py) is, on an unconditional model, the mean code of the tagged real emojis
minus the mean of the rest in each member (the subset encoded into every member, read from --codes or encoded
now); on a conditional model, the mean label embedding of the tagged labels minus the rest. For each word and
seed, the edited image's OpenMoji-feature distance to the tagged emojis' mean feature is taken at each strength.
An edit is monotone on a seed when that distance falls at every step; the table gives the monotone share and the
mean distance at each strength relative to strength 0.

    python benchmarks/edit_directions.py --model faces64 --codes runs/enc/faces64-all.npz
    python benchmarks/edit_directions.py --model cond128 --words cat,tears,angry,heart,sweat --strengths 0,0.5,1,1.5
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe  # noqa: E402

from emojigan import config  # noqa: E402
from emojigan.data import load_dataset  # noqa: E402
from emojigan.features import load_feature_space  # noqa: E402
from emojigan.inference import load_generator  # noqa: E402
from emojigan.latent.directions import direction, edit, label_direction, tagged  # noqa: E402
from emojigan.latent.encoder import load_encoder  # noqa: E402
from emojigan.latent.invert import Codes, decode, encode_every_member  # noqa: E402
from emojigan.latent.sampling import z_from_seeds  # noqa: E402
from emojigan.pretrained import resolve_model  # noqa: E402


def subset_codes(gen, data, names, path: str | None) -> Codes:
    if path and Path(path).is_file():
        return Codes.load(path)
    codes = encode_every_member(gen, data.images, names, encoder=load_encoder(gen))
    if path:
        codes.save(path)
    return codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--codes", help="unconditional models: the subset's codes in every member (encoded if absent)")
    ap.add_argument("--words", default="tears,heart,angry,smile,sweat,hand")
    ap.add_argument("--strengths", default="0,1,2,3")
    ap.add_argument("--seeds", type=int, default=12)
    a = ap.parse_args()
    print(describe(torch.device("cpu")))
    gen = load_generator(resolve_model(a.model), precision="fp32")
    data = load_dataset(config.DataConfig(subset=gen.meta["data"]["subset"], size=gen.size,
                                          background=gen.background), progress=False)
    names = [data.display_name(i) for i in range(len(data))]
    space = load_feature_space("openmoji")
    feats = space(data.images)
    codes = None if gen.conditional else subset_codes(gen, data, names, a.codes)
    strengths = [float(v) for v in a.strengths.split(",")]
    seeds = list(range(a.seeds))
    print(f"\n{a.model}, seeds 0-{len(seeds) - 1}, strengths {a.strengths}\n")
    print("| word (tagged) | monotone seeds | mean distance at each strength (x strength 0) |")
    print("|---|---|---|")
    for word in a.words.split(","):
        hits = tagged(names, word)
        centre = feats[torch.tensor([n in hits for n in names])].mean(0)
        d = label_direction(gen, word) if gen.conditional else direction(codes, word, len(gen.members))
        dist = []
        for s in seeds:
            emb = gen.label_embedding(gen.default_labels([s])) if gen.conditional else None
            start = Codes(z_from_seeds([s], gen.z_dim), torch.tensor(gen.member_of([s])), emb, [str(s)], "")
            dist.append((space(decode(gen, edit(start, d, strengths))) - centre).norm(dim=1).numpy())
        dist = np.array(dist)                                        # (seeds, strengths)
        mono = (np.diff(dist, axis=1) < 0).all(axis=1).sum()
        rel = (dist[:, 1:] / dist[:, :1]).mean(0)
        print(f"| {d.word} ({len(hits)}) | {mono} of {len(seeds)} | {', '.join(f'{r:.3f}' for r in rel)} |", flush=True)


if __name__ == "__main__":
    main()
