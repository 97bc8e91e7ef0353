"""One kept drawing as a file: the JSON record ``CorrectionStore`` writes and reads, checked both ways.

A record holds the preprocessed 28x28 (as a PNG), the class chosen, each model's top guesses (only slot names, class
names and numbers: free text, anything personal, cannot ride along), a UTC time, and the pen strokes when it was
drawn as strokes. Nothing about the person or the session.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from emnist_core.data import files
from emnist_core.data import strokes as drawn_strokes
from emnist_core.data.labels import label_map
from emnist_core.models.evaluation import class_name

FORMAT = "emnist-sketch-lab correction"
FORMAT_VERSION = 1
SPLIT = "bymerge"  # the classes a correction may name, and the label numbers the exports use
MAX_TOP = 10  # guesses kept per model
SLOT_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,40}")  # a model slot's name ("mlp", "cnn"), never free text
CHALLENGE = "challenge"


class CorrectionError(ValueError):
    """A correction was refused (collection off, store full, bad label or image); the message says what to do."""


def class_index(label) -> int:
    """A ByMerge class name -> its class index (= its label number in the ByMerge files). A lower-case letter
    that ByMerge merges into its capital ("o", "s") names the capital."""
    labels = label_map(SPLIT)
    if not isinstance(label, str):
        raise CorrectionError(f"the class must be a character name such as 'Z' or 'a', got {label!r}")
    try:
        return labels.index_of(class_name(label, labels.names))
    except ValueError:
        raise CorrectionError(
            f"{label!r} is not a class the models know; choose one of {' '.join(labels.names)}"
        ) from None


def written(x28, label, tops, when, strokes=None, challenge: bool = False) -> tuple[datetime, str]:
    """A drawing's record, checked -> (its UTC time, its JSON text). CorrectionError says what is wrong."""
    image, index = _checked_image(x28), class_index(label)
    when = _utc(when)
    record = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "time": when.isoformat(timespec="microseconds"),
        "label": label_map(SPLIT).names[index],
        "tops": _checked_tops(tops),
        "image_png": _png(image),
    }
    if challenge:  # a correction's file stays exactly as before challenges existed
        record["source"] = CHALLENGE
    if strokes is not None:
        try:
            record["strokes"] = drawn_strokes.checked(strokes)
        except ValueError as exc:
            raise CorrectionError(str(exc)) from None
    return when, json.dumps(record, separators=(",", ":"))


def _utc(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(UTC)
    if not isinstance(when, datetime):
        raise CorrectionError(f"the time must be a datetime, got {type(when).__name__}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _checked_image(x28) -> np.ndarray:
    image = np.asarray(x28)
    if image.shape != (files.SIDE, files.SIDE):
        raise CorrectionError(f"the image must be the preprocessed 28x28 one the models saw, got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise CorrectionError(f"the image must hold numbers 0-255, got {image.dtype}")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 255:
        raise CorrectionError("the image's pixels must be 0-255 (white ink on black, as preprocess returns)")
    image = np.round(image).astype(np.uint8)
    if not image.any():
        raise CorrectionError("the image is blank: draw a character, then say what it was")
    return image


def _checked_tops(tops) -> dict:
    """{slot: [[class name, probability], ...]}: only names of model slots, class names and numbers, so free
    text (anything personal) cannot ride along."""
    if tops is None:
        return {}
    if not isinstance(tops, Mapping):
        raise CorrectionError("tops must map each model slot to its guesses: {'cnn': [('Z', 0.8), ...]}")
    names, clean = label_map(SPLIT).names, {}
    for slot, guesses in tops.items():
        if not isinstance(slot, str) or not SLOT_PATTERN.fullmatch(slot):
            raise CorrectionError(f"a model slot is a short name such as 'cnn', got {slot!r}")
        try:
            pairs = [(str(name), float(p)) for name, p in list(guesses)[:MAX_TOP]]
        except (TypeError, ValueError):
            raise CorrectionError(f"tops[{slot!r}] must be (class, probability) pairs") from None
        for name, p in pairs:
            if name not in names or not 0 <= p <= 1:
                raise CorrectionError(f"tops[{slot!r}]: ({name!r}, {p}) is not a ByMerge class with a probability 0-1")
        clean[slot] = [[name, round(p, 6)] for name, p in pairs]
    return clean


def _png(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _unpng(text: str) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(text, validate=True))) as img:
        if img.size != (files.SIDE, files.SIDE) or img.mode != "L":  # checked before decoding the pixels
            raise ValueError(f"image is {img.mode} {img.size[0]}x{img.size[1]}, not L 28x28")
        return np.asarray(img, dtype=np.uint8).copy()


def read(path: Path) -> tuple[datetime, np.ndarray, int, dict, list | None]:
    record = json.loads(path.read_text())
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError("not a correction file")
    if record.get("version") != FORMAT_VERSION:
        raise ValueError(f"format version {record.get('version')!r}, this program reads {FORMAT_VERSION}")
    when = datetime.fromisoformat(record["time"])
    if when.tzinfo is None:
        raise ValueError("time has no time zone")
    tops = record.get("tops") or {}
    if not isinstance(tops, dict):
        raise ValueError("tops is not a mapping")
    strokes = record.get("strokes")
    if strokes is not None:
        strokes = drawn_strokes.checked(strokes)
    return when.astimezone(UTC), _unpng(record["image_png"]), class_index(record["label"]), tops, strokes
