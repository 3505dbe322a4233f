"""Shipped weights with their model cards: the OpenMoji feature network and the pretrained generators.

A shipped generator NAME is `NAME.safetensors` (the EMA generator in fp16, its config in the safetensors
metadata, exactly the export format of a run), optionally `NAME.D.safetensors` (its discriminator, for
`emojigan train --init NAME`), and the model card `NAME.md`.
"""
from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

from ..errors import UserError

FEATURES = "openmoji-features"
DEFAULT_MODEL = "faces64"


def folder() -> Path:
    return Path(str(resources.files(__name__)))


def shipped_models() -> dict[str, Path]:
    """name -> generator file, for every shipped generator (the feature network is not one)."""
    return {p.name[:-len(".safetensors")]: p for p in sorted(folder().glob("*.safetensors"))
            if p.stem != FEATURES and not p.name.endswith(".D.safetensors")}


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


def describe(name: str, path: Path) -> dict:
    """One row of `emojigan models`: what the model draws, at what size, and its card's headline metrics."""
    from safetensors import safe_open

    from ..training.checkpoint import training_of

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads((f.metadata() or {}).get("emojigan", "{}"))
        params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    data, model = meta.get("data", {}), meta.get("model", {})
    classes = meta.get("classes", [])
    d = discriminator_path(path)
    return {"name": name, "size": data.get("size"), "channels": data.get("channels"),
            "background": data.get("background"), "conditional": bool(classes), "labels": len(classes),
            "params": params, "mb": round((path.stat().st_size + (d.stat().st_size if d else 0)) / 2**20, 1),
            "discriminator": d is not None, "metrics": meta.get("metrics", {}),
            "members": int(meta.get("mixture", {}).get("members", 1)),
            "steps": training_of(meta, "total_step"), "card": str(card_path(name))}
