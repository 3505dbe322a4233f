"""Mixtures of generators in one export (the shipped `faces64` is one): seed k is drawn by member k mod M."""
import json
import os

import pytest
import torch
from safetensors.torch import save_file

from emojigan.errors import UserError
from emojigan.inference import load_generator
from emojigan.export import mixture_tensors, read_export, split_members
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def mixture(tiny_run, tmp_path_factory):
    """A mixture file of the tiny run's generator and a visibly different one (its weights, shifted), and the
    single-generator file of that second member."""
    folder = tmp_path_factory.mktemp("mixture")
    first, meta = read_export(tiny_run / "generator.safetensors")
    torch.manual_seed(0)
    second = {k: v + 0.05 * torch.randn_like(v) if k.endswith("weight") and v.dim() == 4 else v.clone()
              for k, v in first.items()}
    save_file(second, str(folder / "second.safetensors"), metadata={"emojigan": json.dumps(meta)})
    mix = {**meta, "mixture": {"members": 2}}
    save_file(mixture_tensors([first, second]), str(folder / "mix.safetensors"),
              metadata={"emojigan": json.dumps(mix)})
    return folder / "mix.safetensors", tiny_run / "generator.safetensors", folder / "second.safetensors"


def test_seed_k_is_drawn_by_member_k_mod_m(mixture):
    mix, first, second = mixture
    g = load_generator(mix, precision="fp32")
    assert len(g.members) == 2 and g.member_of([0, 1, 6, 7]) == [0, 1, 0, 1]
    x = g.sample_tensor(seeds=list(range(3, 11)))
    a = load_generator(first, precision="fp32").sample_tensor(seeds=[4, 6, 8, 10])
    b = load_generator(second, precision="fp32").sample_tensor(seeds=[3, 5, 7, 9])
    assert torch.allclose(x[1::2], a, atol=1e-5) and torch.allclose(x[0::2], b, atol=1e-5)
    assert (a - b).abs().mean() > 0.01  # the members really differ
    # explicit latents go to the member asked for
    z = torch.randn(2, g.z_dim)
    assert torch.allclose(g.sample_tensor(z=z, member=1), load_generator(second, precision="fp32").sample_tensor(z=z),
                          atol=1e-5)
    with pytest.raises(UserError, match="mixture of 2 generators"):
        g.sample_tensor(z=z, member=2)


def test_a_mixture_export_of_the_wrong_layout_is_refused(mixture):
    mix, first, _ = mixture
    tensors, meta = read_export(mix)
    assert [len(sd) for sd in split_members(tensors, meta)] == [len(read_export(first)[0])] * 2
    with pytest.raises(UserError, match="another layout"):
        split_members(tensors, {**meta, "mixture": {"members": 3}})


def test_cli_generates_and_interpolates_within_a_member(mixture, tmp_path):
    mix, first, _ = mixture
    run_cli("generate", mix, "--n", "6", "--out", tmp_path / "grid.png")
    assert (tmp_path / "grid.png").is_file()
    run_cli("interpolate", mix, "--from", "seed:2", "--to", "seed:8", "--steps", "3", "--out", tmp_path / "s.png")
    p = run_cli("interpolate", mix, "--from", "seed:0", "--to", "seed:7", "--out", tmp_path / "x.png", check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "different generators of this mixture of 2" in p.stderr and "seed:0 and seed:6" in p.stderr
    p = run_cli("interpolate", mix, "--from", "seed:2", "--to", "seed:3", "--out", tmp_path / "x.png", check=False)
    assert p.returncode == 2 and "e.g. seed:2 and seed:4" in p.stderr            # a seed other than the start
    assert not (tmp_path / "x.png").exists()


def test_init_from_a_mixture_starts_from_its_first_generator(mixture):
    from emojigan.models import build_from_config
    from emojigan.training.init import load_init

    mix, first, _ = mixture
    tensors, meta = read_export(first)
    G, D = build_from_config(meta["model"], meta["data"]["size"], 3)
    msg = load_init(G, D, str(mix))
    assert "first generator of its mixture" in msg
    assert all(torch.equal(G.state_dict()[k], v.float()) for k, v in tensors.items())
    second_tensors, _ = read_export(mixture[2])
    msg = load_init(G, D, f"{mix}@1")
    assert "generator 1 of its mixture of 2" in msg
    assert all(torch.equal(G.state_dict()[k], v.float()) for k, v in second_tensors.items())
    assert not all(torch.equal(second_tensors[k], v) for k, v in tensors.items())


def test_init_at_k_trains_from_that_generator_and_refuses_one_out_of_range(mixture, faces32, tmp_path):
    mix, _, second = mixture
    run_cli("train", "--init", f"{mix}@1", "--data", faces32, "--epochs", "1", "--out", tmp_path / "ft")
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["init"]["member"] == 1
    log = (tmp_path / "ft" / "metrics.jsonl").read_text()
    assert (tmp_path / "ft" / "generator.safetensors").is_file() and '"train"' in log
    for args, words in ((["--init", f"{mix}@2"], "is a mixture of 2 generators; pick member 0 to 1"),
                        (["--init", f"{second}@1"], "is a single generator; pick member 0 to 0"),
                        (["--init", f"{mix}@0,1"], "a run starts from one generator"),
                        (["--preset", "dcgan64", "--set", "train.init_member=1"], "train.init_member was removed")):
        p = run_cli("train", *args, "--data", faces32, "--epochs", "1", "--out", tmp_path / "bad", check=False)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "bad").exists()


def test_mix_command_writes_the_same_mixture_and_refuses_bad_members(mixture, tiny_run, tiny_rgba_run, tmp_path):
    mix, first, second = mixture
    out = tmp_path / "m.safetensors"
    p = run_cli("mix", tiny_run, second, "--out", out)
    assert "a mixture of 2 generators" in p.stdout
    a, b = read_export(out), read_export(mix)
    assert a[0].keys() == b[0].keys() and all(torch.equal(a[0][k], b[0][k]) for k in a[0])
    assert a[1]["mixture"]["members"] == 2 and a[1]["mixture"]["sources"][1] == str(second)
    before = out.read_bytes()
    cases = [([tiny_run], "two or more generators"),
             ([tiny_run, tiny_rgba_run], "another architecture or data"),
             (["cond128", tiny_run], "is a conditional model"),
             ([tiny_run, tmp_path / "missing"], "missing does not exist")]
    for members, message in cases:
        p = run_cli("mix", *members, "--out", tmp_path / "bad.safetensors", check=False)
        assert p.returncode == 2 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "bad.safetensors").exists()
    p = run_cli("mix", tiny_run, second, "--out", out, check=False)
    assert p.returncode == 2 and "exists" in p.stderr and out.read_bytes() == before
    # a mixture given to mix adds its members in its order: three generators, seed k from member k mod 3
    three = tmp_path / "three.safetensors"
    p = run_cli("mix", out, tiny_run, "--out", three)
    assert "a mixture of 3 generators" in p.stdout
    tensors, meta = read_export(three)
    parts = split_members(tensors, meta)
    expect = split_members(*read_export(out)) + [read_export(first)[0]]
    assert len(parts) == 3 and all(torch.equal(a[k], b[k]) for a, b in zip(parts, expect) for k in a)
    assert meta["mixture"]["members"] == 3 and len(meta["mixture"]["training"]) == 3
    assert meta["mixture"]["sources"][1] == f"{out} member 1 ({second})"
    assert meta["training"] == meta["mixture"]["training"][0]
    g = load_generator(three, precision="fp32")
    x = g.sample_tensor(seeds=[4, 5])                                 # members 1 (second) and 2 (first)
    assert torch.allclose(x[:1], load_generator(second, precision="fp32").sample_tensor(seeds=[4]), atol=1e-5)
    assert torch.allclose(x[1:], load_generator(first, precision="fp32").sample_tensor(seeds=[5]), atol=1e-5)


def test_a_mixture_reports_each_members_training(mixture, tiny_run, tmp_path):
    """The steps of a mixture are its members' (its top-level training record is member 0's alone)."""
    from emojigan.metrics.report import _training
    from emojigan.inference import describe
    from emojigan.pretrained import resolve_model
    from emojigan.export import training_of

    _, first, second = mixture
    out = tmp_path / "m.safetensors"
    run_cli("mix", tiny_run, second, "--out", out)
    single = read_export(first)[1]
    step, epoch = single["training"]["step"], single["training"]["epoch"]
    meta = read_export(out)[1]
    assert training_of(single, "step") == step and training_of(meta, "step") == [step, step]
    assert _training({"epoch": epoch, "step": step}) == f"epoch {epoch}, step {step}"
    assert _training({"epoch": [epoch, 3], "step": [step, 21]}) == \
        f"a mixture of generators at epoch {epoch}, step {step} and epoch 3, step 21"
    shipped = describe("faces64", resolve_model("faces64"))
    # v4's continuations, 560 steps each from --init of the three generators of v3, whose
    # totals (18,655, 22,680 and 22,155: their exports had not recorded them all) `ship_model.py --trained-before` set
    assert shipped["members"] == 3 and shipped["steps"] == [19215, 23240, 22715]


def test_mix_swaps_a_member_of_a_mixture_by_number(mixture, tiny_run, tmp_path):
    """`mix MIX@1 RUN`: only member 1 of MIX, then the run; a member out of range or named twice is refused."""
    mix, first, second = mixture
    out = tmp_path / "swap.safetensors"
    p = run_cli("mix", f"{mix}@1", tiny_run, "--out", out)
    assert "a mixture of 2 generators" in p.stdout
    tensors, meta = read_export(out)
    parts = split_members(tensors, meta)
    expect = [read_export(second)[0], read_export(first)[0]]
    assert len(parts) == 2 and all(torch.equal(a[k], b[k]) for a, b in zip(parts, expect) for k in a)
    assert meta["mixture"]["sources"][0].startswith(f"{mix} member 1")
    # one member picked out alone: that generator by itself, as a plain export with its own training record
    one = tmp_path / "one.safetensors"
    p = run_cli("mix", f"{mix}@1", "--out", one)
    assert "one generator" in p.stdout and "member 1" in p.stdout
    tensors, meta = read_export(one)
    assert "mixture" not in meta and meta["extracted_from"].startswith(f"{mix} member 1")
    mask = os.umask(0)
    os.umask(mask)
    assert one.stat().st_mode & 0o777 == 0o666 & ~mask  # the user's usual file mode (safetensors alone writes 0600)
    expect = read_export(second)[0]
    assert tensors.keys() == expect.keys() and all(torch.equal(tensors[k], expect[k]) for k in tensors)
    assert torch.allclose(load_generator(one, precision="fp32").sample_tensor(seeds=[0, 3]),
                          load_generator(second, precision="fp32").sample_tensor(seeds=[0, 3]), atol=1e-6)
    for spec, message in [(f"{mix}@2", "numbered 0-1"), (f"{mix}@0,0", "name each once")]:
        p = run_cli("mix", spec, tiny_run, "--out", tmp_path / "bad.safetensors", check=False)
        assert p.returncode == 2 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "bad.safetensors").exists()


def test_mix_discriminator_lets_init_continue_a_mixture_member_with_a_trained_d(mixture, tiny_run, faces32, tmp_path):
    from emojigan.models import build_from_config
    from emojigan.training.init import load_init

    mix, _, second = mixture
    out = tmp_path / "m.safetensors"
    p = run_cli("mix", tiny_run, second, "--discriminator", tiny_run, "--out", out)
    d_file = tmp_path / "m.D.safetensors"
    assert "the discriminator of" in p.stdout and d_file.is_file()
    state_d = torch.load(tiny_run / "checkpoints" / "latest.pt", weights_only=True)["D"]
    meta = read_export(out)[1]
    G, D = build_from_config(meta["model"], 32, 3)
    msg = load_init(G, D, f"{out}@1")
    assert f"D from {d_file}" in msg and "generator 1 of its mixture of 2" in msg
    assert all(torch.equal(D.state_dict()[k], v) for k, v in state_d.items())
    run_cli("train", "--init", f"{out}@1", "--data", faces32, "--epochs", "1", "--out", tmp_path / "ft")
    # a run's best checkpoint: its own export and its own training state's D
    p = run_cli("train", "--init", f"{tiny_run}:best", "--data", faces32, "--epochs", "1", "--out", tmp_path / "b",
                check=False)
    assert p.returncode == 2 and "has no generator-best.safetensors" in p.stderr and not (tmp_path / "b").exists()
    for args, words in ((["--discriminator", tmp_path / "nowhere"], "nowhere does not exist"),
                        (["--discriminator", second], "has no discriminator beside it")):
        p = run_cli("mix", tiny_run, second, *args, "--out", tmp_path / "x.safetensors", check=False)
        assert p.returncode == 2 and words in p.stderr and not (tmp_path / "x.safetensors").exists()
