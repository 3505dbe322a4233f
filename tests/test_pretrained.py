"""Shipped pretrained generators (`emojigan models`, `generate` without RUN, `--model`) and fine-tuning
from a trained model (`train --init`, FreezeD)."""
import json

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from emojigan.config import Config
from emojigan.errors import UserError
from emojigan.inference import load_generator
from emojigan.models import build_from_config
from emojigan.pretrained import DEFAULT_MODEL, card_path, discriminator_path, folder, shipped_models
from emojigan.export import read_export, split_members
from emojigan.training.init import adopt_model, freeze_discriminator, load_init
from tests.conftest import run_cli

SHIPPED = sorted(shipped_models())


def test_the_default_model_is_shipped_within_budget_with_cards():
    assert DEFAULT_MODEL in SHIPPED
    total = sum(p.stat().st_size for p in folder().glob("*.safetensors"))
    assert total < 100 * 2**20                    # every shipped G, D and encoder
    for name in SHIPPED:
        card = card_path(name).read_text(encoding="utf-8")
        assert "CC BY-SA 4.0" in card and "OpenMoji" in card and "Reproduce" in card
        assert all(v.dtype == torch.float16 for v in load_file(shipped_models()[name]).values() if v.is_floating_point())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_loads_and_generates(name):
    gen = load_generator(name, precision="fp32")
    ims = gen.sample(4, seed=0)
    assert len(ims) == 4 and ims[0].size == (gen.size, gen.size)
    x = gen.sample_tensor(seeds=[0, 1, 2, 3])
    assert torch.isfinite(x).all() and float(x.std()) > 0.1                    # not a constant image
    assert float((x[0] - x[1]).abs().mean()) > 0.02                           # seeds differ
    assert torch.allclose(gen.sample_tensor(seeds=[2]), x[2:3], atol=1e-4)     # per-seed, any batch size
    if gen.channels == 4:
        alpha = x[:, 3]
        assert float((alpha < -0.9).float().mean()) > 0.1                      # real transparent background
    if gen.conditional:                                                        # drawn by name, per label
        from emojigan.data.names import LabelIndex

        ix = LabelIndex(gen.classes)
        a = gen.sample_tensor(seeds=[0, 0], labels=[ix.find("grinning face"), ix.find("crying cat face")])
        assert float((a[0] - a[1]).abs().mean()) > 0.05


def test_generate_without_run_uses_faces64_and_models_lists_it(tmp_path):
    run_cli("generate", "--n", "4", "--separate", tmp_path / "sep", "--out", tmp_path / "grid.png")
    im = Image.open(tmp_path / "sep" / "seed0000.png")
    assert im.size == (64, 64) and im.mode == "RGBA"
    assert "CC BY-SA 4.0" in im.text["Copyright"]
    ref = load_generator(DEFAULT_MODEL).sample(1, seed=0)[0]
    assert im.tobytes() == ref.tobytes()
    run_cli("generate", "--model", DEFAULT_MODEL, "--n", "1", "--background", "white", "--separate", tmp_path / "w")
    assert Image.open(tmp_path / "w" / "seed0000.png").mode == "RGB"
    out = run_cli("models").stdout
    assert DEFAULT_MODEL in out and "unconditional" in out and "RGBA" in out
    row = next(line for line in out.splitlines() if line.startswith(DEFAULT_MODEL))
    assert row.split()[1] == "v4"                         # the version its metadata and card name
    assert "# faces64 v4:" in card_path(DEFAULT_MODEL).read_text()


def test_unknown_model_and_run_plus_model_are_one_line_errors(tmp_path, tiny_run):
    p = run_cli("generate", "--model", "nope", "--out", tmp_path / "x.png", check=False)
    assert p.returncode == 2 and "no shipped model named 'nope'" in p.stderr and len(p.stderr.splitlines()) == 1
    p = run_cli("generate", tiny_run, "--model", DEFAULT_MODEL, "--out", tmp_path / "x.png", check=False)
    assert p.returncode == 2 and "not both" in p.stderr
    assert not (tmp_path / "x.png").exists()


def test_init_copies_the_shipped_weights():
    cfg = adopt_model(Config(), DEFAULT_MODEL, set())
    assert cfg.data.size == 64 and cfg.data.background == "transparent"
    G, D = build_from_config(cfg.model, cfg.data.size, cfg.data.channels)
    msg = load_init(G, D, DEFAULT_MODEL)
    shipped, meta = read_export(shipped_models()[DEFAULT_MODEL])
    first = split_members(shipped, meta)[0]  # a mixture (faces64) starts from its first generator
    assert all(torch.equal(G.state_dict()[k], v.float()) for k, v in first.items())
    if discriminator_path(shipped_models()[DEFAULT_MODEL]):
        d = load_file(discriminator_path(shipped_models()[DEFAULT_MODEL]))
        assert all(torch.equal(D.state_dict()[k].float(), v.float()) for k, v in d.items()) and "D from" in msg


def test_init_refuses_contradicting_settings():
    with pytest.raises(UserError, match="does not match"):
        cfg = Config()
        cfg.data.size = 32
        adopt_model(cfg, DEFAULT_MODEL, {"data.size"})
    with pytest.raises(UserError, match="drop model.g_base"):
        adopt_model(Config(), DEFAULT_MODEL, {"model.g_base"})


def test_fine_tune_from_a_run_with_freezed(tiny_rgba_run, faces32_rgba, tmp_path):
    out = tmp_path / "ft"
    run_cli("train", "--init", tiny_rgba_run, "--data", faces32_rgba, "--epochs", "1", "--freeze-d", "2",
            "--checkpoint-every", "1", "--out", out, "--quiet")
    cfg = json.loads((out / "config.json").read_text())
    src = json.loads((tiny_rgba_run / "config.json").read_text())
    assert cfg["model"] == src["model"] and cfg["train"]["init"] == str(tiny_rgba_run)
    assert cfg["data"]["background"] == "transparent" and cfg["data"]["size"] == 32
    before = torch.load(tiny_rgba_run / "checkpoints" / "latest.pt", weights_only=True)["D"]
    after = torch.load(out / "checkpoints" / "latest.pt", weights_only=True)["D"]
    convs = sorted({k.split(".")[1] for k in before if k.endswith(".weight") and before[k].dim() == 4}, key=int)
    for i in convs[:2]:                                                       # frozen: unchanged
        assert torch.equal(before[f"net.{i}.weight"], after[f"net.{i}.weight"])
    assert not torch.equal(before[f"net.{convs[-1]}.weight"], after[f"net.{convs[-1]}.weight"])   # learning


def test_freeze_discriminator_counts_and_limits():
    G, D = build_from_config({"arch": "dcgan", "z_dim": 8, "g_base": 8, "d_base": 8, "max_channels": 32}, 32, 3)
    n = freeze_discriminator(D, 1)
    assert n == D.net[0].weight.numel() and not D.net[0].weight.requires_grad and D.net[2].weight.requires_grad
    with pytest.raises(UserError, match="freeze fewer"):
        freeze_discriminator(D, 4)


@pytest.mark.parametrize("args, words", [
    (["train", "--init", "nope-model", "--epochs", "1"], "does not exist"),
    (["train", "--init", DEFAULT_MODEL, "--size", "32", "--epochs", "1"], "does not match"),
    (["train", "--preset", "dcgan64", "--size", "32", "--freeze-d", "4", "--epochs", "1"], "freeze fewer"),
    (["data", "build", "--subset", "all", "--emojis", "monkey face,nope"], "nope not found"),
])
def test_fine_tuning_bad_input_is_one_line_exit_2_and_writes_nothing(args, words, tmp_path):
    out = tmp_path / "out"
    p = run_cli(*args, "--out", out, check=False)
    assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_fine_tuned_export_counts_its_steps_through_the_model_it_started_from(tiny_rgba_run, faces32_rgba, tmp_path):
    """--init records the start model's steps; the export's total_step adds the run's own, through chains of
    fine-tunes and across --resume (the shipped cards' totals come from here)."""
    from emojigan.export import read_export_meta, training_of

    base = read_export_meta(tiny_rgba_run / "generator.safetensors")["training"]
    assert "init" not in base and training_of({"training": base}, "total_step") == base["step"]
    first, second = tmp_path / "ft1", tmp_path / "ft2"
    run_cli("train", "--init", tiny_rgba_run, "--data", faces32_rgba, "--epochs", "1", "--out", first, "--quiet")
    tr1 = read_export_meta(first / "generator.safetensors")["training"]
    assert tr1["init"]["from"] == str(tiny_rgba_run) and tr1["init"]["member"] == 0
    assert tr1["init"]["step"] == base["step"] and tr1["init"]["epoch"] == base["epoch"]
    assert tr1["total_step"] == base["step"] + tr1["step"] and tr1["total_epoch"] == base["epoch"] + 1
    assert json.loads((first / "config.json").read_text())["init"] == tr1["init"]
    run_cli("train", "--init", first, "--data", faces32_rgba, "--epochs", "1", "--out", second, "--quiet")
    tr2 = read_export_meta(second / "generator.safetensors")["training"]
    assert tr2["init"]["step"] == tr1["total_step"] and tr2["total_step"] == base["step"] + tr1["step"] + tr2["step"]
    run_cli("train", "--resume", second, "--epochs", "2", "--quiet")
    tr3 = read_export_meta(second / "generator.safetensors")["training"]
    assert tr3["init"] == tr2["init"] and tr3["step"] == 2 * tr2["step"]
    assert tr3["total_step"] == tr1["total_step"] + tr3["step"]
    assert json.loads((second / "config.json").read_text())["init"] == tr2["init"]
