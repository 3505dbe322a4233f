"""Each metric on constructed inputs whose answer is known."""
import numpy as np
import pytest
import torch

from emojigan.metrics import EvalData, compute_all
from emojigan.metrics.distribution import coverage, fid, kid, precision_recall, precision_recall_sets
from emojigan.metrics.image_metrics import edge_strength, noise_energy
from emojigan.metrics.memorization import nearest_ssim, ssim_matrix


def test_kid_and_fid_identical_vs_shifted():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 16, generator=g)
    y = torch.randn(200, 16, generator=g)
    same, _ = kid(x, y)
    shifted, _ = kid(x, y + 1.0)
    assert abs(same) < 0.01 and shifted > 0.1
    assert fid(x, y) < 1.0 < fid(x, y + 1.0)
    assert abs(fid(x, y + 1.0) - 16.0) < 3.0  # mean shift of 1 in 16 dims: ||mu_a - mu_b||^2 = 16


def test_kid_subsets_no_larger_than_the_real_set():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(111, 8, generator=g), torch.randn(512, 8, generator=g)
    mean, std = kid(real, fake)  # torchmetrics' default subset of 1000 would fail with 111 reals
    assert np.isfinite(mean) and std >= 0


def test_precision_recall_known_cases():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(100, 8, generator=g)
    copies = real[torch.randint(0, 100, (400,), generator=g)]
    p, r = precision_recall(real, copies)
    assert p == 1.0 and r > 0.97                   # verbatim copies: precise, and cover nearly all
    p, r = precision_recall(real, real[:10].repeat(40, 1))
    assert p == 1.0 and r < 0.2                    # collapse onto ten emojis: precise, no recall
    p, r = precision_recall(real, torch.randn(400, 8, generator=g) + 10)
    assert p == 0.0 and r == 0.0                   # far away


def test_recall_on_sets_of_256_and_coverage():
    """A model that draws every real point, each slightly off and nearly the same way every time (as a
    conditional model does): with 5 samples a point, one set of 555 puts every k=3 ball among one point's own
    drawings, missing the real point beside them; sets of 256 (2-3 a point) keep the balls wide."""
    g = torch.Generator().manual_seed(0)
    real = torch.randn(111, 8, generator=g) * 3
    offset = torch.randn(111, 8, generator=g) * 0.3                        # each point drawn a bit off
    fake = (real + offset).repeat(5, 1) + torch.randn(555, 8, generator=g) * 0.01
    assert precision_recall(real, fake)[1] < 0.1                           # one set: balls collapse
    s, hits = precision_recall_sets(real, fake)
    assert s["pr_sets"] == 2 and s["pr_set_size"] == 256 and s["recall"] > 0.9 and s["precision"] == 1.0
    assert s["recall_min"] <= s["recall"] <= s["recall_max"]
    assert coverage(real, fake) == 1.0                                     # every point has a drawing near it
    assert coverage(real, fake[:1].repeat(100, 1)) < 0.1                   # a collapse covers its neighbours only
    assert hits.shape == (111,) and hits.max() == 2 and s["recall_missed"] == int((hits == 0).sum()) <= 11
    small, small_hits = precision_recall_sets(real, fake[:100])             # fewer than 256: one set of all
    assert small["pr_sets"] == 1 and small["pr_set_size"] == 100
    assert (small["precision"], small["recall"]) == precision_recall(real, fake[:100])
    assert small["recall_missed"] == int((small_hits == 0).sum()) and small_hits.max() == 1
    # the emojis a model misses, by name: draw only the first 50 points, then points 50.. are all missed
    part, part_hits = precision_recall_sets(real, (real[:50] + offset[:50]).repeat(6, 1)[:256])
    assert part_hits[50:].sum() == 0 and part["recall_missed"] >= 61


def test_ssim_matrix_matches_torchmetrics():
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(5, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)
    b[0] = a[2]
    m = ssim_matrix(a, b)
    ref = torch.stack([ssim(a, b[j:j + 1].expand_as(a), data_range=1.0, reduction="none") for j in range(4)], 1)
    assert torch.allclose(m, ref, atol=1e-4)
    assert abs(float(m[2, 0]) - 1.0) < 1e-5
    best, arg = nearest_ssim(a[2:3] * 2 - 1, b * 2 - 1)
    assert int(arg[0]) == 0 and abs(float(best[0]) - 1) < 1e-5


def test_nearest_ssim_compares_rgba_composited():
    g = torch.Generator().manual_seed(1)
    rgb = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    alpha = torch.ones(1, 1, 32, 32)
    a = torch.cat([rgb[:1], alpha], 1)
    b = torch.cat([rgb[1:], alpha], 1)
    best, _ = nearest_ssim(a, b)                   # the shared opaque alpha adds nothing
    plain, _ = nearest_ssim(rgb[:1], rgb[1:])
    assert abs(float(best[0]) - float(plain[0])) < 1e-5
    clear = torch.cat([rgb[:1], -alpha], 1)        # fully transparent: black once composited
    best, _ = nearest_ssim(clear, torch.cat([-torch.ones(1, 3, 32, 32), -alpha], 1))
    assert float(best[0]) > 0.999


def test_edge_and_noise_statistics():
    flat = np.full((4, 32, 32, 3), 0.5)
    stripes = flat.copy()
    stripes[:, :, ::4] = 1.0
    assert edge_strength(flat).max() == 0 and edge_strength(stripes).min() > 0.05
    rng = np.random.default_rng(0)
    noisy = np.clip(flat + rng.normal(0, 0.1, flat.shape), 0, 1)
    assert noise_energy(flat).max() == 0 and noise_energy(noisy).min() > 0.005


@pytest.fixture(scope="module")
def real_images(tmp_path_factory):
    from emojigan.data import build_dataset, load_images

    p = build_dataset(tmp_path_factory.mktemp("ds") / "f32", "faces", 32, "black", progress=False)
    return load_images(p, 32, "black").images


def test_verbatim_generator_is_all_copies(real_images):
    from emojigan.features import load_feature_space

    space = load_feature_space("openmoji")
    drawn = torch.randint(0, len(real_images), (300,), generator=torch.Generator().manual_seed(1))
    fake = real_images[drawn]
    s, _ = compute_all(EvalData(real_images, fake, space(real_images), space(fake)),
                       ["kid", "precision_recall", "memorization", "image_stats"])
    assert s["copy_rate"] == 1.0 and s["ssim_nearest_mean"] > 0.999
    assert s["ssim_coverage"] == len(set(drawn.tolist())) / len(real_images) < 1   # the emojis drawn, no others
    assert s["recall"] > 0.9 and s["precision"] == 1.0
    assert abs(s["edge_ratio"] - 1) < 0.1 and abs(s["noise_ratio"] - 1) < 0.15
    assert s["kid"] < 0.05


def test_noise_generator_scores_badly(real_images):
    from emojigan.features import load_feature_space

    space = load_feature_space("openmoji")
    fake = torch.rand(120, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    s, _ = compute_all(EvalData(real_images, fake, space(real_images), space(fake)),
                       ["kid", "precision_recall", "memorization", "image_stats"])
    assert s["copy_rate"] == 0.0 and s["recall"] == 0.0 and s["noise_ratio"] > 3
    assert s["ssim_coverage"] < 0.5                # noise is nearest to a few emojis, not to each


def test_faint_alpha_counts_specks_in_a_transparent_background():
    """RGBA only: a copy of the renders reads 1; the same images with faint specks scattered over their
    transparent background read far more; RGB data has no such metric."""
    from emojigan.image_stats import faint_alpha

    g = torch.Generator().manual_seed(0)
    real = torch.full((8, 4, 32, 32), -1.0)
    real[:, :, 8:24, 8:24] = 1.0                      # an opaque square...
    real[:, 3, 7, 8:24] = -1 + 2 * 0.1                # ...with one anti-aliased row of alpha 0.1
    specks = real.clone()
    where = torch.rand(8, 32, 32, generator=g) < 0.05
    specks[:, 3][where & (real[:, 3] == -1)] = -1 + 2 * 0.15   # faint grey dots on the background
    same = compute_all(EvalData(real, real.clone(), torch.zeros(8, 2), torch.zeros(8, 2)), ["image_stats"])[0]
    dotted = compute_all(EvalData(real, specks, torch.zeros(8, 2), torch.zeros(8, 2)), ["image_stats"])[0]
    assert same["faint_alpha_ratio"] == 1.0 and abs(same["faint_alpha_real"] - 16 / 1024) < 1e-6
    assert dotted["faint_alpha_ratio"] > 3
    assert faint_alpha(specks).shape == (8,)
    rgb = compute_all(EvalData(real[:, :3], real[:, :3], torch.zeros(8, 2), torch.zeros(8, 2)), ["image_stats"])[0]
    assert "faint_alpha_ratio" not in rgb


def test_stray_fragments_count_tiny_detached_opaque_bits():
    """RGBA only: a face with a large detached part (a tear) has no stray fragment; the same face with two 2x2
    opaque dots beside it has two; the rate is the share of images with any, and the report shows it beside the
    renders' own rate."""
    from emojigan.image_stats import stray_fragments

    real = torch.full((4, 4, 64, 64), -1.0)
    real[:, :, 10:50, 10:50] = 1.0                      # the face
    real[:, :, 52:58, 30:36] = 1.0                      # a detached 36-pixel tear: a feature, not a fragment
    broken = real.clone()
    broken[:2, :, 2:4, 2:4] = 1.0                       # two 2x2 bits of stray outline on half the images
    broken[:2, :, 60:62, 5:7] = 1.0
    broken[:2, 3, 5, 55] = 0.0                          # alpha 0.5 is not opaque: not a fragment
    assert stray_fragments(real).tolist() == [0, 0, 0, 0]
    assert stray_fragments(broken).tolist() == [2, 2, 0, 0]
    small = torch.nn.functional.interpolate(broken, size=32, mode="nearest")   # 1x1 bits at 32 px still count
    assert stray_fragments(small).tolist() == [2, 2, 0, 0]
    s = compute_all(EvalData(real, broken, torch.zeros(4, 2), torch.zeros(4, 2)), ["image_stats"])[0]
    assert s["stray_fragment_rate"] == 0.5 and s["stray_fragment_rate_real"] == 0.0 and s["stray_fragments"] == 1.0
    rgb = compute_all(EvalData(real[:, :3], real[:, :3], torch.zeros(4, 2), torch.zeros(4, 2)), ["image_stats"])[0]
    assert "stray_fragment_rate" not in rgb


def test_mottled_fill_counts_blotchy_texture_inside_the_emoji_not_outlines_or_background():
    """A flat yellow disc with a black outline has no mottled pixel (its outline's windows are far above 0.08); the
    same disc with a faint colour blotch texture has most of its interior mottled; transparent pixels never count;
    an RGB image counts all its pixels; the report shows the renders' share beside the samples'."""
    from emojigan.image_stats import fill_interior, local_std, mottled_fill

    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    r = ((yy - 32) ** 2 + (xx - 32) ** 2).sqrt()
    face = torch.full((2, 4, 64, 64), -1.0)
    face[:, 0:2][:, :, r < 26] = 0.9                     # yellow fill (red and green high, blue low)
    face[:, 2][:, r < 26] = -0.7
    face[:, 3][:, r < 26] = 1.0
    face[:, :3][:, :, (r >= 23) & (r < 26)] = -1.0      # a black outline, 3 px wide
    assert mottled_fill(face).tolist() == [0.0, 0.0]
    gen = torch.Generator().manual_seed(0)
    blotch = torch.nn.functional.interpolate(torch.randn(2, 3, 16, 16, generator=gen), size=64, mode="bilinear")
    mottled = face.clone()
    mottled[:, :3] += 0.12 * blotch * (r < 22)          # a 4-px blotch texture on the fill only
    share = mottled_fill(mottled)
    assert (share > 0.5).all()
    inner = fill_interior(mottled)
    assert inner.shape == (2, 1, 64, 64) and not inner[:, :, 0, 0].any() and inner[:, :, 32, 32].all()
    assert (local_std((face[:, :3] + 1) / 2)[:, :, 32, 32] == 0).all()
    assert (local_std((face[:, :3] + 1) / 2)[:, :, 32, 9] > 0.08).all()   # a window across the outline
    hidden = mottled.clone()
    hidden[:, 3] = -1.0                                 # all transparent: no interior, nothing counts
    assert mottled_fill(hidden).tolist() == [0.0, 0.0]
    assert fill_interior(mottled[:, :3]).all()          # RGB: every pixel is inside
    s = compute_all(EvalData(face, mottled, torch.zeros(2, 2), torch.zeros(2, 2)), ["image_stats"])[0]
    assert s["mottled_fill_real"] == 0.0 and s["mottled_fill"] == pytest.approx(float(share.mean()))
    # the flat disc has no 3x3-median residual: the ratio is 1 for the disc itself, large for the blotched one,
    # and no division by zero
    assert s["noise_energy_real"] == 0 and s["noise_ratio"] > 1e3
    same = compute_all(EvalData(face, face.clone(), torch.zeros(2, 2), torch.zeros(2, 2)), ["image_stats"])[0]
    assert same["noise_ratio"] == 1.0
