"""One training step of the report's GAN: a D update on real and fake, then a G update.

Kept apart from the loop so that benchmarks time exactly what training runs. The losses come from the registries
in losses.py (the adversarial loss by `train.loss`, G's regularizers by their weights in `train.losses`); the step
only wires them. What makes it fast without changing what it computes: channels_last tensors, foreach/fused Adam,
no D weight gradients in the G step, statistics returned as one device tensor (no host synchronisation),
optional bf16 autocast, and on CUDA the whole step replayed as a CUDA graph (`GraphedStep`), which removes the
kernel-launch bound.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..config import TrainConfig
from ..losses import ADVERSARIAL, REGULARIZERS, Batch, TrainingImages
from ..models import KL_WEIGHT

BASE_STATS = ("loss_d", "loss_g", "d_real", "d_fake", "d_sign")
PATCH_STATS = ("loss_patch", "patch_real", "patch_fake")  # logged only with a patch discriminator
STATS = BASE_STATS + PATCH_STATS + tuple(f"loss_{name}" for name in REGULARIZERS)


@dataclass
class Nets:
    """What a step trains: G and D with their optimizers, and optionally the patch critic P with its own.
    `D_for_G` / `P_for_G` are what the G step calls: under DistributedDataParallel the unwrapped modules, so DDP
    does not wait for D gradients that the G step never produces."""
    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    P: nn.Module | None = None
    opt_P: torch.optim.Optimizer | None = None
    D_for_G: nn.Module | None = None
    P_for_G: nn.Module | None = None


def active_regularizers(t: TrainConfig, channels: int) -> dict[str, float]:
    """name -> weight of G's regularizers that are on; the alpha ones only on RGBA data."""
    return {name: w for name, w in t.losses.items()
            if w > 0 and (channels == 4 or not REGULARIZERS[name].rgba_only)}


def mismatched(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """For each label another one, never itself: shifted by 1 + (its neighbour's label mod n - 1). No random draw,
    so the step stays a CUDA graph."""
    return (labels + 1 + labels.roll(1) % (n_classes - 1)) % n_classes


class GANStep:
    """Holds the networks and their optimizers; `step(real, z)` updates D then G and returns detached statistics
    as one device tensor (`STATS` names them: the losses, mean sigmoid D(x) and D(G(z)), mean sign D(x) (ADA's
    overfitting measure), the patch critic's loss and outputs, and each regularizer's term before its weight).

    `t` is the run's `train` config: the adversarial loss and its targets, R1, the patch weight and the regularizer
    weights (`active_regularizers`); `images`, the training set the regularizers precompute from (the silhouettes,
    the grain reference); without it, those that need one compare against each real batch or refuse."""

    def __init__(self, nets: Nets, t: TrainConfig, precision: str = "fp32", augment=None,
                 images: TrainingImages | None = None, channels: int | None = None):
        self.nets = nets
        self.G, self.D, self.opt_G, self.opt_D = nets.G, nets.D, nets.opt_G, nets.opt_D
        self.D_for_G = nets.D_for_G if nets.D_for_G is not None else nets.D
        self.P_for_G = nets.P_for_G if nets.P_for_G is not None else nets.P
        self.precision = precision
        self.adversarial = ADVERSARIAL[t.loss]
        self.real_label, self.fake_label = t.real_label, t.fake_label  # D's targets (label smoothing: 0.9 / 0.1)
        self.r1_gamma, self.patch = t.r1_gamma, t.patch
        if self.patch > 0 and (nets.P is None or nets.opt_P is None):
            raise ValueError("a patch weight needs the patch discriminator P and its optimizer opt_P")
        self.augment = augment or (lambda x: x)  # DiffAugment: applied to every image D sees, real and fake
        chans = channels if channels is not None else (images.images.shape[1] if images is not None else 4)
        self.terms = []
        for name, w in active_regularizers(t, chans).items():
            reg = REGULARIZERS[name]
            if images is None and reg.needs_images:
                raise ValueError(f"the {name} loss needs the training images (images=TrainingImages(...))")
            self.terms.append((reg, w, reg.prepare(images) if images is not None else None))
        d = getattr(nets.D, "module", nets.D)
        self.n_classes = int(getattr(d, "n_classes", 0))
        self.mismatch = hasattr(d, "phrases") and self.n_classes > 1   # text models (models/text.py)
        # D's parameters the G step switches off and back on (FreezeD's frozen ones stay off throughout)
        self.d_trainable = [p for p in self.D_for_G.parameters() if p.requires_grad]
        if self.patch > 0:
            self.d_trainable += list(self.P_for_G.parameters())

    def autocast(self, device: torch.device):
        """The step's precision as a context (bf16 autocast or none)."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def step(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
             fake_labels: torch.Tensor | None = None, zero_grad: bool = True) -> torch.Tensor:
        """One D and one G update. Conditional models take the real images' `labels` and the labels the
        fakes are drawn for (`fake_labels`); unconditional ones take neither."""
        G, D, P = self.G, self.D, self.nets.P
        g_args, d_real_args = ((fake_labels,), (labels,)) if labels is not None else ((), ())
        zero = torch.zeros((), device=real.device)
        p_loss = p_real = p_fake = zero
        # D step: real and fake pass D separately (BatchNorm per batch)
        r1 = self.r1_gamma > 0
        with self.autocast(real.device):
            fake = G(z, *g_args)
            real_in = self.augment(real).detach().requires_grad_(True) if r1 else self.augment(real)
            fake_in = self.augment(fake.detach())
            d_real, d_fake = D(real_in, *d_real_args).float(), D(fake_in, *g_args).float()
            # a text model's D also learns that a real image with another emoji's text is fake (GAN-CLS, Reed et
            # al. 2016): otherwise it may judge realism alone, and G may ignore the text
            d_wrong = D(real_in, mismatched(labels, self.n_classes)).float() if self.mismatch else None
        loss_d = self.adversarial.d(d_real, d_fake if d_wrong is None else torch.cat([d_fake, d_wrong]),
                                    self.real_label, self.fake_label)
        if r1:  # R1: penalise D's gradient on (augmented) real images
            grad, = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
            loss_d = loss_d + self.r1_gamma / 2 * grad.float().square().sum(dim=(1, 2, 3)).mean()
        total_d = loss_d
        if self.patch > 0:  # the patch critic sees the very images D saw (augmented alike)
            with self.autocast(real.device):
                pr, pf = P(real_in).float(), P(fake_in).float()
            p_loss = self.adversarial.d(pr, pf, self.real_label, self.fake_label)
            p_real, p_fake = torch.sigmoid(pr).mean(), torch.sigmoid(pf).mean()
            total_d = loss_d + p_loss
            if zero_grad:
                self.nets.opt_P.zero_grad(set_to_none=True)
        if zero_grad:
            self.opt_D.zero_grad(set_to_none=True)
        total_d.backward()
        self.opt_D.step()
        if self.patch > 0:
            self.nets.opt_P.step()
        # G step: D's weights need no gradient here, only its input does
        for p in self.d_trainable:
            p.requires_grad_(False)
        with self.autocast(real.device):
            fake_in = self.augment(fake)
            d_gen = self.D_for_G(fake_in, *g_args).float()
        loss_g = self.adversarial.g(d_gen)  # logged loss_g stays the adversarial part
        total_g = loss_g
        if self.patch > 0:
            with self.autocast(real.device):
                p_gen = self.P_for_G(fake_in).float()
            total_g = total_g + self.patch * self.adversarial.g(p_gen)
        take_kl = getattr(getattr(G, "module", G), "take_kl", None)  # a text model's conditioning augmentation
        if take_kl is not None:
            total_g = total_g + KL_WEIGHT * take_kl()
        batch = Batch(fake, real, fake_labels)
        values = {}
        for reg, weight, prepared in self.terms:
            values[reg.name] = reg.loss(batch, prepared)
            total_g = total_g + weight * values[reg.name]
        if zero_grad:
            self.opt_G.zero_grad(set_to_none=True)
        total_g.backward()
        self.opt_G.step()
        for p in self.d_trainable:
            p.requires_grad_(True)
        with torch.no_grad():
            return torch.stack([loss_d, loss_g, torch.sigmoid(d_real).mean(), torch.sigmoid(d_fake).mean(),
                                torch.sign(d_real).mean(), p_loss.float(), p_real.float(), p_fake.float(),
                                *(values.get(name, zero).float() for name in REGULARIZERS)])


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
        return copy.deepcopy(g.G.state_dict()), copy.deepcopy(g.D.state_dict()), opt

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


def make_nets(G: nn.Module, D: nn.Module, lr_g: float, lr_d: float, betas: tuple[float, float],
              device: torch.device, capturable: bool = False) -> Nets:
    """G and D with an Adam each (`make_adam`), as a step trains them."""
    return Nets(G, D, make_adam(G, lr_g, betas, device, capturable), make_adam(D, lr_d, betas, device, capturable))
