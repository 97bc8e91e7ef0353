"""Input checks at the page's and the API's boundary: what is refused, with a message that says what to send,
and the one reader of a sketch, for the page's sketchpad and for programs alike."""

from __future__ import annotations

import logging
from typing import Literal, TypedDict

import gradio as gr
import numpy as np
from gradio.data_classes import FileData

from emnist_core.data import labels
from emnist_core.lab.live import check_test_set
from emnist_core.models.evaluation import DRAWN, EMNIST
from emnist_core.models.registry import SLOTS
from ui import pad

CLASSES = list(labels.label_map("bymerge").names)  # what a person may say a character is
# The Confusions tab's test sets: EMNIST's scanned test images, or characters drawn with a pen by writers
# no model trained on (UNIPEN test, rendered with the sketchpad's brush). Key: the report's dataset.
TEST_SET_NAMES = {EMNIST: "EMNIST test images", DRAWN: "Drawn characters (UNIPEN)"}
MAX_MESSAGE = 300  # characters of an error message, at most
SKETCH_TAKES = (
    '/{} cannot use what was sent. It takes a drawing: its strokes ({{"strokes": [[xs, ys], ...]}}, as the page '
    'sends them), a sketch ({{"composite": an image file}}), or the image file alone.'
)
PHOTO_TAKES = "/predict_photo cannot use what was sent. It takes Photo: an image file."
# Gradio's tag on a file sent to it, which it gives only once it checked the file was uploaded to this server: a
# {"path": ...} without it could name any file here.
GRADIO_FILE = "gradio.FileData"
log = logging.getLogger("emnist_sketch_lab")
# The lessons an API caller may name; a Literal, so that the API page lists them.
Lesson = Literal[tuple(labels.LESSONS)]
LESSON_CHOICES = [(words, key) for key, words in labels.LESSONS.items()]  # the page's lesson controls


class Sketch(TypedDict, total=False):
    """A drawing as a program sends it: pen strokes, as the page's pad sends them ({"strokes": [[xs, ys, ts], ...]}
    in pad pixels, 0-400, y down); or an image, as a sketchpad's value (the composite is read first, then the first
    layer, then the background) or the image file alone."""

    strokes: list[list[list[float]]]
    composite: FileData | None
    background: FileData | None
    layers: list[FileData]


def refuse(message: str, cause: Exception | None = None) -> gr.Error:
    """A bad input's message, for the page or the API caller; not a server fault, so no traceback in the log."""
    if len(message) > MAX_MESSAGE:
        message = f"{message[: MAX_MESSAGE // 2]} ... {message[-MAX_MESSAGE // 2 :]}"
    log.info("input refused: %s%s", message, f" ({type(cause).__name__}: {str(cause)[:200]})" if cause else "")
    return gr.Error(message, print_exception=False)


def is_file(value) -> bool:
    """An uploaded file as Gradio hands it over undecoded: {"path": ..., "meta": {"_type": GRADIO_FILE}, ...}."""
    meta = value.get("meta") if isinstance(value, dict) else None
    return isinstance(meta, dict) and meta.get("_type") == GRADIO_FILE and bool(value.get("path"))


def is_image(value) -> bool:
    """An image to read: an array (what the page's sketchpad sends) or an uploaded file (what a program sends)."""
    return isinstance(value, np.ndarray) or is_file(value)


def sketch_part(value, endpoint: str):
    """A drawing as the page or a program sent it to ``endpoint`` -> its strokes or the image to read, or None for an
    empty canvas.

    The page's pad sends its strokes ({"strokes": [...]}): they come back checked (``strokes.checked``), to be drawn
    with the sketchpad's brush where they are read. A sketchpad's value is {"composite": ..., "layers": [...],
    "background": ...}: as the sketchpad does, the composite is read first, then the first layer, then the
    background. A bare image (file or array) is read as the drawing. Anything else is refused with what to send.
    """
    if pad.is_strokes(value):
        try:
            return pad.checked_strokes(value) or None
        except ValueError as exc:
            raise refuse(f"/{endpoint} cannot use the strokes sent. {exc}") from None
    if value is None or isinstance(value, np.ndarray) or (isinstance(value, dict) and "path" in value):
        part = value  # a bare image, or a file reference refused below unless Gradio checked it
    elif isinstance(value, dict) and isinstance(value.get("layers") or [], list):
        parts = (value.get("composite"), *(value.get("layers") or []), value.get("background"))
        part = next((p for p in parts if p is not None), None)
    else:
        raise refuse(SKETCH_TAKES.format(endpoint))
    if part is not None and not is_image(part):
        raise refuse(SKETCH_TAKES.format(endpoint))
    return part


def photo_part(value):
    """What a program sent /predict_photo -> the image file to read, or None; anything else is refused with
    what to send."""
    if value is not None and not is_file(value):
        raise refuse(PHOTO_TAKES)
    return value


def missing_model(slot) -> str:
    if slot in SLOTS:
        return f"No {SLOTS[slot]} is available on this server: its model file could not be loaded."
    return f"Unknown model; choose one of {', '.join(SLOTS)}."


def live_model(lab, slot):
    """The live model in ``slot``, or None when that slot is empty; anything but a slot's name is refused."""
    if not isinstance(slot, str) or slot not in SLOTS:
        raise refuse(missing_model(None))
    return lab.models.get(slot)


def test_set_of(value) -> str:
    """A test set's name as sent -> the report's dataset; none (an old client sends none) means EMNIST's, and any
    other name is refused with the choices."""
    if value is None:
        return EMNIST
    try:
        return check_test_set(value)
    except ValueError as exc:
        raise refuse(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


def lesson_of(value) -> str:
    """A lesson's name as sent -> its key (``labels.LESSONS``); none (an old client sends none) means all classes,
    and any other name is refused with the choices."""
    try:
        return labels.check_lesson(value)
    except ValueError as exc:
        raise refuse(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
