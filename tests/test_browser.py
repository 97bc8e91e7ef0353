"""A real browser draws on the page: Playwright driving Debian's Chromium against the app in this process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emnist_core.data.labels import display_name

from conftest import served

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# A "7", as offsets from the canvas centre in screen pixels: one stroke, two segments.
SEVEN = [(-80, -100), (80, -100), (0, 120)]
TIMEOUT_MS = 20_000
STEPS = 6  # mouse moves per segment: enough for a smooth line


@pytest.fixture(scope="module")
def url(request):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt install chromium)")
    demo = request.getfixturevalue("demo")  # only once a browser is there to use it
    with served(demo) as url:
        yield url


@pytest.fixture(scope="module")
def page(url):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        yield page
        browser.close()


def stroke(page, points):
    """Press, drag through ``points`` (offsets from the canvas centre) and release, like a hand."""
    box = page.locator("#sketchpad canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx + points[0][0], cy + points[0][1])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        page.mouse.move(cx + x1, cy + y1, steps=STEPS)
    page.mouse.up()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SKETCH_LAB_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, path: Path):
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_a_drawn_stroke_gets_both_predictions(page, artifacts):
    page.locator("#sketchpad button.highlight").wait_for()  # the brush is selected without a click
    stroke(page, SEVEN)
    for side in ("#mlp-label", "#cnn-label"):
        top = page.locator(f"{side} [data-testid='label-output-value']")
        top.wait_for()
        assert top.inner_text().strip() == "7"
        assert page.locator(f"{side} .confidence-set").count() == 5
    sentence = page.locator("#verdict")
    assert "read" in sentence.inner_text()
    assert page.locator("img[alt='the 28x28 image the models see']").count() == 1
    screenshot(page, artifacts / "draw-tab.png")


def test_clear_says_empty_and_the_brush_stays_ready(page):
    page.locator("#sketchpad button[aria-label='Clear canvas']").click()
    page.get_by_text("The canvas is empty").wait_for()
    page.locator("#sketchpad button.highlight").wait_for()
    stroke(page, SEVEN)
    page.locator("#mlp-label [data-testid='label-output-value']").wait_for()
    page.get_by_text("The canvas is empty").wait_for(state="detached")


def test_confusions_tab_shows_the_report(page, artifacts):
    page.get_by_role("tab", name="Confusions").click()
    page.get_by_text("test images: accuracy").wait_for()
    page.get_by_role("button", name=f"{display_name('O')} -> {display_name('0')}", exact=True).click()
    page.get_by_text("read as").first.wait_for()  # images when the data is here, else where to get them
    screenshot(page, artifacts / "confusions-tab.png")
