"""Feature spaces: the shipped OpenMoji network, the Inception loader (with a TorchScript stand-in), and
the KID sanity order in every available space."""
import pytest
import torch
import torch.nn.functional as F

from emojigan.data import load_images
from emojigan.errors import UserError
from emojigan.features import load_feature_space
from emojigan.features.spaces import INCEPTION_FILE, load_openmoji
from emojigan.metrics.distribution import kid


@pytest.fixture(scope="module")
def faces64(tmp_path_factory):
    from emojigan.data import build_dataset

    p = build_dataset(tmp_path_factory.mktemp("ds") / "f64", "faces", 64, "black", progress=False)
    return load_images(p, 64, "black").images


def test_shipped_openmoji_network_loads_and_is_small():
    from emojigan.features.spaces import shipped_openmoji_path

    assert shipped_openmoji_path().stat().st_size < 5_000_000
    space = load_openmoji()
    assert space.dim == 256 and len(space.classes) == 119
    f = space(torch.zeros(3, 3, 32, 32))  # any size is resized to 64
    assert f.shape == (3, 256) and torch.isfinite(f).all()
    assert space(torch.zeros(2, 4, 64, 64)).shape == (2, 256)  # RGBA composited


def test_openmoji_network_recognises_faces(faces64):
    space = load_openmoji()
    with torch.inference_mode():
        pred = space.classifier(faces64[:40]).argmax(1)
    names = [space.classes[i] for i in pred]
    assert sum(n.startswith("face-") for n in names) >= 30


class _StandIn(torch.nn.Module):
    """Same calling convention as StyleGAN2-ADA's inception-2015-12-05.pt: uint8 NCHW, return_features."""

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = F.interpolate(x.float() / 255, size=(16, 16), mode="area")
        return x.flatten(1)[:, :64]


def _save_stand_in(path) -> None:
    """The real weights are a TorchScript file (loaded with torch.jit.load), so the stand-in must be one too: torch
    2.13 marks torch.jit.script deprecated, which is about writing new TorchScript, not about loading it."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script. is deprecated", category=DeprecationWarning)
        torch.jit.script(_StandIn()).save(str(path))


def test_inception_loader_with_torchscript_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOJIGAN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match=f"{INCEPTION_FILE}.*is not at .*--inception-weights PATH.*--features openmoji"):
        load_feature_space("inception")
    (tmp_path / "cache").mkdir()
    _save_stand_in(tmp_path / "cache" / INCEPTION_FILE)
    space = load_feature_space("inception")  # found in the cache folder
    assert space.dim == 64 and space(torch.zeros(2, 3, 64, 64)).shape == (2, 64)
    explicit = tmp_path / "elsewhere.pt"
    _save_stand_in(explicit)
    assert load_feature_space("inception", inception_weights=str(explicit)).dim == 64
    explicit.write_bytes(b"not torchscript")
    with pytest.raises(UserError, match="not a loadable TorchScript file"):
        load_feature_space("inception", inception_weights=str(explicit))


def _blur(x):
    k = torch.ones(3, 1, 5, 5) / 25
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k, groups=3)


@pytest.mark.parametrize("space_name", ["openmoji", "inception-stand-in"])
def test_kid_sanity_order(faces64, space_name, tmp_path):
    if space_name == "openmoji":
        space = load_feature_space("openmoji")
    else:
        _save_stand_in(tmp_path / "s.pt")
        space = load_feature_space("inception", inception_weights=str(tmp_path / "s.pt"))
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(faces64), generator=g)
    a, b = faces64[perm[:55]], faces64[perm[55:110]]
    fa = space(a)
    halves = kid(fa, space(b))[0]
    blurred = kid(fa, space(_blur(a)))[0]
    noise = kid(fa, space(torch.rand(55, 3, 64, 64, generator=g) * 2 - 1))[0]
    assert halves < blurred < noise, (halves, blurred, noise)
