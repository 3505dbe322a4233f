"""`train --init`: start a run from a trained model (a shipped name, a run folder or an export; RUN:best for a
run's best checkpoint, NAME@K for generator K of a mixture) instead of random weights, for fine-tuning on a user's own images, optionally with D's
first blocks frozen (FreezeD, Mo et al. 2020). G starts from the model's exported (EMA) generator; D from the
run's last training state, or the `NAME.D.safetensors` shipped beside a generator; where no D exists, D starts
from scratch. A conditional model continues only on the emojis it was trained on: its labels are its training
images."""
from __future__ import annotations

import dataclasses

import torch

from ..config import Config
from ..errors import UserError
from ..models import removed_options_in
from ..export import (find_discriminator, read_export, read_export_meta, resolve_export, split_checkpoint, split_member,
                      split_members, training_of)


def parse_init(spec: str) -> tuple[str, str, int]:
    """'faces64@1' -> ('faces64', 'latest', 1); 'runs/x:best' -> ('runs/x', 'best', 0): the model, which of a run's
    checkpoints, and which member of a mixture. One member only: a run starts from one G."""
    path, picks = split_member(spec)
    if picks is not None and len(picks) != 1:
        raise UserError(f"--init {spec}: a run starts from one generator; name one member (NAME@K)")
    path, checkpoint = split_checkpoint(path)
    return path, checkpoint, picks[0] if picks else 0


def check_member(spec: str, members: int, member: int) -> None:
    if member >= members:
        what = f"a mixture of {members} generators" if members > 1 else "a single generator"
        raise UserError(f"--init {spec}: it is {what}; pick member 0 to {members - 1}")


def adopt_model(cfg: Config, spec: str, explicit: set[str]) -> Config:
    """Give `cfg` the architecture of the model at `spec`, and its image size and background unless the
    user set them; a user setting that contradicts the weights is an error."""
    path, checkpoint, member = parse_init(spec)
    meta = read_export_meta(resolve_export(path, checkpoint))
    model, data = meta.get("model", {}), meta.get("data", {})
    if removed_options_in(model):
        raise UserError(f"--init {spec} was trained with {', '.join(removed_options_in(model))}, which this emojigan "
                        f"no longer has")
    check_member(spec, int(meta.get("mixture", {}).get("members", 1)), member)
    clash = sorted(k for k in explicit if k.startswith("model."))
    if clash:
        raise UserError(f"--init {spec} takes its architecture from the model; drop {', '.join(clash)}")
    for k in (f.name for f in dataclasses.fields(cfg.model)):
        if k in model:
            setattr(cfg.model, k, model[k])
    for k in ("size", "background"):
        want = data.get(k)
        if f"data.{k}" in explicit and getattr(cfg.data, k) != want:
            raise UserError(f"--init {spec} is a {data.get('size')}x{data.get('size')} model on {data.get('background')}; "
                            f"data.{k} = {getattr(cfg.data, k)} does not match (leave it out)")
        setattr(cfg.data, k, want)
    return cfg


def check_same_labels(spec: str, model_classes: list[dict], data_classes: list[dict]) -> None:
    """A conditional model's label k is its training image k: continuing it on other images would silently
    give its labels to other emojis, so the data must hold the same emojis in the same order."""
    def key(c: dict) -> str:
        return c.get("hexcode") or c.get("annotation", "")

    if [key(c) for c in model_classes] == [key(c) for c in data_classes]:
        return
    first = next((i for i, (a, b) in enumerate(zip(model_classes, data_classes)) if key(a) != key(b)),
                 min(len(model_classes), len(data_classes)))
    raise UserError(f"--init {spec} is conditional on its {len(model_classes)} training emojis; this data has "
                    f"{len(data_classes)} images and differs at image {first}: continue it on the data it was "
                    f"trained on (its subset), or fine-tune an unconditional model")


def check_init_labels(spec: str, data_classes: list[dict]) -> None:
    """Before anything is written: a conditional model at `spec` must continue on its own emojis (the new
    data's classes, setup.class_list)."""
    path, checkpoint, _ = parse_init(spec)
    meta = read_export_meta(resolve_export(path, checkpoint))
    if meta.get("classes") and meta.get("model", {}).get("arch") != "text":
        check_same_labels(spec, meta["classes"], data_classes)


def init_record(spec: str) -> dict:
    """What a run started with `--init spec` records of its start: the model, the mixture member, and the steps
    and epochs that generator had been trained (its own total, when it was itself fine-tuned), so the run's
    export can say how long its weights have trained in all (`training.total_step`)."""
    path, checkpoint, member = parse_init(spec)
    exp = resolve_export(path, checkpoint)
    meta = read_export_meta(exp)
    trained = meta.get("mixture", {}).get("training") or []  # (load_init checks the member against the mixture)
    own = {"training": trained[member] if member < len(trained) else meta.get("training", {})}
    return {"from": spec, "path": str(exp), "member": member,
            "step": int(training_of(own, "total_step") or 0), "epoch": int(training_of(own, "total_epoch") or 0)}


def _load_weights(net: torch.nn.Module, state: dict) -> None:
    """Every weight of `state` into `net`, strictly, but a text model's `phrases` buffer and per-emoji values: `net`
    keeps the embeddings of the new data's phrasings, and its values start where the trained model puts them
    (models/text.py, `load_trained`)."""
    if "phrases" in state:
        net.load_trained(state)
    else:
        net.load_state_dict(state)


def load_init(G: torch.nn.Module, D: torch.nn.Module, spec: str) -> str:
    """Copy the model's weights into freshly built G and D; returns a line saying what was loaded. A mixture
    gives its generator K of `NAME@K` (the first by default); D is the one shipped or saved with the model."""
    path, checkpoint, member = parse_init(spec)
    gen_path = resolve_export(path, checkpoint)
    tensors, meta = read_export(gen_path)
    members = split_members(tensors, meta)
    check_member(spec, len(members), member)
    tensors = members[member]
    which = "" if len(members) == 1 else (" (the first generator of its mixture)" if member == 0 else
                                          f" (generator {member} of its mixture of {len(members)})")
    try:
        _load_weights(G, {k: v.float() for k, v in tensors.items()})
    except RuntimeError as e:
        raise UserError(f"--init {spec}: its generator does not fit this config ({str(e).splitlines()[0][:100]})") from None
    found = find_discriminator(path, checkpoint)
    if found is None:
        return f"G from {gen_path}{which}; no discriminator shipped with it, D starts from scratch"
    d_state, d_from = found
    try:
        _load_weights(D, {k: v.float() if v.is_floating_point() else v for k, v in d_state.items()})
    except RuntimeError as e:
        raise UserError(f"--init {spec}: its discriminator does not fit this config ({str(e).splitlines()[0][:100]})") from None
    return f"G from {gen_path}{which}, D from {d_from}"


def freeze_discriminator(D: torch.nn.Module, n_blocks: int) -> int:
    """FreezeD: stop the gradient of D's first `n_blocks` convolution blocks (conv, its norm, activation and
    any attention after it). Returns the number of parameters frozen."""
    net = D.net.net if hasattr(D.net, "net") else D.net  # conditional D wraps the DCGAN stack
    convs = [i for i, m in enumerate(net) if isinstance(m, torch.nn.Conv2d)]
    if n_blocks >= len(convs):
        raise UserError(f"train.freeze_d {n_blocks}: D has {len(convs)} convolution blocks; freeze fewer "
                        f"than {len(convs)} so the last can still learn")
    frozen = 0
    for m in list(net)[:convs[n_blocks]] if n_blocks else []:
        for prm in m.parameters():
            prm.requires_grad_(False)
            frozen += prm.numel()
    return frozen
