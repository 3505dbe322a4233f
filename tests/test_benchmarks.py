"""The speed benchmark runs end to end at tiny settings and writes a complete, consistent table (no timings
are asserted: the machines are noisy)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_throughput_compare_reference(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), "--compare-reference",
                        "--size", "32", "--batch-sizes", "4", "--steps", "1", "--rounds", "1",
                        "--variants", "fp32,eager", "--device", "cpu", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["matmul_peak_gflops"] > 0
    rows = {row["variant"]: row for row in res["train"]}
    assert set(rows) == {"reference (examples)", "project fp32", "project eager"}
    assert rows["reference (examples)"]["vs_reference"] == 1.0
    for row in rows.values():
        assert row["batch"] == 4 and row["img_per_s"] > 0 and row["gflop_per_step"] > 0
        # img/s and ms/step describe the same timing
        assert abs(row["img_per_s"] * row["ms_per_step"] / 1000 - 4) < 1e-6
    # same models; the project skips D's weight gradients in the G step, so a little less work per step
    # (36.4 vs 39.7 GFLOP at 64x64, batch 16)
    assert 0.85 < rows["project fp32"]["gflop_per_step"] / rows["reference (examples)"]["gflop_per_step"] < 1
    gen = {(g["n"], g["size"]): g for g in res["generate"]}
    assert set(gen) == {(64, 64), (16, 128)}
    for g in gen.values():
        assert g["plain_fp32_ms"] > 0 and g["project_ms"] > 0
        assert g["mean_abs_diff_255"] <= 2  # the bound for the fast generation path
    assert "vs ref" in r.stdout and "practical peak" in r.stdout


def test_gan_divergence_same_start_is_bit_identical_and_bad_steps_exit_2():
    script = str(ROOT / "benchmarks" / "gan_divergence.py")
    r = subprocess.run([sys.executable, script, "--steps", "2"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0] == "same start: max |G_a - G_b| after 2 steps = 0"  # the reference the drift is read against
    assert len(lines) == 3 and all("perturbed" in x for x in lines[1:])
    bad = subprocess.run([sys.executable, script, "--steps", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].endswith("--steps 0: train at least one step")


def test_studio_latency_answers_every_client():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "studio_latency.py"), "--clients", "1,3",
                        "--requests", "2"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(res["loads"]) == {"1", "3"} and res["loads"]["3"]["requests"] == 6     # 3 clients x 2 requests
    for row in res["loads"].values():
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
    assert "| clients | requests | p50 (ms)" in r.stdout
