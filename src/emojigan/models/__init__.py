"""Generator and discriminator networks. Pure modules: no file or network I/O in here."""
from .dcgan import Discriminator, Generator, dcgan_init

# arch name -> (Generator class, Discriminator class); later families register here.
ARCHS = {"dcgan": (Generator, Discriminator)}


def build(arch: str, size: int, channels: int, z_dim: int, g_base: int, d_base: int, max_channels: int):
    G_cls, D_cls = ARCHS[arch]
    G = G_cls(z_dim=z_dim, size=size, channels=channels, base=g_base, max_channels=max_channels)
    D = D_cls(size=size, channels=channels, base=d_base, max_channels=max_channels)
    return G, D


__all__ = ["ARCHS", "Generator", "Discriminator", "build", "dcgan_init"]
