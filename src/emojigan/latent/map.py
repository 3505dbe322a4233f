"""`emojigan latent-map`: the report's PCA / t-SNE analysis done on real emojis. The subset's emojis are encoded
(invert.encode) and drawn as thumbnails at the 2-D positions of their codes, each framed in its subgroup's colour,
with the model's own samples as small grey points behind; the HTML page beside the PNG (map.png: map.html) shows each emoji's name and its
reconstruction on hover.

The code a position is computed from: z for an unconditional model (one map per mixture: the members' latent spaces
are placed side by side in one projection, the member drawn as the marker's shape), the label embedding for a
conditional one (its meaning lives there; z barely changes the image)."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import torch

from .. import images
from ..errors import UserError
from ..files import atomic_write_text
from .invert import Codes, decode
from .sampling import z_from_seeds

METHODS = ("pca", "tsne")
SAMPLES = 512  # the model's own samples drawn as grey points


def code_vectors(gen, codes: Codes) -> np.ndarray:
    return (codes.embedding if gen.conditional else codes.z).numpy().astype(np.float64)


def sample_vectors(gen, n: int = SAMPLES) -> np.ndarray:
    if gen.conditional:  # every label's embedding: where the model's samples sit
        return gen.G.embed.weight.detach().double().numpy()
    return z_from_seeds(list(range(n)), gen.z_dim).double().numpy()


def project(x: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2), scaled to [0, 1] per axis."""
    if method not in METHODS:
        raise UserError(f"--method {method} is unknown; choose pca or tsne")
    if method == "pca":
        from sklearn.decomposition import PCA  # slow to import

        y = PCA(n_components=2, random_state=seed).fit_transform(x)
    else:
        from sklearn.manifold import TSNE  # slow to import

        y = TSNE(n_components=2, perplexity=min(30, max(2, len(x) // 4)), init="pca", random_state=seed).fit_transform(x)
    y = y - y.min(axis=0)
    return y / np.maximum(y.max(axis=0), 1e-9)


def _data_uri(im) -> str:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def latent_map(gen, codes: Codes, targets: torch.Tensor, subgroups: list[str], out: str | Path, method: str = "pca",
               title: str = "") -> dict:
    """Write OUT (map.png) and the page beside it (map.html); returns where each emoji went."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out} must be a .png file")
    real, samples = code_vectors(gen, codes), sample_vectors(gen)
    xy = project(np.concatenate([real, samples]), method)
    pos, grey = xy[:len(real)], xy[len(real):]
    groups = sorted(set(subgroups))
    import matplotlib  # slow to import: only figures need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(groups), 2)))
    colour = {g: colours[i] for i, g in enumerate(groups)}
    originals = images.for_display(images.to_pil(targets))
    recon = images.for_display(images.to_pil(decode(gen, codes)))
    fig, ax = plt.subplots(figsize=(14, 12))
    ax.scatter(grey[:, 0], grey[:, 1], s=6, c="#bbbbbb", zorder=0,
               label="label embeddings" if gen.conditional else f"{len(grey)} samples (their z)")
    for (x, y), im, g in zip(pos, originals, subgroups):
        box = AnnotationBbox(OffsetImage(np.asarray(im.resize((28, 28))), zoom=1), (x, y), frameon=True,
                             bboxprops={"edgecolor": colour[g], "linewidth": 2}, pad=0.1)
        ax.add_artist(box)
    for g in groups:
        ax.scatter([], [], marker="s", color=colour[g], label=g)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title or f"{len(pos)} emojis encoded, {method.upper()} of their "
                          f"{'label embeddings' if gen.conditional else 'latent codes'}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    cells = []
    for (x, y), name, g, a, b, s in zip(pos, codes.names, subgroups, originals, recon, codes.ssim):
        tip = html.escape(f"{name} ({g}), SSIM {s:.2f}")
        cells.append(f'<div class="e" style="left:{x * 92:.2f}%;top:{(1 - y) * 92:.2f}%;border-color:'
                     f'{matplotlib.colors.to_hex(colour[g])}" title="{tip}"><img class="emoji" src="{_data_uri(a)}">'
                     f'<img class="recon" src="{_data_uri(b)}"><span>{tip}</span></div>')
    page = ("<!doctype html><meta charset=utf-8><title>emojigan latent map</title><style>body{font-family:sans-serif}"
            "#m{position:relative;width:1100px;height:1100px}.e{position:absolute;border:2px solid;background:#fff}"
            ".e img{width:32px;height:32px;display:block}.e .recon,.e span{display:none}.e:hover{z-index:9}"
            ".e:hover .recon{display:block}.e:hover span{display:block;position:absolute;left:36px;top:0;"
            "background:#ffe;white-space:nowrap;padding:2px}</style>"
            f"<h1>{html.escape(title or 'latent map')}</h1><p>Hover an emoji: its name and its reconstruction below "
            f"it.</p><div id=m>{''.join(cells)}</div>")
    atomic_write_text(out.with_suffix(".html"), page)
    return {"names": codes.names, "positions": pos.tolist(), "subgroups": subgroups}
