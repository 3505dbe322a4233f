"""A focus file for the next mixture member: the real emojis an evaluated model recalls rarely (AdaGAN).

`emojigan evaluate` writes recall_hits.csv: for each real emoji, in how many sets of 256 samples it lies in some
sample's k=3 ball. This script keeps the emojis recalled by at most `--max-hits` sets and writes them one per
line (the file stem, i.e. the hexcode of a built dataset, then the annotation as a comment), the format
`train.focus` reads. A member trained on them and mixed in with the model's own members gets weight 1/(M+1) of
the seeds (seed k from member k mod M+1); the emojis' own share of the data is printed beside it, so the list can
be sized to match.

    emojigan evaluate faces64 --n 2048 --out runs/eval-faces64
    python scripts/focus_list.py runs/eval-faces64 --max-hits 1 --members 2 --out runs/focus.txt
    emojigan train --preset faces64 --init faces64 --set train.focus=runs/focus.txt --out runs/faces64-focus
    emojigan mix runs/f64-m0.safetensors runs/f64-m1.safetensors runs/faces64-focus --out runs/faces64-3.safetensors
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from emojigan.errors import UserError, script_main


def rarely_recalled(rows: list[dict], max_hits: int) -> list[dict]:
    """The rows of recall_hits.csv whose emoji at most `max_hits` sets recall, in training order."""
    return [r for r in rows if int(r["hits"]) <= max_hits]


def focus_text(rows: list[dict], source: str) -> str:
    sets = rows[0]["sets"] if rows else "?"
    head = f"# emojis recalled by few of {sets} sets of samples in {source} (scripts/focus_list.py)\n"
    return head + "".join(f"{r['name']}  # {r['annotation'] or r['name']} (hits {r['hits']})\n" for r in rows)


def main() -> None:
    p = argparse.ArgumentParser(prog="focus_list.py", description=__doc__.split("\n\n")[0])
    p.add_argument("eval", help="an evaluation folder of `emojigan evaluate` (it holds recall_hits.csv)")
    p.add_argument("--max-hits", type=int, default=0, help="keep emojis recalled by at most this many sets (0: missed)")
    p.add_argument("--members", type=int, default=2, help="members of the model evaluated (faces64: 2)")
    p.add_argument("--out", required=True, help="the focus file to write (train.focus)")
    a = p.parse_args()
    src = Path(a.eval) / "recall_hits.csv"
    if not src.is_file():
        raise UserError(f"{src} not found: evaluate the model with this version of `emojigan evaluate` first")
    out = Path(a.out)
    if out.exists():
        raise UserError(f"{out} exists; choose another file")
    with src.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"name", "annotation", "hits", "sets"} <= set(rows[0]):
        raise UserError(f"{src} is not a recall_hits.csv (columns name, annotation, hits, sets)")
    if not 0 <= a.max_hits < int(rows[0]["sets"]):
        raise UserError(f"--max-hits {a.max_hits}: choose between 0 and {int(rows[0]['sets']) - 1}")
    if a.members < 1:
        raise UserError(f"--members {a.members}: a model has at least one")
    keep = rarely_recalled(rows, a.max_hits)
    if not keep:
        raise UserError(f"every emoji in {src} is recalled by more than {a.max_hits} sets; raise --max-hits")
    out.write_text(focus_text(keep, a.eval), encoding="utf-8")
    print(f"{out}: {len(keep)} of {len(rows)} emojis ({len(keep) / len(rows):.0%} of the data) recalled by at most "
          f"{a.max_hits} of {rows[0]['sets']} sets; a member mixed in with {a.members} draws "
          f"1/{a.members + 1} = {1 / (a.members + 1):.0%} of the seeds")


if __name__ == "__main__":
    script_main("focus_list.py", main)
