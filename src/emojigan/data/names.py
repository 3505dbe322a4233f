"""Find a conditional model's label by name: OpenMoji annotation ("face blowing a kiss"), a shortcode with
or without colons (":kissing_heart:", "wink", "heart_eyes": CLDR names and GitHub-style aliases from the
`emoji` package), the emoji character, its hexcode, or words that pick out one annotation ("rolling eyes").
Case-insensitive; spaces, underscores and hyphens alike."""
from __future__ import annotations

import difflib
import re

from ..errors import UserError


def normalize(text: str) -> str:
    text = text.strip().strip(":").lower().replace("’", "'")
    return re.sub(r"[\s_\-]+", " ", text).strip()


def aliases(cls: dict) -> list[str]:
    """Every normalized name a class answers to."""
    names = [cls.get("annotation", ""), cls.get("hexcode", "")]
    ch = cls.get("emoji", "")
    if ch:
        try:
            import emoji as emoji_pkg

            data = emoji_pkg.EMOJI_DATA.get(ch) or emoji_pkg.EMOJI_DATA.get(ch + "\ufe0f") or {}
            names += [data.get("en", "")] + list(data.get("alias", []))
        except ImportError:  # the names still work without the alias table
            pass
    return list(dict.fromkeys(normalize(n) for n in names if n))


class LabelIndex:
    def __init__(self, classes: list[dict]):
        self.classes = classes
        self.names = [aliases(c) for c in classes]
        self.exact: dict[str, set[int]] = {}
        for i, names in enumerate(self.names):
            for n in names:
                self.exact.setdefault(n, set()).add(i)
        self.chars = {c.get("emoji", ""): i for i, c in enumerate(classes) if c.get("emoji")}

    def describe(self, i: int) -> str:
        c = self.classes[i]
        return f"{c.get('emoji', '')} {c.get('annotation', '')} ({c.get('hexcode', '')})".strip()

    def find(self, name: str) -> int:
        raw = name.strip()
        if raw in self.chars:
            return self.chars[raw]
        if raw.rstrip("\ufe0f") in self.chars:
            return self.chars[raw.rstrip("\ufe0f")]
        q = normalize(raw)
        if not q:
            raise UserError("an empty label name")
        hits = self.exact.get(q, set())
        if len(hits) == 1:
            return next(iter(hits))
        if not hits:  # words that pick out one annotation or alias; the tightest fit wins a tie
            words = set(q.split())
            cover = {i: max(len(words) / len(n.split()) for n in names if words <= set(n.split()))
                     for i, names in enumerate(self.names) if any(words <= set(n.split()) for n in names)}
            if cover:
                best = max(cover.values())
                hits = {i for i, c in cover.items() if c == best}
            if len(hits) == 1:
                return next(iter(hits))
        if hits:
            shown = "; ".join(self.describe(i) for i in sorted(hits)[:5])
            raise UserError(f"label '{name}' is ambiguous: it matches {len(hits)} labels, e.g. {shown}")
        every = {n: i for i, names in enumerate(self.names) for n in names}
        close = difflib.get_close_matches(q, list(every), n=5, cutoff=0.0)
        raise UserError(f"unknown label '{name}'; closest: {', '.join(close)} (`emojigan labels RUN` lists all)")

    def find_all(self, names: list[str]) -> list[int]:
        if any(n.strip().lower() == "all" for n in names):
            return list(range(len(self.classes)))
        return [self.find(n) for n in names]
