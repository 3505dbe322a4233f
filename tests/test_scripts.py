"""Diagnostic scripts under scripts/: their numbers on inputs whose answer is known."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_residual_spectrum_tells_a_checkerboard_from_broadband_noise():
    stats = _load("residual_spectrum").spectrum_stats
    rng = np.random.default_rng(0)
    flat = np.zeros((4, 3, 32, 32), np.float32)
    noise = flat + rng.normal(0, 0.1, flat.shape).astype(np.float32)
    board = flat.copy()
    board[..., ::2, ::2] = 0.5                      # one pixel phase lit: a stride-2 pattern
    board += rng.normal(0, 0.01, board.shape).astype(np.float32)
    n, b = stats(noise), stats(board)
    # the median residual of white noise leans to high frequencies, but nowhere near a checkerboard
    assert n["nyquist_share"] < 2 * n["nyquist_share_flat"] and n["phase_spread"] < 0.2
    assert b["nyquist_share"] > 0.3 and b["phase_spread"] > 1.0
    assert n["nyquist_share_flat"] == (2 * 32 - 1) / 32 ** 2


def test_residual_spectrum_runs_on_a_shipped_model():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "residual_spectrum.py"), "faces64", "--n", "4"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    row = out.stdout.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "faces64" and row[2].strip() == "64" and float(row[3]) > 0


def test_standing_stats_are_the_ema_generators_own_batch_statistics():
    import torch

    from emojigan.models.dcgan import Generator

    standing = _load("standing_stats").standing_stats
    torch.manual_seed(0)
    G = Generator(8, 32, 3, 8, 32)
    bn = G.net[1]
    bn.running_mean.fill_(5.0)                               # statistics that belong to other weights
    standing(G, 8, batches=3, batch=4, seed=7)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        h = torch.cat([G.net[0](torch.randn(4, 8, generator=g)[:, :, None, None]) for _ in range(3)])
    assert torch.allclose(bn.running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not G.training and bn.momentum == 0.1


def test_scripts_refuse_bad_input_with_one_line_and_exit_2(tmp_path, tiny_run):
    import shutil

    stateless = tmp_path / "stateless"                   # exports without training states: G only can ship
    shutil.copytree(tiny_run, stateless, ignore=shutil.ignore_patterns("checkpoints"))
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "note.txt").write_text("mine")
    cases = [(["residual_spectrum.py", "no-such-model"], "no-such-model does not exist"),
             (["standing_stats.py", str(tmp_path / "missing"), str(tmp_path / "out")], "is not a run folder"),
             (["standing_stats.py", str(kept), str(tmp_path / "out")], "has no generator.safetensors"),
             (["standing_stats.py", str(tiny_run), str(kept)], "exists; choose a new folder"),
             (["recall_scale.py", "--sizes", "2,x"], "give set sizes of at least 4"),
             (["recall_scale.py", "no-such-model", "--size", "32"], "no-such-model does not exist"),
             (["recall_scale.py", "faces64", "--size", "128"], "faces64 draws 64 px images"),
             (["recall_scale.py", "faces64", "--background", "black"], "the data has 3"),
             (["missed_by_rarity.py", str(kept)], "is not an evaluation folder"),
             (["eval_history.py", str(kept)], "is not a run folder"),
             (["eval_history.py", str(tiny_run)], "has no in-training evaluations"),
             (["missed_by_rarity.py", str(tiny_run), "--size", "32"], "is not an evaluation folder"),
             (["mixture_eval.py", str(tiny_run), "--out", str(tmp_path / "out")], "two or more members"),
             (["mixture_eval.py", str(tiny_run), f"{tiny_run}:best", "--out", str(tmp_path / "out")],
              "has no generator-best.safetensors"),
             (["mixture_eval.py", str(tiny_run), "faces64", "--out", str(tmp_path / "out")], "on different data"),
             (["mixture_eval.py", str(tiny_run), str(tiny_run), "--out", str(kept / "note.txt")], "is not a folder"),
             (["ship_model.py", str(tiny_run), "never-written", "--checkpoint", "best", "--reproduce", "x"],
              "has no generator-best.safetensors"),
             (["ship_model.py", str(tiny_run), "never-written", "--mixture-with", str(tmp_path / "missing"),
               "--reproduce", "x"], "missing"),
             (["ship_model.py", str(stateless), "never-written", "--reproduce", "x"], "to take D from"),
             (["faint_map.py", str(tiny_run), "--out", str(tmp_path / "out.png")], "faint alpha needs a transparent"),
             (["faint_map.py", "faces64", "--out", str(kept / "note.txt")], "must be a .png file"),
             (["faint_map.py", "faces64", "--n", "0", "--out", str(tmp_path / "out.png")], "--n 0 is out of range"),
             (["clean_stats.py", "faces64", "--n", "0"], "--n 0 is out of range"),
             (["clean_stats.py", str(tiny_run), "--n", "4"], "need a transparent model"),
             (["clean_stats.py", "faces64", "--n", "4", "--data", str(tmp_path / "missing")], "does not exist")]
    for args, words in cases:
        out = subprocess.run([sys.executable, str(ROOT / "scripts" / args[0]), *args[1:]],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 2, (args, out.stderr)
        assert words in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and (kept / "note.txt").read_text() == "mine"
    assert not (tmp_path / "out.png").exists()
    assert sorted(x.name for x in kept.iterdir()) == ["note.txt"]   # an existing OUT is left as it was
    assert not list((ROOT / "src" / "emojigan" / "pretrained").glob("never-written*"))


def test_recall_scale_reads_a_copier_as_full_recall_on_every_set_size():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "recall_scale.py"), "faces64", "--sizes", "128,256"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.stdout.splitlines() if line.startswith("| ") and "---" not in line}
    copier = rows["copier (real emojis shifted <= 2 px)"]
    assert copier[0].startswith("1.000 (1.000-1.000, 2 sets)") and float(copier[1]) > 0.95
    recall_128, recall_256 = float(rows["faces64"][0].split()[0]), float(rows["faces64"][1])
    assert 0 < recall_256 < recall_128 < 1      # the same model reads less recall from more samples a set
    assert 0 < float(rows["faces64"][2]) <= 1   # coverage


def test_missed_by_rarity_splits_the_recalled_emojis_into_thirds(tmp_path):
    """Hits on the rarest 37 emojis only: the rarest third reads 1.00 covered, the others 0.00."""
    import json

    import numpy as np

    from emojigan.config import Config
    from emojigan.data.clusters import openmoji_features, rarity_weights
    from emojigan.training.run import load_dataset

    cfg = Config()
    cfg.data.subset, cfg.data.size, cfg.data.background = "faces", 32, "transparent"
    data = load_dataset(cfg.validate(), progress=False)
    rarity = rarity_weights(openmoji_features(data.images), 1.0).numpy()
    hits = np.zeros(111, dtype=np.int32)
    order = np.argsort(-rarity, kind="stable")
    hits[order[:37]] = 2
    nearest = np.r_[np.full(6, order[0]), np.full(2, order[-1])]      # 6 samples at the rarest, 2 at the commonest
    ev = tmp_path / "ev"
    ev.mkdir()
    np.savez_compressed(ev / "arrays.npz", recall_hits=hits, ssim_nearest_index=nearest)
    (ev / "metrics.json").write_text(json.dumps({"recall": 0.333}))
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "missed_by_rarity.py"), str(ev), "--size", "32"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    row = [c.strip() for c in out.stdout.splitlines()[-1].split("|")[1:-1]]
    rarest = data.labels[int(order[0])]["annotation"]
    assert row == [str(ev), "0.333", "74", "1.00 / 0.00 / 0.00", "0.75 / 0.00 / 0.25", f"{rarest} (75.0%)"]


def test_eval_history_tables_and_figure(tmp_path):
    """Two fake runs' evaluation rows: the table at shared steps, '-' where a run has none, window means."""
    import json

    def run(name, rows):
        d = tmp_path / name
        d.mkdir()
        lines = [json.dumps({"kind": "train", "step": 1, "loss_d": 1.0})]
        lines += [json.dumps({"kind": "eval", "step": s, "kid": k, "precision": 0.9, "recall": r, "copy_rate": c})
                  for s, k, r, c in rows]
        (d / "metrics.jsonl").write_text("\n".join(lines) + "\n{\"kind\": \"ev")   # a cut-off last line
        return d

    a = run("a", [(100, 0.5, 0.1, 0.0), (200, 0.3, 0.2, 0.01), (300, 0.1, 0.3, 0.02)])
    b = run("b", [(100, 0.4, 0.2, 0.0), (200, 0.2, 0.4, 0.0)])
    fig = tmp_path / "h.png"
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "eval_history.py"), str(a), str(b), "--steps",
                          "100,300", "--window", "200-300", "--figure", str(fig)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "| 100 | 0.500 / 0.10 / 0.0% | 0.400 / 0.20 / 0.0% |" in lines
    assert "| 300 | 0.100 / 0.30 / 2.0% | - |" in lines
    assert "| a | 2 | 0.200 | 0.900 | 0.250 | 1.5% |" in lines and "| b | 1 | 0.200 | 0.900 | 0.400 | 0.0% |" in lines
    from PIL import Image

    with Image.open(fig) as im:
        assert im.width > 800 and im.height > 200


def test_mixture_of_one_generator_twice_is_that_generator(tmp_path, tiny_run):
    """Sample k of the mixture is member k mod M at seed k, as `generate` draws it: mixing a model with itself
    changes nothing, so every metric of the mixture equals the model's own (a mixture drawing other seeds, or
    mixing up the members' order, would change the samples and the metrics)."""
    import json

    import pytest

    out = tmp_path / "mix"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "mixture_eval.py"), str(tiny_run),
                          f"{tiny_run}:latest", "--n", "24", "--out", str(out)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    rows = json.loads((out / "mixture.json").read_text())["rows"]
    assert list(rows) == [str(tiny_run), f"{tiny_run}:latest", "mixture of 2"]
    first = rows[str(tiny_run)]
    assert 0 <= first["recall"] <= 1 and first["missed"] <= 111
    for r in rows.values():  # equal up to the last bits of batched generation
        assert r == pytest.approx(first, rel=1e-5, abs=1e-6)
    assert (out / "mixture.md").read_text().count("\n") == 5 and (out / "samples.png").is_file()


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
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "faint_map.py"), f"tiny={tiny_rgba_run}", "--n", "4",
                          "--out", str(tmp_path / "map.png")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "map.png").size[0] > 2 * 32


def test_balanced_pool_picks_rarely_drawn_emojis_more_often_as_beta_grows():
    import torch

    pick = _load("balanced_pool").balanced_pick
    nearest = torch.tensor([0] * 90 + [1] * 10)          # 90 samples near emoji 0, 10 near emoji 1
    share = {beta: np.mean([float((nearest[pick(nearest, 20, beta, seed=s)] == 1).float().mean())
                            for s in range(200)]) for beta in (0.0, 1.0)}
    assert abs(share[0.0] - 0.10) < 0.03                 # beta 0: the pool's own mix
    assert share[1.0] > 0.35                              # beta 1: both emojis near-equally (sampling w/o replacement)
    assert len(set(pick(nearest, 100, 1.0).tolist())) == 100   # without replacement: the whole pool, once each


def test_balanced_pool_scores_a_shipped_model_and_refuses_bad_numbers():
    script = str(ROOT / "scripts" / "balanced_pool.py")
    out = subprocess.run([sys.executable, script, "faces64", "--pool", "96", "--n", "64", "--betas", "1"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [r for r in out.stdout.splitlines() if r.startswith("| seeds") or r.startswith("| 64 of 96")]
    assert len(rows) == 2 and all(0 <= float(r.split("|")[2]) <= 1 for r in rows)
    for args, words in ((["--n", "200", "--pool", "100"], "need 2 <= n <= pool"),
                        (["--betas", "x"], "must be comma-separated numbers"),
                        (["--betas", "9"], "between 0 and 4")):
        bad = subprocess.run([sys.executable, script, "faces64", *args], capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_focus_list_keeps_the_rarely_recalled_emojis_and_train_reads_it(tmp_path, faces32_rgba):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "recall_hits.csv").write_text("name,annotation,hits,sets\n1F600,grinning face,8,8\n1F607,smiling face "
                                        "with halo,0,8\n1F929,star-struck,1,8\n1F60E,smiling face with sunglasses,"
                                        "2,8\n", encoding="utf-8")
    script = [sys.executable, str(ROOT / "scripts" / "focus_list.py"), str(ev)]
    out = subprocess.run([*script, "--max-hits", "1", "--out", str(tmp_path / "f.txt")], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "2 of 4 emojis (50% of the data)" in out.stdout and "1/3 = 33% of the seeds" in out.stdout
    lines = (tmp_path / "f.txt").read_text(encoding="utf-8").splitlines()
    assert [ln.split("#")[0].strip() for ln in lines if not ln.startswith("#")] == ["1F607", "1F929"]
    from emojigan.data import load_images
    from emojigan.data.clusters import focus_weights

    data = load_images(faces32_rgba, 32, "transparent")
    w = focus_weights(data, tmp_path / "f.txt")                      # the format train.focus reads
    assert sorted(data.names[i] for i in (w > 0).nonzero().flatten().tolist()) == ["1F607", "1F929"]
    for args, words in ((["--max-hits", "8"], "choose between 0 and 7"),
                        (["--max-hits", "-1"], "choose between 0 and 7"),
                        (["--out", str(tmp_path / "f.txt")], "exists; choose another file")):
        bad = subprocess.run([*script, *args, *([] if "--out" in args else ["--out", str(tmp_path / "g.txt")])],
                             capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    missing = subprocess.run([*script[:2], str(tmp_path), "--out", str(tmp_path / "h.txt")], capture_output=True,
                             text=True, timeout=300)
    assert missing.returncode == 2 and "recall_hits.csv not found" in missing.stderr


def test_ship_model_adds_a_member_to_a_shipped_mixture_and_keeps_its_discriminator(tmp_path, tiny_run):
    import torch

    from emojigan.inference import load_generator
    from emojigan.training.checkpoint import read_export

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
        f.truncate(60 * 2**20)
    over = subprocess.run([*script, str(tiny_run), "toy", "--dest", str(dest), "--reproduce", "x"],
                          capture_output=True, text=True, timeout=300)
    assert over.returncode == 2 and "over the 60 MB budget; not shipping" in over.stderr
    bad = subprocess.run([*script, str(tiny_run), "toy", "--dest", str(dest), "--reproduce", "x", "--trained-before",
                          "5,6"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "give 1 step count(s)" in bad.stderr
    assert {p.name: p.read_bytes() for p in dest.iterdir() if p.name != "big.safetensors"} == shipped


def test_recall_by_focus_splits_recall_between_the_focus_and_the_rest(tmp_path):
    rows = {"a": [("1F600", "grinning face", 8), ("1F607", "smiling face with halo", 0), ("1F929", "star-struck", 2)],
            "b": [("1F600", "grinning face", 6), ("1F607", "smiling face with halo", 8), ("1F929", "star-struck", 4)]}
    for name, table in rows.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "recall_hits.csv").write_text(
            "name,annotation,hits,sets\n" + "".join(f"{n},{a},{h},8\n" for n, a, h in table), encoding="utf-8")
    (tmp_path / "f.txt").write_text("1F607\nstar-struck  # by annotation\n", encoding="utf-8")
    script = [sys.executable, str(ROOT / "scripts" / "recall_by_focus.py"), str(tmp_path / "f.txt")]
    out = subprocess.run([*script, str(tmp_path / "a"), str(tmp_path / "b")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    table = [ln.split("|")[2:5] for ln in out.stdout.splitlines() if ln.startswith(f"| {tmp_path}")]
    assert [[c.strip() for c in r] for r in table] == [["0.125", "1.000", "1"], ["0.750", "0.750", "0"]]
    assert "half its sets: smiling face with halo (8/8), star-struck (4/8)" in out.stdout
    (tmp_path / "g.txt").write_text("no such face\n", encoding="utf-8")
    bad = subprocess.run([*script[:2], str(tmp_path / "g.txt"), str(tmp_path / "a")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and "'no such face' is none of the evaluated emojis" in bad.stderr


def test_clean_stats_places_each_fragment_against_its_nearest_emoji(tmp_path, tiny_rgba_run, faces32_rgba):
    import torch

    mod = _load("clean_stats")
    keys = torch.zeros(2, 32 * 32)
    keys[0].view(32, 32)[8:24, 8:24] = 1.0                # emoji 0: a 16 px square
    keys[1].view(32, 32)[0:4, 0:32] = 1.0                 # emoji 1: a bar along the top
    x = -torch.ones(1, 4, 32, 32)
    x[0, 3, 8:24, 8:24] = 1.0                             # the sample is emoji 0's square...
    x[0, 3, 8, 27] = 1.0                                  # ...+ a pixel 4 px right of it
    x[0, 3, 11:14, 11] = x[0, 3, 11, 12:14] = x[0, 3, 13, 12:14] = x[0, 3, 12, 13] = -1.0
    x[0, 3, 12, 12] = 1.0                                 # ...+ a pixel cut off inside it by a transparent ring
    d = sorted(mod.fragment_distances(x, keys).tolist())
    assert d == [0.0, 4.0]
    assert mod.stray_fragments(x).tolist() == [2]
    rows = mod.member_rows("m", torch.cat([x, -torch.ones(1, 4, 32, 32)]), np.array([0, 1]), keys)
    assert [r[0] for r in rows] == ["m", "  member 0", "  member 1"]
    assert rows[0][2] == "50.0%" and rows[1][2] == "100.0%" and rows[2][2] == "0.0%"
    assert rows[1][5:] == ["50%", "0%", "0%", "50%", "0%"] and rows[2][5:] == ["-"] * 5
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "clean_stats.py"), f"tiny={tiny_rgba_run}", "--n", "8",
                          "--data", str(faces32_rgba)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    row = out.stdout.strip().splitlines()[2].split("|")
    assert row[1].strip() == "tiny" and row[2].strip() == "8" and len(row) == 2 + 10


def test_grad_balance_prints_each_batchs_gradient_norms_and_the_matching_weight(tiny_rgba_run, tiny_run):
    script = str(ROOT / "scripts" / "grad_balance.py")
    out = subprocess.run([sys.executable, script, str(tiny_rgba_run), "--batches", "3", "--batch-size", "4"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [[float(c) for c in line.split("|")[2:-1]] for line in out.stdout.splitlines()
            if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 3 and all(adv > 0 for adv, _, _ in rows)
    assert all((frag > 0) == (loss > 0) for _, frag, loss in rows)   # a batch without fragments pulls nothing
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith("median adversarial norm") and "D from" in out.stdout   # D as --init starts it
    hit = sorted(frag for _, frag, _ in rows if frag > 0)
    if hit:
        weight = float(summary.rsplit("= ", 1)[1])
        assert weight == pytest.approx(float(np.median([r[0] for r in rows])) / float(np.median(hit)), rel=0.01)
    flat = subprocess.run([sys.executable, script, str(tiny_run), "--term", "flat", "--batches", "2", "--batch-size", "4"],
                          capture_output=True, text=True, timeout=300)   # RGB: every pixel is the fill
    assert flat.returncode == 0, flat.stderr
    flat_rows = [[float(c) for c in line.split("|")[2:-1]] for line in flat.stdout.splitlines()
                 if line.startswith("| ") and line[2].isdigit()]
    assert len(flat_rows) == 2 and all(adv > 0 and g > 0 and 0 < v <= 0.08 for adv, g, v in flat_rows)
    assert "| flat (weight 1) |" in flat.stdout and "train.flat = " in flat.stdout.strip().splitlines()[-1]
    for args, words in (([str(tiny_run)], "needs a transparent model"), (["faces64", "--batches", "0"], "use 1-10000")):
        bad = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_label_diversity_reads_a_model_that_ignores_z_as_one_image_per_label(tiny_run):
    """A conditional model's draws of one label: SSIM 1 when every seed draws the same z (one image per label),
    lower for the model as trained; an unconditional model is refused with one line and exit 2."""
    import torch

    mod = _load("label_diversity")
    from emojigan.metrics.evaluate import titled_generator

    _, gen = titled_generator("cond128")
    s = mod.draws_ssim(gen, [0, 5], draws=3, seed=0)
    assert s.shape == (2, 3) and bool(((s > 0.5) & (s <= 1.0 + 1e-5)).all())
    real_z = gen.sample_tensor

    def no_noise(seeds=None, labels=None, **kw):                # every seed draws the same z: identical images
        return real_z(seeds=[seeds[0]] * len(seeds), labels=labels, **kw)
    gen.sample_tensor = no_noise
    same = mod.draws_ssim(gen, [0, 5], draws=3, seed=0)
    assert torch.allclose(same, torch.ones_like(same), atol=1e-4)
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "label_diversity.py"), "cond128", "--every", "60",
                          "--draws", "2"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    row = [c.strip() for c in out.stdout.splitlines()[-1].split("|")[1:-1]]
    assert row[:3] == ["cond128", "2", "2"] and 0 < float(row[3]) <= 1
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "label_diversity.py"), str(tiny_run)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "is not conditional" in bad.stderr and not bad.stdout
