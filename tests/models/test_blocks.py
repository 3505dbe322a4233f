"""The quality presets' blocks: self-attention, skip-layer excitation, D's self-supervised decoders."""
import pytest
import torch

from emojigan.models import build, build_from_config
from emojigan.models.blocks import SelfAttention, SkipExcitation, pick_quadrant, quadrants
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


def test_skip_excitation_gates_channels_in_0_1():
    sle = SkipExcitation(32, 8)
    low, high = torch.randn(2, 32, 4, 4), torch.randn(2, 8, 16, 16)
    with torch.no_grad():
        out = sle(low, high)
    gate = out / high
    assert out.shape == high.shape
    assert float(gate.min()) >= 0 and float(gate.max()) <= 1
    assert torch.allclose(gate[:, :, 0, 0], gate[:, :, 5, 9], atol=1e-5)   # one gate per channel


def test_quadrants_pick_the_right_corner():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    q = quadrants(x)
    assert q.shape == (2, 4, 1, 2, 2)
    assert torch.equal(q[0, 1], x[0, :, :2, 2:]) and torch.equal(q[1, 2], x[1, :, 2:, :2])
    picked = pick_quadrant(x, torch.tensor([3, 0]))
    assert torch.equal(picked[0], x[0, :, 2:, 2:]) and torch.equal(picked[1], x[1, :, :2, :2])


@pytest.mark.parametrize("size", [32, 64, 128])
def test_all_options_keep_shapes_and_train(size):
    torch.manual_seed(0)
    G, D = build("dcgan", size, 4, 16, 16, 16, 64, attention=True, sle=True, d_recon=True)
    assert any(isinstance(m, SelfAttention) for m in G.net) and any(isinstance(m, SelfAttention) for m in D.net)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, 4, size, size)
    logits, rec = D(x, part=torch.tensor([0, 1, 3]))
    assert logits.shape == (3,) and rec.ndim == 0 and float(rec.detach()) > 0
    assert D(x).shape == (3,)                              # without `part`: logits only
    rec.backward()
    assert D.decode_full.net[1].weight.grad.abs().sum() > 0 and D.decode_part.net[1].weight.grad.abs().sum() > 0


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


def test_sle_changes_the_output_and_off_matches_the_report():
    torch.manual_seed(0)
    plain = Generator(16, 64, 3, 16, 64)
    torch.manual_seed(0)
    with_sle = Generator(16, 64, 3, 16, 64, sle=True)
    assert sorted(with_sle.sle.keys()) == ["16", "32"]      # 4 -> 16 and 8 -> 32
    assert list(plain.state_dict()) == [k for k in with_sle.state_dict() if not k.startswith("sle.")]
    z = torch.randn(2, 16)
    plain.eval(), with_sle.eval()
    with_sle.load_state_dict(plain.state_dict(), strict=False)
    assert not torch.allclose(plain(z), with_sle(z))


def test_build_from_config_reads_export_dicts():
    G, D = build_from_config({"arch": "dcgan", "z_dim": 8, "g_base": 8, "d_base": 8, "max_channels": 32,
                              "attention": True, "d_recon": 0.5}, 32, 3)
    assert any(isinstance(m, SelfAttention) for m in G.net) and D.recon
    G, D = build_from_config({"arch": "dcgan", "z_dim": 8, "g_base": 8, "d_base": 8, "max_channels": 32}, 32, 3)
    assert not any(isinstance(m, SelfAttention) for m in G.net) and not D.recon   # older exports


def test_conditional_models_take_the_options():
    G, D = build("cdcgan", 32, 3, 8, 8, 8, 32, n_classes=5, embed_dim=4, attention=True, sle=True, d_recon=True)
    x = G(torch.randn(2, 8), torch.tensor([0, 4]))
    logits, rec = D(x, torch.tensor([0, 4]), part=torch.tensor([1, 2]))
    assert x.shape == (2, 3, 32, 32) and logits.shape == (2,) and float(rec.detach()) > 0


@pytest.mark.parametrize("norm", ["batch", "spectral"])
def test_projection_discriminator_depends_on_the_label(norm):
    torch.manual_seed(0)
    G, D = build("cdcgan", 32, 3, 8, 8, 8, 32, n_classes=5, embed_dim=4, d_norm=norm, d_recon=True,
                 d_cond="projection")
    D.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        D.embed.weight.normal_()
        a, b = D(x, torch.tensor([0, 0])), D(x, torch.tensor([3, 3]))
    assert a.shape == (2,) and not torch.allclose(a, b)                       # same image, other label
    logits, rec = D(x, torch.tensor([1, 2]), part=torch.tensor([0, 3]))
    assert logits.shape == (2,) and float(rec.detach()) > 0
    assert D.net.net[0].in_channels == 3                                      # no label channels


def test_minibatch_std_sees_batch_variety():
    from emojigan.models.blocks import MinibatchStd

    same = torch.ones(4, 3, 4, 4)
    varied = torch.randn(4, 3, 4, 4)
    assert MinibatchStd()(same).shape == (4, 4, 4, 4)
    assert float(MinibatchStd()(same)[:, 3].abs().max()) < 1e-3                # a collapsed batch: ~0
    assert float(MinibatchStd()(varied)[:, 3].min()) > 0.3
    for cond in (False, True):
        G, D = build("cdcgan" if cond else "dcgan", 32, 3, 8, 8, 8, 32, n_classes=3, embed_dim=4, d_mbstd=True,
                     d_cond="projection")
        x = torch.randn(5, 3, 32, 32)
        assert (D(x, torch.tensor([0, 1, 2, 0, 1])) if cond else D(x)).shape == (5,)


def test_packed_discriminator_judges_consecutive_images_together():
    torch.manual_seed(0)
    D = Discriminator(size=32, channels=4, base=8, max_channels=32, pack=2).eval()
    assert D.net[0].in_channels == 8                                        # two RGBA images stacked
    x = torch.randn(5, 4, 32, 32)
    out = D(x)
    assert out.shape == (2,)                                               # the fifth image is left out
    assert torch.allclose(out, D(x[:4]))
    swapped = x[[0, 1, 3, 2]]                                              # only the second pack changes
    assert torch.allclose(D(swapped)[0], out[0]) and not torch.allclose(D(swapped)[1], out[1])
    y = x.clone().requires_grad_(True)
    D(y).sum().backward()
    assert y.grad[:4].abs().sum() > 0 and y.grad[4].abs().sum() == 0
    with pytest.raises(ValueError, match="no self-supervised decoders"):
        Discriminator(size=32, channels=3, base=8, max_channels=32, pack=2, recon=True)


@pytest.mark.parametrize("sets, words", [([("model.d_pack", "0")], "model.d_pack 0 is out of range"),
                                         ([("model.d_pack", "2")], "unconditional dcgan")])
def test_pack_option_checks(sets, words):
    from emojigan.config import resolve
    from emojigan.errors import UserError

    with pytest.raises(UserError, match=words):
        resolve("cond128" if sets[0][1] == "2" else "faces64", None, sets)


@pytest.mark.parametrize("mode, uniform", [("transposed", False), ("resize", True)])
def test_resize_upsampling_has_no_checkerboard(mode, uniform):
    """On a constant map, resize + 3x3 conv gives a constant interior; the 4x4 stride-2 transposed convolution
    gives each of the four output phases its own 2x2 sub-kernel, the pattern behind checkerboard artifacts."""
    from emojigan.models.dcgan import _up

    torch.manual_seed(0)
    (*layers,) = _up(4, 2, mode)
    h = torch.ones(1, 4, 8, 8)
    with torch.no_grad():
        for layer in layers:
            h = layer(h)
    assert h.shape == (1, 2, 16, 16)
    inner = h[..., 1:-1, 1:-1]
    spread = float((inner - inner.mean(dim=(2, 3), keepdim=True)).abs().max())
    assert (spread < 1e-6) == uniform
    if not uniform:
        assert torch.allclose(inner[..., 0::2, 0::2], inner[..., 0:1, 0:1].expand_as(inner[..., 0::2, 0::2]))


@pytest.mark.parametrize("arch", ["dcgan", "cdcgan"])
def test_resize_generator_builds_trains_and_loads_from_exports(arch):
    torch.manual_seed(0)
    m = {"arch": arch, "z_dim": 8, "g_base": 8, "d_base": 8, "max_channels": 32, "embed_dim": 4,
         "g_upsample": "resize", "attention": True, "sle": arch == "dcgan"}
    G, D = build_from_config(m, 64, 4, n_classes=3 if arch == "cdcgan" else 0)
    net = G.net.net if arch == "cdcgan" else G.net
    kinds = [type(layer).__name__ for layer in net]
    assert kinds.count("ConvTranspose2d") == 1 and kinds.count("Upsample") == 4   # only 1x1 -> 4x4 stays
    args = (torch.randn(2, 8),) + ((torch.tensor([0, 2]),) if arch == "cdcgan" else ())
    x = G(*args)
    assert x.shape == (2, 4, 64, 64) and float(x.detach().abs().max()) <= 1
    D(x, *args[1:]).mean().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    old, _ = build_from_config({k: v for k, v in m.items() if k != "g_upsample"}, 64, 4,
                               n_classes=3 if arch == "cdcgan" else 0)              # exports without the key
    old_net = old.net.net if arch == "cdcgan" else old.net
    assert [type(layer).__name__ for layer in old_net].count("ConvTranspose2d") == 5
    with pytest.raises(ValueError, match="unknown upsampling 'bilinear'"):
        Generator(8, 32, 3, 8, 32, upsample="bilinear")
