"""One training step of the report's GAN: a D update on real and fake, then a G update (non-saturating BCE).

Kept apart from the loop so that benchmarks time exactly what training runs. What makes it fast without
changing what it computes: channels_last tensors, foreach/fused Adam, no D weight gradients in the G step,
statistics returned as one device tensor (no host synchronisation), optional bf16 autocast, and on CUDA
the whole step replayed as a CUDA graph (`GraphedStep`), which removes the kernel-launch bound.
"""
from __future__ import annotations

import copy
import functools
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

# FAINT_ALPHA: the faint range the faint-alpha metric counts, the faint loss's top; MOTTLE_STD's top: the flat loss's cap
from ..metrics.image_stats import (FAINT_ALPHA, MOTTLE_STD, fill_interior, local_std, median_residual, rgb01,
                                   small_parts, stray_limit)


STATS = ("loss_d", "loss_g", "d_real", "d_fake", "d_sign", "loss_recon", "loss_lecam", "loss_spectral",
         "loss_imle", "loss_patch", "patch_real", "patch_fake", "loss_faint", "loss_stray", "loss_grain",
         "loss_silhouette", "loss_fragments", "loss_flat")
PATCH_STATS = ("loss_patch", "patch_real", "patch_fake")  # logged only with a patch discriminator


@functools.lru_cache(maxsize=8)
def _rings(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For an h x w centred spectrum: which pixels lie within radius h // 2, their integer radius, and the
    pixel count of each ring (built once per image size, not at every step)."""
    yy, xx = torch.meshgrid(torch.arange(h, device=device) - h // 2, torch.arange(w, device=device) - w // 2,
                            indexing="ij")
    radius = (yy.square() + xx.square()).float().sqrt().round().long().flatten()
    keep = radius < h // 2
    return keep, radius[keep], torch.bincount(radius[keep], minlength=h // 2).clamp(min=1)


def radial_spectrum(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1] -> (N, H // 2) each image's power spectrum averaged over rings of equal
    spatial frequency (the azimuthal average of Durall et al. 2020), as a share of its total power; of the
    grey image as it looks (RGBA over black)."""
    from ..metrics.image_stats import rgb01

    power = torch.fft.fftshift(torch.fft.fft2(rgb01(x).mean(dim=1)), dim=(-2, -1)).abs().square()
    h, w = power.shape[-2:]
    keep, radius, counts = _rings(h, w, x.device)
    rings = torch.zeros(x.shape[0], h // 2, device=x.device).index_add_(1, radius, power.flatten(1)[:, keep])
    rings = rings / counts
    return rings / (rings.sum(dim=1, keepdim=True) + 1e-8)


def spectral_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Squared gap between the log batch-mean spectra (`radial_spectrum`) of fakes and reals (after Durall
    et al. 2020, "Watch your up-convolution"): G pays for a share of high-frequency power, such as speckle,
    that the real emojis lack. It compares the two batches' spectra, not images, so it asks for no particular
    image; shares of total power make it blind to brightness and keep a blank image from scoring well."""
    f, r = radial_spectrum(fake).mean(0), radial_spectrum(real).mean(0).detach()
    return (torch.log(f + 1e-8) - torch.log(r + 1e-8)).square().mean()


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


STRAY_WINDOW, STRAY_SUPPORT = 7, 0.25  # at 64x64: a 7x7 window, mean alpha below 0.25 = little around the pixel


def isolated_mass(x: torch.Tensor) -> torch.Tensor:
    """Mean alpha of an RGBA batch in [-1, 1] over its pixels with little alpha around them: the window's mean
    alpha (STRAY_WINDOW at 64x64, scaled with the image side) below STRAY_SUPPORT. A pixel of a detached bit of a
    few pixels has that; a pixel of a face, its outline or a tear has not. The window mean is held constant, so
    the gradient lowers the isolated pixel itself rather than growing its neighbours."""
    a = (x[:, 3:4].float() + 1) / 2
    k = max(3, round(STRAY_WINDOW * x.shape[-1] / 64)) | 1
    support = F.avg_pool2d(a.detach(), k, stride=1, padding=k // 2, count_include_pad=True)
    return (a * (support < STRAY_SUPPORT)).mean()


def stray_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """relu(isolated_mass(fake) - isolated_mass(real)): G pays for the stray bits of outline it leaves beside a
    face beyond what the real batch holds (`evaluate`'s stray-fragment rate counts them)."""
    return torch.relu(isolated_mass(fake) - isolated_mass(real).detach())


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
    face it lies (the silhouette loss spares a margin around the nearest emoji and the stray loss pixels with a face
    in their window), and nothing else is touched. A continuation tool: at weight 5 on faces64, and at weight 1 on
    cond128 from a fresh optimizer (session 22), faces broke into flecks and the loss ran away."""
    a = (fake[:, 3:4].float() + 1) / 2
    area = fake.shape[-1] * fake.shape[-2] / 64 ** 2
    return (a * fragment_mask(fake).float()).sum() / (fake.shape[0] * area)


SILHOUETTE_MARGIN, SILHOUETTE_ALPHA = 2, 0.02  # at 64x64: 2 pixels around the emoji's pixels of alpha above 0.02


def label_silhouettes(images: torch.Tensor, classes: torch.Tensor, n_classes: int,
                      margin: float = SILHOUETTE_MARGIN) -> torch.Tensor:
    """(n_classes, 1, H, W) bool masks (a byte a pixel: one per training image for an unconditional G), True
    where no training image of the class has alpha: outside each image's
    pixels of alpha above SILHOUETTE_ALPHA grown by `margin` pixels (at 64x64, scaled with the side and at least 1
    unless 0), intersected over the class's images. `images` RGBA in [-1, 1]; `classes[i]` the class of image i."""
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


GRAIN_VAR_FLOOR = 1e-3  # per pixel and channel, in [0, 1] units: a near-blank batch's share stays bounded
                        # (the emojis composited over black: 0.03-0.2; a blank batch's share exploded, session 15)


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
    tinting an image (a scale or a constant per channel, each one bias away in G) changes neither the share
    nor, so, the loss; the raw residual let G escape by fading to transparent within 10 steps on cond128, and a
    share of the raw energy by tinting everything blue. The median is held constant, so the gradient moves each
    pixel toward its neighbourhood's median (a speck is pulled into the fill around it) and an edge, which a 3x3
    median keeps, costs next to nothing."""
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


FLAT_EPS = 1e-4  # under `flat_loss`'s root: a flat window's std reads 0.01, where the slope is finite


def flat_loss(fake: torch.Tensor) -> torch.Tensor:
    """The mean over the images' interior pixels (`fill_interior`, held constant) of their 5x5 window's colour std
    (`local_std`, on the colour as drawn, not composited, so alpha gets no gradient), capped at the top of
    MOTTLE_STD (0.08). Below the cap G pays for texture in a fill and each pixel is pulled toward its window's
    mean; a window across an outline or a feature is above it and costs a constant, so edges get no pull toward
    blur and there is no gain in drawing more texture. Evaluate's `mottled_fill` counts what this removes."""
    x = fake.float().clamp(-1, 1)
    inner = fill_interior(x.detach()).float()
    s = local_std((x[:, :3] + 1) / 2, eps=FLAT_EPS).clamp(max=MOTTLE_STD[1])
    return (s * inner).sum() / inner.sum().clamp_min(1)


class GANStep:
    """Holds G, D and their optimizers; `step(real, z)` updates both and returns detached statistics
    (loss_d, loss_g, mean sigmoid D(x), mean sigmoid D(G(z)), mean sign D(x) (ADA's overfitting measure),
    D's reconstruction loss, the LeCam, spectral and IMLE terms before their weights, and the patch
    discriminator's loss and mean sigmoid outputs on real and fake patches, and the faint-alpha, stray, grain,
    silhouette, fragment and flat-fill terms)
    as one device tensor (`STATS` names them).

    `D_for_G` is the discriminator the G step calls: under DistributedDataParallel, the unwrapped
    `D.module`, so DDP does not wait for D gradients that the G step never produces; `P_for_G` likewise for
    the patch discriminator `P` (trained by `opt_P` in the D step, weighted by `patch` in the G step)."""

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 precision: str = "fp32", D_for_G: nn.Module | None = None, real_label: float = 1.0,
                 fake_label: float = 0.0, augment=None, loss: str = "bce", r1_gamma: float = 0.0,
                 d_recon: float = 0.0, rng: torch.Generator | None = None, mode_seeking: float = 0.0,
                 spectral: float = 0.0, lecam: float = 0.0, lecam_decay: float = 0.99, imle: float = 0.0,
                 P: nn.Module | None = None, opt_P: torch.optim.Optimizer | None = None, patch: float = 0.0,
                 P_for_G: nn.Module | None = None, faint_alpha: float = 0.0, stray: float = 0.0,
                 grain: float = 0.0, grain_ref: float | None = None, silhouette: float = 0.0,
                 outside: torch.Tensor | None = None, silhouette_keys: torch.Tensor | None = None,
                 fragments: float = 0.0, flat: float = 0.0):
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.D_for_G = D_for_G if D_for_G is not None else D
        self.bce = nn.BCEWithLogitsLoss()
        self.precision = precision
        self.real_label, self.fake_label = real_label, fake_label  # D's targets (label smoothing: 0.9 / 0.1)
        self.augment = augment or (lambda x: x)  # DiffAugment: applied to every image D sees, real and fake
        self.loss, self.r1_gamma = loss, r1_gamma
        self.d_recon, self.rng = d_recon, rng  # self-supervised D: loss weight, and the quadrant draws' RNG
        self.mode_seeking = mode_seeking  # MSGAN weight (0 = off)
        self.spectral = spectral  # weight of the spectral loss in the G step (0 = off)
        self.P, self.opt_P, self.patch = P, opt_P, patch  # PatchGAN critic (0 / None = off)
        self.P_for_G = P_for_G if P_for_G is not None else P
        if patch > 0 and (P is None or opt_P is None):
            raise ValueError("a patch weight needs the patch discriminator P and its optimizer opt_P")
        self.faint_alpha = faint_alpha  # weight of `faint_alpha_loss` in the G step (RGBA only; 0 = off)
        self.stray = stray  # weight of `stray_loss` in the G step (RGBA only; 0 = off)
        self.fragments = fragments  # weight of `fragment_loss` in the G step (RGBA only; 0 = off)
        self.grain = grain  # weight of `grain_loss` in the G step (0 = off)
        self.flat = flat  # weight of `flat_loss` in the G step (0 = off)
        self.grain_ref = grain_ref  # the training set's grain energy (`dataset_grain`); None: each real batch's
        # weight of `silhouette_loss`, and its masks: per label (conditional), or per training image with the
        # images' alpha as `silhouette_keys` to find each fake's nearest (unconditional, `nearest_by_alpha`)
        self.silhouette, self.outside, self.silhouette_keys = silhouette, outside, silhouette_keys
        if silhouette > 0 and outside is None:
            raise ValueError("a silhouette weight needs each label's or image's mask (label_silhouettes)")
        self.imle = imle  # weight of the matched latents' pixel loss in the G step (training/imle.py; 0 = off)
        # LeCam (Tseng et al. 2021): D is pulled toward the moving averages of its own outputs on the other
        # class; `lecam_ema` holds [mean D(real), mean D(fake)] (logits), updated in place every step
        self.lecam, self.lecam_decay = lecam, lecam_decay
        self.lecam_ema = torch.zeros(2, device=next(G.parameters()).device)
        # D's parameters the G step switches off and back on (FreezeD's frozen ones stay off throughout)
        self.d_trainable = [p for p in self.D_for_G.parameters() if p.requires_grad]
        if self.patch > 0:
            self.d_trainable += list(self.P_for_G.parameters())

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        if self.loss == "hinge":
            return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
        return (self.bce(d_real, torch.full_like(d_real, self.real_label))
                + self.bce(d_fake, torch.full_like(d_fake, self.fake_label)))

    def g_loss(self, d_gen: torch.Tensor) -> torch.Tensor:
        if self.loss == "hinge":
            return -d_gen.mean()
        return self.bce(d_gen, torch.ones_like(d_gen))

    def mode_seeking_loss(self, fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """MSGAN (Mao et al. 2019): 1 / (mean|G(z1) - G(z2)| / mean|z1 - z2|) over the batch's two halves, so
        G is paid for sending different latents to different images (it counters mode collapse)."""
        h = fake.shape[0] // 2
        ratio = ((fake[:h] - fake[h:2 * h]).float().abs().mean()
                 / (z[:h] - z[h:2 * h]).float().abs().mean())
        return 1 / (ratio + 1e-5)

    def lecam_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        """LeCam regularization: E[relu(D(x) - ema_fake)^2] + E[relu(ema_real - D(G(z)))^2], with the moving
        averages first updated by this batch (decay 0.99, as in the paper). It bounds how far D can push real
        and fake logits apart, the overfitting of D on a small dataset. Under DDP the batch means are averaged over
        the ranks first, so every rank holds the same averages (those of the global batch) and a resumed run, which
        restores rank 0's, continues exactly."""
        with torch.no_grad():
            means = torch.stack([d_real.mean(), d_fake.mean()]).float()
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                dist.all_reduce(means)  # a sum: gloo has no average
                means /= dist.get_world_size()
            self.lecam_ema.lerp_(means, 1 - self.lecam_decay)
        ema_real, ema_fake = self.lecam_ema[0], self.lecam_ema[1]
        return torch.relu(d_real - ema_fake).square().mean() + torch.relu(ema_real - d_fake).square().mean()

    def autocast(self, device: torch.device):
        """The step's precision as a context (bf16 autocast or none), for work outside the step (IMLE's matching)."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def step(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
             fake_labels: torch.Tensor | None = None, zero_grad: bool = True,
             imle_z: torch.Tensor | None = None) -> torch.Tensor:
        """One D and one G update. Conditional models take the real images' `labels` and the labels the
        fakes are drawn for (`fake_labels`); unconditional ones take neither. With `imle`, `imle_z` holds the
        matched latent of each real image of the batch (`imle.match_latents`)."""
        G, D = self.G, self.D
        cond = labels is not None
        g_args, d_real_args = ((fake_labels,), (labels,)) if cond else ((), ())
        # D step: maximise log D(x) + log(1 - D(G(z))); real and fake pass D separately (BatchNorm per batch)
        r1 = self.r1_gamma > 0
        rec = torch.zeros((), device=real.device)
        lecam = spec = im = p_loss = p_real = p_fake = faint = stray = grain = sil = frag = flat = rec  # the regularizers' unweighted values, logged when on
        with self.autocast(real.device):
            fake = G(z, *g_args)
            aug = self.augment
            real_in = aug(real).detach().requires_grad_(True) if r1 else aug(real)
            if self.d_recon > 0:  # D also reconstructs the real image and a random quadrant of it
                part = torch.randint(0, 4, (real.shape[0],), generator=self.rng, device=real.device)
                d_real, rec = D(real_in, *d_real_args, part=part)
            else:
                d_real = D(real_in, *d_real_args)
            fake_in = aug(fake.detach())
            d_real, d_fake = d_real.float(), D(fake_in, *g_args).float()
        loss_d = self.d_loss(d_real, d_fake)
        if self.lecam > 0:
            lecam = self.lecam_loss(d_real, d_fake)
            loss_d = loss_d + self.lecam * lecam
        if self.d_recon > 0:
            loss_d = loss_d + self.d_recon * rec.float()
        if r1:  # R1: penalise D's gradient on (augmented) real images
            grad, = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
            loss_d = loss_d + self.r1_gamma / 2 * grad.float().square().sum(dim=(1, 2, 3)).mean()
        total_d = loss_d
        if self.patch > 0:  # the patch critic sees the very images D saw (augmented alike)
            with self.autocast(real.device):
                pr, pf = self.P(real_in).float(), self.P(fake_in).float()
            p_loss = self.d_loss(pr, pf)
            p_real, p_fake = torch.sigmoid(pr).mean(), torch.sigmoid(pf).mean()
            total_d = loss_d + p_loss
            if zero_grad:
                self.opt_P.zero_grad(set_to_none=True)
        if zero_grad:
            self.opt_D.zero_grad(set_to_none=True)
        total_d.backward()
        self.opt_D.step()
        if self.patch > 0:
            self.opt_P.step()
        # G step: maximise log D(G(z)); D's weights need no gradient here, only its input does
        for p in self.d_trainable:
            p.requires_grad_(False)
        with self.autocast(real.device):
            fake_in = self.augment(fake)
            d_gen = self.D_for_G(fake_in, *g_args).float()
        loss_g = self.g_loss(d_gen)
        total_g = loss_g
        if self.mode_seeking > 0 and fake.shape[0] >= 2:  # logged loss_g stays the adversarial part
            total_g = loss_g + self.mode_seeking * self.mode_seeking_loss(fake, z)
        if self.patch > 0:
            with self.autocast(real.device):
                p_gen = self.P_for_G(fake_in).float()
            total_g = total_g + self.patch * self.g_loss(p_gen)
        if self.spectral > 0:
            spec = spectral_loss(fake, real)
            total_g = total_g + self.spectral * spec
        if self.faint_alpha > 0:
            faint = faint_alpha_loss(fake, real)
            total_g = total_g + self.faint_alpha * faint
        if self.stray > 0:
            stray = stray_loss(fake, real)
            total_g = total_g + self.stray * stray
        if self.fragments > 0:
            frag = fragment_loss(fake)
            total_g = total_g + self.fragments * frag
        if self.grain > 0:
            grain = grain_loss(fake, real if self.grain_ref is None else self.grain_ref)
            total_g = total_g + self.grain * grain
        if self.flat > 0:
            flat = flat_loss(fake)
            total_g = total_g + self.flat * flat
        if self.silhouette > 0 and (fake_labels is not None or self.silhouette_keys is not None):
            rows = fake_labels if fake_labels is not None else nearest_by_alpha(fake, self.silhouette_keys)
            sil = silhouette_loss(fake, self.outside[rows])
            total_g = total_g + self.silhouette * sil
        if self.imle > 0 and imle_z is not None:
            from .imle import imle_loss

            with self.autocast(real.device):
                recon = G(imle_z)  # unconditional only (Config.validate)
            im = imle_loss(recon, real)
            total_g = total_g + self.imle * im
        if zero_grad:
            self.opt_G.zero_grad(set_to_none=True)
        total_g.backward()
        self.opt_G.step()
        for p in self.d_trainable:
            p.requires_grad_(True)
        with torch.no_grad():
            return torch.stack([loss_d, loss_g, torch.sigmoid(d_real).mean(), torch.sigmoid(d_fake).mean(),
                                torch.sign(d_real).mean(), rec.float(), lecam.float(), spec.float(),
                                im.float(), p_loss.float(), p_real.float(), p_fake.float(), faint.float(),
                                stray.float(), grain.float(), sil.float(), frag.float(), flat.float()])


class GraphedStep:
    """Replays `GANStep.step` as one CUDA graph per batch size. Inputs are copied into static buffers, so
    data order and noise stay exactly those of the eager loop; capture warm-up runs on copies of all
    state, which is restored, so capture leaves the training state where it was. On an H200 a graphed and an
    eager 70-step dcgan64 run ended with weights up to 0.70 apart, as chaotic as float rounding alone makes
    them (`benchmarks/gan_divergence.py`: 0.49 from a 1e-7 perturbation on the CPU). Any failure falls back
    to the eager step with a warning."""

    def __init__(self, gan: GANStep):
        self.gan = gan
        self.graphs: dict[tuple, tuple] = {}
        self.failed = False

    def _state(self):
        g = self.gan
        opt = [{p: {k: v.clone() for k, v in st.items() if torch.is_tensor(v)} for p, st in o.state.items()}
               for o in (g.opt_G, g.opt_D)]
        return copy.deepcopy(g.G.state_dict()), copy.deepcopy(g.D.state_dict()), opt, g.lecam_ema.clone()

    def _restore(self, saved):
        """In place: the captured graph holds the addresses of every parameter, buffer and Adam state."""
        g = self.gan
        g.G.load_state_dict(saved[0])  # copies into the existing tensors
        g.D.load_state_dict(saved[1])
        for o, st_saved in zip((g.opt_G, g.opt_D), saved[2]):
            with torch.no_grad():
                for p, st in o.state.items():
                    for k, v in st.items():
                        if torch.is_tensor(v):
                            v.copy_(st_saved[p][k]) if p in st_saved else v.zero_()
            g.lecam_ema.copy_(saved[3])

    def _capture(self, *inputs: torch.Tensor):
        g = self.gan
        saved = self._state()
        static = [x.clone() for x in inputs]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                g.step(*static)
        torch.cuda.current_stream().wait_stream(side)
        self._restore(saved)
        for opt in (g.opt_G, g.opt_D):
            opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):  # recorded, not run: the state stays as restored
            static_out = g.step(*static, zero_grad=False)
        return graph, static, static_out

    def step(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
             fake_labels: torch.Tensor | None = None) -> torch.Tensor:
        inputs = [x for x in (real, z, labels, fake_labels) if x is not None]
        if self.failed:
            return self.gan.step(*inputs)
        key = tuple(tuple(x.shape) for x in inputs)
        try:
            if key not in self.graphs:
                self.graphs[key] = self._capture(*inputs)
            graph, static, static_out = self.graphs[key]
            for buf, x in zip(static, inputs):
                buf.copy_(x)
            graph.replay()
            return static_out.clone()
        except RuntimeError as e:  # capture is not possible everywhere (old drivers, some ops)
            warnings.warn(f"CUDA graph capture failed ({str(e).splitlines()[0][:120]}); training eagerly")
            self.failed = True
            self.graphs.clear()
            return self.gan.step(*inputs)


def make_adam(net: nn.Module, lr: float, betas: tuple[float, float], device: torch.device,
              capturable: bool = False) -> torch.optim.Optimizer:
    """Adam over a network's trainable parameters: the fused kernel on CUDA (capturable for CUDA graphs),
    foreach (multi-tensor) elsewhere."""
    kw = {"fused": True, "capturable": capturable} if device.type == "cuda" else {"foreach": True}
    return torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr, betas=betas, **kw)


def make_optimizers(G: nn.Module, D: nn.Module, lr_g: float, lr_d: float, betas: tuple[float, float],
                    device: torch.device, capturable: bool = False) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """`make_adam` for G and for D."""
    return make_adam(G, lr_g, betas, device, capturable), make_adam(D, lr_d, betas, device, capturable)
