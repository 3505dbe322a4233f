"""The training loop: the report's alternating D/G steps with binary cross-entropy, on a resident dataset.

One epoch is a shuffled pass over the dataset with the last partial batch kept (111 images at batch 16 =
7 steps, 500 epochs = 3,500 steps). Shuffles derive from (seed, epoch) and the noise comes from a saved
generator, so `--resume` continues exactly where an uninterrupted run would be.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from .. import images
from ..config import RUN_RECORDS, Config
from ..data.catalog import ATTRIBUTION
from ..data.dataset import ImageSet
from ..errors import UserError
from ..inference import EmojiGenerator, cpu_has_bf16
from ..models import build_from_config, is_conditional
from . import run as runlib
from .checkpoint import export_generator, load_state, save_state
from .augment import AdaptiveP, diff_augment, mirror_some
from .distributed import Dist, setup
from .ema import make_ema
from .step import (PATCH_STATS, STATS, GANStep, GraphedStep, dataset_grain, label_silhouettes, make_adam,
                   make_optimizers)


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last checkpoint is kept."""


def class_list(data: ImageSet, image_classes: torch.Tensor | None = None) -> list[dict]:
    """One class per training image (the report's conditional model: one class per emoji), named by its
    labels.csv row for built datasets, else by its file name; with `image_classes` (model.clusters), one class
    per cluster, named after its members."""
    rows = data.labels or [{} for _ in data.names]
    per_image = [{"hexcode": row.get("hexcode", ""), "emoji": row.get("emoji", ""), "annotation": data.display_name(i),
                  "subgroup": row.get("subgroup", "")} for i, row in enumerate(rows)]
    if image_classes is None:
        return per_image
    out = []
    for c in range(int(image_classes.max()) + 1):
        members = [per_image[i] for i in (image_classes == c).nonzero().flatten().tolist()]
        out.append({"hexcode": "", "emoji": "".join(mb["emoji"] for mb in members[:3]),
                    "annotation": f"cluster {c}", "subgroup": "",
                    "members": "; ".join(mb["annotation"] for mb in members)})
    return out


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


def image_classes_for(cfg: Config, data: ImageSet, state: dict | None) -> torch.Tensor | None:
    """The class of each training image when `model.clusters` groups them (kept in the training state, so a
    resumed run trains the same classes); None for one class per image."""
    if not cfg.model.clusters:
        return None
    if state is not None and "image_classes" in state:
        return state["image_classes"].to(torch.int64)
    from ..data.clusters import cluster_images

    return cluster_images(data.images, cfg.model.clusters, cfg.train.seed)


def neighbors_for(cfg: Config, data: ImageSet, state: dict | None, device: torch.device) -> torch.Tensor | None:
    """Each training image's `model.neighbors` nearest training images (N, k), itself first (kept in the
    training state, so a resumed run draws from the same neighbourhoods); None when off."""
    if not cfg.model.neighbors:
        return None
    if state is not None and "neighbors" in state:
        return state["neighbors"].to(torch.int64)
    from ..data.clusters import neighbor_table

    return neighbor_table(data.images, cfg.model.neighbors, device)


def export_meta(cfg: Config, data: ImageSet, epoch: int, step: int,
                image_classes: torch.Tensor | None = None, init: dict | None = None) -> dict:
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
        meta["classes"] = class_list(data, image_classes)
        meta["model"]["n_classes"] = len(meta["classes"])
        if image_classes is not None:  # unconditional sampling draws seed k's class as training image k % N's
            meta["image_classes"] = image_classes.tolist()
    if data.openmoji:
        meta["license"] = "CC BY-SA 4.0 (trained on OpenMoji artwork)"
        meta["attribution"] = ATTRIBUTION
    return meta


class InTrainingEval:
    """KID and mean nearest-training SSIM of a fixed set of seeds, against precomputed real features."""

    def __init__(self, cfg: Config, real: torch.Tensor, device: torch.device):
        from ..features import load_feature_space

        self.space = load_feature_space(cfg.train.eval_features, device=device)
        self.real, self.device = real, device
        self.real_feat = self.space(real)

    def __call__(self, fake: torch.Tensor) -> dict:
        from ..metrics.distribution import kid, precision_recall_sets
        from ..metrics.memorization import COPY_SSIM, nearest_ssim

        fake_feat = self.space(fake)
        k, k_std = kid(self.real_feat, fake_feat, subsets=50)
        pr, _ = precision_recall_sets(self.real_feat, fake_feat)  # sets of 256, as evaluate measures
        s, _ = nearest_ssim(fake.to(self.device), self.real.to(self.device))
        return {"kid": k, "kid_std": k_std, "precision": pr["precision"], "recall": pr["recall"],
                "ssim_nearest": float(s.mean()),
                "copy_rate": float((s >= COPY_SSIM).double().mean())}


def better_checkpoint(row: dict, best_kid: float, max_copies: float) -> bool:
    """Whether an in-training evaluation makes a new 'best' checkpoint: a lower KID than the best so far, with at
    most `max_copies` of its samples copies of a training emoji (longer training can trade memorization for KID:
    three 14,000-step faces64 runs copied 6-16% of their samples, at most 1.2% at 7,000)."""
    return row["kid"] < best_kid and row["copy_rate"] <= max_copies


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto`: bf16 autocast where the device computes bf16 natively (CUDA with bf16, CPUs with
    AVX512-BF16/AMX), else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def balance_for(cfg: Config, data: ImageSet, state: dict | None, device: torch.device) -> torch.Tensor | None:
    """Each training image's probability of being drawn (`train.balance` or `train.focus`), kept in the training
    state like the neighbourhoods (a resume needs neither the focus file nor the feature network); None when off (a
    plain shuffle per epoch)."""
    if not (cfg.train.balance or cfg.train.focus):
        return None
    if state is not None and "balance" in state:
        return state["balance"].to(torch.float64)
    from ..data.clusters import balance_weights, focus_weights

    if cfg.train.focus:
        return focus_weights(data, cfg.train.focus)
    return balance_weights(data.images, cfg.train.balance, device)


def _epoch_indices(n: int, seed: int, epoch: int, dist_: Dist, weights: torch.Tensor | None = None) -> torch.Tensor:
    """This rank's indices for an epoch: a plain permutation on one process, a DistributedSampler shard (padded
    to equal length) under DDP. With `weights`, n draws with replacement by those probabilities (every rank draws
    the same list from (seed, epoch) and takes its own stride of it, padded to equal length)."""
    if weights is not None:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        per_rank = -(-n // dist_.world_size)
        idx = torch.multinomial(weights, per_rank * dist_.world_size, replacement=True, generator=gen)
        return idx[dist_.rank::dist_.world_size] if dist_.enabled else idx
    if not dist_.enabled:
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n), num_replicas=dist_.world_size, rank=dist_.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler))


def train(cfg: Config, out: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True) -> Path:
    """Train `cfg` into the run folder `out` (or continue it with `resume`); returns the folder.
    Under torchrun this runs one rank of a DistributedDataParallel job."""
    out = Path(out)
    cfg.validate()
    dist_ = setup(cfg.train.device)
    try:
        return _train(cfg, out, resume, overwrite, progress, dist_)
    finally:
        dist_.close()


def _train(cfg: Config, out: Path, resume: bool, overwrite: bool, progress: bool, dist_: Dist) -> Path:
    t, m = cfg.train, cfg.model
    main = dist_.is_main
    device = dist_.device
    if t.imle and dist_.enabled:
        raise UserError("train.imle runs on one process: its matched latents are one table for the whole dataset; "
                        "train without torchrun, or without train.imle")
    runlib.check_run_dir(out, resume, overwrite)
    dist_.barrier()  # no rank creates anything before every rank has checked
    state = load_state(out / runlib.STATE_NAME) if resume else None
    if state is not None:
        check_same_model(out, state, cfg)
    data = runlib.load_dataset(cfg, progress and main)
    if t.init and state is None and is_conditional(m.arch):
        from .init import check_init_labels

        check_init_labels(t.init, class_list(data))
    # a focused run (train.focus) learns its chosen images, and its evaluations score against those (read here, before
    # anything is written: the file is checked first; train.balance's weights come after the seed, as they always did)
    focus = balance_for(cfg, data, state, device) if t.focus else None
    targets = data.images[focus > 0] if focus is not None else data.images
    evaluator = InTrainingEval(cfg, targets, device) if t.eval_every and main else None
    if not resume and main:
        runlib.create_run_dir(out)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    fmt = torch.channels_last if t.channels_last else torch.contiguous_format

    torch.manual_seed(t.seed)  # identical initial weights on every rank
    conditional = is_conditional(m.arch)
    image_classes = image_classes_for(cfg, data, state)
    n_classes = int(image_classes.max()) + 1 if image_classes is not None else len(data)
    neighbors = neighbors_for(cfg, data, state, device)
    balance = focus if focus is not None else balance_for(cfg, data, state, device)
    if focus is not None and main and progress and state is None:
        print(f"{out}: drawing only the {int((balance > 0).sum())} of {len(data)} images that {t.focus} names "
              f"(train.focus)")
    elif balance is not None and main and progress and state is None:
        p = balance * len(data)
        print(f"{out}: rare images drawn more often (train.balance {t.balance}): {float(p.min()):.2f}x to "
              f"{float(p.max()):.2f}x the uniform rate")
    if neighbors is not None and main and progress and state is None:
        print(f"{out}: {len(data)} classes, each shown to D as one of its image's {neighbors.shape[1]} nearest images")
    if image_classes is not None and main and progress and state is None:
        sizes = torch.bincount(image_classes).tolist()
        print(f"{out}: {len(data)} images in {n_classes} clusters of {min(sizes)}-{max(sizes)} (sizes {sizes})")
    # the alpha-channel losses act on RGBA data only; a preset that sets them (faces64) still trains on black/white
    rgba = cfg.data.channels == 4
    faint_w, stray_w, sil_w, frag_w = (t.faint_alpha, t.stray, t.silhouette, t.fragments) if rgba else (0.0,) * 4
    alpha_set = [f"train.{k}" for k in ("faint_alpha", "stray", "silhouette", "fragments") if getattr(t, k)]
    if not rgba and alpha_set and main and progress and state is None:
        print(f"{out}: {' / '.join(alpha_set)} act{'s' if len(alpha_set) == 1 else ''} on the alpha channel; "
              f"off on this {cfg.data.background} background")
    G, D = build_from_config(m, cfg.data.size, cfg.data.channels, n_classes=n_classes)
    init_rec = state.get("init") if state is not None else None  # what the run started from, kept on resume
    if t.init and state is None:
        from .init import init_record, load_init

        init_rec = init_record(t.init, t.init_member)
        msg = load_init(G, D, t.init, t.init_member)
        if main and progress:
            print(f"{out}: init {msg}")
    if t.freeze_d:
        from .init import freeze_discriminator

        freeze_discriminator(D, t.freeze_d)
    G, D = G.to(device, memory_format=fmt), D.to(device, memory_format=fmt)
    # CUDA graphs need the step's random numbers drawn outside it: not with DiffAugment's or the self-supervised
    # D's in-step draws from the run's noise generator, nor the fragment loss's CPU labelling; and fixed rates
    graphs = (t.cuda_graphs and device.type == "cuda" and not dist_.enabled and not t.compile and not t.diffaugment
              and not m.d_recon and not t.imle and not t.patch and not frag_w and not t.warmup)
    opt_G, opt_D = make_optimizers(G, D, t.lr_g, t.lr_d, (t.beta1, t.beta2), device, capturable=graphs)
    P = opt_P = None
    if t.patch:  # the PatchGAN critic: its own weights (from the seed's stream, after G and D) and Adam at D's rate
        from ..models.blocks import PatchDiscriminator

        P = PatchDiscriminator(cfg.data.channels, t.patch_layers).to(device, memory_format=fmt)
        opt_P = make_adam(P, t.lr_d, (t.beta1, t.beta2), device)
    noise = torch.Generator(device=device).manual_seed(t.seed + 1 + 1_000_003 * dist_.rank)
    ema = make_ema(G, t.ema) if t.ema else None
    ada = AdaptiveP(t.ada_target, t.ada_kimg, device) if t.ada_target else None
    epoch, step, elapsed, best_kid = 0, 0, 0.0, math.inf
    if state is not None:
        if ema is not None:
            if "G_ema" not in state:
                raise UserError(f"{out}: its checkpoint has no EMA generator; resume without train.ema")
            ema.load_state_dict(state["G_ema"])
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        if P is not None and "P" in state:
            P.load_state_dict(state["P"])
            opt_P.load_state_dict(state["opt_P"])
        elif P is not None and main and progress:  # switched on for the continuation of a run trained without it
            print(f"{out}: train.patch is new to this run; its patch discriminator starts from scratch")
        # the optimizer state carries the old run's learning rates and betas: the resumed config's win, so
        # `--resume RUN --set train.lr_g=...` lowers the rate from here on (a no-op when they are unchanged)
        for opt, lr in ((opt_G, t.lr_g), (opt_D, t.lr_d), (opt_P, t.lr_d)):
            for group in opt.param_groups if opt is not None else ():
                group["lr"], group["betas"] = lr, (t.beta1, t.beta2)
        rngs = state["noise_rng"] if isinstance(state["noise_rng"], list) else [state["noise_rng"]]
        if len(rngs) != dist_.world_size:
            raise UserError(f"{out} was trained with {len(rngs)} process(es); resume it with as many "
                            f"(now {dist_.world_size})")
        noise.set_state(rngs[dist_.rank])
        epoch, step, elapsed = state["epoch"], state["step"], state["elapsed"]
        best_kid = state.get("best_kid", math.inf)
        if ada is not None:
            ada.p.fill_(state.get("ada_p", 0.0))
        if main:
            old = runlib.read_run_config(out)
            resumes = old.get("resumes", []) + [{"epoch": epoch, "step": step, **runlib.provenance()}]
            runlib.write_config(out, cfg, {k: v for k, v in old.items() if k in RUN_RECORDS and k != "resumes"}
                                | {"resumes": resumes})
    elif main:
        runlib.write_config(out, cfg, {"provenance": runlib.provenance() | {"world_size": dist_.world_size},
                                       "dataset": {"source": data.source, "count": len(data),
                                                   "skipped": data.skipped},
                                       **({"init": init_rec} if init_rec else {})})
        preview = images.to_pil(data.images[:64])
        images.save_png(images.grid(images.for_display(preview), nrow=8), out / "real.png")
    if epoch >= t.epochs:
        if main:
            print(f"{out}: already trained for {epoch} epochs (train.epochs = {t.epochs}); nothing to do")
        return out

    G_raw, D_raw, P_raw = G, D, P  # what checkpoints, sampling and the G step use
    if dist_.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        if t.sync_bn and device.type == "cuda":
            G, D = nn.SyncBatchNorm.convert_sync_batchnorm(G), nn.SyncBatchNorm.convert_sync_batchnorm(D)
            G_raw, D_raw = G, D
        ids = [device.index] if device.type == "cuda" else None
        G, D = DDP(G, device_ids=ids), DDP(D, device_ids=ids)
        if P is not None:
            P = DDP(P, device_ids=ids)
    if t.compile:
        G, D = torch.compile(G), torch.compile(D)
        if P is not None:
            P = torch.compile(P)
    # conditional: the class of each training image (itself, or its cluster); fakes take a random image's class
    classes_of = (image_classes if image_classes is not None else torch.arange(len(data))).to(device)
    # the silhouette loss's masks: per label (conditional), or per training image, matched by alpha (unconditional)
    sil_masks = sil_keys = None
    if sil_w:
        imgs, sil_classes = data.images.to(device), classes_of
        if t.mirror:  # the mirror images are training images too: their silhouettes count as well
            imgs, sil_classes = torch.cat([imgs, imgs.flip(-1)]), torch.cat([classes_of, classes_of])
        if conditional:
            sil_masks = label_silhouettes(imgs, sil_classes, n_classes, t.silhouette_margin)
        else:
            sil_masks = label_silhouettes(imgs, torch.arange(len(imgs), device=device), len(imgs), t.silhouette_margin)
            sil_keys = ((imgs[:, 3].float() + 1) / 2).flatten(1)
    augment = (lambda x: diff_augment(x, t.diffaugment, noise, ada.p if ada is not None else None)) \
        if t.diffaugment else None
    gan = GANStep(G, D, opt_G, opt_D, precision=resolve_precision(t.precision, device), D_for_G=D_raw if dist_.enabled else None,
                  real_label=t.real_label, fake_label=t.fake_label, augment=augment, loss=t.loss,
                  r1_gamma=t.r1_gamma, d_recon=m.d_recon, rng=noise, mode_seeking=t.mode_seeking,
                  spectral=t.spectral, lecam=t.lecam, imle=t.imle, P=P, opt_P=opt_P, patch=t.patch,
                  P_for_G=P_raw if dist_.enabled else None, faint_alpha=faint_w,
                  stray=stray_w, grain=t.grain, grain_ref=dataset_grain(data.images) if t.grain else None,
                  silhouette=sil_w, outside=sil_masks, silhouette_keys=sil_keys, fragments=frag_w,
                  flat=t.flat)
    if state is not None and "lecam_ema" in state:
        gan.lecam_ema.copy_(state["lecam_ema"])
    # IMLE: each training image's matched latent, renewed every `imle_every` epochs (kept in the state)
    imle_z = state["imle_z"].to(device) if t.imle and state is not None and "imle_z" in state else None
    G_out = ema.module if ema is not None else G_raw  # what samples, evaluation and exports use
    stepper = GraphedStep(gan) if graphs else gan

    real = data.images.to(device).contiguous(memory_format=fmt)
    neighbors_dev = neighbors.to(device) if neighbors is not None else None
    n = len(real)
    per_rank = len(_epoch_indices(n, t.seed, 0, dist_))
    steps_per_epoch = math.ceil(per_rank / t.batch_size)
    log = runlib.MetricsLog(out / "metrics.jsonl", resume_step=step if state is not None else None) if main else None
    sample_seeds = list(range(t.sample_seeds))
    acc = torch.zeros(len(STATS), device=device)
    acc_steps, acc_images, last_read = 0, 0, time.perf_counter()
    seg_start = time.perf_counter()
    last_ckpt = epoch

    def read_losses() -> dict:
        """One host sync: average the accumulated losses (over ranks too), log them, check for divergence."""
        nonlocal acc_steps, acc_images, last_read
        now = time.perf_counter()
        vals = (dist_.mean(acc) / acc_steps).tolist()
        row = {"kind": "train", "step": step, "epoch": round(step / steps_per_epoch, 4), **dict(zip(STATS, vals)),
               "seconds": round(elapsed + now - seg_start, 3),
               "img_per_s": round(acc_images * dist_.world_size / max(now - last_read, 1e-9), 1)}
        if not all(math.isfinite(v) for v in vals):
            raise TrainingDiverged(f"training diverged at step {step} (loss_d={vals[0]}, loss_g={vals[1]}); "
                                   f"the last good state (epoch {last_ckpt}) is kept in {out}")
        for key, on in (("loss_recon", m.d_recon), ("loss_lecam", t.lecam), ("loss_spectral", t.spectral),
                        ("loss_imle", t.imle), ("loss_faint", faint_w), ("loss_stray", stray_w),
                        ("loss_grain", t.grain), ("loss_silhouette", sil_w), ("loss_fragments", frag_w),
                        ("loss_flat", t.flat),
                        *((k, t.patch) for k in PATCH_STATS)):
            if not on:
                del row[key]
        if ada is not None:  # every rank sees the same averaged sign, so p stays identical across ranks
            row["ada_p"] = round(ada.update(vals[STATS.index("d_sign")], acc_images * dist_.world_size), 5)
        if log:
            log.write(row)
        acc.zero_()
        acc_steps, acc_images, last_read = 0, 0, now
        return row

    def checkpoint(done: int, name: str = "latest") -> None:
        nonlocal last_ckpt
        rngs = dist_.gather(noise.get_state())  # every rank's noise state, so each resumes its own
        if main:
            save_state(out / "checkpoints" / f"{name}.pt", {
                "G": G_raw.state_dict(), "D": D_raw.state_dict(), "opt_G": opt_G.state_dict(),
                "opt_D": opt_D.state_dict(), "noise_rng": rngs if dist_.enabled else rngs[0],
                **({"G_ema": ema.state_dict()} if ema is not None else {}),
                **({"ada_p": float(ada.p)} if ada is not None else {}),
                **({"lecam_ema": gan.lecam_ema.cpu()} if t.lecam else {}),
                **({"P": P_raw.state_dict(), "opt_P": opt_P.state_dict()} if P_raw is not None else {}),
                **({"imle_z": imle_z.cpu()} if imle_z is not None else {}),
                **({"image_classes": image_classes} if image_classes is not None else {}),
                **({"neighbors": neighbors} if neighbors is not None else {}),
                **({"balance": balance} if balance is not None else {}),
                **({"init": init_rec} if init_rec is not None else {}),
                "epoch": done, "step": step, "best_kid": best_kid,
                "elapsed": elapsed + time.perf_counter() - seg_start, "config": cfg.to_dict()})
            suffix = "" if name == "latest" else f"-{name}"
            export_generator(G_out, export_meta(cfg, data, done, step, image_classes, init_rec),
                              out / f"generator{suffix}.safetensors")
        if name == "latest":
            last_ckpt = done

    def sampler(done: int) -> EmojiGenerator:
        """Draws exactly as `generate` draws (one latent per seed, from an eval-mode copy of G_out)."""
        return EmojiGenerator(G_out, export_meta(cfg, data, done, step, image_classes, init_rec), device, channels_last=t.channels_last)

    def evaluate(done: int) -> bool:
        """Rank 0 evaluates; returns whether this is the best KID so far among evaluations that copy at most
        `train.best_max_copies` of their samples (a 'best' checkpoint is due)."""
        nonlocal best_kid
        fake = sampler(done).sample_tensor(seeds=list(range(t.eval_n)))
        row = {"kind": "eval", "step": step, "epoch": done, **evaluator(fake)}
        log.write(row)
        if better_checkpoint(row, best_kid, t.best_max_copies):
            best_kid = row["kid"]
            return True
        return False

    def sample_grid(done: int) -> None:
        ims = images.to_pil(sampler(done).sample_tensor(seeds=sample_seeds))  # conditional: label k % n_classes
        ims = images.for_display(ims)
        images.save_png(images.grid(ims, nrow=8), out / "samples" / f"epoch-{done:06d}.png")

    bar = tqdm(total=t.epochs, initial=epoch, unit="epoch", disable=not (progress and main), dynamic_ncols=True,
               desc=out.name)
    row: dict = {}
    G.train()
    D.train()
    if P is not None:
        P.train()
    try:
        for epoch in range(epoch, t.epochs):
            perm = _epoch_indices(n, t.seed, epoch, dist_, balance).to(device)
            if t.imle and (imle_z is None or epoch % t.imle_every == 0):
                from .imle import match_latents

                # its own noise, from (seed, epoch): the run's noise stream and a resume stay exact
                gen = torch.Generator(device=device).manual_seed(t.seed * 1_000_003 + epoch + 7)
                imle_z = match_latents(G_raw, real, m.z_dim, t.imle_pool, t.batch_size, gen,
                                       lambda: gan.autocast(device))
            for i in range(0, len(perm), t.batch_size):
                idx = perm[i:i + t.batch_size]
                b = len(idx)
                if neighbors_dev is not None:  # class idx, shown as one of its k nearest images (IC-GAN)
                    pick = torch.randint(0, neighbors_dev.shape[1], (b,), generator=noise, device=device)
                    x = real[neighbors_dev[idx, pick]]
                else:
                    x = real[idx]
                if step < t.warmup:  # linear warmup of every rate, from the run's own step (a resume stays exact)
                    for opt, lr in ((opt_G, t.lr_g), (opt_D, t.lr_d), (opt_P, t.lr_d)):
                        for group in opt.param_groups if opt is not None else ():
                            group["lr"] = lr * (step + 1) / t.warmup
                if t.mirror:  # each image or its mirror image, from the run's noise stream (a resume stays exact)
                    x = mirror_some(x, noise)
                z = torch.randn(b, m.z_dim, generator=noise, device=device)
                if conditional:  # fakes are drawn for the classes of uniformly random training images
                    if t.mode_seeking > 0 and b >= 2:  # MSGAN pairs: both halves share labels, only z differs
                        y = torch.randint(0, n, (b - b // 2,), generator=noise, device=device)
                        y_fake = torch.cat([y[:b // 2], y])
                    else:
                        y_fake = torch.randint(0, n, (b,), generator=noise, device=device)
                    acc += stepper.step(x, z, classes_of[idx], classes_of[y_fake])
                elif imle_z is not None:
                    acc += stepper.step(x, z, imle_z=imle_z[idx])
                else:
                    acc += stepper.step(x, z)
                if ema is not None:
                    ema.update_parameters(G_raw)
                step += 1
                acc_steps += 1
                acc_images += b
                if t.ddp_check:
                    dist_.assert_in_sync(G_raw, D_raw, *((P_raw,) if P_raw is not None else ()),
                                         tensors=(gan.lecam_ema,))
                if step % t.log_every == 0:
                    row = read_losses()
            if acc_steps:
                row = read_losses()
            done = epoch + 1
            if main and (done % t.sample_every == 0 or done == t.epochs or done == 1):
                sample_grid(done)
            if t.eval_every and (done % t.eval_every == 0 or done == t.epochs):
                is_best = evaluate(done) if main else False
                if dist_.gather(is_best)[0]:
                    checkpoint(done, "best")
            if done % t.checkpoint_every == 0 or done == t.epochs:
                checkpoint(done)
            bar.update(1)
            if row:
                bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}",
                                img_s=f"{row['img_per_s']:.0f}", **({"p": f"{row['ada_p']:.2f}"} if "ada_p" in row else {}))
    except KeyboardInterrupt:
        bar.close()
        if log:
            log.close()
        raise UserError(f"interrupted; resume from the last checkpoint (epoch {last_ckpt}) with: "
                        f"emojigan train --resume {out}") from None
    bar.close()
    if log:
        log.close()
    dist_.barrier()
    return out
