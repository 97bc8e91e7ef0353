"""Class scores: how often the class drew each character when the Challenge asked for it, and how often each
model read it right, counted for the whole server.

``ClassScores(path).add("q", ("cnn",))`` counts one drawing of q that the CNN read right and the MLP did not.
Thirty students answering at once are counted exactly: one lock makes each answer's count and its write one step.
After every answer the whole tally is written to one small JSON file (``cache.atomic_write``: a reader, or a
process killed mid-write, never sees half a file), so a restarted server starts from the same figures. One server
process owns the file: a second process writing the same file would overwrite the first one's counts.

Nothing about a person is kept: a tally is 47 classes' counts. ``reset`` clears it; the Lab refuses a reset while
training is switched off (``Lab.reset_class_scores``), as it refuses clearing corrections.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from emnist_core.data import cache
from emnist_core.data.labels import display_name, label_map
from emnist_core.models.registry import SLOTS

FORMAT = "emnist-sketch-lab class scores"
FORMAT_VERSION = 1
SPLIT = "bymerge"  # the classes a challenge asks for
FOLDER, FILE_NAME = "scores", "class-scores.json"  # in the corrections folder: kept where the class's drawings are
DAMAGED_SUFFIX = ".damaged"
DRAWN = "drawn"
RIGHT = {slot: f"{slot}_right" for slot in SLOTS}  # "mlp_right", "cnn_right": the names /class_scores gives
MIN_DRAWN_FOR_HARDEST = 3  # a class drawn fewer times says nothing about being hard, unless no class has more
SPOKEN_ORDER = ("cnn", "mlp")  # the summary names the better model first
HARDEST_BY = "cnn"  # the model whose rate names the hardest class: the one that reads drawings best
NOTHING_YET = "The class has not drawn anything in the Challenge yet."

log = logging.getLogger(__name__)


class ScoresWriteError(OSError):
    """The tally could not be written (its message says why, without the server's paths); nothing was counted."""


def scores_path(corrections_folder) -> Path:
    """Where a server keeps its class scores: a subfolder of its corrections folder, which ``CorrectionStore``
    never reads as corrections and its ``clear`` leaves alone."""
    return Path(corrections_folder) / FOLDER / FILE_NAME


def _empty_counts() -> dict[str, int]:
    return {DRAWN: 0, **{key: 0 for key in RIGHT.values()}}


class ClassScores:
    """The server-wide tally per class and per model, kept in ``path`` (see the module doc). Thread-safe."""

    def __init__(self, path):
        self.path = Path(path)
        self.names = label_map(SPLIT).names
        self._lock = threading.Lock()
        self._counts = self._read()  # {class: {"drawn", "mlp_right", "cnn_right"}}, classes drawn at least once

    # ---------------------------------------------------------------- counting

    def add(self, asked: str, right: Iterable[str]) -> None:
        """Count one drawing of class ``asked`` (a ByMerge class name) that the models in ``right`` (slots,
        "mlp"/"cnn") read as ``asked``; written to disk before this returns. ScoresWriteError when the file cannot
        be written: then nothing is counted, and the figures stay those on disk."""
        if asked not in self.names:
            raise ValueError(f"{str(asked)[:12]!r} is not a ByMerge class; choose one of {' '.join(self.names)}")
        right = set(right)
        unknown = right - set(SLOTS)
        if unknown:
            raise ValueError(f"unknown model slot(s) {sorted(unknown)}; the slots are {', '.join(SLOTS)}")
        with self._lock:
            counts = {name: dict(c) for name, c in self._counts.items()}  # counted in a copy, kept once written
            counted = counts.setdefault(asked, _empty_counts())
            counted[DRAWN] += 1
            for slot in right:
                counted[RIGHT[slot]] += 1
            self._write(counts)
            self._counts = counts

    def reset(self) -> int:
        """Start counting from nothing; return how many drawings the cleared tally had counted. ScoresWriteError
        (and nothing cleared) when the file cannot be written."""
        with self._lock:
            cleared = sum(c[DRAWN] for c in self._counts.values())
            self._write({})
            self._counts = {}
        return cleared

    # ---------------------------------------------------------------- reading

    def as_dict(self) -> dict:
        """``{"drawings", "mlp_right", "cnn_right", "per_class": {class: {"drawn", "mlp_right", "cnn_right"}}}``:
        the totals and every class drawn at least once, in label order (what ``/class_scores`` returns)."""
        with self._lock:
            per_class = {name: dict(self._counts[name]) for name in self.names if name in self._counts}
        totals = {key: sum(c[key] for c in per_class.values()) for key in (DRAWN, *RIGHT.values())}
        return {"drawings": totals[DRAWN], **{key: totals[key] for key in RIGHT.values()}, "per_class": per_class}

    def summary(self) -> str:
        """In words: "The class drew 312 characters; the CNN read 91%, the MLP 87%; hardest: q, CNN 62%."."""
        scores = self.as_dict()
        drawn = scores["drawings"]
        if not drawn:
            return NOTHING_YET
        rate = lambda slot: f"{scores[RIGHT[slot]] / drawn:.0%}"
        first, *rest = SPOKEN_ORDER
        text = (
            f"The class drew {drawn:,} character{'s' * (drawn != 1)}; the {SLOTS[first]} read {rate(first)}"
            + "".join(f", the {SLOTS[slot]} {rate(slot)}" for slot in rest)
        )
        hardest = hardest_class(scores["per_class"])
        if hardest is not None:
            name, slot, rate = hardest
            text += f"; hardest: {display_name(name)}, {SLOTS[slot]} {rate:.0%}"
        return text + "."

    def rows(self) -> list[list]:
        """The table: [class as shown, drawn, MLP right %, CNN right %] per class drawn, in label order."""
        return [
            [display_name(name), c[DRAWN], *(round(100 * c[RIGHT[slot]] / c[DRAWN]) for slot in SLOTS)]
            for name, c in self.as_dict()["per_class"].items()
        ]

    # ---------------------------------------------------------------- the file

    def _write(self, counts: dict) -> None:
        record = {"format": FORMAT, "version": FORMAT_VERSION, "per_class": counts}
        text = json.dumps(record, separators=(",", ":"), sort_keys=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            cache.atomic_write(self.path, lambda tmp: tmp.write_text(text))
        except OSError as exc:  # a full disk, a read-only folder: the caller says so; the counts stay as on disk
            log.warning("class scores not written to %s: %s", self.path, exc)
            raise ScoresWriteError(exc.strerror or type(exc).__name__) from exc

    def _read(self) -> dict:
        """The tally on disk, or nothing when there is none. A damaged file is set aside under another name
        (logged), never fatal and never overwritten: counting starts again beside it."""
        try:
            return _checked(json.loads(self.path.read_text()), self.names)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:  # ValueError covers bad JSON
            aside = self.path.with_name(f"{self.path.name}{DAMAGED_SUFFIX}-{time.strftime('%Y%m%d-%H%M%S')}")
            log.warning("class scores %s set aside as %s, counting starts again: %s", self.path, aside.name, exc)
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            return {}


def _checked(record, names) -> dict:
    """A tally file's record -> its counts; ValueError for anything but what ``_write`` writes."""
    if record.get("format") != FORMAT or record.get("version") != FORMAT_VERSION:
        raise ValueError("not a class scores file this program writes")
    counts = {}
    for name, c in record["per_class"].items():
        if name not in names or set(c) != set(_empty_counts()):
            raise ValueError(f"bad entry for class {name!r}")
        if not all(isinstance(v, int) and v >= 0 for v in c.values()) or max(c.values()) > c[DRAWN]:
            raise ValueError(f"bad counts for class {name!r}: {c}")
        counts[name] = {key: c[key] for key in _empty_counts()}
    return counts


def hardest_class(per_class: dict) -> tuple[str, str, float] | None:
    """(class, slot, rate): the class the CNN read least often, among those drawn at least
    ``MIN_DRAWN_FOR_HARDEST`` times (any drawn, if none was); ties go to the class drawn more. None when nothing
    was drawn, or when the CNN read every drawing right: no class was hard then."""
    if not per_class:
        return None
    slot = HARDEST_BY
    enough = {n: c for n, c in per_class.items() if c[DRAWN] >= MIN_DRAWN_FOR_HARDEST} or per_class
    name = min(enough, key=lambda n: (enough[n][RIGHT[slot]] / enough[n][DRAWN], -enough[n][DRAWN]))
    rate = enough[name][RIGHT[slot]] / enough[name][DRAWN]
    return None if rate == 1 else (name, slot, rate)
