"""Pointer lag on the sketchpad, in headless Chromium without a GPU (issue 11: "In a browser without GPU
acceleration each pointer move on the sketchpad takes 0.25-0.5 s").

Serves the app's page and some one-sketchpad pages (Gradio's bare ``gr.Sketchpad()``, the app's sketchpad
settings alone, and variations on them), opens each in Debian's Chromium with ``--disable-gpu`` at 1280x900,
and draws one warm-up stroke and then one measured stroke of ``--moves`` pointer moves; the pages take turns,
``--repeat`` times, and the least disturbed stroke of each (lowest median) is shown, with the spread of the
medians (other work on the machine slows some strokes). Per page it prints:

- move ms: how long each ``page.mouse.move`` takes, median and 90th percentile (Chromium acknowledges a
  move once its renderer has handled it, so back-to-back moves measure how many the page can take);
- frame ms: from a pointermove event to the animation frame after it, and to just after that frame
  (a message posted from the rAF callback), median and p90, as the page itself measures them;
- events: how many pointermove events reached the page (Chromium merges the moves that arrive within one
  frame), and how many frames were drawn during the stroke;
- long tasks: the count and total ms of main-thread tasks over 50 ms during the stroke (Long Tasks API).

It also prints what draws the canvas: PixiJS's renderer and the WebGL implementation Chromium gave it
(SwiftShader, a CPU rasteriser, when there is no GPU). The "dpr=1" pages only differ at --scale 2 (phones,
retina screens): PixiJS draws at window.devicePixelRatio, which they report as 1.

Measured on 2 shared CPU cores (Chromium 156, Gradio 6.31), best of 3: the app's page 197 ms per move at
scale 1 and 428 ms at scale 2 (the issue's 0.25-0.5 s); only the drawn area changes it (height 360: 114 / 245 ms,
height 300: 74 / 180 ms; at scale 2, dpr=1: 174 ms, dpr=1 with height 300: 75 ms); canvas_size,
fixed_canvas, brush, layers and transforms change nothing measurable. The app now draws its pad 340 px high
at one device pixel per CSS pixel (ui.page's SKETCHPAD_PX and ONE_DEVICE_PIXEL): 94 ms per move at scale 1 and
92 ms at scale 2, where the bare gr.Sketchpad() took 108 and 273 ms in the same run.

Usage: python bench/bench_sketchpad.py [--moves 40] [--scale 1] [--repeat 3] [--only app,bare,...]
Needs /usr/bin/chromium and Python Playwright (never `playwright install` here).
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import statistics
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000

# In the page: every pointermove while a button is down is timed to the next animation frame and to just
# after it; long tasks and frames are counted. window.__lag.reset() starts a measurement.
INSTRUMENT = """() => {
  const m = window.__lag = {moves: [], long: [], frames: 0, counting: false,
    reset() { this.moves = []; this.long = []; this.frames = 0; this.counting = true; },
    stop() { this.counting = false; }};
  new PerformanceObserver(list => { if (m.counting) list.getEntries().forEach(e => m.long.push(e.duration)); })
    .observe({type: 'longtask'});
  const tick = () => { if (m.counting) m.frames++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  document.addEventListener('pointermove', e => {
    if (!m.counting || !e.buttons) return;
    const t0 = e.timeStamp;
    requestAnimationFrame(() => {
      const frame = performance.now() - t0, channel = new MessageChannel();
      channel.port1.onmessage = () => m.moves.push([frame, performance.now() - t0]);
      channel.port2.postMessage(0);
    });
  }, true);
}"""
RENDERER = """() => {
  const pixi = globalThis.__PIXI_APP__?.renderer;
  const probe = () => document.createElement('canvas');
  const gl = probe().getContext('webgl2') || probe().getContext('webgl');
  const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return {pixi: pixi ? `${pixi.name || pixi.type} at resolution ${pixi.resolution}` : 'unknown',
          webgl: gl ? (info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : 'yes') : 'none',
          canvas: (c => c ? `${c.width}x${c.height} px for ${c.clientWidth}x${c.clientHeight} css px` : '?')(
            document.querySelector('#sketchpad canvas'))};
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(demo, **options):
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def app_page():
    import app

    lab = app.Lab()
    lab.tests.dataset(EMNIST, wait=120)  # the test images load in a thread: not while measuring
    return app.build_demo(lab), app.LAUNCH_OPTIONS


# The app's <head> script that tells the page's scripts the screen has one device pixel per CSS pixel: PixiJS
# then draws the canvas at resolution 1 and the browser scales it up (softer strokes on a phone or retina screen).
from emnist_core.models.evaluation import EMNIST  # noqa: E402
from ui.page import ONE_DEVICE_PIXEL as ONE_PIXEL_HEAD  # noqa: E402


def sketchpad_page(handler: bool = False, head: str | None = None, **settings):
    """A page with one sketchpad (elem_id "sketchpad") built with ``settings``; ``handler``: a do-nothing
    change event, as the app has one; ``head``: HTML for the page's <head>."""
    import gradio as gr

    with gr.Blocks() as demo:
        pad = gr.Sketchpad(elem_id="sketchpad", **settings)
        if handler:
            pad.change(lambda sketch: None, pad, None, trigger_mode="always_last", show_progress="hidden")
    return demo, ({"head": head} if head else {})


def app_settings(**changes) -> dict:
    """The app's sketchpad settings (ui/draw.py's gr.Sketchpad call, at its former 480 px height), with
    ``changes``."""
    import gradio as gr

    from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS

    settings = dict(
        type="numpy",
        canvas_size=(CANVAS, CANVAS),
        height=480,
        layers=False,
        transforms=(),
        brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
        eraser=gr.Eraser(default_size=BRUSH_RADIUS * 2),
    )
    return {**settings, **changes}


def brush(size):
    import gradio as gr

    return gr.Brush(default_size=size, colors=["#000000"], color_mode="fixed")


PAGES = {
    "app": ("the app's page (python app.py)", app_page),
    "bare": ("gr.Sketchpad() with Gradio's defaults", lambda: sketchpad_page()),
    "app-pad": ("the app's sketchpad settings, alone", lambda: sketchpad_page(**app_settings())),
    "app-pad+handler": ("... with a do-nothing change event", lambda: sketchpad_page(True, **app_settings())),
    "fixed_canvas": ("... with fixed_canvas=True", lambda: sketchpad_page(**app_settings(fixed_canvas=True))),
    "height=360": ("... shown 360 px tall", lambda: sketchpad_page(**app_settings(height=360))),
    "height=300": ("... shown 300 px tall", lambda: sketchpad_page(**app_settings(height=300))),
    "width=480": ("... in a 480 px wide box", lambda: sketchpad_page(**app_settings(width=480))),
    "canvas=200": ("... with a 200x200 canvas", lambda: sketchpad_page(**app_settings(canvas_size=(200, 200)))),
    "canvas=800": (
        "... with an 800x800 canvas (Gradio's default)",
        lambda: sketchpad_page(**app_settings(canvas_size=(800, 800))),
    ),
    "brush=4": ("... with a 4 px brush", lambda: sketchpad_page(**app_settings(brush=brush(4)))),
    "brush=auto": ("... with Gradio's default brush", lambda: sketchpad_page(**app_settings(brush=None))),
    "dpr=1": (
        "... drawn at 1 canvas pixel per CSS pixel (devicePixelRatio reported as 1)",
        lambda: sketchpad_page(head=ONE_PIXEL_HEAD, **app_settings()),
    ),
    "dpr=1+height=300": ("... both", lambda: sketchpad_page(head=ONE_PIXEL_HEAD, **app_settings(height=300))),
    "layers+crop": (
        "... with layers and the crop tool (Gradio's defaults)",
        lambda: sketchpad_page(**app_settings(layers=True, transforms=("crop",))),
    ),
}


def select_brush(page):
    """As the app's SELECT_BRUSH_JS does: a sketchpad starts with no tool selected."""
    page.wait_for_function(
        """() => {
      const pad = document.querySelector('#sketchpad');
      if (pad.querySelector('button.highlight')) return true;
      (pad.querySelector('button[aria-label="Brush"]') || pad.querySelector('.quite-round'))?.click();
      return false;
    }""",
        polling=200,
    )


def stroke(page, moves: int) -> list[float]:
    """One stroke of ``moves`` pointer moves round a circle inside the canvas; the ms each move took."""
    box = page.locator("#sketchpad canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    r = 0.25 * min(box["width"], box["height"])
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    took = []
    for i in range(1, moves + 1):
        a = 2 * math.pi * i / moves
        t = time.perf_counter()
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a))
        took.append(1000 * (time.perf_counter() - t))
    page.mouse.up()
    return took


def quantiles(values) -> str:
    if not values:
        return "-"
    values = sorted(values)
    return f"{statistics.median(values):6.1f} / {values[min(len(values) - 1, int(0.9 * len(values)))]:6.1f}"


def measure(browser, url: str, moves: int, scale: float) -> dict:
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=scale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url)
        page.locator("#sketchpad canvas").first.wait_for()
        select_brush(page)
        page.evaluate(INSTRUMENT)
        stroke(page, moves)  # warm-up: shaders, textures, the first change event
        page.wait_for_timeout(1500)
        page.evaluate("() => window.__lag.reset()")
        t = time.perf_counter()
        took = stroke(page, moves)
        wall = time.perf_counter() - t
        page.wait_for_timeout(500)  # the last frames
        found = page.evaluate(
            "() => { window.__lag.stop(); const m = window.__lag;"
            " return {moves: m.moves, long: m.long, frames: m.frames}; }"
        )
        return {"took": took, "wall": wall, **found, **page.evaluate(RENDERER)}
    finally:
        context.close()


def row(name: str, result: dict, moves: int, spread: str) -> str:
    long = result["long"]
    return (
        f"{name:<16} {quantiles(result['took']):>16} {spread:>13} {quantiles([m[0] for m in result['moves']]):>17} "
        f"{quantiles([m[1] for m in result['moves']]):>17} {len(result['moves']):>6} {result['frames']:>6} "
        f"{moves / result['wall']:>7.1f} {len(long):>3} / {sum(long):>6.0f} ms"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=40, help="pointer moves in the measured stroke")
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (2: a phone or a retina)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="strokes per page, pages taken in turn; the least disturbed one (lowest median) is shown",
    )
    parser.add_argument("--only", default=",".join(PAGES), help=f"comma-separated pages: {', '.join(PAGES)}")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found (apt install chromium)")
    from playwright.sync_api import sync_playwright

    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in PAGES]
    if unknown:
        sys.exit(f"unknown page(s) {', '.join(unknown)}; choose from {', '.join(PAGES)}")
    print(
        f"{args.moves} pointer moves per stroke, back to back, at {VIEWPORT['width']}x{VIEWPORT['height']}, "
        f"device scale {args.scale:g}, Chromium {' '.join(CHROMIUM_ARGS[:2])}; {os.cpu_count()} CPUs; "
        f"best of {args.repeat} strokes per page, pages in turn"
    )
    results: dict[str, list[dict]] = {name: [] for name in chosen}
    with ExitStack() as stack, sync_playwright() as playwright:
        urls = {}
        for name in chosen:  # every page served at once, so the pages can take turns
            demo, options = PAGES[name][1]()
            urls[name] = stack.enter_context(served(demo, **options))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for turn in range(args.repeat):
            for name in chosen:
                results[name].append(measure(browser, urls[name], args.moves, args.scale))
            print(f"  turn {turn + 1} of {args.repeat} done", flush=True)
        browser.close()
    first = results[chosen[0]][0]
    print(f"canvas drawn by PixiJS {first['pixi']}; WebGL: {first['webgl']}")
    print(
        f"{'page':<16} {'move ms med/p90':>16} {'medians':>13} {'frame ms med/p90':>17} {'after ms med/p90':>17} "
        f"{'events':>6} {'frames':>6} {'moves/s':>7} {'long tasks':>14}"
    )
    for name in chosen:
        runs = sorted(results[name], key=lambda r: statistics.median(r["took"]))
        medians = [statistics.median(r["took"]) for r in runs]
        print(row(name, runs[0], args.moves, f"{medians[0]:.0f}..{medians[-1]:.0f}"))
    for name in chosen:
        print(f"  {name}: {PAGES[name][0]}; sketchpad canvas {results[name][0]['canvas']}")


if __name__ == "__main__":
    main()
