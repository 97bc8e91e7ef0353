"""The Draw tab: a sketchpad both models read on every stroke, why each reads it so, "Read wrong? It was..." to
keep a correction, and a photo upload; and the endpoints programs call for the same (/predict, /explain,
/predict_photo, /correct).

The page's own drawing and photo events are private; the four endpoints are ``gr.api`` endpoints that take the
payload as sent and check it (``checks``), so a caller who sends the wrong shape is told what to send. Page and
API read a sketch the one same way (``checks.sketch_part``).
"""

from __future__ import annotations

import base64
import html
import io
from typing import NamedTuple

import gradio as gr
from PIL import Image

from emnist_core.data import labels
from emnist_core.data.preprocess import ImageInputError, load_image
from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS  # one brush for the app and the renderer
from emnist_core.lab import cards
from emnist_core.lab.corrections import CorrectionError
from emnist_core.lab.state import SLOTS
from emnist_core.lab.verdict import NO_MODEL_MESSAGE, verdict
from ui.checks import CLASSES, is_file, photo_part, refuse, sketch_part
from ui.page import PREDICT_CONCURRENCY, PREVIEW_PX, SKETCHPAD_PX, bind

TOP_K = 5
EMPTY_MESSAGE = "The canvas is empty: draw a character first."
PHOTO_MESSAGE = "Upload a photo or scan of one character."
DRAW_PROMPT = "Draw a character: the predictions update with every stroke."
CHOOSE_CLASS = "Choose what it really was, then press *Teach it*."


class DrawTab(NamedTuple):
    """What the other tabs wire to."""

    serving: gr.Markdown  # names the live models
    label_boxes: list  # a gr.Label per slot, titled with its model
    corrected: gr.events.Dependency  # "Teach it" pressed: a correction may have been kept


# ---------------------------------------------------------------- reading a drawing

def look(lab, image):
    """An image (an array, or an uploaded file) -> (the 28x28 the models see, {slot: top-5}), or (None, message)."""
    if image is None:
        return None, EMPTY_MESSAGE
    if is_file(image):  # refused if empty, damaged, too big ... before any pixel is decoded
        try:
            image = load_image(image["path"], upload=True)
        except ImageInputError as exc:
            raise refuse(str(exc)) from None
    try:
        return lab.predictor.predict_drawing(image, TOP_K)
    except ImageInputError as exc:  # includes EmptyCanvasError and TooSmallError, with their own messages
        return None, str(exc)


def answer(x28, tops, shown=str):
    """``look``'s result -> /predict's four outputs. ``shown`` names the classes in the top-5s: the page's own
    events say "0 (zero)"; programs get the plain class names they always got."""
    if x28 is None:
        return None, None, preview_html(None), tops
    # a slot may have no model
    mlp, cnn = ({shown(name): p for name, p in tops[slot]} if slot in tops else None for slot in SLOTS)
    return mlp, cnn, preview_html(x28), verdict(tops)


def read(lab, image, shown=str):
    """An image (an array, or an uploaded file) -> (MLP top-5, CNN top-5, the 28x28 input as HTML, verdict)."""
    return answer(*look(lab, image), shown)


def why(lab, x28):
    """The 28x28 the models see -> [(overlay, caption)] per slot: where each live model found its answer."""
    found = {} if x28 is None else lab.explain(x28)
    return [(found[s].overlay, f"{SLOTS[s]}: {found[s].caption}") if s in found else
            (None, f"Why the {SLOTS[s]} reads it") for s in SLOTS]


# ---------------------------------------------------------------- handlers

def draw(lab, sketch):
    """The page's sketchpad, on every stroke: what /predict says, and why (/explain)."""
    x28, tops = look(lab, sketch_part(sketch, "draw"))
    reasons = (why_html(overlay, text) for overlay, text in why(lab, x28))
    return *answer(x28, tops, labels.display_name), *reasons


def predict(lab, sketch):
    """A sketch -> what the Draw tab shows (/predict's four outputs)."""
    return read(lab, sketch_part(sketch, "predict"))


def explain(lab, sketch):
    """A sketch -> [(overlay, caption)] per slot (/explain)."""
    return why(lab, look(lab, sketch_part(sketch, "explain"))[0])


def predict_photo(lab, image):
    """A photo (an uploaded file) -> what the Draw tab shows."""
    if image is None:
        return None, None, preview_html(None), PHOTO_MESSAGE
    return read(lab, image)


def show_photo(lab, image):
    """The page's photo box -> the Draw tab's outputs and the box itself: a refused file is taken out of the box
    (no broken-image icon) and its message stays in the verdict."""
    if image is None:  # removed, or taken out after a refusal: keep the message that says why
        return None, None, preview_html(None), gr.update(), gr.update()
    try:
        return *read(lab, image, labels.display_name), gr.update()
    except gr.Error as refused:
        return None, None, preview_html(None), refused.message, None


def correct(lab, sketch, label):
    """(a sketch, the class it really is) -> a short message: its 28x28 is kept as a correction, with what each
    model read and the time; nothing about the person. The page's "Teach it" and /correct alike; refused (with
    what to do) when ``lab.switches.corrections`` is off."""
    image = sketch_part(sketch, "correct")
    if not isinstance(label, str) or not label:
        return CHOOSE_CLASS
    x28, tops = look(lab, image)
    if x28 is None:
        return tops
    try:
        count = lab.correct(x28, label, tops)
    except CorrectionError as exc:
        return str(exc)
    return (f"Kept as **{labels.display_name(label)}**: {count:,} correction{'s' * (count != 1)} on this server. "
            "The Retrain tab can teach the models with them.")


# ---------------------------------------------------------------- the API's endpoints

def as_api(outputs, values):
    """Values as the components would send them, for a ``gr.api`` endpoint (which skips their postprocess)."""
    sent = [component.postprocess(value) for component, value in zip(outputs, values)]
    return tuple(value.model_dump() if hasattr(value, "model_dump") else value for value in sent)


# Components that shape the API's answers as the Draw tab's own would be sent (a ``gr.api`` endpoint skips their
# postprocess), never rendered. Made here, not in a handler: a component made in a handler is an update.
ANSWER_OUTPUTS = (gr.Label(num_top_classes=TOP_K, render=False), gr.Label(num_top_classes=TOP_K, render=False),
                  gr.HTML(render=False), gr.Markdown(render=False))
OVERLAY_OUTPUT = gr.Image(format="png", render=False)


def predict_api(lab, sketch: dict | None = None) -> tuple[dict | None, dict | None, str, str]:
    """Sketchpad value {"composite": image file}, or the image file alone -> (MLP top-5, CNN top-5, the 28x28
    input as HTML, verdict)."""
    return as_api(ANSWER_OUTPUTS, predict(lab, sketch))


def predict_photo_api(lab, photo: dict | None = None) -> tuple[dict | None, dict | None, str, str]:
    """A photo or scan of one character (an image file) -> the same four outputs as /predict."""
    return as_api(ANSWER_OUTPUTS, predict_photo(lab, photo_part(photo)))


def explain_api(lab, sketch: dict | None = None) -> tuple[dict | None, dict | None, str]:
    """Sketchpad value {"composite": image file}, or the image file alone -> (MLP overlay, CNN overlay,
    captions): the 28x28 the models see, with heat where hiding the ink lowers each model's answer most, and one
    line per model."""
    found = explain(lab, sketch)
    files = [OVERLAY_OUTPUT] * len(found)  # an image file per model, as an image component sends one
    return *as_api(files, [overlay for overlay, _ in found]), "\n".join(text for _, text in found)


def correct_api(lab, sketch: dict | None = None, label: str | None = None) -> str:
    """(sketchpad value {"composite": image file} or the image file alone, the class it really is) -> a short
    message; the drawing's 28x28 is kept as a correction (refused while EMNIST_DISABLE_TRAINING=1, unless
    EMNIST_ALLOW_CORRECTIONS=1)."""
    return correct(lab, sketch, label)


# ---------------------------------------------------------------- what the tab shows

def inline_png(pixels) -> str:
    """An image as a data URL: shown inline, so no file is written per stroke."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def preview_html(x28) -> str:
    """The 28x28 the models see, enlarged with hard pixel edges."""
    if x28 is None:
        return '<div class="empty" title="the 28x28 input appears here"></div>'
    return f'<img src="{inline_png(x28)}" alt="the 28x28 image the models see">'


def why_html(overlay, caption) -> str:
    """One model's overlay with its caption below it (a label over the picture would hide its top on a phone)."""
    picture = f'<img src="{inline_png(overlay)}" alt="where the model found its answer">' if overlay is not None else \
        '<div class="empty"></div>'
    return f'<figure class="why">{picture}<figcaption>{html.escape(caption)}</figcaption></figure>'


def serving_note(lab) -> str:
    return cards.serving_note(lab.live.values()) or NO_MODEL_MESSAGE


def label_updates(lab):
    """The two prediction boxes, titled with the model each one shows."""
    return [gr.update(label=lab.live[slot].title if slot in lab.live else f"{SLOTS[slot]} (none)") for slot in SLOTS]


# ---------------------------------------------------------------- the tab

def build(lab) -> DrawTab:
    """The Draw tab and its events, serving ``lab``."""
    with gr.Tab("Draw", id="draw"):
        serving = gr.Markdown(serving_note(lab), elem_id="serving")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                sketchpad = gr.Sketchpad(
                    label="Draw here", type="numpy", canvas_size=(CANVAS, CANVAS),
                    height=SKETCHPAD_PX, layers=False, transforms=(), elem_id="sketchpad",
                    brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
                    eraser=gr.Eraser(default_size=BRUSH_RADIUS * 2),
                )
            with gr.Column(scale=2, min_width=300):
                with gr.Row():
                    label_boxes = [gr.Label(label=title, num_top_classes=TOP_K, min_width=150,
                                            elem_id=f"{slot}-label") for slot, title in SLOTS.items()]
                with gr.Row():
                    why_boxes = [gr.HTML(why_html(None, f"Why the {title} reads it"), elem_id=f"{slot}-why",
                                         min_width=150, container=True, padding=True)
                                 for slot, title in SLOTS.items()]
                with gr.Row(equal_height=False):
                    preview = gr.HTML(preview_html(None), label="What the models see (28x28)",
                                      show_label=True, container=True, padding=True, elem_id="preview",
                                      min_width=PREVIEW_PX + 40, scale=0)
                    verdict_box = gr.Markdown(DRAW_PROMPT, elem_id="verdict", container=True, padding=True)
                with gr.Row(equal_height=True):
                    correct_pick = gr.Dropdown([(labels.display_name(c), c) for c in CLASSES], value=None,
                                               label="Read wrong? It was...", min_width=120, scale=2,
                                               elem_id="correct-pick")
                    correct_button = gr.Button("Teach it", min_width=80, scale=1, elem_id="correct-button")
                correct_note = gr.Markdown(elem_id="correct-note")
                with gr.Accordion("...or upload a photo or scan of one character", open=False):
                    photo = gr.Image(label="Photo", type="filepath", image_mode=None,
                                     sources=["upload", "clipboard"], height=240, elem_id="photo")

    # The page's own events (private) predict on every stroke, last stroke wins; programs call the gr.api
    # endpoints, which take the payload as sent and say what to send instead of a bare "Error".
    shown = [*label_boxes, preview, verdict_box]
    sketchpad.change(bind(draw, lab), sketchpad, [*shown, *why_boxes], api_name="draw", api_visibility="private",
                     trigger_mode="always_last", show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY)
    photo.change(bind(show_photo, lab), photo, [*shown, photo], api_name="draw_photo", api_visibility="private",
                 preprocess=False, show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY)
    corrected = correct_button.click(bind(correct, lab), [sketchpad, correct_pick], correct_note,
                                     api_name="correct_drawing", api_visibility="private")
    return DrawTab(serving, label_boxes, corrected)


def endpoints(lab):
    """The ``gr.api`` endpoints that do what the Draw tab does, for programs; declared outside the page's tabs."""
    for handler, name in ((predict_api, "predict"), (explain_api, "explain"), (predict_photo_api, "predict_photo"),
                          (correct_api, "correct")):
        gr.api(bind(handler, lab), api_name=name, concurrency_limit=PREDICT_CONCURRENCY)
