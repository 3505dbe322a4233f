"""The export format: the one contract that training writes and generation, evaluation, the shipped models
and fine-tuning read (EDM's two kinds of checkpoint: this is the *export*; training/checkpoint.py holds the
training state).

An export is a `.safetensors` file of generator weights with its JSON metadata (config, data, training record,
licence) embedded in the header, and a `.json` copy beside it. A mixture export holds several unconditional
generators of one architecture under `member{i}.` prefixes; seed k is drawn by member k mod M. Everything is
written atomically and read without unpickling code."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from . import pretrained
from .errors import UserError
from .files import atomic_write_text, tmp_path, user_mode
from .models import canonical

EXPORT_FORMAT = "emojigan-generator"
EXPORT_VERSION = 1
EXPORT_NAME = "generator.safetensors"  # a run folder's latest export; generator-best.safetensors its best
MEMBER = "member{}."  # tensor-name prefix of member i in a mixture export


def save_export(tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: str | Path,
                sidecar: bool = True) -> Path:
    """Write an export atomically: `path` (.safetensors, `meta` embedded in its metadata) and, with `sidecar`,
    `path.json` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    save_file(tensors, str(tmp), metadata={"emojigan": json.dumps(meta)})
    os.chmod(tmp, user_mode())  # safetensors writes 0600; an export is shared like any file the user writes
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


def read_export(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, metadata) of an exported generator; checks the format and its version."""
    meta = read_export_meta(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable safetensors file ({str(e).splitlines()[0][:80]})") from None
    return tensors, meta


def fingerprint(path: str | Path) -> str:
    """A short hash of an export file: which model a codes file (`emojigan encode`) belongs to."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def param_count(path: str | Path) -> int:
    """The number of weights in an export, read from its header (no tensors loaded)."""
    with safe_open(str(path), framework="pt") as f:
        total = 0
        for k in f.keys():
            n = 1
            for d in f.get_slice(k).get_shape():
                n *= d
            total += n
    return total


def resolve_export(path: str | Path, checkpoint: str = "latest") -> Path:
    """A run folder (its latest export, or with `checkpoint` "best" the lowest-KID one), a .safetensors file or a
    shipped model's name (`emojigan models`) -> the export file to load. A local path wins over a shipped name;
    `describe_source` says which was taken."""
    if checkpoint not in ("latest", "best"):
        raise UserError(f"--checkpoint {checkpoint} is unknown; choose latest or best")
    p = Path(path)
    if not p.exists() and isinstance(path, str) and "/" not in path and not path.endswith(".safetensors"):
        models = pretrained.shipped_models()
        if path in models:
            if checkpoint != "latest":
                raise UserError(f"--checkpoint {checkpoint}: a shipped model is one generator (so is an export "
                                f"file); leave --checkpoint out")
            return models[path]
    if p.is_dir():
        exp = p / (EXPORT_NAME if checkpoint == "latest" else "generator-best.safetensors")
        if not exp.is_file():
            if checkpoint == "best":
                raise UserError(f"{p} has no {exp.name} (best is kept only by runs trained with --eval-every)")
            raise UserError(f"{p} has no checkpoint yet (no {EXPORT_NAME}); train it past its first "
                            f"--checkpoint-every epochs")
        return exp
    if not p.exists():
        raise UserError(f"{p} does not exist; give a run folder, a .safetensors generator or a shipped model's "
                        f"name (`emojigan models`)")
    if checkpoint != "latest":
        raise UserError(f"--checkpoint {checkpoint}: a shipped model is one generator (so is an export file); "
                        f"leave --checkpoint out")
    return p


def shadowed_model(path: str | Path) -> str | None:
    """A note when a local file or folder has a shipped model's name (`./faces64`): the local one is taken."""
    name = str(path)
    if "/" not in name and Path(name).exists() and name in pretrained.shipped_models():
        return (f"note: ./{name} is a local {'folder' if Path(name).is_dir() else 'file'} and was taken; "
                f"the shipped model of that name is --model {name}")
    return None


def split_checkpoint(spec: str) -> tuple[str, str]:
    """'RUN:best' / 'RUN:latest' / 'RUN' -> (RUN, checkpoint): how `mix` names one generator."""
    for checkpoint in ("best", "latest"):
        if spec.endswith(f":{checkpoint}"):
            return spec[:-len(checkpoint) - 1], checkpoint
    return spec, "latest"


def split_member(spec: str) -> tuple[str, list[int] | None]:
    """'EXPORT@0,2' -> (EXPORT, [0, 2]): some members of a mixture, as `mix` and `train --init` name them;
    (spec, None) where the spec does not end in '@' and member numbers (a folder may hold an '@')."""
    path, at, picks = spec.rpartition("@")
    parts = picks.split(",")
    if not (at and path and all(p.strip().isdigit() for p in parts)):
        return spec, None
    return path, [int(p) for p in parts]


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


DATA_KEYS = ("size", "background", "subset", "group", "subgroup")


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
        same_data = {k: m["data"].get(k) for k in DATA_KEYS} == {k: meta["data"].get(k) for k in DATA_KEYS}
        if canonical(m.get("model", {})) != canonical(meta.get("model", {})) or not same_data:
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


def find_discriminator(path: str | Path, checkpoint: str = "latest") -> tuple[dict[str, torch.Tensor], str] | None:
    """(weights, where they came from) of the discriminator that goes with a model: a run folder's training state
    at `checkpoint`, or the `X.D.safetensors` beside an export or a shipped model; None where there is none."""
    p = Path(path)
    if p.is_dir():
        state = p / "checkpoints" / f"{checkpoint}.pt"
        if not state.is_file():
            return None
        try:
            return torch.load(state, map_location="cpu", weights_only=True)["D"], str(state)
        except Exception as e:  # corrupt or truncated file: torch raises several types
            raise UserError(f"training state {state} is unreadable ({type(e).__name__})") from None
    d = pretrained.discriminator_path(resolve_export(path, checkpoint))
    return (load_file(str(d)), str(d)) if d else None


def discriminator_of(spec: str) -> dict[str, torch.Tensor]:
    """The discriminator weights of RUN[:best], an export or a shipped model (`find_discriminator`); one clear line
    where there is none."""
    path, checkpoint = split_checkpoint(spec)
    found = find_discriminator(path, checkpoint)
    if found is None:
        if Path(path).is_dir():
            raise UserError(f"{path} has no {checkpoint} training state to take D from")
        raise UserError(f"{path} has no discriminator beside it (no .D.safetensors)")
    return found[0]


def save_discriminator(tensors: dict[str, torch.Tensor], generator: str | Path, source: str) -> Path:
    """Write `X.D.safetensors` beside the generator export `X.safetensors` (what `train --init X` reads)."""
    g = Path(generator)
    path = g.with_name(g.name[:-len(".safetensors")] + ".D.safetensors")
    tmp = tmp_path(path)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
              metadata={"emojigan": json.dumps({"discriminator_of": str(g.name), "source": source})})
    os.chmod(tmp, user_mode())
    os.replace(tmp, path)
    return path
