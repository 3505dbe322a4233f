"""Self-conditioned training (`model.clusters`): the clustering, the run's classes, sampling by share, resume;
instance neighbourhoods (`model.neighbors`): the table, D's real draws, resume; and rarity-weighted drawing
(`train.balance`): the weights, the epoch's draws, resume."""
import json

import pytest
import torch

from emojigan.config import resolve
from emojigan.data.clusters import cluster_features, cluster_images, nearest_neighbors, rarity_weights
from emojigan.errors import UserError
from tests.conftest import TINY, assert_same_training_state, run_cli, train_split_and_resumed


def test_cluster_features_finds_separated_groups_and_numbers_by_first_member():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[10.0, 0], [0, 10.0], [-10.0, -10.0]])
    truth = torch.tensor([2, 0, 1, 2, 2, 1, 0, 0, 1, 2, 0, 1])
    feat = centres[truth] + 0.1 * torch.randn(len(truth), 2, generator=g)
    got = cluster_features(feat, 3, seed=0)
    assert got[0] == 0 and got.dtype == torch.int64
    # the same partition as the truth, renumbered by first appearance: truth 2 -> 0, 0 -> 1, 1 -> 2
    assert got.tolist() == [{2: 0, 0: 1, 1: 2}[t] for t in truth.tolist()]
    assert torch.equal(cluster_features(feat, 3, seed=0), got)      # deterministic
    assert cluster_features(feat, 1).tolist() == [0] * len(truth)
    with pytest.raises(UserError, match="has 12 images; choose between 1 and 12"):
        cluster_features(feat, 13)


def test_cluster_images_groups_look_alikes(faces32_rgba):
    from emojigan.data import load_images

    data = load_images(faces32_rgba, 32, "transparent")
    c = cluster_images(data.images, 8)
    assert c.shape == (len(data),) and sorted(set(c.tolist())) == list(range(8))
    assert torch.bincount(c).max() < len(data) // 2                  # no cluster swallows the set


def test_clusters_need_a_conditional_arch():
    with pytest.raises(UserError, match="needs a conditional model.arch"):
        resolve("faces64", None, [("model.clusters", "8")])
    assert resolve("faces64", None, [("model.arch", "cdcgan"), ("model.clusters", "8")]).model.clusters == 8
    proc = run_cli("train", "--preset", "faces64", "--set", "model.clusters=-1", "--out", "/nonexistent/x",
                   check=False)
    assert proc.returncode == 2 and "model.clusters -1 is out of range" in proc.stderr


def test_clustered_run_classes_sampling_and_exact_resume(faces32_rgba, tmp_path):
    opts = ["--set", "model.arch=cdcgan", "--set", "model.clusters=6", "--set", "train.diffaugment=translation",
            "--set", "train.ema=0.9", "--background", "transparent", "--checkpoint-every", "1",
            "--sample-every", "100", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 2, "--preset", "faces64", "--data", faces32_rgba, *opts)
    assert_same_training_state(ref, part, 2 * 7, nets=("G", "D", "G_ema"))

    state = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)
    meta = json.loads((ref / "generator.json").read_text())
    classes_of = state["image_classes"]
    assert classes_of.tolist() == meta["image_classes"] and len(classes_of) == 111
    assert meta["model"]["n_classes"] == 6 and [c["annotation"] for c in meta["classes"]] == [
        f"cluster {k}" for k in range(6)]
    sizes = torch.bincount(classes_of, minlength=6)
    assert [len(c["members"].split("; ")) for c in meta["classes"]] == sizes.tolist()
    assert "grinning face" in meta["classes"][0]["members"]         # image 0 (1F600) opens cluster 0
    assert state["G"]["embed.weight"].shape[0] == 6

    from emojigan.inference import load_generator

    gen = load_generator(ref)
    seeds = list(range(222))
    labels = gen.default_labels(seeds)                                # training image k % 111's cluster
    assert labels[:111] == classes_of.tolist() and labels[111:] == labels[:111]
    a = gen.sample_tensor(seeds=[3, 4])
    b = gen.sample_tensor(seeds=[3, 4], labels=[classes_of[3].item(), classes_of[4].item()])
    assert a.shape == (2, 4, 32, 32) and torch.equal(a, b)

    run_cli("generate", ref, "--label", "cluster 2", "--n", "2", "--separate", tmp_path / "c2")
    assert sorted(p.name for p in (tmp_path / "c2").iterdir()) == ["class002-0000.png", "class002-0001.png"]
    listing = run_cli("labels", ref).stdout.splitlines()
    assert len(listing) == 6 and "cluster 0" in listing[0] and "grinning face" in listing[0]


def test_label_fidelity_counts_a_clusters_members():
    """For a cluster-conditioned model a sample is faithful when its nearest real emoji is in the asked cluster."""
    from emojigan.metrics.fidelity import label_fidelity

    real_feat = torch.tensor([[0.0, 0], [0, 1], [10, 0], [10, 1]])

    class Gen:  # draws, for cluster c, an image whose features sit on that cluster's members
        classes = [{"annotation": "cluster 0"}, {"annotation": "cluster 1"}]
        image_classes = [0, 0, 1, 1]

        def sample_tensor(self, seeds, labels, truncation=None, redraw=0):
            return torch.tensor([[10.0 * y, 0.5] for y in labels])

    s, arrays, _ = label_fidelity(Gen(), lambda x: x, real_feat, per_label=3)
    assert s["label_fidelity_top1"] == 1.0 and s["label_fidelity_chance"] == 0.5
    Gen.image_classes = [1, 1, 0, 0]                                   # the same draws, clusters swapped
    s, _, _ = label_fidelity(Gen(), lambda x: x, real_feat, per_label=3)
    assert s["label_fidelity_top1"] == 0.0 and arrays["label_fidelity_per_label"].shape == (2,)


def test_nearest_neighbors_self_first_then_by_distance_ties_by_index():
    feat = torch.tensor([[0.0], [1.0], [3.0], [-1.0], [0.0]])       # images 0 and 4 coincide
    nb = nearest_neighbors(feat, 3)
    assert nb.dtype == torch.int64 and nb.shape == (5, 3)
    assert nb[:, 0].tolist() == [0, 1, 2, 3, 4]                      # itself first, even beside a duplicate
    assert nb[0].tolist() == [0, 4, 1] and nb[4].tolist() == [4, 0, 1]   # 1 and 3 tie at 1.0 from 0: index order
    assert nb[2].tolist() == [2, 1, 0]                               # 0 and 4 tie at 3.0: the lower index
    assert nearest_neighbors(feat, 1).flatten().tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(UserError, match="model.neighbors 6: the training set has 5 images"):
        nearest_neighbors(feat, 6)


def test_neighbors_settings_are_checked():
    with pytest.raises(UserError, match="model.neighbors .*needs a conditional model.arch"):
        resolve("faces64", None, [("model.neighbors", "5")])
    with pytest.raises(UserError, match="does not combine with model.clusters"):
        resolve("faces64", None, [("model.arch", "cdcgan"), ("model.neighbors", "5"), ("model.clusters", "8")])
    proc = run_cli("train", "--preset", "faces64", "--set", "model.arch=cdcgan", "--set", "model.neighbors=-2",
                   "--out", "/nonexistent/x", check=False)
    assert proc.returncode == 2 and "model.neighbors -2 is out of range" in proc.stderr


def test_neighbors_run_shows_d_each_class_as_one_of_its_neighbours(faces32_rgba, tmp_path, monkeypatch):
    """D's real image for class i is one of image i's k nearest (not always image i); fakes are asked for
    the same classes as ever; the table is kept in the state, and a resumed run continues exactly."""
    from emojigan.data import load_images
    from emojigan.training import loop
    from emojigan.training.step import GANStep

    opts = ["--set", "model.arch=cdcgan", "--set", "model.neighbors=3", "--set", "train.diffaugment=",
            "--set", "train.eval_every=0", "--background", "transparent", "--checkpoint-every", "1",
            "--sample-every", "100", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 2, "--preset", "faces64", "--data", faces32_rgba, *opts)
    assert_same_training_state(ref, part, 2 * 7, nets=("G", "D", "G_ema"))
    nb = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)["neighbors"]
    assert nb.shape == (111, 3) and nb[:, 0].tolist() == list(range(111))
    meta = json.loads((ref / "generator.json").read_text())
    assert meta["model"]["neighbors"] == 3 and meta["model"]["n_classes"] == 111

    seen = []
    real_step = GANStep.step

    def spy(self, real, z, labels=None, fake_labels=None, **kw):
        seen.append((real.clone(), labels.clone()))
        return real_step(self, real, z, labels, fake_labels, **kw)

    monkeypatch.setattr(GANStep, "step", spy)
    cfg = resolve("faces64", None, [("data.path", str(faces32_rgba)), ("data.size", "32"), ("model.arch", "cdcgan"),
                                    ("model.neighbors", "3"), ("model.g_base", "8"), ("model.d_base", "8"),
                                    ("model.max_channels", "32"), ("train.epochs", "1"), ("train.eval_every", "0"),
                                    ("train.diffaugment", "")])
    loop.train(cfg, tmp_path / "spy", progress=False)
    real = load_images(faces32_rgba, 32, "transparent").images
    own = others = 0
    for x, y in seen:
        for img, c in zip(x, y.tolist()):
            hits = [j for j in nb[c].tolist() if torch.equal(img, real[j])]
            assert hits, f"class {c}'s real image is none of its neighbours {nb[c].tolist()}"
            own += hits[0] == c
            others += hits[0] != c
    assert own + others == 111 and own > 10 and others > 30        # about a third its own image
    assert sorted(torch.cat([y for _, y in seen]).tolist()) == list(range(111))   # every class once an epoch


def test_label_fidelity_of_a_neighbourhood_model_counts_its_neighbours():
    """A neighbourhood model's sample for label i is also scored against i's k nearest real emojis."""
    from emojigan.metrics.fidelity import label_fidelity

    real_feat = torch.tensor([[0.0, 0], [1, 0], [10, 0], [30, 0]])   # 0-1 close, 2 apart, 3 far

    class Gen:  # label y draws next to real emoji (y + 1) % 4
        classes = [{"annotation": str(i)} for i in range(4)]
        image_classes = []
        meta = {"model": {"neighbors": 2}}

        def sample_tensor(self, seeds, labels, truncation=None, redraw=0):
            return real_feat[[(y + 1) % 4 for y in labels]] + 0.01

    s, _, _ = label_fidelity(Gen(), lambda x: x, real_feat, per_label=2)
    # neighbourhoods (k=2): 0 {0,1}, 1 {1,0}, 2 {2,1}, 3 {3,2}; draws 1, 2, 3, 0: in for labels 0 only
    assert s["label_fidelity_top1"] == 0.0 and s["label_fidelity_neighbourhood"] == 0.25
    Gen.meta = {"model": {"neighbors": 0}}
    assert "label_fidelity_neighbourhood" not in label_fidelity(Gen(), lambda x: x, real_feat, per_label=2)[0]


def test_rarity_weights_favour_the_isolated_image():
    # five images close together, one far away: the far one has the largest 3rd-neighbour distance
    feat = torch.tensor([[0.0, 0], [0.1, 0], [0, 0.1], [0.1, 0.1], [0.05, 0.0], [5.0, 5.0]])
    w = rarity_weights(feat, 2.0)
    assert w.dtype == torch.float64 and abs(float(w.sum()) - 1) < 1e-12
    assert int(w.argmax()) == 5 and float(w[5]) > 0.9
    stronger = rarity_weights(feat, 4.0)
    assert float(stronger[5]) > float(w[5])                          # the exponent sharpens the preference
    assert torch.allclose(rarity_weights(feat, 0.0), torch.full((6,), 1 / 6, dtype=torch.float64))
    assert rarity_weights(feat[:1], 2.0).tolist() == [1.0]           # one image: nothing to compare with


def test_balanced_epochs_draw_by_weight_and_shard_evenly():
    from emojigan.training.distributed import Dist
    from emojigan.training.loop import _epoch_indices

    w = torch.tensor([0.0, 0.5, 0.0, 0.5], dtype=torch.float64)
    one = _epoch_indices(4, 0, 3, Dist(), w)
    assert len(one) == 4 and set(one.tolist()) <= {1, 3}              # zero-weight images never drawn
    assert torch.equal(one, _epoch_indices(4, 0, 3, Dist(), w))       # (seed, epoch) decide the draws
    counts = torch.bincount(torch.cat([_epoch_indices(4, 0, e, Dist(), w) for e in range(200)]), minlength=4)
    assert counts[0] == counts[2] == 0 and abs(int(counts[1]) - 400) < 60
    shards = [_epoch_indices(5, 0, 1, Dist(rank=r, world_size=2), w) for r in range(2)]
    assert [len(s) for s in shards] == [3, 3]                         # padded: every rank takes as many steps


def test_balance_settings_are_checked():
    with pytest.raises(UserError, match="train.balance reweights the images of an unconditional G"):
        resolve("faces64", None, [("model.arch", "cdcgan"), ("train.balance", "2")])
    proc = run_cli("train", "--preset", "faces64", "--set", "train.balance=50", "--out", "/nonexistent/x", check=False)
    assert proc.returncode == 2 and "train.balance 50.0 is out of range" in proc.stderr


def test_balanced_run_shows_rare_images_more_often_and_resumes_exactly(faces32_rgba, tmp_path, monkeypatch):
    from emojigan.data import load_images
    from emojigan.data.clusters import balance_weights
    from emojigan.training import loop
    from emojigan.training.step import GANStep

    opts = ["--set", "train.balance=4", "--set", "train.eval_every=0", "--background", "transparent",
            "--checkpoint-every", "1", "--sample-every", "100", *TINY]
    ref, part = train_split_and_resumed(tmp_path, 2, "--preset", "faces64", "--data", faces32_rgba, *opts)
    assert_same_training_state(ref, part, 2 * 7, nets=("G", "D", "G_ema"))
    real = load_images(faces32_rgba, 32, "transparent").images
    kept = torch.load(ref / "checkpoints" / "latest.pt", weights_only=True)["balance"]
    assert torch.allclose(kept, balance_weights(real, 4.0))

    seen = []
    real_step = GANStep.step

    def spy(self, x, z, *a, **kw):
        seen.append(x.clone())
        return real_step(self, x, z, *a, **kw)

    monkeypatch.setattr(GANStep, "step", spy)
    cfg = resolve("faces64", None, [("data.path", str(faces32_rgba)), ("data.size", "32"), ("model.g_base", "8"),
                                    ("model.d_base", "8"), ("model.max_channels", "32"), ("train.epochs", "6"),
                                    ("train.eval_every", "0"), ("train.diffaugment", ""), ("train.balance", "4")])
    loop.train(cfg, tmp_path / "spy", progress=False)
    flat = real.flatten(1)
    drawn = torch.cat([torch.cdist(x.flatten(1), flat).argmin(1) for x in seen])
    assert len(drawn) == 6 * 111
    counts = torch.bincount(drawn, minlength=111).double()
    rare, common = kept.argsort(descending=True)[:10], kept.argsort()[:10]
    assert counts[rare].mean() > 3 * counts[common].mean()           # the rarest ten shown far more often
