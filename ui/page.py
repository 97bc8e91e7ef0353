"""The page as a whole: its CSS, how it is launched, how its events call the handlers, and what every tab's
answers share (images inline, API answers shaped as the page's components send them)."""

from __future__ import annotations

import base64
import functools
import inspect
import io
import typing

PREVIEW_PX = 168  # the 28x28 input, shown 6x enlarged
# Threads that read drawings at once, per event. Each answer takes a few milliseconds of Python, and threads beyond
# the cores only fight for Python's lock with the thread that serves every page: with 30 pupils, 16 threads made the
# answer's p95 three times that of 2 (bench/bench_class.py). Requests beyond these wait in Gradio's queue.
PREDICT_CONCURRENCY = 2
# How often a thread holding Python's lock hands it over (Python's default: every 5 ms). A server's one event loop
# then waits at most this long for a handler thread: at 30 pupils the answer's p95 fell by half (bench_class.py).
SWITCH_INTERVAL = 0.0005
# More than one, so a second teacher is told "busy" at once instead of waiting in the queue; the job slot
# (lab.jobs) is what allows a single training job.
TRAIN_CONCURRENCY = 4
# Gradio refuses bigger uploads before the app sees them; a phone photo of a character is a few MB.
MAX_UPLOAD = "10mb"
# Gradio's temporary files (uploads, files a program is sent): checked every hour, each removed after a day.
DELETE_CACHE = (3600, 86400)
CSS = f"""
.why {{ margin: 0; }} .why figcaption {{ font-size: 0.9em; margin-top: 0.4em; }}
#preview img, #preview .empty, .why img, .why .empty {{ width: min({PREVIEW_PX}px, 100%); aspect-ratio: 1; height: auto;
  image-rendering: pixelated; background: #000; border-radius: 4px; display: block; }}
#preview > label[data-testid="block-label"] {{ position: static;
  margin: -10px 0 var(--spacing-lg) -12px; }}
#preview > .html-container.label-padding {{ padding-top: 0; }}
.inside-grid {{ display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }}
.inside-cnn {{ grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); }}
.inside-figure {{ margin: 0; }} .inside-figure img {{ width: 100%; height: auto; display: block; border-radius: 4px; }}
.inside-figure figcaption {{ font-size: 0.85em; line-height: 1.3; margin-top: 4px; }}
.inside-whatif img {{ image-rendering: pixelated; background: #000; }}
img.figure {{ max-width: 100%; height: auto; display: block; }}
.stroke-pad [data-testid="block-label"] svg {{ display: none; }} /* a pad is not code: no "</>" by its label */
.nav-holder {{ display: none !important; }} /* the page bar Gradio adds for the class view: opened from a link */
@media (max-width: 640px) {{ #preview, #verdict {{ min-width: 100% !important; }} }}
@media (max-width: 640px) {{ #matrix {{ overflow-x: auto !important; }}
  #matrix img {{ width: 640px; min-width: 640px; max-width: none; }} }}
"""
# For every launch (`python app.py`, the tests and the benches); Gradio 6 takes the page's CSS here.
# Each open page holds one long-lived event (its stream of explanations): room for a few classes' pages, and the
# answers' events beside them.
MAX_EVENTS = 512
LAUNCH_OPTIONS = {"max_file_size": MAX_UPLOAD, "css": CSS, "max_threads": MAX_EVENTS}
SHOW_GALLERY_JS = "() => document.querySelector('#mistakes-note')?.scrollIntoView({behavior: 'smooth', block: 'start'})"


def bind(handler, *values):
    """``handler`` as Gradio calls it, with ``values`` (the Lab, then any others) as its first arguments. Its
    docstring stays the endpoint's description on the API page, and its signature and type hints, less the
    bound arguments, stay what the page and ``gr.api`` read the endpoint's parameters from."""
    if inspect.isgeneratorfunction(handler):  # Gradio streams what a generator function yields

        def bound(*args, **kwargs):
            yield from handler(*values, *args, **kwargs)
    elif inspect.isasyncgenfunction(handler):  # and an async one's, in its own event loop

        async def bound(*args, **kwargs):
            async for value in handler(*values, *args, **kwargs):
                yield value
    elif inspect.iscoroutinefunction(handler):  # a coroutine is awaited in the event loop, with no thread

        async def bound(*args, **kwargs):
            return await handler(*values, *args, **kwargs)
    else:

        def bound(*args, **kwargs):
            return handler(*values, *args, **kwargs)

    functools.update_wrapper(bound, handler)  # a function, not a partial: Gradio reads a function's type hints
    signature = inspect.signature(handler)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[len(values) :])
    return bound


def typed_answers(bound, handler):
    """``bound`` with ``handler``'s return type resolved: gr.api reads the answers' types for the API page from the
    signature, where a module's postponed annotations leave a string (shown as "Any")."""
    answers = typing.get_type_hints(handler)["return"]
    bound.__signature__ = inspect.signature(bound).replace(return_annotation=answers)
    return bound


def as_api(outputs, values):
    """Values as the components would send them, for a ``gr.api`` endpoint (which skips their postprocess)."""
    sent = [component.postprocess(value) for component, value in zip(outputs, values)]
    return tuple(value.model_dump() if hasattr(value, "model_dump") else value for value in sent)


def inline_png(pixels) -> str:
    """An image as a data URL: shown inline, so no file is written per stroke."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)  # a few kB more, several times faster
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
