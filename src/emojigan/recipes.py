"""`emojigan recipe FILE --out DIR`: rebuild a shipped model from scratch by running its recipe, a TOML file of
steps (recipes/faces64.toml, recipes/cond128.toml), each an `emojigan` command line.

In a step, `{out}` is DIR and `{NAME}` the folder of step NAME (DIR/NAME), so later steps name what earlier ones
made. Steps run in order, each in its own process (a progress bar each); a step that finished is skipped when the
recipe is run again, so an interrupted rebuild continues where it stopped. At the end the final export is
evaluated as the recipe's `[expect]` table says, and each metric is set beside its expected value and spread.

`--smoke` runs the same steps at a tiny scale (32 px, small networks, a few epochs, few samples) to check that the
recipe runs end to end; its numbers mean nothing."""
from __future__ import annotations

import json
import math
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .files import atomic_write_text

COMMANDS = ("train", "mix", "evaluate", "generate")  # what a step may run
SMOKE_TRAIN = ["--size", "32", "--set", "train.eval_n=16", "--set", "train.sample_every=1000",
               "--set", "train.sample_seeds=16"]
SMOKE_FRESH = ["--set", "model.g_base=8", "--set", "model.d_base=8", "--set", "model.max_channels=32"]
SMOKE_EPOCHS_PER = 1000  # --smoke: a step of N epochs trains ceil(N / 1000), and a branch that many more than its
SMOKE_BASE_EPOCHS = 2    # source run, which trains 2 where the recipe gives no --epochs (a preset's own)


@dataclass
class Recipe:
    model: str                          # the shipped model it rebuilds
    final: str                          # the export the last step writes (with placeholders)
    steps: list[tuple[str, str]]        # (name, command line)
    expect: dict[str, list[float]]      # metric -> [value, spread]
    evaluate: str                       # evaluate's options for the check against `expect`
    path: Path


def find_recipe(spec: str) -> Path:
    """A recipe file, or a shipped model's name (recipes/NAME.toml from the current folder)."""
    p = Path(spec)
    if p.is_file():
        return p
    if "/" not in spec and not spec.endswith(".toml") and (Path("recipes") / f"{spec}.toml").is_file():
        return Path("recipes") / f"{spec}.toml"
    raise UserError(f"no recipe {spec}: give a recipe file (recipes/faces64.toml) or, from the repository's "
                    f"folder, a shipped model's name")


def load_recipe(path: Path) -> Recipe:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"recipe {path} is not readable TOML ({str(e).splitlines()[0][:80]})") from None
    steps = raw.get("steps", [])
    if not steps or not all(isinstance(s, dict) and {"name", "run"} <= set(s) for s in steps):
        raise UserError(f"recipe {path}: it needs [[steps]] tables, each with a name and a run line")
    names = [s["name"] for s in steps]
    if len(set(names)) != len(names) or not all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names):
        raise UserError(f"recipe {path}: step names must be distinct lower-case words ({', '.join(names)})")
    for s in steps:
        if shlex.split(s["run"])[0] not in COMMANDS:
            raise UserError(f"recipe {path}, step {s['name']}: it runs emojigan {' | '.join(COMMANDS)}")
    if "final" not in raw or "model" not in raw:
        raise UserError(f"recipe {path}: it names the model it rebuilds (model) and its export (final)")
    return Recipe(raw["model"], raw["final"], [(s["name"], s["run"]) for s in steps], raw.get("expect", {}),
                  raw.get("evaluate", "--n 512"), path)


def expand(text: str, out: Path, names: list[str]) -> str:
    """Fill `{out}` and `{NAME}` (a step's folder); an unknown placeholder is an error."""
    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key == "out":
            return str(out)
        if key in names:
            return str(out / key)
        raise UserError(f"the recipe names {{{key}}}, which is no step of it")
    return re.sub(r"\{([a-z][a-z0-9_]*)\}", sub, text)


def smoke_args(args: list[str]) -> list[str]:
    """A step's arguments at the smoke scale: few epochs, 32 px, small networks (for runs that build their own),
    few evaluation samples."""
    cmd = args[0]
    if cmd == "evaluate":
        return _replace(args, "--n", "64")
    if cmd != "train":
        return args
    branch = "--branch" in args  # a branch continues past its source run's (smoke) epochs: 2, or at most 5
    if "--epochs" in args:
        i = args.index("--epochs")
        n = max(1, math.ceil(int(args[i + 1]) / SMOKE_EPOCHS_PER)) + (SMOKE_BASE_EPOCHS if branch else 0)
        args = args[:i + 1] + [str(n)] + args[i + 2:]
    elif not branch:
        args = args + ["--epochs", str(SMOKE_BASE_EPOCHS)]
    fresh = "--init" not in args and "--branch" not in args and "--resume" not in args
    return args + SMOKE_TRAIN + (SMOKE_FRESH if fresh else [])


def _replace(args: list[str], flag: str, value: str) -> list[str]:
    if flag in args:
        i = args.index(flag)
        return args[:i + 1] + [value] + args[i + 2:]
    return args + [flag, value]


def run_recipe(spec: str, out: str | Path, smoke: bool = False) -> dict:
    """Run the recipe at `spec` into `out`; returns {"final": path, "metrics": ..., "checks": ...}."""
    recipe = load_recipe(find_recipe(spec))
    out = Path(out)
    names = [n for n, _ in recipe.steps]
    done_dir = out / ".recipe"
    lines = [(name, shlex.split(expand(run, out, names))) for name, run in recipe.steps]  # checked before any run
    final = Path(expand(recipe.final, out, names))
    for i, (name, args) in enumerate(lines, 1):
        marker = done_dir / f"{name}.done"
        if smoke:
            args = smoke_args(args)
        if marker.is_file():
            continue
        print(f"[{i}/{len(lines)}] {name}: emojigan {shlex.join(args)}", flush=True)
        p = subprocess.run([sys.executable, "-m", "emojigan", *args])
        if p.returncode != 0:
            raise UserError(f"recipe step {name} failed (exit {p.returncode}); fix it and run the recipe again: "
                            f"the finished steps are kept")
        atomic_write_text(marker, shlex.join(args) + "\n")
    if not final.exists():
        raise UserError(f"the recipe finished without its final export {final}")
    result = {"final": str(final), "model": recipe.model, "smoke": smoke, "checks": []}
    if recipe.expect and not smoke:
        ev = out / "eval-final"
        args = ["evaluate", str(final), *shlex.split(recipe.evaluate), "--out", str(ev)]
        print(f"check: emojigan {shlex.join(args)}", flush=True)
        if subprocess.run([sys.executable, "-m", "emojigan", *args]).returncode != 0:
            raise UserError(f"evaluating {final} failed")
        metrics = json.loads((ev / "metrics.json").read_text(encoding="utf-8"))
        for key, (value, spread) in recipe.expect.items():
            got = metrics.get(key)
            ok = got is not None and abs(got - value) <= spread
            result["checks"].append({"metric": key, "expected": value, "spread": spread, "got": got, "within": ok})
    atomic_write_text(out / "recipe.json", json.dumps(result, indent=1))
    return result
