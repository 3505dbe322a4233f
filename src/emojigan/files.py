"""The files of a run folder that every layer reads: atomic writes, the run's `config.json` and its
append-only `metrics.jsonl`. Nothing here knows about networks; training writes these files, metrics and
the CLI read them."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .errors import UserError


def tmp_path(path: Path) -> Path:
    """The temporary name a file is written under before it is renamed into place."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def user_mode() -> int:
    """The file mode the user's umask gives a new file (what `open` would create)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def atomic_copy(src: str | Path, dst: str | Path) -> None:
    """Copy a file so that `dst` is either absent, the old file, or the whole copy (never half of one)."""
    dst = Path(dst)
    tmp = tmp_path(dst)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def read_run_config(run: str | Path) -> dict[str, Any]:
    """A run folder's `config.json` as written (settings and records)."""
    try:
        return json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{run}/config.json is missing or unreadable") from None


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
