"""Attribute directions in the latent space, from OpenMoji's words: for a word with enough examples among the
encoded emojis, the mean code of the emojis it tags minus the mean code of the rest, per mixture member (a member's
latent space is its own). A word matches an emoji by its tags and the words of its annotation, singular or plural
("tears" finds "tear" and "face with tears of joy"). A conditional model's direction moves the label embedding:
the mean embedding of its tagged labels minus the rest. `edit` moves a code along a direction.

Measured (benchmarks/edit_directions.py): the edits move toward the tagged group on average, and monotonically
per image only for large, coherent changes (cat on cond128); faces64's latent space is too rugged for small
details to move monotonically (docs/RESULTS.md)."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import torch

from ..errors import UserError
from .inputs import openmoji_index
from .invert import Codes

MIN_EXAMPLES = 3
MAX_STRENGTH = 10.0


def stem(word: str) -> str:
    """A word's singular, roughly: 'tears' -> 'tear', 'glasses' -> 'glass', 'eyes' -> 'eye'."""
    w = word.lower()
    for end, repl in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("s", "")):
        if w.endswith(end) and len(w) > len(end) + 2 and not w.endswith(("ss", "us", "is")):
            return w[:-len(end)] + repl
    return w


def words_of(name: str) -> set[str]:
    """The stemmed words of an emoji's OpenMoji tags and annotation (found by its annotation, character or hexcode)."""
    index, catalog = openmoji_index()
    try:
        e = catalog[index.find(name)]
    except UserError:
        return {stem(w) for w in re.findall(r"[a-z]+", name.lower())}
    text = " ".join([e.annotation, *e.tags]).lower()
    return {stem(w) for w in re.findall(r"[a-z]+", text) if len(w) > 2}


@dataclass
class Direction:
    word: str
    count: int                          # emojis the word tags
    z: torch.Tensor                     # (members, z_dim): per member (a conditional model: one)
    embedding: torch.Tensor | None      # (embed_dim,) for a conditional model


def vocabulary(names: list[str], min_count: int = MIN_EXAMPLES) -> dict[str, list[str]]:
    """word -> the emojis (of `names`, each counted once) it tags, for the words that tag at least `min_count` of
    them and not all."""
    unique = list(dict.fromkeys(names))
    tagged: dict[str, list[str]] = {}
    for name in unique:
        for w in words_of(name):
            tagged.setdefault(w, []).append(name)
    return {w: hits for w, hits in sorted(tagged.items()) if min_count <= len(hits) < len(unique)}


def direction(codes: Codes, word: str, n_members: int, min_count: int = MIN_EXAMPLES) -> Direction:
    """The direction of `word` from `codes`: the subset's emojis encoded into each member (`subset codes`), so that
    each member's direction is a difference of means within its own latent space."""
    hits = tagged(codes.names, word, min_count)
    mask = torch.tensor([n in hits for n in codes.names])

    def diff(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        inside, outside = m & mask, m & ~mask
        if not inside.any() or not outside.any():  # this member has none (or only) of them: all members pooled
            inside, outside = mask, ~mask
        return x[inside].mean(0) - x[outside].mean(0)

    z = torch.stack([diff(codes.z, codes.member == m) for m in range(n_members)])
    emb = diff(codes.embedding, torch.ones(len(codes), dtype=torch.bool)) if codes.embedding is not None else None
    return Direction(stem(word.strip()), len(hits), z, emb)


def label_direction(gen, word: str, min_count: int = MIN_EXAMPLES) -> Direction:
    """A conditional model's direction of `word`, needing no encoding: its labels are the emojis it was trained on,
    each with an exact embedding, so the direction is the mean embedding of the labels the word tags minus the mean
    of the rest (z stays)."""
    names = label_names(gen)
    hits = tagged(names, word, min_count)
    mask = torch.tensor([n in hits for n in names])
    table = gen.G.embed.weight.detach().float()
    return Direction(stem(word.strip()), len(hits), torch.zeros(1, gen.z_dim), table[mask].mean(0) - table[~mask].mean(0))


def label_names(gen) -> list[str]:
    """A conditional model's labels by annotation (hexcode where there is none)."""
    return [c.get("annotation") or c.get("hexcode", "?") for c in gen.classes]


def edit(codes: Codes, d: Direction, strengths: list[float]) -> Codes:
    """The single code of `codes` moved along `d` by each strength: one code per strength."""
    if any(abs(s) > MAX_STRENGTH for s in strengths):
        raise UserError(f"a strength must be between -{MAX_STRENGTH:g} and {MAX_STRENGTH:g}")
    s = torch.tensor(strengths, dtype=torch.float32)[:, None]
    m = int(codes.member[0])
    z = codes.z[0] + s * d.z[min(m, len(d.z) - 1)]
    emb = codes.embedding[0] + s * d.embedding if codes.embedding is not None and d.embedding is not None else \
        (codes.embedding.repeat(len(strengths), 1) if codes.embedding is not None else None)
    return Codes(z, codes.member.repeat(len(strengths)), emb, [f"{codes.names[0]} {d.word} {v:+g}" for v in strengths],
                 codes.model)



def tagged(names: list[str], word: str, min_count: int = MIN_EXAMPLES) -> set[str]:
    """The emojis of `names` that `word` tags; one clear line, with the closest words, when too few are."""
    vocab = vocabulary(names, min_count)
    w = stem(word.strip())
    if w not in vocab:
        close = difflib.get_close_matches(w, list(vocab), n=6, cutoff=0.5) or list(vocab)[:6]
        raise UserError(f"no direction '{word}': it tags fewer than {min_count} of these {len(set(names))} "
                        f"emojis; words with enough: {', '.join(close)} (`emojigan directions` lists them)")
    return set(vocab[w])
