"""Typed configuration: one dataclass per area, TOML presets, and `--set section.key=value` overrides.

A run is fully described by a `Config`; its resolved form is written to the run folder as `config.json`
so that `--resume`, `generate` and `evaluate` never need the original command line.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import UserError

SIZES = (32, 64, 128, 256)
BACKGROUNDS = ("black", "white", "transparent")
DEVICES = ("auto", "cpu", "cuda", "mps")


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
    g_upsample: str = "transposed"  # G's doublings: transposed (the report's 4x4 stride 2) | resize (nearest + 3x3)
    d_norm: str = "batch"       # D's normalisation: batch (the report) | spectral (spectral norm, no BatchNorm)
    attention: bool = False     # a self-attention block at the 32x32 map of G and D (SAGAN)
    sle: bool = False           # skip-layer excitation in G: each map gates the one 4x larger (FastGAN)
    d_recon: float = 0.0        # weight of D's self-supervised reconstruction loss on real images (FastGAN); 0 = off
    d_mbstd: bool = False       # D sees the batch's feature standard deviation (ProGAN), against mode collapse
    d_pack: int = 1             # PacGAN (Lin et al. 2018): D judges packs of this many images at once, stacked on
                                # the channels, so a batch of look-alikes is easier to call fake; 1 = off
    d_cond: str = "concat"      # conditional D: concat (the report: label map as extra channels) | projection
    clusters: int = 0           # conditional models: 0 = one class per training image (the report); K = one class
                                # per cluster of look-alike training images (self-conditioned GAN), drawn by share.
                                # 12 on faces64 collapsed inside each cluster (docs/RESULTS.md); off in every preset
    neighbors: int = 0          # conditional models, one class per training image: D sees class i's real image drawn
                                # from image i's k nearest training images (itself included, OpenMoji feature space),
                                # so class i stands for a neighbourhood, not one emoji to copy (instance-conditioned
                                # GAN, Casanova et al. 2021); 0 = off (the report: class i is image i)


@dataclass
class TrainConfig:
    epochs: int = 500           # passes over the dataset (last partial batch kept: 111 images = 7 steps)
    batch_size: int = 16
    lr_g: float = 1.5e-4        # generator learning rate
    lr_d: float = 1.05e-4       # discriminator learning rate (the report keeps D slower than G)
    beta1: float = 0.4          # Adam beta1
    beta2: float = 0.999        # Adam beta2
    loss: str = "bce"           # bce (the report's non-saturating binary cross-entropy) | hinge
    r1_gamma: float = 0.0       # R1 gradient penalty on real images, gamma / 2 * E|grad D(x)|^2; 0 = off
    mode_seeking: float = 0.0   # MSGAN weight: G also minimises w / (mean|G(z1)-G(z2)| / mean|z1-z2|) over batch halves; 0 = off
    lecam: float = 0.0          # LeCam regularization of D toward the moving averages of its outputs (Tseng 2021); 0 = off
    spectral: float = 0.0       # G also minimises w * the gap between fake and real radial log spectra (Durall 2020); 0 = off
    faint_alpha: float = 0.0    # RGBA (off on black/white data): G also minimises w * its images' mean faint alpha (below 0.25) beyond the real
                                # batch's (training/step.py faint_alpha_loss): against grey specks over white; 0 = off
    stray: float = 0.0          # RGBA (off on black/white data): G also minimises w * the alpha of its pixels with little alpha around them (7x7 mean
                                # below 0.25 at 64x64) beyond the real batch's (step.py stray_loss): against broken
                                # bits of outline; 0 = off
    fragments: float = 0.0      # RGBA (off on black/white data): G also minimises w * the alpha summed over its images'
                                # stray fragments, the 4-connected parts of at most 12 px at 64x64 (evaluate's stray-
                                # fragment measure) at alpha 0.25 and 0.5, found each step on the CPU (step.py
                                # fragment_loss; no CUDA graphs): against broken bits of outline however near the face.
                                # Weight 1 is stable only at a low rate (2e-5, as faces64 shipped); at the preset's
                                # rates, at 1 on cond128 and at 5 faces broke into flecks; 0.1 held (docs/RESULTS.md,
                                # scripts/grad_balance.py); 0 = off
    grain: float = 0.0          # G also minimises w * its residual against a 3x3 median (evaluate's noise measure) as a
                                # share of its variance, beyond the training set's (step.py grain_loss): against
                                # speckle and mottled fill; 0 = off
    flat: float = 0.0           # G also minimises w * the mean 5x5-window colour std inside its emojis, capped at 0.08
                                # so outlines and features cost a constant (step.py flat_loss): against the blotchy
                                # texture in flat fills that evaluate's mottled_fill counts and a 3x3 median cannot
                                # see; 0 = off
    silhouette: float = 0.0     # RGBA only: G also minimises w * its images' mean alpha where their emoji has none: the
                                # label's (conditional), or the training image nearest in alpha (unconditional); its
                                # pixels of alpha above 0.02 grown by silhouette_margin (step.py silhouette_loss):
                                # against faint haze and detached bits off the emoji; 0 = off
    silhouette_margin: float = 2.0  # the silhouette's growth in pixels at 64x64 (scaled with the side; 0 = the emoji's
                                # own pixels): alpha this close to the emoji is spared
    imle: float = 0.0           # latent matching (IMLE): each training image gets its own latent, and G also minimises
                                # w * mean |G(z_i) - x_i| over the batch (training/imle.py); unconditional only; 0 = off
    patch: float = 0.0          # a second, local discriminator (PatchGAN: one score per patch, models/blocks.py) on G's
                                # images; G also minimises w * its non-saturating loss; against speckle; 0 = off
    patch_layers: int = 2       # its stride-2 convolutions: 1, 2 or 3 = a receptive field of 10, 22 or 46 pixels
    balance: float = 0.0        # draw image i with probability proportional to r_i ** balance, r_i = its distance to its
                                # 3rd-nearest training image in OpenMoji features: rare emojis shown more often (with
                                # replacement; data/clusters.py rarity_weights); 0 = a plain shuffle per epoch
    focus: str = ""             # a text file naming training images (hexcodes, characters, annotations or file stems, one
                                # per line, # comments): only those are drawn, uniformly with replacement, and the
                                # in-training evaluation scores against them. A new mixture member for the emojis a
                                # model misses (AdaGAN, Tolstikhin et al. 2017; scripts/focus_list.py); "" = all images
    imle_pool: int = 512        # latents drawn per matching (at least the dataset size is used)
    imle_every: int = 5         # epochs between matchings
    real_label: float = 1.0     # D's target for real images (label smoothing: 0.9)
    fake_label: float = 0.0     # D's target for generated images (label smoothing: 0.1)
    seed: int = 0               # global training seed (weights, data order, noise)
    device: str = "auto"        # auto | cpu | cuda | cuda:N | mps; auto picks cuda, then mps, then cpu
    log_every: int = 5          # steps between reads of the losses (each read synchronises with the device)
    sample_every: int = 10      # epochs between sample grids in samples/
    checkpoint_every: int = 50  # epochs between training states (and at the end)
    sample_seeds: int = 64      # the grid shows seeds 0..sample_seeds-1, drawn as `generate` draws them
    precision: str = "fp32"     # fp32 | bf16 (autocast; for GPUs and CPUs with AVX512-BF16/AMX) | auto (bf16 where native)
    channels_last: bool = True  # NHWC tensors: faster convolutions on CPU and GPU, same computation
    compile: bool = False       # torch.compile G and D (minutes of compilation; pays off on long runs)
    cuda_graphs: bool = True    # on CUDA, replay the whole step as a CUDA graph (removes the launch bound)
    sync_bn: bool = False       # under DDP on GPUs, SyncBatchNorm instead of per-rank BatchNorm
    ddp_check: bool = False     # debug: after every step, check that all DDP ranks hold identical weights
    diffaugment: str = ""       # DiffAugment policy for real and fake in D and G steps, e.g. "color,translation,cutout"
    mirror: bool = False        # dataset x-flips (StyleGAN2-ADA's --mirror): each real image drawn is mirrored left-right
                                # with probability 1/2, doubling the data; G learns the mirrored emojis too (a wink
                                # on the other eye). Not with train.imle (its latents match the images as they are)
    ada_target: float = 0.0     # adaptive augmentation (ADA): target of E[sign D(real)]; e.g. 0.6; 0 = off (p = 1)
    ada_kimg: float = 20.0      # ADA speed: thousands of images for the probability p to go from 0 to 1
    ema: float = 0.0            # generator EMA decay (e.g. 0.999), used for samples, evaluation and export; 0 = off
    init: str = ""              # start from a trained model: a shipped name (faces64), a run folder or an export
    freeze_d: int = 0           # FreezeD: keep D's first N convolution blocks fixed (fine-tuning from --init)
    warmup: int = 0             # learning-rate warmup: G's, D's (and the patch critic's) rates rise linearly from
                                # 1/N of their value to all of it over the run's first N steps (kept on --resume);
                                # for --init continuations, whose fresh Adam state shakes a trained model; 0 = off
    init_member: int = 0        # with init: which generator of a mixture to start from (seed k of a mixture of M
                                # is drawn by generator k mod M); 0 = the first
    eval_every: int = 0         # epochs between in-training evaluations (KID, nearest SSIM); 0 = off
    eval_n: int = 256           # samples per in-training evaluation
    best_max_copies: float = 1.0  # the 'best' checkpoint: lowest KID among evaluations whose copy rate (share of
                                  # samples with nearest-training SSIM >= 0.95) is at most this; 1 = any
    eval_features: str = "openmoji"  # feature space for in-training KID: openmoji | inception


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
        dev = t.device.split(":")[0]
        if dev not in DEVICES:
            raise UserError(f"train.device '{t.device}' is unknown; choose auto, cpu, cuda, cuda:N or mps")
        _check_range("model.z_dim", m.z_dim, 1, 4096)
        _check_range("model.g_base", m.g_base, 1, 4096)
        _check_range("model.d_base", m.d_base, 1, 4096)
        _check_range("model.max_channels", m.max_channels, 1, 8192)
        _check_range("model.embed_dim", m.embed_dim, 1, 4096)
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
        _check_range("train.seed", t.seed, 0, 2**63 - 1)
        _check_range("train.log_every", t.log_every, 1, 1_000_000)
        _check_range("train.sample_every", t.sample_every, 1, 1_000_000)
        _check_range("train.checkpoint_every", t.checkpoint_every, 1, 1_000_000)
        _check_range("train.sample_seeds", t.sample_seeds, 1, 1024)
        _check_range("train.eval_every", t.eval_every, 0, 1_000_000)
        _check_range("train.freeze_d", t.freeze_d, 0, 16)
        _check_range("train.warmup", t.warmup, 0, 10_000_000)
        _check_range("train.init_member", t.init_member, 0, 63)
        if t.init_member and not t.init:
            raise UserError(f"train.init_member {t.init_member} picks a generator of the --init model's mixture; "
                            f"give --init too")
        if d.size in SIZES:
            from .models.dcgan import n_blocks

            convs = n_blocks(d.size) + 1  # D's stride-2 blocks and its last convolution
            if t.freeze_d >= convs:
                raise UserError(f"train.freeze_d {t.freeze_d}: a {d.size}x{d.size} D has {convs} convolution blocks; "
                                f"freeze fewer so the last can still learn")
        _check_range("train.eval_n", t.eval_n, 4, 20_000)
        if not 0 <= t.best_max_copies <= 1:
            raise UserError(f"train.best_max_copies {t.best_max_copies} is out of range; it is a share of samples, "
                            f"between 0 and 1")
        if t.precision not in ("fp32", "bf16", "auto"):
            raise UserError(f"train.precision '{t.precision}' is unknown; choose fp32, bf16 or auto")
        if m.d_cond not in ("concat", "projection"):
            raise UserError(f"model.d_cond '{m.d_cond}' is unknown; choose concat or projection")
        _check_range("model.clusters", m.clusters, 0, 100_000)
        _check_range("model.neighbors", m.neighbors, 0, 100_000)
        if not 0 <= t.balance <= 10:
            raise UserError(f"train.balance {t.balance} is out of range; it is an exponent between 0 and 10 (0 = off)")
        if m.d_norm not in ("batch", "spectral"):
            raise UserError(f"model.d_norm '{m.d_norm}' is unknown; choose batch or spectral")
        if t.loss not in ("bce", "hinge"):
            raise UserError(f"train.loss '{t.loss}' is unknown; choose bce or hinge")
        if not 0 <= t.r1_gamma <= 1e4:
            raise UserError(f"train.r1_gamma {t.r1_gamma} is out of range; it must be between 0 and 10000")
        for key, hi in (("mode_seeking", 100), ("lecam", 1000), ("spectral", 1000), ("faint_alpha", 10000),
                        ("stray", 10000), ("fragments", 100), ("grain", 1000), ("flat", 1000), ("silhouette", 10000),
                        ("imle", 1000), ("patch", 1000)):  # loss weights
            _check_weight(f"train.{key}", getattr(t, key), hi)
        if not 0 <= t.silhouette_margin <= 16:
            raise UserError(f"train.silhouette_margin {t.silhouette_margin} is out of range; it is a width in pixels "
                            f"at 64x64 between 0 and 16")
        _check_range("train.patch_layers", t.patch_layers, 1, 3)
        _check_range("train.imle_pool", t.imle_pool, 1, 100_000)
        _check_range("train.imle_every", t.imle_every, 1, 1_000_000)
        if t.mode_seeking and t.batch_size < 2:
            raise UserError("train.mode_seeking compares pairs of samples; it needs a batch size of at least 2")
        if not 0 <= t.ema < 1:
            raise UserError(f"train.ema {t.ema} is out of range; an EMA decay must be in [0, 1) (0 = off)")
        from .training.augment import check_policy

        check_policy(t.diffaugment)
        if not 0 <= t.ada_target < 1:
            raise UserError(f"train.ada_target {t.ada_target} is out of range; it must be in [0, 1) (0 = off)")
        if t.ada_target and not t.diffaugment:
            raise UserError("train.ada_target adapts the probability of DiffAugment's transforms; "
                            "set train.diffaugment too (e.g. \"color,translation,cutout\")")
        if not 0 < t.ada_kimg <= 1e6:
            raise UserError(f"train.ada_kimg {t.ada_kimg} is out of range; it must be in (0, 1000000]")
        if not 0 <= m.d_recon <= 100:
            raise UserError(f"model.d_recon {m.d_recon} is out of range; it must be between 0 and 100 (0 = off)")
        if m.d_recon and self.data.size < 32:
            raise UserError("model.d_recon needs images of at least 32x32")
        if t.eval_features not in ("openmoji", "inception"):
            raise UserError(f"train.eval_features '{t.eval_features}' is unknown; choose openmoji or inception")
        from .models import ARCHS  # late import: models import nothing from config
        from .models.dcgan import UPSAMPLES

        if m.g_upsample not in UPSAMPLES:
            raise UserError(f"model.g_upsample '{m.g_upsample}' is unknown; choose {' or '.join(UPSAMPLES)}")

        if m.arch not in ARCHS:
            raise UserError(f"model.arch '{m.arch}' is unknown; choose one of {', '.join(sorted(ARCHS))}")
        if t.balance and ARCHS[m.arch][2]:
            raise UserError(f"train.balance reweights the images of an unconditional G; model.arch '{m.arch}' is "
                            f"conditional (its labels would be shown to D at other rates than G draws them)")
        if t.focus and ARCHS[m.arch][2]:
            raise UserError(f"train.focus chooses images for an unconditional G; model.arch '{m.arch}' is conditional "
                            f"(to draw some labels, generate them by name)")
        if t.focus and t.balance:
            raise UserError("train.focus and train.balance both choose how often each image is drawn; set one")
        if t.mirror and t.imle:
            raise UserError("train.mirror shows D each image or its mirror image, train.imle matches a latent to each "
                            "image as it is; choose one")
        if t.imle and ARCHS[m.arch][2]:
            raise UserError(f"train.imle matches latents for an unconditional G; model.arch '{m.arch}' is conditional")
        if not 1 <= m.d_pack <= 8:
            raise UserError(f"model.d_pack {m.d_pack} is out of range; it must be between 1 and 8 (1 = off)")
        if m.d_pack > 1 and (ARCHS[m.arch][2] or m.d_recon):
            raise UserError("model.d_pack works with the unconditional dcgan without model.d_recon")
        if m.clusters and not ARCHS[m.arch][2]:
            raise UserError(f"model.clusters conditions on clusters of the training images; it needs a conditional "
                            f"model.arch (cdcgan), not '{m.arch}'")
        if m.neighbors and not ARCHS[m.arch][2]:
            raise UserError(f"model.neighbors conditions on neighbourhoods of the training images; it needs a "
                            f"conditional model.arch (cdcgan), not '{m.arch}'")
        if m.neighbors and m.clusters:
            raise UserError("model.neighbors gives each training image its own class; it does not combine with "
                            "model.clusters (choose one)")
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


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("emojigan.presets").iterdir() if p.name.endswith(".toml"))


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
    text = (resources.files("emojigan.presets") / f"{name}.toml").read_text(encoding="utf-8")
    return Config.from_dict(tomllib.loads(text), source=f"preset {name}")


def resolve(preset: str | None = None, config_file: str | None = None,
            overrides: list[tuple[str, Any]] = ()) -> Config:
    """Preset, then config file, then overrides (flags and --set), then validation."""
    cfg = load_preset(preset) if preset else Config()
    if config_file:
        apply_dict(cfg, load_toml(config_file), source=str(config_file))
    for key, value in overrides:
        set_value(cfg, key, value)
    return cfg.validate()
