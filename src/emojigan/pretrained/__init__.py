"""Shipped weights with their model cards: the OpenMoji feature network and the pretrained generators.

A shipped generator NAME is `NAME.safetensors` (the EMA generator in fp16, its config in the safetensors
metadata, exactly the export format of a run), optionally `NAME.D.safetensors` (its discriminator, for
`emojigan train --init NAME`), optionally `NAME.encoder.safetensors` (the learned encoder that gives `emojigan encode`
its first guesses), and the model card `NAME.md`. This package only finds the files; export.py
reads them.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import UserError

FEATURES = "openmoji-features"
DEFAULT_MODEL = "faces64"
TEXT_MODEL = "text64"  # what `generate --prompt` draws from when no model is named


def folder() -> Path:
    return Path(str(resources.files(__name__)))


def shipped_models() -> dict[str, Path]:
    """name -> generator file, for every shipped generator (the feature network is not one)."""
    return {p.name[:-len(".safetensors")]: p for p in sorted(folder().glob("*.safetensors"))
            if p.stem != FEATURES and not p.name.endswith((".D.safetensors", ".encoder.safetensors"))}


def resolve_model(name: str) -> Path:
    models = shipped_models()
    if name not in models:
        have = ", ".join(models) or "none in this installation"
        raise UserError(f"no shipped model named '{name}' (shipped: {have}; `emojigan models` lists them)")
    return models[name]


def discriminator_path(generator: Path) -> Path | None:
    """The discriminator shipped or exported beside a generator file (`X.D.safetensors`), if any."""
    p = generator.with_name(generator.name[:-len(".safetensors")] + ".D.safetensors")
    return p if p.is_file() else None


def card_path(name: str) -> Path:
    return folder() / f"{name}.md"
