"""Ship a trained run as a pretrained model of the package: its EMA generator (and discriminator) in fp16
safetensors under src/emojigan/pretrained/, with a model card written from the run and its evaluation.

    python scripts/ship_model.py runs/ablation/faces64 faces64 --eval runs/ablation/faces64/eval \
        --reproduce "emojigan train --preset faces64 --out runs/faces64" [--checkpoint best]

`--mixture-with RUN[:best] ...` ships a mixture: the run's generator first, then these (same architecture and
data), one file; seed k is drawn by member k mod M (`emojigan evaluate` measures one before shipping).
RUN may also be a shipped model or an export (a mixture adds its members): then no D is shipped, and the D already
shipped under NAME stays, e.g. one more member for the shipped faces64:

    python scripts/ship_model.py faces64 faces64 --mixture-with runs/faces64-focus:best --eval EVAL --reproduce ...

A mixture after `--mixture-with` may name some of its members, as `emojigan mix` takes them: `runs/s22/f0
--mixture-with faces64@1 runs/f2-new` ships the shipped member 1 between two runs.

Checks: the fp16 generator draws the same images as the run's fp32 export (mean difference printed, must be
under 1/255), and all shipped models together stay under the 100 MB budget (discriminators included).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emojigan.errors import UserError, script_main  # noqa: E402
from emojigan.inference import load_generator  # noqa: E402
from emojigan.export import build_mixture, read_export, resolve_export, split_checkpoint, split_member  # noqa: E402
from emojigan.metrics.evaluate import export_of, load_run  # noqa: E402

DEST = ROOT / "src" / "emojigan" / "pretrained"
BUDGET_MB = 100
CARD_METRICS = [("kid", "KID (lower is better)"), ("precision", "precision (k=3)"),
                ("recall", "recall (k=3, mean over sets of 256 samples)"),
                ("coverage", "coverage (k=1, Naeem et al. 2020: a sample nearer than any other real emoji)"),
                ("ssim_coverage", "SSIM coverage (share of real emojis that are some sample's nearest)"),
                ("copy_rate", "copies (nearest training SSIM >= 0.95)"), ("ssim_nearest_mean", "mean nearest-training SSIM"),
                ("noise_ratio", "high-frequency noise vs real"), ("edge_ratio", "edge magnitude vs real"),
                ("faint_alpha_ratio", "faint-alpha pixels (specks, alpha 0.02-0.25) vs real"),
                ("stray_fragment_rate", "samples with a stray opaque fragment (<= 12 px at 64x64; the renders' rate beside it)"),
                ("mottled_fill", "pixels inside the emoji in a blotchy fill (5x5 colour std 0.02-0.08; the renders' share beside it)"),
                ("label_fidelity_top1", "label fidelity top-1 (feature space)"),
                ("label_fidelity_top5", "label fidelity top-5 (feature space)"),
                ("label_fidelity_ssim_top1", "label fidelity top-1 (nearest real by SSIM)"),
                ("label_diversity_ssim", "same-label SSIM (two draws of one label; near 1: the label decides the image)"),
                ("prompt_top1", "prompt fidelity top-1 (held-out paraphrases, nearest of all OpenMoji)"),
                ("prompt_top5", "prompt fidelity top-5"),
                ("prompt_floor_top5", "prompt fidelity top-5 floor (a random label's samples)"),
                ("prompt_label_top5", "top-5 of the described emoji's own label"),
                ("prompt_ceiling_top5", "top-5 ceiling (the described emoji's render)")]


def fp16(tensors: dict) -> dict:
    return {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("name")
    ap.add_argument("--checkpoint", choices=("latest", "best"), default="latest")
    ap.add_argument("--eval", help="the run's `emojigan evaluate` folder (metrics.json) for the card")
    ap.add_argument("--reproduce", required=True, help="the command that trains this model")
    ap.add_argument("--notes", default="", help="a paragraph for the card: what the samples show")
    ap.add_argument("--no-discriminator", action="store_true")
    ap.add_argument("--mixture-with", nargs="+", default=[], metavar="RUN[:best]|EXPORT[@K,...]",
                    help="more generators after the run's own: ship the uniform mixture of them all (a mixture "
                         "adds its members, or those named after @, as `emojigan mix` takes them)")
    ap.add_argument("--trained-before", default="", metavar="STEPS[,STEPS...]",
                    help="per generator (a mixture's in order, 'keep' = as recorded): the steps its --init start had "
                         "trained in all, where that model's export did not record them (older exports)")
    ap.add_argument("--dest", default=str(DEST), help="where the weights and card go (default: the package's pretrained/)")
    a = ap.parse_args()
    run = Path(a.run)
    if run.suffix == ".safetensors":
        raw, first = {}, run
    else:
        folder, raw = load_run(a.run)[:2]
        first = export_of(folder, raw, a.checkpoint)
    specs = [split_member(s) for s in a.mixture_with]
    exports = [first] + [resolve_export(*split_checkpoint(s)) for s, _ in specs]
    picks = [None] + [pick for _, pick in specs]
    tensors, meta = read_export(exports[0])
    if len(exports) > 1:
        tensors, meta = build_mixture(exports, picks)
    if a.trained_before:
        set_trained_before(meta, a.trained_before)
    # what the fp32 (or already shipped) generators draw, before anything is written over them: seeds 0-63
    ref = reference_draws(exports, picks)
    if "shipped_model" in raw or run.suffix == ".safetensors":
        a.no_discriminator = True  # no training state to take D from: a D already shipped under NAME stays
    state_path = run / "checkpoints" / f"{a.checkpoint}.pt"  # D comes from the training state (exports hold G)
    if not a.no_discriminator and not state_path.is_file():
        raise UserError(f"{run} has no {a.checkpoint} training state ({state_path}) to take D from; "
                        f"pass --no-discriminator to ship the generator alone")
    metrics = json.loads((Path(a.eval) / "metrics.json").read_text()) if a.eval else {}
    keep = {k: metrics[k] for k, _ in CARD_METRICS if k in metrics}
    keep |= {k: metrics[k] for k in ("recall_min", "recall_max", "metrics_version", "stray_fragment_rate_real",
                                     "mottled_fill_real", "n_fake", "pr_sets", "prompt_paraphrases", "group_quality")
             if k in metrics}
    from emojigan.data.catalog import OPENMOJI_VERSION

    data = dict(meta["data"])  # the run's data source is a local path: ship the dataset's name instead
    data["source"] = f"OpenMoji {OPENMOJI_VERSION}, subset '{data.get('subset') or 'custom'}'" + \
        (f", groups '{data['group']}'" if data.get("group") else "")
    meta = {**meta, "data": data, "metrics": keep, "reproduce": a.reproduce, "shipped_from": a.checkpoint}
    dest = Path(a.dest)
    dest.mkdir(parents=True, exist_ok=True)
    g_path, d_path = dest / f"{a.name}.safetensors", dest / f"{a.name}.D.safetensors"
    # staged beside the package and checked there; only then moved over what is shipped (the source may be that
    # very file): a failed check leaves the shipped files as they were
    stage = Path(tempfile.mkdtemp(prefix=f".{a.name}-", dir=dest))
    try:
        staged = {g_path: stage / g_path.name}
        save_file(fp16(tensors), str(staged[g_path]), metadata={"emojigan": json.dumps(meta)})
        if not a.no_discriminator:
            state = torch.load(state_path, map_location="cpu", weights_only=True)
            staged[d_path] = stage / d_path.name
            save_file(fp16(state["D"]), str(staged[d_path]),
                      metadata={"emojigan": json.dumps({"model": meta["model"], "data": meta["data"]})})
        # the fp16 weights must draw what the fp32 exports drew
        got = load_generator(str(staged[g_path]), precision="fp32").sample_tensor(seeds=list(range(64)))
        diff = float((ref - got).abs().mean() * 127.5)
        print(f"{g_path}: fp16 vs fp32 export, mean |difference| {diff:.3f}/255")
        if diff > 1.0:
            raise UserError(f"the fp16 weights change the images by {diff:.2f}/255 on average (over 1/255); not shipping")
        sizes = {p: p.stat().st_size for p in dest.glob("*.safetensors")}
        sizes |= {final: tmp.stat().st_size for final, tmp in staged.items()}
        total = sum(sizes.values()) / 2**20
        print(f"all shipped weights: {total:.1f} MB (budget {BUDGET_MB} MB)")
        if total > BUDGET_MB:
            raise UserError(f"all shipped weights would be {total:.1f} MB, over the {BUDGET_MB} MB budget; not shipping "
                            f"(nothing in {dest} changed)")
        for final, tmp in staged.items():
            os.chmod(tmp, 0o644)  # readable like the rest of the package, whatever mode the new file was made with
            os.replace(tmp, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    write_card(a, meta, keep, g_path, d_path if d_path.is_file() else None, diff)
    stale = dest / f"{a.name}.encoder.safetensors"
    if stale.is_file():  # it guesses codes for the generator it was trained on, not this one
        stale.unlink()
        print(f"removed {stale}, the encoder of the earlier {a.name}: ship a new one with `emojigan encoder train "
              f"--model {a.name}`")
    return 0


def set_trained_before(meta: dict, spec: str) -> None:
    """Correct each generator's training record (a mixture's members in order) where its `--init` start did not
    record its own total: `spec` is comma-separated steps, 'keep' to keep a record. The start's steps become
    `init.step`, `total_step` = those + the run's own steps, `total_epoch` from the run's steps per epoch."""
    records = meta["mixture"]["training"] if "mixture" in meta else [meta["training"]]
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != len(records) or not all(p == "keep" or p.isdigit() for p in parts):
        raise UserError(f"--trained-before {spec}: give {len(records)} step count(s) or 'keep', comma-separated, one "
                        f"per generator")
    for r, p in zip(records, parts):
        if p == "keep":
            continue
        if not r.get("step"):
            raise UserError(f"--trained-before {spec}: a generator has no training record of its own steps")
        r["init"] = {**r.get("init", {"from": "(not recorded)", "member": 0}), "step": int(p)}
        r["total_step"] = int(p) + r["step"]
        r["total_epoch"] = round(r["total_step"] * r["epoch"] / r["step"])
        r["init"]["epoch"] = r["total_epoch"] - r["epoch"]
    meta["training"] = records[0]


def reference_draws(exports: list[Path], picks: list[list[int] | None] | None = None) -> torch.Tensor:
    """Seeds 0-63 of the mixture of `exports` as their own files draw them (one export: its own seeds 0-63): the
    members in order (a mixture among them contributes each of its members, or those `picks` names for it), member
    i of M drawing seeds i, i + M, ... from the seeds' own latents."""
    from emojigan.latent.sampling import z_from_seeds

    loaded = [load_generator(e, precision="fp32") for e in exports]
    picks = picks or [None] * len(loaded)
    members = [(g, j) for g, pick in zip(loaded, picks) for j in (range(len(g.members)) if pick is None else pick)]
    ref = None
    for i, (g, j) in enumerate(members):
        seeds = list(range(i, 64, len(members)))
        x = g.sample_tensor(z=z_from_seeds(seeds, g.z_dim), member=j)
        ref = torch.empty(64, *x.shape[1:]) if ref is None else ref
        ref[i::len(members)] = x
    return ref


def mixture_line(meta: dict, name: str) -> str:
    mix = meta.get("mixture")
    if not mix:
        return ""
    steps = ", ".join(f"{t.get('total_step', t['step']):,}" for t in mix["training"])
    return (f"\n- **A mixture of {mix['members']} generators** (one file; seed k is drawn by generator k mod "
            f"{mix['members']}): {', '.join(f'`{s}`' for s in mix['sources'])}, at {steps} steps. "
            f"`--init {name}` starts from the first.")


def training_line(tr: dict) -> str:
    """How long the weights trained: the run's own steps, or, for a run started with --init, the total."""
    own = f"{tr['step']:,} generator steps ({tr['epoch']} epochs, batch as in the preset)"
    init = tr.get("init")
    if not init:
        return own
    member = f" (its generator {init['member']})" if init.get("member") else ""
    return (f"{tr['total_step']:,} generator steps in all: {init['step']:,} in `{init['from']}`{member}, then {own} "
            f"from it (`--init`)")


def write_card(a, meta: dict, metrics: dict, g_path: Path, d_path: Path | None, diff: float) -> None:
    data, model, tr = meta["data"], meta["model"], meta["training"]
    classes = meta.get("classes", [])
    size_mb = (g_path.stat().st_size + (d_path.stat().st_size if d_path else 0)) / 2**20
    rows = []
    for k, label in CARD_METRICS:
        if k not in metrics:
            continue
        value = f"{metrics[k]:.3f}"
        if k == "recall":  # its range over the sets of 256, and the metrics version that measured it
            if "recall_min" in metrics:
                value += f" ({metrics['recall_min']:.3f}-{metrics['recall_max']:.3f}"
                value += f" over {metrics['pr_sets']} sets)" if "pr_sets" in metrics else ")"
            if "metrics_version" in metrics:
                label = f"{label[:-1]}; metrics version {metrics['metrics_version']})"
        if k == "stray_fragment_rate" and "stray_fragment_rate_real" in metrics:
            value += f" (renders {metrics['stray_fragment_rate_real']:.3f})"
        if k == "mottled_fill" and "mottled_fill_real" in metrics:
            value += f" (renders {metrics['mottled_fill_real']:.3f})"
        rows.append(f"| {label} | {value} |")
    for group, q in metrics.get("group_quality", {}).items():  # text models: per OpenMoji group
        rows.append(f"| {group} ({q['labels']} emojis): KID / precision / recall / copies | {q['kid']:.3f} / "
                    f"{q['precision']:.3f} / {q['recall']:.3f} / {q['copy_rate']:.3f} |")
    rows = "\n".join(rows)
    opts = ", ".join(f"{k}={v}" for k, v in model.items())
    kind = (f"conditional on {len(classes)} emoji labels (`emojigan labels --model {a.name}`)" if classes
            else "unconditional")
    if model.get("arch") == "text":
        kind = (f"conditioned on text: a prompt (`emojigan generate --model {a.name} --prompt \"a sleepy cat\"`) or "
                f"one of its {len(classes)} emoji labels")
    text = f"""# {a.name}: pretrained emojigan generator

- **What it draws**: {data['size']}x{data['size']} emojis, {'RGBA (real alpha channel)' if data['channels'] == 4 else 'RGB'}, {kind}.
  `emojigan generate --model {a.name} --out grid.png` ({'`--background black|white` composites' if data['channels'] == 4 else f"on {data['background']}"}).
- **Weights**: the EMA generator{' and the discriminator (for `emojigan train --init ' + a.name + '`)' if d_path else ''}, fp16
  safetensors, {size_mb:.1f} MB together; the fp16 generator draws the fp32 export's images within {diff:.3f}/255
  on average. Model: {opts}.
- **Training**: {training_line(tr)}, seed {tr['seed']},
  checkpoint `{a.checkpoint}`. Reproduce: `{a.reproduce}`.{mixture_line(meta, a.name)}
- **Data and licence**: {data['source']} ({data['size']} px renders, {data['background']} background).
  {meta.get('attribution', '')}.
  The weights and everything they generate derive from that artwork: **CC BY-SA 4.0**, share alike, with
  this attribution (PNGs written by `emojigan generate` carry it in a text chunk).

| metric (`emojigan evaluate`, OpenMoji features, {metrics.get('n_fake', 512)} samples) | value |
|---|---|
{rows}

{a.notes}
"""
    (g_path.parent / f"{a.name}.md").write_text(text, encoding="utf-8")
    print(f"model card {g_path.parent / (a.name + '.md')}")


if __name__ == "__main__":
    script_main("ship_model.py", main)
