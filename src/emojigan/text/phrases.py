"""The phrases a text model learns from: for each emoji, PHRASINGS ways to say it, built from its annotation, its
Unicode tags and OpenMoji's tags. Phrasing 0 is the annotation itself (what `--label` and the label list use); the
others mix the annotation with a few tags, or tags alone, so that a model trained on a different phrasing each
step learns the language around an emoji, not an id."""
from __future__ import annotations

import random

import torch

from ..data.catalog import Emoji, load_catalog
from ..models.text import PHRASINGS  # the phrases buffer of a text model holds this many per emoji


def phrasings(e: Emoji, n: int = PHRASINGS) -> list[str]:
    """`n` phrases for `e`, the same on every machine (seeded by its hexcode)."""
    rng = random.Random(e.hexcode)
    tags = [t for t in e.tags if t.lower() not in e.annotation.lower()] or list(e.tags) or [e.annotation]
    out = [e.annotation]
    forms = [lambda t: f"{e.annotation}, {', '.join(t[:2])}",
             lambda t: f"{', '.join(t[:3])}",
             lambda t: f"{t[0]} {e.annotation}",
             lambda t: f"an emoji of a {e.annotation}",
             lambda t: f"{e.annotation} {t[0]}",
             lambda t: f"{', '.join(t[:4])}, {e.annotation}",
             lambda t: f"{t[0]} and {t[-1]}"]
    while len(out) < n:
        for form in forms:
            if len(out) == n:
                break
            out.append(form(rng.sample(tags, len(tags))))
    return out


def phrase_table(classes: list[dict], encoder) -> torch.Tensor:
    """(n_classes, PHRASINGS, dim): the sentence embeddings of each class's phrasings. A class is an OpenMoji emoji
    when its hexcode is one (all its phrasings), else its annotation alone, repeated."""
    by_hex = {e.hexcode: e for e in load_catalog()}
    phrases = []
    for c in classes:
        e = by_hex.get(c.get("hexcode", ""))
        phrases += phrasings(e) if e is not None else [c["annotation"]] * PHRASINGS
    return encoder(phrases).view(len(classes), PHRASINGS, -1) if classes else torch.zeros(0, PHRASINGS, encoder.dim)
