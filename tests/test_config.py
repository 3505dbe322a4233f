import pytest

from emojigan import config
from emojigan.errors import UserError


def test_dcgan64_preset_is_the_report():
    c = config.load_preset("dcgan64")
    assert (c.data.subset, c.data.size, c.data.background) == ("faces", 64, "black")
    t = c.train
    assert (t.epochs, t.batch_size, t.lr_g, t.lr_d, t.beta1, t.beta2) == (500, 16, 1.5e-4, 1.05e-4, 0.4, 0.999)
    assert c.model.z_dim == 100


def test_overrides_are_typed(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[train]\nepochs = 7\n[data]\nsize = 32\n")
    c = config.resolve("dcgan64", str(f), [("train.lr_g", "2e-4"), ("train.batch_size", "8"),
                                           ("data.background", "white")])
    assert (c.train.epochs, c.data.size, c.train.lr_g, c.train.batch_size) == (7, 32, 2e-4, 8)
    assert isinstance(c.train.lr_g, float) and c.data.channels == 3
    assert config.resolve(None, None, [("data.background", "transparent")]).data.channels == 4


@pytest.mark.parametrize("overrides, words", [
    ([("train.epochs", "ten")], "train.epochs expects int, got 'ten'"),
    ([("train.epochs", "2.5")], "expects int"),
    ([("train.nope", "1")], "unknown key 'train.nope'"),
    ([("trainer.epochs", "1")], "unknown config section 'trainer'"),
    ([("data.size", "48")], "data.size 48 is not supported"),
    ([("train.epochs", "-3")], "train.epochs -3 is out of range"),
    ([("train.lr_g", "5")], "train.lr_g 5.0 is out of range"),
    ([("train.batch_size", "0")], "train.batch_size 0 is out of range"),
    ([("train.best_max_copies", "1.5")], "train.best_max_copies 1.5 is out of range"),
    ([("data.background", "pink")], "data.background 'pink' is unknown"),
    ([("train.device", "tpu")], "train.device 'tpu' is unknown"),
    ([("model.arch", "vqgan")], "model.arch 'vqgan' is unknown"),
    ([("model.g_upsample", "resize")], "model.g_upsample was removed from emojigan: it measured no gain"),
    ([("train.lecam", "0.3")], "train.lecam was removed from emojigan"),
    ([("train.flat", "-1")], "train.flat -1.0 is out of range"),
])
def test_bad_values(overrides, words):
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace(".", r"\.")):
        config.resolve("dcgan64", None, overrides)


def test_bad_preset_and_file(tmp_path):
    with pytest.raises(UserError, match="unknown preset 'dcgan65'; choose one of .*dcgan64"):
        config.load_preset("dcgan65")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs=")
    with pytest.raises(UserError, match="not valid TOML"):
        config.resolve(None, str(bad))
    with pytest.raises(UserError, match="does not exist"):
        config.resolve(None, str(tmp_path / "missing.toml"))


@pytest.mark.parametrize("name", config.preset_names())
def test_every_preset_resolves_and_builds(name):
    """Each shipped preset validates and its G and D build for its data and draw images of its size."""
    import torch

    from emojigan.models import build_from_config

    c = config.load_preset(name)
    n_classes = 120 if c.model.arch in ("cdcgan", "text") else 0
    G, D = build_from_config(c.model, c.data.size, c.data.channels, n_classes=n_classes,
                             text_dim=384 if c.model.arch == "text" else 0)
    G.eval(), D.eval()
    z = torch.randn(2, c.model.z_dim)
    y = torch.tensor([0, 119]) if n_classes else None
    with torch.no_grad():
        x = G(z, y) if n_classes else G(z)
        assert x.shape == (2, c.data.channels, c.data.size, c.data.size)
        assert (D(x, y) if n_classes else D(x)).shape == (2,)


def test_cond128_is_the_report_conditional_plus_ema_on_rgba_at_half_the_learning_rate_without_smoothing():
    report, ours = config.load_preset("cdcgan128"), config.load_preset("cond128")
    assert (ours.data.subset, ours.data.size, ours.data.background) == ("faces+cats", 128, "transparent")
    assert vars(ours.model) == vars(report.model)
    assert ours.train.diffaugment == "" and ours.train.ema == 0.999
    assert (ours.train.lr_g, ours.train.lr_d) == (report.train.lr_g / 2, report.train.lr_d / 2) == (2e-4, 2e-4)
    for key in ("batch_size", "beta1", "beta2"):
        assert getattr(ours.train, key) == getattr(report.train, key), key
    assert (report.train.real_label, report.train.fake_label) == (0.9, 0.1)   # the report's label smoothing ...
    assert (ours.train.real_label, ours.train.fake_label) == (1.0, 0.0)       # ... measured worse at 128x128
