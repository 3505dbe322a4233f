"""Run folders: creation and checks, provenance, and the resolved config.json."""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..config import Config
from ..errors import UserError
from ..files import atomic_write_text

STATE_NAME = "checkpoints/latest.pt"


def git_commit() -> str | None:
    src = Path(__file__).resolve().parents[3]
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def provenance() -> dict[str, Any]:
    return {"emojigan": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "git_commit": git_commit(), "argv": sys.argv}


def check_run_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber, without touching anything: a new run needs an empty or absent folder
    (or --overwrite on an earlier run); --resume needs a run folder."""
    if resume:
        if not (out / "config.json").is_file():
            raise UserError(f"{out} is not a run folder (no config.json); nothing to resume")
        return
    if out.exists():
        if not out.is_dir():
            raise UserError(f"{out} exists and is not a folder")
        is_run = (out / "config.json").is_file()
        if is_run and not overwrite:
            raise UserError(f"{out} already holds a run; use --resume to continue it, --overwrite to replace "
                            f"it, or another --out")
        if not is_run and any(out.iterdir()):
            raise UserError(f"{out} exists and is not an emojigan run folder; choose another --out")


RUN_FILES = ("metrics.jsonl", "generator.safetensors", "generator.json", "config.json", "real.png")
RUN_FOLDERS = ("checkpoints", "samples")


def create_run_dir(out: Path) -> None:
    """Make the folder of a new run, clearing an earlier run's files (only those emojigan writes)."""
    for name in RUN_FOLDERS:
        shutil.rmtree(out / name, ignore_errors=True)
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def write_config(out: Path, cfg: Config, extra: dict[str, Any]) -> None:
    atomic_write_text(out / "config.json", json.dumps({**cfg.to_dict(), **extra}, indent=1))
