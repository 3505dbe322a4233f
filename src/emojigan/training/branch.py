"""`train --branch RUN --out NEW`: start a new run folder from one of RUN's training states (its `latest` or
its `best`), then continue it, usually with one setting changed: the controlled experiment "same model, same
optimizer state, same RNG state, one difference from step S on". The branch holds everything RUN had up to
that state (config, metrics, sample grids, exports), so its history, `evaluate` and `compare --history` read as
one run; RUN itself is not touched. An unchanged branch continues exactly as RUN did (resumes are exact).
With `own_best`, the branch's `best` is chosen among its own evaluations only: RUN's earlier ones were made
under other settings, and a branch that changes the objective would otherwise keep RUN's best forever."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from ..errors import UserError
from ..files import atomic_copy, atomic_write_text, read_run_config
from . import run as runlib
from .checkpoint import load_state, save_state, state_epoch

CHECKPOINTS = ("latest", "best")


def branch_run(src: str | Path, checkpoint: str, dst: str | Path, overwrite: bool = False,
               own_best: bool = False) -> int:
    """Copy RUN `src` as it stood at its `checkpoint` state into the new run folder `dst`; returns the epoch.
    Everything is checked before anything is written."""
    src, dst = Path(src), Path(dst)
    if checkpoint not in CHECKPOINTS:
        raise UserError(f"--checkpoint {checkpoint} is unknown; choose latest or best")
    if not (src / "config.json").is_file():
        raise UserError(f"{src} is not a run folder (no config.json); nothing to branch from")
    state = src / "checkpoints" / f"{checkpoint}.pt"
    if not state.is_file():
        hint = " (best is kept only by runs trained with --eval-every)" if checkpoint == "best" else ""
        raise UserError(f"{src} has no {checkpoint} training state ({state}){hint}")
    if dst.resolve() == src.resolve():
        raise UserError(f"--out {dst} is the run being branched; choose a new folder")
    runlib.check_run_dir(dst, resume=False, overwrite=overwrite)
    epoch = state_epoch(state)
    best = src / "checkpoints" / "best.pt"
    best_epoch = state_epoch(best) if best.is_file() else None
    config = read_run_config(src)

    runlib.create_run_dir(dst)
    (dst / "checkpoints").mkdir()
    if own_best:  # no best yet: the first evaluation after the branch point is the first candidate
        save_state(dst / runlib.STATE_NAME, load_state(state) | {"best_kid": math.inf})
    else:
        atomic_copy(state, dst / runlib.STATE_NAME)
    keep_best = not own_best and best_epoch is not None and best_epoch <= epoch  # RUN's best, reached by then
    export = "generator" if checkpoint == "latest" else "generator-best"
    for suffix in (".safetensors", ".json"):  # the branch's exports are those of its state
        if (src / f"{export}{suffix}").is_file():
            atomic_copy(src / f"{export}{suffix}", dst / f"generator{suffix}")
        if keep_best and (src / f"generator-best{suffix}").is_file():
            atomic_copy(src / f"generator-best{suffix}", dst / f"generator-best{suffix}")
    if keep_best:
        atomic_copy(best, dst / "checkpoints" / "best.pt")
    for name in ("real.png", "metrics.jsonl"):  # the resume drops the metrics past the state's step
        if (src / name).is_file():
            atomic_copy(src / name, dst / name)
    if (src / "samples").is_dir():
        (dst / "samples").mkdir()
        for png in sorted((src / "samples").glob("epoch-*.png")):
            m = re.fullmatch(r"epoch-(\d+)\.png", png.name)
            if m and int(m.group(1)) <= epoch:
                atomic_copy(png, dst / "samples" / png.name)
    config["branched_from"] = {"run": str(src), "checkpoint": checkpoint, "epoch": epoch, "own_best": own_best}
    atomic_write_text(dst / "config.json", json.dumps(config, indent=1))
    return epoch
