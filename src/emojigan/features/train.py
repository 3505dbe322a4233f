"""`emojigan features train`: train EmojiNet on all OpenMoji emojis (subgroup classification with
augmentation), hold out whole emojis (skin-tone variants together) to measure it, and write the
fp16 safetensors + model card that emojigan ships as its offline feature space."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from ..config import Config
from ..data import load_dataset
from ..data.catalog import ATTRIBUTION, OPENMOJI_VERSION, load_catalog
from ..devices import pick_device
from ..errors import UserError
from ..files import atomic_write_text
from .augment import augment
from .net import EmojiNet

FORMAT = "emojigan-features"


def _split(seed: int, held_out: float) -> tuple[list[int], list[int]]:
    cat = load_catalog()
    keys = sorted({e.base or e.hexcode for e in cat})
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(keys), generator=g).tolist()
    test_keys = {keys[i] for i in perm[: int(len(keys) * held_out)]}
    train_idx = [i for i, e in enumerate(cat) if (e.base or e.hexcode) not in test_keys]
    test_idx = [i for i, e in enumerate(cat) if (e.base or e.hexcode) in test_keys]
    return train_idx, test_idx


@torch.no_grad()
def _accuracy(net: EmojiNet, x: torch.Tensor, y: torch.Tensor, seed: int, repeats: int, device) -> float:
    net.eval()
    g = torch.Generator(device=device).manual_seed(seed)
    correct = total = 0
    for _ in range(repeats):
        for i in range(0, len(x), 256):
            xb = augment(x[i:i + 256], g) if repeats > 1 else x[i:i + 256, :3] * x[i:i + 256, 3:] * 2 - 1
            correct += int((net(xb).argmax(1) == y[i:i + 256]).sum())
            total += len(xb)
    net.train()
    return correct / max(total, 1)


def train_feature_net(out: str | Path, epochs: int = 40, batch_size: int = 128, lr: float = 2e-3,
                      seed: int = 0, device: str = "auto", width: int = 32, held_out: float = 0.1,
                      progress: bool = True) -> dict:
    if not 1 <= epochs <= 10_000:
        raise UserError(f"--epochs {epochs} is out of range; it must be between 1 and 10000")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out} must end in .safetensors")
    dev = pick_device(device)
    cfg = Config()
    cfg.data.subset, cfg.data.size, cfg.data.background = "all", 64, "transparent"
    data = load_dataset(cfg.data, progress)
    cat = load_catalog()
    classes = sorted({e.subgroup for e in cat})
    y_all = torch.tensor([classes.index(e.subgroup) for e in cat])
    x_all = (data.images + 1) / 2  # RGBA in [0, 1]
    train_idx, test_idx = _split(seed, held_out)
    x_tr, y_tr = x_all[train_idx].to(dev), y_all[train_idx].to(dev)
    x_te, y_te = x_all[test_idx].to(dev), y_all[test_idx].to(dev)

    torch.manual_seed(seed)
    net = EmojiNet(len(classes), width=width).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * math.ceil(len(x_tr) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator(device=dev).manual_seed(seed + 1)
    t0 = time.perf_counter()
    bar = tqdm(range(epochs), desc="features", unit="epoch", disable=not progress)
    for epoch in bar:
        perm = torch.randperm(len(x_tr), device=dev, generator=g)
        total = torch.zeros((), device=dev)
        for i in range(0, len(x_tr), batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(net(augment(x_tr[idx], g)), y_tr[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach() * len(idx)
        bar.set_postfix(loss=f"{float(total) / len(x_tr):.3f}")
    metrics = {
        "held_out_emojis_augmented_top1": _accuracy(net, x_te, y_te, 123, 4, dev),
        "held_out_emojis_clean_top1": _accuracy(net, x_te, y_te, 123, 1, dev),
        "train_emojis_fresh_augmentations_top1": _accuracy(net, x_tr, y_tr, 321, 2, dev),
        "chance": 1 / len(classes),
    }
    info = {"format": FORMAT, "format_version": 1, "classes": classes, "width": width,
            "feature_dim": net.feature_dim, "metrics": metrics, "epochs": epochs, "batch_size": batch_size,
            "lr": lr, "seed": seed, "n_train": len(train_idx), "n_held_out": len(test_idx),
            "train_seconds": round(time.perf_counter() - t0, 1), "device": str(dev),
            "data": f"OpenMoji {OPENMOJI_VERSION}, all {len(cat)} emojis", "attribution": ATTRIBUTION}
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu()
               for k, v in net.state_dict().items()}
    save_file(tensors, str(out), metadata={"emojigan": json.dumps(info)})
    atomic_write_text(out.with_suffix(".md"), model_card(info))
    return info


def model_card(info: dict) -> str:
    m = info["metrics"]
    return f"""# OpenMoji feature network (EmojiNet)

emojigan's offline feature space for KID, FID, precision/recall, memorization and label fidelity.

- **Task**: classify an emoji's OpenMoji subgroup ({len(info['classes'])} classes) from an augmented render
  (scale, shift, rotation, flip, background colour, colour jitter, blur, noise, cutout).
- **Network**: 8 conv layers (width {info['width']}), global average pool to {info['feature_dim']} features (the
  feature space), a linear classifier. Input 64x64 RGB in [-1, 1]; other sizes are resized, RGBA is composited
  over black. Weights stored as fp16 safetensors.
- **Data**: {info['data']}; {info['n_train']} emojis for training, {info['n_held_out']} held out (whole emojis,
  skin-tone variants together). {info['attribution']}.
- **Training**: {info['epochs']} epochs, batch {info['batch_size']}, AdamW lr {info['lr']} one-cycle, label smoothing
  0.1, seed {info['seed']}, on {info['device']} in {info['train_seconds']} s.

| subgroup accuracy | top-1 |
|---|---|
| held-out emojis, augmented renders (4 per emoji) | {m['held_out_emojis_augmented_top1']:.3f} |
| held-out emojis, clean renders | {m['held_out_emojis_clean_top1']:.3f} |
| training emojis, fresh augmentations | {m['train_emojis_fresh_augmentations_top1']:.3f} |
| chance | {m['chance']:.3f} |

Reproduce: `emojigan features train --epochs {info['epochs']} --batch-size {info['batch_size']} --lr {info['lr']} \
--width {info['width']} --seed {info['seed']} --out openmoji-features.safetensors` (add `--device cuda` on a GPU; results
vary slightly across devices).
"""
