"""Load a folder of images (a built dataset or the user's own PNG/JPEG files) as one tensor.

The report's datasets are tiny (about 110 images), so training keeps the whole set on the device as one
tensor in [-1, 1]: no per-step file decoding, no DataLoader workers.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .. import images
from ..errors import UserError
from .render import build_dataset, read_manifest

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}
SKIP_NAMES = {"preview.png"}


@dataclass
class ImageSet:
    images: torch.Tensor            # (N, C, H, W) float32 in [-1, 1]
    names: list[str]                # file stems (hexcodes for built datasets)
    source: str
    skipped: int = 0                # files that were not usable images
    labels: list[dict] = field(default_factory=list)  # rows of labels.csv, when present
    openmoji: bool = False          # rendered from OpenMoji (CC BY-SA 4.0 applies to models trained on it)

    def __len__(self) -> int:
        return len(self.names)

    def display_name(self, i: int) -> str:
        """Image i's name for people: its OpenMoji annotation for built datasets, else its file name."""
        if self.labels and self.labels[i].get("annotation"):
            return self.labels[i]["annotation"]
        return self.names[i]


def _prepare(im: Image.Image, size: int, background: str) -> Image.Image:
    im = ImageOps.exif_transpose(im)
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA")
    w, h = im.size
    if w != h:  # centre-crop to a square, then resize
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.LANCZOS)
    return images.composite(im, background)


def _open(path: Path) -> Image.Image:
    im = Image.open(path)
    im.load()
    return im


def load_images(path: str | Path, size: int, background: str = "black") -> ImageSet:
    """All usable images of `path` at `size` px; RGBA when background is 'transparent', else RGB over it.

    A folder with a labels.csv (a built dataset) yields exactly the images that file lists, in its order.
    Any other folder yields its image files in name order; non-image and corrupt files are skipped
    and counted. A folder without a usable image is an error.
    """
    folder = Path(path)
    if not folder.exists():
        raise UserError(f"data folder {folder} does not exist")
    if not folder.is_dir():
        raise UserError(f"data path {folder} is not a folder")
    labels_csv = folder / "labels.csv"
    if labels_csv.is_file():
        with open(labels_csv, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or "hexcode" not in rows[0]:
            raise UserError(f"{labels_csv} has no 'hexcode' column or no rows")
        ims, names = [], []
        for r in rows:
            p = folder / f"{r['hexcode']}.png"
            try:
                ims.append(_prepare(_open(p), size, background))
            except FileNotFoundError:
                raise UserError(f"{labels_csv} lists {r['hexcode']} but {p.name} is missing") from None
            except (UnidentifiedImageError, OSError, ValueError):
                raise UserError(f"{p} is not a readable image (corrupt dataset; rebuild it)") from None
            names.append(r["hexcode"])
        return ImageSet(images.from_pil(ims), names, str(folder), 0, rows, read_manifest(folder) is not None)
    ims, names, skipped = [], [], 0
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.name in SKIP_NAMES:
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            skipped += 1
            continue
        try:
            ims.append(_prepare(_open(p), size, background))
            names.append(p.stem)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            skipped += 1
    if not ims:
        raise UserError(f"no usable image in {folder} ({skipped} other files skipped); "
                        f"it needs PNG or JPEG images")
    return ImageSet(images.from_pil(ims), names, str(folder), skipped)


def cache_dir() -> Path:
    """Where built datasets (and other reproducible files) are cached: $EMOJIGAN_CACHE or ~/.cache/emojigan."""
    return Path(os.environ.get("EMOJIGAN_CACHE", Path.home() / ".cache" / "emojigan"))


def load_dataset(d, progress: bool = True) -> ImageSet:
    """A `DataConfig`'s training images: its `path` folder, or its OpenMoji subset built into the cache."""
    if d.path:
        return load_images(d.path, d.size, d.background)
    name = "-".join(x for x in (d.subset, d.group, d.subgroup, str(d.size), d.background) if x)
    folder = build_dataset(cache_dir() / "datasets" / name.replace("*", "x").replace(",", "+"), d.subset,
                           d.size, d.background, d.group, d.subgroup, progress=progress)
    return load_images(folder, d.size, d.background)
