import numpy as np
import torch
import pytest
from PIL import Image

import emojigan
from tests.conftest import run_cli


def test_grid_and_separate(tiny_run, tmp_path):
    run_cli("generate", tiny_run, "--n", "10", "--seed", "3", "--out", tmp_path / "grid.png",
            "--separate", tmp_path / "each")
    with Image.open(tmp_path / "grid.png") as g:   # 10 images -> 4 per row, 3 rows of 32 px + 2 px padding
        assert g.size == (4 * 34 + 2, 3 * 34 + 2)
        assert "CC BY-SA 4.0" in g.text["Copyright"]
    files = sorted(p.name for p in (tmp_path / "each").iterdir())
    assert files == [f"seed{s:04d}.png" for s in range(3, 13)]
    with Image.open(tmp_path / "each" / "seed0003.png") as im:
        assert im.size == (32, 32) and im.mode == "RGB"


def test_each_image_depends_only_on_its_seed(tiny_run, tmp_path):
    run_cli("generate", tiny_run, "--n", "8", "--seed", "0", "--separate", tmp_path / "batch")
    for k in (0, 5, 7):
        run_cli("generate", tiny_run, "--n", "1", "--seed", str(k), "--separate", tmp_path / f"one{k}")
        a = np.asarray(Image.open(tmp_path / "batch" / f"seed{k:04d}.png"))
        b = np.asarray(Image.open(tmp_path / f"one{k}" / f"seed{k:04d}.png"))
        assert np.array_equal(a, b)
    a0, a1 = (np.asarray(Image.open(tmp_path / "batch" / f"seed{k:04d}.png")) for k in (0, 1))
    assert not np.array_equal(a0, a1)


def test_python_api(tiny_run):
    g = emojigan.load_generator(tiny_run)
    ims = g.sample(4, seed=2)
    assert len(ims) == 4 and ims[0].size == (32, 32)
    t = g.sample_tensor(4, seed=2)
    assert t.shape == (4, 3, 32, 32) and float(t.abs().max()) <= 1
    assert np.array_equal(np.asarray(ims[1]), np.asarray(g.sample(1, seed=3)[0]))
    same = emojigan.load_generator(tiny_run / "generator.safetensors").sample_tensor(seeds=[2, 3, 4, 5])
    assert (same - t).abs().max() == 0


def test_transparent_model_has_real_alpha(tiny_rgba_run, tmp_path):
    run_cli("generate", tiny_rgba_run, "--n", "3", "--separate", tmp_path / "rgba")
    with Image.open(tmp_path / "rgba" / "seed0000.png") as im:
        assert im.mode == "RGBA"
    run_cli("generate", tiny_rgba_run, "--n", "3", "--background", "white", "--separate", tmp_path / "w")
    with Image.open(tmp_path / "w" / "seed0000.png") as im:
        assert im.mode == "RGB"


def test_rgb_model_refuses_transparent(tiny_run, tmp_path):
    p = run_cli("generate", tiny_run, "--n", "2", "--background", "transparent", "--out", tmp_path / "x.png",
                check=False)
    assert p.returncode == 2 and "no alpha channel" in p.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("spec, seeds", [("0-3", [0, 1, 2, 3]), ("5,9,1-2", [5, 9, 1, 2])])
def test_parse_seeds(spec, seeds):
    from emojigan.latent import parse_seeds
    assert parse_seeds(spec) == seeds


def test_truncation(tiny_run, tmp_path):
    from emojigan.latent import z_from_seeds

    z = z_from_seeds(list(range(50)), 100, truncation=1.0)
    assert float(z.abs().max()) <= 1.0 and float(z.std()) < 0.7          # |z| <= T, narrower than N(0, 1)
    assert torch.equal(z_from_seeds([7], 100, 1.0)[0], z[7])              # still one generator per seed
    assert torch.equal(z_from_seeds([3], 100)[0], z_from_seeds([3, 4], 100)[0])
    run_cli("generate", tiny_run, "--n", "4", "--truncation", "0.5", "--separate", tmp_path / "t")
    run_cli("generate", tiny_run, "--n", "4", "--separate", tmp_path / "u")
    a = np.asarray(Image.open(tmp_path / "t" / "seed0000.png"))
    b = np.asarray(Image.open(tmp_path / "u" / "seed0000.png"))
    assert not np.array_equal(a, b)
    p = run_cli("generate", tiny_run, "--truncation", "0", "--out", tmp_path / "x.png", check=False)
    assert p.returncode == 2 and "--truncation 0.0 is out of range" in p.stderr
