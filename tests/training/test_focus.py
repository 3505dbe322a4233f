"""A focus list (`train.focus`): the file's names, the draws of a run, its evaluations' targets, resume, refusals."""
import pytest
import torch

from emojigan.config import resolve
from emojigan.data.focus import focus_weights
from emojigan.errors import UserError
from tests.conftest import TINY, assert_same_training_state, run_cli, train_split_and_resumed


def _faces(faces32_rgba):
    from emojigan.data import load_images

    return load_images(faces32_rgba, 32, "transparent")


def test_focus_file_names_images_by_hexcode_character_or_annotation(faces32_rgba, tmp_path):
    data = _faces(faces32_rgba)
    i_hex, i_char, i_ann = 0, 5, 17
    lines = ["# a comment line", "", f"{data.names[i_hex]}  # by hexcode (file stem)",
             data.labels[i_char]["emoji"], data.labels[i_ann]["annotation"].upper(), data.names[i_hex]]  # repeated
    f = tmp_path / "focus.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    w = focus_weights(data, f)
    assert w.dtype == torch.float64 and w.shape == (len(data),)
    assert torch.nonzero(w).flatten().tolist() == sorted({i_hex, i_char, i_ann})
    assert torch.allclose(w[w > 0], torch.full((3,), 1 / 3, dtype=torch.float64)) and abs(float(w.sum()) - 1) < 1e-12


def test_focus_file_errors_name_the_file_and_the_problem(faces32_rgba, tmp_path):
    data = _faces(faces32_rgba)
    bad = tmp_path / "bad.txt"
    bad.write_text("grinning face\nno such emoji at all\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"train.focus .*bad.txt: unknown image 'no such emoji at all'; closest"):
        focus_weights(data, bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="names no images"):
        focus_weights(data, empty)
    with pytest.raises(UserError, match="cannot read it"):
        focus_weights(data, tmp_path / "missing.txt")


def test_focus_settings_are_checked(faces32_rgba, tmp_path):
    with pytest.raises(UserError, match="train.focus chooses images for an unconditional G"):
        resolve("faces64", None, [("model.arch", "cdcgan"), ("train.focus", "x.txt")])
    with pytest.raises(UserError, match="train.balance was removed from emojigan"):
        resolve("faces64", None, [("train.balance", "2"), ("train.focus", "x.txt")])
    out = tmp_path / "run"
    proc = run_cli("train", "--preset", "faces64", "--data", faces32_rgba, "--set", f"train.focus={tmp_path}/none.txt",
                   "--out", out, *TINY, check=False)
    assert proc.returncode == 2 and "none.txt: cannot read it" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()   # nothing created before the check


def test_focused_run_draws_only_its_images_scores_against_them_and_resumes_exactly(faces32_rgba, tmp_path,
                                                                                   monkeypatch):
    from emojigan.training import loop
    from emojigan.training.evaluation import InTrainingEval
    from emojigan.training.step import GANStep

    data = _faces(faces32_rgba)
    chosen = [3, 40, 77, 101]
    f = tmp_path / "focus.txt"
    f.write_text("".join(f"{data.names[i]}\n" for i in chosen), encoding="utf-8")
    opts = ["--set", f"train.focus={f}", "--set", "train.eval_every=0", "--background", "transparent",
            "--checkpoint-every", "1", "--sample-every", "100", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 2, "--preset", "faces64", "--data", faces32_rgba, *opts)
    assert_same_training_state(ref, part, 2 * 7, nets=("G", "D", "G_ema"))
    kept = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)["balance"]
    assert torch.nonzero(kept).flatten().tolist() == chosen           # the state holds the draw: resumes need no file

    seen, targets = [], []
    real_step, real_init = GANStep.step, InTrainingEval.__init__

    def spy(self, x, z, *a, **kw):
        seen.append(x.clone())
        return real_step(self, x, z, *a, **kw)

    def spy_init(self, real, device):
        targets.append(real.clone())
        real_init(self, real, device)

    monkeypatch.setattr(GANStep, "step", spy)
    monkeypatch.setattr(InTrainingEval, "__init__", spy_init)
    cfg = resolve("faces64", None, [("data.path", str(faces32_rgba)), ("data.size", "32"), ("model.g_base", "8"),
                                    ("model.d_base", "8"), ("model.max_channels", "32"), ("train.epochs", "2"),
                                    ("train.eval_every", "1"), ("train.diffaugment", ""), ("train.focus", str(f))])
    loop.train(cfg, tmp_path / "spy", progress=False)
    flat = data.images.flatten(1)
    drawn = torch.cat([torch.cdist(x.flatten(1), flat).argmin(1) for x in seen])
    assert len(drawn) == 2 * 111 and set(drawn.tolist()) == set(chosen)   # an epoch is still 111 draws
    assert len(targets) == 1 and torch.equal(targets[0], data.images[chosen])
