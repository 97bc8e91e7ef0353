"""The classroom: what a class gives the server and what it has done, kept for the whole class.

Corrections ("it was ___", from the Draw tab), the Challenge's drawings (each labelled by the class it asked for)
and the class scores (the server-wide tally of who read what). Changing them for everyone (clearing the corrections,
resetting the scores) is asked of the guard first; collecting is too, since a server may be told not to collect.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from emnist_core.lab import challenge
from emnist_core.lab.corrections import CHALLENGE, CORRECTION, CorrectionError, Corrections, CorrectionStore
from emnist_core.lab.guard import CLEAR_CORRECTIONS, COLLECT, RESET_SCORES, Guard, Refused, Teacher
from emnist_core.lab.scores import ClassScores, ScoresWriteError, scores_path

ANSWERS_REMEMBERED = 100_000  # prompts remembered as answered: a class's whole day
REPEAT_SECONDS = 10  # the same drawing told as the same class again this soon is one press pressed twice
SCORES_NOT_SAVED = (
    "This drawing was not counted: the class scores could not be saved on this server ({error}). The scores so far "
    "are kept; drawing goes on, and the server's owner should check its disk."
)


class Kept(NamedTuple):
    """What ``Classroom.correct`` did: how many corrections the server keeps now, and whether this one is new."""

    count: int
    new: bool


class Classroom:
    """Corrections, Challenge drawings and class scores, in ``store``'s folder (default: ``CorrectionStore()``'s)."""

    def __init__(self, guard: Guard, store: CorrectionStore | None = None):
        self._guard = guard
        self._store = store or CorrectionStore()  # EMNIST_CORRECTIONS_DIR, else under the cache
        self._scores = ClassScores(scores_path(self._store.folder))  # the Challenge's tally, beside them
        self._last = None  # (what was last told, when): a double press keeps one correction
        self._answered = OrderedDict()  # the prompts answered lately (``claim``)
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        """Where everything the class gave is kept (what ``hub.push_corrections`` pushes)."""
        return self._store.folder

    # ---------------------------------------------------------------- corrections

    def correct(self, x28, label: str, tops, strokes=None) -> Kept:
        """Keep what a person says a drawing really was (its 28x28, the class, what each model read, and its strokes
        when it came as strokes) -> (how many corrections are kept now, whether this one is new). The same drawing
        told as the same class again within ``REPEAT_SECONDS`` (a double press) is not kept twice.
        CorrectionError, with a message to show, when it is refused."""
        try:
            self._guard.check(COLLECT)
        except Refused as exc:
            raise CorrectionError(str(exc)) from None
        told = hashlib.sha256(np.ascontiguousarray(x28, np.uint8).tobytes() + str(label).encode()).digest()
        with self._lock:
            now = time.monotonic()
            repeated = self._last is not None and self._last[0] == told and now - self._last[1] < REPEAT_SECONDS
            if not repeated:
                self._store.add(x28, label, tops, strokes=strokes)
            self._last = (told, now)
        return Kept(self._store.count(CORRECTION), not repeated)  # challenge drawings are counted apart

    def count(self) -> int:
        """Corrections and Challenge drawings kept: what fine-tuning can learn from."""
        return self._store.count()

    def corrections(self) -> Corrections:
        """Every correction and Challenge drawing, oldest first: what fine-tuning trains on."""
        return self._store.load()

    def export_csv(self, folder) -> Path:
        """All corrections as one Kaggle-style EMNIST CSV in ``folder`` (CorrectionError when there are none)."""
        return self._store.export_csv(folder)

    def export_ndjson(self, folder) -> tuple[Path, int]:
        """The drawings that kept their strokes as Quick, Draw!'s simplified ndjson in ``folder``: (the file, how
        many); CorrectionError when there are none."""
        return self._store.export_ndjson(folder)

    def clear(self, teacher: Teacher | None = None) -> int:
        """Delete every correction and Challenge drawing (the scores stay), at ``teacher``'s asking; how many were
        deleted. Refused by the guard."""
        self._guard.check(CLEAR_CORRECTIONS, teacher)
        return self._store.clear()

    # ---------------------------------------------------------------- the Challenge

    def new_round(self, order=challenge.DEFAULT_ORDER, drawn_report: dict | None = None, seed=None):
        """A new round over the 47 classes for one page: shuffled, or hardest first by ``drawn_report`` (the live
        CNN's recall on drawn characters; shuffled without one: ``Round.kind`` says which)."""
        return challenge.new_round(order, drawn_report, seed)

    def claim(self, key) -> bool:
        """Whether ``key`` (a round's prompt: (round id, position)) is answered here for the first time; False for a
        second claim, so a prompt that *Done* and the time limit answer at once is counted once."""
        with self._lock:
            if key in self._answered:
                return False
            self._answered[key] = True
            while len(self._answered) > ANSWERS_REMEMBERED:
                self._answered.popitem(last=False)
            return True

    def answer(self, x28, asked, tops, strokes=None, key=None) -> challenge.ChallengeResult | None:
        """A challenge drawing (its 28x28 ``x28``; ``tops``: what the live models read; ``strokes``: its pen strokes
        when it came as such) of the class ``asked``: counted in the class scores, and kept, labelled by its prompt,
        as a challenge drawing when this server collects drawings and the store has room (else the result's note
        says why not). ``key``: the prompt it answers (``claim``): None when that prompt was answered already.
        ChallengeError for a class the models do not know or a wrong image, or when the count could not be saved
        (nothing counted then, and the prompt may be answered again)."""
        reading = challenge.read_answer(tops, asked)
        if getattr(x28, "shape", None) != (28, 28):
            raise challenge.ChallengeError("the drawing must be the preprocessed 28x28 the models read")
        if key is not None and not self.claim(key):
            return None
        try:
            self._scores.add(reading.asked, reading.right)
        except ScoresWriteError as exc:
            with self._lock:
                self._answered.pop(key, None)
            raise challenge.ChallengeError(SCORES_NOT_SAVED.format(error=exc)) from None
        if not self._guard.allows(COLLECT):
            return challenge.ChallengeResult(reading, None, challenge.NOT_KEPT)
        try:
            kept = self._store.add(x28, reading.asked, tops, source=CHALLENGE, strokes=strokes)
        except CorrectionError as exc:  # the store is full, or a bad image: counted, said, not kept
            return challenge.ChallengeResult(reading, None, f"Counted in the class scores; not kept: {exc}")
        return challenge.ChallengeResult(reading, kept)

    def scores(self) -> dict:
        """The class scores (``ClassScores.as_dict``: totals and per class)."""
        return self._scores.as_dict()

    def scores_summary(self) -> str:
        return self._scores.summary()

    def scores_rows(self) -> list[list]:
        """The class scores as the table's rows: [class, drawn, one % per model], classes drawn only."""
        return self._scores.rows()

    def reset_scores(self, teacher: Teacher | None = None) -> int:
        """Clear the class scores (the drawings kept stay), at ``teacher``'s asking; how many drawings they had
        counted. Refused by the guard: on a public server a stranger must not wipe a class's scores."""
        self._guard.check(RESET_SCORES, teacher)
        return self._scores.reset()

    def drawing_ids(self) -> tuple[str, ...]:
        """The ids of the class's Challenge drawings, oldest first (a folder listing: no drawing is read)."""
        return self._store.ids(CHALLENGE)

    def latest_drawings(self, count: int) -> Corrections:
        """The class's ``count`` newest Challenge drawings, oldest first, with what each model read (the class
        view's mosaic): only those files are read."""
        return self._store.load(CHALLENGE, newest=count)

    def drawings(self) -> Corrections:
        """The class's Challenge drawings as a test set (``.x`` 28x28 images, ``.y`` the prompts' class indices),
        oldest first."""
        return self._store.load(CHALLENGE)
