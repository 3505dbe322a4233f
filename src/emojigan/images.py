"""Small image helpers (what torchvision.utils would give): tensor <-> PIL, grids, PNG writing with metadata."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin

BACKGROUND_RGB = {"black": (0, 0, 0), "white": (255, 255, 255)}


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float (N, C, H, W) -> uint8 (N, H, W, C) on the CPU."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu()


def to_pil(x: torch.Tensor) -> list[Image.Image]:
    arr = to_uint8(x).numpy()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[arr.shape[-1]]
    return [Image.fromarray(a if mode != "L" else a[..., 0], mode) for a in arr]


def from_pil(images: list[Image.Image]) -> torch.Tensor:
    arr = np.stack([np.asarray(im) for im in images]).astype(np.float32)
    if arr.ndim == 3:
        arr = arr[..., None]
    return torch.from_numpy(arr).permute(0, 3, 1, 2) / 127.5 - 1


def composite(im: Image.Image, background: str) -> Image.Image:
    """RGBA -> RGB over a solid colour, or RGBA kept for 'transparent'."""
    im = im.convert("RGBA")
    if background == "transparent":
        return im
    base = Image.new("RGBA", im.size, BACKGROUND_RGB[background] + (255,))
    return Image.alpha_composite(base, im).convert("RGB")


def for_display(ims: list[Image.Image]) -> list[Image.Image]:
    """RGBA images over white (grids and previews are looked at, not composited further); others as they are."""
    return [composite(im, "white") if im.mode == "RGBA" else im for im in ims]


def grid(images: list[Image.Image], nrow: int | None = None, padding: int = 2) -> Image.Image:
    """Tile equally sized images, `nrow` per row (default: a square-ish grid)."""
    n = len(images)
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    w, h = images[0].size
    mode = "RGBA" if any(im.mode == "RGBA" for im in images) else "RGB"
    fill = (0, 0, 0, 0) if mode == "RGBA" else (40, 40, 40)
    out = Image.new(mode, (nrow * (w + padding) + padding, rows * (h + padding) + padding), fill)
    for i, im in enumerate(images):
        r, c = divmod(i, nrow)
        out.paste(im.convert(mode), (padding + c * (w + padding), padding + r * (h + padding)))
    return out


def side_by_side(panels: list[tuple[str, Image.Image]], gap: int = 16, title_height: int = 22) -> Image.Image:
    """Images next to each other on white, each with a caption above it (e.g. real grid | generated grid)."""
    from PIL import ImageDraw

    w = sum(im.width for _, im in panels) + gap * (len(panels) + 1)
    h = max(im.height for _, im in panels) + title_height + gap
    out = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    x = gap
    for title, im in panels:
        draw.text((x, 4), title, fill=(0, 0, 0))
        out.paste(for_display([im])[0].convert("RGB"), (x, title_height))
        x += im.width + gap
    return out


def save_png(im: Image.Image, path: str | Path, text: dict[str, str] | None = None) -> None:
    """Write a PNG atomically (temp file + rename), with optional tEXt chunks (e.g. licence attribution)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for k, v in text.items():
            info.add_text(k, v)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    im.save(tmp, format="PNG", pnginfo=info)
    os.replace(tmp, path)


def save_gif(frames: list[Image.Image], dest) -> None:
    """An interpolation's animation, there and back (frames over white: GIF has no partial transparency), to a path
    or a binary file object."""
    frames = for_display(frames)
    loop = frames + frames[-2:0:-1]
    loop[0].save(dest, format="GIF", save_all=True, append_images=loop[1:], duration=120, loop=0)
