"""Where a generator's speckle sits in frequency: is it a transposed-convolution checkerboard or broadband?

Draws N samples (conditional models: labels 0..N-1), takes the residual of each RGB channel against its 3x3
median filter (the noise measure of `emojigan evaluate`), and prints the share of the residual's power on the
Nyquist row and column of the 2-D spectrum (a stride-2 checkerboard puts its power there) against the share
a flat (white) spectrum would put there, and the residual energy by pixel phase (row mod 2, column mod 2).

    python scripts/residual_spectrum.py cond128 faces64 runs/c128-resize/generator.safetensors
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.ndimage import median_filter

from emojigan.errors import script_main
from emojigan.inference import load_generator


def spectrum_stats(rgb: np.ndarray) -> dict[str, float]:
    """Statistics of a batch of (N, 3, S, S) images' median-filter residuals."""
    res = rgb - median_filter(rgb, size=(1, 1, 3, 3), mode="nearest")
    power = (np.abs(np.fft.fft2(res, axes=(2, 3))) ** 2).mean(axis=(0, 1))
    side = power.shape[0]
    nyq = power[side // 2, :].sum() + power[:, side // 2].sum() - power[side // 2, side // 2]
    energy = (res ** 2).mean(axis=(0, 1))
    phases = [float(energy[i::2, j::2].mean()) for i in range(2) for j in range(2)]
    return {"side": side, "residual_energy": float(energy.mean()), "nyquist_share": float(nyq / power.sum()),
            "nyquist_share_flat": (2 * side - 1) / side ** 2,
            "phase_spread": (max(phases) - min(phases)) / float(np.mean(phases))}


def residual_spectrum(model: str, n: int = 64, seed: int = 0) -> dict[str, float]:
    g = load_generator(model, precision="fp32")  # a shipped name, a run folder or an export
    labels = [i % len(g.meta["classes"]) for i in range(n)] if g.meta.get("classes") else None
    return spectrum_stats(g.sample_tensor(n, seed, labels=labels).float().numpy()[:, :3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="shipped model names, run folders or .safetensors exports")
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    print("| model | side | residual energy | Nyquist share (flat spectrum) | phase spread |")
    print("|---|---|---|---|---|")
    for m in args.models:
        r = residual_spectrum(m, args.n)
        print(f"| {m} | {r['side']} | {r['residual_energy']:.4f} | {r['nyquist_share']:.3f} "
              f"({r['nyquist_share_flat']:.3f}) | {r['phase_spread']:.2f} |")


if __name__ == "__main__":
    script_main("residual_spectrum", main)
