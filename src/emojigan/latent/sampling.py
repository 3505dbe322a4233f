"""Seeds -> latent vectors. One generator per seed, so an image depends on its own seed only
(EDM's `--seeds 0-63`), never on the batch it was drawn in or the device."""
from __future__ import annotations

import torch

from ..errors import UserError

MAX_SEED = 2**63 - 1


def parse_seeds(spec: str) -> list[int]:
    """'0-63', '5', '1,4,10-12' -> list of ints."""
    seeds: list[int] = []
    try:
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if part[0] != "-" else (part, "")
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise UserError(f"seeds '{spec}' must look like 0-63 or 1,4,10-12 (non-negative integers)") from None
    if not seeds or any(s < 0 or s > MAX_SEED for s in seeds):
        raise UserError(f"seeds '{spec}' must be non-negative integers below 2**63")
    if len(seeds) > 100_000:
        raise UserError(f"seeds '{spec}' asks for {len(seeds)} samples; at most 100000")
    return seeds


def check_truncation(truncation: float | None) -> None:
    """The one range check of --truncation T (None: off), for callers that must refuse it before slow work."""
    if truncation is not None and not 0 < truncation <= 10:
        raise UserError(f"--truncation {truncation} is out of range; it must be in (0, 10]")


def z_from_seeds(seeds: list[int], z_dim: int, truncation: float | None = None,
                 draws: list[int] | None = None) -> torch.Tensor:
    """(len(seeds), z_dim) standard normal vectors on the CPU, row k drawn from seed k alone.

    `truncation` T resamples every component with |z| > T (from the same seed's generator) until all lie
    within T: the truncation trick of BigGAN, meant to trade variety for cleaner samples (a G not trained for it
    may just draw worse: the shipped faces64 does below T = 1.5, docs/RESULTS.md). `draws[k]` = d takes the
    (d+1)-th vector seed k's generator yields (0, the default, is the first): a sample rejected at generation
    (`redraw`) is replaced by its seed's next draw, so it still depends on its own seed only."""
    check_truncation(truncation)
    if draws is not None and len(draws) != len(seeds):
        raise ValueError("one draw index per seed")
    out = torch.empty(len(seeds), z_dim)
    g = torch.Generator()
    for i, s in enumerate(seeds):
        g.manual_seed(int(s))
        for _ in range(1 + (draws[i] if draws is not None else 0)):
            z = torch.randn(z_dim, generator=g)
            if truncation is not None:
                for _ in range(1000):
                    bad = z.abs() > truncation
                    if not bad.any():
                        break
                    z[bad] = torch.randn(int(bad.sum()), generator=g)
                z = z.clamp(-truncation, truncation)  # only reached for absurdly small T
        out[i] = z
    return out


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latent vectors (falls back to lerp for nearly parallel ones);
    exactly `a` at t = 0 and `b` at t = 1."""
    if isinstance(t, (int, float)) and t in (0, 1):
        return (a if t == 0 else b).clone()
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    dot = (a_n * b_n).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    t = torch.as_tensor(t, dtype=a.dtype)
    lerp = (1 - t) * a + t * b
    sl = (torch.sin((1 - t) * omega) / so.clamp_min(1e-8)) * a + (torch.sin(t * omega) / so.clamp_min(1e-8)) * b
    return torch.where(so.abs() < 1e-6, lerp, sl)
