"""The CUDA-graph step computes the eager step: same state, same inputs, step by step. Runs only where CUDA is
(the lent GPU machine: `python3 -m pytest -q tests/training/test_cuda_graph.py`); CI has no GPU."""

import copy

import pytest
import torch

from emojigan.models import build
from emojigan.config import TrainConfig
from emojigan.training.step import GANStep, GraphedStep, make_nets

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_graphed_step_equals_eager_step():
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    torch.manual_seed(0)
    G, D = (m.to(dev, memory_format=torch.channels_last) for m in build("dcgan", 32, 3, 100, 64, 64, 512))
    runs = []
    for graphed in (False, True):
        g, d = copy.deepcopy(G), copy.deepcopy(D)
        gan = GANStep(make_nets(g, d, 1.5e-4, 1.05e-4, (0.4, 0.999), dev, capturable=True), TrainConfig())
        stepper = GraphedStep(gan) if graphed else gan
        data = torch.Generator(device=dev).manual_seed(1)
        stats = []
        for _ in range(3):
            real = torch.rand(16, 3, 32, 32, device=dev, generator=data) * 2 - 1
            z = torch.randn(16, 100, device=dev, generator=data)
            stats.append(stepper.step(real.contiguous(memory_format=torch.channels_last), z))
        if graphed:
            assert not stepper.failed and len(stepper.graphs) == 1
        runs.append((g.state_dict(), d.state_dict(), torch.stack(stats).cpu()))
    (g0, d0, s0), (g1, d1, s1) = runs
    torch.testing.assert_close(s1, s0, rtol=1e-4, atol=1e-5)
    for a, b in ((g0, g1), (d0, d1)):
        for k in a:
            # one Adam step moves a weight by at most lr; the paths may differ by rounding only
            assert (a[k].float() - b[k].float()).abs().max().item() < 1e-5, k
