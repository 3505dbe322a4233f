"""Load an exported generator and draw emojis from it: `emojigan.load_generator(path).sample(n, seed=0)`;
and describe the shipped ones (`emojigan models`)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from torch.nn.utils.fusion import fuse_conv_bn_eval

from . import images, pretrained
from .devices import bf16_native, pick_device
from .errors import UserError
from .export import fingerprint, param_count, read_export, read_export_meta, resolve_export, split_members, training_of
from .image_stats import stray_fragments
from .latent import z_from_seeds
from .limits import MAX_REDRAW
from .text.encoder import check_prompts, load_text_encoder
from .models import ARCHS, generator_from_config, removed_options_in

def fold_batchnorm(G: torch.nn.Module) -> torch.nn.Module:
    """A copy of an eval-mode generator with each BatchNorm folded into the (transposed) convolution before
    it (torch.nn.utils.fusion): the same function, one memory pass fewer per layer."""
    G = copy.deepcopy(G).eval()
    for seq in [m for m in G.modules() if isinstance(m, torch.nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and isinstance(bn, torch.nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, torch.nn.ConvTranspose2d))
                seq[i + 1] = torch.nn.Identity()
    return G


MIN_PROMPT_MATCH = 0.45  # below this cosine to every training phrase a prompt is meaningless here: keyboard
# mashes, "lorem ipsum", "hello" score 0.35-0.40 against the smileys and animals; paraphrases 0.56-0.88
BF16_TOLERANCE = 2.0  # mean absolute difference from FP32, in 1/255 steps, that bf16 generation may have


class EmojiGenerator:
    """A trained generator in eval mode, with its config. Images depend only on their own seeds.

    Generation takes the fastest exact-enough path by itself: channels_last, and bf16 autocast where the
    device computes bf16 natively (CUDA, CPUs with AVX512-BF16/AMX) and the images of a probe batch match
    FP32 within BF16_TOLERANCE / 255 on average; `precision` = "fp32" or "bf16" forces one."""

    def __init__(self, G: torch.nn.Module | list[torch.nn.Module], meta: dict[str, Any], device: torch.device,
                 precision: str = "auto"):
        # inference copy: BatchNorm folded, channels_last (the training module itself is never touched).
        # A mixture (several unconditional generators of one architecture) draws seed k with member k mod M.
        self.members = [fold_batchnorm(g).to(memory_format=torch.channels_last)
                        for g in (G if isinstance(G, list) else [G])]
        self.G = self.members[0]
        self.meta, self.device = meta, device
        model, data = meta["model"], meta["data"]
        self.z_dim: int = model["z_dim"]
        self.size: int = data["size"]
        self.background: str = data["background"]
        self.channels: int = 4 if self.background == "transparent" else 3
        self.classes: list[dict] = meta.get("classes", [])
        self.conditional = bool(self.classes)
        self.precision = precision if precision != "auto" else self._choose_precision()
        self.path: Path | None = None  # the export file, when loaded from one (load_generator)
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """The hash of the export this generator was loaded from ("" for one built in memory): codes files name it."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.path) if self.path else ""
        return self._fingerprint

    def member_of(self, seeds: list[int]) -> list[int]:
        """The mixture member that draws each seed: k mod M (all 0 for a single generator)."""
        return [s % len(self.members) for s in seeds]

    def _forward(self, z: torch.Tensor, precision: str, labels: torch.Tensor | None = None,
                 embedding: torch.Tensor | None = None, member: int = 0) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            if not self.conditional:
                return self.members[member](z).float()
            if embedding is None and labels is None:
                labels = torch.arange(len(z), device=z.device) % len(self.classes)
            return self.G(z, labels, embedding).float()

    def default_labels(self, seeds: list[int]) -> list[int]:
        """A conditional model's label for seed k when none is asked for: k modulo the number of classes."""
        return [s % len(self.classes) for s in seeds]

    @torch.inference_mode()
    def _choose_precision(self) -> str:
        if not bf16_native(self.device):
            return "fp32"
        z = z_from_seeds(list(range(16)), self.z_dim).to(self.device)
        diff = max(float((self._forward(z, "fp32", member=m) - self._forward(z, "bf16", member=m)).abs().mean())
                   for m in range(len(self.members))) * 127.5
        return "bf16" if diff <= BF16_TOLERANCE else "fp32"

    @torch.inference_mode()
    def sample_tensor(self, n: int | None = None, seed: int = 0, seeds: list[int] | None = None,
                      labels: list[int] | None = None, embeddings: torch.Tensor | None = None,
                      z: torch.Tensor | None = None, truncation: float | None = None,
                      batch_size: int = 256, member: int = 0, redraw: int = 0,
                      draws: list[int] | None = None) -> torch.Tensor:
        """(N, C, H, W) images in [-1, 1] on the CPU, for `seeds` or for seeds seed..seed+n-1 (or explicit
        latents `z`, drawn by mixture `member`). Conditional models take one label per image (default:
        `default_labels`), or label `embeddings` directly (interpolation). `redraw` R > 0 replaces a sample
        that has stray fragments by its seed's next draw, up to R times (`sample_redrawn`); `draws` picks
        each seed's draw directly (`z_from_seeds`)."""
        if not 0 <= member < len(self.members):
            raise UserError(f"member {member}: this model is a mixture of {len(self.members)} generators")
        if z is None:
            if seeds is None:
                seeds = list(range(seed, seed + (n if n is not None else 1)))
            if redraw:
                return self.sample_redrawn(seeds, labels, truncation, redraw, batch_size)[0]
            z = z_from_seeds(seeds, self.z_dim, truncation, draws)
            if len(self.members) > 1:  # each member draws its own seeds, in the seeds' order
                which = torch.tensor(self.member_of(seeds))
                out = torch.empty(len(z), self.channels, self.size, self.size)
                for m in range(len(self.members)):
                    rows = (which == m).nonzero().flatten()
                    if len(rows):
                        out[rows] = self.sample_tensor(z=z[rows], batch_size=batch_size, member=m)
                return out
        y = None
        if self.conditional and embeddings is None:
            y = torch.tensor(labels if labels is not None else self.default_labels(seeds or list(range(len(z)))))
            if len(y) != len(z):
                raise ValueError("one label per sample")
        out = []
        for i in range(0, len(z), batch_size):
            zb = z[i:i + batch_size].to(self.device)
            yb = y[i:i + batch_size].to(self.device) if y is not None else None
            eb = embeddings[i:i + batch_size].to(self.device) if embeddings is not None else None
            out.append(self._forward(zb, self.precision, yb, eb, member).cpu())
        return torch.cat(out)

    @torch.inference_mode()
    def sample_redrawn(self, seeds: list[int], labels: list[int] | None = None, truncation: float | None = None,
                       redraw: int = 8, batch_size: int = 256) -> tuple[torch.Tensor, list[int]]:
        """Images for `seeds` where a sample with a stray fragment (a detached opaque speck of at most
        metrics.image_stats.STRAY_PIXELS at 64x64: a broken bit of outline; `stray_fragments`) is replaced
        by its seed's next draw, up to `redraw` times; where every draw has one, the draw with the fewest
        fragments stays (the earliest of those). A rejection step at sampling time, like truncation: the model
        itself is unchanged, and `evaluate --redraw R` measures what it costs in variety. Returns the images
        and each seed's draw index (the kept draw)."""
        if not 0 <= redraw <= MAX_REDRAW:
            raise UserError(f"--redraw {redraw} is out of range; it must be between 0 and {MAX_REDRAW}")
        if self.channels != 4:
            raise UserError(f"--redraw needs a model with an alpha channel (this one was trained on a "
                            f"{self.background} background): fragments are found in the alpha channel")
        if labels is not None and len(labels) != len(seeds):
            raise ValueError("one label per sample")
        draws = [0] * len(seeds)
        out = self.sample_tensor(seeds=seeds, labels=labels, truncation=truncation, batch_size=batch_size)
        counts = stray_fragments(out)  # each seed's kept draw's fragments
        bad = np.flatnonzero(counts)
        for d in range(1, redraw + 1):
            if not len(bad):
                break
            x = self.sample_tensor(seeds=[seeds[i] for i in bad], truncation=truncation, batch_size=batch_size,
                                   labels=[labels[i] for i in bad] if labels is not None else None,
                                   draws=[d] * len(bad))
            c = stray_fragments(x)
            better = c < counts[bad]
            for i in bad[better]:
                draws[i] = d
            out[torch.from_numpy(bad[better])] = x[torch.from_numpy(better)]
            counts[bad[better]] = c[better]
            bad = bad[counts[bad] > 0]
        return out, draws

    @property
    def text(self) -> bool:
        """A prompt-conditioned model (models/text.py): it takes prompts as well as labels."""
        return self.meta["model"].get("arch") == "text"

    @torch.inference_mode()
    def prompt_embedding(self, prompts: list[str], text_encoder: str | None = None, refuse_unmatched: bool = True
                         ) -> torch.Tensor:
        """Each prompt's point in the conditioning space (N, embed_dim): its sentence embedding (`prompt_text`)
        through G's conditioning augmentation (the mean)."""
        return self.text_condition(self.prompt_text(prompts, text_encoder, refuse_unmatched))

    @torch.inference_mode()
    def text_condition(self, text: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings (N, text_dim) from `prompt_text` -> their points in the conditioning space."""
        return self.G.condition(text.to(self.device)).float().cpu()

    @torch.inference_mode()
    def prompt_text(self, prompts: list[str], text_encoder: str | None = None, refuse_unmatched: bool = True
                    ) -> torch.Tensor:
        """Each prompt's sentence embedding (N, text_dim), checked. One clear line for a prompt that matches nothing
        the model learned (its sentence embedding's cosine to every training phrase below MIN_PROMPT_MATCH;
        evaluation measures them all, with `refuse_unmatched` off)."""
        if not self.text:
            raise UserError("--prompt needs a text model (e.g. --model text64); this one takes "
                            + ("labels" if self.conditional else "seeds"))
        prompts = check_prompts(prompts)
        enc = load_text_encoder(text_encoder or self.meta["model"].get("text_encoder") or None)
        t = enc(prompts)
        phrases = self.G.phrases.float().cpu()
        if t.shape[1] != phrases.shape[-1]:
            raise UserError(f"the text encoder {enc.path} gives {t.shape[1]}-d vectors; this model was trained on "
                            f"{phrases.shape[-1]}-d ones")
        best = (t @ phrases.flatten(0, 1).T).max(dim=1).values
        for p, b in zip(prompts, best.tolist()):
            if b < MIN_PROMPT_MATCH and refuse_unmatched:
                raise UserError(f"the prompt '{p}' matches nothing this model learned (best cosine {b:.2f} to its "
                                f"phrases); `emojigan labels` lists what it knows")
        return t

    @torch.inference_mode()
    def prompt_matches(self, text: torch.Tensor, k: int = 3) -> list[list[tuple[int, float]]]:
        """The k learned emojis that sentence embeddings from `prompt_text` give the most weight in a text model's
        phrase memory (models/text.py), with those weights: what each prompt's point is a blend of."""
        w = self.G.route(text.to(self.device, self.G.phrases.dtype)).float().cpu()
        top = w.topk(min(k, w.shape[1]), dim=1)
        return [list(zip(i.tolist(), v.tolist())) for i, v in zip(top.indices, top.values)]

    def label_embedding(self, labels: list[int]) -> torch.Tensor:
        return self.G.embed.weight[torch.tensor(labels, device=self.device)].detach().float().cpu()

    def sample(self, n: int = 1, seed: int = 0, seeds: list[int] | None = None, labels: list[int] | None = None,
               background: str | None = None, truncation: float | None = None, redraw: int = 0) -> list[Image.Image]:
        """PIL images; `background` composites an RGBA model over black/white (default: as trained)."""
        ims = images.to_pil(self.sample_tensor(n, seed, seeds, labels, truncation=truncation, redraw=redraw))
        return [self.composite(im, background) for im in ims]

    def composite(self, im: Image.Image, background: str | None) -> Image.Image:
        if background is None or background == self.background:
            return im
        if self.channels == 3:
            raise UserError(f"this model was trained on a {self.background} background and has no alpha "
                            f"channel; --background {background} needs a model trained on transparent data")
        return images.composite(im, background)


def load_generator(path: str | Path, device: str = "cpu", precision: str = "auto") -> EmojiGenerator:
    """Load a run folder's exported generator (or a .safetensors export) for sampling."""
    exp = resolve_export(path)
    tensors, meta = read_export(exp)
    model, data = meta.get("model", {}), meta.get("data", {})
    arch = model.get("arch")
    if arch not in ARCHS:
        raise UserError(f"{exp} uses architecture '{arch}', which this emojigan does not know")
    if removed_options_in(model):
        raise UserError(f"{exp} was trained with {', '.join(removed_options_in(model))}, which this emojigan no "
                        f"longer has (docs/RESULTS.md, the ablation table)")
    members = split_members(tensors, meta)
    if len(members) > 1 and meta.get("classes"):
        raise UserError(f"{exp} is a mixture of conditional generators; mixtures here are unconditional")
    channels = 4 if data.get("background") == "transparent" else 3
    dev = pick_device(device)
    Gs = []
    for sd in members:
        G = generator_from_config(model, data["size"], channels)
        try:
            G.load_state_dict({k: v.float() for k, v in sd.items()})
        except RuntimeError as e:
            raise UserError(f"{exp} does not match its own config ({str(e).splitlines()[0][:100]})") from None
        Gs.append(G.to(dev).eval())
    if precision not in ("auto", "fp32", "bf16"):
        raise UserError(f"precision '{precision}' is unknown; choose auto, fp32 or bf16")
    gen = EmojiGenerator(Gs if len(Gs) > 1 else Gs[0], meta, dev, precision)
    gen.path = exp
    return gen


def describe(name: str, path: Path) -> dict:
    """One row of `emojigan models`: what the model draws, at what size, and its card's headline metrics."""
    meta = read_export_meta(path)
    data = meta.get("data", {})
    classes = meta.get("classes", [])
    d = pretrained.discriminator_path(path)
    return {"name": name, "size": data.get("size"), "channels": data.get("channels"),
            "background": data.get("background"), "conditional": bool(classes), "labels": len(classes),
            "params": param_count(path), "mb": round((path.stat().st_size + (d.stat().st_size if d else 0)) / 2**20, 1),
            "discriminator": d is not None, "metrics": meta.get("metrics", {}),
            "members": int(meta.get("mixture", {}).get("members", 1)),
            "steps": training_of(meta, "total_step"), "card": str(pretrained.card_path(name)),
            "version": meta.get("version", "").removeprefix(f"{name} ") or "-"}
