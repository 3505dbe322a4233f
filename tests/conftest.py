"""Shared fixtures: tiny real datasets and one tiny real training run (32 px, a few epochs)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Datasets that training builds on demand go to a temporary cache, never the user's."""
    os.environ["EMOJIGAN_CACHE"] = str(tmp_path_factory.mktemp("cache"))


def run_cli(*args: str, check: bool = True, threads: int | None = None) -> subprocess.CompletedProcess:
    """The real console entry point in a fresh interpreter, as a user runs it (`threads`: OMP_NUM_THREADS)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    proc = subprocess.run([sys.executable, "-m", "emojigan", *map(str, args)], capture_output=True, text=True,
                          env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"emojigan {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def faces32(tmp_path_factory) -> Path:
    from emojigan.data import build_dataset

    return build_dataset(tmp_path_factory.mktemp("ds") / "faces32", "faces", 32, "black", progress=False)


@pytest.fixture(scope="session")
def faces32_rgba(tmp_path_factory) -> Path:
    from emojigan.data import build_dataset

    return build_dataset(tmp_path_factory.mktemp("ds") / "faces32t", "faces", 32, "transparent", progress=False)


TINY = ["--size", "32", "--batch-size", "16", "--set", "model.g_base=16", "--set", "model.d_base=16",
        "--set", "model.max_channels=64", "--quiet"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, faces32) -> Path:
    """A 3-epoch dcgan64-preset run at 32 px with slim channels, through the real CLI."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    run_cli("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "3", "--sample-every", "2",
            "--checkpoint-every", "2", "--out", out, *TINY)
    return out


@pytest.fixture(scope="session")
def tiny_rgba_run(tmp_path_factory, faces32_rgba) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny_rgba"
    run_cli("train", "--preset", "dcgan64", "--data", faces32_rgba, "--background", "transparent",
            "--epochs", "1", "--out", out, *TINY)
    return out


def train_split_and_resumed(tmp_path: Path, epochs: int, *args) -> tuple[Path, Path]:
    """The same `emojigan train ARGS` run twice: `ref` straight through `epochs`, `part` stopped halfway and
    resumed to `epochs`; returns (ref, part). One thread each: on CPUs with AMX, two-thread runs of the same
    settings were seen to differ in the last bits now and then (3 of about 60 comparisons), which is
    the kernels' thread split, not the resume under test."""
    ref, part = tmp_path / "ref", tmp_path / "part"
    run_cli("train", *args, "--epochs", epochs, "--out", ref, threads=1)
    run_cli("train", *args, "--epochs", epochs // 2, "--out", part, threads=1)
    run_cli("train", "--resume", part, "--epochs", epochs, "--quiet", threads=1)
    return ref, part


def assert_same_training_state(run_a: Path, run_b: Path, steps: int, nets=("G", "D")) -> None:
    """Two runs' latest training states are at `steps` and hold bit-identical networks."""
    a = torch.load(run_a / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(run_b / "checkpoints" / "latest.pt", weights_only=True)
    assert a["step"] == b["step"] == steps
    for net in nets:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs between {run_a.name} and {run_b.name}"


def tiny_gan(channels: int = 3, g_gain: float = 1.0, images=None, P=None, opt_P=None, **settings):
    """A 32x32 dcgan (RGB, or RGBA with `channels=4`; z 16, 8 base channels) with its optimizers in a GANStep whose
    `train` settings are the defaults changed by `settings` (e.g. `loss="hinge"`, `faint_alpha=100.0`), seeded;
    `g_gain` scales G's last convolution (large: saturated outputs); `images`: the regularizers' TrainingImages;
    `P`, `opt_P`: a patch critic and its optimizer."""
    import torch

    from emojigan.config import Config, set_value
    from emojigan.models import build
    from emojigan.training.step import GANStep, make_nets

    torch.manual_seed(0)
    G, D = build("dcgan", 32, channels, 16, 8, 8, 32)
    if g_gain != 1.0:
        with torch.no_grad():
            G.net[-2].weight.mul_(g_gain)
    cfg = Config()
    for key, value in settings.items():
        set_value(cfg, f"train.{key}", value)
    nets = make_nets(G, D, 1e-3, 1e-3, (0.5, 0.999), torch.device("cpu"))
    nets.P, nets.opt_P = P, opt_P
    return GANStep(nets, cfg.train, images=images, channels=channels)


@pytest.fixture(scope="session")
def text_run(tmp_path_factory, faces32_rgba) -> Path:
    """A 2-epoch prompt-conditioned run (the text64 preset) at 32 px on the 111 faces, through the real CLI."""
    out = tmp_path_factory.mktemp("runs") / "text"
    run_cli("train", "--preset", "text64", "--data", faces32_rgba, "--background", "transparent", "--epochs", "2",
            "--set", "model.embed_dim=16", "--set", "train.eval_every=0", "--out", out, *TINY)
    return out
