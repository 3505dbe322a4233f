"""The trainer: steps a prepared `Run` (setup.py) through its epochs. One epoch is a shuffled pass over the
dataset with the last partial batch kept (111 images at batch 16 = 7 steps). Shuffles derive from (seed, epoch)
and every random draw comes from the run's saved noise generator, so `--resume` continues exactly where an
uninterrupted run would be. Rank 0 writes the losses (metrics.jsonl), sample grids, evaluations and checkpoints."""
from __future__ import annotations

import math
import os
import time

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

from .. import images
from ..errors import UserError
from ..export import export_generator
from ..files import MetricsLog
from ..inference import EmojiGenerator
from ..losses import TrainingImages
from .augment import diff_augment, mirror_some
from .checkpoint import save_state
from .distributed import Dist
from .evaluation import better_checkpoint
from .setup import Run
from .step import BASE_STATS, PATCH_STATS, STATS, GANStep, GraphedStep, active_regularizers


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last checkpoint is kept."""


def epoch_indices(n: int, seed: int, epoch: int, dist: Dist, weights: torch.Tensor | None = None) -> torch.Tensor:
    """This rank's indices for an epoch: a plain permutation on one process, a DistributedSampler shard (padded
    to equal length) under DDP. With `weights`, n draws with replacement by those probabilities (every rank draws
    the same list from (seed, epoch) and takes its own stride of it, padded to equal length)."""
    if weights is not None:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        per_rank = -(-n // dist.world_size)
        idx = torch.multinomial(weights, per_rank * dist.world_size, replacement=True, generator=gen)
        return idx[dist.rank::dist.world_size] if dist.enabled else idx
    if not dist.enabled:
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    sampler = DistributedSampler(range(n), num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler))


class Trainer:
    """Wraps the run's networks for DDP and torch.compile, builds its `GANStep`, and runs the epochs."""

    def __init__(self, run: Run):
        self.run, self.cfg, self.dist = run, run.cfg, run.dist
        t, nets, device = run.cfg.train, run.nets, run.dist.device
        self.G_raw, self.D_raw, self.P_raw = nets.G, nets.D, nets.P  # what checkpoints, sampling and the G step use
        if self.dist.enabled:
            if t.sync_bn and device.type == "cuda":
                nets.G, nets.D = nn.SyncBatchNorm.convert_sync_batchnorm(nets.G), nn.SyncBatchNorm.convert_sync_batchnorm(nets.D)
                self.G_raw, self.D_raw = nets.G, nets.D
            ids = [device.index] if device.type == "cuda" else None
            nets.G, nets.D = DDP(nets.G, device_ids=ids), DDP(nets.D, device_ids=ids)
            nets.D_for_G = self.D_raw
            if nets.P is not None:
                nets.P, nets.P_for_G = DDP(nets.P, device_ids=ids), self.P_raw
        if t.compile:
            nets.G, nets.D = torch.compile(nets.G), torch.compile(nets.D)
            if nets.P is not None:
                nets.P = torch.compile(nets.P)
        data = run.data
        self.real = data.images.to(device).contiguous(memory_format=torch.channels_last)
        self.classes = torch.arange(len(data), device=device)  # conditional: one class per training image
        channels = self.real.shape[1]
        active = active_regularizers(t, channels)
        images_for_losses = TrainingImages(self.real, self.classes, len(data), run.conditional, t) if active else None
        augment = (lambda x: diff_augment(x, t.diffaugment, run.noise, run.ada.p if run.ada is not None else None)) \
            if t.diffaugment else None
        self.gan = GANStep(nets, t, run.precision, augment, images_for_losses, channels)
        self.logged = set(BASE_STATS) | {f"loss_{name}" for name in active} | (set(PATCH_STATS) if t.patch else set())
        self.stepper = GraphedStep(self.gan) if run.graphs else self.gan
        self.G_out = run.ema.module if run.ema is not None else self.G_raw  # what samples, evaluation and exports use
        self.steps_per_epoch = math.ceil(len(epoch_indices(len(data), t.seed, 0, self.dist)) / t.batch_size)
        self.log = MetricsLog(run.out / "metrics.jsonl", resume_step=run.step if run.resumed else None) \
            if self.dist.is_main else None
        self.acc = torch.zeros(len(STATS), device=device)
        self.acc_steps = self.acc_images = 0
        self.last_read = self.seg_start = time.perf_counter()
        self.last_ckpt = run.epoch
        self.ddp_check = os.environ.get("EMOJIGAN_DDP_CHECK") == "1"  # debug: ranks hold identical weights

    # ------------------------------------------------------------------------------------------- steps
    def train_epoch(self, epoch: int) -> dict:
        """One pass over the data; returns the last losses row read."""
        run, t, device = self.run, self.cfg.train, self.dist.device
        perm = epoch_indices(len(self.real), t.seed, epoch, self.dist, run.focus).to(device)
        row: dict = {}
        for i in range(0, len(perm), t.batch_size):
            idx = perm[i:i + t.batch_size]
            b = len(idx)
            x = self.real[idx]
            if t.mirror:  # each image or its mirror image, from the run's noise stream (a resume stays exact)
                x = mirror_some(x, run.noise)
            z = torch.randn(b, self.cfg.model.z_dim, generator=run.noise, device=device)
            if run.conditional:  # fakes are drawn for the classes of uniformly random training images
                y_fake = torch.randint(0, len(self.real), (b,), generator=run.noise, device=device)
                self.acc += self.stepper.step(x, z, self.classes[idx], self.classes[y_fake])
            else:
                self.acc += self.stepper.step(x, z)
            if run.ema is not None:
                run.ema.update_parameters(self.G_raw)
            run.step += 1
            self.acc_steps += 1
            self.acc_images += b
            if self.ddp_check:
                self.dist.assert_in_sync(self.G_raw, self.D_raw, *((self.P_raw,) if self.P_raw is not None else ()))
            if run.step % t.log_every == 0:
                row = self.read_losses()
        if self.acc_steps:
            row = self.read_losses()
        return row

    def read_losses(self) -> dict:
        """One host sync: average the accumulated losses (over ranks too), log them, check for divergence."""
        run, now = self.run, time.perf_counter()
        vals = (self.dist.mean(self.acc) / self.acc_steps).tolist()
        row = {"kind": "train", "step": run.step, "epoch": round(run.step / self.steps_per_epoch, 4),
               **{k: v for k, v in zip(STATS, vals) if k in self.logged},
               "seconds": round(run.elapsed + now - self.seg_start, 3),
               "img_per_s": round(self.acc_images * self.dist.world_size / max(now - self.last_read, 1e-9), 1)}
        if not all(math.isfinite(v) for v in vals):
            raise TrainingDiverged(f"training diverged at step {run.step} (loss_d={vals[0]}, loss_g={vals[1]}); "
                                   f"the last good state (epoch {self.last_ckpt}) is kept in {run.out}")
        if run.ada is not None:  # every rank sees the same averaged sign, so p stays identical across ranks
            row["ada_p"] = round(run.ada.update(vals[STATS.index("d_sign")], self.acc_images * self.dist.world_size), 5)
        if self.log:
            self.log.write(row)
        self.acc.zero_()
        self.acc_steps, self.acc_images, self.last_read = 0, 0, now
        return row

    # ---------------------------------------------------------------------------------- files per epoch
    def checkpoint(self, done: int, name: str = "latest") -> None:
        run, nets = self.run, self.run.nets
        rngs = self.dist.gather(run.noise.get_state())  # every rank's noise state, so each resumes its own
        if self.dist.is_main:
            save_state(run.out / "checkpoints" / f"{name}.pt", {
                "G": self.G_raw.state_dict(), "D": self.D_raw.state_dict(), "opt_G": nets.opt_G.state_dict(),
                "opt_D": nets.opt_D.state_dict(), "noise_rng": rngs if self.dist.enabled else rngs[0],
                **({"G_ema": run.ema.state_dict()} if run.ema is not None else {}),
                **({"ada_p": float(run.ada.p)} if run.ada is not None else {}),
                **({"P": self.P_raw.state_dict(), "opt_P": nets.opt_P.state_dict()} if self.P_raw is not None else {}),
                **({"balance": run.focus} if run.focus is not None else {}),
                **({"init": run.init} if run.init is not None else {}),
                "epoch": done, "step": run.step, "best_kid": run.best_kid,
                "elapsed": run.elapsed + time.perf_counter() - self.seg_start, "config": self.cfg.to_dict()})
            suffix = "" if name == "latest" else f"-{name}"
            export_generator(self.G_out, run.meta(done), run.out / f"generator{suffix}.safetensors")
        if name == "latest":
            self.last_ckpt = done

    def sampler(self, done: int) -> EmojiGenerator:
        """Draws exactly as `generate` draws (one latent per seed, from an eval-mode copy of G_out)."""
        return EmojiGenerator(self.G_out, self.run.meta(done), self.dist.device)

    def evaluate(self, done: int) -> bool:
        """Rank 0 evaluates; returns whether this is the best KID so far among evaluations that copy at most
        `train.best_max_copies` of their samples (a 'best' checkpoint is due)."""
        run, t = self.run, self.cfg.train
        fake = self.sampler(done).sample_tensor(seeds=list(range(t.eval_n)))
        row = {"kind": "eval", "step": run.step, "epoch": done, **run.evaluator(fake)}
        self.log.write(row)
        if better_checkpoint(row, run.best_kid, t.best_max_copies):
            run.best_kid = row["kid"]
            return True
        return False

    def sample_grid(self, done: int) -> None:
        seeds = list(range(self.cfg.train.sample_seeds))  # conditional: label k % n_classes
        ims = images.for_display(images.to_pil(self.sampler(done).sample_tensor(seeds=seeds)))
        images.save_png(images.grid(ims, nrow=8), self.run.out / "samples" / f"epoch-{done:06d}.png")

    def end_of_epoch(self, done: int) -> None:
        t, main = self.cfg.train, self.dist.is_main
        if main and (done % t.sample_every == 0 or done == t.epochs or done == 1):
            self.sample_grid(done)
        if t.eval_every and (done % t.eval_every == 0 or done == t.epochs):
            is_best = self.evaluate(done) if main else False
            if self.dist.gather(is_best)[0]:
                self.checkpoint(done, "best")
        if done % t.checkpoint_every == 0 or done == t.epochs:
            self.checkpoint(done)

    def train_mode(self) -> None:
        for net in (self.run.nets.G, self.run.nets.D, self.run.nets.P):
            if net is not None:
                net.train()

    def close(self) -> None:
        if self.log:
            self.log.close()
