"""The GAN's losses, in two registries: the adversarial losses (`ADVERSARIAL`: D's and G's loss on D's logits,
chosen by `train.loss`) and the generator's regularizers (`REGULARIZERS`: extra terms of G's loss, each weighted by
`train.<name>`; 0 = off). Adding a regularizer is one decorated function here: the config accepts
`--set train.<name>=W`, the step adds the weighted term, and metrics.jsonl logs it as `loss_<name>`.

The regularizers act on what `evaluate` measures (image_stats.py), so a loss pulls on exactly the defect a metric
counts: faint alpha (grey specks over white), stray fragments (broken bits of outline), grain (speckle), mottled
fill, and alpha off the emoji's silhouette. Each is a continuation tool measured on the shipped models
(docs/RESULTS.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .image_stats import FAINT_ALPHA, MOTTLE_STD, fill_interior, local_std, median_residual, rgb01, small_parts, \
    stray_limit


# ------------------------------------------------------------------------------------------ adversarial
@dataclass(frozen=True)
class Adversarial:
    d: Callable[[torch.Tensor, torch.Tensor, float, float], torch.Tensor]  # (D(x), D(G(z)), real, fake targets)
    g: Callable[[torch.Tensor], torch.Tensor]                              # D(G(z)) -> G's loss


def _bce_d(d_real, d_fake, real_label, fake_label):
    return (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, real_label))
            + F.binary_cross_entropy_with_logits(d_fake, torch.full_like(d_fake, fake_label)))


ADVERSARIAL = {
    # the report's non-saturating binary cross-entropy, with its label-smoothing targets
    "bce": Adversarial(_bce_d, lambda d_gen: F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))),
    # hinge (SAGAN, BigGAN); the targets do not apply
    "hinge": Adversarial(lambda r, f, *_: torch.relu(1 - r).mean() + torch.relu(1 + f).mean(),
                         lambda d_gen: -d_gen.mean()),
}


# ----------------------------------------------------------------------------------------- regularizers
@dataclass
class Batch:
    """What a regularizer sees in the G step: G's images (with gradient), the real batch, the labels drawn."""
    fake: torch.Tensor
    real: torch.Tensor
    fake_labels: torch.Tensor | None = None


@dataclass
class TrainingImages:
    """What a regularizer may precompute from, once per run: the training images on the device, each image's
    class (a conditional model's label), the class count, and the run's options (`train.*`)."""
    images: torch.Tensor
    classes: torch.Tensor
    n_classes: int
    conditional: bool
    options: Any = None


@dataclass(frozen=True)
class Regularizer:
    name: str
    max_weight: float
    rgba_only: bool          # acts on the alpha channel: off on black/white data
    graphable: bool          # no host work in it, so the step can still be a CUDA graph
    needs_images: bool       # `prepare` must see the training images (without them the others use each batch)
    loss: Callable[[Batch, Any], torch.Tensor]
    prepare: Callable[[TrainingImages], Any]
    doc: str


REGULARIZERS: dict[str, Regularizer] = {}


def regularizer(name: str, max_weight: float, *, rgba_only: bool = False, graphable: bool = True,
                needs_images: bool = False, prepare: Callable[[TrainingImages], Any] | None = None):
    """Register `fn(batch, prepared) -> unweighted loss` as G's regularizer `name` (`train.<name>` weighs it);
    `prepare(training_images)` computes `prepared` once per run."""
    def deco(fn):
        REGULARIZERS[name] = Regularizer(name, max_weight, rgba_only, graphable, needs_images, fn,
                                         prepare or (lambda images: None), (fn.__doc__ or "").strip())
        return fn
    return deco


# faint alpha ------------------------------------------------------------------------------------------
def alpha_mass(x: torch.Tensor, hi: float = FAINT_ALPHA[1]) -> torch.Tensor:
    """Mean alpha of an RGBA batch in [-1, 1] over its pixels below `hi` (0 elsewhere): the faint matter of the
    transparent background, whose gradient pushes every faint pixel toward 0."""
    a = (x[:, 3].float() + 1) / 2
    return (a * (a < hi)).mean()


def faint_alpha_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """relu(alpha_mass(fake) - alpha_mass(real)): G pays for the faint alpha its images hold beyond the real
    batch's. Renders have it only along anti-aliased outlines; a generator's background keeps a haze of alpha
    0.002-0.25 that D, seeing -0.95 beside -1, hardly punishes, and that shows as grey specks over white."""
    return torch.relu(alpha_mass(fake) - alpha_mass(real).detach())


@regularizer("faint_alpha", 10_000, rgba_only=True)
def _faint_alpha(b: Batch, _) -> torch.Tensor:
    """G's faint alpha (below 0.25) beyond the real batch's: against grey specks over white."""
    return faint_alpha_loss(b.fake, b.real)


# stray fragments --------------------------------------------------------------------------------------
FRAGMENT_ALPHA = (0.25, 0.5)  # the parts are found at each of these alpha levels: 0.5 is `evaluate`'s measure; 0.25
                             # also catches a fragment joined to the face only through half-transparent pixels, and
                             # one pushed just under 0.5, which would still show as a grey dot


def fragment_mask(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) 0/1 mask of an RGBA batch in [-1, 1]: its pixels in a stray fragment, a 4-connected part of
    at most STRAY_PIXELS pixels at 64x64 (scaled by area; `evaluate`'s stray-fragment measure) of the alpha above
    any level of FRAGMENT_ALPHA. Found on the CPU (`small_parts`), without gradient."""
    a = ((x[:, 3].detach().float().clamp(-1, 1) + 1) / 2).cpu().numpy()
    limit = stray_limit(*a.shape[-2:])
    mask = np.zeros(a.shape, bool)
    for i, im in enumerate(a):
        for level in FRAGMENT_ALPHA:
            labels, small = small_parts(im > level, limit)
            mask[i] |= small[labels]
    return torch.from_numpy(mask).to(x.device, x.dtype).unsqueeze(1)


def fragment_loss(fake: torch.Tensor) -> torch.Tensor:
    """G's alpha summed over its images' stray fragments (`fragment_mask`), averaged over the batch and counted in
    64x64 pixels (at 128x128 a pixel counts a quarter): each fragment pixel is pulled to transparent, however near the
    face it lies, and nothing else is touched."""
    a = (fake[:, 3:4].float() + 1) / 2
    area = fake.shape[-1] * fake.shape[-2] / 64 ** 2
    return (a * fragment_mask(fake).float()).sum() / (fake.shape[0] * area)


@regularizer("fragments", 100, rgba_only=True, graphable=False)
def _fragments(b: Batch, _) -> torch.Tensor:
    """G's alpha over its stray fragments (parts of at most 12 px at 64x64, found each step on the CPU). A
    continuation tool: stable at weight 1 only at a low rate (2e-5, as faces64 shipped); at the preset's rates
    faces broke into flecks at weight 5 (and on cond128 at 1)."""
    return fragment_loss(b.fake)


# grain ------------------------------------------------------------------------------------------------
GRAIN_VAR_FLOOR = 1e-3  # per pixel and channel, in [0, 1] units: a near-blank batch's share stays bounded
                        # (the emojis composited over black: 0.03-0.2; a blank batch's share exploded)


def _grain_parts(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(sum of squared residuals against the 3x3 median, sum of squared deviations from each image's channel
    means, the floor that sum is held above) of a batch in [-1, 1] as it looks (RGBA composited over black).
    The median is held constant."""
    img = rgb01(x)
    return (median_residual(img).square().sum(), (img - img.mean(dim=(2, 3), keepdim=True)).square().sum(),
            GRAIN_VAR_FLOOR * img.numel())


def grain_share(x: torch.Tensor) -> torch.Tensor:
    """A batch's high-frequency residual against its 3x3 median filter (per channel, as the images look: the
    residual `evaluate`'s noise measure averages) as a share of its variance. A share: fading, darkening or
    tinting an image changes neither the share nor, so, the loss (the raw residual let G escape by fading to
    transparent). The median is held constant, so the gradient moves each pixel toward its neighbourhood's median
    (a speck is pulled into the fill around it) and an edge, which a 3x3 median keeps, costs next to nothing."""
    res, var, floor = _grain_parts(x)
    return res / var.clamp_min(floor)


def dataset_grain(images: torch.Tensor, chunk: int = 32) -> float:
    """`grain_share` of a whole training set (summed in chunks): the reference `grain_loss` compares against.
    One batch of 16 real emojis is a poor one: on faces+cats at 128 px its residual varies by a factor of 3."""
    res = var = floor = 0.0
    with torch.no_grad():
        for i in range(0, len(images), chunk):
            r, v, f = _grain_parts(images[i:i + chunk])
            res, var, floor = res + float(r), var + float(v), floor + f
    return res / max(var, floor)


def grain_loss(fake: torch.Tensor, real: torch.Tensor | float) -> torch.Tensor:
    """relu(grain_share(fake) / reference - 1), the reference being the real images' share (a batch, or the
    training set's from `dataset_grain`): G pays for high-frequency residual beyond the renders', as a share of
    theirs; at or below it G pays nothing, so there is no pull toward blur."""
    ref = grain_share(real).detach().clamp_min(1e-8) if isinstance(real, torch.Tensor) else max(real, 1e-8)
    return torch.relu(grain_share(fake) / ref - 1)


@regularizer("grain", 1000, prepare=lambda t: dataset_grain(t.images))
def _grain(b: Batch, ref: float | None) -> torch.Tensor:
    """G's residual against a 3x3 median as a share of its variance, beyond the training set's: against speckle."""
    return grain_loss(b.fake, b.real if ref is None else ref)


# flat fill --------------------------------------------------------------------------------------------
FLAT_EPS = 1e-4  # under `flat_loss`'s root: a flat window's std reads 0.01, where the slope is finite


def flat_loss(fake: torch.Tensor) -> torch.Tensor:
    """The mean over the images' interior pixels (`fill_interior`, held constant) of their 5x5 window's colour std
    (`local_std`, on the colour as drawn, not composited, so alpha gets no gradient), capped at the top of
    MOTTLE_STD (0.08). Below the cap G pays for texture in a fill and each pixel is pulled toward its window's
    mean; a window across an outline or a feature is above it and costs a constant, so edges get no pull toward
    blur. Evaluate's `mottled_fill` counts what this removes."""
    x = fake.float().clamp(-1, 1)
    inner = fill_interior(x.detach()).float()
    s = local_std((x[:, :3] + 1) / 2, eps=FLAT_EPS).clamp(max=MOTTLE_STD[1])
    return (s * inner).sum() / inner.sum().clamp_min(1)


@regularizer("flat", 1000)
def _flat(b: Batch, _) -> torch.Tensor:
    """The mean 5x5-window colour std inside G's emojis, capped at 0.08: against blotchy texture in flat fills."""
    return flat_loss(b.fake)


# silhouette -------------------------------------------------------------------------------------------
SILHOUETTE_MARGIN, SILHOUETTE_ALPHA = 2, 0.02  # at 64x64: 2 pixels around the emoji's pixels of alpha above 0.02


def label_silhouettes(images: torch.Tensor, classes: torch.Tensor, n_classes: int,
                      margin: float = SILHOUETTE_MARGIN) -> torch.Tensor:
    """(n_classes, 1, H, W) bool masks (a byte a pixel: one per training image for an unconditional G), True
    where no training image of the class has alpha: outside each image's pixels of alpha above SILHOUETTE_ALPHA
    grown by `margin` pixels (at 64x64, scaled with the side and at least 1 unless 0), intersected over the
    class's images. `images` RGBA in [-1, 1]; `classes[i]` the class of image i."""
    a = (images[:, 3:4].float() + 1) / 2
    r = max(1, round(margin * images.shape[-1] / 64)) if margin > 0 else 0
    inside = F.max_pool2d((a > SILHOUETTE_ALPHA).float(), 2 * r + 1, stride=1, padding=r)
    union = torch.zeros(n_classes, *inside.shape[1:], device=images.device)
    union.index_add_(0, classes.to(images.device), inside)
    return union == 0


def silhouette_loss(fake: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """Mean alpha of G's images where their emoji has none (`outside`: each fake's row of `label_silhouettes`):
    G pays for every bit of alpha, faint or opaque, off its label's (or nearest training emoji's) silhouette."""
    a = (fake[:, 3:4].float() + 1) / 2
    outside = outside.to(a.dtype)
    return (a * outside).sum() / outside.sum().clamp_min(1)


def nearest_by_alpha(fake: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """For an unconditional G: each fake's nearest training image by its alpha channel (L2 over the pixels;
    `keys` (N, H*W) the training images' alpha in [0, 1]); no gradient. A face with a fleck beside it is
    nearest to a face without one, so the fleck lies off that face's silhouette, while an emoji's own parts
    (hands, tears, hats) lie on its nearest emoji's."""
    with torch.no_grad():
        a = (fake[:, 3].float().flatten(1) + 1) / 2
        return torch.cdist(a, keys).argmin(1)


@dataclass
class Silhouettes:
    masks: torch.Tensor             # one per label (conditional) or per training image (unconditional)
    keys: torch.Tensor | None       # unconditional: the training images' alpha, to find each fake's nearest


def silhouettes_of(t: TrainingImages) -> Silhouettes:
    """The silhouette masks of a run's training images (their mirror images too under `train.mirror`), grown by
    `train.silhouette_margin`."""
    margin = getattr(t.options, "silhouette_margin", SILHOUETTE_MARGIN)
    imgs, classes = t.images, t.classes.to(t.images.device)
    if getattr(t.options, "mirror", False):  # the mirror images are training images too
        imgs, classes = torch.cat([imgs, imgs.flip(-1)]), torch.cat([classes, classes])
    if t.conditional:
        return Silhouettes(label_silhouettes(imgs, classes, t.n_classes, margin), None)
    return Silhouettes(label_silhouettes(imgs, torch.arange(len(imgs), device=imgs.device), len(imgs), margin),
                       ((imgs[:, 3].float() + 1) / 2).flatten(1))


@regularizer("silhouette", 10_000, rgba_only=True, needs_images=True, prepare=silhouettes_of)
def _silhouette(b: Batch, s: Silhouettes) -> torch.Tensor:
    """G's mean alpha where its emoji has none: the label's (conditional), or the training image nearest in alpha
    (unconditional), grown by train.silhouette_margin: against faint haze and detached bits off the emoji."""
    rows = b.fake_labels if b.fake_labels is not None else nearest_by_alpha(b.fake, s.keys)
    return silhouette_loss(b.fake, s.masks[rows])
