"""What several commands share: the model a command draws from, the note when a local path shadows a shipped
model, and writing what `generate` drew."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import images
from ..data.catalog import ATTRIBUTION
from ..errors import UserError
from ..export import shadowed_model
from ..pretrained import DEFAULT_MODEL, resolve_model


def say_if_shadowed(*specs: str) -> None:
    """One note on stderr for each spec that names a local file or folder and a shipped model alike."""
    for spec in specs:
        note = shadowed_model(spec)
        if note:
            print(note, file=sys.stderr)


def source(a) -> str:
    """The generator a command draws from: RUN (a run folder or export), --model NAME, or the default
    shipped model. A local folder or file named like a shipped model is taken, and a note says so."""

    if a.run and a.model:
        raise UserError("give either RUN or --model NAME, not both")
    if a.run:
        say_if_shadowed(a.run)
        return a.run
    return str(resolve_model(a.model or DEFAULT_MODEL))


def write_drawn(a, gen, x, file_names: list[str], separate_note: str, grid_note: str) -> None:
    """`generate`'s outputs of the images `x`: one PNG each in `--separate` (named `file_names`) and/or the `--out`
    grid, composited as `--background` asks, with the licence attribution in a text chunk."""
    ims = [gen.composite(im, a.background) for im in images.to_pil(x)]
    text = {"Software": "emojigan", "Copyright": ATTRIBUTION} if "attribution" in gen.meta else {"Software": "emojigan"}
    if a.separate is not None:
        folder = Path(a.separate)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--separate {folder} exists and is not a folder")
        for name, im in zip(file_names, ims):
            images.save_png(im, folder / name, text)
        print(f"{folder}: {len(ims)} PNGs ({separate_note.format(mode=ims[0].mode)})")
    if a.out is not None:
        shown = images.for_display(ims) if a.background is None else ims
        images.save_png(images.grid(shown, nrow=a.nrow), a.out, text)
        print(f"{a.out}: grid of {len(ims)} {grid_note}")
