"""The page as a whole: its CSS and scripts, how it is launched, and how its events call the handlers."""

from __future__ import annotations

import functools
import inspect
import json

PREVIEW_PX = 168  # the 28x28 input, shown 6x enlarged
SKETCHPAD_PX = 340  # the drawing area's height on the page (its canvas stays CANVAS pixels)
PREDICT_CONCURRENCY = 16  # a classroom drawing at once
# More than one, so a second teacher is told "busy" at once instead of waiting in the queue; the lock
# in Lab.start_job is what allows a single training job.
TRAIN_CONCURRENCY = 4
# Gradio refuses bigger uploads before the app sees them; a phone photo of a character is a few MB.
MAX_UPLOAD = "10mb"
CSS = f"""
.why {{ margin: 0; }} .why figcaption {{ font-size: 0.9em; margin-top: 0.4em; }}
#preview img, #preview .empty, .why img, .why .empty {{ width: min({PREVIEW_PX}px, 100%); aspect-ratio: 1; height: auto;
  image-rendering: pixelated; background: #000; border-radius: 4px; display: block; }}
#preview > label[data-testid="block-label"] {{ position: static;
  margin: -10px 0 var(--spacing-lg) -12px; }}
#preview > .html-container.label-padding {{ padding-top: 0; }}
#whatif-grid img {{ image-rendering: pixelated; background: #000; }}
#whatif-grid .caption-label {{ white-space: normal; max-width: 100%; }}
.inside-gallery .fixed-height {{ min-height: 0; max-height: none; }}
@media (max-width: 640px) {{ #preview, #verdict {{ min-width: 100% !important; }} }}
@media (max-width: 640px) {{ #matrix {{ overflow-x: auto !important; }}
  #matrix .matplotlib {{ align-items: flex-start; justify-content: flex-start; }}
  #matrix img {{ width: 640px; min-width: 640px; max-width: none; }} }}
"""
# For every launch (`python app.py`, the tests and the benches); Gradio 6 takes the page's CSS here.
# Without a GPU (school machines) the sketchpad's WebGL canvas is drawn in software, and each pointer move costs
# in proportion to its area in device pixels: bench/bench_sketchpad.py measured 428 ms a move on a 2x screen,
# 75 ms with a smaller pad (SKETCHPAD_PX) and the page drawn at 1 device pixel per CSS pixel. The models read a
# 28x28 image, so a sharper canvas would buy nothing.
ONE_DEVICE_PIXEL = "<script>Object.defineProperty(window, 'devicePixelRatio', {get: () => 1});</script>"
LAUNCH_OPTIONS = {"max_file_size": MAX_UPLOAD, "css": CSS, "head": ONE_DEVICE_PIXEL}
# Gradio's sketchpad starts, and starts again after Clear, with no tool selected: select the brush
# whenever no tool is, so that every first stroke draws. One watcher per pad (``select_brush_js``).
SELECT_BRUSH = """
(selector) => {
  const watch = () => {
    const pad = document.querySelector(selector);
    if (!pad) return setTimeout(watch, 100);
    if (pad.dataset.brushWatched) return;  // opened again: its watcher is there already
    pad.dataset.brushWatched = '1';
    const pick = () => {
      const brush = pad.querySelector('button[aria-label="Brush"]') || pad.querySelector('.quite-round');
      if (brush && !pad.querySelector('button.highlight')) brush.click();
    };
    new MutationObserver(pick).observe(pad, {subtree: true, childList: true, attributes: true,
                                             attributeFilter: ['class']});
    pick();
  };
  watch();
}
"""


def select_brush_js(selector: str) -> str:
    """The script that keeps the brush selected on the sketchpad at ``selector`` (a CSS selector)."""
    return f"() => ({SELECT_BRUSH.strip()})({json.dumps(selector)})"


SELECT_BRUSH_JS = select_brush_js("#sketchpad")  # the Draw tab's
SHOW_GALLERY_JS = "() => document.querySelector('#mistakes-note')?.scrollIntoView({behavior: 'smooth', block: 'start'})"


def bind(handler, *values):
    """``handler`` as Gradio calls it, with ``values`` (the Lab, then any others) as its first arguments. Its
    docstring stays the endpoint's description on the API page, and its signature and type hints, less the
    bound arguments, stay what the page and ``gr.api`` read the endpoint's parameters from."""
    if inspect.isgeneratorfunction(handler):  # Gradio streams what a generator function yields

        def bound(*args, **kwargs):
            yield from handler(*values, *args, **kwargs)
    else:

        def bound(*args, **kwargs):
            return handler(*values, *args, **kwargs)

    functools.update_wrapper(bound, handler)  # a function, not a partial: Gradio reads a function's type hints
    signature = inspect.signature(handler)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[len(values) :])
    return bound
