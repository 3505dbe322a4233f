"""Latent-space tools: per-seed sampling and spherical interpolation (inversion and directions come later)."""
from .sampling import parse_seeds, slerp, z_from_seeds

__all__ = ["parse_seeds", "slerp", "z_from_seeds"]
