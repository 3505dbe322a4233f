"""Latent matching (IMLE, train.imle): the assignment, the matching, the G-step term, training and resume."""
import json

import pytest
import torch
from torch import nn

from emojigan.config import resolve
from emojigan.errors import UserError
from emojigan.models import build
from emojigan.training.imle import assign, match_latents, thumbnails
from emojigan.training.step import STATS
from tests.conftest import TINY, assert_same_training_state, train_split_and_resumed
from tests.conftest import tiny_gan as _gan


def test_assignment_is_one_to_one_and_optimal_where_greedy_is_not():
    cost = torch.tensor([[1.0, 2.0, 9.0],
                         [1.0, 10.0, 9.0]])
    # greedy nearest-first gives row 0 column 0 and row 1 column 2 (total 10); the optimum is 2 + 1 = 3
    assert assign(cost).tolist() == [1, 0]
    big = torch.rand(50, 80)
    cols = assign(big)
    assert len(set(cols.tolist())) == 50                     # no two images share a latent


class Lookup(nn.Module):
    """A G without BatchNorm, so that an image does not depend on the rest of its batch."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.proj = nn.Linear(z_dim, 3 * 16 * 16)

    def forward(self, z):
        return torch.tanh(self.proj(z)).view(-1, 3, 16, 16)


def test_matching_finds_the_latents_that_made_the_images():
    torch.manual_seed(0)
    G = Lookup(8)
    pool = torch.randn(40, 8, generator=torch.Generator().manual_seed(3))   # the pool match_latents draws
    wanted = [5, 17, 3, 39, 22]
    with torch.no_grad():
        real = G(pool[wanted])
    z = match_latents(G, real, 8, 40, 16, torch.Generator().manual_seed(3))
    assert torch.equal(z, pool[wanted])
    # a pool smaller than the dataset is enlarged to it, so every image still gets a latent of its own
    z = match_latents(G, real, 8, 2, 16, torch.Generator().manual_seed(3))
    assert z.shape == (5, 8) and len({tuple(r.tolist()) for r in z}) == 5


def test_matching_leaves_batchnorm_statistics_and_mode_alone():
    torch.manual_seed(0)
    G, _ = build("dcgan", 32, 4, 16, 8, 8, 32)
    G.eval()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    z = match_latents(G, torch.rand(7, 4, 32, 32) * 2 - 1, 16, 20, 4, torch.Generator().manual_seed(0))
    assert z.shape == (7, 16) and not G.training
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert thumbnails(torch.zeros(2, 4, 32, 32)).shape == (2, 4 * 16 * 16)


def test_imle_term_is_in_the_g_step_only():
    real, z, z_match = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 16), torch.randn(4, 16)
    plain, matched = _gan(), _gan(imle=1.0)
    a, b = plain.step(real, z), matched.step(real, z, imle_z=z_match)
    assert torch.equal(a[:2], b[:2])             # the same D update; logged loss_g is the adversarial part
    assert float(a[STATS.index("loss_imle")]) == 0
    # G's matched images start far from the real ones: a mean absolute gap of a few tenths on [-1, 1]
    assert 0.1 < float(b[STATS.index("loss_imle")]) < 2
    assert torch.equal(plain.D.state_dict()["net.0.weight"], matched.D.state_dict()["net.0.weight"])
    assert not torch.equal(plain.G.state_dict()["net.0.weight"], matched.G.state_dict()["net.0.weight"])


def test_imle_pulls_matched_images_toward_their_emojis():
    """Only the IMLE term (no D): a few G steps shrink the gap between G(z_i) and x_i."""
    torch.manual_seed(0)
    gan = _gan(imle=1.0)
    real = (torch.rand(8, 3, 1, 1) * 2 - 1).expand(8, 3, 32, 32)  # flat colours: within reach of a few steps
    z_match = torch.randn(8, 16)
    gan.D_for_G = lambda x: torch.zeros(x.shape[0])            # a constant D: the adversarial gradient is zero
    gaps = [float(gan.step(real, torch.randn(8, 16), imle_z=z_match)[STATS.index("loss_imle")]) for _ in range(50)]
    assert gaps[-1] < 0.6 * gaps[0]


def test_imle_run_trains_logs_and_resumes_exactly(faces32_rgba, tmp_path):
    opts = ["--set", "train.imle=1", "--set", "train.imle_every=3", "--set", "train.imle_pool=64",
            "--checkpoint-every", "2", "--sample-every", "100", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 4, "--preset", "faces64", "--data", faces32_rgba, *opts)
    assert_same_training_state(ref, part, 4 * 7)
    sa = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)
    sb = torch.load(part / "checkpoints" / "latest.pt", weights_only=True)
    assert sa["imle_z"].shape == (111, 100) and torch.equal(sa["imle_z"], sb["imle_z"])
    rows = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
    assert rows and all(r["loss_imle"] > 0 and "loss_lecam" not in r for r in rows)


def test_imle_settings_are_checked():
    with pytest.raises(UserError, match="train.imle -1.0 is out of range"):
        resolve("faces64", None, [("train.imle", "-1")])
    with pytest.raises(UserError, match="train.imle_every 0 is out of range"):
        resolve("faces64", None, [("train.imle", "1"), ("train.imle_every", "0")])
    with pytest.raises(UserError, match="unconditional G; model.arch 'cdcgan' is conditional"):
        resolve("cond128", None, [("train.imle", "1")])
