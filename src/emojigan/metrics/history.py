"""`emojigan compare RUN... --history`: the in-training evaluations of several runs side by side (the rows
`train --eval-every` writes to metrics.jsonl: KID, precision, recall on 256 samples, copy rate), as a table at
the steps they share, each run's means over a window of steps, and a figure over the steps. Single evaluations
are noisy (recall moves by about 0.04 between neighbouring ones): compare window means, not single rows."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..files import atomic_write_text, read_metrics

KEYS = ("kid", "precision", "recall", "copy_rate")


def read_evals(run: str | Path) -> dict[int, dict]:
    """{step: evaluation row} of a run folder."""
    path = Path(run) / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{run} is not a run folder (no metrics.jsonl)")
    rows = {int(r["step"]): r for r in read_metrics(path) if r.get("kind") == "eval"}
    if not rows:
        raise UserError(f"{run} has no in-training evaluations (train it with --eval-every)")
    return rows


def window_means(rows: dict[int, dict], lo: int, hi: int) -> tuple[dict[str, float], int]:
    """Mean of each metric over the evaluations with lo <= step <= hi, and their number."""
    inside = [r for s, r in rows.items() if lo <= s <= hi]
    if not inside:
        return {}, 0
    return {k: sum(r[k] for r in inside) / len(inside) for k in KEYS}, len(inside)


def parse_window(text: str) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        raise UserError(f"--window {text} must be LO-HI, two step numbers") from None
    if not 0 <= lo <= hi:
        raise UserError(f"--window {text}: LO must be at most HI")
    return lo, hi


def history_table(runs: dict[str, dict[int, dict]], window: tuple[int, int] | None) -> str:
    steps = sorted(set().union(*runs.values()))
    if len(steps) > 12:  # at most 12 rows: evenly spaced, the last included
        steps = [steps[round(i * (len(steps) - 1) / 11)] for i in range(12)]
    lines = ["KID / recall / copies at each step (in-training evaluations, 256 samples)", "",
             "| steps | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for s in steps:
        cells = [f"{r[s]['kid']:.3f} / {r[s]['recall']:.2f} / {r[s]['copy_rate']:.1%}" if s in r else "-"
                 for r in runs.values()]
        lines.append(f"| {s:,} | " + " | ".join(cells) + " |")
    if window:
        lo, hi = window
        lines += ["", f"means over the evaluations at steps {lo:,}-{hi:,}", "",
                  "| run | evaluations | KID | precision | recall | copies |", "|---|---|---|---|---|---|"]
        for name, rows in runs.items():
            m, n = window_means(rows, lo, hi)
            lines.append(f"| {name} | {n} | {m['kid']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | "
                         f"{m['copy_rate']:.1%} |" if n else f"| {name} | 0 | - | - | - | - |")
    return "\n".join(lines) + "\n"


def history_figure(runs: dict[str, dict[int, dict]], path: Path) -> None:
    import matplotlib  # slow to import: only figures need it

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
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def history(runs: list[str], out: str | Path, names: list[str] | None = None, window: str = "") -> str:
    """Write OUT/history.md and OUT/history.png for the run folders `runs`; returns the table."""
    labels = names or [Path(r).name for r in runs]
    if len(labels) != len(runs):
        raise UserError(f"--names gives {len(labels)} names for {len(runs)} runs")
    win = parse_window(window)
    evals = {label: read_evals(r) for label, r in zip(labels, runs)}
    out = Path(out)
    table = history_table(evals, win)
    atomic_write_text(out / "history.md", table)
    history_figure(evals, out / "history.png")
    return table
