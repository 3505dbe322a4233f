"""The shipped generators draw what they drew when they were shipped: a few seeds at fp32 against stored pixels.

The fixture (tests/fixtures/pinned_samples.npz) holds uint8 RGBA images drawn with `--precision fp32`; a refactor of
the models, the export format or the sampler that changes a shipped model's images fails here. The tolerance allows
for float rounding across CPUs (a different convolution kernel), not for a different image."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import emojigan
from emojigan import images

FIXTURE = Path(__file__).parent / "fixtures" / "pinned_samples.npz"


@pytest.mark.parametrize("name", ["faces64", "cond128", "text64"])
def test_shipped_model_draws_pinned_images(name):
    want = np.load(FIXTURE)
    seeds = want[f"{name}_seeds"].tolist()
    got = images.to_uint8(emojigan.load_generator(name, precision="fp32").sample_tensor(seeds=seeds)).numpy()
    ref = want[name]
    assert got.shape == ref.shape
    diff = np.abs(got.astype(np.int16) - ref.astype(np.int16))
    assert diff.mean() < 0.05, f"{name}: mean difference {diff.mean():.3f}/255 from the pinned images"
    assert (diff > 2).mean() < 1e-3, f"{name}: {(diff > 2).sum()} pixel channels differ by more than 2/255"
