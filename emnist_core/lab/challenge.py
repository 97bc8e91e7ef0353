"""The Challenge: the page names a character, the student draws it, and both models answer.

A ``Round`` (one per student's page) asks for each of the 47 ByMerge classes once, shuffled or hardest first
(hardest = the live CNN's lowest recall on the drawn test characters), and keeps the student's score per model.
``read_answer`` says who read a drawing as the class asked (the MLP, the CNN, both or neither). The server-wide
tally is ``scores.ClassScores``; each challenge drawing is kept, labelled by its prompt, in the corrections store
(``corrections.CHALLENGE``), and ``class_drawings_report`` scores a live model on them as a test set: the same
report (summary, matrix, pairs, ``evaluation.find_mistakes`` gallery) as on any other test set.

This module does not import Keras; a round is plain Python that a page keeps in its state.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from emnist_core.data.labels import DEFAULT_LESSON, MERGED_LOWERCASE, class_from_text, display_name, label_map
from emnist_core.lab.corrections import Corrections
from emnist_core.lab.scores import SPOKEN_ORDER
from emnist_core.models import evaluation
from emnist_core.models.registry import SLOTS

SPLIT = "bymerge"  # the classes a round asks for
ORDERS = {"shuffled": "Shuffled", "hardest": "Hardest first"}
DEFAULT_ORDER = "shuffled"
ORDER_SLOT = "cnn"  # hardest first goes by this model's drawn-test recall
BOTH, NEITHER = "both", "neither"
CLASS_DRAWINGS = "challenge"  # the test set name of the class's own drawings (a report's "dataset")
ALL_CLASSES = DEFAULT_LESSON  # a challenge is read among all 47 classes, whatever lesson a page is in
EVAL_CHUNK = 256  # drawings per call when scoring: a live stroke never waits long behind a whole test set
NO_DRAWINGS = (
    "The class has not drawn anything in the Challenge yet (or this server does not keep drawings): "
    "play a round under the Challenge tab, then come back."
)
NOT_KEPT = (
    "Counted in the class scores; the drawing itself was not kept: this server does not collect "
    "drawings (training is turned off here)."
)
RESET_OFF = (
    "Training is turned off on this server, so the class scores cannot be reset here: on a public server a "
    "stranger must not wipe what a class did. The server's owner can reset them."
)


class ChallengeError(ValueError):
    """A challenge request was refused (unknown class, a reset while training is off ...); the message says
    what to do."""


def check_order(order) -> str:
    """A round's order as given (None or "" mean ``DEFAULT_ORDER``) -> its key; ChallengeError otherwise."""
    key = DEFAULT_ORDER if order is None or str(order).strip() == "" else str(order).strip().lower()
    if key not in ORDERS:
        raise ChallengeError(f"unknown order {str(order)[:20]!r}; choose one of {', '.join(ORDERS)}")
    return key


def asked_class(text) -> str:
    """The class a student was asked for, as a caller sends it ("g", "c", "C / c") -> its ByMerge name;
    ChallengeError, naming the classes, for anything else."""
    names = label_map(SPLIT).names
    name = class_from_text(text, names)
    if name is None:
        shown = str(text or "").strip()[: evaluation.CLASS_ECHO]
        raise ChallengeError(f"{shown!r} is not a class the models know; ask for one of {' '.join(names)}")
    return name


def prompt_text(name: str) -> str:
    """What the page asks a pupil to draw: "g (lower case)" and "A (capital)" where the other case is another
    class, "C / c" where ByMerge holds both cases, "0 (zero)" for a look-alike on screen (``labels.display_name``)."""
    shown = display_name(name)
    names = label_map(SPLIT).names
    if not name.isalpha() or name.lower() in MERGED_LOWERCASE:
        return shown
    other = name.upper() if name.islower() else name.lower()
    if other in names:
        return f"{shown} ({'lower case' if name.islower() else 'capital'})"
    return shown


def hardest_first(drawn_report: Mapping) -> tuple[str, ...]:
    """Every class, the lowest drawn-test recall first (ties in label order); a class the report lacks goes last."""
    names = label_map(SPLIT).names
    per_class = drawn_report.get("per_class") or {}
    recall = {
        n: float(per_class[n]["recall"])
        for n in names
        if isinstance(per_class.get(n), Mapping) and "recall" in per_class[n]
    }
    return tuple(sorted(names, key=lambda n: (n not in recall, recall.get(n, 0.0), names.index(n))))


def class_order(order=DEFAULT_ORDER, drawn_report: Mapping | None = None, seed=None) -> tuple[tuple[str, ...], str]:
    """(the 47 classes in the order a round asks for them, the order used): "hardest" needs the CNN's drawn
    report, and without one the round is shuffled (the order used says so)."""
    order = check_order(order)
    if order == "hardest" and drawn_report:
        return hardest_first(drawn_report), order
    names = list(label_map(SPLIT).names)
    random.Random(seed).shuffle(names)
    return tuple(names), "shuffled"


@dataclass(frozen=True)
class Reading:
    """What each model read a challenge drawing as, against the class asked."""

    asked: str
    answers: dict  # {slot: its top class, or None when that model gave no answer}

    @property
    def right(self) -> tuple[str, ...]:
        """The slots that read it as the class asked, in ``SLOTS`` order."""
        return tuple(slot for slot in SLOTS if self.answers.get(slot) == self.asked)

    @property
    def who(self) -> str:
        """ "both", "mlp", "cnn" or "neither"."""
        right = self.right
        return BOTH if len(right) == len(SLOTS) else right[0] if right else NEITHER

    def words(self) -> str:
        """ "Both models read it.", "The CNN read it; the MLP took it for 9.", "Neither model read it: ..."."""
        wrong = [
            f"the {SLOTS[s]} took it for {display_name(self.answers[s])}"
            for s in SLOTS
            if self.answers.get(s) not in (None, self.asked)
        ]
        if self.who == BOTH:
            return "Both models read it."
        if self.who == NEITHER:
            return f"Neither model read it{': ' + ', '.join(wrong) if wrong else ''}."
        return f"The {SLOTS[self.who]} read it{'; ' + ', '.join(wrong) if wrong else ''}."

    def as_dict(self) -> dict:
        return {"asked": self.asked, "read_by": self.who, "answers": dict(self.answers)}


def read_answer(tops: Mapping, asked) -> Reading:
    """``tops`` ({slot: [(class, probability), ...]}, best first, as ``Predictor.predict_drawing`` gives) and the
    class asked -> who read it. A model missing from ``tops`` read nothing."""
    name = asked_class(asked)
    answers = {}
    for slot in SLOTS:
        guesses = list(tops.get(slot) or []) if isinstance(tops, Mapping) else []
        answers[slot] = str(guesses[0][0]) if guesses else None
    return Reading(name, answers)


@dataclass
class Round:
    """One student's round: the classes in the order asked, where the round is, the round score per model.
    Plain data: a page keeps it in its state, one per page, so it needs no lock."""

    order: tuple[str, ...]
    kind: str = DEFAULT_ORDER  # the order actually used: "shuffled" or "hardest"
    uid: str = field(default_factory=lambda: secrets.token_hex(8))  # names this round's prompts: (uid, position)
    position: int = 0
    score: dict = field(default_factory=lambda: {slot: 0 for slot in SLOTS})  # {slot: drawings it read right}
    drawn: int = 0  # drawings answered (a skipped prompt is not one)

    @property
    def done(self) -> bool:
        return self.position >= len(self.order)

    @property
    def prompt(self) -> str | None:
        """The class to draw now (its plain ByMerge name), or None when the round is over."""
        return None if self.done else self.order[self.position]

    @property
    def prompt_words(self) -> str:
        """ "Draw: g (lower case)", or that the round is over."""
        return "The round is over." if self.done else f"Draw: {prompt_text(self.prompt)}"

    def answer(self, tops: Mapping, asked=None) -> Reading:
        """Score the drawing of the class asked now (``asked``, when given, must be it) and move on."""
        if self.done:
            raise ChallengeError("This round is over: start a new round.")
        if asked is not None and asked_class(asked) != self.prompt:
            raise ChallengeError(f"This round asks for {prompt_text(self.prompt)} now, not {str(asked)[:12]!r}.")
        reading = read_answer(tops, self.prompt)
        for slot in reading.right:
            self.score[slot] += 1
        self.drawn += 1
        self.position += 1
        return reading

    def skip(self) -> None:
        """Move on without a drawing (the time ran out on an empty pad): nothing is scored."""
        if not self.done:
            self.position += 1

    def summary(self) -> str:
        """ "12 of 47 drawn: CNN 10, MLP 8."."""
        scores = ", ".join(f"{SLOTS[slot]} {self.score[slot]}" for slot in SPOKEN_ORDER)
        return f"{self.drawn} of {len(self.order)} drawn: {scores}."


def new_round(order=DEFAULT_ORDER, drawn_report: Mapping | None = None, seed=None) -> Round:
    """A round over the 47 classes; ``drawn_report``: the live CNN's report on drawn input (for "hardest")."""
    classes, used = class_order(order, drawn_report, seed)
    return Round(classes, used)


@dataclass(frozen=True)
class ChallengeResult:
    """What ``Lab.answer_challenge`` did with one drawing: who read it, and whether the drawing was kept."""

    reading: Reading
    kept: str | None  # its id in the corrections store, or None when it was not kept
    note: str = ""  # why it was not kept

    def as_dict(self) -> dict:
        return {**self.reading.as_dict(), "kept": self.kept is not None, "note": self.note}


@dataclass(frozen=True)
class ClassDrawings:
    """A live model scored on the class's challenge drawings: the report (as ``evaluation``'s: summary figures,
    per class, confusion matrix, confused pairs, mistakes indexing ``x``) and the drawings themselves."""

    report: dict
    x: np.ndarray  # uint8 (N, 28, 28), what the models read
    y: np.ndarray  # ByMerge class indices: the prompts
    times: tuple[datetime, ...]


def drawing_probabilities(probabilities, x: np.ndarray) -> dict[str, np.ndarray]:
    """{slot: probabilities (N, classes)} for the drawings ``x``, through ``probabilities`` (a Predictor's,
    calibrated as served) in chunks of ``EVAL_CHUNK``, so a live stroke never waits behind a whole test set."""
    parts = [probabilities(x[start : start + EVAL_CHUNK]) for start in range(0, len(x), EVAL_CHUNK)]
    return {slot: np.concatenate([part[slot] for part in parts]) for slot in (parts[0] if parts else {})}


def class_drawings_report(
    drawings: Corrections, probs: np.ndarray, model_name: str, lesson: str = ALL_CLASSES
) -> ClassDrawings:
    """The report of a model (``probs``: its probabilities for ``drawings``) on the class's drawings, within
    ``lesson`` (``evaluation.lesson_report``)."""
    report = evaluation.lesson_report(probs, drawings.y, label_map(SPLIT), lesson)
    report.update(dataset=CLASS_DRAWINGS, part="challenge", model=model_name)
    return ClassDrawings(report, drawings.x, drawings.y, drawings.times)
