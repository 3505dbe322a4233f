"""DistributedDataParallel through torchrun on the CPU (gloo, 2 processes): identical weights after every
step, rank 0 alone writes the run files, and a resumed DDP run equals the uninterrupted one."""
import json
import os
import subprocess
import sys

import torch

from tests.conftest import assert_same_training_state

SLIM = ["--size", "32", "--set", "model.g_base=16", "--set", "model.d_base=16", "--set", "model.max_channels=64",
        "--quiet"]


def torchrun(*args, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EMOJIGAN_DDP_CHECK": "1"}  # the check raises if ranks ever differ
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "emojigan", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-2000:] + proc.stderr[-4000:])
    return proc


def test_ddp_ranks_stay_identical_and_resume_exactly(faces32, tmp_path):
    ref, part = tmp_path / "ref", tmp_path / "part"
    common = ["train", "--preset", "dcgan64", "--data", faces32, "--checkpoint-every", "2", "--sample-every", "2",
              *SLIM]
    out = torchrun(*common, "--epochs", "4", "--out", ref)
    assert out.stdout.count("trained;") == 1                      # one rank speaks
    cfg = json.loads((ref / "config.json").read_text())
    assert cfg["provenance"]["world_size"] == 2
    rows = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines()]
    steps_per_epoch = 4                                           # 111 images / 2 ranks -> 56 each, batch 16
    assert [r["step"] for r in rows] == sorted({r["step"] for r in rows})  # no row written twice
    assert rows[-1]["step"] == 4 * steps_per_epoch
    assert sorted(p.name for p in (ref / "samples").iterdir()) == ["epoch-000001.png", "epoch-000002.png",
                                                                   "epoch-000004.png"]
    state = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)
    assert isinstance(state["noise_rng"], list) and len(state["noise_rng"]) == 2   # one noise stream per rank
    assert not torch.equal(state["noise_rng"][0], state["noise_rng"][1])

    torchrun(*common, "--epochs", "2", "--out", part)
    torchrun("train", "--resume", part, "--epochs", "4", "--quiet")
    assert_same_training_state(ref, part, 4 * steps_per_epoch)


def test_resume_with_another_world_size_is_refused(faces32, tmp_path):
    from tests.conftest import run_cli

    run = tmp_path / "single"
    run_cli("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "1", "--out", run, *SLIM)
    p = torchrun("train", "--resume", run, "--epochs", "2", "--quiet", check=False)
    assert p.returncode != 0 and "trained with 1 process(es); resume it with as many (now 2)" in p.stderr


def test_ddp_with_the_patch_discriminator_keeps_ranks_identical(faces32, tmp_path):
    run = tmp_path / "patch"
    torchrun("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "2", "--sample-every", "2",
             "--set", "train.patch=1", "--out", run, *SLIM)  # the check covers G, D and P
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert state["step"] == 2 * 4 and "P" in state and "opt_P" in state
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
    assert rows and all(r["loss_patch"] > 0 for r in rows)




def test_ddp_with_in_training_evaluation_finishes_and_keeps_the_best(faces32, tmp_path):
    """Rank 0 alone evaluates (KID, copies); the others wait at the next collective. torchmetrics' own sync across
    the process group once made rank 0 wait for ranks that never came: the run hung at its first evaluation."""
    run = tmp_path / "eval"
    torchrun("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "2", "--eval-every", "1",
             "--set", "train.eval_n=16", "--out", run, *SLIM)
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert [r["epoch"] for r in evals] == [1, 2] and all(r["kid"] == r["kid"] for r in evals)   # one row each, no NaN
    assert (run / "generator-best.safetensors").is_file() and (run / "checkpoints" / "best.pt").is_file()
