"""The networks' options: self-attention, spectral norm in D, and exports of options since removed."""
import pytest
import torch

from emojigan.models import build, build_from_config, removed_options_in
from emojigan.models.blocks import SelfAttention
from emojigan.models.dcgan import Discriminator, Generator


def test_self_attention_starts_as_identity_and_mixes_positions():
    torch.manual_seed(0)
    att = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(att(x), x)                          # gate gamma = 0 at initialisation
    with torch.no_grad():
        att.gamma.fill_(1.0)
    y = att(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    x2 = x.clone()
    x2[:, :, 0, 0] += 5.0                                  # one corner changes ...
    changed = (att(x2) - y).abs().sum(dim=1)[0]
    assert changed[7, 7] > 0                               # ... and the opposite corner feels it (non-local)
    y.sum().backward()
    assert att.gamma.grad is not None and att.q.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("size", [32, 64, 128])
def test_all_options_keep_shapes_and_train(size):
    torch.manual_seed(0)
    G, D = build("dcgan", size, 4, 16, 16, 16, 64, attention=True, d_norm="spectral")
    assert any(isinstance(m, SelfAttention) for m in G.net) and any(isinstance(m, SelfAttention) for m in D.net)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, 4, size, size)
    logits = D(x)
    assert logits.shape == (3,)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)


def test_attention_sits_at_32x32():
    G, D = Generator(16, 64, 3, 16, 64, attention=True), Discriminator(64, 3, 16, 64, attention=True)
    sides = []
    for net, inp in ((G.net, torch.randn(1, 16, 1, 1)), (D.net, torch.randn(1, 3, 64, 64))):
        h = inp
        for layer in net:
            if isinstance(layer, SelfAttention):
                sides.append(h.shape[-1])
            h = layer(h)
    assert sides == [32, 32]


def test_build_from_config_reads_export_dicts():
    G, D = build_from_config({"arch": "dcgan", "z_dim": 8, "g_base": 8, "d_base": 8, "max_channels": 32,
                              "attention": True, "sle": False, "d_pack": 1}, 32, 3)   # removed options, off: ignored
    assert any(isinstance(m, SelfAttention) for m in G.net)
    G, D = build_from_config({"arch": "dcgan", "z_dim": 8, "g_base": 8, "d_base": 8, "max_channels": 32}, 32, 3)
    assert not any(isinstance(m, SelfAttention) for m in G.net)   # older exports
    assert removed_options_in({"sle": True, "d_pack": 1, "g_upsample": "resize"}) == \
        ["model.g_upsample='resize'", "model.sle=True"]


def test_conditional_models_take_the_options():
    G, D = build("cdcgan", 32, 3, 8, 8, 8, 32, n_classes=5, embed_dim=4, attention=True, d_norm="spectral")
    x = G(torch.randn(2, 8), torch.tensor([0, 4]))
    logits = D(x, torch.tensor([0, 4]))
    assert x.shape == (2, 3, 32, 32) and logits.shape == (2,)
    assert not torch.equal(D(x, torch.tensor([1, 3])), logits)   # D sees the label


