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
import inspect
import io
import json
import typing
from typing import NamedTuple, TypedDict

import gradio as gr
from gradio.data_classes import FileData
from PIL import Image

from emnist_core.data import labels
from emnist_core.data.preprocess import ImageInputError, load_image
from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS  # one brush for the app and the renderer
from emnist_core.lab import cards
from emnist_core.lab.corrections import CorrectionError
from emnist_core.lab.verdict import NO_MODEL_MESSAGE, candidates, is_sure, not_sure_line, verdict
from emnist_core.models.registry import SLOTS
from ui.checks import CLASSES, LESSON_CHOICES, Lesson, Sketch, is_file, lesson_of, photo_part, refuse, sketch_part
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
    lesson_pick: gr.Radio  # what is being drawn: the Confusions tab follows it


# ---------------------------------------------------------------- reading a drawing


def decoded(image):
    """An image (an array, or an uploaded file) -> the array to read; a bad file is refused with what is wrong."""
    if is_file(image):  # refused if empty, damaged, too big ... before any pixel is decoded
        try:
            return load_image(image["path"], upload=True)
        except ImageInputError as exc:
            raise refuse(str(exc)) from None
    return image


def look(pair, image, lesson=None):
    """An image (an array, or an uploaded file) -> (the 28x28 the models of ``pair`` (``lab.models.pair``) see,
    {slot: top-5 within ``lesson``}), or (None, message)."""
    if image is None:
        return None, EMPTY_MESSAGE
    try:
        return pair.read(decoded(image), TOP_K, lesson)
    except ImageInputError as exc:  # includes EmptyCanvasError and TooSmallError, with their own messages
        return None, str(exc)


def answer(x28, tops, page=False):
    """``look``'s result -> /predict's four outputs. The page's own events name the classes as people read them
    ("0 (zero)") and start the verdict with the big answer (``page_verdict``); programs get the plain class names
    and the verdict they always got."""
    if x28 is None:
        return *(None for _ in SLOTS), preview_html(None), tops
    shown = labels.display_name if page else str
    boxes = [{shown(name): p for name, p in tops[slot]} if slot in tops else None for slot in SLOTS]  # may be empty
    return *boxes, preview_html(x28), page_verdict(tops) if page else verdict(tops)


def big_answer(tops) -> str:
    """What the page shows big: the class the models read when they are sure, else the question between the
    classes in doubt ("0 (zero) or O / o (letter)?"), never one of them alone."""
    if is_sure(tops):
        return labels.display_name(next(iter(tops.values()))[0][0])
    return labels.doubt_label(candidates(tops))


def page_verdict(tops) -> str:
    """The verdict under a heading with the big answer; its "Not sure: ..." line is that heading now."""
    text = verdict(tops)
    if not tops:
        return text
    return f"## {big_answer(tops)}\n\n{text.removeprefix(not_sure_line(tops) + chr(10) * 2)}"


def read(pair, image, page=False, lesson=None):
    """An image (an array, or an uploaded file) -> (a top-5 per slot, the 28x28 input as HTML, verdict)."""
    return answer(*look(pair, image, lesson), page)


def why(pair, x28, lesson=None):
    """The 28x28 the models see -> [(overlay, caption)] per slot: where each model of ``pair`` found its answer
    within ``lesson``."""
    found = {} if x28 is None else pair.explain(x28, lesson)
    return [
        (found[s].overlay, f"{SLOTS[s]}: {found[s].caption}") if s in found else (None, f"Why the {SLOTS[s]} reads it")
        for s in SLOTS
    ]


# ---------------------------------------------------------------- handlers


def draw(lab, sketch, lesson=labels.DEFAULT_LESSON):
    """The page's sketchpad, on every stroke and when the lesson changes: what /predict says, and why (/explain)."""
    lesson, pair = lesson_of(lesson), lab.models.pair
    x28, tops = look(pair, sketch_part(sketch, "draw"), lesson)
    reasons = (why_html(overlay, text) for overlay, text in why(pair, x28, lesson))
    return *answer(x28, tops, page=True), *reasons


def predict(lab, sketch, lesson=labels.DEFAULT_LESSON):
    """A sketch -> what the Draw tab shows (/predict's four outputs), within ``lesson``."""
    lesson = lesson_of(lesson)
    return read(lab.models.pair, sketch_part(sketch, "predict"), lesson=lesson)


def explain(lab, sketch, lesson=labels.DEFAULT_LESSON):
    """A sketch -> [(overlay, caption)] per slot (/explain), within ``lesson``."""
    lesson, pair = lesson_of(lesson), lab.models.pair
    return why(pair, look(pair, sketch_part(sketch, "explain"), lesson)[0], lesson)


def predict_photo(lab, image):
    """A photo (an uploaded file) -> what the Draw tab shows."""
    if image is None:
        return *(None for _ in SLOTS), preview_html(None), PHOTO_MESSAGE
    return read(lab.models.pair, image)


def show_photo(lab, image, lesson=labels.DEFAULT_LESSON):
    """The page's photo box -> the Draw tab's outputs and the box itself: a refused file is taken out of the box
    (no broken-image icon) and its message stays in the verdict."""
    if image is None:  # removed, or taken out after a refusal: keep the message that says why
        return *(None for _ in SLOTS), preview_html(None), gr.update(), gr.update()
    try:
        return *read(lab.models.pair, image, page=True, lesson=lesson_of(lesson)), gr.update()
    except gr.Error as refused:
        return *(None for _ in SLOTS), preview_html(None), refused.message, None


def correct(lab, sketch, label, lesson=labels.DEFAULT_LESSON):
    """(a sketch, the class it really is, the lesson it was read in) -> a short message: its 28x28 is kept as a
    correction, with what each model read (within ``lesson``) and the time; nothing about the person. The page's
    "Teach it" and /correct alike; refused (with what to do) when ``lab.switches.corrections`` is off."""
    image, lesson = sketch_part(sketch, "correct"), lesson_of(lesson)
    if not isinstance(label, str) or not label:
        return CHOOSE_CLASS
    x28, tops = look(lab.models.pair, image, lesson)
    if x28 is None:
        return tops
    try:
        count = lab.classroom.correct(x28, label, tops)
    except CorrectionError as exc:
        return str(exc)
    return (
        f"Kept as **{labels.display_name(label)}**: {count:,} correction{'s' * (count != 1)} on this server. "
        "The Retrain tab can teach the models with them."
    )


# ---------------------------------------------------------------- the API's endpoints


def as_api(outputs, values):
    """Values as the components would send them, for a ``gr.api`` endpoint (which skips their postprocess)."""
    sent = [component.postprocess(value) for component, value in zip(outputs, values)]
    return tuple(value.model_dump() if hasattr(value, "model_dump") else value for value in sent)


# Components that shape the API's answers as the Draw tab's own would be sent (a ``gr.api`` endpoint skips their
# postprocess), never rendered. Made here, not in a handler: a component made in a handler is an update.
ANSWER_OUTPUTS = (
    gr.Label(num_top_classes=TOP_K, render=False),
    gr.Label(num_top_classes=TOP_K, render=False),
    gr.HTML(render=False),
    gr.Markdown(render=False),
)
OVERLAY_OUTPUT = gr.Image(format="png", render=False)


# The API page reads the endpoints' parameters and answers from these type hints (the lesson: ``checks.Lesson``).
class Confidence(TypedDict):
    label: str
    confidence: float


class TopClasses(TypedDict):
    """One model's answer, as a gr.Label sends it: the class it reads, then its top-5, best first."""

    label: str
    confidences: list[Confidence]


Answer = tuple[TopClasses | None, TopClasses | None, str, str]


def predict_api(lab, sketch: Sketch | FileData | None = None, lesson: Lesson = labels.DEFAULT_LESSON) -> Answer:
    """Sketchpad value {"composite": image file}, or the image file alone, and the lesson (what is being drawn:
    all, digits, letters or upper; default all) -> (MLP top-5, CNN top-5, the 28x28 input as HTML, verdict),
    both models' answers within the lesson's classes."""
    return as_api(ANSWER_OUTPUTS, predict(lab, sketch, lesson))


def predict_photo_api(lab, photo: FileData | None = None) -> Answer:
    """A photo or scan of one character (an image file) -> the same four outputs as /predict."""
    return as_api(ANSWER_OUTPUTS, predict_photo(lab, photo_part(photo)))


def explain_api(
    lab, sketch: Sketch | FileData | None = None, lesson: Lesson = labels.DEFAULT_LESSON
) -> tuple[FileData | None, FileData | None, str]:
    """Sketchpad value {"composite": image file}, or the image file alone, and the lesson (default all) -> (MLP
    overlay, CNN overlay, captions): the 28x28 the models see, with heat where hiding the ink lowers each model's
    answer (within the lesson) most, and one line per model."""
    found = explain(lab, sketch, lesson)
    files = [OVERLAY_OUTPUT] * len(found)  # an image file per model, as an image component sends one
    return *as_api(files, [overlay for overlay, _ in found]), "\n".join(text for _, text in found)


def correct_api(
    lab, sketch: Sketch | FileData | None = None, label: str | None = None, lesson: Lesson = labels.DEFAULT_LESSON
) -> str:
    """(sketchpad value {"composite": image file} or the image file alone, the class it really is, the lesson it
    was drawn in: default all) -> a short message; the drawing's 28x28 is kept as a correction with what the
    models read within the lesson (refused while EMNIST_DISABLE_TRAINING=1, unless EMNIST_ALLOW_CORRECTIONS=1)."""
    return correct(lab, sketch, label, lesson)


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
    picture = (
        f'<img src="{inline_png(overlay)}" alt="where the model found its answer">'
        if overlay is not None
        else '<div class="empty"></div>'
    )
    return f'<figure class="why">{picture}<figcaption>{html.escape(caption)}</figcaption></figure>'


def serving_note(lab) -> str:
    return cards.serving_note(lab.models.pair.models.values()) or NO_MODEL_MESSAGE


def label_updates(lab):
    """The prediction boxes, one per slot, each titled with the model it shows."""
    pair = lab.models.pair
    return [gr.update(label=pair.get(slot).title if pair.get(slot) else f"{SLOTS[slot]} (none)") for slot in SLOTS]


# ---------------------------------------------------------------- the tab


def typed_names(names) -> dict[str, str]:
    """What a person may type for each class -> the class's name in the correction list: the class ("q", "Q"),
    a merged class's lower case ("c"), its shown name ("C / c"); by ``labels.class_from_text``'s rule."""
    typed = {}
    for name in names:
        for text in (name, name.lower(), labels.display_name(name)):
            if labels.class_from_text(text, names) == name:
                typed[text] = labels.display_name(name)
    return typed


# Gradio's dropdown filters its choices without regard to case and takes the first match on Enter: "q" would pick
# Q, "o" would pick "0 (zero)". On Enter, this picks the choice the typed text names exactly, when one does
# (``typed_names``), by the same press on its option a mouse would give; anything else is left to the dropdown.
EXACT_CASE_JS = """
() => {
  const box = document.querySelector('#correct-pick');
  if (!box || box.dataset.exactCase) return;
  box.dataset.exactCase = '1';
  const named = new Map(Object.entries(TYPED));
  box.addEventListener('keydown', (event) => {
    const input = box.querySelector('input');
    const want = event.key === 'Enter' && input && named.get(input.value.trim());
    const option = want && [...box.querySelectorAll('li[data-index]')].find(li => li.innerText.trim() === want);
    if (!option) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    option.dispatchEvent(new MouseEvent('mousedown', {bubbles: true, cancelable: true}));
  }, true);
}
""".replace("TYPED", json.dumps(typed_names(CLASSES)))


def drawing_pad(elem_id: str) -> gr.Sketchpad:
    """A sketchpad with the app's one brush (``sketchpad.BRUSH_RADIUS``, black) on a CANVAS-pixel canvas."""
    return gr.Sketchpad(
        label="Draw here",
        type="numpy",
        canvas_size=(CANVAS, CANVAS),
        height=SKETCHPAD_PX,
        layers=False,
        transforms=(),
        elem_id=elem_id,
        brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
        eraser=gr.Eraser(default_size=BRUSH_RADIUS * 2),
    )


def build(lab) -> DrawTab:
    """The Draw tab and its events, serving ``lab``."""
    with gr.Tab("Draw", id="draw"):
        serving = gr.Markdown(serving_note(lab), elem_id="serving")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                sketchpad = drawing_pad("sketchpad")
            with gr.Column(scale=2, min_width=300):
                # The verdict first, with the one big answer: beside the pad on a desktop, right under it on a
                # phone. The top-5s show no big label of their own: when the models are not sure, the one big
                # answer is the question, not one of its classes.
                verdict_box = gr.Markdown(DRAW_PROMPT, elem_id="verdict", container=True, padding=True)
                lesson_pick = gr.Radio(
                    LESSON_CHOICES, value=labels.DEFAULT_LESSON, label="What is being drawn", elem_id="lesson"
                )
                with gr.Row():
                    label_boxes = [
                        gr.Label(
                            label=title,
                            num_top_classes=TOP_K,
                            min_width=150,
                            show_heading=False,
                            elem_id=f"{slot}-label",
                        )
                        for slot, title in SLOTS.items()
                    ]
                with gr.Row():
                    why_boxes = [
                        gr.HTML(
                            why_html(None, f"Why the {title} reads it"),
                            elem_id=f"{slot}-why",
                            min_width=150,
                            container=True,
                            padding=True,
                        )
                        for slot, title in SLOTS.items()
                    ]
                with gr.Row(equal_height=False):
                    preview = gr.HTML(
                        preview_html(None),
                        label="What the models see (28x28)",
                        show_label=True,
                        container=True,
                        padding=True,
                        elem_id="preview",
                        min_width=PREVIEW_PX + 40,
                        scale=0,
                    )
                    with gr.Column(min_width=160):
                        correct_pick = gr.Dropdown(
                            [(labels.display_name(c), c) for c in CLASSES],
                            value=None,
                            label="Read wrong? It was...",
                            elem_id="correct-pick",
                        )
                        correct_button = gr.Button("Teach it", elem_id="correct-button")
                        correct_note = gr.Markdown(elem_id="correct-note")
                with gr.Accordion("...or upload a photo or scan of one character", open=False):
                    photo = gr.Image(
                        label="Photo",
                        type="filepath",
                        image_mode=None,
                        sources=["upload", "clipboard"],
                        height=240,
                        elem_id="photo",
                    )

    # The page's own events (private) predict on every stroke, last stroke wins; programs call the gr.api
    # endpoints, which take the payload as sent and say what to send instead of a bare "Error".
    shown = [*label_boxes, preview, verdict_box]
    gr.on(
        [sketchpad.change, lesson_pick.change],
        bind(draw, lab),
        [sketchpad, lesson_pick],
        [*shown, *why_boxes],
        api_name="draw",
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="hidden",
        concurrency_limit=PREDICT_CONCURRENCY,
    )
    photo.change(
        bind(show_photo, lab),
        [photo, lesson_pick],
        [*shown, photo],
        api_name="draw_photo",
        api_visibility="private",
        preprocess=False,
        show_progress="hidden",
        concurrency_limit=PREDICT_CONCURRENCY,
    )
    correct_pick.focus(None, js=EXACT_CASE_JS)
    corrected = correct_button.click(
        bind(correct, lab),
        [sketchpad, correct_pick, lesson_pick],
        correct_note,
        api_name="correct_drawing",
        api_visibility="private",
    )
    return DrawTab(serving, label_boxes, corrected, lesson_pick)


def endpoints(lab):
    """The ``gr.api`` endpoints that do what the Draw tab does, for programs; declared outside the page's tabs."""
    for handler, name in (
        (predict_api, "predict"),
        (explain_api, "explain"),
        (predict_photo_api, "predict_photo"),
        (correct_api, "correct"),
    ):
        gr.api(typed_answers(bind(handler, lab), handler), api_name=name, concurrency_limit=PREDICT_CONCURRENCY)


def typed_answers(bound, handler):
    """``bound`` with ``handler``'s return type resolved: gr.api reads the answers' types for the API page from the
    signature, where this module's postponed annotations leave a string (shown as "Any")."""
    answers = typing.get_type_hints(handler)["return"]
    bound.__signature__ = inspect.signature(bound).replace(return_annotation=answers)
    return bound
