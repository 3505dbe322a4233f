"""A learned encoder: a small CNN that maps an image to a first guess of its code in milliseconds, so that
`encode`'s optimization starts near the answer.

It is trained on the generator's own samples and their augmentations (a shift of a few pixels, a little noise),
by regression of the code that drew them: for a mixture, one head per member (member m's head predicts z in m's
latent space); for a conditional model, one head predicting z and the label embedding (drawn from the label
table and from mixes of two labels, since the embedding space is continuous). It is saved beside the export as
`X.encoder.safetensors` (fp16, its metadata naming the export's fingerprint, so an encoder never guesses for
another model); the shipped models ship theirs."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from ..errors import UserError
from ..files import tmp_path, user_mode
from ..image_stats import pixel_l1

ENCODER_FORMAT = "emojigan-encoder"
MAX_TRAIN_STEPS = 100_000


class Encoder(nn.Module):
    """(N, C, S, S) in [-1, 1] -> (N, heads, out_dim): stride-2 3x3 convolutions down to 4x4, a 1x1 squeeze, and one
    linear head per mixture member."""

    def __init__(self, size: int, channels: int, out_dim: int, heads: int = 1, width: int = 32):
        super().__init__()
        layers, c_in, c, s = [], channels, width if size <= 64 else width // 2, size
        while s > 4:
            layers += [nn.Conv2d(c_in, c, 3, 2, 1), nn.GroupNorm(8, c), nn.LeakyReLU(0.2, inplace=True)]
            c_in, c, s = c, min(c * 2, 256), s // 2
        layers += [nn.Conv2d(c_in, 64, 1), nn.LeakyReLU(0.2, inplace=True), nn.Flatten()]
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.Linear(64 * 16, heads * out_dim)
        self.shape = (heads, out_dim)
        self.size, self.channels = size, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(self.trunk(x)).view(len(x), *self.shape)


def encoder_path(export: Path) -> Path:
    """`X.encoder.safetensors` beside the export `X.safetensors` (a run's generator.safetensors, a shipped model)."""
    return export.with_name(export.name[:-len(".safetensors")] + ".encoder.safetensors")


def _targets(gen, n: int, gen_rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training batch: images drawn by the generator, their codes (N, out_dim) and members (N,)."""
    code = torch.randn(n, gen.z_dim, generator=gen_rng)
    member = torch.zeros(n, dtype=torch.long)
    if gen.conditional:  # the label table and mixes of two labels: the embedding space is continuous
        table = gen.G.embed.weight.detach().float()
        i, j = torch.randint(len(table), (2, n), generator=gen_rng)
        mix = torch.rand(n, 1, generator=gen_rng) * (torch.rand(n, 1, generator=gen_rng) < 0.5)
        code = torch.cat([code, (1 - mix) * table[i] + mix * table[j]], 1)
    else:
        member = torch.randint(len(gen.members), (n,), generator=gen_rng)
    with torch.no_grad():
        return draw(gen, code, member), code, member


def augment(x: torch.Tensor, gen_rng: torch.Generator, shift: int = 2, noise: float = 0.03) -> torch.Tensor:
    """A shift of up to `shift` pixels (edges repeated) and a little Gaussian noise: real emojis are never exactly a
    generator's samples."""
    dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=gen_rng))
    x = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    s = x.shape[-1] - 2 * shift
    x = x[..., shift + dy:shift + dy + s, shift + dx:shift + dx + s]
    return (x + noise * torch.randn(x.shape, generator=gen_rng)).clamp(-1, 1)


def train_encoder(gen, steps: int = 2000, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
                  image_weight: float = 10.0, progress: bool = True) -> tuple[Encoder, dict]:
    """An encoder for `gen` (inference.EmojiGenerator) and its record (steps, final loss, seconds). The loss is the
    code's squared error plus `image_weight` times the pixel loss of what the guessed code draws against the
    (unaugmented) sample: a generator draws nearly the same image from many codes, and the image loss lets the
    encoder pick any of them."""
    if not 1 <= steps <= MAX_TRAIN_STEPS:
        raise UserError(f"--steps {steps} is out of range; it must be between 1 and {MAX_TRAIN_STEPS}")
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    out_dim = gen.z_dim + (gen.G.embed.weight.shape[1] if gen.conditional else 0)
    enc = Encoder(gen.size, gen.channels, out_dim, heads=1 if gen.conditional else len(gen.members))
    for m in gen.members:
        m.requires_grad_(False)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    t0, losses = time.perf_counter(), []
    bar = tqdm(range(steps), disable=not progress, unit="step", desc="encoder", dynamic_ncols=True)
    for _ in bar:
        x, code, member = _targets(gen, batch_size, rng)
        pred = enc(augment(x, rng))[torch.arange(len(x)), member]
        loss = F.mse_loss(pred, code)
        if image_weight:
            loss = loss + image_weight * pixel_l1(draw(gen, pred, member), x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
    record = {"steps": steps, "batch_size": batch_size, "image_weight": image_weight,
              "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4),
              "seconds": round(time.perf_counter() - t0, 1)}
    return enc.eval(), record


def draw(gen, code: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """Differentiable: each row's code drawn by its member (conditional: z and embedding split)."""
    if gen.conditional:
        return gen.G(code[:, :gen.z_dim], None, code[:, gen.z_dim:]).float()
    out = torch.empty(len(code), gen.channels, gen.size, gen.size)
    parts = [(rows, gen.members[m](code[rows]).float()) for m in range(len(gen.members))
             if len(rows := (member == m).nonzero().flatten())]
    return out.index_put((torch.cat([r for r, _ in parts]),), torch.cat([x for _, x in parts]))


def save_encoder(enc: Encoder, gen, record: dict, path: str | Path) -> Path:
    path = Path(path)
    meta = {"format": ENCODER_FORMAT, "generator": gen.fingerprint, "size": enc.size, "channels": enc.channels,
            "heads": enc.shape[0], "out_dim": enc.shape[1], "z_dim": gen.z_dim, "training": record}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    save_file({k: v.half().contiguous() for k, v in enc.state_dict().items()}, str(tmp),
              metadata={"emojigan": json.dumps(meta)})
    os.chmod(tmp, user_mode())
    os.replace(tmp, path)
    return path


def load_encoder(gen, path: str | Path | None = None) -> Encoder | None:
    """The encoder at `path` (default: beside `gen`'s export) when it exists; None where there is none. One clear
    line when it belongs to another model or is not an encoder; the one beside the export, when it is stale (the
    export was replaced since), is skipped with a note."""
    beside = path is None
    if beside:
        if gen.path is None:
            return None
        path = encoder_path(gen.path)
        if not path.is_file():
            return None
    path = Path(path)
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("emojigan", "{}"))
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}
    except (SafetensorError, OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path} is not an encoder of `emojigan encoder train` ({type(e).__name__})") from None
    if meta.get("format") != ENCODER_FORMAT:
        raise UserError(f"{path} is not an encoder of `emojigan encoder train`")
    if meta["generator"] != gen.fingerprint:
        if beside:
            print(f"note: {path} was trained for an earlier version of this model; seeded first guesses only "
                  f"(`emojigan encoder train` makes a new one)", file=sys.stderr)
            return None
        raise UserError(f"{path} was trained for another model (fingerprint {meta['generator']}, this model "
                        f"{gen.fingerprint}); train one with `emojigan encoder train`")
    enc = Encoder(meta["size"], meta["channels"], meta["out_dim"], meta["heads"])
    enc.load_state_dict(tensors)
    return enc.eval()


def guess(enc: Encoder, gen, targets: torch.Tensor, member: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The encoder's first guess for each target in member `member`: z (N, z_dim) and, conditional, the label
    embedding (N, embed_dim)."""
    with torch.inference_mode():
        out = torch.cat([enc(targets[i:i + 256]) for i in range(0, len(targets), 256)])[:, min(member, enc.shape[0] - 1)]
    out = out.clone()
    return (out[:, :gen.z_dim], out[:, gen.z_dim:]) if gen.conditional else (out, None)
