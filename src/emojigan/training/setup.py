"""Everything a run needs before its first step, from its config: checks that write nothing, the dataset, the
networks and optimizers (fresh, from `--init`, or restored for `--resume`), the noise generator, EMA and ADA,
and the run folder's config.json. `prepare` returns it as one `Run`, which the trainer (trainer.py) steps."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import images
from ..config import RUN_RECORDS, Config
from ..data import load_dataset
from ..data.catalog import ATTRIBUTION
from ..data.dataset import ImageSet
from ..data.focus import focus_weights
from ..devices import resolve_precision
from ..errors import UserError
from ..files import read_run_config
from ..losses import REGULARIZERS
from ..models import PatchDiscriminator, build_from_config, is_conditional
from . import run as runlib
from .augment import AdaptiveP
from ..text.encoder import load_text_encoder
from ..text.phrases import phrase_table
from .checkpoint import load_state
from .distributed import Dist
from .ema import GeneratorEMA, make_ema
from .evaluation import InTrainingEval
from .init import check_init_labels, freeze_discriminator, init_record, load_init
from .step import Nets, make_adam, make_nets

PATCH_LAYERS = 2  # the patch critic's stride-2 convolutions: a receptive field of 22 pixels


def class_list(data: ImageSet) -> list[dict]:
    """One class per training image (the report's conditional model: one class per emoji), named by its
    labels.csv row for built datasets, else by its file name."""
    rows = data.labels or [{} for _ in data.names]
    return [{"hexcode": row.get("hexcode", ""), "emoji": row.get("emoji", ""), "annotation": data.display_name(i),
             "subgroup": row.get("subgroup", "")} for i, row in enumerate(rows)]


def check_same_model(out: Path, state: dict, cfg: Config) -> None:
    """A resumed run keeps its network: one clear line, not a state-dict shape error, when `--set model.*`
    or a changed data size or background asks for another one."""
    old = state.get("config", {})
    changed = [f"model.{k} {v!r} -> {getattr(cfg.model, k)!r}" for k, v in old.get("model", {}).items()
               if hasattr(cfg.model, k) and getattr(cfg.model, k) != v]
    changed += [f"data.{k} {old['data'][k]!r} -> {getattr(cfg.data, k)!r}" for k in ("size", "background")
                if k in old.get("data", {}) and getattr(cfg.data, k) != old["data"][k]]
    if changed:
        raise UserError(f"{out} was trained with other model settings ({'; '.join(changed)}); a resumed run "
                        f"keeps its network and images; train a new run (--out) for these settings")


def export_meta(cfg: Config, data: ImageSet, epoch: int, step: int, init: dict | None = None,
                text_dim: int = 0) -> dict:
    """An export's metadata. `init`: the record of the model the run started from (training/init.py
    init_record); the export then also says how long its weights have trained in all."""
    d = cfg.data
    meta = {"model": dict(vars(cfg.model)),
            "data": {"size": d.size, "background": d.background, "channels": d.channels,
                     "subset": "" if d.path else d.subset, "source": data.source,
                     **({"group": d.group, "subgroup": d.subgroup} if not d.path and (d.group or d.subgroup) else {})},
            "training": {"epoch": epoch, "step": step, "seed": cfg.train.seed}}
    if init:
        meta["training"] |= {"init": init, "total_step": init["step"] + step, "total_epoch": init["epoch"] + epoch}
    if is_conditional(cfg.model.arch):
        meta["classes"] = class_list(data)
        meta["model"]["n_classes"] = len(meta["classes"])
    if text_dim:
        meta["model"]["text_dim"] = text_dim
    if data.openmoji:
        meta["license"] = "CC BY-SA 4.0 (trained on OpenMoji artwork)"
        meta["attribution"] = ATTRIBUTION
    return meta


@dataclass
class Run:
    """A run ready to step: its config, folder, data and networks, and where it stands."""
    cfg: Config
    out: Path
    dist: Dist
    data: ImageSet
    nets: Nets
    noise: torch.Generator              # every random draw of the loop (z, labels, augmentations, flips)
    precision: str
    ema: GeneratorEMA | None = None
    ada: AdaptiveP | None = None
    focus: torch.Tensor | None = None   # each image's probability of being drawn (train.focus); None: a shuffle
    init: dict | None = None            # the model the run started from (train.init), kept on resume
    epoch: int = 0
    step: int = 0
    elapsed: float = 0.0
    best_kid: float = math.inf
    resumed: bool = False               # restored from a training state (--resume, --branch)
    graphs: bool = False                # the step replays as a CUDA graph
    evaluator: InTrainingEval | None = None  # rank 0's in-training KID and copy rate (train.eval_every)
    notes: list[str] = field(default_factory=list)  # what the run says about itself before it starts

    @property
    def conditional(self) -> bool:
        return is_conditional(self.cfg.model.arch)

    def meta(self, epoch: int) -> dict:
        return export_meta(self.cfg, self.data, epoch, self.step, self.init,
                           text_dim=int(getattr(self.nets.G, "text_dim", 0)))


def prepare(cfg: Config, out: Path, resume: bool, overwrite: bool, progress: bool, dist: Dist) -> Run:
    """Check, load and build everything; create or update the run folder (rank 0). Nothing is written before
    every check has passed."""
    t, m = cfg.train, cfg.model
    main, device = dist.is_main, dist.device
    runlib.check_run_dir(out, resume, overwrite)
    dist.barrier()  # no rank creates anything before every rank has checked
    state = load_state(out / runlib.STATE_NAME) if resume else None
    if state is not None:
        check_same_model(out, state, cfg)
    data = load_dataset(cfg.data, progress and main)
    if t.init and state is None and is_conditional(m.arch):
        check_init_labels(t.init, class_list(data))
    focus = None
    if t.focus:  # kept in the training state: a resume needs no focus file
        focus = state["balance"].to(torch.float64) if state is not None and "balance" in state \
            else focus_weights(data, t.focus)
    # a focused run's evaluations score against its chosen images (built here: the feature network is checked
    # before anything is written)
    evaluator = None
    if t.eval_every and main:
        evaluator = InTrainingEval(data.images[focus > 0] if focus is not None else data.images, device)
    if not resume and main:
        runlib.create_run_dir(out)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    notes = []
    if focus is not None and state is None:
        notes.append(f"drawing only the {int((focus > 0).sum())} of {len(data)} images that {t.focus} names "
                     f"(train.focus)")
    rgba_set = [f"train.{k}" for k, w in t.losses.items() if w and REGULARIZERS[k].rgba_only]
    if cfg.data.channels != 4 and rgba_set and state is None:
        notes.append(f"{' / '.join(rgba_set)} act{'s' if len(rgba_set) == 1 else ''} on the alpha channel; off on "
                     f"this {cfg.data.background} background")

    torch.manual_seed(t.seed)  # identical initial weights on every rank
    phrases = None
    if m.arch == "text" and state is None:  # each emoji's phrasings, embedded once (a resume has them in G and D)
        phrases = phrase_table(class_list(data), load_text_encoder(m.text_encoder or None))
    text_dim = phrases.shape[-1] if phrases is not None else \
        (state["G"]["phrases"].shape[-1] if state is not None and m.arch == "text" else 0)
    G, D = build_from_config(m, cfg.data.size, cfg.data.channels, n_classes=len(data), text_dim=text_dim)
    if phrases is not None:
        G.set_phrases(phrases)
        D.set_phrases(phrases)
    init = state.get("init") if state is not None else None
    if t.init and state is None:
        init = init_record(t.init)
        notes.append(f"init {load_init(G, D, t.init)}")
    if t.freeze_d:
        freeze_discriminator(D, t.freeze_d)
    fmt = torch.channels_last
    G, D = G.to(device, memory_format=fmt), D.to(device, memory_format=fmt)
    # CUDA graphs need the step's random numbers drawn outside it and no host work in it: not with DiffAugment's
    # in-step draws, the patch critic, or a regularizer that is not graphable (the fragment loss labels on the CPU)
    graphs = (t.cuda_graphs and device.type == "cuda" and not dist.enabled and not t.compile and not t.diffaugment
              and not t.patch and all(REGULARIZERS[k].graphable for k, w in t.losses.items() if w))
    betas = (t.beta1, t.beta2)
    nets = make_nets(G, D, t.lr_g, t.lr_d, betas, device, graphs)
    if t.patch:  # the PatchGAN critic: its own weights (from the seed's stream, after G and D) and Adam at D's rate
        nets.P = PatchDiscriminator(cfg.data.channels, PATCH_LAYERS).to(device, memory_format=fmt)
        nets.opt_P = make_adam(nets.P, t.lr_d, betas, device)
    run = Run(cfg, out, dist, data, nets, torch.Generator(device=device).manual_seed(t.seed + 1 + 1_000_003 * dist.rank),
              resolve_precision(t.precision, device), make_ema(G, t.ema) if t.ema else None,
              AdaptiveP(t.ada_target, t.ada_kimg, device) if t.ada_target else None, focus, init, graphs=graphs,
              evaluator=evaluator, notes=notes)
    if state is not None:
        restore(run, state)
    elif main:
        runlib.write_config(out, cfg, {"provenance": runlib.provenance() | {"world_size": dist.world_size},
                                       "dataset": {"source": data.source, "count": len(data),
                                                   "skipped": data.skipped},
                                       **({"init": init} if init else {})})
        images.save_png(images.grid(images.for_display(images.to_pil(data.images[:64])), nrow=8), out / "real.png")
    return run


def restore(run: Run, state: dict) -> None:
    """Load a training state into a freshly built run (`--resume`), and record the resume in config.json."""
    t, nets, out = run.cfg.train, run.nets, run.out
    if run.ema is not None:
        if "G_ema" not in state:
            raise UserError(f"{out}: its checkpoint has no EMA generator; resume without train.ema")
        run.ema.load_state_dict(state["G_ema"])
    nets.G.load_state_dict(state["G"])
    nets.D.load_state_dict(state["D"])
    nets.opt_G.load_state_dict(state["opt_G"])
    nets.opt_D.load_state_dict(state["opt_D"])
    if nets.P is not None and "P" in state:
        nets.P.load_state_dict(state["P"])
        nets.opt_P.load_state_dict(state["opt_P"])
    elif nets.P is not None:  # switched on for the continuation of a run trained without it
        run.notes.append("train.patch is new to this run; its patch discriminator starts from scratch")
    # the optimizer state carries the old run's learning rates and betas: the resumed config's win, so
    # `--resume RUN --set train.lr_g=...` lowers the rate from here on (a no-op when they are unchanged)
    for opt, lr in ((nets.opt_G, t.lr_g), (nets.opt_D, t.lr_d), (nets.opt_P, t.lr_d)):
        for group in opt.param_groups if opt is not None else ():
            group["lr"], group["betas"] = lr, (t.beta1, t.beta2)
    rngs = state["noise_rng"] if isinstance(state["noise_rng"], list) else [state["noise_rng"]]
    if len(rngs) != run.dist.world_size:
        raise UserError(f"{out} was trained with {len(rngs)} process(es); resume it with as many "
                        f"(now {run.dist.world_size})")
    run.noise.set_state(rngs[run.dist.rank])
    run.epoch, run.step, run.elapsed = state["epoch"], state["step"], state["elapsed"]
    run.resumed = True
    run.best_kid = state.get("best_kid", math.inf)
    if run.ada is not None:
        run.ada.p.fill_(state.get("ada_p", 0.0))
    if run.dist.is_main:
        old = read_run_config(out)
        resumes = old.get("resumes", []) + [{"epoch": run.epoch, "step": run.step, **runlib.provenance()}]
        runlib.write_config(out, run.cfg, {k: v for k, v in old.items() if k in RUN_RECORDS and k != "resumes"}
                            | {"resumes": resumes})
