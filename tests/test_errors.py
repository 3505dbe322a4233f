"""Bad input ends in one clear line on stderr and exit code 2, with nothing already written lost."""
import shutil

import pytest

from emojigan.cli import main
from tests.conftest import TINY, run_cli


def cli(capsys, *args):
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    return code, err


def assert_clean_error(code, err, words):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert "Traceback" not in err
    assert words in lines[0], lines[0]


@pytest.mark.parametrize("args, words", [
    (["data", "build", "--subset", "nope", "--out", "{tmp}/d"], "unknown subset 'nope'; choose one of faces"),
    (["data", "build", "--size", "48", "--out", "{tmp}/d"], "invalid choice: 48"),
    (["data", "build", "--background", "pink", "--out", "{tmp}/d"], "invalid choice: 'pink'"),
    (["data", "build", "--subgroup", "face-nope", "--out", "{tmp}/d"], "matches no OpenMoji subgroup"),
    (["train", "--preset", "nope", "--out", "{tmp}/r"], "unknown preset 'nope'"),
    (["train", "--preset", "dcgan64", "--epochs", "-1", "--out", "{tmp}/r"], "-1 is out of range"),
    (["train", "--preset", "dcgan64", "--epochs", "10000000", "--out", "{tmp}/r"], "out of range"),
    (["train", "--preset", "dcgan64", "--batch-size", "0", "--out", "{tmp}/r"], "0 is out of range"),
    (["train", "--preset", "dcgan64", "--lr-g", "5", "--out", "{tmp}/r"], "train.lr_g 5.0 is out of range"),
    (["train", "--preset", "dcgan64", "--set", "train.epochs=abc", "--out", "{tmp}/r"], "expects int"),
    (["train", "--preset", "dcgan64", "--set", "epochs", "--out", "{tmp}/r"], "must look like section.key=value"),
    (["train", "--preset", "dcgan64", "--data", "{tmp}/missing", "--out", "{tmp}/r"], "does not exist"),
    (["train", "--preset", "dcgan64", "--data", "{tmp}/empty", "--out", "{tmp}/r"], "no usable image in"),
    (["train", "--preset", "dcgan64", "--device", "cuda", "--out", "{tmp}/r"], "no CUDA GPU is available"),
    (["train", "--resume", "{tmp}/empty"], "is not a run folder"),
    (["train", "--preset", "dcgan64"], "--out RUN is required"),
    (["generate", "{tmp}/missing", "--out", "{tmp}/g.png"], "does not exist"),
    (["generate", "{tmp}/empty", "--out", "{tmp}/g.png"], "has no checkpoint yet (no generator.safetensors)"),
    (["generate", "{tmp}/junk.safetensors", "--out", "{tmp}/g.png"], "is not a readable safetensors file"),
    (["generate", "{run}", "--n", "0", "--out", "{tmp}/g.png"], "0 is out of range"),
    (["generate", "{run}", "--n", "1000000", "--out", "{tmp}/g.png"], "out of range"),
    (["generate", "{run}", "--seeds", "a-b", "--out", "{tmp}/g.png"], "must look like 0-63"),
    (["generate", "{run}", "--out", "{tmp}/g.jpg"], "must be a .png file"),
    (["generate", "{run}"], "give --out GRID.png and/or --separate DIR"),
])
def test_bad_input(capsys, tmp_path, tiny_run, args, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 100)
    args = [a.format(tmp=tmp_path, run=tiny_run) for a in args]
    code, err = cli(capsys, *args)
    assert_clean_error(code, err, words)
    assert not (tmp_path / "r").exists() and not (tmp_path / "g.png").exists()
    assert (tmp_path / "empty" / "notes.txt").read_text() == "no images here"


def test_existing_run_is_not_clobbered(capsys, tiny_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    code, err = cli(capsys, "train", "--preset", "dcgan64", "--epochs", "1", "--out", copy, *TINY)
    assert_clean_error(code, err, "already holds a run; use --resume")
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before


def test_foreign_folder_is_not_clobbered(capsys, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    code, err = cli(capsys, "train", "--preset", "dcgan64", "--epochs", "1", "--out", tmp_path / "mine",
                    "--overwrite", *TINY)
    assert_clean_error(code, err, "is not an emojigan run folder")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_corrupt_checkpoints(capsys, tiny_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    state = copy / "checkpoints" / "latest.pt"
    state.write_bytes(state.read_bytes()[:1000])  # truncated, as by a full disk
    code, err = cli(capsys, "train", "--resume", copy, "--epochs", "5")
    assert_clean_error(code, err, "is unreadable")
    gen = copy / "generator.safetensors"
    gen.write_bytes(gen.read_bytes()[: gen.stat().st_size // 2])
    code, err = cli(capsys, "generate", copy, "--out", tmp_path / "g.png")
    assert_clean_error(code, err, "is not a readable safetensors file")


def test_console_script_exit_code(tmp_path):
    p = run_cli("data", "build", "--subset", "nope", "--out", tmp_path / "d", check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "unknown subset" in p.stderr
    p = run_cli("generate", tmp_path / "nothing", "--n", "-4", "--out", tmp_path / "g.png", check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "-4 is out of range" in p.stderr
