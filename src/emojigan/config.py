"""Typed configuration: one dataclass per area, TOML presets, and `--set section.key=value` overrides.

A run is fully described by a `Config`; its resolved form is written to the run folder as `config.json`
so that `--resume`, `generate` and `evaluate` never need the original command line. G's regularizer weights
live in one table, `train.losses`, keyed by the names losses.py registers; `--set train.flat=20` sets one.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .limits import BACKGROUNDS, DEVICES, PRECISIONS, SIZES
from .losses import ADVERSARIAL, REGULARIZERS
from .models import ARCHS, REMOVED_MODEL_OPTIONS, is_conditional, n_blocks
from .presets import preset_names, preset_text

DIFFAUGMENT = ("color", "translation", "cutout")  # DiffAugment's transforms (training/augment.py)


@dataclass
class DataConfig:
    subset: str = "faces"       # OpenMoji subset (`emojigan data subsets`); unused when `path` is set
    group: str = ""             # extra OpenMoji group filter (glob pattern), e.g. "animals-nature"
    subgroup: str = ""          # extra OpenMoji subgroup filter (glob pattern), e.g. "face-*"
    size: int = 64              # image side in pixels: 32, 64, 128 or 256
    background: str = "black"   # black | white | transparent (transparent trains 4-channel RGBA)
    path: str = ""              # a folder of the user's own images, or a built dataset, instead of a subset

    @property
    def channels(self) -> int:
        return 4 if self.background == "transparent" else 3


@dataclass
class ModelConfig:
    arch: str = "dcgan"         # generator/discriminator family (see emojigan.models.ARCHS)
    z_dim: int = 100            # latent size; the report samples z ~ N(0, I) of 100x1x1
    g_base: int = 64            # G's channels just before the RGB layer; doubles per block up to max_channels
    d_base: int = 64            # D's channels after its first convolution; doubles per block
    max_channels: int = 512     # cap on channels (the report's 64x64 DCGAN tops out at 512)
    embed_dim: int = 50         # conditional models: size of the learned label embedding (the report: 50)
    d_norm: str = "batch"       # D's normalisation: batch (the report) | spectral (spectral norm, no BatchNorm)
    attention: bool = False     # a self-attention block at the 32x32 map of G and D (SAGAN)
    text_encoder: str = ""      # text models: a local sentence-transformers folder ("": all-MiniLM-L6-v2, emojigan[text])


def _no_losses() -> dict[str, float]:
    return {name: 0.0 for name in REGULARIZERS}


@dataclass
class TrainConfig:
    epochs: int = 500           # passes over the dataset (last partial batch kept: 111 images = 7 steps)
    batch_size: int = 16
    lr_g: float = 1.5e-4        # generator learning rate
    lr_d: float = 1.05e-4       # discriminator learning rate (the report keeps D slower than G)
    beta1: float = 0.4          # Adam beta1
    beta2: float = 0.999        # Adam beta2
    loss: str = "bce"           # bce (the report's non-saturating binary cross-entropy) | hinge
    real_label: float = 1.0     # D's target for real images (label smoothing: 0.9)
    fake_label: float = 0.0     # D's target for generated images (label smoothing: 0.1)
    r1_gamma: float = 0.0       # R1 gradient penalty on real images, gamma / 2 * E|grad D(x)|^2; 0 = off
    losses: dict[str, float] = field(default_factory=_no_losses)  # G's regularizers (losses.py) by name: weight,
                                # 0 = off; set one with --set train.NAME=W (faint_alpha, fragments, grain, flat,
                                # silhouette). The alpha ones act on RGBA data only
    silhouette_margin: float = 2.0  # the silhouette loss spares alpha this close to the emoji, in pixels at 64x64
                                # (scaled with the side; 0 = the emoji's own pixels)
    patch: float = 0.0          # a second, local discriminator (PatchGAN: one score per 22-px patch) on G's images;
                                # G also minimises w * its non-saturating loss; against speckle; 0 = off
    diffaugment: str = ""       # DiffAugment policy for real and fake in D and G steps, e.g. "color,translation,cutout"
    ada_target: float = 0.0     # adaptive augmentation (ADA): target of E[sign D(real)]; e.g. 0.6; 0 = off (p = 1)
    ada_kimg: float = 20.0      # ADA speed: thousands of images for the probability p to go from 0 to 1
    mirror: bool = False        # dataset x-flips (StyleGAN2-ADA's --mirror): each real image drawn is mirrored
                                # left-right with probability 1/2; G learns the mirrored emojis too
    ema: float = 0.0            # generator EMA decay (e.g. 0.999), used for samples, evaluation and export; 0 = off
    focus: str = ""             # a text file naming training images (hexcodes, characters, annotations or file stems,
                                # one per line, # comments): only those are drawn, and the in-training evaluation
                                # scores against them; a new mixture member for the emojis a model misses (AdaGAN;
                                # `evaluate` writes focus.txt); "" = all images
    init: str = ""              # start from a trained model: a shipped name (faces64), a run folder or an export;
                                # NAME@K: generator K of a mixture (seed k of a mixture of M is drawn by k mod M)
    freeze_d: int = 0           # FreezeD: keep D's first N convolution blocks fixed (fine-tuning from --init)
    seed: int = 0               # global training seed (weights, data order, noise)
    device: str = "auto"        # auto | cpu | cuda | cuda:N | mps; auto picks cuda, then mps, then cpu
    precision: str = "fp32"     # fp32 | bf16 (autocast; for GPUs and CPUs with AVX512-BF16/AMX) | auto (bf16 where native)
    compile: bool = False       # torch.compile G and D (minutes of compilation; pays off on long runs)
    cuda_graphs: bool = True    # on CUDA, replay the whole step as a CUDA graph (removes the launch bound)
    sync_bn: bool = False       # under DDP on GPUs, SyncBatchNorm instead of per-rank BatchNorm
    log_every: int = 5          # steps between reads of the losses (each read synchronises with the device)
    sample_every: int = 10      # epochs between sample grids in samples/
    sample_seeds: int = 64      # the grid shows seeds 0..sample_seeds-1, drawn as `generate` draws them
    checkpoint_every: int = 50  # epochs between training states (and at the end)
    eval_every: int = 0         # epochs between in-training evaluations (KID, nearest SSIM); 0 = off
    eval_n: int = 256           # samples per in-training evaluation
    best_max_copies: float = 1.0  # the 'best' checkpoint: lowest KID among evaluations whose copy rate (share of
                                  # samples with nearest-training SSIM >= 0.95) is at most this; 1 = any

    def weight(self, name: str) -> float:
        """The weight of G's regularizer `name` (0 = off)."""
        return self.losses.get(name, 0.0)


# options that earlier versions had, with the value that means "off": a run's config.json that still carries one
# loads when it is off and is refused by name when it is on (docs/RESULTS.md, the ablation table, says why each went)
REMOVED_TRAIN_OPTIONS = {"mode_seeking": 0.0, "lecam": 0.0, "spectral": 0.0, "stray": 0.0, "imle": 0.0,
                         "imle_pool": 512, "imle_every": 5, "balance": 0.0, "warmup": 0, "ddp_check": False,
                         "channels_last": True, "patch_layers": 2, "eval_features": "openmoji", "init_member": 0}
REMOVED = {"model": REMOVED_MODEL_OPTIONS, "train": REMOVED_TRAIN_OPTIONS}


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "Config":
        cfg = cls()
        apply_dict(cfg, d, source)
        return cfg

    def validate(self) -> "Config":
        d, m, t = self.data, self.model, self.train
        if d.size not in SIZES:
            raise UserError(f"data.size {d.size} is not supported; choose one of {', '.join(map(str, SIZES))}")
        if d.background not in BACKGROUNDS:
            raise UserError(f"data.background '{d.background}' is unknown; choose one of {', '.join(BACKGROUNDS)}")
        if t.device.split(":")[0] not in DEVICES:
            raise UserError(f"train.device '{t.device}' is unknown; choose auto, cpu, cuda, cuda:N or mps")
        if m.arch not in ARCHS:
            raise UserError(f"model.arch '{m.arch}' is unknown; choose one of {', '.join(sorted(ARCHS))}")
        _check_range("model.z_dim", m.z_dim, 1, 4096)
        _check_range("model.g_base", m.g_base, 1, 4096)
        _check_range("model.d_base", m.d_base, 1, 4096)
        _check_range("model.max_channels", m.max_channels, 1, 8192)
        _check_range("model.embed_dim", m.embed_dim, 1, 4096)
        if m.d_norm not in ("batch", "spectral"):
            raise UserError(f"model.d_norm '{m.d_norm}' is unknown; choose batch or spectral")
        if not (0 <= t.fake_label < t.real_label <= 1):
            raise UserError(f"train.fake_label {t.fake_label} and train.real_label {t.real_label} must satisfy "
                            f"0 <= fake_label < real_label <= 1")
        _check_range("train.epochs", t.epochs, 1, 1_000_000)
        _check_range("train.batch_size", t.batch_size, 1, 65_536)
        for name in ("lr_g", "lr_d"):
            v = getattr(t, name)
            if not (0 < v <= 1):
                raise UserError(f"train.{name} {v} is out of range; a learning rate must be in (0, 1]")
        for name in ("beta1", "beta2"):
            v = getattr(t, name)
            if not (0 <= v < 1):
                raise UserError(f"train.{name} {v} is out of range; Adam betas must be in [0, 1)")
        if t.loss not in ADVERSARIAL:
            raise UserError(f"train.loss '{t.loss}' is unknown; choose {' or '.join(ADVERSARIAL)}")
        if not 0 <= t.r1_gamma <= 1e4:
            raise UserError(f"train.r1_gamma {t.r1_gamma} is out of range; it must be between 0 and 10000")
        for name, w in t.losses.items():
            _check_weight(f"train.{name}", w, REGULARIZERS[name].max_weight)
        _check_weight("train.patch", t.patch, 1000)
        if not 0 <= t.silhouette_margin <= 16:
            raise UserError(f"train.silhouette_margin {t.silhouette_margin} is out of range; it is a width in pixels "
                            f"at 64x64 between 0 and 16")
        _check_range("train.seed", t.seed, 0, 2**63 - 1)
        _check_range("train.log_every", t.log_every, 1, 1_000_000)
        _check_range("train.sample_every", t.sample_every, 1, 1_000_000)
        _check_range("train.checkpoint_every", t.checkpoint_every, 1, 1_000_000)
        _check_range("train.sample_seeds", t.sample_seeds, 1, 1024)
        _check_range("train.eval_every", t.eval_every, 0, 1_000_000)
        _check_range("train.eval_n", t.eval_n, 4, 20_000)
        if not 0 <= t.best_max_copies <= 1:
            raise UserError(f"train.best_max_copies {t.best_max_copies} is out of range; it is a share of samples, "
                            f"between 0 and 1")
        if t.precision not in PRECISIONS:
            raise UserError(f"train.precision '{t.precision}' is unknown; choose fp32, bf16 or auto")
        if not 0 <= t.ema < 1:
            raise UserError(f"train.ema {t.ema} is out of range; an EMA decay must be in [0, 1) (0 = off)")
        bad = [p for p in (q.strip() for q in t.diffaugment.split(",")) if p and p not in DIFFAUGMENT]
        if bad:
            raise UserError(f"train.diffaugment: unknown transform(s) {', '.join(bad)}; choose from "
                            f"{', '.join(DIFFAUGMENT)}")
        if not 0 <= t.ada_target < 1:
            raise UserError(f"train.ada_target {t.ada_target} is out of range; it must be in [0, 1) (0 = off)")
        if t.ada_target and not t.diffaugment:
            raise UserError("train.ada_target adapts the probability of DiffAugment's transforms; "
                            "set train.diffaugment too (e.g. \"color,translation,cutout\")")
        if not 0 < t.ada_kimg <= 1e6:
            raise UserError(f"train.ada_kimg {t.ada_kimg} is out of range; it must be in (0, 1000000]")
        _check_range("train.freeze_d", t.freeze_d, 0, 16)
        convs = n_blocks(d.size) + 1  # D's stride-2 blocks and its last convolution
        if t.freeze_d >= convs:
            raise UserError(f"train.freeze_d {t.freeze_d}: a {d.size}x{d.size} D has {convs} convolution blocks; "
                            f"freeze fewer so the last can still learn")
        if t.focus and is_conditional(m.arch):
            raise UserError(f"train.focus chooses images for an unconditional G; model.arch '{m.arch}' is conditional "
                            f"(to draw some labels, generate them by name)")
        return self


def _check_weight(name: str, v: float, hi: float) -> None:
    """A loss weight: between 0 (off) and `hi`."""
    if not 0 <= v <= hi:
        raise UserError(f"{name} {v} is out of range; it must be between 0 and {hi} (0 = off)")


def _check_range(name: str, v: int, lo: int, hi: int) -> None:
    if not (lo <= v <= hi):
        raise UserError(f"{name} {v} is out of range; it must be between {lo} and {hi}")


def _sections(cfg: Config) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


def _coerce(value: Any, typ: type, key: str) -> Any:
    """Convert a TOML or command-line value to a field's declared type, refusing lossy conversions."""
    if isinstance(value, str) and typ is not str:
        text = value.strip()
        try:
            if typ is bool:
                if text.lower() in ("true", "1", "yes", "on"):
                    return True
                if text.lower() in ("false", "0", "no", "off"):
                    return False
                raise ValueError
            if typ is int:
                f = float(text)
                if not f.is_integer():
                    raise ValueError
                return int(f)
            return typ(text)
        except ValueError:
            raise UserError(f"{key} expects {typ.__name__}, got '{value}'") from None
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise UserError(f"{key} expects {typ.__name__}, got {value!r}")
    return value


def set_value(cfg: Config, dotted: str, value: Any) -> None:
    """Set `section.key` to `value`, type-checked against the dataclass field."""
    sections = _sections(cfg)
    if "." not in dotted:
        raise UserError(f"'{dotted}' must be section.key, e.g. train.epochs; sections: {', '.join(sections)}")
    section, key = dotted.split(".", 1)
    if section not in sections:
        raise UserError(f"unknown config section '{section}'; choose one of {', '.join(sections)}")
    obj = sections[section]
    if section == "train" and key in REGULARIZERS:  # a regularizer's weight, in train.losses
        obj.losses[key] = _coerce(value, float, dotted)
        return
    if section == "train" and key == "losses":
        if not isinstance(value, dict):
            raise UserError(f"{dotted} is a table of regularizer weights; set one with train.NAME=W "
                            f"({', '.join(REGULARIZERS)})")
        for name, w in value.items():
            if name not in REGULARIZERS:
                raise UserError(f"unknown regularizer '{name}' in {dotted}; choose from {', '.join(REGULARIZERS)}")
            obj.losses[name] = _coerce(w, float, f"train.{name}")
        return
    if key in REMOVED.get(section, {}):
        off = REMOVED[section][key]
        if _coerce(value, type(off), dotted) == off:
            return  # an old run's record of an option at its "off" value
        raise UserError(f"{dotted} was removed from emojigan: it measured no gain (docs/RESULTS.md, the ablation "
                        f"table); train without it")
    types = {f.name: f.type for f in dataclasses.fields(obj)}
    if key not in types:
        raise UserError(f"unknown key '{dotted}'; {section} has {', '.join(types)}")
    typ = {"int": int, "float": float, "str": str, "bool": bool}[types[key]]
    setattr(obj, key, _coerce(value, typ, dotted))


# what a run's config.json records beside its settings (training/run.py, training/branch.py)
RUN_RECORDS = ("provenance", "dataset", "resumes", "branched_from", "init")


def apply_dict(cfg: Config, d: dict[str, Any], source: str) -> None:
    sections = _sections(cfg)
    for section, values in d.items():
        if section in RUN_RECORDS:
            continue  # records written into config.json, not settings
        if section not in sections or not isinstance(values, dict):
            raise UserError(f"{source}: unknown section [{section}]; choose from {', '.join(sections)}")
        if section == "train" and values.get("init_member"):  # older runs: init + init_member is init@K
            values = {**values, "init": f"{values.get('init', '')}@{int(values['init_member'])}", "init_member": 0}
        for key, value in values.items():
            set_value(cfg, f"{section}.{key}", value)


def parse_set(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if "=" not in item:
            raise UserError(f"--set '{item}' must look like section.key=value")
        k, v = item.split("=", 1)
        out.append((k.strip(), v))
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"config file {p} does not exist")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"config file {p} is not valid TOML: {e}") from None


def load_preset(name: str) -> Config:
    names = preset_names()
    if name not in names:
        raise UserError(f"unknown preset '{name}'; choose one of {', '.join(names)}")
    return Config.from_dict(tomllib.loads(preset_text(name)), source=f"preset {name}")


def resolve(preset: str | None = None, config_file: str | None = None,
            overrides: list[tuple[str, Any]] = ()) -> Config:
    """Preset, then config file, then overrides (flags and --set), then validation."""
    cfg = load_preset(preset) if preset else Config()
    if config_file:
        apply_dict(cfg, load_toml(config_file), source=str(config_file))
    for key, value in overrides:
        set_value(cfg, key, value)
    return cfg.validate()
