import json
import shutil

import torch

from tests.conftest import TINY, assert_same_training_state, run_cli

STEPS_PER_EPOCH = 7  # 111 faces at batch 16


def test_branch_continues_exactly_and_leaves_the_source_alone(faces32, tmp_path):
    src = tmp_path / "src"
    run_cli("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "2", "--checkpoint-every", "1",
            "--sample-every", "1", "--eval-every", "1", "--set", "train.eval_n=32", "--out", src, *TINY, threads=1)
    before = {p.relative_to(src): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    ref = tmp_path / "ref"  # the source itself, continued
    shutil.copytree(src, ref)
    run_cli("train", "--resume", ref, "--epochs", "4", "--quiet", threads=1)

    new = tmp_path / "new"
    p = run_cli("train", "--branch", src, "--out", new, "--epochs", "4", "--quiet", threads=1)
    assert f"branched from {src} (latest state, epoch 2)" in p.stdout
    assert_same_training_state(ref, new, 4 * STEPS_PER_EPOCH)
    assert {p.relative_to(src): p.read_bytes() for p in src.rglob("*") if p.is_file()} == before
    cfg = json.loads((new / "config.json").read_text())
    assert cfg["branched_from"] == {"run": str(src), "checkpoint": "latest", "epoch": 2, "own_best": False}
    assert cfg["train"]["epochs"] == 4 and cfg["resumes"][0]["epoch"] == 2
    rows_ref = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines()]
    rows_new = [json.loads(x) for x in (new / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows_new] == [r["step"] for r in rows_ref]   # one history, no gaps or repeats
    assert [r.get("loss_d") for r in rows_new] == [r.get("loss_d") for r in rows_ref]
    assert sorted(x.name for x in (new / "samples").iterdir()) == [f"epoch-00000{e}.png" for e in range(1, 5)]

    # from the best state: the branch starts at the best evaluation's epoch, with that generator as its export
    best_epoch = json.loads((src / "generator-best.json").read_text())["training"]["epoch"]
    b = tmp_path / "from-best"
    run_cli("train", "--branch", src, "--checkpoint", "best", "--out", b, "--epochs", "2",
            "--set", "train.lr_g=1e-5", "--quiet", threads=1)
    cfg = json.loads((b / "config.json").read_text())
    assert cfg["branched_from"]["epoch"] == best_epoch and cfg["train"]["lr_g"] == 1e-5
    state = torch.load(b / "checkpoints" / "latest.pt", weights_only=True)
    assert state["epoch"] == 2
    if best_epoch < 2:  # it trained on from there, at the new learning rate
        assert [g["lr"] for g in state["opt_G"]["param_groups"]] == [1e-5]
    else:
        assert (b / "generator.safetensors").read_bytes() == (src / "generator-best.safetensors").read_bytes()

    # --own-best: the branch's best is the best of its own evaluations (epochs 3, 4), never one of RUN's
    own = tmp_path / "own-best"
    run_cli("train", "--branch", src, "--out", own, "--epochs", "4", "--own-best", "--quiet", threads=1)
    assert json.loads((own / "config.json").read_text())["branched_from"]["own_best"] is True
    evals = [json.loads(x) for x in (own / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r["kind"] == "eval" and r["epoch"] > 2 and r["copy_rate"] <= 1.0]
    assert [r["epoch"] for r in evals] == [3, 4]
    best = min(evals, key=lambda r: r["kid"])
    assert json.loads((own / "generator-best.json").read_text())["training"]["epoch"] == best["epoch"]
    assert torch.load(own / "checkpoints" / "best.pt", weights_only=True)["epoch"] == best["epoch"]
    assert torch.load(own / "checkpoints" / "latest.pt", weights_only=True)["best_kid"] == best["kid"]


def test_branch_errors_are_one_line_and_write_nothing(tiny_run, tmp_path):
    out = tmp_path / "new"
    cases = [
        (["--branch", tiny_run, "--checkpoint", "best", "--out", out], "has no best training state"),
        (["--branch", tmp_path / "nope", "--out", out], "is not a run folder"),
        (["--branch", tiny_run, "--out", out, "--set", "train.flat=-1"], "train.flat -1.0 is out of range"),
        (["--branch", tiny_run, "--out", tiny_run], "is the run being branched"),
        (["--branch", tiny_run, "--preset", "faces64", "--out", out], "drop --resume/--preset/--config"),
        (["--branch", tiny_run], "needs --out NEW"),
        (["--resume", tiny_run, "--checkpoint", "best"], "add --branch RUN"),
        (["--resume", tiny_run, "--own-best"], "--own-best sets how a branch picks its best checkpoint; add --branch"),
        (["--branch", tiny_run, "--out", out, "--set", "train.faint_alpha=-1"], "train.faint_alpha -1.0 is out of range"),
    ]
    latest = (tiny_run / "checkpoints" / "latest.pt").read_bytes()
    for args, message in cases:
        p = run_cli("train", *args, "--quiet", check=False)
        assert p.returncode == 2 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
        assert not out.exists()
    assert (tiny_run / "checkpoints" / "latest.pt").read_bytes() == latest
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    p = run_cli("train", "--branch", tiny_run, "--out", out, "--quiet", check=False)
    assert p.returncode == 2 and "not an emojigan run folder" in p.stderr
    assert [x.name for x in out.iterdir()] == ["notes.txt"]
