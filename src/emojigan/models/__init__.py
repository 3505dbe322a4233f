"""Generator and discriminator networks. Pure modules: no file or network I/O in here."""
from .blocks import PatchDiscriminator, SelfAttention
from .conditional import CondDiscriminator, CondGenerator
from .dcgan import Discriminator, Generator, dcgan_init, n_blocks
from .text import KL_WEIGHT, TextDiscriminator, TextGenerator

# arch name -> (Generator class, Discriminator class, conditional?); later families register here.
ARCHS = {"dcgan": (Generator, Discriminator, False), "cdcgan": (CondGenerator, CondDiscriminator, True),
         "text": (TextGenerator, TextDiscriminator, True)}

# options that earlier versions had, with the value that means "off": an export or run that still carries one
# loads when it is off, and is refused by name when it is on (docs/RESULTS.md, the ablation table, says why each went)
REMOVED_MODEL_OPTIONS = {"g_upsample": "transposed", "sle": False, "d_recon": 0.0, "d_mbstd": False, "d_pack": 1,
                         "d_cond": "concat", "clusters": 0, "neighbors": 0}


def is_conditional(arch: str) -> bool:
    return ARCHS[arch][2]


def canonical(model: dict) -> dict:
    """A model dict without the removed options it holds at their "off" values (older exports carry them)."""
    return {k: v for k, v in model.items() if not (k in REMOVED_MODEL_OPTIONS and v == REMOVED_MODEL_OPTIONS[k])}


def removed_options_in(model: dict) -> list[str]:
    """The removed options a model dict switches on (`REMOVED_MODEL_OPTIONS`)."""
    return [f"model.{k}={model[k]!r}" for k, off in REMOVED_MODEL_OPTIONS.items() if k in model and model[k] != off]


def build_generator(arch: str, size: int, channels: int, z_dim: int, g_base: int, max_channels: int,
                    n_classes: int = 0, embed_dim: int = 50, attention: bool = False, text_dim: int = 0):
    G_cls, _, cond = ARCHS[arch]
    if arch == "text":
        return G_cls(n_classes, z_dim, embed_dim, size, channels, g_base, max_channels, attention, text_dim)
    if cond:
        return G_cls(n_classes, z_dim, embed_dim, size, channels, g_base, max_channels, attention=attention)
    return G_cls(z_dim=z_dim, size=size, channels=channels, base=g_base, max_channels=max_channels,
                 attention=attention)


def build(arch: str, size: int, channels: int, z_dim: int, g_base: int, d_base: int, max_channels: int,
          n_classes: int = 0, embed_dim: int = 50, d_norm: str = "batch", attention: bool = False, text_dim: int = 0):
    _, D_cls, cond = ARCHS[arch]
    G = build_generator(arch, size, channels, z_dim, g_base, max_channels, n_classes, embed_dim, attention, text_dim)
    if arch == "text":
        D = D_cls(n_classes, embed_dim, size, channels, d_base, max_channels, d_norm, attention, text_dim)
    elif cond:
        D = D_cls(n_classes, embed_dim, size, channels, d_base, max_channels, norm=d_norm, attention=attention)
    else:
        D = D_cls(size=size, channels=channels, base=d_base, max_channels=max_channels, norm=d_norm,
                  attention=attention)
    return G, D


def _g_options(m: dict) -> dict:
    """G's keyword arguments from a model dict; keys that older exports lack take their defaults."""
    return {"n_classes": m.get("n_classes", 0), "embed_dim": m.get("embed_dim", 50),
            "attention": m.get("attention", False), "text_dim": m.get("text_dim", 0)}


def build_from_config(model, size: int, channels: int, n_classes: int = 0, text_dim: int = 0):
    """G and D for a `ModelConfig` (or its dict form, as exports store it) plus the data's shape (and, for a text
    model, its sentence encoder's dimension)."""
    m = {**(model if isinstance(model, dict) else vars(model)), "n_classes": n_classes}
    if text_dim:
        m["text_dim"] = text_dim
    return build(m["arch"], size, channels, m["z_dim"], m["g_base"], m["d_base"], m["max_channels"],
                 **_g_options(m), d_norm=m.get("d_norm", "batch"))


def generator_from_config(model: dict, size: int, channels: int):
    """G alone for an export's model dict (with its `n_classes`), as `load_generator` needs it."""
    return build_generator(model["arch"], size, channels, model["z_dim"], model["g_base"], model["max_channels"],
                           **_g_options(model))


__all__ = ["ARCHS", "KL_WEIGHT", "TextGenerator", "TextDiscriminator", "Generator", "Discriminator", "CondGenerator", "CondDiscriminator", "PatchDiscriminator",
           "SelfAttention", "REMOVED_MODEL_OPTIONS", "build", "build_from_config", "build_generator", "canonical",
           "generator_from_config", "is_conditional", "n_blocks", "removed_options_in", "dcgan_init"]
