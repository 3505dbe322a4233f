"""One training step of the report's GAN: a D update on real and fake, then a G update (non-saturating BCE).

Kept apart from the loop so that benchmarks time exactly what training runs.
"""
from __future__ import annotations

import torch
from torch import nn


class GANStep:
    """Holds G, D and their optimizers; `step(real, z)` updates both and returns detached statistics
    (loss_d, loss_g, mean D(x), mean D(G(z))) as one device tensor, so callers need not synchronise."""

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer):
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.bce = nn.BCEWithLogitsLoss()

    def step(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        G, D = self.G, self.D
        b = real.shape[0]
        ones = torch.ones(b, device=real.device)
        zeros = torch.zeros(b, device=real.device)
        # D step: maximise log D(x) + log(1 - D(G(z))); real and fake pass D separately (BatchNorm per batch)
        fake = G(z)
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = self.bce(d_real, ones) + self.bce(d_fake, zeros)
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()
        # G step: maximise log D(G(z)); D's weights need no gradient here, only its input does
        D.requires_grad_(False)
        loss_g = self.bce(D(fake), ones)
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_G.step()
        D.requires_grad_(True)
        with torch.no_grad():
            return torch.stack([loss_d, loss_g, torch.sigmoid(d_real).mean(), torch.sigmoid(d_fake).mean()])


def make_optimizers(G: nn.Module, D: nn.Module, lr_g: float, lr_d: float, betas: tuple[float, float],
                    device: torch.device) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for both; the fused kernel on CUDA, foreach (multi-tensor) elsewhere."""
    kw = {"fused": True} if device.type == "cuda" else {"foreach": True}
    return (torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas, **kw),
            torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas, **kw))
