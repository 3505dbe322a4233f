"""How sharply a text model's phrase memory should route. For each softmax temperature: the log-likelihood of a
phrasing's own emoji when it is routed without itself (the mean log of the weight on it; leave-one-out over the
training phrasings, what a text model trains on), the mean weight on it, and how often it gets the most weight.
The temperature is chosen on these alone: among those within 0.05 of the best log-likelihood, the one that puts
the most weight on the own emoji. The held-out paraphrases' top-1 / top-5 (the emoji with the most weight, among
the 5 with most) are printed beside them for reading, not for choosing.

    python experiments/route_temperature.py [--model text64]
"""
from __future__ import annotations

import argparse

import torch

from emojigan import load_generator
from emojigan.metrics.prompts import load_paraphrases
from emojigan.models.text import ROUTE_TEMPERATURE
from emojigan.pretrained import resolve_model
from emojigan.text.encoder import load_text_encoder

TEMPERATURES = (0.02, 0.03, 0.05, 0.07, 0.1, 0.2)


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="text64")
    a = ap.parse_args()
    gen = load_generator(a.model if "/" in a.model else resolve_model(a.model))
    G = gen.G.float().cpu()
    flat = G.phrases.flatten(0, 1)
    labels = torch.arange(G.phrases.shape[0]).repeat_interleave(G.phrases.shape[1])
    learned = {c.get("annotation", ""): y for y, c in enumerate(gen.classes)}
    pairs = [(p, n) for p, n in load_paraphrases() if n in learned]
    queries = load_text_encoder(gen.meta["model"].get("text_encoder") or None)([p for p, _ in pairs])
    target = torch.tensor([learned[n] for _, n in pairs])
    print(f"{len(gen.classes)} emojis x {G.phrases.shape[1]} phrasings; {len(pairs)} held-out paraphrases")
    print("| temperature | log-likelihood (leave-one-out) | own weight | own emoji first | paraphrases top-1 | top-5 |")
    print("|---|---|---|---|---|---|")
    for t in TEMPERATURES:
        w = G.route(flat, exclude=torch.arange(len(flat)), temperature=t)
        own = w[torch.arange(len(flat)), labels]
        near = G.route(queries, temperature=t).topk(5, dim=1).indices
        mark = " (used)" if t == ROUTE_TEMPERATURE else ""
        first = (w.argmax(1) == labels).float().mean()
        print(f"| {t}{mark} | {own.clamp_min(1e-12).log().mean():.3f} | {own.mean():.3f} | {first:.3f} | "
              f"{(near[:, 0] == target).float().mean():.3f} | {(near == target[:, None]).any(1).float().mean():.3f} |")


if __name__ == "__main__":
    main()
