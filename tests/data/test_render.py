import csv
import json

import numpy as np
import pytest
from PIL import Image

from emojigan.data import build_dataset, load_images, render_emoji
from emojigan.errors import UserError
from tests.conftest import run_cli


def test_render_transparent_and_black():
    rgba = render_emoji("1F600", 64, "transparent")
    assert rgba.mode == "RGBA" and rgba.size == (64, 64)
    a = np.asarray(rgba)
    assert a[0, 0, 3] == 0 and a[32, 32, 3] == 255          # transparent corner, opaque face
    assert (a[18, 32, :3] == [0xFC, 0xEA, 0x2B]).all()       # OpenMoji yellow (#FCEA2B) on the forehead
    black = np.asarray(render_emoji("1F600", 64, "black"))
    assert black.shape == (64, 64, 3) and black[0, 0].tolist() == [0, 0, 0]
    white = np.asarray(render_emoji("1F600", 32, "white"))
    assert white[0, 0].tolist() == [255, 255, 255]


def test_build_faces_folder(faces32):
    pngs = sorted(p for p in faces32.glob("*.png") if p.name != "preview.png")
    assert len(pngs) == 111
    with Image.open(pngs[0]) as im:
        assert im.size == (32, 32) and im.mode == "RGB"
    with open(faces32 / "labels.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["hexcode", "emoji", "annotation", "subgroup", "tags"]
    assert len(rows) == 111 and {r["hexcode"] + ".png" for r in rows} == {p.name for p in pngs}
    assert rows[0]["hexcode"] == "1F600" and rows[0]["annotation"] == "grinning face"
    with Image.open(faces32 / "preview.png") as prev:  # 11 x 11 grid of 32 px tiles with 2 px padding
        assert prev.size == (11 * 34 + 2, 11 * 34 + 2)
    assert json.loads((faces32 / "dataset.json").read_text())["count"] == 111
    assert "CC BY-SA 4.0" in (faces32 / "ATTRIBUTION.txt").read_text()


def test_build_transparent_keeps_alpha(faces32_rgba):
    with Image.open(faces32_rgba / "1F600.png") as im:
        assert im.mode == "RGBA"
        alpha = np.asarray(im)[..., 3]
    assert alpha[0, 0] == 0 and alpha[16, 16] == 255
    s = load_images(faces32_rgba, 32, "transparent")
    assert s.images.shape == (111, 4, 32, 32)


def test_rebuild_reuses_folder(faces32):
    before = {p.name: p.stat().st_mtime_ns for p in faces32.iterdir()}
    build_dataset(faces32, "faces", 32, "black", progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in faces32.iterdir()} == before


def test_other_settings_need_overwrite(tmp_path):
    out = build_dataset(tmp_path / "d", "faces", 32, "black", subgroup="face-hat", progress=False)
    with pytest.raises(UserError, match="different dataset"):
        build_dataset(out, "faces", 32, "white", subgroup="face-hat", progress=False)
    build_dataset(out, "faces", 32, "white", subgroup="face-hat", overwrite=True, progress=False)
    assert np.asarray(Image.open(out / "1F920.png"))[0, 0].tolist() == [255, 255, 255]


def test_never_overwrites_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not an emojigan dataset"):
        build_dataset(tmp_path / "mine", "faces", 32, "black", overwrite=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_cli_build_and_subsets(tmp_path):
    out = run_cli("data", "build", "--subset", "faces+cats", "--subgroup", "cat-face", "--size", "32",
                  "--background", "white", "--out", tmp_path / "cats", "--quiet")
    assert "9 emojis at 32x32 on white" in out.stdout
    listing = run_cli("data", "subsets").stdout
    counts = {ln.split()[0]: int(ln.split()[1]) for ln in listing.splitlines() if ln[:1].isalpha() and ln.split()[1].isdigit()}
    assert counts == {"faces": 111, "faces+cats": 120, "smileys-emotion": 171, "all": 4495, "text": 2115,
                      "heldout": 20}
    assert "cat-face" in run_cli("data", "subsets", "--groups").stdout
