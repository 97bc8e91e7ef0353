"""The Draw tab: a pad both models read every time the pen is lifted, why each reads it so, "Read wrong? It was..."
to keep a correction, and a photo upload; and the endpoints programs call for the same (/predict, /explain,
/predict_photo, /correct).

The pad (``ui/pad.py``) sends its strokes, once per lifted pen, and the answer comes at once; why each model reads
it so is worked out afterwards, below the answers' priority (``lab.explainer``), and pushed to the page on a stream
that the page opens when it loads (``page_stream``), so an explanation never delays an answer and costs no request.

The page's own events are private; programs call the four endpoints of ``ui/draw_api.py``, which take the payload
as sent (strokes, or an image) and check it (``checks``), so a caller who sends the wrong shape is told what to send.
Page and API read a drawing the one same way (``checks.sketch_part``), with the handlers here.
"""

from __future__ import annotations

import asyncio
import html
from typing import NamedTuple

import gradio as gr

from emnist_core.data import labels
from emnist_core.data.preprocess import ImageInputError, load_image
from emnist_core.data.strokes import Strokes
from emnist_core.lab import cards
from emnist_core.lab.corrections import CorrectionError
from emnist_core.lab.verdict import (
    NO_MODEL_MESSAGE,
    candidates,
    is_sure,
    not_sure_line,
    outside_lesson_note,
    verdict,
)
from emnist_core.models.registry import SLOTS
from ui import class_pick, pad
from ui.checks import CLASSES, LESSON_CHOICES, is_file, lesson_of, refuse, sketch_part
from ui.page import PREDICT_CONCURRENCY, PREVIEW_PX, bind, inline_png

TOP_K = 5
PAD_ID = "sketchpad"
EMPTY_MESSAGE = "The canvas is empty: draw a character first."
NAMES_CHECKED_EVERY = 1.0  # seconds: how soon an open page names a model put live elsewhere
PHOTO_MESSAGE = "Upload a photo or scan of one character."
DRAW_PROMPT = "Draw a character: both models answer each time you lift the pen."
CHOOSE_CLASS = "Choose what it really was, then press *Teach it*."


class DrawTab(NamedTuple):
    """What the other tabs wire to."""

    serving: gr.Markdown  # names the live models
    label_boxes: list  # a gr.Label per slot, titled with its model
    why_boxes: list  # a gr.HTML per slot: why that model reads the drawing so (the page's stream fills them)
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


def look(lab, pair, drawing, lesson=None):
    """A drawing (its strokes, an array, or an uploaded file; ``checks.sketch_part``) -> (the 28x28 the models of
    ``pair`` (``lab.models.pair``) see, {slot: top-5 within ``lesson``}), or (None, message). Read by
    ``lab.reader``."""
    if drawing is None:
        return None, EMPTY_MESSAGE
    try:
        return lab.reader.read(pair, decoded(drawing), TOP_K, lesson)
    except ImageInputError as exc:  # includes EmptyCanvasError and TooSmallError, with their own messages
        return None, str(exc)


async def alook(lab, pair, drawing, lesson=None):
    """``look`` for a coroutine: the server's event loop serves other pages while the worker reads the drawing (no
    thread is taken for the wait). For the page's own per-stroke events."""
    if drawing is None:
        return None, EMPTY_MESSAGE
    try:
        return await lab.reader.aread(pair, decoded(drawing), TOP_K, lesson)
    except ImageInputError as exc:
        return None, str(exc)


def answer(x28, tops, page=False):
    """``look``'s result -> /predict's outputs: a top-5 per slot, the 28x28 input as HTML, the verdict. The page's
    own events name the classes as people read them ("0 (zero)") and start the verdict with the big answer
    (``page_verdict``); programs get the plain class names and the verdict they always got."""
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


def read(lab, image, page=False, lesson=None):
    """A drawing (as ``look`` takes it) -> (a top-5 per slot, the 28x28 input as HTML, verdict)."""
    return answer(*look(lab, lab.models.pair, image, lesson), page)


def why(lab, pair, x28, lesson=None):
    """The 28x28 the models see -> [(overlay, caption)] per slot: where each model of ``pair`` found its answer
    within ``lesson`` (``lab.explainer``: worked out below the answers' priority)."""
    found = {} if x28 is None else lab.explainer.explain(pair, x28, lesson)
    return [
        (found[s].overlay, f"{SLOTS[s]}: {found[s].caption}") if s in found else (None, f"Why the {SLOTS[s]} reads it")
        for s in SLOTS
    ]


# ---------------------------------------------------------------- handlers


async def draw(lab, drawing, lesson=labels.DEFAULT_LESSON, request: gr.Request = None):
    """The page's pad, each time the pen is lifted, and when the lesson changes: what /predict says. Why each model
    reads it so is worked out afterwards and comes on the page's stream (``page_stream``). A coroutine: the server's
    event loop serves other pages while the worker reads it (no thread is taken for the wait)."""
    lesson, pair, drawing = lesson_of(lesson), lab.models.pair, sketch_part(drawing, "draw")
    x28, tops = await alook(lab, pair, drawing, lesson)
    session = getattr(request, "session_hash", None)
    if session is not None:
        lab.explainer.submit(session, pair, x28, lesson)
    *shown, said = answer(x28, tops, page=True)
    if x28 is not None and lesson != labels.DEFAULT_LESSON and not is_sure(tops):
        # Read among all classes too (a few ms, only then): an "A" in the Digits lesson is told so.
        _, everywhere = await alook(lab, pair, drawing, labels.DEFAULT_LESSON)
        note = outside_lesson_note(everywhere, lesson) if isinstance(everywhere, dict) else None
        said = f"{said}\n\n{note}" if note else said
    return *shown, said


def why_boxes_of(found) -> list[str]:
    """{slot: Explanation} -> each slot's box: its overlay and caption, or what it will show."""
    return [
        why_html(found[s].overlay, f"{SLOTS[s]}: {found[s].caption}")
        if s in found
        else why_html(None, f"Why the {SLOTS[s]} reads it")
        for s in SLOTS
    ]


async def page_stream(lab, names, request: gr.Request):
    """For as long as the page is open, pushed to it without a request of its own: why each model reads each drawing,
    as soon as it is worked out (the page's latest drawing, when several came meanwhile), then ``names(lab)`` (the
    outputs that name the live models) whenever another model is put live, by this page or any other. Yields
    (*why boxes, *names), with ``gr.skip()`` for the part that did not change."""
    session = getattr(request, "session_hash", None)
    if session is None:
        return
    loop, found = asyncio.get_running_loop(), asyncio.Queue()
    lab.explainer.watch(session, lambda explained: loop.call_soon_threadsafe(found.put_nowait, explained))
    pair, unnamed = lab.models.pair, (gr.skip(),) * len(names(lab))
    try:
        while True:
            try:
                latest = await asyncio.wait_for(found.get(), NAMES_CHECKED_EVERY)
            except TimeoutError:
                latest = None
            while not found.empty():  # a later explanation came meanwhile: it is the one to show
                latest = found.get_nowait()
            if latest is not None:
                yield *why_boxes_of(latest), *unnamed
            if lab.models.pair is not pair:
                pair = lab.models.pair
                yield *(gr.skip() for _ in SLOTS), *names(lab)
    finally:
        lab.explainer.forget(session)


def page_closed(lab, request: gr.Request):
    """A page went away: nothing more is explained for it."""
    session = getattr(request, "session_hash", None)
    if session is not None:
        lab.explainer.forget(session)


def predict(lab, sketch, lesson=labels.DEFAULT_LESSON):
    """A drawing -> what the Draw tab shows (/predict's outputs), within ``lesson``."""
    lesson = lesson_of(lesson)
    return read(lab, sketch_part(sketch, "predict"), lesson=lesson)


def explain(lab, sketch, lesson=labels.DEFAULT_LESSON, endpoint="explain"):
    """A drawing -> [(overlay, caption)] per slot (/explain), within ``lesson``."""
    lesson, pair = lesson_of(lesson), lab.models.pair
    return why(lab, pair, look(lab, pair, sketch_part(sketch, endpoint), lesson)[0], lesson)


def predict_photo(lab, image):
    """A photo (an uploaded file) -> what the Draw tab shows."""
    if image is None:
        return *(None for _ in SLOTS), preview_html(None), PHOTO_MESSAGE
    return read(lab, image)


def show_photo(lab, image, lesson=labels.DEFAULT_LESSON):
    """The page's photo box -> the Draw tab's outputs and the box itself: a refused file is taken out of the box
    (no broken-image icon) and its message stays in the verdict."""
    if image is None:  # removed, or taken out after a refusal: keep the message that says why
        return *(None for _ in SLOTS), preview_html(None), gr.update(), gr.update()
    try:
        return *read(lab, image, page=True, lesson=lesson_of(lesson)), gr.update()
    except gr.Error as refused:
        return *(None for _ in SLOTS), preview_html(None), refused.message, None


def correct(lab, sketch, label, lesson=labels.DEFAULT_LESSON):
    """(a drawing, the class it really is, the lesson it was read in) -> a short message: its 28x28 (and its
    strokes, when it came as strokes) is kept as a correction, with what each model read (within ``lesson``) and
    the time; nothing about the person. The page's "Teach it" and /correct alike; refused (with what to do) when
    this server does not collect corrections."""
    image, lesson = sketch_part(sketch, "correct"), lesson_of(lesson)
    if not isinstance(label, str) or not label:
        return CHOOSE_CLASS
    x28, tops = look(lab, lab.models.pair, image, lesson)
    if x28 is None:
        return tops
    strokes = image if isinstance(image, Strokes) else None  # kept with the correction, for its Quick, Draw! export
    try:
        count, new = lab.classroom.correct(x28, label, tops, strokes)
    except CorrectionError as exc:
        return str(exc)
    kept = "Kept" if new else "Already kept"
    return (
        f"{kept} as **{labels.display_name(label)}**: {count:,} correction{'s' * (count != 1)} on this server. "
        "The Retrain tab can teach the models with them."
    )


# ---------------------------------------------------------------- what the tab shows


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


def build(lab) -> DrawTab:
    """The Draw tab and its events, serving ``lab``."""
    with gr.Tab("Draw", id="draw"):
        serving = gr.Markdown(serving_note(lab), elem_id="serving")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                drawing = pad.stroke_pad(PAD_ID)
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

    # The page's own events (private) read the drawing each time the pen is lifted, last drawing wins, and then say
    # why; programs call the gr.api endpoints, which take the payload as sent and say what to send instead.
    shown = [*label_boxes, preview, verdict_box]
    private = {"api_visibility": "private", "show_progress": "hidden", "concurrency_limit": PREDICT_CONCURRENCY}
    gr.on(
        [drawing.change, lesson_pick.change],
        bind(draw, lab),
        [drawing, lesson_pick],
        shown,
        api_name="draw",
        trigger_mode="always_last",
        **private,
    )
    photo.change(
        bind(show_photo, lab),
        [photo, lesson_pick],
        [*shown, photo],
        api_name="draw_photo",
        preprocess=False,
        **private,
    )
    correct_pick.focus(None, js=class_pick.EXACT_CASE_JS)
    corrected = correct_button.click(
        bind(correct, lab),
        [drawing, correct_pick, lesson_pick],
        correct_note,
        api_name="correct_drawing",
        api_visibility="private",
        trigger_mode="once",
    )
    return DrawTab(serving, label_boxes, why_boxes, corrected, lesson_pick)
