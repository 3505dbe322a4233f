import pytest
import torch

from emojigan.models import build
from emojigan.models.dcgan import Discriminator, Generator


@pytest.mark.parametrize("size", [32, 64, 128, 256])
@pytest.mark.parametrize("channels", [3, 4])
def test_shapes_every_size(size, channels):
    G, D = build("dcgan", size, channels, 100, 64, 64, 512)
    x = G(torch.randn(2, 100))
    assert x.shape == (2, channels, size, size)
    assert float(x.detach().abs().max()) <= 1.0              # Tanh output
    assert D(x).shape == (2,)
    assert G(torch.randn(2, 100, 1, 1)).shape == x.shape     # the report's 100x1x1 input too


def test_report_architecture_at_64():
    G, D = Generator(100, 64, 3), Discriminator(64, 3)
    convs = [m for m in G.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]        # section 4A, 5 layers
    assert isinstance(G.net[-1], torch.nn.Tanh)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in G.net) == 4     # all but the last layer
    dconvs = [m for m in D.net if isinstance(m, torch.nn.Conv2d)]
    assert len(dconvs) == 5 and all(c.kernel_size == (4, 4) for c in dconvs)   # section 4B
    assert [c.out_channels for c in dconvs] == [64, 128, 256, 512, 1]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in D.net) == 3     # not on first and last
    lrelu = [m for m in D.net if isinstance(m, torch.nn.LeakyReLU)]
    assert len(lrelu) == 4 and lrelu[0].negative_slope == 0.2
    # the pytorch/examples DCGAN parameter counts at 64x64
    assert sum(p.numel() for p in G.parameters()) == 3_576_704
    assert sum(p.numel() for p in D.parameters()) == 2_765_568


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    G = Generator(100, 64, 3)
    w = G.net[0].weight
    w = w.detach()
    assert abs(float(w.mean())) < 2e-3 and abs(float(w.std()) - 0.02) < 1e-3
    bn = G.net[1]
    assert abs(float(bn.weight.detach().mean()) - 1.0) < 5e-3 and float(bn.bias.detach().abs().max()) == 0.0


def test_bad_size():
    with pytest.raises(ValueError, match="power of two"):
        Generator(100, 48, 3)
