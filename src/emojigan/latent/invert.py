"""Encoding real emojis into a generator's latent space (GAN inversion): for each target image, the code whose
generation best matches it.

A code is (member, z) for an unconditional model (a mixture's members have latent spaces of their own) and
(z, label embedding) for a conditional one; its 50-dimensional embedding is continuous, so an emoji the model never
saw can land between labels. The search:

1. first guesses: the best of `candidates` seeded latents per member (unconditional), or the nearest labels'
   embeddings with a few seeded latents (conditional), by the pixel loss;
2. a short optimization (Adam) of z (and the embedding) from each member's best guess: pixel L1 and 1 - SSIM on
   the image as it looks (RGBA over black) and on the alpha channel, the distance in the OpenMoji feature space, and
   a prior that keeps z near its Gaussian shell (|z|^2 = z_dim);
3. per image, the member whose optimized code reconstructs it best.

`Codes` holds the result with per-image SSIM and PSNR, and saves to / loads from an .npz file that names the model
it belongs to (a fingerprint of its export), so a codes file is never decoded by another model."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import UserError
from ..features import load_feature_space
from ..image_stats import pixel_l1, rgb01
from .encoder import guess
from .sampling import z_from_seeds

MAX_STEPS = 5000


@dataclass
class Codes:
    """Latent codes of N images: z (N, z_dim), the mixture member of each (N,), the label embedding (N, embed_dim)
    of a conditional model, the images' names, and how well each reconstructs its image (SSIM, PSNR in dB)."""
    z: torch.Tensor
    member: torch.Tensor
    embedding: torch.Tensor | None
    names: list[str]
    model: str                                   # the fingerprint of the export the codes belong to
    ssim: np.ndarray = field(default_factory=lambda: np.zeros(0))
    psnr: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.z)

    def save(self, path: str | Path) -> None:
        arrays = {"z": self.z.numpy(), "member": self.member.numpy(), "names": np.array(self.names, dtype=str),
                  "model": np.array(self.model), "ssim": self.ssim, "psnr": self.psnr}
        if self.embedding is not None:
            arrays["embedding"] = self.embedding.numpy()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "Codes":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                d = {k: f[k] for k in f.files}
        except (OSError, ValueError) as e:
            raise UserError(f"{path} is not a codes file of `emojigan encode` ({type(e).__name__})") from None
        if not {"z", "member", "names", "model"} <= set(d):
            raise UserError(f"{path} is not a codes file of `emojigan encode` (it lacks z, member, names, model)")
        return cls(torch.from_numpy(d["z"]).float(), torch.from_numpy(d["member"]).long(),
                   torch.from_numpy(d["embedding"]).float() if "embedding" in d else None,
                   [str(n) for n in d["names"]], str(d["model"]), d.get("ssim", np.zeros(0)),
                   d.get("psnr", np.zeros(0)))

    def check_model(self, gen, source: str) -> None:
        """One clear line when these codes belong to another model than `gen` (its export's fingerprint)."""
        if self.model != getattr(gen, "fingerprint", self.model):
            raise UserError(f"{source} holds codes of another model (fingerprint {self.model}, this model "
                            f"{gen.fingerprint}); encode the images with this model")

    def entry(self, i: int, source: str) -> "Codes":
        if not 0 <= i < len(self):
            raise UserError(f"{source}: entry {i} does not exist; it holds entries 0-{len(self) - 1}")
        return Codes(self.z[i:i + 1], self.member[i:i + 1],
                     self.embedding[i:i + 1] if self.embedding is not None else None, [self.names[i]], self.model,
                     self.ssim[i:i + 1] if len(self.ssim) else self.ssim,
                     self.psnr[i:i + 1] if len(self.psnr) else self.psnr)


def decode(gen, codes: Codes, batch_size: int = 64) -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1] on the CPU: each code drawn by its member (or with its label embedding)."""
    out = torch.empty(len(codes), gen.channels, gen.size, gen.size)
    with torch.inference_mode():
        for m in range(len(gen.members)):
            rows = (codes.member == m).nonzero().flatten()
            for i in range(0, len(rows), batch_size):
                r = rows[i:i + batch_size]
                emb = codes.embedding[r] if codes.embedding is not None else None
                out[r] = gen.sample_tensor(z=codes.z[r], embeddings=emb, member=m).float()
    return out


def ssim_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) SSIM of two batches in [-1, 1], each as it looks (RGBA over black), differentiable."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim  # slow to import

    return ssim(rgb01(x), rgb01(y), data_range=1.0, reduction="none")


def psnr_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    mse = (rgb01(x) - rgb01(y)).square().mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return 10 * torch.log10(1 / mse)


class Objective:
    """The per-image loss of a reconstruction against its target (both (N, C, H, W) in [-1, 1])."""

    def __init__(self, targets: torch.Tensor, space=None, feature_weight: float = 0.5, prior_weight: float = 0.05):
        self.targets = targets
        self.space = space
        self.feature_weight, self.prior_weight = feature_weight, prior_weight
        self.target_feat = space.fn(targets).detach() if space is not None else None

    def pixels(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return pixel_l1(x, targets)

    def __call__(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        loss = self.pixels(x, self.targets) + (1 - ssim_per_image(x, self.targets))
        if self.space is not None:
            f = self.space.fn(x)
            loss = loss + self.feature_weight * (f - self.target_feat).square().mean(dim=1) / \
                self.target_feat.square().mean(dim=1).clamp_min(1e-6)
        shell = z.square().mean(dim=1) - 1  # 0 on the shell |z|^2 = z_dim, where N(0, I) samples lie
        return loss + self.prior_weight * shell.square()


def _draw(gen, z: torch.Tensor, member: int, embedding: torch.Tensor | None) -> torch.Tensor:
    """Differentiable generation (no inference mode), fp32."""
    if gen.conditional:
        return gen.G(z, None, embedding).float()
    return gen.members[member](z).float()


def first_guesses(gen, targets: torch.Tensor, member: int, candidates: int, objective: Objective,
                  encoder=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each target's best start, by the pixel loss: of `candidates` seeded latents, drawn once for all targets
    (unconditional); or, conditional, the nearest label's embedding (each label drawn with the first latent), then
    the best of the latents for it. A learned encoder's guess (latent/encoder.py) replaces it where it is better."""
    n = len(targets)
    z = z_from_seeds(list(range(candidates)), gen.z_dim)
    with torch.no_grad():
        if not gen.conditional:
            imgs = torch.cat([_draw(gen, z[i:i + 64], member, None) for i in range(0, candidates, 64)])
            d = torch.stack([objective.pixels(imgs, t.expand_as(imgs)) for t in targets])   # (N, candidates)
            best, pick = d.min(1)
            best_z, emb = z[pick], None
        else:
            labels = gen.G.embed.weight.detach().float()
            z0 = z[:1].expand(len(labels), -1)
            imgs = torch.cat([_draw(gen, z0[i:i + 32], 0, labels[i:i + 32]) for i in range(0, len(labels), 32)])
            d = torch.stack([objective.pixels(imgs, t.expand_as(imgs)) for t in targets])       # (N, labels)
            emb = labels[d.argmin(1)]
            best, best_z = torch.full((n,), float("inf")), z[:1].repeat(n, 1)
            for k in range(min(candidates, 8)):  # each latent drawn with every target's label
                zk = z[k:k + 1].expand(n, -1)
                loss = objective.pixels(_draw(gen, zk, 0, emb), targets)
                better = loss < best
                best, best_z[better] = torch.where(better, loss, best), zk[better]
        if encoder is not None:
            ez, ee = guess(encoder, gen, targets, member)
            loss = objective.pixels(_draw(gen, ez, member, ee), targets)
            better = loss < best
            best_z[better] = ez[better]
            if emb is not None:
                emb[better] = ee[better]
    return best_z, emb


def encode(gen, targets: torch.Tensor, names: list[str], steps: int = 30, candidates: int = 128,
           lr: float = 0.08, features: bool = True, every_member: bool = False, members: list[int] | None = None,
           progress: bool = True, encoder=None) -> Codes:
    """Codes of `targets` ((N, C, H, W) in [-1, 1], the model's size and channels) for the generator `gen`
    (inference.EmojiGenerator). Every mixture member gives first guesses; the optimization refines each image's
    code in the member whose guess was best (in every member with `every_member`, keeping the best result);
    `members` limits the search to some members of a mixture.
    `steps` trades time for fidelity; 0 keeps the first guesses. `encoder` (latent/encoder.py) adds its guesses."""
    if not 0 <= steps <= MAX_STEPS:
        raise UserError(f"--steps {steps} is out of range; it must be between 0 and {MAX_STEPS}")
    if targets.shape[1:] != (gen.channels, gen.size, gen.size):
        raise ValueError(f"targets of shape {tuple(targets.shape[1:])} for a {gen.channels}x{gen.size}x{gen.size} model")
    for m in gen.members:
        m.requires_grad_(False)
    space = load_feature_space("openmoji") if features else None
    if space is not None:
        space.fn.__self__.requires_grad_(False)
    n = len(targets)
    members = list(range(len(gen.members))) if members is None else members
    guesses = {m: first_guesses(gen, targets, m, candidates, Objective(targets), encoder) for m in members}
    with torch.no_grad():  # each image's member: the best first guess
        start = torch.stack([Objective(targets, space)(_draw(gen, z, m, e), z) for m, (z, e) in guesses.items()])
    best, pick = start.min(dim=0)
    best_m = torch.tensor(members)[pick]
    best_z = torch.stack([guesses[int(m)][0][i] for i, m in enumerate(best_m)])
    best_e = torch.stack([guesses[int(m)][1][i] for i, m in enumerate(best_m)]) if gen.conditional else None
    work = [(m, torch.arange(n) if every_member else (best_m == m).nonzero().flatten()) for m in members]
    work = [(m, rows) for m, rows in work if len(rows)]
    bar = tqdm(total=steps * len(work), disable=not progress or not steps, unit="step", desc="encode",
               dynamic_ncols=True)
    for m, rows in work:
        objective = Objective(targets[rows], space)
        z = guesses[m][0][rows].clone().requires_grad_(True)
        emb = guesses[m][1][rows].clone().requires_grad_(True) if gen.conditional else None
        opt = torch.optim.Adam([z] + ([emb] if emb is not None else []), lr=lr)
        for _ in range(steps):
            loss = objective(_draw(gen, z, m, emb), z)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            bar.update(1)
            bar.set_postfix(member=m, loss=f"{float(loss.detach().mean()):.3f}")
        with torch.no_grad():
            final = objective(_draw(gen, z, m, emb), z)
            better = final < best[rows]
            idx = rows[better]
            best[idx], best_z[idx], best_m[idx] = final[better], z.detach()[better], m
            if emb is not None:
                best_e[idx] = emb.detach()[better]
    bar.close()
    codes = Codes(best_z, best_m, best_e, list(names), getattr(gen, "fingerprint", ""))
    x = decode(gen, codes)
    with torch.no_grad():
        codes.ssim = ssim_per_image(x, targets).numpy()
        codes.psnr = psnr_per_image(x, targets).numpy()
    return codes


def encode_every_member(gen, targets: torch.Tensor, names: list[str], steps: int = 30, encoder=None,
                        progress: bool = True) -> Codes:
    """`targets` encoded into each member of a mixture in turn (each member's latent space is its own), all in one
    Codes: member 0's codes of every image, then member 1's, ... (what word directions are computed from)."""
    parts = [encode(gen, targets, names, steps=steps, members=[m], progress=progress, encoder=encoder)
             for m in range(len(gen.members))]
    return Codes(torch.cat([c.z for c in parts]), torch.cat([c.member for c in parts]),
                 torch.cat([c.embedding for c in parts]) if parts[0].embedding is not None else None,
                 [n for c in parts for n in c.names], parts[0].model,
                 np.concatenate([c.ssim for c in parts]), np.concatenate([c.psnr for c in parts]))
