"""One person drawing in a real browser: how long after the pen lifts does the answer show on the page?

Starts ``python app.py`` and ``bench/floor_app.py`` (the same pad, handlers that do nothing), opens each in Debian's
Chromium (headless, no GPU, 1280x900) and draws ``--strokes`` strokes with the mouse, clearing the pad before each,
so that every stroke changes what the page shows. The page itself measures each: from the ``pointerup`` that ends
the stroke to the moment the answer's text changes on the page (a MutationObserver on the verdict), both on the
page's own clock. The two pages take turns, stroke by stroke, so that other work on the machine slows both alike.

Prints, for the app and the floor: median, p95 and worst in ms, and the app's median less the floor's (what the app
adds to Gradio's own round trip). Target: the app's median at most 150 ms on this machine.

    python bench/bench_answer.py [--strokes 30]

Needs /usr/bin/chromium and Python Playwright (never `playwright install` here).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_class import start
from bench_jobs import wait_for_data

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 150
ANSWER_TIMEOUT_MS = 10_000
# A seven and a bar, as offsets from the pad's centre in pixels: every other stroke reads differently.
SHAPES = ([(-80, -100), (80, -100), (0, 120)], [(0, -110), (0, 110)])

# Installed once per page: each pointerup on the pad starts a clock, stopped by the first change of the verdict that
# shows an answer (``answered``: the page's own loading marks and timers are no answer).
WATCH = """([pad, verdict, answered]) => {
  window.lags = [];
  const box = document.querySelector(verdict), isAnswer = new Function('box', 'before', answered);
  let lifted = null, before = null;
  document.querySelector(pad).addEventListener('pointerup', () => {
    lifted = performance.now(); before = box.innerText;
  }, true);
  new MutationObserver(() => {
    if (lifted !== null && isAnswer(box, before)) { window.lags.push(performance.now() - lifted); lifted = null; }
  }).observe(box, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
# When the verdict shows an answer: the app's big answer (a heading; the cleared pad's message has none), the
# floor's counter (a new "ok N").
APP_ANSWERED = "return box.querySelector('h2') !== null && box.innerText !== before;"
FLOOR_ANSWERED = "return /ok \\d+/.test(box.innerText) && box.innerText !== before;"


class Pad:
    """One page in Chromium: its pad, how it is cleared, where its answer shows."""

    def __init__(self, browser, url: str, pad: str, clear: str | None, answered: str):
        self.page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        self.page.goto(url)
        self.pad, self.clear = pad, clear
        canvas = self.page.locator(f"{pad} canvas.pad-canvas[data-ready]")
        canvas.wait_for(timeout=60_000)
        self.page.evaluate(WATCH, [f"{pad} canvas.pad-canvas", "#verdict", answered])

    def stroke(self, points) -> float:
        """Clear, draw one stroke, and wait for its answer: -> ms from the pen lifted to the answer shown."""
        before = self.page.evaluate("window.lags.length")
        clear = self.page.get_by_role("button", name=self.clear) if self.clear else None
        if clear is not None and clear.is_enabled():  # disabled on an empty pad
            clear.click()
            self.page.wait_for_timeout(300)  # the empty pad's own answer, which no pointerup started
            before = self.page.evaluate("window.lags.length")
        box = self.page.locator(f"{self.pad} canvas.pad-canvas").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        scale = min(box["width"], box["height"]) / 480
        path = [(cx + scale * x, cy + scale * y) for x, y in points]
        mouse = self.page.mouse
        mouse.move(*path[0])
        mouse.down()
        for x, y in path[1:]:
            mouse.move(x, y, steps=6)
        mouse.up()
        self.page.wait_for_function(f"window.lags.length > {before}", timeout=ANSWER_TIMEOUT_MS)
        return self.page.evaluate("window.lags[window.lags.length - 1]")


def summary(lags: list[float]) -> str:
    ordered = sorted(lags)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(lags):6.0f} ms · p95 {p95:6.0f} ms · worst {max(lags):6.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench-answer-"))
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "EMNIST_MODELS_DIR": str(folder / "models"),
        "EMNIST_CORRECTIONS_DIR": str(folder / "corrections"),
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
    }
    app, app_url = start([sys.executable, "app.py"], env)
    floor, floor_url = start([sys.executable, "bench/floor_app.py"], env)
    try:
        wait_for_data(app_url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
            )
            pads = {
                "app": Pad(browser, app_url, "#sketchpad", "Clear the pad", APP_ANSWERED),
                "floor": Pad(browser, floor_url, "#draw-pad", None, FLOOR_ANSWERED),
            }
            for pad in pads.values():  # warm up: the first answer loads what the rest reuse
                pad.stroke(SHAPES[0])
            lags = {name: [] for name in pads}
            for k in range(args.strokes):
                for name, pad in pads.items():
                    lags[name].append(pad.stroke(SHAPES[k % 2]))
            browser.close()
    finally:
        for process in (app, floor):
            process.kill()
            process.wait()
    print(f"{args.strokes} strokes each, pen lifted -> answer shown, Chromium headless without a GPU, 1280x900")
    for name, found in lags.items():
        print(f"  {name:5}  {summary(found)}")
    added = statistics.median(lags["app"]) - statistics.median(lags["floor"])
    verdict = "within" if statistics.median(lags["app"]) <= TARGET_MS else "over"
    print(f"  the app adds {added:.0f} ms to the floor's median; its median is {verdict} the {TARGET_MS} ms target")


if __name__ == "__main__":
    main()
