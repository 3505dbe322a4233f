"""Recall on a focus list's emojis and on the rest, for evaluations side by side: did a new member cover its focus?

Reads each evaluation's recall_hits.csv (`emojigan evaluate` writes it) and a `train.focus` file, and prints a
table: per evaluation, the mean share of sets that recall the focus emojis, the same for the other emojis, and the
emojis missed by every set; then the focus emojis that the last evaluation recalls in at least half the sets.

    python scripts/recall_by_focus.py runs/focus.txt runs/eval-faces64 runs/eval-faces64-3
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from emojigan.data.clusters import read_focus
from emojigan.errors import UserError, script_main


def read_hits(folder: str) -> dict[str, tuple[str, int, int]]:
    """name -> (annotation, hits, sets) from an evaluation folder's recall_hits.csv."""
    src = Path(folder) / "recall_hits.csv"
    if not src.is_file():
        raise UserError(f"{src} not found: evaluate with this version of `emojigan evaluate` first")
    with src.open(newline="", encoding="utf-8") as f:
        return {r["name"]: (r["annotation"], int(r["hits"]), int(r["sets"])) for r in csv.DictReader(f)}


def split_recall(hits: dict[str, tuple[str, int, int]], focus: set[str]) -> tuple[float, float, int]:
    """(mean recall share over the focus emojis, over the others, emojis missed by every set)."""
    def share(names):
        return sum(hits[n][1] / hits[n][2] for n in names) / len(names) if names else float("nan")

    inside = [n for n in hits if n in focus]
    return share(inside), share([n for n in hits if n not in focus]), sum(h == 0 for _, h, _ in hits.values())


def main() -> None:
    p = argparse.ArgumentParser(prog="recall_by_focus.py", description=__doc__.split("\n\n")[0])
    p.add_argument("focus", help="a train.focus file (scripts/focus_list.py writes one)")
    p.add_argument("evals", nargs="+", help="evaluation folders of `emojigan evaluate`, the same data")
    a = p.parse_args()
    tables = [read_hits(e) for e in a.evals]
    if any(t.keys() != tables[0].keys() for t in tables):
        raise UserError("the evaluations score against different emojis; give evaluations of one dataset")
    by_ann = {ann.lower(): n for n, (ann, _, _) in tables[0].items() if ann}
    focus = set()
    for name in read_focus(a.focus):
        key = name if name in tables[0] else by_ann.get(name.lower())
        if key is None:
            raise UserError(f"{a.focus}: '{name}' is none of the evaluated emojis (give file stems or annotations)")
        focus.add(key)
    print(f"| evaluation | recall on the {len(focus)} focus emojis | on the other {len(tables[0]) - len(focus)} "
          f"| missed by every set |")
    print("|---|---|---|---|")
    for e, t in zip(a.evals, tables):
        f, o, missed = split_recall(t, focus)
        print(f"| {e} | {f:.3f} | {o:.3f} | {missed} |")
    last = tables[-1]
    got = [f"{last[n][0] or n} ({last[n][1]}/{last[n][2]})" for n in last if n in focus and 2 * last[n][1] >= last[n][2]]
    print(f"focus emojis {a.evals[-1]} recalls in at least half its sets: {', '.join(got) or 'none'}")


if __name__ == "__main__":
    script_main("recall_by_focus.py", main)
