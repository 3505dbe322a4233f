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
from tqdm import tqdm

from .. import images
from ..config import Config
from ..data.catalog import ATTRIBUTION
from ..data.dataset import ImageSet
from ..errors import UserError
from ..inference import EmojiGenerator, pick_device
from ..latent import z_from_seeds
from ..models import build
from . import run as runlib
from .checkpoint import export_generator, load_state, save_state
from .step import GANStep, make_optimizers


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last checkpoint is kept."""


def export_meta(cfg: Config, data: ImageSet, epoch: int, step: int) -> dict:
    d = cfg.data
    meta = {"model": dict(vars(cfg.model)),
            "data": {"size": d.size, "background": d.background, "channels": d.channels,
                     "subset": "" if d.path else d.subset, "source": data.source},
            "training": {"epoch": epoch, "step": step, "seed": cfg.train.seed}}
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
        from ..metrics.distribution import kid, precision_recall
        from ..metrics.memorization import COPY_SSIM, nearest_ssim

        fake_feat = self.space(fake)
        k, k_std = kid(self.real_feat, fake_feat, subsets=50)
        p, r = precision_recall(self.real_feat, fake_feat)
        s, _ = nearest_ssim(fake.to(self.device), self.real.to(self.device))
        return {"kid": k, "kid_std": k_std, "precision": p, "recall": r, "ssim_nearest": float(s.mean()),
                "copy_rate": float((s >= COPY_SSIM).double().mean())}


def train(cfg: Config, out: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True) -> Path:
    """Train `cfg` into the run folder `out` (or continue it with `resume`); returns the folder."""
    out = Path(out)
    cfg.validate()
    t, m = cfg.train, cfg.model
    runlib.check_run_dir(out, resume, overwrite)
    device = pick_device(t.device)
    state = load_state(out / runlib.STATE_NAME) if resume else None
    data = runlib.load_dataset(cfg, progress)
    evaluator = InTrainingEval(cfg, data.images, device) if t.eval_every else None
    if not resume:
        runlib.create_run_dir(out)

    torch.manual_seed(t.seed)
    G, D = build(m.arch, cfg.data.size, cfg.data.channels, m.z_dim, m.g_base, m.d_base, m.max_channels)
    G, D = G.to(device), D.to(device)
    opt_G, opt_D = make_optimizers(G, D, t.lr_g, t.lr_d, (t.beta1, t.beta2), device)
    gan = GANStep(G, D, opt_G, opt_D)
    noise = torch.Generator(device=device).manual_seed(t.seed + 1)
    epoch, step, elapsed, best_kid = 0, 0, 0.0, math.inf
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        noise.set_state(state["noise_rng"])
        epoch, step, elapsed = state["epoch"], state["step"], state["elapsed"]
        best_kid = state.get("best_kid", math.inf)
        old = runlib.read_run_config(out)
        resumes = old.get("resumes", []) + [{"epoch": epoch, "step": step, **runlib.provenance()}]
        runlib.write_config(out, cfg, {k: v for k, v in old.items() if k in ("provenance", "dataset")}
                            | {"resumes": resumes})
    else:
        runlib.write_config(out, cfg, {"provenance": runlib.provenance(),
                                       "dataset": {"source": data.source, "count": len(data),
                                                   "skipped": data.skipped}})
        preview = images.to_pil(data.images[:64])
        images.save_png(images.grid([images.composite(im, "white") if im.mode == "RGBA" else im
                                     for im in preview], nrow=8), out / "real.png")
    if epoch >= t.epochs:
        print(f"{out}: already trained for {epoch} epochs (train.epochs = {t.epochs}); nothing to do")
        return out

    real = data.images.to(device)
    n = len(real)
    steps_per_epoch = math.ceil(n / t.batch_size)
    log = runlib.MetricsLog(out / "metrics.jsonl", resume_step=step if state is not None else None)
    sample_seeds = list(range(t.sample_seeds))
    acc = torch.zeros(4, device=device)
    acc_steps, acc_images, last_read = 0, 0, time.perf_counter()
    seg_start = time.perf_counter()
    last_ckpt = epoch

    def read_losses() -> dict:
        """One host sync: average the accumulated losses, append a metrics row, check for divergence."""
        nonlocal acc_steps, acc_images, last_read
        now = time.perf_counter()
        vals = (acc / acc_steps).tolist()
        row = {"kind": "train", "step": step, "epoch": round(step / steps_per_epoch, 4), "loss_d": vals[0], "loss_g": vals[1],
               "d_real": vals[2], "d_fake": vals[3], "seconds": round(elapsed + now - seg_start, 3),
               "img_per_s": round(acc_images / max(now - last_read, 1e-9), 1)}
        if not all(math.isfinite(v) for v in vals):
            raise TrainingDiverged(f"training diverged at step {step} (loss_d={vals[0]}, loss_g={vals[1]}); "
                                   f"the last good state (epoch {last_ckpt}) is kept in {out}")
        log.write(row)
        acc.zero_()
        acc_steps, acc_images, last_read = 0, 0, now
        return row

    def checkpoint(done: int, name: str = "latest") -> None:
        nonlocal last_ckpt
        save_state(out / "checkpoints" / f"{name}.pt", {
            "G": G.state_dict(), "D": D.state_dict(), "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
            "noise_rng": noise.get_state(), "epoch": done, "step": step, "best_kid": best_kid,
            "elapsed": elapsed + time.perf_counter() - seg_start, "config": cfg.to_dict()})
        suffix = "" if name == "latest" else f"-{name}"
        export_generator(G, export_meta(cfg, data, done, step), out / f"generator{suffix}.safetensors")
        if name == "latest":
            last_ckpt = done

    def evaluate(done: int) -> None:
        nonlocal best_kid
        G.eval()
        sampler = EmojiGenerator(G, export_meta(cfg, data, done, step), device)
        fake = sampler.sample_tensor(seeds=list(range(t.eval_n)))
        G.train()
        row = {"kind": "eval", "step": step, "epoch": done, **evaluator(fake)}
        log.write(row)
        if row["kid"] < best_kid:
            best_kid = row["kid"]
            checkpoint(done, "best")

    def sample_grid(done: int) -> None:
        G.eval()  # drawn exactly as `generate` draws: eval mode, one latent per seed
        sampler = EmojiGenerator(G, export_meta(cfg, data, done, step), device)
        ims = images.to_pil(sampler.sample_tensor(seeds=sample_seeds))
        G.train()
        ims = [images.composite(im, "white") if im.mode == "RGBA" else im for im in ims]
        images.save_png(images.grid(ims, nrow=8), out / "samples" / f"epoch-{done:06d}.png")

    bar = tqdm(total=t.epochs, initial=epoch, unit="epoch", disable=not progress, dynamic_ncols=True,
               desc=out.name)
    row: dict = {}
    G.train()
    D.train()
    try:
        for epoch in range(epoch, t.epochs):
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(t.seed * 1_000_003 + epoch))
            perm = perm.to(device)
            for i in range(0, n, t.batch_size):
                x = real[perm[i:i + t.batch_size]]
                b = x.shape[0]
                z = torch.randn(b, m.z_dim, generator=noise, device=device)
                stats = gan.step(x, z)
                step += 1
                acc += stats
                acc_steps += 1
                acc_images += b
                if step % t.log_every == 0:
                    row = read_losses()
            if acc_steps:
                row = read_losses()
            done = epoch + 1
            if done % t.sample_every == 0 or done == t.epochs or done == 1:
                sample_grid(done)
            if evaluator and (done % t.eval_every == 0 or done == t.epochs):
                evaluate(done)
            if done % t.checkpoint_every == 0 or done == t.epochs:
                checkpoint(done)
            bar.update(1)
            if row:
                bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}",
                                img_s=f"{row['img_per_s']:.0f}")
    except KeyboardInterrupt:
        bar.close()
        log.close()
        raise UserError(f"interrupted; resume from the last checkpoint (epoch {last_ckpt}) with: "
                        f"emojigan train --resume {out}") from None
    bar.close()
    log.close()
    return out
