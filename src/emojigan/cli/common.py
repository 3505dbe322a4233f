"""What several commands share: the model a command draws from, and the note when a local path shadows a shipped
model."""
from __future__ import annotations

import sys

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
