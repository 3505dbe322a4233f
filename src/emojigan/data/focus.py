"""`train.focus`: a text file naming some training images, so that a run draws only those (a new mixture member
for the emojis a model misses; `emojigan evaluate` writes such a file, focus.txt, of the emojis it recalls least)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError
from .dataset import ImageSet
from .names import LabelIndex


def read_focus(path: str | Path) -> list[str]:
    """The names in a focus file: one per line, blank lines and # comments skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"train.focus {path}: cannot read it ({type(e).__name__}); give a text file of emoji "
                        f"names, one per line") from None
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    names = [n for n in names if n]
    if not names:
        raise UserError(f"train.focus {path} names no images; give one hexcode, character or annotation per line")
    return names


def focus_weights(data: ImageSet, path: str | Path) -> torch.Tensor:
    """(N,) float64 sampling probabilities: uniform over the training images the focus file at `path` names
    (OpenMoji hexcode, character or annotation, or a file stem for a folder of images), 0 for the others."""
    classes = [{**(data.labels[i] if data.labels else {}), "stem": data.names[i]} for i in range(len(data))]
    for c in classes:
        c.setdefault("hexcode", c["stem"])
    index = LabelIndex(classes)
    chosen = set()
    for name in read_focus(path):
        try:
            chosen.add(index.find(name))
        except UserError as e:
            why = str(e).replace(" (`emojigan labels RUN` lists all)", "").replace("label", "image")
            raise UserError(f"train.focus {path}: {why}") from None
    w = torch.zeros(len(data), dtype=torch.float64)
    w[sorted(chosen)] = 1.0 / len(chosen)
    return w
