"""What the studio does, without the web: the models loaded once and shared, and each request's work (a grid, one
emoji, an interpolation, an encoding with its nearest training emoji and attribute edits) as calls to the same API
the CLI uses. Every check of a request's values lives here and ends in one `UserError` line, so the HTTP layer
(app.py) only maps it to a 4xx."""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from .. import config, images
from ..data.dataset import load_dataset, load_images
from ..data.names import LabelIndex
from ..errors import UserError
from ..inference import EmojiGenerator, load_generator
from ..latent.directions import MIN_EXAMPLES, Direction, direction, edit, label_direction, label_names, vocabulary
from ..latent.encoder import Encoder, load_encoder
from ..latent.inputs import prepare
from ..latent.interpolate import ENCODE_STEPS, interpolate
from ..latent.invert import Codes, decode, encode, encode_every_member
from ..latent.sampling import z_from_seeds
from ..metrics.memorization import nearest_ssim
from ..pretrained import resolve_model, shipped_models

MAX_GRID = 64            # emojis in one grid
MAX_STEPS = 32           # frames of one interpolation
MAX_SEED = 2**31 - 1
SIZES = (64, 128, 256)   # the sides a single emoji is downloaded at
MAX_UPLOAD = 4 * 2**20   # bytes of an uploaded image
MAX_UPLOAD_SIDE = 4096   # pixels
GRID_COLUMNS = 8         # a grid is min(n, 8) emojis wide, no padding, so the page can tell which one was clicked
EDIT_STRENGTHS = (-1.5, -0.75, 0.0, 0.75, 1.5)
EDIT_WORDS = 4           # attribute edits shown for an upload: the words that tag the most training emojis
STOP_WORDS = {"with", "and", "the", "of", "for", "on", "in", "out", "a", "an"}


class RequestError(UserError):
    """A bad request value with the HTTP status that says what kind (400 unless named)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Model:
    name: str
    gen: EmojiGenerator
    kind: str                       # unconditional | conditional | text
    labels: list[str]
    encoder: Encoder | None         # the learned encoder beside the export (first guesses of an upload's code)


def model_kind(gen: EmojiGenerator) -> str:
    return "text" if gen.text else "conditional" if gen.conditional else "unconditional"


class Studio:
    """The models a server answers for, loaded once; `workers` calls into torch at a time (more would only share
    the same cores), the rest wait their turn in the server's thread pool."""

    def __init__(self, specs: list[str] | None = None, device: str = "cpu", workers: int = 2):
        specs = specs or list(shipped_models())
        if not specs:
            raise UserError("no model to serve: give RUN or --model NAME (none is shipped in this installation)")
        self.models: dict[str, Model] = {}
        for spec in specs:
            path = spec if Path(spec).exists() else str(resolve_model(spec))
            name = spec if not Path(spec).exists() else Path(spec).name.removesuffix(".safetensors")
            if name in self.models:
                raise UserError(f"two models are named '{name}'; serve each once")
            gen = load_generator(path, device=device)
            labels = [c.get("annotation") or c.get("hexcode", f"class{i}") for i, c in enumerate(gen.classes)]
            self.models[name] = Model(name, gen, model_kind(gen), labels, load_encoder(gen))
        self.turn = threading.BoundedSemaphore(max(1, workers))
        self._lock = threading.Lock()
        self._training: dict[str, tuple[list[str], torch.Tensor]] = {}
        self._codes: dict[str, Codes] = {}
        self._directions: dict[tuple[str, str], Direction] = {}

    # ---- values a request gives ----

    def model(self, name: str | None) -> Model:
        if not name:
            return next(iter(self.models.values()))
        if name not in self.models:
            raise RequestError(f"unknown model '{name[:40]}'; this studio serves {', '.join(self.models)}", 404)
        return self.models[name]

    @staticmethod
    def integer(value: str | int | None, what: str, lo: int, hi: int, default: int) -> int:
        if value is None or value == "":
            return default
        try:
            v = int(value)
        except (TypeError, ValueError):
            raise UserError(f"{what} '{str(value)[:40]}' is not a whole number") from None
        if not lo <= v <= hi:
            raise UserError(f"{what} {v} is out of range; it must be between {lo} and {hi}")
        return v

    def condition(self, m: Model, n: int, seeds: list[int], label: str | None, prompt: str | None
                  ) -> tuple[list[int] | None, torch.Tensor | None]:
        """(labels, embeddings) for `n` images: a label name (conditional models), a prompt (text models), or the
        model's default label per seed."""
        if label and prompt:
            raise UserError("give a label or a prompt, not both")
        if prompt:
            emb = m.gen.prompt_embedding([prompt])  # text models only: says so otherwise
            return None, emb.repeat(n, 1)
        if label:
            if not m.gen.conditional:
                raise UserError(f"model '{m.name}' is unconditional: it takes seeds, not labels")
            return [LabelIndex(m.gen.classes).find(label)] * n, None
        return (m.gen.default_labels(seeds) if m.gen.conditional else None), None

    # ---- what a request gets ----

    def models_info(self) -> list[dict]:
        out = []
        for m in self.models.values():
            g = m.gen
            out.append({"name": m.name, "kind": m.kind, "size": g.size, "background": g.background,
                        "channels": g.channels, "labels": m.labels, "members": len(g.members),
                        "prompts": m.kind == "text", "sizes": list(SIZES)})
        return out

    def draw(self, model: str | None, seed, n, label: str | None = None, prompt: str | None = None) -> list[Image.Image]:
        """`n` emojis of seeds seed..seed+n-1 as the model draws them (RGBA for a transparent model)."""
        m = self.model(model)
        seed = self.integer(seed, "seed", 0, MAX_SEED - MAX_GRID, 0)
        n = self.integer(n, "n", 1, MAX_GRID, 16)
        seeds = list(range(seed, seed + n))
        with self.turn:
            labels, emb = self.condition(m, n, seeds, label, prompt)
            if emb is not None:
                x = m.gen.sample_tensor(z=z_from_seeds(seeds, m.gen.z_dim), embeddings=emb)
            else:
                x = m.gen.sample_tensor(seeds=seeds, labels=labels)
        return images.to_pil(x)

    def grid(self, model, seed, n, label=None, prompt=None) -> Image.Image:
        ims = self.draw(model, seed, n, label, prompt)
        return images.grid(ims, nrow=min(len(ims), GRID_COLUMNS), padding=0)  # the page finds a cell by dividing

    def emoji(self, model, seed, size, label=None, prompt=None) -> Image.Image:
        size = self.integer(size, "size", 1, 10**6, 128)
        if size not in SIZES:
            raise UserError(f"size {size} is not offered; choose {', '.join(map(str, SIZES))}")
        im = self.draw(model, seed, 1, label, prompt)[0]
        # the model's own alpha, resampled with the colours (never a colour key: that would erase black outlines)
        return im if im.size == (size, size) else im.resize((size, size), Image.LANCZOS)

    def interpolate(self, model, start: str, end: str, steps, seed) -> list[Image.Image]:
        m = self.model(model)
        steps = self.integer(steps, "steps", 2, MAX_STEPS, 9)
        seed = self.integer(seed, "seed", 0, MAX_SEED, 0)
        for end_ in (start, end):
            check_endpoint(end_)
        with self.turn:
            return images.to_pil(interpolate(m.gen, start.strip(), end.strip(), steps, seed=seed))

    def encode(self, model, data: bytes, word_count: int = EDIT_WORDS) -> dict:
        """An uploaded image's reconstruction (its code by the learned encoder and 30 steps), the training emoji
        nearest to it (SSIM), and edits of the code along the words that tag the most training emojis."""
        m = self.model(model)
        im = read_upload(data)
        x = prepare(im, m.gen.size, m.gen.background)[None]
        with self.turn:
            codes = encode(m.gen, x, ["upload"], steps=ENCODE_STEPS, progress=False, encoder=m.encoder)
            recon = decode(m.gen, codes)
            names, real = self.training_images(m)
            score, which = nearest_ssim(recon, real)
            edits = []
            for word in self.edit_words(m, word_count):
                d = self.direction(m, word)
                strip = images.to_pil(decode(m.gen, edit(codes, d, list(EDIT_STRENGTHS))))
                edits.append({"word": word, "count": d.count, "image": images.grid(strip, nrow=len(strip), padding=0)})
        return {"input": images.to_pil(x)[0], "reconstruction": images.to_pil(recon)[0],
                "ssim": float(codes.ssim[0]), "nearest": {"name": names[int(which[0])], "ssim": float(score[0]),
                                                          "image": images.to_pil(real[int(which[0])][None])[0]},
                "edits": edits, "strengths": list(EDIT_STRENGTHS)}

    # ---- cached per model ----

    def training_images(self, m: Model) -> tuple[list[str], torch.Tensor]:
        """The model's training emojis as it saw them: a conditional model's labels, else its data subset."""
        with self._lock:
            if m.name not in self._training:
                data = m.gen.meta["data"]
                path = data.get("path", "")
                if path and Path(path).is_dir():
                    ds = load_images(path, m.gen.size, m.gen.background)
                else:
                    ds = load_dataset(config.DataConfig(subset=data.get("subset") or "faces", group=data.get("group", ""),
                                                        subgroup=data.get("subgroup", ""), size=m.gen.size,
                                                        background=m.gen.background), progress=False)
                self._training[m.name] = ([ds.display_name(i) for i in range(len(ds))], ds.images)
            return self._training[m.name]

    def edit_words(self, m: Model, k: int) -> list[str]:
        """The k words that tag the most training emojis, of those that tag at most half of them (a word on
        nearly all, such as 'face', moves nothing) and are not grammar."""
        names = label_names(m.gen) if m.gen.conditional else self.training_images(m)[0]
        vocab = {w: hits for w, hits in vocabulary(names, MIN_EXAMPLES).items()
                 if len(hits) <= len(set(names)) / 2 and w not in STOP_WORDS}
        return sorted(vocab, key=lambda w: (-len(vocab[w]), w))[:k]

    def training_codes(self, m: Model) -> Codes:
        """An unconditional model's training emojis encoded by the learned encoder alone (a few seconds, once)."""
        names, real = self.training_images(m)
        with self._lock:
            if m.name not in self._codes:
                self._codes[m.name] = encode_every_member(m.gen, real, names, steps=0, encoder=m.encoder,
                                                          progress=False)
            return self._codes[m.name]

    def direction(self, m: Model, word: str) -> Direction:
        key = (m.name, word)
        if key not in self._directions:
            self._directions[key] = label_direction(m.gen, word) if m.gen.conditional else \
                direction(self.training_codes(m), word, len(m.gen.members))
        return self._directions[key]


def check_endpoint(text: str) -> None:
    """An interpolation end from the web: the CLI's grammar but for files, which a server must not read."""
    t = (text or "").strip()
    if not t:
        raise UserError("give both ends of the interpolation: a label, seed:N, prompt:TEXT or an OpenMoji name")
    if len(t) > 220:
        raise UserError(f"an interpolation end of {len(t)} characters; at most 220")
    if t.lower().startswith("seed:"):
        digits = t.split(":", 2)[1]
        if digits.isdigit() and int(digits) > MAX_SEED:
            raise UserError(f"endpoint '{t[:40]}': the seed must be at most {MAX_SEED}")
    if t.lower().startswith("code:") or any(c in t for c in "/\\") or t.startswith("."):
        raise UserError(f"'{t[:40]}': the studio takes labels, seed:N, prompt:TEXT or OpenMoji names, not files "
                        f"(upload an image to encode it)")


def read_upload(data: bytes) -> Image.Image:
    if not data:
        raise RequestError("the upload is empty; choose a PNG, JPEG, WebP, BMP or GIF image")
    if len(data) > MAX_UPLOAD:
        raise RequestError(f"the upload is over {MAX_UPLOAD // 2**20} MB; choose a smaller image", 413)
    try:
        with Image.open(io.BytesIO(data)) as im:
            if max(im.size) > MAX_UPLOAD_SIDE:
                raise RequestError(f"the image is {im.size[0]}x{im.size[1]} pixels; at most {MAX_UPLOAD_SIDE} a side")
            im.load()
            return im.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise RequestError("the upload is not a readable image (PNG, JPEG, WebP, BMP or GIF)", 415) from None


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    images.save_gif(frames, buf)  # as `emojigan interpolate --gif` writes it
    return buf.getvalue()
