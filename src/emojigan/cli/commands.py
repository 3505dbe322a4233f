"""The subcommands of `emojigan`, one thin function each over the Python API: `cmd_NAME(args) -> exit code`."""
from __future__ import annotations

import os
from pathlib import Path

from .. import config, images
from ..data import build_dataset, load_images
from ..data.catalog import SUBSETS, groups_and_subgroups, subset_counts
from ..data.names import LabelIndex, aliases
from ..errors import UserError
from ..export import (build_mixture, discriminator_of, resolve_export, save_discriminator, save_export,
                     split_checkpoint, split_member)
from ..features.train import train_feature_net
from ..files import read_run_config
from ..image_stats import stray_fragments
from ..inference import describe, load_generator
from ..latent import parse_seeds, z_from_seeds
from ..latent.interpolate import interpolate
from ..limits import MAX_SAMPLES
from ..metrics.compare import compare
from ..metrics.evaluate import evaluate
from ..metrics.history import history
from ..pretrained import TEXT_MODEL, folder, shipped_models
from ..presets import preset_names
from ..recipes import run_recipe
from ..text.encoder import check_prompts
from .common import say_if_shadowed, source, write_drawn
from .latent import generate_codes, safe_name
from ..training.branch import branch_run
from ..training.init import adopt_model
from ..training.loop import train


# ---------------------------------------------------------------------------------------------- data
def cmd_data_build(a) -> int:
    out = build_dataset(a.out, a.subset, a.size, a.background, a.group, a.subgroup, overwrite=a.overwrite,
                        progress=not a.quiet, emojis=a.emojis)
    n = len(load_images(out, a.size, a.background))
    print(f"{out}: {n} emojis at {a.size}x{a.size} on {a.background} (preview: {out / 'preview.png'})")
    return 0


def cmd_data_subsets(a) -> int:
    if a.groups:
        for group, subs in groups_and_subgroups().items():
            print(f"{group} ({sum(subs.values())})")
            for sub, count in subs.items():
                print(f"  {sub:<32} {count:>5}")
        return 0
    counts = subset_counts()
    for name, (desc, _) in SUBSETS.items():
        print(f"{name:<16} {counts[name]:>5}  {desc}")
    print("narrow any subset with --group/--subgroup glob patterns (`emojigan data subsets --groups` lists them)")
    return 0


# --------------------------------------------------------------------------------------------- train
TRAIN_FLAGS = {  # flag dest -> config key
    "epochs": "train.epochs", "batch_size": "train.batch_size", "lr_g": "train.lr_g", "lr_d": "train.lr_d",
    "seed": "train.seed", "device": "train.device", "sample_every": "train.sample_every",
    "checkpoint_every": "train.checkpoint_every", "log_every": "train.log_every", "eval_every": "train.eval_every",
    "precision": "train.precision", "compile": "train.compile", "init": "train.init", "freeze_d": "train.freeze_d",
    "data": "data.path", "subset": "data.subset", "size": "data.size", "background": "data.background",
    "group": "data.group", "subgroup": "data.subgroup",
}


def cmd_train(a) -> int:
    overrides = [(key, getattr(a, dest)) for dest, key in TRAIN_FLAGS.items() if getattr(a, dest) is not None]
    overrides += config.parse_set(a.set)
    if a.branch:
        if a.resume or a.preset or a.config:
            raise UserError("--branch continues RUN's own config.json in --out; drop --resume/--preset/--config")
        if a.out is None:
            raise UserError("--branch RUN needs --out NEW (the new run folder)")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise UserError("--branch copies a run folder in one process: branch without torchrun (with --epochs "
                            "at the branch's epoch it stops there), then continue NEW under torchrun with --resume")

        src = Path(a.branch)
        if (src / "config.json").is_file():  # the settings are checked before anything is copied
            cfg = config.Config.from_dict(read_run_config(src), source=f"{src}/config.json")
            for key, value in overrides:
                config.set_value(cfg, key, value)
            cfg.validate()
        epoch = branch_run(a.branch, a.checkpoint, a.out, overwrite=a.overwrite, own_best=a.own_best)
        print(f"{a.out}: branched from {a.branch} ({a.checkpoint} state, epoch {epoch})")
        a.resume = True
    elif a.checkpoint != "latest":
        raise UserError("--checkpoint picks the training state that --branch starts from; add --branch RUN")
    elif a.own_best:
        raise UserError("--own-best sets how a branch picks its best checkpoint; add --branch RUN")
    if isinstance(a.resume, str):
        a.out = a.resume
    if a.out is None:
        raise UserError("--out RUN is required (the run folder to write)")
    out = Path(a.out)
    if a.resume:
        if not (out / "config.json").is_file():
            raise UserError(f"{out} is not a run folder (no config.json); nothing to resume")
        cfg = config.Config.from_dict(read_run_config(out), source=f"{out}/config.json")
        if a.preset or a.config:  # the command that started the run, re-run with --resume: it must agree
            check_agrees(cfg, new_config(a.preset, a.config, overrides, quiet=True), out)
        for key, value in overrides:
            config.set_value(cfg, key, value)
        cfg.validate()
    else:
        cfg = new_config(a.preset, a.config, overrides)
    train(cfg, out, resume=bool(a.resume), overwrite=a.overwrite, progress=not a.quiet)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 speaks for the job
        print(f"{out}: trained; generator {out / 'generator.safetensors'}, samples in {out / 'samples'}")
    return 0


def new_config(preset: str | None, config_file: str | None, overrides: list, quiet: bool = False) -> config.Config:
    """The config of a new run: preset, file, flags and --set; with --init, the model's architecture and data
    shape (and its preset, when the model is a shipped one and no preset is named)."""
    init = dict(overrides).get("train.init", "")
    name = init.split("@")[0].split(":")[0]
    if init and not (preset or config_file) and name in preset_names():
        preset = name  # `--init faces64` fine-tunes with the faces64 recipe unless told otherwise
    cfg = config.resolve(preset, config_file, overrides)
    if init:
        if not quiet:
            say_if_shadowed(name)
        cfg = adopt_model(cfg, init, {k for k, _ in overrides}).validate()
    return cfg


def check_agrees(run_cfg, asked, out: Path) -> None:
    """`train --preset P --out RUN --resume` after a crash: the run's own settings must be those the command
    asks for, apart from how long and how often (epochs, logging, sampling, checkpoints, evaluation), which a
    resume may change; the first settings that differ are named."""
    free = {"epochs", "log_every", "sample_every", "checkpoint_every", "eval_every", "device", "compile",
            "cuda_graphs", "precision"}
    have, want = run_cfg.to_dict(), asked.to_dict()
    clash = [f"{sec}.{k} {have[sec].get(k)!r} (the run) vs {v!r} (this command)"
             for sec, vals in want.items() for k, v in vals.items()
             if not (sec == "train" and k in free) and have.get(sec, {}).get(k) != v]
    if clash:
        raise UserError(f"--resume {out}: the run was started with other settings than this command asks for: "
                        f"{'; '.join(clash[:3])}{' ...' if len(clash) > 3 else ''}; resume with `emojigan train "
                        f"--resume {out}` (its own settings), or train a new --out")


# ------------------------------------------------------------------------------------------ generate
def cmd_models(a) -> int:
    models = shipped_models()
    if not models:
        print("no pretrained generators are shipped in this installation")
        return 0
    print(f"{'name':<10} {'version':<8} {'kind':<30} {'size':>5} {'image':<5} {'params':>7} {'MB':>5}  {'D':<3} metrics")
    for name, path in models.items():
        d = describe(name, path)
        kind = f"conditional, {d['labels']} labels" if d["conditional"] else "unconditional"
        if d["members"] > 1:
            kind += f", mixture of {d['members']}"
        m = d["metrics"]
        metrics = ", ".join(f"{k} {m[k]:.3f}" for k in ("precision", "recall", "kid", "label_fidelity_top1", "label_fidelity_ssim_top1", "label_diversity_ssim") if k in m)
        print(f"{name:<10} {d['version']:<8} {kind:<30} {d['size']:>5} {'RGBA' if d['channels'] == 4 else 'RGB':<5} "
              f"{d['params'] / 1e6:>6.1f}M {d['mb']:>5}  {'yes' if d['discriminator'] else 'no':<3} {metrics}")
    print(f"model cards: {folder()}/NAME.md; use one with `emojigan generate --model NAME`, or fine-tune it "
          f"with `emojigan train --init NAME --data FOLDER`")
    return 0


def cmd_generate(a) -> int:
    seeds = parse_seeds(a.seeds) if a.seeds else list(range(a.seed, a.seed + a.n))
    if len(seeds) > MAX_SAMPLES:
        raise UserError(f"{len(seeds)} samples asked for; at most {MAX_SAMPLES}")
    if a.out is None and a.separate is None:
        raise UserError("give --out GRID.png and/or --separate DIR")
    if a.out is not None and Path(a.out).suffix.lower() != ".png":
        raise UserError(f"--out {a.out} must be a .png file")
    if a.prompt and not a.run and not a.model:
        a.model = TEXT_MODEL
    gen = load_generator(source(a), device=a.device, precision=a.precision)
    if a.codes:
        return generate_codes(a, gen)
    if a.prompt:
        return generate_prompts(a, gen, seeds)
    labels, names = None, None
    if a.label:
        if not gen.conditional:
            raise UserError("--label needs a conditional model (e.g. one trained with --preset cdcgan128)")

        wanted = LabelIndex(gen.classes).find_all(a.label)
        if any(x.strip().lower() == "all" for x in a.label):
            # the report's figure: one fixed noise (the first seed) for every label, in catalog order
            labels, seeds = wanted, [seeds[0]] * len(wanted)
        else:
            labels = [y for y in wanted for _ in seeds]
            seeds = seeds * len(wanted)
        a.nrow = a.nrow or (None if len(wanted) == len(labels) else len(labels) // len(wanted))
    elif gen.conditional:
        labels = gen.default_labels(seeds)
    if gen.conditional:
        names = [gen.classes[y].get("hexcode") or f"class{y:03d}" for y in labels]
    if a.redraw:
        x, draws = gen.sample_redrawn(seeds, labels, a.truncation, a.redraw)

        print(f"--redraw {a.redraw}: {sum(d > 0 for d in draws)} of {len(seeds)} samples replaced by a later draw of "
              f"their seed with fewer stray fragments; {int((stray_fragments(x) > 0).sum())} still have one")
    else:
        x = gen.sample_tensor(seeds=seeds, labels=labels, truncation=a.truncation)
    files = [f"{names[i]}-{s:04d}.png" if names else f"seed{s:04d}.png" for i, s in enumerate(seeds)]
    write_drawn(a, gen, x, files, f"{gen.size}x{gen.size} {{mode}}", f"emojis from seeds {seeds[0]}..{seeds[-1]}")
    return 0


def generate_prompts(a, gen, seeds: list[int]) -> int:
    """`generate --prompt TEXT`: --n emojis per prompt, the same seeds for every prompt (one row each)."""
    if a.label or a.redraw or a.truncation:
        raise UserError("--prompt draws from text; drop --label, --redraw and --truncation")
    a.prompt = check_prompts(a.prompt)
    if len(seeds) * len(a.prompt) > MAX_SAMPLES:
        raise UserError(f"{len(seeds) * len(a.prompt)} samples asked for; at most {MAX_SAMPLES}")
    text = gen.prompt_text(a.prompt, a.text_encoder)
    emb = gen.text_condition(text)
    x = gen.sample_tensor(z=z_from_seeds(seeds, gen.z_dim).repeat(len(a.prompt), 1),
                          embeddings=emb.repeat_interleave(len(seeds), dim=0))
    for p, near in zip(a.prompt, gen.prompt_matches(text)):
        names = ", ".join(f"{gen.classes[y]['annotation']} ({w:.0%})" for y, w in near)
        print(f"'{p}': nearest learned emojis {names}")
    a.nrow = a.nrow or len(seeds)
    files = [f"prompt{i:02d}-{safe_name(p)}-{s:04d}.png" for i, p in enumerate(a.prompt) for s in seeds]
    write_drawn(a, gen, x, files, f"{gen.size}x{gen.size} {{mode}}", f"{len(a.prompt)} prompt(s) x {len(seeds)} seeds")
    return 0


# ------------------------------------------------------------------------------------------ features
def cmd_features_train(a) -> int:
    info = train_feature_net(a.out, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                             device=a.device, width=a.width, progress=not a.quiet)
    m = info["metrics"]
    print(f"{a.out}: {len(info['classes'])} subgroups; held-out emojis top-1 "
          f"{m['held_out_emojis_augmented_top1']:.3f} (augmented), {m['held_out_emojis_clean_top1']:.3f} (clean); "
          f"model card {Path(a.out).with_suffix('.md')}")
    return 0


# ---------------------------------------------------------------------------------- evaluate/compare
def cmd_evaluate(a) -> int:
    say_if_shadowed(a.run)
    m = evaluate(a.run, a.out, n=a.n, seed=a.seed, features=a.features, inception_weights=a.inception_weights,
                 device=a.device, checkpoint=a.checkpoint, progress=not a.quiet, redraw=a.redraw,
                 truncation=a.truncation, focus_hits=a.focus_hits)
    if a.truncation:
        print(f"--truncation {a.truncation:g}: latent components beyond {a.truncation:g} resampled (the sampler of "
              f"generate --truncation {a.truncation:g}, not the generator alone)")
    if a.redraw:
        print(f"--redraw {a.redraw}: {m['redrawn_rate']:.1%} of the samples were replaced by a later draw "
              f"with fewer stray fragments")
    print(f"{a.out}/report.html: KID {m['kid']:.4f} +- {m['kid_std']:.4f}, precision {m['precision']:.3f}, "
          f"recall {m['recall']:.3f} ({m['recall_min']:.3f}-{m['recall_max']:.3f} over {m['pr_sets']} sets of "
          f"{m['pr_set_size']}), coverage {m['coverage']:.3f}, copies {m['copy_rate']:.1%}, "
          f"edge ratio {m['edge_ratio']:.2f}, noise ratio {m['noise_ratio']:.2f}"
          + (f", faint-alpha ratio {m['faint_alpha_ratio']:.1f}" if "faint_alpha_ratio" in m else "")
          + (f", stray fragments in {m['stray_fragment_rate']:.0%} of samples (real "
             f"{m['stray_fragment_rate_real']:.0%})" if "stray_fragment_rate" in m else "")
          + f", mottled fill {m['mottled_fill']:.1%} (real {m['mottled_fill_real']:.1%})")
    if "label_fidelity_top1" in m:
        print(f"conditional: label fidelity {m['label_fidelity_top1']:.3f} (SSIM {m['label_fidelity_ssim_top1']:.3f}), "
              f"same-label SSIM {m['label_diversity_ssim']:.3f} ({m['label_diversity_share_095']:.0%} of pairs of draws "
              f"of one label at or above 0.95"
              + ("; the label decides the image, so the copy rate measures how clean it is)"
                 if m["label_diversity_ssim"] >= 0.95 else ")"))
    if m["recall_missed"]:
        print(f"{m['recall_missed']} of {m['n_real']} real emojis missed by every set (missed.png): "
              f"{', '.join(m['recall_missed_emojis'][:12])}{', ...' if m['recall_missed'] > 12 else ''}")
    if m["focus_count"]:
        print(f"{a.out}/focus.txt: the {m['focus_count']} emojis recalled by at most {a.focus_hits} of the sets of samples, for a new "
              f"mixture member (train --set train.focus={a.out}/focus.txt)")
    return 0


def cmd_compare(a) -> int:
    say_if_shadowed(*a.runs)
    names = a.names.split(",") if a.names else None
    if a.history:
        table = history(a.runs, a.out, names=names, window=a.window)
        print(table)
        print(f"{a.out}/history.md and history.png: in-training evaluations of {len(a.runs)} runs")
        return 0

    compare(a.runs, a.out, n=a.n, seed=a.seed, features=a.features, inception_weights=a.inception_weights,
            device=a.device, names=names, progress=not a.quiet)
    print(f"{a.out}/compare.html and compare.md: {len(a.runs)} runs")
    return 0


def cmd_mix(a) -> int:
    out = Path(a.out)
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out} must be a .safetensors file")
    if out.exists() and not a.overwrite:
        raise UserError(f"--out {out} exists; choose another file or add --overwrite")
    specs = [split_member(spec) for spec in a.members]
    say_if_shadowed(*(split_checkpoint(path)[0] for path, _ in specs))
    paths = [resolve_export(*split_checkpoint(spec)) for spec, _ in specs]
    tensors, meta = build_mixture(paths, [pick for _, pick in specs])
    d_state = discriminator_of(a.discriminator) if a.discriminator else None  # checked before anything is written
    save_export(tensors, meta, out, sidecar=False)
    if d_state is not None:
        save_discriminator(d_state, out, a.discriminator)
        print(f"{out.with_name(out.stem + '.D.safetensors')}: the discriminator of {a.discriminator}, for train --init")
    if "mixture" not in meta:
        print(f"{out}: one generator, {meta['extracted_from']} (it draws seed k itself); "
              f"generate, interpolate, evaluate, compare and train --init take it")
        return 0
    n = meta["mixture"]["members"]
    print(f"{out}: a mixture of {n} generators (seed k drawn by generator k mod {n}); "
          f"generate, interpolate, evaluate and compare take it")
    return 0


def cmd_recipe(a) -> int:
    result = run_recipe(a.recipe, a.out, smoke=a.smoke)
    print(f"{a.out}: {result['model']} rebuilt{' at the smoke scale' if a.smoke else ''}: {result['final']}")
    for c in result["checks"]:
        print(f"  {c['metric']:<24} expected {c['expected']:.3f} +- {c['spread']:.3f}, got "
              f"{c['got'] if c['got'] is None else format(c['got'], '.3f')}: {'within' if c['within'] else 'OUTSIDE'}")
    return 0


def cmd_labels(a) -> int:
    gen = load_generator(source(a))
    if not gen.conditional:
        raise UserError(f"{a.run or a.model or 'the default model'} is an unconditional model: it has no labels")
    for i, c in enumerate(gen.classes):
        extra = [n for n in aliases(c) if n not in (c.get("annotation", "").lower(), c.get("hexcode", "").lower())]
        print(f"{i:>4}  {c.get('hexcode', ''):<22} {c.get('emoji', ''):<3} {c.get('annotation', ''):<40} "
              f"{c.get('members') or ', '.join(extra)}")  # a cluster's members, or an emoji's other names
    return 0


def cmd_interpolate(a) -> int:
    if Path(a.out).suffix.lower() != ".png":
        raise UserError(f"--out {a.out} must be a .png file")
    if a.gif and Path(a.gif).suffix.lower() != ".gif":
        raise UserError(f"--gif {a.gif} must be a .gif file")
    gen = load_generator(source(a), device=a.device)
    frames = images.to_pil(interpolate(gen, a.start, a.end, a.steps, seed=a.seed, redraw=a.redraw))
    images.save_png(images.grid(images.for_display(frames), nrow=len(frames)), a.out)
    if a.gif:
        Path(a.gif).parent.mkdir(parents=True, exist_ok=True)
        images.save_gif(frames, a.gif)
    print(f"{a.out}: {a.steps} steps from '{a.start}' to '{a.end}'" + (f"; animation {a.gif}" if a.gif else ""))
    return 0
