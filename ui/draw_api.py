"""The Draw tab's endpoints for programs: /predict, /explain, /predict_photo and /correct, ``gr.api`` endpoints that
take the payload as sent (strokes, a sketch or an image file), check it (``checks``) and do what the tab does, with
the tab's own handlers (``ui/draw.py``). Their type hints are what the API page shows."""

from __future__ import annotations

from typing import TypedDict

import gradio as gr
from gradio.data_classes import FileData

from emnist_core.data import labels
from emnist_core.models.registry import SLOTS
from ui.checks import Lesson, Sketch, photo_part
from ui.draw import TOP_K, correct, explain, predict, predict_photo
from ui.page import PREDICT_CONCURRENCY, as_api, bind, typed_answers

# Components that shape the API's answers as the Draw tab's own would be sent (a ``gr.api`` endpoint skips their
# postprocess), never rendered. Made here, not in a handler: a component made in a handler is an update.
ANSWER_OUTPUTS = (
    *(gr.Label(num_top_classes=TOP_K, render=False) for _ in SLOTS),
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
    """A drawing: its strokes {"strokes": [[xs, ys], ...]} (pad pixels 0-400, y down), a sketch {"composite": image
    file} or the image file alone; and the lesson (what is being drawn: all, digits, letters or upper; default all)
    -> (MLP top-5, CNN top-5, the 28x28 input as HTML, verdict), both models' answers within the lesson's classes."""
    return as_api(ANSWER_OUTPUTS, predict(lab, sketch, lesson))


def predict_photo_api(lab, photo: FileData | None = None) -> Answer:
    """A photo or scan of one character (an image file) -> the same four outputs as /predict."""
    return as_api(ANSWER_OUTPUTS, predict_photo(lab, photo_part(photo)))


def explain_api(
    lab, sketch: Sketch | FileData | None = None, lesson: Lesson = labels.DEFAULT_LESSON
) -> tuple[FileData | None, FileData | None, str]:
    """A drawing (strokes, a sketch or an image file, as /predict takes) and the lesson (default all) -> (MLP
    overlay, CNN overlay, captions): the 28x28 the models see, with heat where hiding the ink lowers each model's
    answer (within the lesson) most, and one line per model."""
    found = explain(lab, sketch, lesson)
    files = [OVERLAY_OUTPUT] * len(found)  # an image file per model, as an image component sends one
    return *as_api(files, [overlay for overlay, _ in found]), "\n".join(text for _, text in found)


def correct_api(
    lab, sketch: Sketch | FileData | None = None, label: str | None = None, lesson: Lesson = labels.DEFAULT_LESSON
) -> str:
    """(a drawing, as /predict takes it; the class it really is; the lesson it was drawn in: default all) -> a short
    message; the drawing's 28x28 (and its strokes, when sent as strokes) is kept as a correction with what the
    models read within the lesson (refused while EMNIST_DISABLE_TRAINING=1, unless EMNIST_ALLOW_CORRECTIONS=1)."""
    return correct(lab, sketch, label, lesson)


def endpoints(lab):
    """The ``gr.api`` endpoints that do what the Draw tab does, for programs; declared outside the page's tabs."""
    for handler, name in (
        (predict_api, "predict"),
        (explain_api, "explain"),
        (predict_photo_api, "predict_photo"),
        (correct_api, "correct"),
    ):
        gr.api(typed_answers(bind(handler, lab), handler), api_name=name, concurrency_limit=PREDICT_CONCURRENCY)
