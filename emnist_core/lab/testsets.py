"""The test sets a server shows its models' mistakes on, as one registry: EMNIST's test images, characters drawn
with a pen (UNIPEN, drawn with the sketchpad's brush), and the class's own Challenge drawings.

Each file-backed set loads the same way (``Loading``): in a background thread on first need (EMNIST's at start,
since training needs it too), said while it loads, said once with what to do when it cannot be had, and tried
again by the next request after a failure. ``TestSets.report`` scores a live model on any of them as the page
serves it, within a lesson, and keeps the scores until the live pair (or the class's drawings) change.
"""

from __future__ import annotations

import logging
import os
import threading

import numpy as np

from emnist_core.data import datasets
from emnist_core.data.drawn import drawn_test
from emnist_core.data.labels import DEFAULT_LESSON, check_lesson, label_map
from emnist_core.lab import challenge
from emnist_core.lab.live import Pair, check_test_set
from emnist_core.models import evaluation
from emnist_core.models.evaluation import DRAWN, EMNIST

CLASS_DRAWINGS = challenge.CLASS_DRAWINGS
NAMES = (EMNIST, DRAWN, CLASS_DRAWINGS)
DRAWN_WAIT_SECONDS = 5  # a request for the drawn characters waits this long for them to load
# Said after the loader's own error, which names the files, the folders looked in and the command that fetches them.
HELP = {
    EMNIST: "Restart the app once the files are in place (EMNIST_DATA_DIR names their folder).",
    DRAWN: "Set UNIPEN_DATA_DIR to a copy of UNIPEN train_r01_v07 (see docs/data.md) and restart the app to "
    "browse the models' mistakes on drawn characters.",
}
WHAT = {EMNIST: "The EMNIST images", DRAWN: "The drawn characters"}
LOADING = {
    EMNIST: "The test images are still loading; try again in a few seconds.",
    DRAWN: "The drawn characters are still loading; try again in a minute.",
}
RETRY = "the next request tries again"
log = logging.getLogger(__name__)


def load_emnist():
    """The EMNIST test (and training) images: the full files from ``EMNIST_DATA_DIR`` or the usual places, else the
    demo data pack (``Dataset.source`` says which). An ``EMNIST_DATA_DIR`` that does not exist is an error, not a
    reason to fall back."""
    return datasets.load_dataset(EMNIST, os.environ.get("EMNIST_DATA_DIR") or None)


def unipen_dir():
    """The folder ``UNIPEN_DATA_DIR`` names, or None: look beside the project, then in the demo data pack."""
    return os.environ.get("UNIPEN_DATA_DIR") or None


def load_drawn():
    """UNIPEN's characters drawn with the sketchpad's brush: from the UNIPEN files (drawn once, about a minute, then
    cached) or else from the demo data pack (a fraction of a second)."""
    return datasets.load_dataset(DRAWN, unipen_dir=unipen_dir())


def load_drawn_pack():
    """The drawn characters from the demo data pack, even where the UNIPEN files are: the same test part, drawn the
    same way, in a fraction of a second where drawing the files takes a minute the first time (a server that must
    start quickly, and the tests)."""
    from emnist_core.data.drawn import unipen_dataset

    return unipen_dataset(pack_only=True)


def drawn_test_part(drawn):
    """(images, classes, sections) of the drawn characters' test part, as a model is scored on it; None where
    ``drawn`` holds none; FileNotFoundError or ValueError when its sections cannot be read."""
    return drawn_test(drawn, unipen_dir())


# A server's own loaders: named functions that a job's own process calls itself, reading the same files under the
# same environment, so that the server sends it a name rather than its images (``TestSets.own_loader``).
OWN_LOADERS = (load_emnist, load_drawn, load_drawn_pack)


class Loading:
    """One data set, loaded in a background thread on first need; a failure is said (``message``) and the next
    ``start`` tries again."""

    def __init__(self, name: str, loader):
        self.name, self.loader = name, loader
        self.value = None
        self.message = ""  # why the set is not here: loading, or what failed and what to do
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> threading.Thread:
        """The thread that loads the set: started on the first call, and again after a load failed."""
        with self._lock:
            if self._thread is None:
                if not self.message:  # a first load: "loading"; a retry keeps saying why the last one failed
                    self.message = LOADING[self.name] if self.value is None else ""
                thread = threading.Thread(target=self._load, name=f"load-{self.name}", daemon=True)
                thread.start()  # kept once started: a thread that could not start is tried again next time
                self._thread = thread
            return self._thread

    def wait(self, seconds: float | None = None):
        """The set once loaded (waiting up to ``seconds``, or for good), or None (``message`` says why)."""
        self.start().join(seconds)
        return self.value

    def _load(self):
        try:
            self.value = self.loader()
            if self.value is None:  # a loader that has nothing for this server
                raise FileNotFoundError("no data")
            self.message = ""
            return
        except (FileNotFoundError, ValueError) as exc:  # DataNotFoundError, UnipenNotFoundError, DataFileError ...
            self.message = f"{WHAT[self.name]} are not available on this server ({exc}). {HELP[self.name]}"
        except Exception as exc:  # anything else is said too: never "still loading" for ever
            log.exception("%s not loaded", self.name)
            self.message = f"{WHAT[self.name]} could not be loaded ({type(exc).__name__}: {exc}); {RETRY}."
        with self._lock:
            self._thread = None  # a later request starts a new load


def matches(report: dict, y: np.ndarray) -> bool:
    """Whether a saved report was made on the test images whose classes are ``y``: the same count, the same count
    per class, and each listed mistake's true class at its index. A report made on other data would show other
    images in the mistakes gallery."""
    if report.get("n") != len(y):
        return False
    names = report.get("classes") or []
    counts = np.bincount(y, minlength=len(names))
    per_class = report.get("per_class") or {}
    if any(per_class.get(name, {}).get("support") != int(counts[i]) for i, name in enumerate(names)):
        return False
    mistakes = report.get("misclassified") or []
    index = np.array([m[0] for m in mistakes], np.int64)
    return bool(len(index) == 0 or (index.max() < len(y) and (y[index] == [m[1] for m in mistakes]).all()))


class TestSets:
    """The registry (see the module doc). ``drawing_ids`` and ``drawings``: () -> the ids of the class's Challenge
    drawings (a listing, cheap) and () -> the drawings themselves (``corrections.Corrections``), from the classroom's
    store."""

    __test__ = False  # not a pytest test class

    def __init__(self, emnist_loader=load_emnist, drawn_loader=load_drawn, drawing_ids=tuple, drawings=None):
        self._sets = {EMNIST: Loading(EMNIST, emnist_loader), DRAWN: Loading(DRAWN, drawn_loader)}
        self._drawing_ids, self._drawings = drawing_ids, drawings
        self._scores = {}  # test set -> (pair, ids or None, x, y, sections, {slot: probs}, {(slot, lesson): report})
        self._lock = threading.Lock()  # two pages asking at once score a test set once
        self._sets[EMNIST].start()  # reading it takes seconds: after start, not before the first prediction

    # ---------------------------------------------------------------- the data

    def dataset(self, name: str, wait: float | None = 0):
        """The set's ``datasets.Dataset`` (waiting up to ``wait`` seconds; None: until loaded), or None:
        ``message`` says why."""
        return self._sets[check_test_set(name)].wait(wait)

    def loaded(self, name: str) -> bool:
        """Whether the set is in this server's memory now (asking starts no load)."""
        return self._sets[check_test_set(name)].value is not None

    def own_loader(self, name: str):
        """The set's loader where it is a server's own (``OWN_LOADERS``: a job's process can call it itself), else
        None (a test's own data, which only this process has)."""
        loader = self._sets[check_test_set(name)].loader
        return loader if loader in OWN_LOADERS else None

    def message(self, name: str) -> str:
        """Why the set is not here (loading, or missing and what to do), or ""."""
        return self._sets[check_test_set(name)].message

    def images(self, name: str):
        """(the set's test images, or None, and why they are missing); ValueError for an unknown name. The drawn
        characters are waited for a few seconds: from the cache they load in a fraction of one."""
        data = self.dataset(name, DRAWN_WAIT_SECONDS if check_test_set(name) == DRAWN else 0)
        return (None if data is None else data.x_test), self.message(name)

    def drawn_test(self, wait: float | None = None):
        """The drawn test set as a job scores a model on it ((images, classes, sections)), waiting for the drawn
        characters to load; None when they cannot be had (``message(DRAWN)`` says why)."""
        drawn = self.dataset(DRAWN, wait)
        if drawn is None:
            return None
        try:
            return drawn_test_part(drawn)
        except (FileNotFoundError, ValueError) as exc:  # the model is still saved, with its EMNIST report
            log.warning("drawn test set not scored: %s", exc)
            self._sets[DRAWN].message = f"The drawn characters' sections could not be read ({exc})."
            return None

    # ---------------------------------------------------------------- a live model scored on a set

    def report(self, pair: Pair, slot: str, name: str, lesson: str | None = DEFAULT_LESSON):
        """(``slot``'s model of ``pair`` scored on the set ``name`` within ``lesson``, the images its mistakes index)
        or (None, None) when the set is not here (``message``, or no class drawings yet).

        All classes on EMNIST or drawn test: the report saved beside the model, when it was made on the images
        loaded here. Otherwise both models of the pair read the whole set as served, in one pass kept until the
        pair (or the class's drawings) change: a few seconds the first time, then a lesson takes a fraction of a
        second."""
        lesson = check_lesson(lesson)
        live = pair.get(slot)
        if live is None:
            raise ValueError(f"No model is live in {slot!r}.")
        if name != CLASS_DRAWINGS and lesson == DEFAULT_LESSON:
            saved = live.report_on(name)
            data = self.dataset(name, DRAWN_WAIT_SECONDS if name == DRAWN else 0)
            if saved is None or data is None:
                return saved, None if data is None else data.x_test
            if matches(saved, data.labels_as_classes(data.y_test)):
                return saved, data.x_test
            log.info("the saved %s report of %s is not on the test images loaded here: scoring them", name, live.name)
        scored = self._scored(pair, name)
        if scored is None:
            return None, None
        _, _, x, y, sections, probs, reports = scored
        if (slot, lesson) not in reports:
            report = evaluation.lesson_report(probs[slot], y, label_map("bymerge"), lesson, sections)
            if name == CLASS_DRAWINGS:
                report.update(dataset=CLASS_DRAWINGS, part="challenge", model=live.name)
            reports[slot, lesson] = report
        return reports[slot, lesson], x

    def _scored(self, pair: Pair, name: str):
        ids = tuple(self._drawing_ids()) if name == CLASS_DRAWINGS else None  # listing a folder reads no drawing
        if ids == ():
            return None
        with self._lock:
            cached = self._scores.get(name)
            if cached is not None and cached[0] is pair and cached[1] == ids:
                return cached
            if name == CLASS_DRAWINGS:
                # Keyed by the ids listed before loading: a drawing added meanwhile makes the next call score again.
                drawings = self._drawings()
                if not len(drawings):  # every file unreadable (skipped, logged)
                    return None
                x, y, sections = drawings.x, drawings.y, None
            else:
                found = self._test_set(name)
                if found is None:
                    return None
                x, y, sections = found
            probs = challenge.drawing_probabilities(lambda b: pair.predictor.probabilities(b, DEFAULT_LESSON), x)
            self._scores[name] = (pair, ids, x, y, sections, probs, {})
            return self._scores[name]

    def _test_set(self, name: str):
        """(images, classes, sections or None) of a file-backed set, or None when its images are not here."""
        data = self.dataset(name, DRAWN_WAIT_SECONDS if name == DRAWN else 0)
        if data is None:
            return None
        if name == EMNIST:
            return data.x_test, data.labels_as_classes(data.y_test), None
        return self.drawn_test()
