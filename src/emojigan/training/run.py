"""Run folders: creation and checks, provenance, the metrics log, and dataset resolution for a config."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..config import Config
from ..data import build_dataset, load_images
from ..data.dataset import ImageSet
from ..errors import UserError
from .checkpoint import atomic_write_text

STATE_NAME = "checkpoints/latest.pt"


def cache_dir() -> Path:
    return Path(os.environ.get("EMOJIGAN_CACHE", Path.home() / ".cache" / "emojigan"))


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


def load_dataset(cfg: Config, progress: bool = True) -> ImageSet:
    """The config's training images: its `data.path` folder, or its OpenMoji subset built into the cache."""
    d = cfg.data
    if d.path:
        return load_images(d.path, d.size, d.background)
    name = "-".join(x for x in (d.subset, d.group, d.subgroup, str(d.size), d.background) if x)
    folder = build_dataset(cache_dir() / "datasets" / name.replace("*", "x").replace(",", "+"), d.subset,
                           d.size, d.background, d.group, d.subgroup, progress=progress)
    return load_images(folder, d.size, d.background)


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
    import shutil

    for name in RUN_FOLDERS:
        shutil.rmtree(out / name, ignore_errors=True)
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def read_run_config(run: Path) -> dict[str, Any]:
    try:
        return json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{run}/config.json is missing or unreadable") from None


def write_config(out: Path, cfg: Config, extra: dict[str, Any]) -> None:
    atomic_write_text(out / "config.json", json.dumps({**cfg.to_dict(), **extra}, indent=1))


class MetricsLog:
    """Append-only JSONL; on resume, lines past the resumed step are dropped so the log stays consistent."""

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        if resume_step is not None and path.is_file():
            keep = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                    if ln.strip() and json.loads(ln).get("step", 0) <= resume_step]
            atomic_write_text(path, "".join(ln + "\n" for ln in keep))
        self.f = open(path, "a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self.f.write(json.dumps(row) + "\n")
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
