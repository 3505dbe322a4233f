"""The training state (EDM's second kind of checkpoint): G, D, optimizers, EMA, RNG and step for --resume,
written atomically and read with `torch.load(weights_only=True)`. The export, what generation loads, is
export.py's."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..files import tmp_path

STATE_VERSION = 1


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    torch.save({"state_version": STATE_VERSION, **state}, tmp)
    os.replace(tmp, path)


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no training state at {path}; nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt or truncated file: torch raises several types
        raise UserError(f"training state {path} is unreadable ({type(e).__name__}); it may be truncated") from None
    if not isinstance(state, dict) or state.get("state_version") != STATE_VERSION:
        raise UserError(f"{path} is not an emojigan training state of version {STATE_VERSION}")
    return state


def state_epoch(path: Path) -> int:
    """A training state's epoch, read without loading its weights (mmap)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(state["epoch"])
    except Exception as e:  # corrupt or truncated file: torch raises several types
        raise UserError(f"training state {path} is unreadable ({type(e).__name__}); it may be truncated") from None
