"""Latency of the studio: a 16-emoji grid (`GET /api/generate`) with 1 client and with 20 clients at once, against
a real `emojigan serve` started here. Prints the machine, p50/p95/max per load, and one JSON line.

    python benchmarks/studio_latency.py [--model faces64] [--requests 10] [--clients 1,20] [--workers 2]

Each client sends `--requests` requests one after another (different seeds); all clients start together.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(model: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "emojigan", "serve", "--model", model, "--port", str(port),
                             "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if proc.poll() is not None:
            sys.exit(f"emojigan serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(f"{base}/api/models", timeout=2).read()
            return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit("emojigan serve did not answer in 120 s")


def load(base: str, model: str, clients: int, requests: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    go = threading.Barrier(clients)

    def client(c: int) -> None:
        go.wait()
        for r in range(requests):
            t0 = time.perf_counter()
            body = urllib.request.urlopen(f"{base}/api/generate?model={model}&n=16&seed={1000 * c + 16 * r}",
                                          timeout=300).read()
            dt = time.perf_counter() - t0
            assert body[:4] == b"\x89PNG"
            with lock:
                latencies.append(dt)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--requests", type=int, default=10, help="requests per client")
    ap.add_argument("--clients", default="1,20", help="comma-separated client counts")
    ap.add_argument("--workers", type=int, default=2, help="emojigan serve --workers")
    a = ap.parse_args()
    print(describe(torch.device("cpu")))
    proc, base = start(a.model, a.workers)
    rows = {}
    try:
        load(base, a.model, 1, 3)  # warm-up: first calls allocate
        print(f"{a.model}, 16-emoji grid, emojigan serve --workers {a.workers}")
        print("| clients | requests | p50 (ms) | p95 (ms) | max (ms) | grids/s |")
        print("|---|---|---|---|---|---|")
        for clients in (int(c) for c in a.clients.split(",")):
            t0 = time.perf_counter()
            lat = np.array(load(base, a.model, clients, a.requests)) * 1000
            wall = time.perf_counter() - t0
            rows[clients] = {"p50_ms": round(float(np.percentile(lat, 50)), 1),
                             "p95_ms": round(float(np.percentile(lat, 95)), 1), "max_ms": round(float(lat.max()), 1),
                             "grids_per_s": round(len(lat) / wall, 1), "requests": len(lat)}
            r = rows[clients]
            print(f"| {clients} | {r['requests']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['grids_per_s']} |")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps({"model": a.model, "workers": a.workers, "loads": rows}))


if __name__ == "__main__":
    main()
