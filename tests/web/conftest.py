"""The studio under test: `emojigan serve` as a user starts it, in its own process, on a free port."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def studio(text_run, tmp_path_factory):
    """The base URL of a studio serving faces64 (a mixture), cond128 (128 px, 120 labels) and a tiny text model."""
    port = free_port()
    log = tmp_path_factory.mktemp("studio") / "serve.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "emojigan", "serve", "--model", "faces64", "--model", "cond128",
                                 str(text_run), "--port", str(port)], stdout=f, stderr=subprocess.STDOUT,
                                env={**os.environ, "OMP_NUM_THREADS": "2"})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise AssertionError(f"emojigan serve exited {proc.returncode}:\n{Path(log).read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/models", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError(f"emojigan serve did not answer in 120 s:\n{Path(log).read_text()[-3000:]}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
