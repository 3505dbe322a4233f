"""What `encode` (and an interpolation endpoint) takes in: an image file, a folder of images (sorted by file name),
or an OpenMoji name (rendered at the model's size and background), as tensors the model can be compared with."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from .. import images
from ..data.catalog import load_catalog
from ..data.dataset import IMAGE_SUFFIXES, SKIP_NAMES
from ..data.names import LabelIndex
from ..data.render import render_emoji
from ..errors import UserError


@lru_cache(maxsize=1)
def openmoji_index() -> tuple[LabelIndex, tuple]:
    """Every OpenMoji emoji by its names (annotation, shortcodes, character, hexcode)."""
    catalog = load_catalog()
    return LabelIndex([{"hexcode": e.hexcode, "emoji": e.emoji, "annotation": e.annotation} for e in catalog]), catalog


def prepare(im: Image.Image, size: int, background: str) -> torch.Tensor:
    """A PIL image as the model sees its data: (C, H, W) in [-1, 1] at `size`, RGBA for a transparent model, else
    composited over its background."""
    im = im.convert("RGBA")
    if im.size != (size, size):
        im = im.resize((size, size), Image.LANCZOS)
    im = images.composite(im, background)
    return images.from_pil([im])[0]


def open_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise UserError(f"{path} is not a readable image (PNG, JPEG, WebP, BMP or GIF)") from None


def load_inputs(specs: list[str], size: int, background: str) -> tuple[list[str], torch.Tensor]:
    """(names, (N, C, size, size) tensor) of the inputs, in the order given; a folder's images in sorted file-name
    order. A spec that is no file or folder is an OpenMoji name; an unknown one is an error listing the closest."""
    names, tensors = [], []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                           and not f.name.startswith(".") and f.name not in SKIP_NAMES)
            if not files:
                raise UserError(f"{p} holds no image (PNG, JPEG, WebP, BMP or GIF)")
            for f in files:
                names.append(f.stem)
                tensors.append(prepare(open_image(f), size, background))
        elif p.is_file():
            names.append(p.stem)
            tensors.append(prepare(open_image(p), size, background))
        elif any(ch in spec for ch in "/\\") or p.suffix.lower() in IMAGE_SUFFIXES:
            raise UserError(f"{spec} does not exist (give an image file, a folder of images, or an OpenMoji name)")
        else:
            index, catalog = openmoji_index()
            try:
                e = catalog[index.find(spec)]
            except UserError as err:
                raise UserError(str(err).replace(" (`emojigan labels RUN` lists all)", "").replace(
                    "label", "OpenMoji emoji")) from None
            names.append(e.annotation)
            tensors.append(prepare(render_emoji(e.hexcode, size, "transparent"), size, background))
    if not tensors:
        raise UserError("give at least one input: an image file, a folder of images, or an OpenMoji name")
    return names, torch.stack(tensors)
