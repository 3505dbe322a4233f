"""The conditional DCGAN: shapes, label lookup, a tiny run through the CLI, generation by name, interpolation."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from emojigan.data.names import LabelIndex
from emojigan.errors import UserError
from emojigan.models import CondDiscriminator, CondGenerator
from tests.conftest import run_cli

SLIM = ["--size", "32", "--set", "model.g_base=16", "--set", "model.d_base=16", "--set", "model.max_channels=64",
        "--quiet"]


@pytest.mark.parametrize("size", [32, 64, 128])
def test_conditional_shapes(size):
    G = CondGenerator(120, z_dim=100, embed_dim=50, size=size)
    D = CondDiscriminator(120, embed_dim=50, size=size)
    y = torch.tensor([0, 5, 119])
    x = G(torch.randn(3, 100), y)
    assert x.shape == (3, 3, size, size) and D(x, y).shape == (3,)
    assert G.embed.weight.shape == (120, 50) and D.embed.weight.shape == (120, 50)
    assert G.net.net[0].in_channels == 150                      # z (100) + embedding (50)
    assert D.net.net[0].in_channels == 3 + 50                   # image + embedding map
    e = G.embed(y)
    assert torch.equal(G(torch.zeros(3, 100), embedding=e), G(torch.zeros(3, 100), y))


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    from emojigan.data import build_dataset

    data = build_dataset(tmp_path_factory.mktemp("ds") / "fc32", "faces+cats", 32, "black", progress=False)
    out = tmp_path_factory.mktemp("runs") / "cond"
    run_cli("train", "--preset", "cdcgan128", "--data", data, "--epochs", "2", "--sample-every", "1",
            "--out", out, *SLIM)
    return out


def test_tiny_conditional_run(cond_run):
    cfg = json.loads((cond_run / "config.json").read_text())
    assert cfg["model"]["arch"] == "cdcgan" and cfg["train"]["real_label"] == 0.9
    assert cfg["train"]["fake_label"] == 0.1 and cfg["train"]["lr_g"] == 4e-4 and cfg["dataset"]["count"] == 120
    meta = json.loads((cond_run / "generator.json").read_text())
    assert meta["model"]["n_classes"] == 120 and meta["classes"][0]["hexcode"] == "1F600"
    assert (cond_run / "samples" / "epoch-000002.png").is_file()


def test_label_lookup_every_form(cond_run):
    classes = json.loads((cond_run / "generator.json").read_text())["classes"]
    ix = LabelIndex(classes)
    hexes = {q: classes[ix.find(q)]["hexcode"] for q in [
        "face blowing a kiss", ":kissing_heart:", "kissing_heart", "Kissing Heart", "😘", "1f618", "1F618",
        "wink", "winking", "heart_eyes", "heart eyes", "roll_eyes", "rolling eyes", "star_struck", "star-struck",
        "crying_cat_face", "Crying Cat Face", "smiley"]}
    assert hexes["face blowing a kiss"] == hexes[":kissing_heart:"] == hexes["😘"] == hexes["1f618"] == "1F618"
    assert hexes["Kissing Heart"] == hexes["kissing_heart"] == "1F618"
    assert hexes["wink"] == hexes["winking"] == "1F609"
    assert hexes["heart_eyes"] == hexes["heart eyes"] == "1F60D"
    assert hexes["roll_eyes"] == hexes["rolling eyes"] == "1F644"
    assert hexes["star_struck"] == hexes["star-struck"] == "1F929"
    assert hexes["crying_cat_face"] == hexes["Crying Cat Face"] == "1F63F"
    assert hexes["smiley"] == "1F603"
    with pytest.raises(UserError, match=r"ambiguous: it matches 8 labels"):
        ix.find("cat")
    with pytest.raises(UserError, match=r"unknown label 'banana'; closest: (\S.*, ){4}\S"):
        ix.find("banana")


def test_generate_by_label(cond_run, tmp_path):
    run_cli("generate", cond_run, "--label", "kissing heart", "--label", "wink", "--n", "3", "--seed", "5",
            "--separate", tmp_path / "sep", "--out", tmp_path / "g.png")
    assert sorted(p.name for p in (tmp_path / "sep").iterdir()) == [
        "1F609-0005.png", "1F609-0006.png", "1F609-0007.png", "1F618-0005.png", "1F618-0006.png", "1F618-0007.png"]
    with Image.open(tmp_path / "g.png") as g:      # one row per label
        assert g.size == (3 * 34 + 2, 2 * 34 + 2)
    run_cli("generate", cond_run, "--label", "😘", "--n", "1", "--seed", "6", "--separate", tmp_path / "one")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "one" / "1F618-0006.png")),
                          np.asarray(Image.open(tmp_path / "sep" / "1F618-0006.png")))
    run_cli("generate", cond_run, "--label", "all", "--out", tmp_path / "all.png")
    with Image.open(tmp_path / "all.png") as im:   # 120 labels -> 11 x 11 grid
        assert im.size == (11 * 34 + 2, 11 * 34 + 2)
    p = run_cli("generate", cond_run, "--label", "banana", "--out", tmp_path / "x.png", check=False)
    assert p.returncode == 2 and "closest:" in p.stderr and p.stderr.count("\n") == 1


def test_interpolation_endpoints(cond_run, tmp_path):
    run_cli("interpolate", cond_run, "--from", "heart eyes", "--to", "rolling eyes", "--steps", "6", "--seed", "3",
            "--out", tmp_path / "strip.png", "--gif", tmp_path / "anim.gif")
    strip = np.asarray(Image.open(tmp_path / "strip.png"))
    assert strip.shape == (34 + 2, 6 * 34 + 2, 3)
    with Image.open(tmp_path / "anim.gif") as gif:
        assert gif.n_frames == 10                   # 6 there, 4 back
    run_cli("generate", cond_run, "--label", "heart eyes", "--n", "1", "--seed", "3", "--separate", tmp_path / "a")
    run_cli("generate", cond_run, "--label", "rolling eyes", "--n", "1", "--seed", "3", "--separate", tmp_path / "b")
    first = np.asarray(Image.open(tmp_path / "a" / "1F60D-0003.png"))
    last = np.asarray(Image.open(tmp_path / "b" / "1F644-0003.png"))
    assert np.array_equal(strip[2:34, 2:34], first)                  # step 0 = generate of the first label
    assert np.array_equal(strip[2:34, 2 + 5 * 34:34 + 5 * 34], last)  # last step = the second
    run_cli("interpolate", cond_run, "--from", "seed:1:smiley", "--to", "seed:2:star_struck", "--out",
            tmp_path / "s2.png")
    p = run_cli("interpolate", cond_run, "--from", "seed:x", "--to", "wink", "--out", tmp_path / "e.png", check=False)
    assert p.returncode == 2 and "seed must be a non-negative integer" in p.stderr
    p = run_cli("interpolate", cond_run, "--from", "seed:" + "9" * 25, "--to", "wink", "--out", tmp_path / "e.png",
                check=False)
    assert p.returncode == 2 and "below 2**63" in p.stderr and "Traceback" not in p.stderr


def test_unconditional_interpolation_and_label_errors(tiny_run, tmp_path):
    run_cli("interpolate", tiny_run, "--from", "seed:0", "--to", "seed:7", "--steps", "4", "--out", tmp_path / "u.png")
    strip = np.asarray(Image.open(tmp_path / "u.png"))
    run_cli("generate", tiny_run, "--n", "1", "--seed", "7", "--separate", tmp_path / "g")
    assert np.array_equal(strip[2:34, 2 + 3 * 34:34 + 3 * 34], np.asarray(Image.open(tmp_path / "g" / "seed0007.png")))
    p = run_cli("interpolate", tiny_run, "--from", "seed:0:wink", "--to", "seed:1", "--out", tmp_path / "x.png",
                check=False)
    assert p.returncode == 2 and "unconditional" in p.stderr
    run_cli("interpolate", tiny_run, "--from", "wink", "--to", "seed:1", "--steps", "3", "--out", tmp_path / "w.png")
    assert Image.open(tmp_path / "w.png").width > 3 * 32            # an OpenMoji name: encoded, then interpolated
    p = run_cli("generate", tiny_run, "--label", "wink", "--out", tmp_path / "x.png", check=False)
    assert p.returncode == 2 and "needs a conditional model" in p.stderr
    p = run_cli("labels", tiny_run, check=False)
    assert p.returncode == 2 and "no labels" in p.stderr


def test_label_fidelity_known_answers(faces32):
    from emojigan.data import load_images
    from emojigan.features import load_feature_space
    from emojigan.metrics.fidelity import label_fidelity

    real = load_images(faces32, 32).images
    space = load_feature_space("openmoji")

    class Perfect:  # draws each label's own training image
        classes = [{"annotation": str(i)} for i in range(len(real))]

        def sample_tensor(self, seeds, labels, truncation=None, redraw=0):
            return real[torch.tensor(labels)]

    class Shifted(Perfect):  # draws the next label's image: always the wrong emoji
        def sample_tensor(self, seeds, labels, truncation=None, redraw=0):
            return real[(torch.tensor(labels) + 1) % len(real)]

    s, a, _ = label_fidelity(Perfect(), space, space(real), per_label=2, real=real)
    assert s["label_fidelity_top1"] == 1.0 and s["label_fidelity_top5"] == 1.0
    assert s["label_fidelity_ssim_top1"] == 1.0
    assert a["label_fidelity_per_label"].min() == 1.0
    assert s["label_diversity_ssim"] == pytest.approx(1.0, abs=1e-5)    # both draws of a label are one image
    assert s["label_diversity_share_095"] == 1.0
    s, _, _ = label_fidelity(Shifted(), space, space(real), per_label=2, real=real)
    assert s["label_fidelity_top1"] == 0.0 and s["label_fidelity_ssim_top1"] == 0.0

    class Varied(Perfect):  # a label's first draw is its image, the second its neighbour's: two different emojis
        def sample_tensor(self, seeds, labels, truncation=None, redraw=0):
            second = torch.arange(len(labels)) % 2
            return real[(torch.tensor(labels) + second) % len(real)]

    s, _, _ = label_fidelity(Varied(), space, space(real), per_label=2, real=real)
    assert s["label_diversity_ssim"] < 0.9 and s["label_diversity_share_095"] < 0.2
    assert s["label_fidelity_top1"] == 0.5


def test_evaluate_conditional_run(cond_run, tmp_path):
    run_cli("evaluate", cond_run, "--n", "16", "--out", tmp_path / "ev", "--quiet")
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert 0 <= m["label_fidelity_top1"] <= m["label_fidelity_top5"] <= 1
    assert m["label_fidelity_chance"] == 1 / 120 and len(m["label_fidelity_worst"]) == 8
    assert 0 < m["label_diversity_ssim"] <= 1 + 1e-5 and 0 <= m["label_diversity_share_095"] <= 1
    with Image.open(tmp_path / "ev" / "label_fidelity_worst.png") as im:   # 8 rows of real + 8 samples
        assert im.size == (9 * 34 + 2, 8 * 34 + 2)
    report = (tmp_path / "ev" / "report.html").read_text()
    assert 'id="label-fidelity"' in report and "same-label SSIM" in report


def test_init_continues_a_conditional_model_only_on_its_own_emojis(cond_run, faces32, tmp_path):
    from safetensors.torch import load_file

    data = json.loads((cond_run / "config.json").read_text())["data"]["path"]
    out = tmp_path / "more"
    run_cli("train", "--preset", "cdcgan128", "--init", cond_run, "--data", data, "--epochs", "1", "--out", out, "--quiet")
    fresh = tmp_path / "fresh"
    run_cli("train", "--preset", "cdcgan128", "--data", data, "--epochs", "1", "--seed", "1", "--out", fresh, *SLIM)
    before, after = load_file(cond_run / "generator.safetensors"), load_file(out / "generator.safetensors")
    other = load_file(fresh / "generator.safetensors")
    w = [k for k in before if before[k].dim() == 4]
    moved = sum((after[k] - before[k]).abs().mean() for k in w)
    assert moved < 0.2 * sum((other[k] - before[k]).abs().mean() for k in w)   # one epoch on from the init
    assert json.loads((out / "config.json").read_text())["train"]["init"] == str(cond_run)
    p = run_cli("generate", out, "--label", "heart eyes", "--n", "1", "--out", tmp_path / "h.png", check=False)
    assert p.returncode == 0 and (tmp_path / "h.png").is_file()
    p = run_cli("train", "--preset", "cdcgan128", "--init", cond_run, "--data", faces32, "--epochs", "1",
                "--out", tmp_path / "other", "--quiet", check=False)
    assert p.returncode == 2 and "conditional on its 120 training emojis" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "other").exists()
