"""The two kinds of checkpoint (EDM): the *export* (generator weights as .safetensors + a JSON config,
what generate/evaluate/the API load) and the *training state* (G, D, optimizers, RNG, step) for --resume.

Both are written atomically (temp file + rename) so a crash never leaves a half-written file, and both are
read without unpickling code (safetensors, `torch.load(weights_only=True)`).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import UserError

EXPORT_FORMAT = "emojigan-generator"
EXPORT_VERSION = 1
STATE_VERSION = 1


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
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


def atomic_copy(src: str | Path, dst: str | Path) -> None:
    """Copy a file so that `dst` is either absent, the old file, or the whole copy (never half of one)."""
    dst = Path(dst)
    tmp = _tmp(dst)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def save_export(tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: str | Path,
                sidecar: bool = True) -> Path:
    """Write an export atomically: `path` (.safetensors, `meta` embedded in its metadata) and, with `sidecar`,
    `path.json` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    save_file(tensors, str(tmp), metadata={"emojigan": json.dumps(meta)})
    os.chmod(tmp, 0o666 & ~_umask())  # safetensors writes 0600; an export is shared like any file the user writes
    os.replace(tmp, path)
    if sidecar:
        atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1))
    return path


def export_generator(G: torch.nn.Module, meta: dict[str, Any], path: str | Path,
                     dtype: torch.dtype = torch.float32) -> Path:
    """Write `path` (.safetensors; the config is embedded in its metadata) and `path.json` beside it."""
    meta = {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, **meta}
    tensors = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
               for k, v in G.state_dict().items()}
    return save_export(tensors, meta, path)


def read_export_meta(path: str | Path) -> dict[str, Any]:
    """An exported generator's metadata alone (the safetensors header, no tensors); checks format and version."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"generator file {path} does not exist")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("emojigan")
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable safetensors file ({str(e).splitlines()[0][:80]})") from None
    try:
        meta = json.loads(raw) if raw else json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{path} carries no emojigan config (and no readable {path.with_suffix('.json').name})") from None
    if meta.get("format") != EXPORT_FORMAT:
        raise UserError(f"{path} is not an emojigan generator export")
    if meta.get("format_version") != EXPORT_VERSION:
        raise UserError(f"{path} has export format version {meta.get('format_version')}; "
                        f"this emojigan reads version {EXPORT_VERSION}")
    return meta


MEMBER = "member{}."  # tensor-name prefix of member i in a mixture export


def mixture_tensors(members: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The tensors of a mixture export: each member's state dict under its own prefix."""
    return {MEMBER.format(i) + k: v for i, sd in enumerate(members) for k, v in sd.items()}


def split_members(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
    """An export's generators: one state dict, or a mixture's members in order (`meta["mixture"]`)."""
    n = int(meta.get("mixture", {}).get("members", 1))
    if n == 1:
        return [tensors]
    out = [{k[len(MEMBER.format(i)):]: v for k, v in tensors.items() if k.startswith(MEMBER.format(i))}
           for i in range(n)]
    if any(not sd for sd in out) or sum(map(len, out)) != len(tensors):
        raise UserError(f"a mixture export of {n} generators holds tensors of another layout")
    return out


def training_of(meta: dict[str, Any], key: str) -> Any:
    """An export's training record `key` (step, epoch): a single generator's value, or a mixture's list of its
    members' (the top-level record of a mixture is its first member's). `total_step` / `total_epoch`: counted
    from scratch, through the models a run started from (`--init`); the run's own count where it had none."""
    def get(t: dict) -> Any:
        return t.get(key, t.get(key.removeprefix("total_"))) if key.startswith("total_") else t.get(key)

    if "mixture" in meta:
        return [get(t) for t in meta["mixture"].get("training", [])]
    return get(meta.get("training", {}))


def build_mixture(paths: list[Path], picks: list[list[int] | None] | None = None
                  ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of the mixture of the generators exported at `paths`, in that order: one architecture
    and one dataset, unconditional. A mixture among them gives its members in its own order (mixing `faces64` with
    one more generator makes four members), or those of `picks` (per path: member numbers, None for all), so one
    member can be swapped for another. Seed k is drawn by member k mod the number of members. One member picked
    out of a mixture alone (`faces64@2`) is written as a single generator, with that member's training record."""
    parts = [read_export(p) for p in paths]
    picks = picks or [None] * len(paths)
    meta = parts[0][1]
    members, sources, records = [], [], []
    for path, (tensors, m), pick in zip(paths, parts, picks):
        if m.get("classes"):
            raise UserError(f"{path} is a conditional model; mixtures are of unconditional generators")
        same_data = {k: m["data"].get(k) for k in ("size", "background", "subset", "group", "subgroup")} == \
            {k: meta["data"].get(k) for k in ("size", "background", "subset", "group", "subgroup")}
        if m.get("model") != meta.get("model") or not same_data:
            raise UserError(f"{path} has another architecture or data than {paths[0]}; mix generators of one "
                            f"architecture trained on one dataset")
        own = split_members(tensors, m)
        keep = list(range(len(own))) if pick is None else pick
        if not keep or any(not 0 <= i < len(own) for i in keep) or len(set(keep)) != len(keep):
            raise UserError(f"{path}@{','.join(map(str, keep))}: it holds {len(own)} generator(s), numbered "
                            f"0-{len(own) - 1}; name each once")
        members += [own[i] for i in keep]
        if "mixture" in m:
            srcs = m["mixture"].get("sources") or [None] * len(own)
            recs = m["mixture"].get("training") or [{} for _ in own]
            sources += [f"{path} member {i}" + (f" ({srcs[i]})" if srcs[i] else "") for i in keep]
            records += [recs[i] for i in keep]
        else:
            sources.append(str(path))
            records.append(m.get("training", {}))
    # what a shipped model's card measured (metrics, reproduce, shipped_from) describes that model, not this file
    mix = {k: v for k, v in meta.items() if k not in ("mixture", "metrics", "reproduce", "shipped_from")}
    mix.update({"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION})
    if len(members) == 1:  # one member picked out of a mixture (faces64@2): a plain single-generator export
        if "mixture" not in meta:
            raise UserError("a mixture needs two or more generators (or one picked out of a mixture: NAME@K)")
        mix.update({"training": records[0], "extracted_from": sources[0]})
        return members[0], mix
    if "mixture" in meta:  # the top-level record of a mixture is its first member's
        mix["training"] = records[0]
    mix["mixture"] = {"members": len(members), "sources": sources, "training": records,
                      "rule": "seed k: member k mod M"}
    return mixture_tensors(members), mix


def read_export(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, metadata) of an exported generator; checks the format and its version."""
    meta = read_export_meta(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable safetensors file ({str(e).splitlines()[0][:80]})") from None
    return tensors, meta
