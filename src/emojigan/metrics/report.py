"""The evaluation report: one self-contained HTML file (figures inlined as base64) that opens offline."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from ..files import atomic_write_text
from .plots import FIGURES

SUMMARY = [  # key, label, how to read it
    ("kid", "KID", "lower is better; 0 = indistinguishable from the real set"),
    ("fid", "FID (reference)", "biased with ~100 real images; compare runs, not papers"),
    ("precision", "precision (k=3)", "share of samples that look like some real emoji"),
    ("recall", "recall (k=3)", "share of real emojis inside the samples' k-NN balls; mean over sets of 256 samples"),
    ("recall_missed", "real emojis missed", "real emojis that no set of 256 samples recalls (shown below, by name)"),
    ("coverage", "coverage (k=1)", "share of real emojis with a sample nearer than any other real emoji (Naeem et al. 2020)"),
    ("ssim_coverage", "SSIM coverage", "share of real emojis that are some sample's nearest by SSIM (no features)"),
    ("copy_rate", "copy rate", "share of samples with nearest-training SSIM >= 0.95"),
    ("ssim_nearest_mean", "mean nearest-training SSIM", "the report's SSIM figure, at the evaluated checkpoint"),
    ("label_fidelity_top1", "label fidelity (top-1)", "conditional: share of samples whose nearest real emoji is the asked one"),
    ("label_fidelity_top5", "label fidelity (top-5)", "conditional: the asked emoji among the 5 nearest"),
    ("label_fidelity_ssim_top1", "label fidelity (SSIM top-1)", "conditional: nearest real emoji by SSIM is the asked one"),
    ("label_diversity_ssim", "same-label SSIM", "conditional: mean SSIM between two draws of one label (near 1: the "
                                                "label decides the image, and the copy rate measures how clean it is)"),
    ("prompt_top1", "prompt fidelity (top-1)", "text: held-out paraphrases; share of samples whose nearest of all "
                                               "OpenMoji is the described emoji"),
    ("prompt_top5", "prompt fidelity (top-5)", "text: the described emoji among the 5 nearest of all OpenMoji"),
    ("prompt_floor_top5", "prompt top-5 floor", "text: samples of a random label, scored the same way"),
    ("prompt_label_top5", "prompt top-5 of the own label", "text: samples of the described emoji's label (no words)"),
    ("prompt_ceiling_top5", "prompt top-5 ceiling", "text: the described emoji's own render"),
    ("edge_ratio", "edge ratio", "mean Sobel magnitude, generated / real (1 = as sharp as real)"),
    ("noise_ratio", "noise ratio", "high-frequency residual, generated / real (1 = as clean as real)"),
    ("faint_alpha_ratio", "faint-alpha ratio", "RGBA: share of pixels with alpha 0.02-0.25 (specks in the transparent "
                                               "background), generated / real (1 = as clean as the renders)"),
    ("stray_fragment_rate", "stray-fragment rate", "RGBA: share of images with a detached opaque bit of at most 12 "
                                                   "pixels at 64x64 (broken outline), against the renders' own rate"),
    ("mottled_fill", "mottled fill", "share of pixels inside the emoji whose 5x5 window's colour std is 0.02-0.08 "
                                     "(blotchy texture in a flat fill), against the renders' own share"),
]
PAIRED = {"stray_fragment_rate", "mottled_fill"}  # shown with the real images' value beside it


def _training(m: dict[str, Any]) -> str:
    """'epoch E, step S' of the evaluated generator; a mixture's members each have their own."""
    epoch, step = m.get("epoch"), m.get("step")
    if isinstance(step, list):
        return "a mixture of generators at " + " and ".join(f"epoch {e}, step {s}" for e, s in zip(epoch, step))
    return f"epoch {epoch}, step {step}"


def _sampling(m: dict[str, Any]) -> str:
    """How the samples were drawn, where not plainly (evaluate --redraw, --truncation)."""
    parts = []
    if m.get("truncation"):
        parts.append(f"<b>sampled with --truncation {m['truncation']:g}</b>: every latent component beyond "
                     f"{m['truncation']:g} was resampled")
    if m.get("redraw"):
        parts.append(f"<b>sampled with --redraw {m['redraw']}</b>: {m['redrawn_rate']:.1%} of the seeds' first "
                     f"draws were replaced by a later draw with fewer stray fragments")
    if not parts:
        return ""
    return "; " + "; ".join(parts) + ", so these numbers describe that sampler, not the generator alone"


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'


def fmt(v: Any) -> str:
    if isinstance(v, list):  # a mixture's members' steps or epochs
        return " + ".join(fmt(x) for x in v)
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return html.escape(str(v))


def write_report(out: Path, run: Path, config: dict[str, Any]) -> Path:
    m = json.loads((out / "metrics.json").read_text())
    rows = "".join(f"<tr><td>{label}</td><td><b>{fmt(m[key])}</b>"
                   f"{' &plusmn; ' + fmt(m['kid_std']) if key == 'kid' else ''}"
                   f"{' (real ' + fmt(m[key + '_real']) + ')' if key in PAIRED else ''}</td><td>{html.escape(how)}</td></tr>"
                   for key, label, how in SUMMARY if key in m)
    figures = "".join(f"<section><h2>{html.escape(title)}</h2>{_img(out / name)}<p class=note>{html.escape(note)}</p>"
                      f"</section>" for name, (title, note) in FIGURES.items() if (out / name).is_file())
    fidelity = ""
    if (out / "label_fidelity_worst.png").is_file():
        fidelity = (f'<section id="label-fidelity"><h2>Label fidelity: the worst labels</h2>'
                    f'<p>each row: the real emoji, then its samples; worst first: '
                    f'{html.escape(", ".join(m.get("label_fidelity_worst", [])))}</p>'
                    f'{_img(out / "label_fidelity_worst.png")}</section>')
    groups = ""
    if m.get("group_quality"):
        cells = "".join(f"<tr><td>{html.escape(g)}</td><td>{q['labels']}</td><td>{fmt(q['kid'])}</td>"
                        f"<td>{fmt(q['precision'])}</td><td>{fmt(q['recall'])}</td><td>{fmt(q['copy_rate'])}</td></tr>"
                        for g, q in m["group_quality"].items())
        groups = (f'<section id="groups"><h2>Per OpenMoji group</h2><table><tr><th>group</th><th>emojis</th>'
                  f'<th>KID</th><th>precision</th><th>recall</th><th>copies</th></tr>{cells}</table></section>')
    missed = ""
    if (out / "missed.png").is_file():
        names = m.get("recall_missed_emojis", [])
        shown = " (the first 64 shown)" if len(names) > 64 else ""
        missed = (f'<section id="missed"><h2>Real emojis the samples miss</h2><p>{len(names)} of {m["n_real"]} '
                  f'training emojis lie in no sample\'s k=3 ball in any set of samples{shown}: '
                  f'{html.escape(", ".join(names))}</p>{_img(out / "missed.png")}</section>')
    all_metrics = "".join(f"<tr><td>{html.escape(k)}</td><td>{fmt(v)}</td></tr>" for k, v in m.items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>emojigan evaluation: {html.escape(run.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
img{{max-width:100%;image-rendering:pixelated}}.pair{{display:flex;gap:2em}}.pair figure{{margin:0}}
.note{{color:#555;font-style:italic}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head><body>
<h1>emojigan evaluation: {html.escape(str(run))}</h1>
<p>{m['n_fake']} samples (seeds {m['seed']}..{m['seed'] + m['n_fake'] - 1}) against the {m['n_real']} training images,
{_training(m)}, feature space <b>{html.escape(m['features'])}</b>{_sampling(m)}.</p>
<section id="summary"><h2>Summary</h2><table><tr><th>metric</th><th>value</th><th>reading</th></tr>{rows}</table></section>
<section id="samples"><h2>Samples and real emojis</h2><div class=pair>
<figure>{_img(out / 'samples.png')}<figcaption>generated (seeds {m['seed']}..)</figcaption></figure>
<figure>{_img(out / 'real.png')}<figcaption>training images</figcaption></figure></div></section>
<section id="memorization-pairs"><h2>Closest pairs (generated, nearest training image)</h2>{_img(out / 'memorization_pairs.png')}</section>
{groups}{missed}{fidelity}{figures}
<section id="all-metrics"><h2>All metrics</h2><table>{all_metrics}</table></section>
<section id="config"><h2>Run config</h2><pre>{html.escape(json.dumps(config, indent=1))}</pre></section>
</body></html>"""
    atomic_write_text(out / "report.html", page)
    return out / "report.html"
