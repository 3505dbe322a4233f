"""The shape of the repository that its users and maintainers rely on: a README that guides (at most 15,000
characters, with a picture), RESULTS that state what holds (at most 60,000), a project that speaks of itself
(not of the work periods that made it, anywhere, shipped weights' metadata included), imports in one direction, no source file over 450
lines, at most 50 config fields, and every document's links and pictures in place."""
from __future__ import annotations

import ast
import dataclasses
import json
import re
import subprocess
from pathlib import Path

from safetensors import safe_open

from emojigan.config import Config

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "emojigan"


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (an sdist): every file under the root
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


def test_readme_is_a_guide_with_a_picture_and_results_state_what_holds():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme) <= 15_000, f"README.md has {len(readme)} characters"
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+\.(?:png|gif))\)", readme)
    assert pictures and all((ROOT / p).is_file() for p in pictures)
    assert "make demo" in readme and "make test" in readme
    results = (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert len(results) <= 60_000, f"docs/RESULTS.md has {len(results)} characters"
    assert "## Ablation" in results


def test_every_local_link_and_picture_of_the_docs_exists():
    docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(SRC / "pretrained").glob("*.md"),
            ROOT / "experiments" / "README.md"]
    missing = []
    for doc in docs:
        for target in re.findall(r"\]\(([^)#\s]+)\)", doc.read_text(encoding="utf-8")):
            if not target.startswith("http") and not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not missing


WORK_PERIOD = "ses" + "sion"  # the word itself, spelled so that this file does not contain it


def test_no_file_and_no_shipped_weight_speaks_of_the_work_that_made_it():
    word = re.compile(rf"\b{WORK_PERIOD}s?\b", re.IGNORECASE)
    hits = []
    for path in tracked_files():
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                text = json.dumps(f.metadata() or {})
        elif path.suffix in (".png", ".gif", ".npz"):
            continue
        else:
            text = path.read_text(encoding="utf-8", errors="replace").replace(f'scope="{WORK_PERIOD}"', "")
        if word.search(text) or word.search(path.name):
            hits.append(str(path.relative_to(ROOT)))
    assert not hits


def package_imports() -> dict[str, set[str]]:
    """Top-level module or subpackage of src/emojigan -> the ones it imports (module- and function-level)."""
    units = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").is_file())}
    edges: dict[str, set[str]] = {}
    for f in SRC.rglob("*.py"):
        rel = f.relative_to(SRC).parts
        unit = rel[0].removesuffix(".py")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = list(rel[:-1])[:len(rel) - 1 - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
                targets = [parts[0]] if parts else [a.name for a in node.names]
            elif node.module and node.module.startswith("emojigan."):
                targets = [node.module.split(".")[1]]
            else:
                continue
            edges.setdefault(unit, set()).update(t for t in targets if t in units and t != unit)
    return edges


def test_no_two_packages_import_each_other():
    edges = package_imports()
    assert "training" in edges.get("cli", set()) and "config" in edges.get("training", set())  # the walk works
    pairs = sorted({tuple(sorted((a, b))) for a, bs in edges.items() for b in bs if a in edges.get(b, set())})
    assert not pairs


def test_no_source_file_is_longer_than_450_lines():
    long = {str(p.relative_to(ROOT)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert not long


def test_at_most_50_config_fields():
    cfg = Config()
    fields = [f"{s.name}.{f.name}" for s in dataclasses.fields(cfg) for f in dataclasses.fields(getattr(cfg, s.name))]
    assert len(fields) <= 50, fields
