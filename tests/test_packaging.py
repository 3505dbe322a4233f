"""A built wheel carries the package data a user's install needs: the catalog, its licence note, presets."""
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_package_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("emojigan-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("emojigan/data/openmoji.csv", "emojigan/data/OPENMOJI.md", "emojigan/presets/dcgan64.toml",
                   "emojigan/pretrained/openmoji-features.safetensors", "emojigan/pretrained/openmoji-features.md",
                   "emojigan/cli/__init__.py", "emojigan/cli/commands.py", "emojigan/models/dcgan.py"):
        assert needed in names, needed
    csv_text = zipfile.ZipFile(wheel).read("emojigan/data/openmoji.csv").decode()
    assert csv_text.count("\n") == 4496
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "emojigan = emojigan.cli:main" in entry
