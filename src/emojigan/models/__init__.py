"""Generator and discriminator networks. Pure modules: no file or network I/O in here."""
from .conditional import CondDiscriminator, CondGenerator
from .dcgan import Discriminator, Generator, dcgan_init

# arch name -> (Generator class, Discriminator class, conditional?); later families register here.
ARCHS = {"dcgan": (Generator, Discriminator, False), "cdcgan": (CondGenerator, CondDiscriminator, True)}


def is_conditional(arch: str) -> bool:
    return ARCHS[arch][2]


def build_generator(arch: str, size: int, channels: int, z_dim: int, g_base: int, max_channels: int,
                    n_classes: int = 0, embed_dim: int = 50):
    G_cls, _, cond = ARCHS[arch]
    if cond:
        return G_cls(n_classes, z_dim, embed_dim, size, channels, g_base, max_channels)
    return G_cls(z_dim=z_dim, size=size, channels=channels, base=g_base, max_channels=max_channels)


def build(arch: str, size: int, channels: int, z_dim: int, g_base: int, d_base: int, max_channels: int,
          n_classes: int = 0, embed_dim: int = 50, d_norm: str = "batch"):
    _, D_cls, cond = ARCHS[arch]
    G = build_generator(arch, size, channels, z_dim, g_base, max_channels, n_classes, embed_dim)
    if cond:
        D = D_cls(n_classes, embed_dim, size, channels, d_base, max_channels, norm=d_norm)
    else:
        D = D_cls(size=size, channels=channels, base=d_base, max_channels=max_channels, norm=d_norm)
    return G, D


__all__ = ["ARCHS", "Generator", "Discriminator", "CondGenerator", "CondDiscriminator", "build",
           "build_generator", "is_conditional", "dcgan_init"]
