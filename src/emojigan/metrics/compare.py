"""`emojigan compare RUN1 RUN2 ...`: every metric of every run in one table, and their sample grids side by
side, as HTML (self-contained) and Markdown (for docs). Each run is evaluated once per (n, seed, features)
and the result kept in RUN/eval-<features>-n<N>-s<seed>/ for the next comparison; a shipped model (by name) is
evaluated into OUT/eval-<name>/."""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..files import atomic_write_text
from .evaluate import METRICS_VERSION, evaluate, load_run
from .report import SUMMARY, _img, fmt


def eval_dir(run: Path, n: int, seed: int, features: str) -> Path:
    return run / f"eval-{features}-n{n}-s{seed}"


def compare(runs: list[str], out: str | Path, n: int = 512, seed: int = 0, features: str = "openmoji",
            inception_weights: str | None = None, device: str = "cpu", names: list[str] | None = None,
            progress: bool = True) -> dict[str, dict[str, Any]]:
    if len(runs) < 1:
        raise UserError("compare needs at least one run")
    paths = [Path(r) for r in runs]
    for p in paths:
        load_run(p)  # fail before any work on a bad run
    labels = names or [p.name for p in paths]
    if len(labels) != len(paths):
        raise UserError(f"--names gives {len(labels)} names for {len(paths)} runs")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for label, p in zip(labels, paths):
        if p.is_dir():
            d = eval_dir(p, n, seed, features)
            gen_mtime = (p / "generator.safetensors").stat().st_mtime
        else:  # a shipped model's name: evaluated into this comparison's folder
            d, gen_mtime = out / f"eval-{_slug(label)}", float("inf")
        cached = d / "metrics.json"
        metrics = (json.loads(cached.read_text())
                   if cached.is_file() and cached.stat().st_mtime >= gen_mtime else {})
        if metrics.get("metrics_version") != METRICS_VERSION or metrics.get("redraw") or metrics.get("truncation"):
            # none yet, older than G, from older metrics, or of another sampler (evaluate --redraw, --truncation)
            evaluate(p, d, n=n, seed=seed, features=features, inception_weights=inception_weights,
                     device=device, progress=progress)
            metrics = json.loads(cached.read_text())  # as written, so fresh and cached results read the same
        results[label] = metrics
        shutil.copyfile(d / "samples.png", out / f"samples-{_slug(label)}.png")
    keys = [k for k, _, _ in SUMMARY] + sorted({k for r in results.values() for k in r} - {k for k, _, _ in SUMMARY})
    md = ["| metric | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for k in keys:
        md.append(f"| {k} | " + " | ".join(fmt(r.get(k, "")) for r in results.values()) + " |")
    md += ["", " ".join(f"![{lbl}](samples-{_slug(lbl)}.png)" for lbl in labels)]
    atomic_write_text(out / "compare.md", "\n".join(md) + "\n")
    head = "".join(f"<th>{html.escape(lbl)}</th>" for lbl in labels)
    body = "".join(f"<tr><td>{html.escape(k)}</td>" + "".join(f"<td>{fmt(r.get(k, ''))}</td>" for r in results.values())
                   + "</tr>" for k in keys)
    grids = "".join(f"<figure>{_img(out / f'samples-{_slug(lbl)}.png')}<figcaption>{html.escape(lbl)}</figcaption>"
                    f"</figure>" for lbl in labels)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>emojigan compare</title><style>
body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 8px}}.grids{{display:flex;flex-wrap:wrap;gap:1.5em}}figure{{margin:0}}img{{width:360px;
image-rendering:pixelated}}</style></head><body><h1>emojigan compare</h1><p>{n} samples per run, seed {seed},
{html.escape(features)} features.</p><table><tr><th>metric</th>{head}</tr>{body}</table><h2>Samples</h2>
<div class=grids>{grids}</div></body></html>"""
    atomic_write_text(out / "compare.html", page)
    atomic_write_text(out / "compare.json", json.dumps(results, indent=1))
    return results


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in s)
