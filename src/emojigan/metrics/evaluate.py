"""`emojigan evaluate`: draw samples from a run, compute every registered metric against the training
images, and write metrics.json, arrays.npz, one PNG per figure and a self-contained report.html."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import images
from ..config import Config
from ..data import load_dataset
from ..errors import UserError
from ..export import read_export_meta, resolve_export, training_of
from ..features import load_feature_space
from ..files import atomic_write_text, read_run_config
from ..inference import load_generator
from ..latent.sampling import check_truncation
from ..pretrained import shipped_models
from . import EvalData, compute_all
from .fidelity import label_fidelity
from .groups import group_quality
from .plots import write_figures
from .prompts import prompt_fidelity
from .report import write_report

MAX_N = 20_000
# bumped whenever evaluate's metrics change, so `compare` recomputes older cached evaluations
# (2: ssim_coverage; 3: precision/recall on sets of 256 samples, and feature coverage; 4: faint_alpha_ratio of RGBA
# models; 5: stray_fragment_rate of RGBA models; 6: mottled_fill; 7: label_diversity_ssim of conditional models)
METRICS_VERSION = 7


def recall_hits_csv(dataset, hits: np.ndarray, sets: int) -> str:
    """One row per real emoji, in training order: its file stem, OpenMoji annotation (if any), and in how many of
    the `sets` sets of samples it lies in some sample's k=3 ball (0: missed)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "annotation", "hits", "sets"])
    for i, h in enumerate(hits.tolist()):
        ann = dataset.labels[i].get("annotation", "") if dataset.labels else ""
        w.writerow([dataset.names[i], ann, int(h), int(sets)])
    return buf.getvalue()


def load_run(run: str | Path) -> tuple[Path, dict[str, Any], Config]:
    """A run folder -> (folder, its config.json, its Config); a shipped model's name (`emojigan models`) or an
    export file -> (its path, a record of its export's metadata, a Config of the data it was trained on)."""
    shipped = shipped_source(run)
    if shipped is not None:
        return shipped
    run = Path(run)
    if not run.is_dir():
        raise UserError(f"{run} is not a run folder (nor a shipped model's name: `emojigan models`)")
    raw = read_run_config(run)
    cfg = Config.from_dict(raw, source=f"{run}/config.json")
    resolve_export(run)  # a run without a checkpoint yet: one clear line before any work
    return run, raw, cfg


def export_of(run: Path, raw: dict[str, Any], checkpoint: str = "latest") -> Path:
    """The generator file of `load_run`'s result at `checkpoint` (latest | best)."""
    return resolve_export(raw.get("shipped_model", run), checkpoint)


def shipped_source(name: str | Path) -> tuple[Path, dict[str, Any], Config] | None:
    """A shipped model (by name) or an exported generator file (`.safetensors`), evaluated on the OpenMoji data
    its metadata names (subset, size, background)."""
    if Path(name).is_file() and str(name).endswith(".safetensors"):
        meta = read_export_meta(name)
    elif not Path(name).exists() and str(name) in shipped_models():
        meta = read_export_meta(shipped_models()[str(name)])
    else:
        return None
    data = meta.get("data", {})
    if not data.get("subset"):
        raise UserError(f"{name} does not name the OpenMoji subset it was trained on; evaluate its run folder")
    cfg = Config()
    cfg.data.subset, cfg.data.size, cfg.data.background = data["subset"], data["size"], data["background"]
    cfg.data.group, cfg.data.subgroup = data.get("group", ""), data.get("subgroup", "")
    return Path(str(name)), {"shipped_model": str(name), "data": data, "model": meta.get("model", {}),
                             "training": meta.get("training", {})}, cfg.validate()


def focus_text(dataset, hits: np.ndarray, sets: int, max_hits: int, source: str) -> str:
    """The emojis recalled by at most `max_hits` of the `sets` sets of samples, one per line in the format
    `train.focus` reads (file stem, i.e. hexcode, then the annotation as a comment); "" when there are none."""
    rows = [i for i, h in enumerate(hits.tolist()) if h <= max_hits]
    if not rows:
        return ""
    head = (f"# the {len(rows)} of {len(hits)} emojis recalled by at most {max_hits} of {sets} sets of samples of "
            f"{source} (emojigan evaluate); train a new mixture member on them with --set train.focus=FILE\n")
    return head + "".join(f"{dataset.names[i]}  # {dataset.display_name(i)} (hits {int(hits[i])})\n" for i in rows)


def evaluate(run: str | Path, out: str | Path, n: int = 512, seed: int = 0, features: str = "openmoji",
             inception_weights: str | None = None, device: str = "cpu", checkpoint: str = "latest",
             progress: bool = True, redraw: int = 0, truncation: float | None = None,
             focus_hits: int = 0) -> dict[str, Any]:
    if not 2 <= n <= MAX_N:
        raise UserError(f"--n {n} is out of range; it must be between 2 and {MAX_N}")
    if not 0 <= focus_hits <= 1000:
        raise UserError(f"--focus-hits {focus_hits} is out of range; it must be between 0 and 1000")
    check_truncation(truncation)  # before the feature network and the data are loaded
    run, raw, cfg = load_run(run)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    export = export_of(run, raw, checkpoint)
    space = load_feature_space(features, inception_weights, device)
    t0 = time.perf_counter()
    gen = load_generator(export, device=device)
    dataset = load_dataset(cfg.data, progress=progress)
    real = dataset.images
    draws = [0] * n
    if redraw:  # sampling with rejection of fragmented samples (generate --redraw): measure what it costs
        fake, draws = gen.sample_redrawn(list(range(seed, seed + n)), truncation=truncation, redraw=redraw)
    else:  # with truncation, generate --truncation T's latents: what the trick costs is measured
        fake = gen.sample_tensor(seeds=list(range(seed, seed + n)), truncation=truncation)
    data = EvalData(real, fake, space(real), space(fake), cfg.data.background, seed)
    scalars, arrays = compute_all(data)
    scalars.update({"checkpoint": checkpoint, "n_fake": n, "n_real": len(real), "seed": seed, "features": features,
                    "epoch": training_of(gen.meta, "epoch"), "step": training_of(gen.meta, "step"),
                    "total_step": training_of(gen.meta, "total_step"),
                    "seconds": round(time.perf_counter() - t0, 1), "metrics_version": METRICS_VERSION,
                    "redraw": redraw, "redrawn_rate": float(np.mean([d > 0 for d in draws])),
                    "truncation": truncation})
    def show(x):
        return images.for_display(images.to_pil(x))

    out.mkdir(parents=True, exist_ok=True)
    if gen.conditional:
        if len(gen.classes) != len(real):
            raise UserError(f"{run}: the model was trained on {len(gen.classes)} images but its data has {len(real)}")
        f_scalars, f_arrays, f_fake = label_fidelity(gen, space, data.real_feat, seed=seed, real=real, redraw=redraw,
                                                  truncation=truncation)
        scalars.update(f_scalars)
        arrays.update(f_arrays)
        per = f_arrays["label_fidelity_per_label"]
        k = f_scalars["label_fidelity_per_label_n"]
        worst = np.argsort(per, kind="stable")[:8]
        rows = []
        for y in worst:  # the real emoji, then its samples
            rows += show(real[y:y + 1]) + show(f_fake[y * k:(y + 1) * k])
        images.save_png(images.grid(rows, nrow=k + 1), out / "label_fidelity_worst.png")
        scalars["label_fidelity_worst"] = [
            f"{gen.classes[y].get('annotation', '')} ({per[y]:.2f})" for y in worst]
    if gen.text:  # held-out paraphrases against all of OpenMoji (metrics/prompts.py), and quality per group
        scalars.update(prompt_fidelity(gen, space, seed=seed, progress=progress))
        scalars.update(group_quality(gen, space, real, data.real_feat, seed=seed))
    np.savez_compressed(out / "arrays.npz", **arrays)
    fake_grid, real_grid = images.grid(show(fake[:64]), nrow=8), images.grid(show(real[:64]), nrow=8)
    images.save_png(fake_grid, out / "samples.png")
    images.save_png(real_grid, out / "real.png")
    images.save_png(images.side_by_side([(f"training images (first {min(64, len(real))})", real_grid),
                                         (f"generated (seeds {seed}..{seed + min(64, n) - 1})", fake_grid)]),
                    out / "real_vs_samples.png")
    missed = np.flatnonzero(arrays["recall_hits"] == 0)  # real emojis no set of samples recalls
    scalars["recall_missed_emojis"] = [dataset.display_name(int(i)) for i in missed]
    if len(missed):
        images.save_png(images.grid(show(real[torch.as_tensor(missed[:64])]), nrow=8), out / "missed.png")
    elif (out / "missed.png").is_file():
        (out / "missed.png").unlink()  # a re-evaluation that misses nothing keeps no stale figure
    atomic_write_text(out / "recall_hits.csv", recall_hits_csv(dataset, arrays["recall_hits"], scalars["pr_sets"]))
    focus = focus_text(dataset, arrays["recall_hits"], scalars["pr_sets"], focus_hits, str(run))
    scalars["focus_hits"], scalars["focus_count"] = focus_hits, len(focus.splitlines()) - 1 if focus else 0
    if focus:
        atomic_write_text(out / "focus.txt", focus)
    elif (out / "focus.txt").is_file():
        (out / "focus.txt").unlink()
    atomic_write_text(out / "metrics.json", json.dumps(scalars, indent=1))
    pairs = []
    for i in arrays["closest_order"][:16]:
        pairs += [show(fake[i:i + 1])[0], show(real[arrays["ssim_nearest_index"][i]:][:1])[0]]
    images.save_png(images.grid(pairs, nrow=8), out / "memorization_pairs.png")
    write_figures(out, run)
    write_report(out, run, raw)
    return scalars
