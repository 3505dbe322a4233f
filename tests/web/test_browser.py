"""The studio in a real headless browser: Debian's chromium driven by playwright (never `playwright install`). The
page loads, generates, takes a label and a prompt, moves the interpolation slider, encodes an upload, downloads a
transparent PNG and shows each bad input's message; any request to another host fails the test.

EMOJIGAN_SCREENSHOT=docs/images/studio.png also saves the screenshot the README shows."""
from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emojigan.data.render import render_emoji

CHROMIUM = os.environ.get("EMOJIGAN_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright comes with emojigan[dev]")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture()
def page(browser, studio):
    """A fresh page on the studio; every request to a host other than the studio's is aborted and recorded."""
    own = urllib.parse.urlsplit(studio).netloc
    outside: list[str] = []
    # bypass_csp: playwright evaluates its waits as strings, which the page's own policy forbids
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900}, bypass_csp=True)

    def route(r):
        netloc = urllib.parse.urlsplit(r.request.url).netloc
        if r.request.url.startswith(("data:", "blob:")) or netloc == own:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(studio)
    pg.wait_for_function("document.getElementById('grid').naturalWidth > 0")
    yield pg
    context.close()
    assert not outside, f"the page asked another host: {outside}"
    assert not errors, f"script errors on the page: {errors}"


def grid_width(pg) -> int:
    return pg.evaluate("document.getElementById('grid').naturalWidth")


def wait_for_grid(pg, width: int) -> None:
    try:
        pg.wait_for_function(f"document.getElementById('grid').naturalWidth === {width} || "
                             f"!document.getElementById('error').hidden", timeout=60_000)
    except Exception:
        raise AssertionError(f"grid {grid_width(pg)} px wide, not {width}; error: {pg.inner_text('#error')!r}") from None
    assert pg.is_hidden("#error"), pg.inner_text("#error")
    assert grid_width(pg) == width


def generate_with(pg, field: str, value: str, count: int, width: int) -> None:
    pg.fill(field, value)
    pg.fill("#count", str(count))
    pg.click("#generate")
    wait_for_grid(pg, width)


def test_generate_label_prompt_and_slider(page, tmp_path):
    pg = page
    assert pg.input_value("#model") == "faces64" and grid_width(pg) == 8 * 64     # 16 emojis, 8 a row
    pg.fill("#count", "4")
    pg.click("#generate")
    wait_for_grid(pg, 4 * 64)

    pg.select_option("#model", "cond128")
    wait_for_grid(pg, 4 * 128)
    assert pg.is_visible("#label") and not pg.is_visible("#prompt")
    options = pg.eval_on_selector_all("#labels option", "os => os.map(o => o.value)")
    assert len(options) == 120 and "crying cat" in options                     # the searchable label list
    generate_with(pg, "#label", "crying cat", 2, 2 * 128)                     # pick a label

    pg.select_option("#model", "text")
    pg.wait_for_selector("#prompt", state="visible")
    generate_with(pg, "#prompt", "laughing so hard I cry", 3, 3 * 32)          # type a prompt

    pg.select_option("#model", "cond128")
    pg.fill("#from", "crying cat")
    pg.fill("#to", "grinning face")
    pg.fill("#steps", "5")
    pg.click("#interpolate")
    pg.wait_for_selector("#slider:not([disabled])", timeout=60_000)
    assert pg.get_attribute("#slider", "max") == "4"
    first = pg.evaluate("document.getElementById('frame').toDataURL()")
    pg.fill("#slider", "4")                                                      # move the slider to the far end
    assert pg.get_attribute("#frame", "data-frame") == "4" and "frame 5 of 5" in pg.inner_text("#slider-value")
    assert pg.evaluate("document.getElementById('frame').toDataURL()") != first  # another picture



def test_upload_shows_reconstruction_nearest_and_edits(page, tmp_path):
    pg = page
    pg.select_option("#model", "cond128")
    wait_for_grid(pg, 8 * 128)
    upload = tmp_path / "grin.png"
    render_emoji("1F600", 160, "transparent").save(upload)
    pg.set_input_files("#upload", str(upload))
    pg.click("#encode")
    pg.wait_for_selector("#encode-result:not([hidden])", timeout=120_000)
    assert pg.get_attribute("#reconstruction", "src").startswith("data:image/png;base64,")
    assert pg.evaluate("document.getElementById('reconstruction').naturalWidth") == 128
    assert "grinning face" in pg.inner_text("#nearest-caption")
    assert pg.locator("#edits figure").count() >= 2
    pg.fill("#from", "crying cat")
    pg.fill("#to", "grinning face")
    pg.click("#interpolate")
    pg.wait_for_selector("#slider:not([disabled])", timeout=60_000)
    pg.fill("#slider", "3")

    shot = tmp_path / "studio.png"                                               # the README's picture
    pg.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] == 1400
    if os.environ.get("EMOJIGAN_SCREENSHOT"):
        shutil.copy(shot, os.environ["EMOJIGAN_SCREENSHOT"])


def test_downloaded_png_keeps_its_alpha(page, tmp_path):
    pg = page
    pg.select_option("#model", "cond128")
    wait_for_grid(pg, 8 * 128)
    box = pg.locator("#grid").bounding_box()
    cell = box["width"] / 8
    pg.mouse.click(box["x"] + 2.5 * cell, box["y"] + 0.5 * cell)                # the third emoji: seed 2
    assert "seed 2" in pg.inner_text("#picked")
    pg.select_option("#size", "256")
    with pg.expect_download() as info:
        pg.click("#download-emoji")
    path = tmp_path / "emoji.png"
    info.value.save_as(path)
    im = Image.open(path)
    a = np.asarray(im)
    assert im.mode == "RGBA" and im.size == (256, 256) and info.value.suggested_filename.endswith("-256.png")
    assert a[..., 3].min() == 0 and a[..., 3].max() == 255                      # transparent around, opaque inside
    assert ((a[..., :3].max(axis=2) < 60) & (a[..., 3] > 200)).sum() > 512     # with its black outline
    with pg.expect_download() as info:
        pg.click("#download-grid")
    info.value.save_as(tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size == (8 * 128, 2 * 128)


def test_every_bad_input_shows_its_message(page, tmp_path):
    pg = page

    def expect(button: str, message: str) -> None:
        pg.click(button)
        pg.wait_for_function(f"document.getElementById('error').textContent.includes({message!r})", timeout=60_000)
        assert pg.is_visible("#error")

    pg.fill("#seed", "-5")
    expect("#generate", "seed -5 is out of range")
    pg.fill("#seed", "0")
    pg.fill("#count", "500")
    expect("#generate", "n 500 is out of range")
    pg.fill("#count", "4")
    pg.select_option("#model", "cond128")
    wait_for_grid(pg, 4 * 128)
    pg.fill("#label", "not an emoji at all")
    expect("#generate", "unknown label")
    pg.select_option("#model", "text")
    wait_for_grid(pg, 4 * 32)
    pg.fill("#prompt", "a very sleepy face " * 15)
    expect("#generate", "at most 200")
    pg.fill("#prompt", "qwxz vbnk")
    expect("#generate", "matches nothing")
    pg.select_option("#model", "faces64")
    wait_for_grid(pg, 4 * 64)
    pg.fill("#from", "/etc/passwd")
    expect("#interpolate", "not files")
    pg.fill("#from", "seed:0")
    pg.fill("#to", "seed:1")
    expect("#interpolate", "different generators")
    bad = tmp_path / "not-an-image.png"
    bad.write_text("plain text")
    pg.set_input_files("#upload", str(bad))
    expect("#encode", "not a readable image")
    pg.fill("#seed", "1")                                                        # and it still serves
    pg.fill("#count", "2")
    pg.click("#generate")
    wait_for_grid(pg, 2 * 64)
    assert pg.is_hidden("#error")
