"""Training options for data-efficient GANs: DiffAugment and generator EMA."""
import json

import pytest
import torch
from safetensors.torch import load_file

from emojigan.errors import UserError
from emojigan.models import build
from emojigan.training.augment import diff_augment
from emojigan.training.ema import make_ema
from emojigan.config import TrainConfig
from emojigan.losses import TrainingImages, silhouettes_of
from emojigan.training.step import STATS, GANStep, make_nets
from tests.conftest import TINY, assert_same_training_state, run_cli, train_split_and_resumed
from tests.conftest import tiny_gan as _gan

POLICY = "color,translation,cutout"


def test_diffaugment_is_differentiable_and_random():
    x = torch.rand(6, 3, 32, 32, requires_grad=True)
    g = torch.Generator().manual_seed(0)
    y = diff_augment(x * 2 - 1, POLICY, g)
    assert y.shape == x.shape and not torch.allclose(y, x * 2 - 1)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    same = diff_augment(x.detach() * 2 - 1, POLICY, torch.Generator().manual_seed(0))
    assert torch.equal(same, y.detach())                      # the caller's generator decides
    rgba = diff_augment(torch.rand(2, 4, 16, 16) * 2 - 1, "color", g)
    assert rgba.shape == (2, 4, 16, 16)
    for name in ("color", "translation", "cutout"):
        assert diff_augment(x.detach(), name, g).shape == x.shape


def test_augmentation_sees_real_and_fake_in_both_steps():
    torch.manual_seed(0)
    G, D = build("dcgan", 32, 3, 16, 8, 8, 32)
    nets = make_nets(G, D, 1e-3, 1e-3, (0.5, 0.999), torch.device("cpu"))
    seen = []

    def spy(x):
        seen.append(x.requires_grad)
        return diff_augment(x, POLICY, torch.Generator().manual_seed(len(seen)))

    GANStep(nets, TrainConfig(), augment=spy).step(torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 16))
    # D step: real (no grad), fake.detach() (no grad); G step: fake, through which G's gradient flows
    assert seen == [False, False, True]


def test_ema_update_rule_warm_up_and_buffers():
    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ema = make_ema(m, 0.9)
    ema.update_parameters(m)                                  # the first update copies
    assert torch.equal(ema.module[0].weight, m[0].weight)
    before = ema.module[0].weight.detach().clone()
    with torch.no_grad():
        m[0].weight.add_(1.0)
    ema.update_parameters(m)                                  # n = 1: warm-up decay (1 + 1) / (10 + 1)
    beta = 2 / 11
    assert torch.allclose(ema.module[0].weight, beta * before + (1 - beta) * m[0].weight.detach(), atol=1e-6)
    ema.n_averaged.fill_(1000)                                # late in training: the configured decay
    before = ema.module[0].weight.detach().clone()
    with torch.no_grad():
        m[0].weight.add_(1.0)
    ema.update_parameters(m)
    assert torch.allclose(ema.module[0].weight, 0.9 * before + 0.1 * m[0].weight.detach(), atol=1e-6)
    m.train()
    m(torch.randn(8, 3) * 5)                                  # BatchNorm statistics move ...
    ema.update_parameters(m)
    assert torch.equal(ema.module[1].running_var, m[1].running_var)   # ... and are copied, not averaged
    assert not ema.module[0].weight.requires_grad


def test_run_with_ema_and_diffaugment_exports_ema_and_resumes_exactly(faces32, tmp_path):
    opts = ["--set", "train.ema=0.9", "--set", f"train.diffaugment={POLICY}", "--checkpoint-every", "2",
            "--sample-every", "100", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 4, "--preset", "dcgan64", "--data", faces32, *opts)
    assert_same_training_state(ref, part, 4 * 7, nets=("G", "D", "G_ema"))
    a = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)
    exported = load_file(ref / "generator.safetensors")
    assert torch.equal(exported["net.0.weight"], a["G_ema"]["module.net.0.weight"])
    assert not torch.equal(exported["net.0.weight"], a["G"]["net.0.weight"])
    assert json.loads((ref / "config.json").read_text())["train"]["ema"] == 0.9


@pytest.mark.parametrize("key, value, words", [("train.ema", "1.5", "EMA decay must be in [0, 1)"),
                                               ("train.diffaugment", "color,blur", "unknown transform(s) blur")])
def test_bad_option_values(key, value, words):
    from emojigan.config import resolve

    with pytest.raises(UserError, match=words.replace("[", r"\[").replace(")", r"\)").replace("(", r"\(")):
        resolve("dcgan64", None, [(key, value)])


def test_spectral_norm_discriminator():
    from emojigan.models.dcgan import Discriminator

    torch.manual_seed(0)
    D = Discriminator(32, 3, 16, 64, norm="spectral")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    x = torch.randn(4, 3, 32, 32)
    for _ in range(20):  # power iterations converge in training mode
        D(x)
    D.eval()
    for conv in (m for m in D.modules() if isinstance(m, torch.nn.Conv2d)):
        w = conv.weight.detach().flatten(1)
        assert abs(float(torch.linalg.matrix_norm(w, ord=2)) - 1.0) < 0.05
    assert D(x).shape == (4,)


def test_hinge_loss_values():
    from emojigan.losses import ADVERSARIAL

    hinge, bce = ADVERSARIAL["hinge"], ADVERSARIAL["bce"]
    d_real, d_fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert float(hinge.d(d_real, d_fake, 1.0, 0.0)) == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert float(hinge.g(torch.tensor([1.0, 3.0]))) == -2.0
    assert float(bce.d(torch.tensor([20.0]), torch.tensor([-20.0]), 1.0, 0.0)) < 1e-6
    assert _gan(loss="hinge").adversarial is hinge


def test_r1_penalty_adds_to_d_loss():
    real, z = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 16)
    plain = _gan().step(real, z)
    with_r1 = _gan(r1_gamma=10.0).step(real, z)
    assert float(with_r1[0]) > float(plain[0])        # same weights and inputs: only the penalty differs
    assert float(with_r1[1]) != float(plain[1])       # and D's update differs, so G's loss does too


def test_tiny_run_with_spectral_hinge_r1(faces32, tmp_path):
    out = tmp_path / "run"
    run_cli("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "1", "--out", out,
            "--set", "model.d_norm=spectral", "--set", "train.loss=hinge", "--set", "train.r1_gamma=1", *TINY)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 7 and all(torch.isfinite(torch.tensor(r["loss_d"])) for r in rows)


def test_divergence_guard_keeps_last_good_state(faces32, tmp_path, monkeypatch):
    """A non-finite loss, seen at the loss-reading interval, stops training with one clear error and the
    last checkpoint untouched."""
    from emojigan import config
    from emojigan.training import loop
    from emojigan.training.step import GANStep
    from emojigan.training.trainer import TrainingDiverged

    real_step = GANStep.step
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        stats = real_step(self, *args, **kwargs)
        return stats * float("nan") if calls["n"] > 9 else stats   # diverges during epoch 2

    monkeypatch.setattr(GANStep, "step", poisoned)
    cfg = config.resolve("dcgan64", None, [("data.path", str(faces32)), ("data.size", "32"), ("train.epochs", "3"),
                                           ("train.checkpoint_every", "1"), ("model.g_base", "16"),
                                           ("model.d_base", "16"), ("model.max_channels", "64")])
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"diverged at step 10 .*last good state \(epoch 1\)"):
        loop.train(cfg, out, progress=False)
    state = torch.load(out / "checkpoints" / "latest.pt", weights_only=True)
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
    assert issubclass(TrainingDiverged, UserError)  # the CLI reports it in one line, exit 2


def test_ada_probability_masks_per_image_and_controller_moves_p():
    from emojigan.training.augment import AdaptiveP

    x = torch.rand(64, 3, 16, 16) * 2 - 1
    g = torch.Generator().manual_seed(0)
    assert torch.equal(diff_augment(x, POLICY, g, torch.tensor(0.0)), x)       # p = 0: untouched
    y = diff_augment(x, "color", g, torch.tensor(0.5))
    changed = (y - x).flatten(1).abs().amax(dim=1) > 0
    assert 16 < int(changed.sum()) < 48                                       # about half the images
    xg = x.clone().requires_grad_(True)
    diff_augment(xg, POLICY, g, torch.tensor(0.5)).sum().backward()
    assert xg.grad is not None
    ada = AdaptiveP(target=0.6, kimg=1.0, device=torch.device("cpu"))
    assert ada.update(0.9, 250) == pytest.approx(0.25)                        # D overfits: p rises by 250/1000
    assert ada.update(0.9, 1000) == 1.0                                       # clamped
    assert ada.update(0.1, 500) == pytest.approx(0.5)                         # D unsure: p falls


def test_faces64_options_train_log_and_resume_exactly(faces32_rgba, tmp_path):
    """Attention, DiffAugment with ADA and an EMA at once: the log has the ADA probability, and a resumed run equals
    the uninterrupted one (p is in the state)."""
    opts = ["--set", "model.attention=true",
            "--set", f"train.diffaugment={POLICY}", "--set", "train.ada_target=0.6", "--set", "train.ada_kimg=0.05",
            "--set", "train.ema=0.9", "--checkpoint-every", "2", "--sample-every", "100", "--background",
            "transparent", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 4, "--preset", "dcgan64", "--data", faces32_rgba, *opts)
    assert_same_training_state(ref, part, 4 * 7, nets=("G", "D", "G_ema"))
    rows = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert all(0 <= r["ada_p"] <= 1 for r in train_rows) and any(r["ada_p"] > 0 for r in train_rows)
    assert all("loss_recon" not in r for r in train_rows)
    a = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(part / "checkpoints" / "latest.pt", weights_only=True)
    assert a["ada_p"] == b["ada_p"] == train_rows[-1]["ada_p"]
    run_cli("generate", ref, "--n", "2", "--separate", tmp_path / "g")        # the export rebuilds SLE + attention
    from PIL import Image
    assert Image.open(tmp_path / "g" / "seed0001.png").mode == "RGBA"


def assert_g_step_only(plain: GANStep, other: GANStep, real: torch.Tensor, z: torch.Tensor, stat: str) -> None:
    """`other` differs from `plain` by one G-step term, logged as `stat`: the same D update and logged
    adversarial losses, the term 0 in `plain` and positive in `other`, and G moved by it."""
    a, b = plain.step(real, z), other.step(real, z)
    assert torch.equal(a[:2], b[:2])             # same D update; logged loss_g is the adversarial part
    assert float(a[STATS.index(stat)]) == 0 and float(b[STATS.index(stat)]) > 0
    assert torch.equal(plain.D.state_dict()["net.0.weight"], other.D.state_dict()["net.0.weight"])
    assert not torch.equal(plain.G.state_dict()["net.0.weight"], other.G.state_dict()["net.0.weight"])


def test_patch_discriminator_scores_patches_with_its_receptive_field():
    from emojigan.models.blocks import PatchDiscriminator

    for layers, side, field in ((1, 63, 10), (2, 31, 22), (3, 15, 46)):
        P = PatchDiscriminator(4, layers)
        x = torch.zeros(2, 4, 128, 128, requires_grad=True)
        out = P(x)
        assert out.shape == (2, side * side)
        out[0, (side // 2) * side + side // 2].backward()     # one patch's logit sees only its own pixels
        rows = (x.grad[0].abs().sum(dim=(0, 2)) > 0).nonzero().flatten()
        assert int(rows.max() - rows.min() + 1) == field == PatchDiscriminator.receptive_field(layers)
        assert x.grad[1].abs().sum() == 0                     # and only its own image (no BatchNorm)


def test_patch_term_trains_p_in_the_d_step_and_pushes_g():
    from emojigan.models.blocks import PatchDiscriminator
    from emojigan.training.step import make_adam

    real, z = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 16)
    torch.manual_seed(1)
    P = PatchDiscriminator(3, 2, base=8)
    before = {k: v.clone() for k, v in P.state_dict().items()}
    plain = _gan()
    withp = _gan(P=P, opt_P=make_adam(P, 1e-3, (0.5, 0.999), torch.device("cpu")), patch=1.0)
    a, b = plain.step(real, z), withp.step(real, z)
    i = STATS.index
    assert torch.equal(a[i("loss_d")], b[i("loss_d")])       # the main D's loss is untouched ...
    assert torch.equal(plain.D.state_dict()["net.0.weight"], withp.D.state_dict()["net.0.weight"])
    assert not torch.equal(plain.G.state_dict()["net.0.weight"], withp.G.state_dict()["net.0.weight"])  # ... G is not
    assert b[i("loss_patch")] > 0 and 0 < b[i("patch_real")] < 1 and 0 < b[i("patch_fake")] < 1
    assert a[i("loss_patch")] == 0
    assert any(not torch.equal(before[k], v) for k, v in P.state_dict().items() if k.endswith("original"))
    assert all(p.requires_grad for p in P.parameters())       # switched back on after the G step
    with pytest.raises(ValueError, match="patch discriminator"):
        _gan(patch=1.0)


def test_patch_run_trains_resumes_exactly_and_starts_p_on_an_old_run(faces32, tmp_path):
    opts = ["--set", "train.patch=0.5", "--checkpoint-every", "2", "--sample-every", "100", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 4, "--preset", "dcgan64", "--data", faces32, *opts)
    assert_same_training_state(ref, part, 4 * 7, nets=("G", "D", "P"))
    rows = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
    assert rows and all(r["loss_patch"] > 0 and 0 < r["patch_fake"] < 1 for r in rows)
    # a run trained without it continues with a fresh patch critic, saved from then on
    old = tmp_path / "old"
    run_cli("train", "--preset", "dcgan64", "--data", faces32, "--epochs", 2, "--out", old, *TINY)
    assert "P" not in torch.load(old / "checkpoints" / "latest.pt", weights_only=True)
    plain_rows = [json.loads(x) for x in (old / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
    assert all("loss_patch" not in r for r in plain_rows)
    run_cli("train", "--resume", old, "--epochs", 3, "--set", "train.patch=1", "--quiet")
    state = torch.load(old / "checkpoints" / "latest.pt", weights_only=True)
    assert state["step"] == 3 * 7 and "P" in state and "opt_P" in state
    from emojigan.config import resolve

    for key, value, msg in (("train.patch", "-1", "train.patch -1.0 is out of range"),
                            ("train.patch_layers", "4", "train.patch_layers was removed from emojigan")):
        with pytest.raises(UserError, match=msg):
            resolve("faces64", None, [(key, value)])


def test_faint_alpha_loss_counts_background_haze_beyond_the_real_batch():
    from emojigan.losses import alpha_mass, faint_alpha_loss

    real = -torch.ones(2, 4, 16, 16)
    real[:, 3, 4:12, 4:12] = 1.0                          # an opaque square on a transparent background
    real[:, 3, 3, 4:12] = 2 * 0.1 - 1                     # one anti-aliased row: alpha 0.1
    assert float(alpha_mass(real)) == pytest.approx(0.1 * 8 / 256)
    assert float(faint_alpha_loss(real, real)) == 0.0     # as faint as the renders: nothing to pay
    hazy = real.clone()
    hazy[:, 3, 13:, :] = 2 * 0.05 - 1                     # a haze of alpha 0.05 below it, and one half-opaque row
    hazy[:, 3, 0, :] = 0.0                                # alpha 0.5 is not faint: not counted
    fake = hazy.clone().requires_grad_(True)
    loss = faint_alpha_loss(fake, real)
    assert float(loss.detach()) == pytest.approx(0.05 * 3 * 16 / 256, rel=1e-5)
    loss.backward()
    grad = fake.grad[:, 3]
    assert (grad[:, 13:] > 0).all() and (grad[:, 3, 4:12] > 0).all()   # descent lowers every faint pixel
    assert (grad[:, 0] == 0).all() and (grad[:, 4:12, 4:12] == 0).all() and (fake.grad[:, :3] == 0).all()
    cleaner = real.clone()
    cleaner[:, 3, 3] = -1.0                               # less faint than the real batch: no reward either
    assert float(faint_alpha_loss(cleaner, real)) == 0.0


def test_faint_alpha_term_is_in_the_g_step_only():
    torch.manual_seed(0)
    real, z = torch.rand(4, 4, 32, 32) * 2 - 1, torch.randn(4, 16)
    real[:, 3] = real[:, 3].sign()                       # alpha 0 or 1: no faint pixels in the real batch
    # G's last layer scaled up: saturated outputs, with a faint haze among them
    assert_g_step_only(_gan(4, 30.0), _gan(4, 30.0, faint_alpha=100.0), real, z, "loss_faint_alpha")
    from emojigan.config import resolve

    with pytest.raises(UserError, match="train.faint_alpha -1.0 is out of range"):
        resolve("faces64", None, [("train.faint_alpha", "-1")])
    assert resolve("faces64", None, [("train.faint_alpha", "10")]).train.weight("faint_alpha") == 10.0


def test_fragment_loss_pulls_exactly_the_stray_fragments_to_transparent():
    from emojigan.image_stats import stray_fragments
    from emojigan.losses import fragment_loss, fragment_mask

    x = -torch.ones(2, 4, 64, 64)
    x[:, 3, 10:50, 10:50] = 1.0                           # a face...
    x[:, 3, 54:60, 28:34] = 1.0                           # ...and a detached 36-pixel tear: not a fragment
    x[0, 3, 20, 52] = 0.6                                 # alpha 0.8, 2 px off the face: a fragment
    x[0, 3, 30, 51] = 0.6                                 # alpha 0.8, joined to the face by...
    x[0, 3, 30, 50] = -0.4                                # ...an alpha-0.3 pixel: a fragment at the 0.5 level
    x[1, 3, 5, 5] = -0.4                                  # alpha 0.3 alone: a fragment at the 0.25 level only
    mask = fragment_mask(x)[:, 0]
    assert mask[0].nonzero().tolist() == [[20, 52], [30, 51]] and mask[1].nonzero().tolist() == [[5, 5]]
    assert stray_fragments(x).tolist() == [2, 0]          # evaluate's measure (0.5 level) sees the first two
    fake = x.clone().requires_grad_(True)
    loss = fragment_loss(fake)
    assert float(loss.detach()) == pytest.approx((0.8 + 0.8 + 0.3) / 2)
    loss.backward()
    grad = fake.grad[:, 3]
    assert (grad[mask.bool()] == 0.25).all() and int((grad != 0).sum()) == 3   # d(alpha)/dx = 1/2, over 2 images
    assert (fake.grad[:, :3] == 0).all()
    clean = x.clone()
    clean[0, 3, 20, 52] = clean[0, 3, 30, 51] = clean[1, 3, 5, 5] = -1.0
    assert float(fragment_loss(clean)) == 0.0
    small = torch.nn.functional.interpolate(x, size=32, mode="nearest")   # the size limit scales with the area
    assert fragment_mask(small)[:, 0].nonzero().tolist() == [[0, 10, 26]]  # (20, 52) kept; the others fell between
    assert float(fragment_loss(small)) == pytest.approx(0.8 * 4 / 2)     # a 32 px pixel counts as four 64 px ones


def test_fragment_term_is_in_the_g_step_only():
    torch.manual_seed(0)
    real, z = -torch.ones(4, 4, 32, 32), torch.randn(4, 16)
    real[:, :, 4:28, 4:28] = 1.0
    assert_g_step_only(_gan(4, 30.0), _gan(4, 30.0, fragments=1.0), real, z, "loss_fragments")
    from emojigan.config import resolve

    with pytest.raises(UserError, match="train.fragments -1.0 is out of range"):
        resolve("faces64", None, [("train.fragments", "-1")])


def test_alpha_losses_train_and_log_on_rgba_and_are_off_on_black(faces32, faces32_rgba, tmp_path):
    """The faces64 preset sets train.faint_alpha: on RGBA data the run logs loss_faint_alpha and loss_fragments; on a
    black background it says they are off, logs neither, and trains as without them."""
    tiny = [x for x in TINY if x != "--quiet"]          # the notice is printed with the progress output
    opts = ["--set", "train.faint_alpha=30", "--set", "train.fragments=1", "--epochs", "1", *tiny]
    rgba = run_cli("train", "--preset", "dcgan64", "--data", faces32_rgba, "--background", "transparent", *opts,
                   "--set", "train.grain=1", "--set", "train.flat=1", "--out", tmp_path / "rgba")
    rows = [json.loads(x) for x in (tmp_path / "rgba" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert all(r["loss_faint_alpha"] >= 0 and r["loss_grain"] >= 0 and r["loss_fragments"] >= 0
               and r["loss_flat"] >= 0 for r in train_rows)   # (no opaque interior yet: flat reads 0)
    assert train_rows and "off on" not in rgba.stdout      # (a fresh G's alpha sits near 0.5: little faint yet)
    black = run_cli("train", "--preset", "dcgan64", "--data", faces32, *opts, "--out", tmp_path / "black")
    run_cli("train", "--preset", "dcgan64", "--data", faces32, "--epochs", "1", *tiny, "--out", tmp_path / "plain")
    assert ("train.faint_alpha / train.fragments act on the alpha channel; off on this black background"
            in black.stdout)
    rows = [json.loads(x) for x in (tmp_path / "black" / "metrics.jsonl").read_text().splitlines()]
    assert all("loss_faint_alpha" not in r and "loss_grain" not in r and "loss_fragments" not in r
               and "loss_flat" not in r for r in rows)
    a = load_file(tmp_path / "black" / "generator.safetensors")
    b = load_file(tmp_path / "plain" / "generator.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_grain_share_is_evaluates_residual_over_variance_and_the_loss_pulls_specks_into_the_fill():
    from emojigan.metrics.image_metrics import noise_energy, to_rgb01
    from emojigan.losses import dataset_grain, grain_loss, grain_share

    torch.manual_seed(0)
    x = torch.rand(3, 4, 32, 32) * 2 - 1
    look = to_rgb01(x)                                    # RGBA composited over black, as evaluate sees it
    var = (look - look.mean(axis=(1, 2), keepdims=True)) ** 2
    assert float(grain_share(x)) == pytest.approx(float(noise_energy(look).mean() / var.mean()), rel=1e-5)
    faded = x.clone()
    faded[:, 3] = (x[:, 3] + 1) * 0.3 - 1                 # the same images at 30% opacity: no way out by fading
    assert float(grain_share(faded)) == pytest.approx(float(grain_share(x)), rel=1e-5)
    rgb = x[:, :3] * 0.5 - 0.5                            # RGB in [-1, 0]: tinted blue (+0.8), no way out either
    tinted = rgb.clone()
    tinted[:, 2] += 0.8
    assert float(grain_share(tinted)) == pytest.approx(float(grain_share(rgb)), rel=1e-5)
    real = -torch.ones(2, 3, 32, 32)
    real[:, 0, 8:24, 8:24] = 1.0                          # a flat red square: its edges survive a 3x3 median
    speckled = real.clone()
    speckled[:, 1, 10:22:3, 10:22:3] = 1.0                # single green dots inside the fill
    ref = float(grain_share(real))                        # (only the square's four corners differ from their median)
    assert float(grain_share(speckled)) > 3 * ref
    fake = speckled.clone().requires_grad_(True)
    loss = grain_loss(fake, ref)
    assert float(loss.detach()) > 2
    loss.backward()
    grad = fake.grad[:, 1]
    assert (grad[:, 10:22:3, 10:22:3] > 0).all()          # descent lowers each speck toward the fill around it
    # a fill pixel beside it: the median is held, so only the variance moves it, 400 times less
    assert (grad[:, 11, 11].abs() < grad[:, 10, 10] / 400).all()
    assert float(grain_loss(real, ref)) == 0.0            # no more grain than the reference: nothing to pay
    assert float(grain_loss(speckled, speckled)) == 0.0   # a batch as the reference
    batch = torch.cat([real, speckled, x[:, :3]])
    assert dataset_grain(batch, chunk=3) == pytest.approx(float(grain_share(batch)), rel=1e-5)
    blank = -torch.ones(2, 4, 32, 32)                     # a collapsing G: almost transparent, one faint dot
    blank[:, :, 16, 16] = -0.9
    assert 0 < float(grain_share(blank)) < 1e-3           # bounded by the variance floor (1.0 without it: the
                                                          # dot is all its variance, 100 times real grain)
    assert float(grain_share(blank)) < float(grain_share(speckled))


def test_grain_term_is_in_the_g_step_only():
    from emojigan.losses import REGULARIZERS, Batch, dataset_grain, grain_share

    torch.manual_seed(0)
    real, z = torch.full((4, 3, 32, 32), 0.5), torch.randn(4, 16)   # flat: no grain in the real batch
    assert_g_step_only(_gan(), _gan(grain=1.0), real, z, "loss_grain")
    # against a training set's reference instead of the batch: a reference above G's grain costs nothing
    reg = REGULARIZERS["grain"]
    with torch.no_grad():
        fake = _gan().G(z)
    ref = float(grain_share(fake))
    assert float(reg.loss(Batch(fake, real), ref / 2)) == pytest.approx(1, rel=0.05)
    assert float(reg.loss(Batch(fake, real), ref * 2)) == 0.0
    train_set = torch.rand(6, 3, 32, 32) * 2 - 1
    images = TrainingImages(train_set, torch.arange(6), 6, False)
    assert reg.prepare(images) == pytest.approx(dataset_grain(train_set))   # a run's reference: its whole set
    assert _gan(grain=1.0, images=images).terms[0][2] == pytest.approx(dataset_grain(train_set))
    from emojigan.config import resolve

    with pytest.raises(UserError, match="train.grain -1.0 is out of range"):
        resolve("cond128", None, [("train.grain", "-1")])
    assert resolve("cond128", None, [("train.grain", "3")]).train.weight("grain") == 3.0


def test_flat_loss_pulls_a_mottled_fill_flat_and_leaves_outlines_and_alpha_alone():
    from emojigan.image_stats import mottled_fill
    from emojigan.losses import flat_loss

    face = torch.full((2, 4, 32, 32), -1.0)
    face[:, :, 6:26, 6:26] = 1.0                          # an opaque square...
    face[:, :3, 6:26, 6:26] = torch.tensor([0.9, 0.9, -0.7]).view(3, 1, 1)   # ...filled yellow,
    face[:, :3, 6:26, 6:8] = -1.0                         # with a black bar on its left
    gen = torch.Generator().manual_seed(0)
    blotch = torch.nn.functional.interpolate(torch.randn(2, 3, 8, 8, generator=gen), size=32, mode="bilinear")
    mottled = face.clone()
    mottled[:, :3, 12:24, 12:24] += 0.05 * blotch[:, :, 12:24, 12:24]
    fake = mottled.clone().requires_grad_(True)
    loss = flat_loss(fake)
    loss.backward()
    assert float(loss.detach()) > float(flat_loss(face))
    assert float(fake.grad[:, 3].abs().max()) == 0.0     # alpha gets no pull
    assert float(fake.grad[:, :3, 6:26, 6:8].abs().max()) == 0.0   # the bar's windows are above the cap: no blur
    assert float(fake.grad[:, :3, 0:4].abs().max()) == 0.0          # the transparent background is not counted
    stepped = (mottled - 50 * fake.grad).detach()         # descent flattens the blotches
    assert float(flat_loss(stepped)) < float(loss.detach()) and mottled_fill(stepped).mean() < mottled_fill(mottled).mean()


def test_flat_term_is_in_the_g_step_only():
    torch.manual_seed(0)
    real, z = torch.full((4, 3, 32, 32), 0.5), torch.randn(4, 16)
    assert_g_step_only(_gan(), _gan(flat=1.0), real, z, "loss_flat")
    from emojigan.config import resolve

    with pytest.raises(UserError, match="train.flat -1.0 is out of range"):
        resolve("cond128", None, [("train.flat", "-1")])
    assert resolve("cond128", None, [("train.flat", "4")]).train.weight("flat") == 4.0


def test_label_silhouettes_and_the_loss_on_alpha_off_the_label():
    from emojigan.losses import SILHOUETTE_MARGIN, label_silhouettes, silhouette_loss

    imgs = -torch.ones(3, 4, 64, 64)
    imgs[0, 3, 20:40, 20:40] = 1.0                        # class 0: a square...
    imgs[2, 3, 20:40, 40:50] = 1.0                        # ...and, in its second image, a block to its right
    imgs[1, 3, 0:8, 0:8] = 2 * 0.01 - 1                   # class 1: alpha 0.01 only, below the threshold: empty
    out = label_silhouettes(imgs, torch.tensor([0, 1, 0]), 2)
    m = SILHOUETTE_MARGIN
    assert out.shape == (2, 1, 64, 64) and out.dtype == torch.bool and out.any() and not out.all()
    assert float(out[0].sum()) == 64 * 64 - (20 + 2 * m) * (30 + 2 * m)   # the union of both images, grown by m
    assert float(out[1].sum()) == 64 * 64
    fake = -torch.ones(2, 4, 64, 64)
    fake[:, 3, 20:40, 20:50] = 1.0                        # both draw class 0's emoji...
    fake[:, 3, 60:62, 0:2] = 0.0                          # ...plus a half-opaque 2x2 fleck in a corner
    x = fake.clone().requires_grad_(True)
    loss = silhouette_loss(x, out[torch.tensor([0, 1])])  # drawn for class 0, and for the empty class 1
    n0, n1 = float(out[0].sum()), 64 * 64
    assert float(loss.detach()) == pytest.approx((0.5 * 4 + 0.5 * 4 + 600) / (n0 + n1))
    loss.backward()
    grad = x.grad[:, 3]
    assert (grad[:, 60:62, 0:2] > 0).all() and (grad >= 0).all()      # descent lowers alpha off the silhouette
    assert (grad[0, 20:40, 20:50] == 0).all() and (grad[1, 20:40, 20:50] > 0).all()
    assert (x.grad[:, :3] == 0).all()
    small = label_silhouettes(torch.nn.functional.interpolate(imgs, size=32), torch.tensor([0, 1, 0]), 2)
    assert float(small[0].sum()) == 32 * 32 - (10 + 2) * (15 + 2)      # the margin scales with the side: 1 px
    exact = label_silhouettes(imgs, torch.tensor([0, 1, 0]), 2, margin=0)
    assert float(exact[0].sum()) == 64 * 64 - 20 * 30                  # margin 0: the emoji's own pixels
    big = label_silhouettes(torch.nn.functional.interpolate(imgs, size=128), torch.tensor([0, 1, 0]), 2, margin=0.5)
    assert float(big[0].sum()) == 128 * 128 - (40 + 2) * (60 + 2)     # half a pixel at 64x64 = 1 px at 128


def test_silhouette_term_is_in_the_conditional_g_step_only():
    from emojigan.losses import label_silhouettes

    def gan(images=None, **weights):
        torch.manual_seed(0)
        G, D = build("cdcgan", 32, 4, 16, 8, 8, 32, n_classes=3, embed_dim=4)
        t = TrainConfig()
        t.losses.update(weights)
        return GANStep(make_nets(G, D, 1e-3, 1e-3, (0.5, 0.999), torch.device("cpu")), t, images=images, channels=4)

    real, z, y = -torch.ones(3, 4, 32, 32), torch.randn(3, 16), torch.tensor([0, 1, 2])
    real[:, :, 8:24, 8:24] = 1.0
    images = TrainingImages(real, y, 3, True, TrainConfig())
    assert torch.equal(silhouettes_of(images).masks, label_silhouettes(real, y, 3))   # the default margin, 2 px
    plain, other = gan(), gan(images, silhouette=10.0)
    a, b = plain.step(real, z, y, y), other.step(real, z, y, y)
    i = STATS.index("loss_silhouette")
    assert torch.equal(a[:2], b[:2]) and float(a[i]) == 0 and float(b[i]) > 0   # same D update; G's term only
    assert torch.equal(plain.D.state_dict()["net.net.0.weight"], other.D.state_dict()["net.net.0.weight"])
    assert not torch.equal(plain.G.state_dict()["net.net.0.weight"], other.G.state_dict()["net.net.0.weight"])
    with pytest.raises(ValueError, match="the silhouette loss needs the training images"):
        gan(silhouette=1.0)
    from emojigan.config import resolve

    assert resolve("faces64", None, [("train.silhouette", "1")]).train.weight("silhouette") == 1.0   # unconditional too
    with pytest.raises(UserError, match="train.silhouette -1.0 is out of range"):
        resolve("cond128", None, [("train.silhouette", "-1")])
    with pytest.raises(UserError, match="train.silhouette_margin 20.0 is out of range; it is a width in pixels"):
        resolve("cond128", None, [("train.silhouette_margin", "20")])
    p = run_cli("train", "--preset", "faces64", "--set", "train.silhouette_margin=-1", "--out", "unused", check=False)
    assert p.returncode == 2 and "train.silhouette_margin -1.0 is out of range" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_nearest_by_alpha_picks_the_emoji_a_fleck_sits_beside():
    from emojigan.losses import label_silhouettes, nearest_by_alpha, silhouette_loss

    real = -torch.ones(2, 4, 32, 32)
    real[0, 3, 4:14, 4:14] = 1.0                           # image 0: a square top left
    real[1, 3, 16:30, 16:30] = 1.0                         # image 1: a bigger square bottom right
    keys = ((real[:, 3] + 1) / 2).flatten(1)
    fake = real[[1, 0]].clone()
    fake[0, 3, 0:2, 30:32] = 1.0                           # image 1's square plus a fleck in the top-right corner
    fake[1, 3, 4:14, 14:15] = 1.0                          # image 0's square one column wider: its own part
    rows = nearest_by_alpha(fake, keys)
    assert rows.tolist() == [1, 0]
    masks = label_silhouettes(real, torch.arange(2), 2)
    x = fake.clone().requires_grad_(True)
    loss = silhouette_loss(x, masks[rows])
    loss.backward()
    assert float(loss.detach()) == pytest.approx(4 / float(masks.sum()))   # the fleck only (the column is in the margin)
    assert (x.grad[0, 3, 0:2, 30:32] > 0).all() and (x.grad[0, 3, 15:31, 15:31] == 0).all()
    assert (x.grad[1, 3, 3:15, 3:15] == 0).all()              # the wider column is in the square's margin: free


def test_silhouette_term_in_the_unconditional_g_step_matches_each_fake_to_a_training_image():
    from emojigan.losses import label_silhouettes

    real, z = -torch.ones(3, 4, 32, 32), torch.randn(3, 16)
    real[:, :, 8:24, 8:24] = 1.0
    images = TrainingImages(real, torch.arange(3), 3, False, TrainConfig())
    prepared = silhouettes_of(images)
    assert torch.equal(prepared.masks, label_silhouettes(real, torch.arange(3), 3))
    assert torch.equal(prepared.keys, ((real[:, 3] + 1) / 2).flatten(1))
    plain, other = _gan(4), _gan(4, images=images, silhouette=10.0)
    a, b = plain.step(real, z), other.step(real, z)
    i = STATS.index("loss_silhouette")
    assert torch.equal(a[:2], b[:2]) and float(a[i]) == 0 and float(b[i]) > 0   # same D update; G's term only
    assert torch.equal(plain.D.state_dict()["net.0.weight"], other.D.state_dict()["net.0.weight"])
    assert not torch.equal(plain.G.state_dict()["net.0.weight"], other.G.state_dict()["net.0.weight"])


def test_silhouette_trains_an_unconditional_model_on_rgba_data(faces32_rgba, tmp_path):
    run_cli("train", "--preset", "dcgan64", "--data", faces32_rgba, "--background", "transparent", "--epochs", "1",
            "--set", "train.silhouette=10", "--set", "train.silhouette_margin=1", *TINY, "--out", tmp_path / "run")
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert train_rows and all(r["loss_silhouette"] > 0 for r in train_rows)


def test_silhouette_trains_and_logs_on_rgba_conditional_data(faces32_rgba, tmp_path):
    run_cli("train", "--preset", "cdcgan128", "--data", faces32_rgba, "--background", "transparent", "--epochs", "1",
            "--set", "train.silhouette=10", *TINY, "--out", tmp_path / "run")
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert train_rows and all(r["loss_silhouette"] > 0 for r in train_rows)   # a fresh G's alpha is ~0.5 everywhere
    assert all("loss_faint_alpha" not in r for r in train_rows)


def test_mirror_some_shows_each_image_or_its_mirror_about_half_the_time():
    from emojigan.training.augment import mirror_some

    x = torch.randn(64, 4, 8, 8)
    y = mirror_some(x, torch.Generator().manual_seed(0))
    same = [torch.equal(y[i], x[i]) for i in range(64)]
    flipped = [torch.equal(y[i], x[i].flip(-1)) for i in range(64)]
    assert all(s != f for s, f in zip(same, flipped))                  # every image whole: itself xor its mirror
    assert 20 <= sum(flipped) <= 44
    assert torch.equal(y, mirror_some(x, torch.Generator().manual_seed(0)))   # from the run's stream: repeatable


def test_mirror_run_with_silhouette_resumes_exactly_and_differs_from_no_mirror(faces32_rgba, tmp_path):
    opts = ["--set", "train.silhouette=10", "--checkpoint-every", "2", "--sample-every", "100",
            "--background", "transparent", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 4, "--preset", "dcgan64", "--data", faces32_rgba,
                                        "--set", "train.mirror=true", *opts)
    assert_same_training_state(ref, part, 4 * 7)
    rows = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
    assert rows and all(r["loss_silhouette"] >= 0 for r in rows) and any(r["loss_silhouette"] > 0 for r in rows)
    assert json.loads((ref / "config.json").read_text())["train"]["mirror"] is True
    plain = tmp_path / "plain"
    run_cli("train", "--preset", "dcgan64", "--data", faces32_rgba, *opts, "--epochs", "4", "--out", plain, threads=1)
    a = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)["D"]
    b = torch.load(plain / "checkpoints" / "latest.pt", weights_only=True)["D"]
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())   # D saw mirrored emojis


