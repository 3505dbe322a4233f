"""Generator and discriminator networks. Pure modules: no file or network I/O in here."""
from .conditional import CondDiscriminator, CondGenerator
from .dcgan import Discriminator, Generator, dcgan_init

# arch name -> (Generator class, Discriminator class, conditional?); later families register here.
ARCHS = {"dcgan": (Generator, Discriminator, False), "cdcgan": (CondGenerator, CondDiscriminator, True)}


def is_conditional(arch: str) -> bool:
    return ARCHS[arch][2]


def build_generator(arch: str, size: int, channels: int, z_dim: int, g_base: int, max_channels: int,
                    n_classes: int = 0, embed_dim: int = 50, attention: bool = False, sle: bool = False,
                    g_upsample: str = "transposed"):
    G_cls, _, cond = ARCHS[arch]
    if cond:
        return G_cls(n_classes, z_dim, embed_dim, size, channels, g_base, max_channels, attention=attention, sle=sle,
                     upsample=g_upsample)
    return G_cls(z_dim=z_dim, size=size, channels=channels, base=g_base, max_channels=max_channels,
                 attention=attention, sle=sle, upsample=g_upsample)


def build(arch: str, size: int, channels: int, z_dim: int, g_base: int, d_base: int, max_channels: int,
          n_classes: int = 0, embed_dim: int = 50, d_norm: str = "batch", attention: bool = False,
          sle: bool = False, d_recon: bool = False, d_cond: str = "concat", d_mbstd: bool = False,
          d_pack: int = 1, g_upsample: str = "transposed"):
    _, D_cls, cond = ARCHS[arch]
    G = build_generator(arch, size, channels, z_dim, g_base, max_channels, n_classes, embed_dim, attention, sle,
                        g_upsample)
    if cond:
        D = D_cls(n_classes, embed_dim, size, channels, d_base, max_channels, norm=d_norm, attention=attention,
                  recon=d_recon, cond=d_cond, mbstd=d_mbstd)
    else:
        D = D_cls(size=size, channels=channels, base=d_base, max_channels=max_channels, norm=d_norm,
                  attention=attention, recon=d_recon, mbstd=d_mbstd, pack=d_pack)
    return G, D


def _g_options(m: dict) -> dict:
    """G's keyword arguments from a model dict; keys that older exports lack take their defaults."""
    return {"n_classes": m.get("n_classes", 0), "embed_dim": m.get("embed_dim", 50),
            "attention": m.get("attention", False), "sle": m.get("sle", False),
            "g_upsample": m.get("g_upsample", "transposed")}


def build_from_config(model, size: int, channels: int, n_classes: int = 0):
    """G and D for a `ModelConfig` (or its dict form, as exports store it) plus the data's shape."""
    m = {**(model if isinstance(model, dict) else vars(model)), "n_classes": n_classes}
    return build(m["arch"], size, channels, m["z_dim"], m["g_base"], m["d_base"], m["max_channels"],
                 **_g_options(m), d_norm=m.get("d_norm", "batch"), d_recon=m.get("d_recon", 0) > 0,
                 d_cond=m.get("d_cond", "concat"), d_mbstd=m.get("d_mbstd", False),
                 d_pack=m.get("d_pack", 1))


def generator_from_config(model: dict, size: int, channels: int):
    """G alone for an export's model dict (with its `n_classes`), as `load_generator` needs it."""
    return build_generator(model["arch"], size, channels, model["z_dim"], model["g_base"], model["max_channels"],
                           **_g_options(model))


__all__ = ["ARCHS", "Generator", "Discriminator", "CondGenerator", "CondDiscriminator", "build",
           "build_from_config", "build_generator", "generator_from_config", "is_conditional", "dcgan_init"]
