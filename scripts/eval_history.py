"""In-training evaluations of several runs side by side: a table at the steps they share, window means, and a
figure of KID, recall and copies over the steps.

Reads each run's `metrics.jsonl` (the rows `emojigan train --eval-every` writes: KID, precision, recall on 256
samples, copy rate). Single evaluations are noisy (recall moves by about 0.04 between neighbouring ones), so
the table also gives each run's mean over a window of steps.

    python scripts/eval_history.py runs/f64-ema995 runs/f64-bal3 --steps 7000,14000,21000 \
        --window 14000-21000 --figure docs/images/faces64/balance-history.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from emojigan.errors import UserError, script_main

KEYS = ("kid", "precision", "recall", "copy_rate")


def read_evals(run: str) -> dict[int, dict]:
    """{step: evaluation row} of a run folder."""
    path = Path(run) / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{run} is not a run folder (no metrics.jsonl)")
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut short by an interrupted run
        if row.get("kind") == "eval":
            rows[int(row["step"])] = row
    if not rows:
        raise UserError(f"{run} has no in-training evaluations (train it with --eval-every)")
    return rows


def window_means(rows: dict[int, dict], lo: int, hi: int) -> tuple[dict[str, float], int]:
    """Mean of each metric over the evaluations with lo <= step <= hi, and their number."""
    inside = [r for s, r in rows.items() if lo <= s <= hi]
    if not inside:
        return {}, 0
    return {k: sum(r[k] for r in inside) / len(inside) for k in KEYS}, len(inside)


def cell(row: dict | None) -> str:
    if not row:
        return "-"
    return f"{row['kid']:.3f} / {row['recall']:.2f} / {row['copy_rate']:.1%}"


def figure(runs: dict[str, dict[int, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, rows in runs.items():
        steps = sorted(rows)
        for ax, key in zip(axes, ("kid", "recall", "copy_rate")):
            ax.plot(steps, [rows[s][key] for s in steps], label=name, lw=1.2)
    for ax, title in zip(axes, ("KID (256 samples)", "recall (k=3, 256 samples)", "copies (SSIM >= 0.95)")):
        ax.set_title(title)
        ax.set_xlabel("generator steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(bottom=min(0, axes[0].get_ylim()[0]), top=min(axes[0].get_ylim()[1], 0.5))
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders trained with --eval-every")
    p.add_argument("--steps", default="", help="comma-separated steps for the table (default: every 3,500)")
    p.add_argument("--window", default="", help="LO-HI: mean of each metric over the evaluations in these steps")
    p.add_argument("--figure", help="write KID, recall and copies over the steps to this PNG")
    a = p.parse_args()
    runs = {Path(r).name: read_evals(r) for r in a.runs}
    try:
        steps = [int(s) for s in a.steps.split(",") if s.strip()]
        lo, hi = (int(x) for x in a.window.split("-")) if a.window else (0, 0)
    except ValueError:
        raise UserError("--steps takes numbers separated by commas, --window LO-HI") from None
    if not steps:
        last = max(max(r) for r in runs.values())
        steps = list(range(3500, last + 1, 3500))
    print("KID / recall / copies at each step (in-training evaluations, 256 samples)\n")
    print("| steps | " + " | ".join(runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for s in steps:
        print(f"| {s:,} | " + " | ".join(cell(r.get(s)) for r in runs.values()) + " |")
    if a.window:
        print(f"\nmeans over the evaluations at steps {lo:,}-{hi:,}\n")
        print("| run | evaluations | KID | precision | recall | copies |")
        print("|---|---|---|---|---|---|")
        for name, rows in runs.items():
            m, n = window_means(rows, lo, hi)
            if n:
                print(f"| {name} | {n} | {m['kid']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | {m['copy_rate']:.1%} |")
            else:
                print(f"| {name} | 0 | - | - | - | - |")
    if a.figure:
        figure(runs, Path(a.figure))
        print(f"\n{a.figure}")


if __name__ == "__main__":
    script_main("eval_history", main)
