"""`emojigan evaluate`: draw samples from a run, compute every registered metric against the training
images, and write metrics.json, arrays.npz, one PNG per figure and a self-contained report.html."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import images
from ..config import Config
from ..errors import UserError
from ..inference import load_generator, resolve_export
from ..latent.sampling import check_truncation
from ..training.checkpoint import atomic_write_text, training_of
from ..training.run import load_dataset, read_run_config
from . import EvalData, compute_all

MAX_N = 20_000
# bumped whenever evaluate's metrics change, so `compare` recomputes older cached evaluations
# (2: ssim_coverage, session 5; 3: precision/recall on sets of 256 samples, and feature coverage, session 10;
# 4: faint_alpha_ratio of RGBA models, session 13; 5: stray_fragment_rate of RGBA models, session 14;
# 6: mottled_fill, session 25; 7: label_diversity_ssim of conditional models, session 26)
METRICS_VERSION = 7


def recall_hits_csv(dataset, hits: np.ndarray, sets: int) -> str:
    """One row per real emoji, in training order: its file stem, OpenMoji annotation (if any), and in how many of
    the `sets` sets of samples it lies in some sample's k=3 ball (0: missed). scripts/focus_list.py reads it."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "annotation", "hits", "sets"])
    for i, h in enumerate(hits.tolist()):
        ann = dataset.labels[i].get("annotation", "") if dataset.labels else ""
        w.writerow([dataset.names[i], ann, int(h), int(sets)])
    return buf.getvalue()


def load_run(run: str | Path) -> tuple[Path, dict[str, Any], Config]:
    """A run folder -> (folder, its config.json, its Config); a shipped model's name (`emojigan models`) ->
    (its name, its export's metadata, a Config of the data it was trained on)."""
    shipped = shipped_source(run)
    if shipped is not None:
        return shipped
    run = Path(run)
    if not run.is_dir():
        raise UserError(f"{run} is not a run folder (nor a shipped model's name: `emojigan models`)")
    raw = read_run_config(run)
    cfg = Config.from_dict(raw, source=f"{run}/config.json")
    if not (run / "generator.safetensors").is_file():
        raise UserError(f"{run} has no checkpoint yet (no generator.safetensors); train it past "
                        f"its first --checkpoint-every epochs")
    return run, raw, cfg


def split_checkpoint(spec: str) -> tuple[str, str]:
    """'RUN:best' / 'RUN:latest' / 'RUN' -> (RUN, checkpoint): how `mix` and the scripts name one generator."""
    for checkpoint in ("best", "latest"):
        if spec.endswith(f":{checkpoint}"):
            return spec[:-len(checkpoint) - 1], checkpoint
    return spec, "latest"


def split_members_spec(spec: str) -> tuple[str, list[int] | None]:
    """'EXPORT@0,2' -> (EXPORT, [0, 2]): some members of a mixture, as `mix` names them; (spec, None) where the
    spec does not end in '@' and member numbers (a folder may hold an '@')."""
    path, at, picks = spec.rpartition("@")
    parts = picks.split(",")
    if not (at and path and all(p.strip().isdigit() for p in parts)):
        return spec, None
    return path, [int(p) for p in parts]


def titled_generator(spec: str, needs_alpha: str = "") -> tuple[str, Any]:
    """'TITLE=NAME' or 'NAME' (a shipped name, a run folder as RUN[:best], or an export) -> (its title, the loaded
    generator), as the scripts name models side by side. `needs_alpha`: what needs a transparent model, if one does."""
    from ..inference import load_generator

    title, _, src = spec.rpartition("=")
    path, checkpoint = split_checkpoint(src)
    gen = load_generator(export_file(path, checkpoint))
    if needs_alpha and gen.channels != 4:
        raise UserError(f"{src} draws without an alpha channel; {needs_alpha} a transparent model")
    return title or src, gen


def export_of(run: Path, raw: dict[str, Any], checkpoint: str = "latest") -> Path:
    """The generator file of `load_run`'s result at `checkpoint` (latest | best)."""
    if checkpoint not in ("latest", "best"):
        raise UserError(f"--checkpoint {checkpoint} is unknown; choose latest or best")
    if "shipped_model" in raw:
        if checkpoint != "latest":
            raise UserError(f"--checkpoint {checkpoint}: a shipped model is one generator (so is an export file); leave --checkpoint out")
        return resolve_export(raw["shipped_model"])
    export = run / ("generator.safetensors" if checkpoint == "latest" else "generator-best.safetensors")
    if not export.is_file():
        raise UserError(f"{run} has no {export.name} (best is kept only by runs trained with --eval-every)")
    return export


def export_file(src: str, checkpoint: str = "latest") -> Path:
    """A run folder's generator export at `checkpoint`, a shipped model's file, or a .safetensors export as it is."""
    return Path(src) if src.endswith(".safetensors") else export_of(*load_run(src)[:2], checkpoint)


def shipped_source(name: str | Path) -> tuple[Path, dict[str, Any], Config] | None:
    """A shipped model (by name) or an exported generator file (`.safetensors`), evaluated on the OpenMoji data
    its metadata names (subset, size, background)."""
    from ..pretrained import shipped_models
    from ..training.checkpoint import read_export_meta

    models = shipped_models()
    if Path(name).is_file() and str(name).endswith(".safetensors"):
        meta = read_export_meta(name)
    elif not Path(name).exists() and str(name) in models:
        meta = read_export_meta(models[str(name)])
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


def evaluate(run: str | Path, out: str | Path, n: int = 512, seed: int = 0, features: str = "openmoji",
             inception_weights: str | None = None, device: str = "cpu", checkpoint: str = "latest",
             progress: bool = True, redraw: int = 0, truncation: float | None = None) -> dict[str, Any]:
    from ..features import load_feature_space
    from .plots import write_figures
    from .report import write_report

    if not 2 <= n <= MAX_N:
        raise UserError(f"--n {n} is out of range; it must be between 2 and {MAX_N}")
    check_truncation(truncation)  # before the feature network and the data are loaded
    run, raw, cfg = load_run(run)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    export = export_of(run, raw, checkpoint)
    space = load_feature_space(features, inception_weights, device)
    t0 = time.perf_counter()
    gen = load_generator(export, device=device)
    dataset = load_dataset(cfg, progress=progress)
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
        from .fidelity import label_fidelity

        n_images = len(gen.image_classes) or len(gen.classes)
        if n_images != len(real):
            raise UserError(f"{run}: the model was trained on {n_images} images but its data has {len(real)}")
        first = {c: i for i, c in reversed(list(enumerate(gen.image_classes)))}  # a cluster's first image
        f_scalars, f_arrays, f_fake = label_fidelity(gen, space, data.real_feat, seed=seed, real=real, redraw=redraw,
                                                  truncation=truncation)
        scalars.update(f_scalars)
        arrays.update(f_arrays)
        per = f_arrays["label_fidelity_per_label"]
        k = f_scalars["label_fidelity_per_label_n"]
        worst = np.argsort(per, kind="stable")[:8]
        rows = []
        for y in worst:  # the real emoji, then its samples
            r = first.get(int(y), int(y))
            rows += show(real[r:r + 1]) + show(f_fake[y * k:(y + 1) * k])
        images.save_png(images.grid(rows, nrow=k + 1), out / "label_fidelity_worst.png")
        scalars["label_fidelity_worst"] = [
            f"{gen.classes[y].get('annotation', '')} ({per[y]:.2f})" for y in worst]
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
    atomic_write_text(out / "metrics.json", json.dumps(scalars, indent=1))
    pairs = []
    for i in arrays["closest_order"][:16]:
        pairs += [show(fake[i:i + 1])[0], show(real[arrays["ssim_nearest_index"][i]:][:1])[0]]
    images.save_png(images.grid(pairs, nrow=8), out / "memorization_pairs.png")
    write_figures(out, run)
    write_report(out, run, raw)
    return scalars
