"""What the browser tests share: Debian's Chromium driven by Playwright, the screen sizes a class uses, and a person's
hand on the page's drawing pad (a mouse on a desktop, a finger on a phone)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
PAD = "#sketchpad"  # the Draw tab's pad
# A "7" as offsets from the pad's centre, in pixels of a pad 480 px wide (scaled to the one on screen).
SEVEN = [(-80, -100), (80, -100), (0, 120)]
BAR = [(-60, 0), (60, 0)]  # a bar across the middle
SCALE_TO = 480
STROKE_STEPS = 6  # pointer moves per segment: a smooth line


def chromium():
    """Playwright's sync API, or the test skipped where Chromium or Playwright is not installed."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt install chromium)")
    return sync_api


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_page(browser, url: str, size: str = "desktop", timeout_ms: int = 20_000):
    """A fresh page of the app at ``size`` in a context of its own, loaded, its pad ready; close it with
    ``page.context.close()``."""
    page = browser.new_context(**SIZES[size]).new_page()
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    pad_ready(page)
    return page


def pad_ready(page, pad: str = PAD):
    """Wait until the pad at ``pad`` is on the page and its script listens."""
    page.locator(f"{pad} canvas.pad-canvas[data-ready]").wait_for()


def _path(page, pad: str, points, scale_to: int | None):
    pad_ready(page, pad)
    canvas = page.locator(f"{pad} canvas.pad-canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    scale = min(box["width"], box["height"]) / scale_to if scale_to else 1
    return [(cx + scale * x, cy + scale * y) for x, y in points]


def draw_stroke(page, points, pad: str = PAD, steps: int = STROKE_STEPS, scale_to: int | None = SCALE_TO):
    """With the mouse: press on the pad at ``pad``, drag through ``points`` (offsets from its centre, in pixels of a
    pad ``scale_to`` wide), and release."""
    path = _path(page, pad, points, scale_to)
    page.mouse.move(*path[0])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()


def touch_stroke(page, points, pad: str = PAD, steps: int = STROKE_STEPS, scale_to: int | None = SCALE_TO):
    """With a finger, as a phone's touch screen sends it (Chromium's own touch events, through its DevTools
    protocol): touch the pad, slide through ``points``, lift."""
    path = _path(page, pad, points, scale_to)
    cdp = page.context.new_cdp_session(page)
    touch = lambda kind, x=None, y=None: cdp.send(
        "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [] if x is None else [{"x": x, "y": y}]}
    )
    touch("touchStart", *path[0])
    for (x0, y0), (x1, y1) in itertools.pairwise(path):
        for k in range(1, steps + 1):
            touch("touchMove", x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
    touch("touchEnd")
    cdp.detach()


def open_tab(page, name: str):
    """Click the tab ``name`` as a person does: Gradio keeps a hidden copy of the tab bar to measure it, and on a
    narrow screen folds tabs that do not fit into the bar's overflow menu."""
    page.get_by_role("tablist").locator("visible=true").first.wait_for()  # the page has drawn its tab bar
    tab = page.get_by_role("tab", name=name, exact=True).locator("visible=true")
    if tab.count():
        tab.first.click()
        return
    page.locator(".overflow-menu > button").first.click()
    page.locator(".overflow-dropdown button", has_text=name).first.click()


def screenshot(page, path: Path):
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def settle(page, quiet_ms: int = 1_000, timeout_ms: int = 20_000):
    """Wait until the page has sent nothing for ``quiet_ms``: what it does on load is done."""
    sent = []
    heard = lambda request: sent.append(request)
    page.on("request", heard)
    waited, seen = 0, -1
    while waited < timeout_ms and seen != len(sent):
        seen = len(sent)
        page.wait_for_timeout(quiet_ms)
        waited += quiet_ms
    page.remove_listener("request", heard)


def no_sideways_scroll(page):
    """The page fits the screen's width: nothing sticks out to the right."""
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner + 1, f"the page is {width} px wide on a {inner} px screen"
