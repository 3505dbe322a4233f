"""The `emojigan` command: one entry point, subcommands, each a thin wrapper over the Python API.

Errors a user can cause end in one line on stderr and exit code 2; programming errors still raise.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import UserError
from .limits import MAX_REDRAW

MAX_SAMPLES = 10_000


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the usage block too)
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _int_range(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is out of range; it must be between {lo} and {hi}")
        return v
    return parse


# ---------------------------------------------------------------------------------------------- data
def cmd_data_build(a) -> int:
    from .data import build_dataset, load_images

    out = build_dataset(a.out, a.subset, a.size, a.background, a.group, a.subgroup, overwrite=a.overwrite,
                        progress=not a.quiet, emojis=a.emojis)
    n = len(load_images(out, a.size, a.background))
    print(f"{out}: {n} emojis at {a.size}x{a.size} on {a.background} (preview: {out / 'preview.png'})")
    return 0


def cmd_data_subsets(a) -> int:
    from .data.catalog import SUBSETS, groups_and_subgroups, subset_counts

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
    "precision": "train.precision", "compile": "train.compile", "init": "train.init", "init_member": "train.init_member",
    "freeze_d": "train.freeze_d",
    "data": "data.path", "subset": "data.subset", "size": "data.size", "background": "data.background",
    "group": "data.group", "subgroup": "data.subgroup",
}


def cmd_train(a) -> int:
    from . import config
    from .training.loop import train
    from .training.run import read_run_config

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
        from .training.branch import branch_run

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
        if a.preset or a.config:
            raise UserError("--resume continues a run with its own config.json; drop --preset/--config")
        if not (out / "config.json").is_file():
            raise UserError(f"{out} is not a run folder (no config.json); nothing to resume")
        cfg = config.Config.from_dict(read_run_config(out), source=f"{out}/config.json")
        for key, value in overrides:
            config.set_value(cfg, key, value)
        cfg.validate()
    else:
        init = dict(overrides).get("train.init", "")
        preset = a.preset
        if init and not (a.preset or a.config) and init in config.preset_names():
            preset = init  # `--init faces64` fine-tunes with the faces64 recipe unless told otherwise
        cfg = config.resolve(preset, a.config, overrides)
        if init:
            from .training.init import adopt_model

            cfg = adopt_model(cfg, init, {k for k, _ in overrides}).validate()
    train(cfg, out, resume=bool(a.resume), overwrite=a.overwrite, progress=not a.quiet)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 speaks for the job
        print(f"{out}: trained; generator {out / 'generator.safetensors'}, samples in {out / 'samples'}")
    return 0


# ------------------------------------------------------------------------------------------ generate
def _source(a) -> str:
    """The generator a command draws from: RUN (a run folder or export), --model NAME, or the default
    shipped model."""
    from .pretrained import DEFAULT_MODEL, resolve_model

    if a.run and a.model:
        raise UserError("give either RUN or --model NAME, not both")
    if a.run:
        return a.run
    return str(resolve_model(a.model or DEFAULT_MODEL))


def cmd_models(a) -> int:
    from .pretrained import describe, folder, shipped_models

    models = shipped_models()
    if not models:
        print("no pretrained generators are shipped in this installation")
        return 0
    print(f"{'name':<10} {'kind':<30} {'size':>5} {'image':<5} {'params':>7} {'MB':>5}  {'D':<3} metrics")
    for name, path in models.items():
        d = describe(name, path)
        kind = f"conditional, {d['labels']} labels" if d["conditional"] else "unconditional"
        if d["members"] > 1:
            kind += f", mixture of {d['members']}"
        m = d["metrics"]
        metrics = ", ".join(f"{k} {m[k]:.3f}" for k in ("precision", "recall", "kid", "label_fidelity_top1", "label_fidelity_ssim_top1", "label_diversity_ssim") if k in m)
        print(f"{name:<10} {kind:<30} {d['size']:>5} {'RGBA' if d['channels'] == 4 else 'RGB':<5} "
              f"{d['params'] / 1e6:>6.1f}M {d['mb']:>5}  {'yes' if d['discriminator'] else 'no':<3} {metrics}")
    print(f"model cards: {folder()}/NAME.md; use one with `emojigan generate --model NAME`, or fine-tune it "
          f"with `emojigan train --init NAME --data FOLDER`")
    return 0


def cmd_generate(a) -> int:
    from . import images
    from .data.catalog import ATTRIBUTION
    from .inference import load_generator
    from .latent import parse_seeds

    seeds = parse_seeds(a.seeds) if a.seeds else list(range(a.seed, a.seed + a.n))
    if len(seeds) > MAX_SAMPLES:
        raise UserError(f"{len(seeds)} samples asked for; at most {MAX_SAMPLES}")
    if a.out is None and a.separate is None:
        raise UserError("give --out GRID.png and/or --separate DIR")
    if a.out is not None and Path(a.out).suffix.lower() != ".png":
        raise UserError(f"--out {a.out} must be a .png file")
    gen = load_generator(_source(a), device=a.device, precision=a.precision)
    labels, names = None, None
    if a.label:
        if not gen.conditional:
            raise UserError("--label needs a conditional model (e.g. one trained with --preset cdcgan128)")
        from .data.names import LabelIndex

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
        from .metrics.image_stats import stray_fragments

        print(f"--redraw {a.redraw}: {sum(d > 0 for d in draws)} of {len(seeds)} samples replaced by a later draw of "
              f"their seed with fewer stray fragments; {int((stray_fragments(x) > 0).sum())} still have one")
    else:
        x = gen.sample_tensor(seeds=seeds, labels=labels, truncation=a.truncation)
    ims = [gen.composite(im, a.background) for im in images.to_pil(x)]
    text = {"Software": "emojigan", "Copyright": ATTRIBUTION} if "attribution" in gen.meta else {"Software": "emojigan"}
    if a.separate is not None:
        folder = Path(a.separate)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--separate {folder} exists and is not a folder")
        for i, (s, im) in enumerate(zip(seeds, ims)):
            name = f"{names[i]}-{s:04d}.png" if names else f"seed{s:04d}.png"
            images.save_png(im, folder / name, text)
        print(f"{folder}: {len(ims)} PNGs ({gen.size}x{gen.size} {ims[0].mode})")
    if a.out is not None:
        shown = images.for_display(ims) if a.background is None else ims
        images.save_png(images.grid(shown, nrow=a.nrow), a.out, text)
        print(f"{a.out}: grid of {len(ims)} emojis from seeds {seeds[0]}..{seeds[-1]}")
    return 0


# ------------------------------------------------------------------------------------------ features
def cmd_features_train(a) -> int:
    from .features.train import train_feature_net

    info = train_feature_net(a.out, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                             device=a.device, width=a.width, progress=not a.quiet)
    m = info["metrics"]
    print(f"{a.out}: {len(info['classes'])} subgroups; held-out emojis top-1 "
          f"{m['held_out_emojis_augmented_top1']:.3f} (augmented), {m['held_out_emojis_clean_top1']:.3f} (clean); "
          f"model card {Path(a.out).with_suffix('.md')}")
    return 0


# ---------------------------------------------------------------------------------- evaluate/compare
def cmd_evaluate(a) -> int:
    from .metrics.evaluate import evaluate

    m = evaluate(a.run, a.out, n=a.n, seed=a.seed, features=a.features, inception_weights=a.inception_weights,
                 device=a.device, checkpoint=a.checkpoint, progress=not a.quiet, redraw=a.redraw,
                 truncation=a.truncation)
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
    return 0


def cmd_compare(a) -> int:
    from .metrics.compare import compare

    names = a.names.split(",") if a.names else None
    compare(a.runs, a.out, n=a.n, seed=a.seed, features=a.features, inception_weights=a.inception_weights,
            device=a.device, names=names, progress=not a.quiet)
    print(f"{a.out}/compare.html and compare.md: {len(a.runs)} runs")
    return 0


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=_int_range(2, 20_000), default=512, help="generated samples (default 512)")
    p.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0, help="first sample seed")
    p.add_argument("--features", choices=("openmoji", "inception"), default="openmoji",
                   help="feature space for KID/FID/precision/recall (default: the shipped OpenMoji network)")
    p.add_argument("--inception-weights", dest="inception_weights",
                   help="path of inception-2015-12-05.pt (default: looked up in the cache folder)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true")


def cmd_mix(a) -> int:
    from .metrics.evaluate import export_file, split_checkpoint, split_members_spec
    from .training.checkpoint import build_mixture, save_export

    out = Path(a.out)
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out} must be a .safetensors file")
    if out.exists() and not a.overwrite:
        raise UserError(f"--out {out} exists; choose another file or add --overwrite")
    specs = [split_members_spec(spec) for spec in a.members]
    paths = [export_file(*split_checkpoint(spec)) for spec, _ in specs]
    tensors, meta = build_mixture(paths, [pick for _, pick in specs])
    save_export(tensors, meta, out, sidecar=False)
    if "mixture" not in meta:
        print(f"{out}: one generator, {meta['extracted_from']} (it draws seed k itself); "
              f"generate, interpolate, evaluate, compare and train --init take it")
        return 0
    n = meta["mixture"]["members"]
    print(f"{out}: a mixture of {n} generators (seed k drawn by generator k mod {n}); "
          f"generate, interpolate, evaluate and compare take it")
    return 0


def cmd_labels(a) -> int:
    from .data.names import aliases
    from .inference import load_generator

    gen = load_generator(_source(a))
    if not gen.conditional:
        raise UserError(f"{a.run or a.model or 'the default model'} is an unconditional model: it has no labels")
    for i, c in enumerate(gen.classes):
        extra = [n for n in aliases(c) if n not in (c.get("annotation", "").lower(), c.get("hexcode", "").lower())]
        print(f"{i:>4}  {c.get('hexcode', ''):<22} {c.get('emoji', ''):<3} {c.get('annotation', ''):<40} "
              f"{c.get('members') or ', '.join(extra)}")  # a cluster's members, or an emoji's other names
    return 0


def cmd_interpolate(a) -> int:
    from . import images
    from .inference import load_generator
    from .latent.interpolate import interpolate

    if Path(a.out).suffix.lower() != ".png":
        raise UserError(f"--out {a.out} must be a .png file")
    if a.gif and Path(a.gif).suffix.lower() != ".gif":
        raise UserError(f"--gif {a.gif} must be a .gif file")
    gen = load_generator(_source(a), device=a.device)
    frames = images.to_pil(interpolate(gen, a.start, a.end, a.steps, seed=a.seed, redraw=a.redraw))
    frames = images.for_display(frames)
    images.save_png(images.grid(frames, nrow=len(frames)), a.out)
    if a.gif:
        loop = frames + frames[-2:0:-1]  # there and back
        Path(a.gif).parent.mkdir(parents=True, exist_ok=True)
        loop[0].save(a.gif, save_all=True, append_images=loop[1:], duration=120, loop=0)
    print(f"{a.out}: {a.steps} steps from '{a.start}' to '{a.end}'" + (f"; animation {a.gif}" if a.gif else ""))
    return 0


# -------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from .config import BACKGROUNDS, SIZES

    p = Parser(prog="emojigan", description="Learn OpenMoji's emoji artwork and generate new emojis.")
    p.add_argument("--version", action="version", version=f"emojigan {__import__('emojigan').__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    data = sub.add_parser("data", help="build and list OpenMoji datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    b = dsub.add_parser("build", help="render an OpenMoji subset to a folder of PNGs + labels.csv + preview.png")
    b.add_argument("--subset", default="faces", help="faces | faces+cats | smileys-emotion | all (default faces)")
    b.add_argument("--group", default="", help="OpenMoji group glob(s), comma-separated")
    b.add_argument("--subgroup", default="", help="OpenMoji subgroup glob(s), comma-separated, e.g. 'face-*'")
    b.add_argument("--emojis", default="", help="only these: comma-separated hexcodes, characters or annotations")
    b.add_argument("--size", type=int, default=64, choices=SIZES, metavar="{32,64,128,256}")
    b.add_argument("--background", default="black", choices=BACKGROUNDS)
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--overwrite", action="store_true", help="replace a dataset built with other settings")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_data_build)
    s = dsub.add_parser("subsets", help="list the named subsets with their counts")
    s.add_argument("--groups", action="store_true", help="list every OpenMoji group and subgroup instead")
    s.set_defaults(func=cmd_data_subsets)

    from .config import preset_names
    t = sub.add_parser("train", help="train a GAN into a run folder")
    t.add_argument("--preset", help=f"one of {', '.join(preset_names())}")
    t.add_argument("--config", help="a TOML file of settings (applied after --preset)")
    t.add_argument("--out", help="run folder")
    t.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN",
                   help="continue the run in --out (or RUN) from its last checkpoint")
    t.add_argument("--branch", metavar="RUN", help="start --out as a copy of RUN at one of its training states "
                   "(--checkpoint), then continue it: change one setting with --set from that step on")
    t.add_argument("--checkpoint", choices=("latest", "best"), default="latest",
                   help="with --branch: the state to start from (best: its lowest-KID evaluation)")
    t.add_argument("--own-best", dest="own_best", action="store_true",
                   help="with --branch: its best checkpoint is the best of its own evaluations, not RUN's "
                        "(RUN's were made under other settings)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    t.add_argument("--epochs", type=_int_range(1, 1_000_000))
    t.add_argument("--batch-size", dest="batch_size", type=_int_range(1, 65_536))
    t.add_argument("--lr-g", dest="lr_g", type=float)
    t.add_argument("--lr-d", dest="lr_d", type=float)
    t.add_argument("--seed", type=_int_range(0, 2**63 - 1))
    t.add_argument("--data", help="a folder of your own PNG/JPEG images (or a built dataset) instead of --subset")
    t.add_argument("--subset")
    t.add_argument("--group")
    t.add_argument("--subgroup")
    t.add_argument("--size", type=int, choices=SIZES, metavar="{32,64,128,256}")
    t.add_argument("--background", choices=BACKGROUNDS)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    t.add_argument("--sample-every", dest="sample_every", type=_int_range(1, 1_000_000))
    t.add_argument("--checkpoint-every", dest="checkpoint_every", type=_int_range(1, 1_000_000))
    t.add_argument("--log-every", dest="log_every", type=_int_range(1, 1_000_000))
    t.add_argument("--precision", choices=("fp32", "bf16", "auto"),
                   help="bf16 autocast on GPUs and AVX512-BF16/AMX CPUs; auto: bf16 where native")
    t.add_argument("--compile", action="store_const", const=True, default=None, help="torch.compile G and D")
    t.add_argument("--eval-every", dest="eval_every", type=_int_range(0, 1_000_000),
                   help="epochs between KID/SSIM evaluations logged to metrics.jsonl; keeps the best (lowest KID)")
    t.add_argument("--init", help="start from a trained model: a shipped name (faces64), a run folder or an "
                                  "export; its architecture, size and background come with it")
    t.add_argument("--init-member", dest="init_member", type=_int_range(0, 63), metavar="K",
                   help="with --init of a mixture (faces64): start from its generator K, the one that draws seeds "
                        "k with k mod M = K (default 0)")
    t.add_argument("--freeze-d", dest="freeze_d", type=_int_range(0, 16),
                   help="FreezeD: keep D's first N convolution blocks fixed (fine-tuning)")
    t.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config field, type-checked (repeatable)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("generate", help="draw emojis from a trained generator (default: the shipped faces64)")
    g.add_argument("run", nargs="?", help="a run folder or an exported generator .safetensors (default: --model)")
    g.add_argument("--model", help="a shipped model (`emojigan models`; default faces64)")
    g.add_argument("--n", type=_int_range(1, MAX_SAMPLES), default=64, help="how many (default 64)")
    g.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0, help="first seed (seeds seed..seed+n-1)")
    g.add_argument("--seeds", help="explicit seeds instead, e.g. 0-63 or 1,5,9")
    g.add_argument("--out", help="grid PNG to write")
    g.add_argument("--separate", help="folder for one PNG per emoji")
    g.add_argument("--nrow", type=_int_range(1, 1000), default=None, help="images per grid row")
    g.add_argument("--background", choices=BACKGROUNDS, default=None,
                   help="composite an RGBA model's output (default: as trained)")
    g.add_argument("--truncation", type=float, default=None, metavar="T",
                   help="resample z components beyond T (BigGAN's truncation trick, e.g. 1.5): less varied samples; "
                        "on the shipped models measured no cleaner (faces64 at 1.0: broken faces; docs/RESULTS.md), "
                        "--redraw is the sampler that cleans")
    g.add_argument("--redraw", type=_int_range(0, MAX_REDRAW), default=0, metavar="R",
                   help="RGBA models: replace a sample with a stray fragment (a broken bit of outline) by its "
                        "seed's next draw, up to R times, keeping the draw with the fewest (e.g. 8; default 0: off)")
    g.add_argument("--label", action="append", default=[],
                   help="conditional models: a label name, emoji, shortcode or hexcode (repeatable); "
                        "'all' draws one fixed noise for every label")
    g.add_argument("--device", default="cpu", help="auto | cpu | cuda | mps (default cpu)")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="auto: bf16 where the device has it and it matches FP32 within 2/255 (default)")
    g.set_defaults(func=cmd_generate)
    lb = sub.add_parser("labels", help="list a conditional model's labels and the names they answer to")
    lb.add_argument("run", nargs="?", help="a run folder or exported generator (default: --model)")
    lb.add_argument("--model", help="a shipped model (`emojigan models`)")
    lb.set_defaults(func=cmd_labels)
    ip = sub.add_parser("interpolate", help="a strip (and GIF) between two labels or seeds")
    ip.add_argument("run", nargs="?", help="a run folder or exported generator (default: --model)")
    ip.add_argument("--model", help="a shipped model (`emojigan models`; default faces64)")
    ip.add_argument("--from", dest="start", required=True, help="a label name, seed:N, or seed:N:label")
    ip.add_argument("--to", dest="end", required=True, help="a label name, seed:N, or seed:N:label")
    ip.add_argument("--steps", type=_int_range(2, 256), default=8)
    ip.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0, help="z for endpoints without seed:N")
    ip.add_argument("--out", required=True, help="strip PNG")
    ip.add_argument("--gif", help="also write an animation (there and back)")
    ip.add_argument("--redraw", type=_int_range(0, MAX_REDRAW), default=0, metavar="R",
                    help="start and end at the draws generate --redraw R shows for the seeds (default 0)")
    ip.add_argument("--device", default="cpu")
    ip.set_defaults(func=cmd_interpolate)

    mx = sub.add_parser("mix", help="one generator file that draws from several (seed k from generator k mod M)")
    mx.add_argument("members", nargs="+", metavar="RUN[:best]|EXPORT[@K,...]",
                    help="run folders (their last generator, or :best), shipped names or .safetensors exports; "
                         "a mixture among them adds its members (faces64 and one run: four generators), or those "
                         "named after @ (faces64@0,1 and one run: three, member 2 swapped for the run; faces64@2 alone: that "
                         "generator by itself)")
    mx.add_argument("--out", required=True, help="the mixture's .safetensors file")
    mx.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    mx.set_defaults(func=cmd_mix)
    ms = sub.add_parser("models", help="list the pretrained generators shipped in the package")
    ms.set_defaults(func=cmd_models)

    e = sub.add_parser("evaluate", help="the report's analysis plus KID, precision/recall and memorization")
    e.add_argument("run", help="a run folder, or a shipped model's name (faces64, cond128: checks its card)")
    e.add_argument("--checkpoint", choices=("latest", "best"), default="latest",
                   help="the last export, or the lowest-KID one that --eval-every kept")
    e.add_argument("--redraw", type=_int_range(0, MAX_REDRAW), default=0, metavar="R",
                   help="measure the sampler of generate --redraw R (fragmented samples redrawn) instead of the "
                        "generator alone (default 0)")
    e.add_argument("--truncation", type=float, default=None, metavar="T",
                   help="measure the sampler of generate --truncation T (latent components beyond T resampled): "
                        "what it does to quality and variety")
    _eval_args(e)
    e.set_defaults(func=cmd_evaluate)
    c = sub.add_parser("compare", help="one table of every metric and the sample grids of several runs")
    c.add_argument("runs", nargs="+", help="run folders or shipped models' names")
    c.add_argument("--names", help="comma-separated column names (default: the folder names)")
    _eval_args(c)
    c.set_defaults(func=cmd_compare)

    f = sub.add_parser("features", help="the OpenMoji feature network used by evaluate")
    fsub = f.add_subparsers(dest="features_command", required=True, parser_class=Parser)
    ft = fsub.add_parser("train", help="train EmojiNet on all OpenMoji emojis (subgroup classification)")
    ft.add_argument("--out", required=True, help="the .safetensors to write (a model card .md goes beside it)")
    ft.add_argument("--epochs", type=_int_range(1, 10_000), default=40)
    ft.add_argument("--batch-size", dest="batch_size", type=_int_range(1, 65_536), default=128)
    ft.add_argument("--lr", type=float, default=2e-3)
    ft.add_argument("--width", type=_int_range(4, 512), default=32)
    ft.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0)
    ft.add_argument("--device", default="auto")
    ft.add_argument("--quiet", action="store_true")
    ft.set_defaults(func=cmd_features_train)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print(f"emojigan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emojigan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `emojigan labels RUN | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
