"""`emojigan recipe`: the recipes that rebuild the shipped models run end to end (at the smoke scale: 32 px, small
networks, a few epochs), rerun only what is left, and refuse a bad recipe in one line."""
import json
from pathlib import Path

import pytest

from emojigan.export import read_export_meta
from emojigan.recipes import load_recipe, smoke_args
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, members", [("faces64", 3), ("cond128", 1), ("text64", 1)])
def test_recipe_rebuilds_the_model_end_to_end_at_the_smoke_scale(name, members, tmp_path):
    out = tmp_path / name
    p = run_cli("recipe", ROOT / "recipes" / f"{name}.toml", "--out", out, "--smoke")
    recipe = load_recipe(ROOT / "recipes" / f"{name}.toml")
    result = json.loads((out / "recipe.json").read_text())
    final = Path(result["final"])
    assert result["smoke"] and final.is_file() and f"{name} rebuilt at the smoke scale" in p.stdout
    meta = read_export_meta(final)
    assert int(meta.get("mixture", {}).get("members", 1)) == members and meta["data"]["size"] == 32
    assert meta["data"]["background"] == "transparent" and bool(meta.get("classes")) == (name != "faces64")
    done = sorted(x.stem for x in (out / ".recipe").glob("*.done"))
    assert done == sorted(n for n, _ in recipe.steps)
    again = run_cli("recipe", ROOT / "recipes" / f"{name}.toml", "--out", out, "--smoke")  # nothing left to run
    assert "emojigan train" not in again.stdout and final.read_bytes() == final.read_bytes()
    assert set(recipe.expect) and all(len(v) == 2 for v in recipe.expect.values())


def test_smoke_scale_shortens_every_step_and_keeps_branches_past_their_source():
    fresh = smoke_args(["train", "--preset", "faces64", "--out", "x"])
    assert fresh[fresh.index("--epochs") + 1] == "2" and "model.g_base=8" in fresh and "32" in fresh
    branch = smoke_args(["train", "--branch", "x", "--epochs", "2650", "--out", "y"])
    assert branch[branch.index("--epochs") + 1] == "5" and "model.g_base=8" not in branch
    init = smoke_args(["train", "--init", "x@1", "--epochs", "40", "--out", "y"])
    assert init[init.index("--epochs") + 1] == "1" and "model.g_base=8" not in init
    assert smoke_args(["evaluate", "x", "--n", "2048", "--out", "e"]) == ["evaluate", "x", "--n", "64", "--out", "e"]


@pytest.mark.parametrize("text, words", [
    ("model = 'x'\nfinal = '{out}/x'\n", "it needs [[steps]] tables"),
    ("model = 'x'\nfinal = '{out}/x'\n[[steps]]\nname = 'a'\nrun = 'rm -rf /'\n", "it runs emojigan train"),
    ("model = 'x'\nfinal = '{out}/x'\n[[steps]]\nname = 'a'\nrun = 'train --init {b} --out {a}'\n",
     "the recipe names {b}, which is no step of it"),
    ("model = 'x'\n[[steps]\n", "is not readable TOML"),
])
def test_a_bad_recipe_is_one_line_and_runs_nothing(text, words, tmp_path):
    f = tmp_path / "r.toml"
    f.write_text(text)
    p = run_cli("recipe", f, "--out", tmp_path / "out", check=False)
    assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    p = run_cli("recipe", "no-such-recipe", "--out", tmp_path / "out", check=False)
    assert p.returncode == 2 and "no recipe no-such-recipe" in p.stderr
