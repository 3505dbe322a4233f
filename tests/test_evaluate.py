"""`emojigan evaluate` and `emojigan compare` on a tiny run, and in-training evaluation, through the real CLI."""
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emojigan.metrics.plots import FIGURES
from tests.conftest import TINY, run_cli


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "ev"
    p = run_cli("evaluate", tiny_run, "--n", "48", "--out", out, "--quiet")
    assert "KID" in p.stdout and "recall" in p.stdout and "real emojis missed by every set (missed.png)" in p.stdout
    return out


def test_evaluate_writes_every_figure_and_number(evaluated, faces32):
    m = json.loads((evaluated / "metrics.json").read_text())
    for key in ("kid", "kid_std", "fid", "precision", "recall", "copy_rate", "ssim_nearest_mean", "edge_ratio",
                "noise_ratio", "pixel_distance_mean", "feature_variance_mean", "feature_distance_mean"):
        assert isinstance(m[key], float), key
    assert m["n_fake"] == 48 and m["n_real"] == 111 and m["features"] == "openmoji" and m["epoch"] == 3
    assert 0 <= m["precision"] <= 1 and 0 <= m["copy_rate"] <= 1
    for name in list(FIGURES) + ["samples.png", "real.png", "memorization_pairs.png"]:
        with Image.open(evaluated / name) as im:
            assert im.size[0] > 100, name
    with Image.open(evaluated / "real_vs_samples.png") as both, Image.open(evaluated / "real.png") as real:
        assert both.mode == "RGB" and both.width > 2 * real.width and both.height > real.height
        px = np.asarray(both)
        assert (px[:, :16] == 255).all()                # white margin, then the two grids
        assert px[30:, 16:16 + real.width].std() > 10 and px[30:, -16 - real.width:-16].std() > 10
    # the real emojis no set of samples recalls, by name and as a grid (a 3-epoch model misses most)
    missed = m["recall_missed_emojis"]
    assert m["recall_missed"] == len(missed) > 50
    with open(faces32 / "labels.csv", newline="", encoding="utf-8") as f:
        annotations = [row["annotation"] for row in csv.DictReader(f)]
    assert set(missed) <= set(annotations) and missed == sorted(missed, key=annotations.index)  # by name, in order
    assert 1 - m["recall"] >= m["recall_missed"] / 111 - 1e-9       # missed by every set <= missed on average
    hits = np.load(evaluated / "arrays.npz")["recall_hits"]
    assert hits.shape == (111,) and int((hits == 0).sum()) == m["recall_missed"]
    with Image.open(evaluated / "missed.png") as im:
        rows = -(-min(64, len(missed)) // 8)
        assert im.height > rows * 32 and im.width >= min(8, len(missed)) * 32
    # the same counts per emoji as a table: training order, stems, annotations
    with open(evaluated / "recall_hits.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["annotation"] for r in table] == annotations and [int(r["hits"]) for r in table] == hits.tolist()
    assert {r["sets"] for r in table} == {str(m["pr_sets"])} and all(r["name"] for r in table)
    # focus.txt: the emojis recalled by at most --focus-hits sets (default 1), in the format train.focus reads
    lines = [ln for ln in (evaluated / "focus.txt").read_text().splitlines() if not ln.startswith("#")]
    assert m["focus_hits"] == 1 and m["focus_count"] == len(lines) == int((hits <= 1).sum())
    assert [ln.split("  #")[0] for ln in lines] == [r["name"] for r in table if int(r["hits"]) <= 1]


def test_focus_list_of_evaluate_trains_a_focused_member(evaluated, faces32, tmp_path):
    from emojigan.data import load_images
    from emojigan.data.focus import focus_weights

    w = focus_weights(load_images(faces32, 32, "black"), evaluated / "focus.txt")
    m = json.loads((evaluated / "metrics.json").read_text())
    assert int((w > 0).sum()) == m["focus_count"] and float(w.sum()) == pytest.approx(1.0)
    p = run_cli("evaluate", "faces64", "--n", "8", "--focus-hits", "1001", "--out", tmp_path / "ev", check=False)
    assert p.returncode == 2 and "--focus-hits" in p.stderr and not (tmp_path / "ev").exists()


def test_report_html_has_every_section(evaluated):
    page = (evaluated / "report.html").read_text()
    for title, _ in FIGURES.values():
        assert f"<h2>{title}</h2>" in page.replace("&amp;", "&"), title
    for section in ("summary", "samples", "memorization-pairs", "missed", "all-metrics", "config"):
        assert f'id="{section}"' in page
    m = json.loads((evaluated / "metrics.json").read_text())
    assert f"{m['recall_missed']} of 111 training emojis" in page and m["recall_missed_emojis"][0] in page
    assert page.count("data:image/png;base64,") == len(FIGURES) + 4   # self-contained
    assert "src=\"http" not in page and "lr_d" in page


def test_evaluate_run_without_checkpoint(tmp_path, tiny_run):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text((tiny_run / "config.json").read_text())
    p = run_cli("evaluate", tmp_path / "run", "--out", tmp_path / "ev", check=False)
    assert p.returncode == 2 and "has no checkpoint yet" in p.stderr and p.stderr.count("\n") == 1
    p = run_cli("evaluate", tmp_path / "nope", "--out", tmp_path / "ev", check=False)
    assert p.returncode == 2 and "is not a run folder" in p.stderr
    p = run_cli("evaluate", tiny_run, "--features", "inception", "--inception-weights", tmp_path / "none.pt",
                "--out", tmp_path / "ev", check=False)
    assert p.returncode == 2 and "inception-2015-12-05.pt" in p.stderr and not (tmp_path / "ev").exists()


def test_training_with_eval_every_keeps_best(faces32, tmp_path):
    out = tmp_path / "run"
    run_cli("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "2", "--eval-every", "1",
            "--set", "train.eval_n=32", "--out", out, *TINY)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2]
    assert all({"kid", "ssim_nearest", "precision", "recall", "copy_rate"} <= set(r) for r in evals)
    best = min(evals, key=lambda r: r["kid"])
    meta = json.loads((out / "generator-best.json").read_text())
    assert meta["training"]["epoch"] == best["epoch"]
    assert (out / "checkpoints" / "best.pt").is_file() and (out / "checkpoints" / "latest.pt").is_file()
    ev = tmp_path / "ev"
    run_cli("evaluate", out, "--n", "16", "--checkpoint", "best", "--out", ev, "--quiet")
    m = json.loads((ev / "metrics.json").read_text())
    assert m["checkpoint"] == "best" and m["epoch"] == best["epoch"]
    assert (ev / "ssim_over_epochs.png").is_file()
    # compare --history: the in-training evaluations side by side, no new samples
    p = run_cli("compare", out, out, "--names", "a,b", "--history", "--window", "0-100", "--out", tmp_path / "hist")
    table = (tmp_path / "hist" / "history.md").read_text()
    first = evals[0]
    assert f"| {first['step']:,} | {first['kid']:.3f} / {first['recall']:.2f}" in table and table in p.stdout
    assert f"| a | 2 | {sum(r['kid'] for r in evals) / 2:.3f} |" in table
    with Image.open(tmp_path / "hist" / "history.png") as im:
        assert im.width > 500
    for args, words in (([out, "--window", "9-1"], "LO must be at most HI"),
                        ([tmp_path / "ev"], "is not a run folder (no metrics.jsonl)")):
        p = run_cli("compare", *args, "--history", "--out", tmp_path / "h2", check=False)
        assert p.returncode == 2 and words in p.stderr and not (tmp_path / "h2").exists()


def test_compare_two_runs(tiny_run, tiny_rgba_run, tmp_path):
    run_cli("compare", tiny_run, tiny_rgba_run, "--names", "black,rgba", "--n", "16", "--out", tmp_path / "cmp",
            "--quiet")
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert md.startswith("| metric | black | rgba |")
    assert "| kid |" in md and "| recall |" in md and "![black](samples-black.png)" in md
    assert (tmp_path / "cmp" / "samples-rgba.png").is_file()
    html = (tmp_path / "cmp" / "compare.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    results = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert set(results) == {"black", "rgba"} and results["black"]["n_fake"] == 16


def test_best_checkpoint_skips_evaluations_that_copy():
    from emojigan.training.evaluation import better_checkpoint

    assert better_checkpoint({"kid": 0.1, "copy_rate": 0.0}, 0.2, 1.0)
    assert not better_checkpoint({"kid": 0.3, "copy_rate": 0.0}, 0.2, 1.0)
    assert not better_checkpoint({"kid": 0.1, "copy_rate": 0.08}, 0.2, 0.05)  # lower KID, but copies
    assert better_checkpoint({"kid": 0.1, "copy_rate": 0.05}, 0.2, 0.05)  # at the limit is allowed
    assert better_checkpoint({"kid": 5.0, "copy_rate": 0.0}, float("inf"), 0.0)


def test_compare_reuses_current_evaluations_and_redoes_older_ones(tiny_run, tmp_path):
    from emojigan.metrics.evaluate import METRICS_VERSION

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("eval-*"))
    args = ("compare", run, "--n", "8", "--out", tmp_path / "cmp", "--quiet")
    run_cli(*args)
    cached = run / "eval-openmoji-n8-s0" / "metrics.json"
    m = json.loads(cached.read_text())
    assert m["metrics_version"] == METRICS_VERSION
    cached.write_text(json.dumps(m | {"kid": 123.0}))                    # a current cache is read back as is
    run_cli(*args)
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["run"]["kid"] == 123.0
    cached.write_text(json.dumps({k: v for k, v in m.items() if k != "metrics_version"} | {"kid": 123.0}))
    run_cli(*args)                                                       # an older one is evaluated again
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["run"]["kid"] == m["kid"]


def test_evaluate_a_shipped_model_by_name(tmp_path):
    """`emojigan evaluate faces64` checks the shipped model on the data its card names (no run folder)."""
    from emojigan.inference import load_generator

    out = tmp_path / "ev"
    p = run_cli("evaluate", "faces64", "--n", "16", "--out", out, "--quiet")
    assert p.stdout.startswith(f"{out}/report.html: KID")
    m = json.loads((out / "metrics.json").read_text())
    gen = load_generator("faces64")
    steps = [t["step"] for t in gen.meta["mixture"]["training"]]      # the shipped faces64 is a mixture of three
    assert m["step"] == steps and m["n_real"] == 111 and m["n_fake"] == 16
    with Image.open(out / "samples.png") as im:                       # 4x4 RGBA samples at 64 px, gridded
        assert im.size[0] > 4 * 64
    assert "faces64" in (out / "report.html").read_text()
    run_cli("compare", "faces64", "--n", "8", "--out", tmp_path / "cmp", "--quiet")
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert len(steps) == 3 and f"| step | {' + '.join(map(str, steps))} |" in table
    assert (tmp_path / "cmp" / "eval-faces64" / "metrics.json").is_file() and not Path("faces64").exists()
    p = run_cli("evaluate", "faces64", "--checkpoint", "best", "--out", tmp_path / "b", check=False)
    assert p.returncode == 2 and "a shipped model is one generator" in p.stderr and not (tmp_path / "b").exists()


def test_evaluate_measures_the_redrawing_sampler(tmp_path):
    """`evaluate --redraw R` measures generate --redraw's sampler and says so in the numbers and the report."""
    out = tmp_path / "ev"
    # seeds 112-143: three of them (115, 121, 139) are first drawn with a stray fragment by the shipped faces64
    p = run_cli("evaluate", "faces64", "--n", "32", "--seed", "112", "--redraw", "8", "--out", out, "--quiet")
    m = json.loads((out / "metrics.json").read_text())
    assert m["redraw"] == 8 and 0 < m["redrawn_rate"] < 0.5
    assert f"{m['redrawn_rate']:.1%} of the samples were replaced by a later draw" in p.stdout
    assert m["stray_fragment_rate"] < m["redrawn_rate"]                 # fewer fragmented samples than first drawn
    assert "sampled with --redraw 8" in (out / "report.html").read_text()


def test_evaluate_measures_the_truncated_sampler(tmp_path):
    """`evaluate --truncation T` measures generate --truncation's latents: less varied samples, said in the report;
    an absurd T is refused in one line before anything is written."""
    plain, cut = tmp_path / "plain", tmp_path / "cut"
    run_cli("evaluate", "faces64", "--n", "32", "--out", plain, "--quiet")
    p = run_cli("evaluate", "faces64", "--n", "32", "--truncation", "0.5", "--out", cut, "--quiet")
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (plain, cut))
    assert a["truncation"] is None and b["truncation"] == 0.5 and "--truncation 0.5: latent components" in p.stdout
    assert b["feature_distance_mean"] < 0.9 * a["feature_distance_mean"]   # the samples lie closer together
    assert "sampled with --truncation 0.5" in (cut / "report.html").read_text()
    assert "sampled with" not in (plain / "report.html").read_text()
    for bad in ("0", "-1", "11"):
        p = run_cli("evaluate", "faces64", "--truncation", bad, "--out", tmp_path / "bad", check=False)
        assert p.returncode == 2 and "--truncation" in p.stderr and len(p.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()


def test_evaluate_and_compare_an_export_file(tmp_path, tiny_run):
    """An exported generator file is evaluated on the OpenMoji data its metadata names, like a shipped model; one
    trained on a user's folder names none and is refused in one line."""
    from emojigan.pretrained import shipped_models

    export = tmp_path / "f64.safetensors"
    export.write_bytes(shipped_models()["faces64"].read_bytes())
    run_cli("compare", export, "faces64", "--names", "file,shipped", "--n", "8", "--out", tmp_path / "cmp", "--quiet")
    results = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert results["file"]["kid"] == results["shipped"]["kid"] and results["file"]["n_real"] == 111
    p = run_cli("evaluate", tiny_run / "generator.safetensors", "--out", tmp_path / "ev", check=False)
    assert p.returncode == 2 and "does not name the OpenMoji subset" in p.stderr and not (tmp_path / "ev").exists()
