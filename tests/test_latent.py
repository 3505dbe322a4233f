"""Encoding real emojis into a generator's latent space (`emojigan encode`), drawing the codes back
(`generate --codes`) and interpolating from codes and images, through the real CLI and the API."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image

import emojigan
from emojigan import images
from emojigan.latent.inputs import load_inputs
from emojigan.latent.invert import Codes, decode, encode, ssim_per_image
from tests.conftest import run_cli


def test_encoding_what_faces64_drew_recovers_it():
    gen = emojigan.load_generator("faces64", precision="fp32")
    target = gen.sample_tensor(seeds=[0, 1, 5])                      # one draw of each member
    codes = encode(gen, target, ["s0", "s1", "s5"], steps=40, progress=False)
    assert codes.member.tolist() == [0, 1, 2]                        # each found in the generator that drew it
    assert float(codes.ssim.mean()) >= 0.9, codes.ssim
    again = decode(gen, codes)
    assert torch.allclose(ssim_per_image(again, target), torch.from_numpy(codes.ssim), atol=1e-4)


def test_a_folder_is_encoded_in_sorted_order_and_codes_round_trip_through_generate(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("grinning face", "skull", "winking face"):
        im = images.to_pil(load_inputs([name], 64, "transparent")[1])[0]
        im.save(folder / {"grinning face": "b.png", "skull": "c.png", "winking face": "a.png"}[name])
    (folder / "notes.txt").write_text("not an image")                   # skipped: a folder takes its images
    out = tmp_path / "codes.npz"
    p = run_cli("encode", "--model", "faces64", folder, "cat face", "--steps", "5", "--out", out, "--quiet")
    assert "4 codes, mean SSIM" in p.stdout and "s per emoji" in p.stdout
    codes = Codes.load(out)
    assert codes.names == ["a", "b", "c", "cat face"] and codes.z.shape == (4, 100) and codes.embedding is None
    with open(out.with_suffix(".csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == codes.names and float(rows[0]["ssim"]) == pytest.approx(codes.ssim[0], abs=1e-4)
    with Image.open(out.with_suffix(".png")) as grid:
        assert grid.width > 8 * 64                                    # pairs: original | reconstruction
    run_cli("generate", "--model", "faces64", "--codes", out, "--separate", tmp_path / "sep", "--out", tmp_path / "g.png")
    files = sorted(x.name for x in (tmp_path / "sep").iterdir())
    assert files == ["code0000-a.png", "code0001-b.png", "code0002-c.png", "code0003-cat_face.png"]
    gen = emojigan.load_generator("faces64", precision="fp32")
    drawn = np.asarray(Image.open(tmp_path / "sep" / "code0002-c.png"))
    want = images.to_uint8(decode(gen, codes.entry(2, "x")))[0].numpy()
    assert np.abs(drawn.astype(int) - want.astype(int)).mean() < 1.0     # the code's image (generate may use bf16)


def test_interpolation_from_a_code_to_an_emoji_name_stays_in_one_member(tmp_path):
    out = tmp_path / "c.npz"
    run_cli("encode", "faces64", "grinning face", "--steps", "3", "--out", out, "--quiet")
    p = run_cli("interpolate", "--model", "faces64", "--from", f"code:{out}:0", "--to", "winking face", "--steps", "4",
                "--out", tmp_path / "s.png")
    with Image.open(tmp_path / "s.png") as strip:
        assert strip.width > 4 * 64 and "4 steps" in p.stdout
    p = run_cli("interpolate", "--model", "faces64", "--from", f"code:{out}:3", "--to", "seed:0", "--out",
                tmp_path / "x.png", check=False)
    assert p.returncode == 2 and "entry 3 does not exist; it holds entries 0-0" in p.stderr


def test_encode_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, tiny_run):
    junk = tmp_path / "junk.png"
    junk.write_text("not a png")
    other = tmp_path / "other.npz"
    run_cli("encode", tiny_run, "grinning face", "--steps", "0", "--out", other, "--quiet")
    cases = [(["encode", "--model", "faces64", junk, "--out", tmp_path / "a.npz"], "is not a readable image"),
             (["encode", "--model", "faces64", "grinnning fase", "--out", tmp_path / "a.npz"], "closest"),
             (["encode", "--model", "faces64", "nowhere/x.png", "--out", tmp_path / "a.npz"], "does not exist"),
             (["encode", "--model", "faces64", "skull", "--out", tmp_path / "a.txt"], "must be an .npz file"),
             (["encode", "--model", "faces64", "skull", "--steps", "-1", "--out", tmp_path / "a.npz"], "out of range"),
             (["generate", "--model", "faces64", "--codes", other, "--out", tmp_path / "g.png"],
              "holds codes of another model"),
             (["generate", "--model", "faces64", "--codes", junk, "--out", tmp_path / "g.png"], "is not a codes file")]
    for args, words in cases:
        p = run_cli(*args, check=False)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["junk.png", "other.csv", "other.npz", "other.png"]


def test_latent_map_has_one_thumbnail_per_emoji_and_hover_reconstructions(tmp_path):
    out = tmp_path / "map.png"
    p = run_cli("latent-map", "--model", "faces64", "--subset", "faces", "--steps", "0", "--method", "tsne",
                "--out", out, "--quiet")
    assert "111 emojis at their codes' TSNE positions" in p.stdout
    with Image.open(out) as im:
        assert im.width > 600 and im.height > 600
    page = (tmp_path / "map.html").read_text()
    assert page.count('class="emoji"') == 111 and page.count('class="recon"') == 111
    assert "grinning face (face-smiling)" in page                      # the name and subgroup on hover
    p = run_cli("latent-map", "--model", "faces64", "--out", tmp_path / "map.jpg", check=False)
    assert p.returncode == 2 and "must be a .png file" in p.stderr and not (tmp_path / "map.jpg").exists()


def test_directions_and_edits_from_openmoji_words(tiny_run, tmp_path):
    from emojigan.latent.directions import stem, vocabulary

    assert [stem(w) for w in ("tears", "eyes", "glasses", "anxious", "hearts")] == ["tear", "eye", "glass", "anxious",
                                                                                     "heart"]
    codes = tmp_path / "faces.npz"
    p = run_cli("directions", tiny_run, "--steps", "0", "--codes", codes, "--quiet")
    assert "words tag at least 3 of the 111 encoded emojis" in p.stdout
    assert "  tear " in p.stdout and "face with tears of joy" in p.stdout and "  heart " in p.stdout
    c = Codes.load(codes)
    tear = vocabulary(c.names)["tear"]
    assert len(c) == 111 and len(tear) == 7 and {"face with tears of joy", "crying face"} <= set(tear)
    out = tmp_path / "edit.png"
    p = run_cli("edit", tiny_run, "--seed", "0", "--direction", "tears", "--strengths", "-1,0,1,2", "--codes", codes,
                "--out", out)
    assert "along 'tear' (7 emojis tagged) at strengths -1, 0, 1, 2" in p.stdout
    with Image.open(out) as strip:
        assert strip.width > 4 * 32 and strip.height < 2 * 32 + 8          # one image per strength, one row
    for args, words in ((["--seed", "0", "--direction", "unicornz"], "no direction 'unicornz'"),
                        (["--seed", "0", "--direction", "tears", "--strength", "11"], "between -10 and 10"),
                        (["--direction", "tears"], "give one start"),
                        (["--seed", "0", "--image", "skull", "--direction", "tears"], "give one start")):
        p = run_cli("edit", tiny_run, *args, "--codes", codes, "--out", tmp_path / "bad.png", check=False)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "bad.png").exists()
