import json
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from emojigan.export import EXPORT_VERSION
from tests.conftest import TINY, assert_same_training_state, run_cli

STEPS_PER_EPOCH = 7  # 111 faces at batch 16, last partial batch kept


def test_run_folder_has_every_file(tiny_run):
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["train"]["epochs"] == 3 and cfg["train"]["lr_d"] == 1.05e-4 and cfg["data"]["size"] == 32
    prov = cfg["provenance"]
    assert prov["torch"] == torch.__version__ and prov["emojigan"] == "0.1.0" and "git_commit" in prov
    assert prov["python"].startswith("3.") and cfg["dataset"]["count"] == 111
    rows = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "seconds"} <= set(rows[0])
    assert rows[-1]["step"] == 3 * STEPS_PER_EPOCH and rows[-1]["epoch"] == 3.0
    assert [r["step"] for r in rows] == sorted({r["step"] for r in rows})
    assert all(np.isfinite([r["loss_d"], r["loss_g"]]).all() and 0 <= r["d_real"] <= 1 for r in rows)
    assert sorted(p.name for p in (tiny_run / "samples").iterdir()) == [
        "epoch-000001.png", "epoch-000002.png", "epoch-000003.png"]
    with Image.open(tiny_run / "samples" / "epoch-000003.png") as im:
        assert im.size == (8 * 34 + 2, 8 * 34 + 2)
    state = torch.load(tiny_run / "checkpoints" / "latest.pt", weights_only=True)
    assert state["epoch"] == 3 and state["step"] == 21 and {"G", "D", "opt_G", "opt_D", "noise_rng"} <= set(state)
    meta = json.loads((tiny_run / "generator.json").read_text())
    assert meta["format"] == "emojigan-generator" and meta["format_version"] == EXPORT_VERSION
    assert meta["training"]["step"] == 21 and "CC BY-SA 4.0" in meta["license"]
    weights = load_file(tiny_run / "generator.safetensors")
    assert torch.equal(weights["net.0.weight"], state["G"]["net.0.weight"])
    assert (tiny_run / "real.png").is_file()
    assert not list(tiny_run.rglob(".*tmp*"))  # atomic writes leave no temp files


def test_samples_are_drawn_like_generate(tiny_run, tmp_path):
    run_cli("generate", tiny_run, "--n", "64", "--seed", "0", "--nrow", "8", "--out", tmp_path / "g.png")
    a = np.asarray(Image.open(tiny_run / "samples" / "epoch-000003.png"))
    b = np.asarray(Image.open(tmp_path / "g.png"))
    assert np.array_equal(a, b)


def _train_args(data, out, epochs):
    return ["train", "--preset", "dcgan64", "--data", data, "--epochs", str(epochs), "--checkpoint-every", "2",
            "--sample-every", "100", "--out", out, *TINY]


def test_resume_after_crash_equals_uninterrupted(faces32, tmp_path):
    ref = tmp_path / "ref"
    run_cli(*_train_args(faces32, ref, 6))
    # a run that is killed hard (as by a crash) once a checkpoint exists
    crashed = tmp_path / "crashed"
    proc = subprocess.Popen([sys.executable, "-m", "emojigan", *map(str, _train_args(faces32, crashed, 1000))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (crashed / "checkpoints" / "latest.pt").exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    state = torch.load(crashed / "checkpoints" / "latest.pt", weights_only=True)
    assert 2 <= state["epoch"] <= 6, "the crash must land between checkpoints of the reference"
    run_cli("train", "--resume", crashed, "--epochs", "6", "--quiet")
    assert_same_training_state(ref, crashed, 6 * STEPS_PER_EPOCH)
    ra = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines()]
    rb = [json.loads(x) for x in (crashed / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in ra] == [r["step"] for r in rb]                    # no duplicated steps
    assert [r["loss_d"] for r in ra] == [r["loss_d"] for r in rb]
    cfg = json.loads((crashed / "config.json").read_text())
    assert cfg["train"]["epochs"] == 6 and len(cfg["resumes"]) == 1


def test_resume_with_a_new_learning_rate(tiny_run, tmp_path):
    """--set on --resume changes the learning rate from there on (the optimizer state must not restore the old one)."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    old = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert old["opt_G"]["param_groups"][0]["lr"] == 1.5e-4
    run_cli("train", "--resume", run, "--epochs", "4", "--set", "train.lr_g=1e-5", "--set", "train.lr_d=2e-5",
            "--checkpoint-every", "1", "--quiet")
    new = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert new["epoch"] == 4
    assert [g["lr"] for g in new["opt_G"]["param_groups"]] == [1e-5]
    assert [g["lr"] for g in new["opt_D"]["param_groups"]] == [2e-5]
    # Adam's moments carried over rather than restarting: step counts continue from the old run
    assert float(new["opt_G"]["state"][0]["step"]) == float(old["opt_G"]["state"][0]["step"]) + STEPS_PER_EPOCH
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["lr_g"] == 1e-5 and cfg["resumes"][0]["epoch"] == 3


def test_resume_with_another_network_is_refused_in_one_line(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = (run / "checkpoints" / "latest.pt").read_bytes()
    p = run_cli("train", "--resume", run, "--epochs", "4", "--set", "model.attention=true", "--quiet", check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "model.attention False -> True" in p.stderr and "train a new run" in p.stderr
    assert (run / "checkpoints" / "latest.pt").read_bytes() == before      # nothing written


def test_resume_finished_run_is_noop(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    out = run_cli("train", "--resume", copy, "--quiet")
    assert "already trained for 3 epochs" in out.stdout


def test_the_starting_command_with_resume_added_continues_and_conflicts_are_named(faces32, tmp_path):
    """After a crash a user re-runs the same command with --resume: accepted when the preset and settings agree with
    the run (how long and how often may change), refused in one line naming what conflicts."""
    out = tmp_path / "run"
    start = ["train", "--preset", "dcgan64", "--data", faces32, "--out", out, *TINY]
    run_cli(*start, "--epochs", "1", "--checkpoint-every", "1")
    run_cli(*start, "--epochs", "2", "--checkpoint-every", "1", "--resume")
    state = torch.load(out / "checkpoints" / "latest.pt", weights_only=True)
    assert state["epoch"] == 2 and len(json.loads((out / "config.json").read_text())["resumes"]) == 1
    before = (out / "config.json").read_text()
    for args, words in ((["--preset", "faces64"], "data.background 'black' (the run) vs 'transparent' (this command)"),
                        (["--preset", "dcgan64", "--lr-g", "0.001"], "train.lr_g 0.00015 (the run) vs 0.001")):
        p = run_cli("train", *args, "--data", faces32, "--out", out, *TINY, "--epochs", "3", "--resume", check=False)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert (out / "config.json").read_text() == before


def test_a_local_folder_named_like_a_shipped_model_is_taken_and_said(tiny_run, tmp_path):
    shutil.copytree(tiny_run, tmp_path / "faces64")
    p = subprocess.run([sys.executable, "-m", "emojigan", "generate", "faces64", "--n", "2", "--out", "g.png"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0 and "./faces64 is a local folder and was taken" in p.stderr
    with Image.open(tmp_path / "g.png") as im:
        assert im.height < 64                                     # the 32 px tiny run, not the 64 px shipped model


def test_train_on_user_folder_with_junk(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(folder / f"img{i}.jpg")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "run"
    run_cli("train", "--data", folder, "--epochs", "1", "--out", out, *TINY)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["dataset"]["count"] == 5 and cfg["dataset"]["skipped"] == 1
    assert "license" not in json.loads((out / "generator.json").read_text())  # the user's images, not OpenMoji
