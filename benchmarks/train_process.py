#!/usr/bin/env python3
"""Whole-process timing, start-up included, from the user's side:

    emojigan train --preset dcgan64 --epochs 20      (140 steps)
    the reference loop of train_throughput.py for the same 140 steps

alternated over rounds, plus the peak resident memory (RSS) of dcgan64 training at 64x64 and 128x128.

    python benchmarks/train_process.py [--rounds 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import describe, header  # noqa: E402


def run(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - t, usage.ru_maxrss / 1024


def main() -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    print(header(describe(torch.device("cpu"))))
    emojigan = [sys.executable, "-m", "emojigan"]
    results: dict = {"rounds": []}
    with tempfile.TemporaryDirectory() as tmp:
        env_cache = os.environ.setdefault("EMOJIGAN_CACHE", str(Path(tmp) / "cache"))
        subprocess.run(emojigan + ["data", "build", "--size", "64", "--quiet",
                                   "--out", str(Path(env_cache) / "datasets" / "faces-64-black")], check=True,
                       stdout=subprocess.DEVNULL)
        for r in range(a.rounds):
            out = Path(tmp) / f"run{r}"
            t_proj, rss64 = run(emojigan + ["train", "--preset", "dcgan64", "--epochs", "20", "--quiet", "--out",
                                            str(out)])
            t_ref, rss_ref = run([sys.executable, str(HERE / "train_throughput.py"), "--reference-steps", "140",
                                  "--batch-sizes", "16", "--device", "cpu"])
            results["rounds"].append({"emojigan_train_s": t_proj, "reference_s": t_ref})
            print(f"round {r}: emojigan train --epochs 20: {t_proj:.1f} s   reference, 140 steps: {t_ref:.1f} s")
        t_proj = statistics.median(x["emojigan_train_s"] for x in results["rounds"])
        t_ref = statistics.median(x["reference_s"] for x in results["rounds"])
        print(f"median: emojigan {t_proj:.1f} s, reference {t_ref:.1f} s, ratio {t_ref / t_proj:.2f}x")
        _, rss128 = run(emojigan + ["train", "--preset", "dcgan64", "--size", "128", "--epochs", "2", "--quiet",
                                    "--out", str(Path(tmp) / "run128")])
        print(f"peak RSS of dcgan64 training: 64x64 {rss64:.0f} MiB, 128x128 {rss128:.0f} MiB "
              f"(reference loop at 64x64: {rss_ref:.0f} MiB)")
        results.update({"median_emojigan_s": t_proj, "median_reference_s": t_ref, "rss_mib_64": rss64,
                        "rss_mib_128": rss128, "rss_mib_reference_64": rss_ref})
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
