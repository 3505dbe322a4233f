"""Figures of an evaluation, drawn only from what evaluate wrote (metrics.json, arrays.npz) and the run's
metrics.jsonl: nothing is recomputed here."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..files import read_metrics

FAKE, REAL = "#d9480f", "#1c7ed6"

# file -> (title, what the report (section 7) observed, for the side-by-side reading)
FIGURES: dict[str, tuple[str, str]] = {
    "losses.png": ("Loss progression", "Report: unstable for 0-200 iterations (G loss up to 6), then G 1-1.5 and "
                   "D 0.5-1, later both fluctuating between 0.5 and 2.5."),
    "ssim_over_epochs.png": ("SSIM over epochs (and KID)", "Report: SSIM rose from 0.00 to 0.15 in 25 epochs, "
                             "hovered at 0.14-0.15 until epoch 100, peaked at 0.24 around epoch 140."),
    "colour.png": ("Colour distribution", "Report: a dense cluster of colours in a narrow spectrum (yellow, red, "
                   "black, white): low colour diversity."),
    "feature_variance.png": ("Feature variance", "Report: heavily left-skewed, most variance at low values: "
                             "samples look alike."),
    "pairwise_distances.png": ("Pairwise pixel distances", "Report: bell-shaped, peaking around 25-30: "
                               "moderately distinct samples."),
    "edges.png": ("Edge quality (Sobel)", "Report: low edge magnitudes (0.11-0.12): soft, noisy edges."),
    "noise.png": ("Noise (residual against a 3x3 median)", "Report: significant noise in the outputs."),
    "pca.png": ("PCA of generated and real features", "Report: a dense circular cluster around (0, 0)."),
    "tsne.png": ("t-SNE of generated and real features", "Report: one dense cluster, no distinct groups."),
    "feature_distances.png": ("Distance distribution in feature space", "Report: peaks around 2, few pairs "
                              "beyond 6: most samples highly similar."),
    "memorization.png": ("Nearest-training SSIM (memorization)", "Not in the report: how close each sample is "
                         "to its nearest training emoji; at or above 0.95 counts as a copy."),
}


def _hist(ax, fake, real, bins, label, ratio=None):
    ax.hist(real, bins=bins, alpha=0.55, color=REAL, density=True, label="real")
    ax.hist(fake, bins=bins, alpha=0.55, color=FAKE, density=True, label="generated")
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend()
    if ratio is not None:
        ax.set_title(f"generated / real = {ratio:.2f}")


def write_figures(out: Path, run: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import hsv_to_rgb

    m = json.loads((out / "metrics.json").read_text())
    a = dict(np.load(out / "arrays.npz"))
    rows = read_metrics(run / "metrics.jsonl")
    train = [r for r in rows if "loss_d" in r]
    evals = [r for r in rows if r.get("kind") == "eval"]
    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(name)

    fig, ax = plt.subplots(figsize=(8, 4))
    if train:
        ax.plot([r["step"] for r in train], [r["loss_g"] for r in train], color=FAKE, lw=1, label="G loss")
        ax.plot([r["step"] for r in train], [r["loss_d"] for r in train], color=REAL, lw=1, label="D loss")
        ax.legend()
    else:  # a shipped model: its training log is not shipped
        ax.text(0.5, 0.5, "no training log (a shipped model: its card says how it was trained)", ha="center",
                va="center", transform=ax.transAxes)
    ax.set_xlabel("iteration (G and D steps)")
    ax.set_ylabel("BCE loss")
    save(fig, "losses.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    if evals:
        ax.plot([r["epoch"] for r in evals], [r["ssim_nearest"] for r in evals], "o-", color=FAKE,
                label="mean nearest-training SSIM")
        ax.set_ylabel("SSIM")
        ax2 = ax.twinx()
        ax2.plot([r["epoch"] for r in evals], [r["kid"] for r in evals], "s--", color=REAL, label="KID")
        ax2.set_ylabel("KID")
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
    else:
        ax.text(0.5, 0.5, "this run was trained without --eval-every", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("epoch")
    save(fig, "ssim_over_epochs.png")

    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    _hist(axes[0], a["hsv"][:, 0], a["hsv_real"][:, 0], np.linspace(0, 1, 37), "hue")
    _hist(axes[1], a["hsv"][:, 1], a["hsv_real"][:, 1], np.linspace(0, 1, 21), "saturation")
    for ax, key, title in ((axes[2], "hsv_real", "real"), (axes[3], "hsv", "generated")):
        pts = a[key][:4000]
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], c=hsv_to_rgb(pts), s=4)
        ax.set(xlabel="hue", ylabel="saturation", title=f"{title} pixel colours", xlim=(0, 1), ylim=(0, 1))
    save(fig, "colour.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    _hist(ax, a["feature_variance"], a["feature_variance_real"], 40, "per-feature variance")
    save(fig, "feature_variance.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    _hist(ax, a["pixel_distances"], a["pixel_distances_real"], 50, "L2 distance between images (pixels in [0, 1])")
    save(fig, "pairwise_distances.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    _hist(ax, a["edges"], a["edges_real"], 40, "mean Sobel magnitude per image", m["edge_ratio"])
    save(fig, "edges.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    _hist(ax, a["noise"], a["noise_real"], 40, "high-frequency residual energy per image", m["noise_ratio"])
    save(fig, "noise.png")

    is_real = a["embedding_is_real"]
    for key, name in (("pca", "pca.png"), ("tsne", "tsne.png")):
        fig, ax = plt.subplots(figsize=(6, 6))
        pts = a[key]
        ax.scatter(pts[~is_real, 0], pts[~is_real, 1], s=8, color=FAKE, alpha=0.6, label="generated")
        ax.scatter(pts[is_real, 0], pts[is_real, 1], s=14, color=REAL, alpha=0.9, label="real")
        ax.legend()
        ax.set_title(key.upper() + f" ({m['features']} features)")
        save(fig, name)

    fig, ax = plt.subplots(figsize=(8, 4))
    _hist(ax, a["feature_distances"], a["feature_distances_real"], 50, f"pairwise distance ({m['features']} features)")
    save(fig, "feature_distances.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(a["ssim_nearest"], bins=np.linspace(0, 1, 41), color=FAKE)
    ax.axvline(0.95, color="k", ls="--", label=f"copy threshold 0.95 (copy rate {m['copy_rate']:.1%})")
    ax.set(xlabel="SSIM to the nearest training emoji", ylabel="samples")
    ax.legend()
    save(fig, "memorization.png")
    return written
