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


def test_the_shipped_encoder_guesses_faces64s_own_samples_in_one_shot():
    from emojigan.latent.encoder import load_encoder

    gen = emojigan.load_generator("faces64", precision="fp32")
    target = gen.sample_tensor(seeds=list(range(12)))
    names = [str(i) for i in range(12)]
    learned = encode(gen, target, names, steps=0, candidates=1, encoder=load_encoder(gen), progress=False)
    seeded = encode(gen, target, names, steps=0, candidates=1, progress=False)
    assert float(learned.ssim.mean()) >= 0.9 and float(learned.ssim.mean()) > float(seeded.ssim.mean()) + 0.1


def test_a_folder_is_encoded_in_sorted_order_and_codes_round_trip_through_generate(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("grinning face", "skull", "winking face"):
        im = images.to_pil(load_inputs([name], 64, "transparent")[1])[0]
        im.save(folder / {"grinning face": "b.png", "skull": "c.png", "winking face": "a.png"}[name])
    (folder / "notes.txt").write_text("not an image")                   # skipped: a folder takes its images
    out = tmp_path / "codes.npz"
    p = run_cli("encode", "--model", "faces64", folder, "cat face", "--steps", "5", "--out", out, "--quiet")
    assert "4 codes (learned encoder first guesses), mean SSIM" in p.stdout and "s per emoji" in p.stdout
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
    p = run_cli("directions", tiny_run, "--quiet")
    assert "words tag at least 3 of the 111 emojis of faces" in p.stdout
    assert "  tear " in p.stdout and "face with tears of joy" in p.stdout and "  heart " in p.stdout
    assert not codes.exists()                                         # listing the words needs no encoding
    out = tmp_path / "edit.png"
    p = run_cli("edit", tiny_run, "--seed", "0", "--direction", "tears", "--strengths", "-1,0,1,2", "--codes", codes,
                "--steps", "0", "--out", out, "--quiet")
    assert "along 'tear' (7 emojis tagged) at strengths -1, 0, 1, 2" in p.stdout
    c = Codes.load(codes)                                             # the faces encoded into the model, cached
    tear = vocabulary(c.names)["tear"]
    assert len(c) == 111 and len(tear) == 7 and {"face with tears of joy", "crying face"} <= set(tear)
    with Image.open(out) as strip:
        assert strip.width > 4 * 32 and strip.height < 2 * 32 + 8          # one image per strength, one row
    for args, words in ((["--seed", "0", "--direction", "unicornz"], "no direction 'unicornz'"),
                        (["--seed", "0", "--direction", "tears", "--strength", "11"], "between -10 and 10"),
                        (["--direction", "tears"], "give one start"),
                        (["--seed", "0", "--image", "skull", "--direction", "tears"], "give one start")):
        p = run_cli("edit", tiny_run, *args, "--codes", codes, "--out", tmp_path / "bad.png", check=False)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "bad.png").exists()


def test_a_conditional_edit_moves_monotonically_toward_the_tagged_group():
    """cond128's `cat` direction (its 9 cat labels' mean embedding minus the rest): the edited images come closer to
    the real cat faces, in the OpenMoji feature space, at every step of strength, seed by seed."""
    from emojigan import config
    from emojigan.data import load_dataset
    from emojigan.features import load_feature_space
    from emojigan.latent.directions import edit, label_direction
    from emojigan.latent.sampling import z_from_seeds

    gen = emojigan.load_generator("cond128", precision="fp32")
    d = label_direction(gen, "cats")
    assert d.word == "cat" and d.count == 9 and float(d.z.abs().max()) == 0.0
    data = load_dataset(config.DataConfig(subset="faces+cats", size=128, background="transparent"), progress=False)
    cats = torch.tensor(["cat" in data.display_name(i) for i in range(len(data))])
    space = load_feature_space("openmoji")
    centre = space(data.images[cats]).mean(0)
    seeds = [0, 1, 2, 3]
    dist = []
    for s in seeds:
        start = Codes(z_from_seeds([s], gen.z_dim), torch.zeros(1, dtype=torch.long),
                      gen.label_embedding(gen.default_labels([s])), [str(s)], gen.fingerprint)
        dist.append((space(decode(gen, edit(start, d, [0.0, 0.5, 1.0, 1.5]))) - centre).norm(dim=1))
    dist = torch.stack(dist)                                            # (seeds, strengths)
    assert bool((dist.diff(dim=1) < 0).all()), dist
    assert float((dist[:, -1] / dist[:, 0]).mean()) < 0.8


def test_a_learned_encoder_is_trained_beside_the_export_and_gives_first_guesses(tmp_path, tiny_run):
    import shutil

    from emojigan.latent.encoder import load_encoder

    export = tmp_path / "m.safetensors"
    shutil.copy(tiny_run / "generator.safetensors", export)
    p = run_cli("encoder", "train", export, "--steps", "30", "--batch-size", "8", "--quiet")
    enc_file = tmp_path / "m.encoder.safetensors"
    assert enc_file.is_file() and "a learned encoder for" in p.stdout
    gen = emojigan.load_generator(export, precision="fp32")
    enc = load_encoder(gen)
    assert enc is not None and enc(torch.zeros(2, gen.channels, 32, 32)).shape == (2, 1, gen.z_dim)
    p = run_cli("encode", export, "grinning face", "--steps", "2", "--out", tmp_path / "c.npz", "--quiet")
    assert "(learned encoder first guesses)" in p.stdout
    p = run_cli("encode", export, "grinning face", "--steps", "2", "--encoder", "none", "--out", tmp_path / "d.npz",
                "--quiet")
    assert "(seeded first guesses)" in p.stdout
    for args, words in (([enc_file], "trained for another model"), ([tmp_path / "c.npz"], "is not an encoder")):
        p = run_cli("encode", "--model", "faces64", "skull", "--encoder", *args, "--out", tmp_path / "e.npz",
                    check=False)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "e.npz").exists()
    from emojigan.export import read_export, save_export

    tensors, meta = read_export(export)                     # the export replaced: the encoder beside it is stale
    save_export(tensors, {**meta, "note": "retrained"}, export)
    p = run_cli("encode", export, "grinning face", "--steps", "1", "--out", tmp_path / "f.npz", "--quiet")
    assert "(seeded first guesses)" in p.stdout and "trained for an earlier version of this model" in p.stderr
