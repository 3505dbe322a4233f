"""The studio's HTTP API against a running `emojigan serve`: what each endpoint returns, 20 clients at once, and a
4xx with a JSON message for every bad parameter, after which the server still serves."""
from __future__ import annotations

import io
import json
import math
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from emojigan.data.render import render_emoji
from tests.conftest import run_cli


def get(base: str, path: str, **params) -> tuple[int, str, bytes]:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def post_image(base: str, data: bytes, model: str, filename: str = "upload.png") -> tuple[int, bytes]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{base}/api/encode", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def png(body: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(body))
    im.load()
    return im


def test_models_lists_each_model_with_its_kind_labels_and_size(studio):
    status, kind, body = get(studio, "/api/models")
    assert status == 200 and kind.startswith("application/json")
    models = {m["name"]: m for m in json.loads(body)["models"]}
    assert models["faces64"]["kind"] == "unconditional" and models["faces64"]["size"] == 64
    assert models["faces64"]["members"] == 3 and models["faces64"]["labels"] == []
    assert models["cond128"]["kind"] == "conditional" and models["cond128"]["size"] == 128
    assert len(models["cond128"]["labels"]) == 120 and "crying cat" in models["cond128"]["labels"]
    assert models["text"]["kind"] == "text" and models["text"]["prompts"] and len(models["text"]["labels"]) == 111


def test_twenty_clients_at_once_each_get_a_png_of_the_count_and_size_they_asked(studio):
    asks = [("faces64" if i % 3 else "cond128", i, 1 + (i * 7) % 16) for i in range(20)]

    def one(ask):
        model, seed, n = ask
        return ask, get(studio, "/api/generate", model=model, seed=seed, n=n)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, asks))
    for (model, seed, n), (status, kind, body) in answers:
        assert status == 200 and kind == "image/png", body[:200]
        side = 128 if model == "cond128" else 64
        im = png(body)
        assert im.mode == "RGBA" and im.size == (min(n, 8) * side, math.ceil(n / 8) * side), (model, n, im.size)
    # the same seeds give the same images, whoever else asked at the same time
    alone = png(get(studio, "/api/generate", model="faces64", seed=1, n=8)[2])
    assert np.array_equal(np.asarray(alone), np.asarray(png(answers[1][1][2])))


@pytest.mark.parametrize("size", [64, 128, 256])
def test_one_emoji_keeps_the_models_own_alpha_at_every_size(studio, size):
    status, kind, body = get(studio, "/api/emoji", model="cond128", seed=3, size=size, label="grinning face")
    assert status == 200 and kind == "image/png"
    im = png(body)
    assert im.mode == "RGBA" and im.size == (size, size)
    a = np.asarray(im)
    alpha, dark = a[..., 3], a[..., :3].max(axis=2) < 60
    assert alpha.min() == 0 and alpha.max() == 255                      # a transparent background, an opaque emoji
    assert (dark & (alpha > 200)).sum() > 2 * size                      # opaque black outlines (a colour key erases them)


def test_prompts_interpolation_and_encoding(studio):
    status, _, body = get(studio, "/api/generate", model="text", prompt="laughing so hard I cry", n=4, seed=2)
    assert status == 200 and png(body).size == (4 * 32, 32)
    status, _, body = get(studio, "/api/interpolate", model="cond128", start="crying cat", end="grinning face", steps=5)
    assert status == 200 and png(body).size == (5 * 128, 128)
    status, kind, body = get(studio, "/api/interpolate", model="faces64", start="seed:0", end="seed:3", steps=4,
                             format="gif")
    gif = Image.open(io.BytesIO(body))
    assert status == 200 and kind == "image/gif" and gif.n_frames == 6     # there and back: 4 + 2
    buf = io.BytesIO()
    render_emoji("1F600", 128, "transparent").save(buf, format="PNG")
    status, body = post_image(studio, buf.getvalue(), "cond128")
    assert status == 200, body[:300]
    out = json.loads(body)
    assert out["ssim"] > 0.8 and out["nearest"]["name"] == "grinning face" and out["nearest"]["ssim"] > 0.8
    assert png(__import__("base64").b64decode(out["reconstruction"].split(",", 1)[1])).size == (128, 128)
    assert len(out["edits"]) >= 2 and all(png(__import__("base64").b64decode(e["image"].split(",", 1)[1])).size
                                          == (5 * 128, 128) for e in out["edits"])


BAD = [
    ("/api/generate", {"model": "nope"}, 404, "unknown model 'nope'"),
    ("/api/generate", {"model": "faces64", "seed": "-1"}, 400, "seed -1 is out of range"),
    ("/api/generate", {"model": "faces64", "seed": "abc"}, 400, "seed 'abc' is not a whole number"),
    ("/api/generate", {"model": "faces64", "n": "100000"}, 400, "n 100000 is out of range"),
    ("/api/generate", {"model": "faces64", "n": "0"}, 400, "n 0 is out of range"),
    ("/api/generate", {"model": "faces64", "label": "crying cat"}, 400, "unconditional"),
    ("/api/generate", {"model": "cond128", "label": "qqqq"}, 400, "unknown label 'qqqq'"),
    ("/api/generate", {"model": "cond128", "prompt": "a cat"}, 400, "needs a text model"),
    ("/api/generate", {"model": "text", "prompt": "a" * 20 + " cat" * 60}, 400, "at most 200"),
    ("/api/generate", {"model": "text", "prompt": "12345 !!!"}, 400, "has no words"),
    ("/api/generate", {"model": "text", "prompt": "qwxz vbnk"}, 400, "matches nothing"),
    ("/api/emoji", {"model": "faces64", "size": "512"}, 400, "size 512 is not offered"),
    ("/api/emoji", {"model": "faces64", "size": "1e9"}, 400, "not a whole number"),
    ("/api/interpolate", {"model": "faces64", "start": "seed:0", "end": "/etc/passwd"}, 400, "not files"),
    ("/api/interpolate", {"model": "faces64", "start": "seed:0", "end": "code:x.npz:0"}, 400, "not files"),
    ("/api/interpolate", {"model": "faces64", "start": "seed:0", "end": "seed:3", "steps": "1000"}, 400, "steps 1000"),
    ("/api/interpolate", {"model": "faces64", "start": "seed:0", "end": "seed:1"}, 400, "different generators"),
    ("/api/interpolate", {"model": "faces64", "start": "seed:0", "end": "seed:3", "format": "bmp"}, 400, "format"),
    ("/api/interpolate", {"model": "faces64", "start": "", "end": "seed:3"}, 400, "give both ends"),
    ("/api/interpolate", {"model": "faces64", "start": "seed:" + "9" * 30, "end": "seed:3"}, 400, "at most 2147483647"),
    ("/api/interpolate", {"model": "cond128", "start": "crying cat", "end": "zzqqx"}, 400, "unknown OpenMoji emoji"),
]


@pytest.mark.parametrize("path, params, status, message", BAD, ids=[f"{p}-{m}" for p, _, _, m in BAD])
def test_every_bad_parameter_gets_a_4xx_with_a_json_message(studio, path, params, status, message):
    got, kind, body = get(studio, path, **params)
    assert got == status and kind.startswith("application/json"), body[:300]
    assert message in json.loads(body)["error"]


def test_bad_uploads_are_refused_and_the_server_keeps_serving(studio):
    status, body = post_image(studio, b"this is not an image", "faces64")
    assert status == 415 and "not a readable image" in json.loads(body)["error"]
    status, body = post_image(studio, b"", "faces64")
    assert status == 400 and "empty" in json.loads(body)["error"]
    status, body = post_image(studio, b"\x89PNG" + bytes(5 * 2**20), "faces64")
    assert status == 413 and "over 4 MB" in json.loads(body)["error"]
    huge = io.BytesIO()
    Image.new("RGB", (5000, 10)).save(huge, format="PNG")
    status, body = post_image(studio, huge.getvalue(), "faces64")
    assert status == 400 and "at most 4096" in json.loads(body)["error"]
    assert get(studio, "/api/models")[0] == 200
    assert get(studio, "/api/generate", model="faces64", n=2)[0] == 200


def test_serve_refuses_a_taken_port_and_an_unknown_model_in_one_line(studio):
    port = urllib.parse.urlsplit(studio).port
    p = run_cli("serve", "--model", "faces64", "--port", port, check=False)
    assert p.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in p.stderr and "Traceback" not in p.stderr
    p = run_cli("serve", "--model", "nope", "--port", port + 1 if port < 65535 else 1, check=False)
    assert p.returncode == 2 and "no shipped model named 'nope'" in p.stderr
