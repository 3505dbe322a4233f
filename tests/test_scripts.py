"""The maintainer tools under scripts/ and the experiment tools under experiments/: their outputs on inputs whose
answer is known, and one clear line (exit 2) for bad input."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _where(name: str) -> Path:
    return next(p for p in (ROOT / "scripts" / f"{name}.py", ROOT / "experiments" / f"{name}.py") if p.is_file())


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, _where(name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scripts_refuse_bad_input_with_one_line_and_exit_2(tmp_path, tiny_run):
    import shutil

    stateless = tmp_path / "stateless"                   # exports without training states: G only can ship
    shutil.copytree(tiny_run, stateless, ignore=shutil.ignore_patterns("checkpoints"))
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "note.txt").write_text("mine")
    cases = [
             (["ship_model.py", str(tiny_run), "never-written", "--checkpoint", "best", "--reproduce", "x"],
              "has no generator-best.safetensors"),
             (["ship_model.py", str(tiny_run), "never-written", "--mixture-with", str(tmp_path / "missing"),
               "--reproduce", "x"], "missing"),
             (["ship_model.py", str(stateless), "never-written", "--reproduce", "x"], "to take D from"),
             (["faint_map.py", str(tiny_run), "--out", str(tmp_path / "out.png")], "faint alpha needs a transparent"),
             (["faint_map.py", "faces64", "--out", str(kept / "note.txt")], "must be a .png file"),
             (["faint_map.py", "faces64", "--n", "0", "--out", str(tmp_path / "out.png")], "--n 0 is out of range")]
    for args, words in cases:
        out = subprocess.run([sys.executable, str(_where(args[0][:-3])), *args[1:]],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 2, (args, out.stderr)
        assert words in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and (kept / "note.txt").read_text() == "mine"
    assert not (tmp_path / "out.png").exists()
    assert sorted(x.name for x in kept.iterdir()) == ["note.txt"]   # an existing OUT is left as it was
    assert not list((ROOT / "src" / "emojigan" / "pretrained").glob("never-written*"))


def test_faint_map_paints_exactly_the_faint_pixels_magenta(tmp_path, tiny_rgba_run):
    import torch
    from PIL import Image

    x = -torch.ones(2, 4, 8, 8)                          # transparent...
    x[:, :3, 2:6, 2:6] = 0.0                             # ...with a grey opaque square
    x[:, 3, 2:6, 2:6] = 1.0
    x[0, 3, 0, 0] = 2 * 0.1 - 1                          # alpha 0.1: faint
    x[0, 3, 7, 7] = 2 * 0.5 - 1                          # alpha 0.5: not faint
    panel = np.asarray(_load("faint_map").faint_panel(x, nrow=2).convert("RGB"))
    cell = panel[2:10, 2:10]                              # the grid's first cell (2 px padding)
    assert tuple(cell[0, 0]) == (255, 0, 255) and tuple(cell[7, 7]) != (255, 0, 255)
    assert (cell == (255, 0, 255)).all(-1).sum() == 1
    assert tuple(cell[3, 3]) == (128, 128, 128) and tuple(cell[1, 1]) == (255, 255, 255)
    plain = np.asarray(_load("faint_map").faint_panel(x, nrow=2, show="plain").convert("RGB"))
    assert not (plain == (255, 0, 255)).all(-1).any()
    big = -torch.ones(1, 4, 24, 24)                      # an opaque square, flat grey...
    big[:, :, 2:22, 2:22] = 0.0
    big[:, 3, 2:22, 2:22] = 1.0
    big[:, 0, 10:14, 10:14] = 0.1                         # ...with a faint reddish blotch in its middle
    mottle = np.asarray(_load("faint_map").faint_panel(big, nrow=1, show="mottle").convert("RGB"))[2:26, 2:26]
    painted = (mottle == (255, 0, 255)).all(-1)
    assert painted[12, 12] and not painted[3, 3] and not painted[0, 0] and 16 < painted.sum() < 100
    out = subprocess.run([sys.executable, str(_where("faint_map")), f"tiny={tiny_rgba_run}", "--n", "4",
                          "--out", str(tmp_path / "map.png")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "map.png").size[0] > 2 * 32


def test_ship_model_adds_a_member_to_a_shipped_mixture_and_keeps_its_discriminator(tmp_path, tiny_run):
    import torch

    from emojigan.inference import load_generator
    from emojigan.export import read_export

    script, dest = [sys.executable, str(ROOT / "scripts" / "ship_model.py")], tmp_path / "pretrained"
    first = subprocess.run([*script, str(tiny_run), "toy", "--dest", str(dest), "--reproduce", "train it"],
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    d_before = (dest / "toy.D.safetensors").read_bytes()
    one = load_generator(dest / "toy.safetensors", precision="fp32").sample_tensor(seeds=[0, 2])
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "metrics.json").write_text('{"kid": 0.01, "recall": 0.55, "recall_min": 0.43, "recall_max": 0.6, '
                                     '"pr_sets": 8, "n_fake": 2048, "metrics_version": 5}')
    more = subprocess.run([*script, str(dest / "toy.safetensors"), "toy", "--dest", str(dest), "--mixture-with",
                           str(tiny_run), "--reproduce", "then mix", "--eval", str(ev), "--trained-before", "keep,1000"],
                          capture_output=True, text=True, timeout=300)
    assert more.returncode == 0, more.stderr
    assert "fp16 vs fp32 export, mean |difference|" in more.stdout
    tensors, meta = read_export(dest / "toy.safetensors")
    assert meta["mixture"]["members"] == 2 and meta["reproduce"] == "then mix"
    own, corrected = meta["mixture"]["training"]                        # --trained-before: member 1's start
    assert "init" not in own and (own["step"], own["epoch"]) == (21, 3) and corrected["total_step"] == 1021
    assert corrected["init"]["step"] == 1000 and corrected["total_epoch"] == 146 and corrected["init"]["epoch"] == 143
    assert (dest / "toy.D.safetensors").read_bytes() == d_before         # no training state: the shipped D stays
    g = load_generator(dest / "toy.safetensors", precision="fp32")
    x = g.sample_tensor(seeds=[0, 1, 2])
    assert torch.equal(x[[0, 2]], one)                                   # member 0: the model shipped before
    tiny = load_generator(tiny_run / "generator.safetensors", precision="fp32").sample_tensor(seeds=[1])
    assert (x[1] - tiny[0]).abs().mean() * 127.5 < 1.0                   # member 1: the run, in fp16
    card = (dest / "toy.md").read_text()
    assert "A mixture of 2 generators" in card and not [p for p in dest.iterdir() if p.name.startswith(".")]
    assert "OpenMoji features, 2048 samples" in card and "| 0.550 (0.430-0.600 over 8 sets) |" in card
    # --mixture-with NAME@K: one member of a shipped mixture (toy's member 1) after the run's own generator
    pick = subprocess.run([*script, str(tiny_run), "pick", "--dest", str(dest), "--mixture-with",
                           f"{dest / 'toy.safetensors'}@1", "--reproduce", "pick"], capture_output=True, text=True,
                          timeout=300)
    assert pick.returncode == 0, pick.stderr
    meta = read_export(dest / "pick.safetensors")[1]
    assert meta["mixture"]["members"] == 2 and meta["mixture"]["sources"][1].startswith(f"{dest / 'toy.safetensors'} member 1")
    assert torch.equal(load_generator(dest / "pick.safetensors", precision="fp32").sample_tensor(seeds=[1]), x[1:2])
    shipped = {p.name: p.read_bytes() for p in dest.iterdir()}
    with open(dest / "big.safetensors", "wb") as f:                    # another model filling the budget (sparse)
        f.truncate(100 * 2**20)
    over = subprocess.run([*script, str(tiny_run), "toy", "--dest", str(dest), "--reproduce", "x"],
                          capture_output=True, text=True, timeout=300)
    assert over.returncode == 2 and "over the 100 MB budget; not shipping" in over.stderr
    bad = subprocess.run([*script, str(tiny_run), "toy", "--dest", str(dest), "--reproduce", "x", "--trained-before",
                          "5,6"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "give 1 step count(s)" in bad.stderr
    assert {p.name: p.read_bytes() for p in dest.iterdir() if p.name != "big.safetensors"} == shipped


