"""Which real emojis do models miss, by how unusual they are?

For each `emojigan evaluate` folder, reads the per-emoji recall hits (`arrays.npz`: in how many sets of 256
samples each real emoji is recalled) and splits the real emojis into thirds by rarity: their distance to
their 3rd-nearest training emoji in OpenMoji features (the ball radius k-NN recall uses, and the weight
`train.balance` raises to a power). A model that drops the unusual emojis covers the commonest third far
better than the rarest. Beside it, where the samples go: the share of samples whose nearest training emoji (by
SSIM, as `evaluate` finds it) is in each third (a third each would match the training set), and the emoji
drawn most often.

    python scripts/missed_by_rarity.py runs/eval-faces64 runs/f64-bal3/eval-best --subset faces --size 64
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emojigan.config import Config
from emojigan.data.clusters import openmoji_features, rarity_weights
from emojigan.errors import UserError, script_main
from emojigan.training.run import load_dataset


def thirds_covered(hits: np.ndarray, rarity: np.ndarray) -> list[float]:
    """Share of real emojis recalled by at least one set, in the rarest, middle and commonest third."""
    order = np.argsort(-rarity, kind="stable")
    return [float((hits[part] > 0).mean()) for part in np.array_split(order, 3)]


def samples_by_third(nearest: np.ndarray, rarity: np.ndarray) -> list[float]:
    """Share of samples whose nearest training emoji is in the rarest, middle and commonest third."""
    order = np.argsort(-rarity, kind="stable")
    return [float(np.isin(nearest, part).mean()) for part in np.array_split(order, 3)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("evals", nargs="+", help="folders written by emojigan evaluate")
    p.add_argument("--subset", default="faces")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--background", default="transparent")
    a = p.parse_args(argv)
    cfg = Config()
    cfg.data.subset, cfg.data.size, cfg.data.background = a.subset, a.size, a.background
    data = load_dataset(cfg.validate(), progress=False)
    rarity = rarity_weights(openmoji_features(data.images), 1.0).numpy()
    print("| evaluation | recall | missed | recalled: rarest / middle / commonest third "
          "| samples nearest to: rarest / middle / commonest third | most drawn (share of samples) |")
    print("|---|---|---|---|---|---|")
    for ev in a.evals:
        arrays, metrics = Path(ev) / "arrays.npz", Path(ev) / "metrics.json"
        if not arrays.is_file() or not metrics.is_file():
            raise UserError(f"{ev} is not an evaluation folder (no arrays.npz and metrics.json)")
        with np.load(arrays) as z:
            if "recall_hits" not in z:
                raise UserError(f"{ev} predates per-emoji recall; evaluate the model again")
            hits, nearest = z["recall_hits"], z["ssim_nearest_index"]
        if len(hits) != len(rarity):
            raise UserError(f"{ev} was evaluated against {len(hits)} real emojis; this data has {len(rarity)}")
        m = json.loads(metrics.read_text())
        recalled = " / ".join(f"{t:.2f}" for t in thirds_covered(hits, rarity))
        drawn = " / ".join(f"{t:.2f}" for t in samples_by_third(nearest, rarity))
        counts = np.bincount(nearest, minlength=len(rarity))
        top = int(counts.argmax())
        print(f"| {ev} | {m['recall']:.3f} | {int((hits == 0).sum())} | {recalled} | {drawn} | "
              f"{data.display_name(top)} ({counts[top] / len(nearest):.1%}) |")


if __name__ == "__main__":
    script_main("missed_by_rarity", main)
