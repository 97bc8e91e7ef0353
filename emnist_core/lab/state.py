"""The lab a server runs: the live MLP/CNN pair, the test data, and one training job at a time.

``app.py`` draws the page and turns this state into what each component shows; everything a server
holds between requests lives here instead, so that it can be built, driven and tested as plain
Python, without Gradio and without a server. Nothing happens on import: ``Lab()`` loads the shipped
models and starts reading the test images, and only when it is called.

Threads: every request may read ``Lab.live`` and ``Lab.predictor`` while a put-live or restore
replaces them; each change builds the new pair first and then swaps the references, so a prediction
in flight finishes with the pair it started with.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from emnist_core.data import datasets
from emnist_core.data.files import SIDE
from emnist_core.data.labels import DEFAULT_LESSON, check_lesson
from emnist_core.lab import challenge
from emnist_core.lab.cards import format_seconds
from emnist_core.lab.corrections import (
    ALLOW_CORRECTIONS,
    CHALLENGE,
    CORRECTION,
    DISABLE_TRAINING,
    CorrectionError,
    Corrections,
    CorrectionStore,
)
from emnist_core.lab.scores import ClassScores, scores_path
from emnist_core.models import evaluation, store
from emnist_core.models.card import ModelCard
from emnist_core.models.evaluation import DRAWN, EMNIST, TEST_SETS
from emnist_core.models.registry import REGISTRY, SLOTS
from emnist_core.models.temperature import card_temperature
from emnist_core.serving import explain, predictor
from emnist_core.serving import export as serving
from emnist_core.training.config import BATCH_STAGES, DONE, LOADING_CORRECTIONS, SAVING, TRAINING

DRAWN_WAIT_SECONDS = 5  # a request for the drawn characters waits this long for them to load
SETTLE_BATCHES = 5  # a training job's time estimate starts after this many batches
# Said after the loader's own error, which names the files, the folders looked in and the command that fetches them.
DATA_HELP = "Restart the app once the files are in place (EMNIST_DATA_DIR names their folder)."
DRAWN_HELP = (
    "Set UNIPEN_DATA_DIR to a copy of UNIPEN train_r01_v07 (see README, Drawn input) and restart "
    "the app to browse the models' mistakes on drawn characters."
)
DATA_LOADING = "The test images are still loading; try again in a few seconds."
DRAWN_LOADING = "The drawn characters are still loading; try again in a minute."
DRAWN_RETRY = "the next request tries again"
MODELS_IN_ASSETS = (
    "The folder for retrained models (`EMNIST_MODELS_DIR`) is the shipped `assets/` folder or "
    "inside it; set it to another folder, so that retraining never touches the shipped models."
)
SWITCH_ON = ("1", "true", "yes")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Switches:
    """What the server's owner turned off, read once when the Lab is made (``Switches.from_env``), so the page,
    the API and the corrections store all obey the same values."""

    training: bool = True  # retraining, fine-tuning, put live, restore and clearing corrections
    corrections: bool = True  # collecting corrections (off with training unless allowed on its own)

    @classmethod
    def from_env(cls, environ=None) -> Switches:
        """``EMNIST_DISABLE_TRAINING=1`` turns training off, and corrections with it unless
        ``EMNIST_ALLOW_CORRECTIONS=1``."""
        environ = os.environ if environ is None else environ
        on = lambda name: environ.get(name, "").strip().lower() in SWITCH_ON
        training = not on(DISABLE_TRAINING)
        return cls(training=training, corrections=training or on(ALLOW_CORRECTIONS))


@dataclass
class LiveModel:
    """A model as the lab serves it (its LiteRT export, or the Keras model: see ``serving``) with the card and
    reports saved beside its file."""

    slot: str  # "mlp" or "cnn"
    name: str  # file stem: "seed-cnn", "cnn-bn-20260101-120000" ...
    path: Path
    model: object
    card: ModelCard | None
    report: dict | None  # on the EMNIST test set
    drawn_report: dict | None = None  # on the drawn one

    def report_on(self, test_set: str) -> dict | None:
        """Its report on ``test_set`` (``EMNIST`` or ``DRAWN``); ValueError for any other name."""
        return self.drawn_report if check_test_set(test_set) == DRAWN else self.report

    @property
    def title(self) -> str:
        return f"{SLOTS[self.slot]} · {self.name}"


def read_live(slot: str, name_or_path, model=None) -> LiveModel:
    """``slot``'s model at ``name_or_path`` with its card and reports, not yet checked for serving (the
    Predictor that serves it does that). ``model``: the one saved there, already in memory, so the file
    is not read back. A missing or damaged card or report is None: the app then says how to make one,
    and the rest works without it."""
    path = store.resolve_model_path(name_or_path)
    if model is None:
        model = serving.load_served(path)  # exported once; the Keras file is read in safe mode
    return LiveModel(
        slot,
        store.model_name(path),
        path,
        model,
        store.load_card(path),
        store.read_report(store.report_path(path)),
        store.read_report(store.report_path(path, DRAWN)),
    )


def load_live(slot: str, name_or_path, model=None) -> LiveModel:
    """``read_live``, checked on its own: ModelFileError, naming the file, when it cannot serve."""
    live = read_live(slot, name_or_path, model)
    predictor.Predictor({str(live.path): live.model})  # refuses a model built for other inputs or classes
    return live


def serve(live: dict) -> predictor.Predictor:
    """One Predictor for a pair of live models, each calibrated with the temperature in its card."""
    return predictor.Predictor(
        {s: m.model for s, m in live.items()}, temperatures={s: card_temperature(m.card) for s, m in live.items()}
    )


def shipped_candidates(slot: str) -> list[str]:
    """A slot's shipped models, preferred first: its alias, then the registry's other models of that kind."""
    return list(dict.fromkeys([store.ALIASES[slot], *(n for n, s in REGISTRY.items() if s.kind == slot)]))


def load_shipped(assets_dir) -> tuple[dict[str, LiveModel], list[str]]:
    """The first shipped model of each kind that loads, and why each one that failed did.

    One damaged file must not take the lab down: the other kind, or another shipped model of the
    same kind, still serves. Each candidate is checked on its own, so a refused one is skipped for
    the next rather than failing the pair.
    """
    live, problems = {}, []
    for slot in SLOTS:
        for name in shipped_candidates(slot):
            path = Path(assets_dir) / f"{name}.keras"
            if name != store.ALIASES[slot] and not store.model_exists(path):
                continue  # only the alias must ship; the others are fallbacks when present
            try:
                live[slot] = load_live(slot, path)
                break
            except store.ModelFileError as exc:
                problems.append(str(exc))
                log.warning("shipped model not loaded: %s", exc)
    return live, problems


def check_test_set(test_set) -> str:
    """``test_set`` when it names one of the lab's test sets (``EMNIST``, ``DRAWN``), else ValueError saying which:
    an unknown name is refused, never read as EMNIST's."""
    if test_set not in TEST_SETS:
        raise ValueError(f"unknown test set {str(test_set)[:20]!r}; choose {' or '.join(TEST_SETS)}")
    return test_set


def load_data():
    """The EMNIST test (and training) images: the full files from ``EMNIST_DATA_DIR`` or the usual places, else the
    demo data pack (``Dataset.source`` says which). An ``EMNIST_DATA_DIR`` that does not exist is an error, not a
    reason to fall back."""
    return datasets.load_dataset(EMNIST, os.environ.get("EMNIST_DATA_DIR") or None)


def unipen_dir():
    """The folder ``UNIPEN_DATA_DIR`` names, or None: look beside the project, then in the demo data pack."""
    return os.environ.get("UNIPEN_DATA_DIR") or None


def load_drawn():
    """UNIPEN's characters drawn with the sketchpad's brush: from the UNIPEN files (``UNIPEN_DATA_DIR`` or beside the
    project; drawn once, about a minute, then cached) or else from the demo data pack (a fraction of a second)."""
    return datasets.load_dataset(DRAWN, unipen_dir=unipen_dir())


class Lab:
    """All server state: the live models, the test data (or why it is missing), the one training job.

    ``data_loader``, ``assets_dir`` and ``drawn_loader`` are where the data and the shipped models come
    from; tests pass their own. Creating a Lab loads the shipped models and starts a thread that reads
    the EMNIST test images, so that the first prediction need not wait for them.
    """

    def __init__(
        self,
        data_loader=load_data,
        assets_dir=store.ASSETS_DIR,
        drawn_loader=load_drawn,
        corrections: CorrectionStore | None = None,
        switches: Switches | None = None,
    ):
        self.switches = switches or Switches.from_env()
        self.assets_dir = Path(assets_dir)
        self.corrections = corrections or CorrectionStore()  # EMNIST_CORRECTIONS_DIR, else under the cache
        self.scores = ClassScores(scores_path(self.corrections.folder))  # the Challenge's tally, beside them
        self._class_drawings = (
            None  # (Predictor, drawing ids, drawings, {slot: probs}, {(slot, lesson): ClassDrawings})
        )
        self._test_scores = {}  # test set -> (Predictor, images, classes, sections, {slot: probs}): ``lesson_report``
        self.scoring_lock = threading.Lock()
        self.shipped, self.load_problems = load_shipped(self.assets_dir)
        self.live = dict(self.shipped)
        self.predictor = serve(self.live)
        self.shipped_predictor = self.predictor  # restoring the shipped pair reuses it: nothing to rebuild
        self.serve_lock = threading.Lock()  # one change of the live pair at a time, so none is lost
        self.dataset = None
        self.data_message = DATA_LOADING
        self.data_ready = threading.Event()
        self.drawn = None  # the drawn test characters, when UNIPEN is on this server
        self.drawn_message = DRAWN_LOADING
        self.train_lock = threading.Lock()
        self.job: TrainingJob | None = None
        # Reading a test set from disk takes seconds: do it after start, not before the first prediction.
        threading.Thread(target=self._load_data, args=(data_loader,), name="load-data", daemon=True).start()
        self.drawn_loader, self.drawn_loading, self.drawn_lock = drawn_loader, None, threading.Lock()

    # ---------------------------------------------------------------- test data

    def _load_data(self, loader):
        try:
            self.dataset = loader()
        except (datasets.DataNotFoundError, ValueError) as exc:  # DataFileError is a ValueError
            self.data_message = f"The EMNIST images are not available on this server ({exc}). {DATA_HELP}"
        except Exception as exc:  # anything else is said too: never "still loading" for ever
            log.exception("EMNIST test images not loaded")
            self.data_message = f"The EMNIST images could not be loaded ({type(exc).__name__}: {exc}). {DATA_HELP}"
        finally:
            self.data_ready.set()

    def _load_drawn(self):
        try:
            self.drawn = self.drawn_loader()
        except Exception as exc:  # said on the page, and the next request tries again (``load_drawn``)
            if isinstance(exc, (FileNotFoundError, ValueError)):  # UnipenNotFoundError, UnipenFormatError
                words = f"are not available on this server ({exc}). {DRAWN_HELP}"
            else:
                log.exception("drawn characters not loaded")
                words = f"could not be loaded ({type(exc).__name__}: {exc}); {DRAWN_RETRY}."
            self.drawn_message = f"The drawn characters {words}"
            with self.drawn_lock:
                self.drawn_loading = None  # a later request starts a new load

    def test_images(self, test_set: str):
        """(test images of a test set, or None, and why they are missing); ValueError for an unknown test set."""
        if check_test_set(test_set) == EMNIST:
            return (None if self.dataset is None else self.dataset.x_test), self.data_message
        # From the cache it takes a fraction of a second: wait that long rather than say "still loading".
        self.load_drawn().join(DRAWN_WAIT_SECONDS)
        return (None if self.drawn is None else self.drawn.x_test), self.drawn_message

    def drawn_test(self):
        """The drawn test set as a job scores a model on it ((images, classes, sections): ``datasets.drawn_test``),
        waiting for the drawn characters to load; None when they cannot be had (``drawn_message`` says why). Called
        in a job's own thread, or by a request once ``test_images`` has the drawn images (no wait left then)."""
        self.load_drawn().join()
        drawn = self.drawn
        if drawn is None:
            return None
        try:
            return datasets.drawn_test(drawn, unipen_dir())
        except (FileNotFoundError, ValueError) as exc:  # the model is still saved, with its EMNIST report
            log.warning("drawn test set not scored: %s", exc)
            self.drawn_message = f"The drawn characters' sections could not be read ({exc})."
            return None

    def load_drawn(self) -> threading.Thread:
        """The thread that loads the drawn characters, started on first call (and again after a load failed):
        drawing UNIPEN's characters takes a minute once, so they load when first asked for, not at start."""
        with self.drawn_lock:
            if self.drawn_loading is None:
                self.drawn_loading = threading.Thread(target=self._load_drawn, name="load-drawn", daemon=True)
                self.drawn_loading.start()
        return self.drawn_loading

    # ---------------------------------------------------------------- reading a drawing

    def explain(self, x28, lesson: str | None = None) -> dict:
        """Why each live model reads the 28x28 ``x28`` as it does: {slot: explain.Explanation}, one batch of
        occluded copies through both models (~20 ms for the pair on 2 cores, so the Draw tab shows it live).
        Within ``lesson`` (``labels.LESSONS``; default all): the class explained is the lesson's answer."""
        predictor = self.predictor  # the pair of this moment, even if a put-live swaps it meanwhile
        lesson = check_lesson(lesson)  # refused here, before a batch is built
        return explain.explain(lambda batch: predictor.probabilities(batch, lesson), x28, predictor.labels.names)

    def correct(self, x28, label: str, tops) -> int:
        """Keep what a person says a drawing really was (its 28x28, the class, what each model read); the number
        of corrections kept now. CorrectionError, with a message to show, when it is refused."""
        self.corrections.add(x28, label, tops, collecting=self.switches.corrections)
        return self.corrections.count(CORRECTION)  # challenge drawings are counted apart (``class_drawings``)

    # ---------------------------------------------------------------- the live pair

    def candidate(self, path) -> LiveModel:
        """The retrained model at ``path`` with its card and reports, as it would serve, not yet served (see
        ``put_live``). The last job's model is still in memory: that one is not read back. ValueError when its
        card does not say its kind."""
        path = Path(path)
        card = store.load_card(path)
        slot = None if card is None else card.kind
        if slot not in SLOTS:
            raise ValueError(f"{path.name}: its card does not say whether it is an MLP or a CNN")
        job = self.job
        return read_live(slot, path, job.model if job is not None and job.path == path else None)

    def put_live(self, model) -> LiveModel:
        """Serve ``model`` (a retrained model's path, or the ``candidate`` read from it) in its slot, for every user
        of this server.

        One Predictor is built, for the new pair, and it is also what checks the model: ModelFileError,
        naming the file, leaves the live pair as it was.
        """
        live = model if isinstance(model, LiveModel) else self.candidate(model)
        with self.serve_lock:
            pair = {**self.live, live.slot: live}
            try:
                new = serve(pair)
            except store.ModelFileError as exc:
                raise store.ModelFileError(f"{live.path}: {exc}") from None
            self._swap(pair, new)
        return live

    def restore(self):
        """Serve the shipped pair again, with the Predictor built for it at start."""
        with self.serve_lock:
            self._swap(dict(self.shipped), self.shipped_predictor)

    def _swap(self, live: dict, new: predictor.Predictor):
        # The new predictor is built before this: a stroke in flight keeps the old pair.
        self.live, self.predictor = live, new

    # ---------------------------------------------------------------- retraining

    def models_folder(self) -> Path:
        """Where retrained models go; ValueError when that is the shipped assets folder or inside it."""
        folder, assets = store.models_dir().resolve(), self.assets_dir.resolve()
        if folder == assets or assets in folder.parents:
            raise ValueError(MODELS_IN_ASSETS)
        return folder

    def retrained_path(self, candidate) -> Path | None:
        """``candidate`` as a model file directly in the retrained-models folder, else None: whatever a page
        sends back, only a model this server trained can be put live."""
        if not candidate:
            return None
        try:
            folder = self.models_folder()
        except ValueError:
            return None
        path = Path(str(candidate)).resolve()
        return path if path.parent == folder and path.suffix == store.MODEL_SUFFIX and path.is_file() else None

    def start_job(self, config, folder: Path) -> TrainingJob | None:
        """Start training in a thread, or None when a job is already running on this server. The model is scored on
        the drawn characters too: they load while it trains, and the job waits for them, not this request."""

        def make():
            self.load_drawn()
            return TrainingJob(config, self.dataset, self.train_lock, folder, self.drawn_test)

        return self._start(make, "training")

    def start_finetune(self, slot: str, folder: Path) -> FineTuneJob | None:
        """Fine-tune ``slot``'s live model on the corrections, in a thread; None when a job is already running.
        The drawn characters it is scored on load first (in the job's thread) when they have not yet."""
        if slot not in self.live:
            raise ValueError(f"No {SLOTS.get(slot, slot)} is live to fine-tune.")
        live = self.live[slot]

        def make():
            self.load_drawn()  # scored on them before and after: the job waits for them, not this request
            return FineTuneJob(self, live, self.train_lock, folder)

        return self._start(make, "fine-tune")

    def _start(self, make_job, name: str):
        """Run the job ``make_job()`` builds in a thread, holding the training lock, which the job releases when it
        ends; None when another job holds it. A job that cannot be built or started gives the lock back, so one
        failure never leaves the server "busy" until a restart."""
        if not self.train_lock.acquire(blocking=False):
            return None
        previous = self.job
        try:
            job = make_job()
            self.job = job  # before the thread runs: a cancel that comes at once must find the job
            threading.Thread(target=job.run, name=name, daemon=True).start()
        except BaseException:
            self.job = previous
            self.train_lock.release()
            raise
        return job

    def cancel_job(self) -> str | None:
        """Ask the running job to stop. -> None when no job is running, else the stage it was asked in:
        ``SAVING`` means too late, the model is being saved whole and is kept; any earlier stage
        stops before anything is saved."""
        job = self.job
        if job is None or job.done.is_set():
            return None
        stage = job.stage
        if stage != SAVING:
            job.cancel.set()
        return stage

    # ---------------------------------------------------------------- the Challenge (issue 17)
    # ``self.scores`` (the class scores) and ``self._class_drawings`` (the live pair's last reports on the class's
    # drawings) are made in __init__.

    def challenge_round(self, order=challenge.DEFAULT_ORDER, seed=None) -> challenge.Round:
        """A new round over the 47 classes for one page: shuffled, or hardest first by the live CNN's recall on
        drawn characters (shuffled when it has no drawn report; ``Round.kind`` says which)."""
        cnn = self.live.get(challenge.ORDER_SLOT)
        return challenge.new_round(order, cnn.drawn_report if cnn is not None else None, seed)

    def answer_challenge(self, x28, asked, tops) -> challenge.ChallengeResult:
        """A challenge drawing (its 28x28 ``x28``; ``tops``: what the live models read, as ``predict_drawing``
        gives) of the class ``asked``: counted in the class scores, and kept, labelled by its prompt, as a challenge
        drawing in the corrections store when this server collects drawings and the store has room (else the
        result's note says why not). ChallengeError for a class the models do not know or a wrong image."""
        reading = challenge.read_answer(tops, asked)
        if getattr(x28, "shape", None) != (SIDE, SIDE):
            raise challenge.ChallengeError("the drawing must be the preprocessed 28x28 the models read")
        self.scores.add(reading.asked, reading.right)
        if not self.switches.corrections:
            return challenge.ChallengeResult(reading, None, challenge.NOT_KEPT)
        try:
            kept = self.corrections.add(
                x28, reading.asked, tops, source=CHALLENGE, collecting=self.switches.corrections
            )
        except CorrectionError as exc:  # the store is full, or a bad image: counted, said, not kept
            return challenge.ChallengeResult(reading, None, f"Counted in the class scores; not kept: {exc}")
        return challenge.ChallengeResult(reading, kept)

    def reset_class_scores(self) -> int:
        """Clear the class scores (the drawings kept stay); how many drawings they had counted. ChallengeError
        while training is off: on a public server a stranger must not wipe a class's scores."""
        if not self.switches.training:
            raise challenge.ChallengeError(challenge.RESET_OFF)
        return self.scores.reset()

    def class_drawings(self) -> Corrections:
        """The class's challenge drawings as a test set (``.x`` 28x28 images, ``.y`` the prompts' class
        indices), oldest first."""
        return self.corrections.load(CHALLENGE)

    def class_drawings_report(self, slot: str, lesson: str | None = None) -> challenge.ClassDrawings | None:
        """``slot``'s live model scored on the class's challenge drawings as served (calibrated; within ``lesson``
        when one other than all is given: ``evaluation.lesson_report``), or None when there are none yet
        (``challenge.NO_DRAWINGS`` says so). Both live models are scored in one pass and kept until a drawing is
        added or the live pair changes. ValueError when no model is live in ``slot``."""
        lesson = check_lesson(lesson)
        pair = self.live_pair(slot)
        ids = self.corrections.ids(CHALLENGE)  # listing the folder reads no drawing
        if not ids:
            return None
        cached = self._class_drawings
        if cached is None or cached[0] is not pair or cached[1] != ids:
            drawings = self.class_drawings()
            if not len(drawings):  # every file unreadable (skipped, logged)
                return None
            probs = challenge.drawing_probabilities(lambda x: pair.probabilities(x, challenge.ALL_CLASSES), drawings.x)
            # Keyed by the ids listed before loading: a drawing added meanwhile makes the next call score again.
            cached = self._class_drawings = (pair, ids, drawings, probs, {})
        _, _, drawings, probs, reports = cached
        if (slot, lesson) not in reports:
            name = self.live[slot].name if slot in self.live else slot
            reports[slot, lesson] = challenge.class_drawings_report(drawings, probs[slot], name, lesson)
        return reports[slot, lesson]

    def lesson_report(self, slot: str, test_set: str, lesson: str | None) -> tuple[dict | None, object]:
        """(``slot``'s live model scored on ``test_set`` within ``lesson`` as the page serves it: calibrated, then
        restricted to the lesson's classes (``evaluation.lesson_report``), the test images its mistakes index), or
        (None, None) when the test images are not here (``test_images`` says why). Both live models read the whole
        test set in one pass, kept until the live pair changes: a few seconds the first time, then a lesson takes a
        fraction of a second. ValueError when no model is live in ``slot`` or for an unknown test set."""
        lesson, test_set = check_lesson(lesson), check_test_set(test_set)
        pair = self.live_pair(slot)
        with self.scoring_lock:  # two pages asking at once score the test set once
            cached = self._test_scores.get(test_set)
            if cached is None or cached[0] is not pair:
                found = self._test_set(test_set)
                if found is None:
                    return None, None
                x, y, sections = found
                probs = challenge.drawing_probabilities(lambda b: pair.probabilities(b, DEFAULT_LESSON), x)
                cached = self._test_scores[test_set] = (pair, x, y, sections, probs)
        _, x, y, sections, probs = cached
        return evaluation.lesson_report(probs[slot], y, pair.labels, lesson, sections), x

    def _test_set(self, test_set: str):
        """(images, classes, sections or None) of a test set, or None when its images are not here."""
        if test_set == EMNIST:
            data = self.dataset
            return None if data is None else (data.x_test, data.labels_as_classes(data.y_test), None)
        # A request waits at most DRAWN_WAIT_SECONDS for the images; once they are here drawn_test waits no more.
        return None if self.test_images(DRAWN)[0] is None else self.drawn_test()

    def live_pair(self, slot: str) -> predictor.Predictor:
        """The live pair of this moment (kept by the caller, even if a put-live swaps it meanwhile); ValueError when
        no model is live in ``slot``."""
        pair = self.predictor
        if self.live.get(slot) is None or slot not in pair.models:
            raise ValueError(f"No {SLOTS.get(slot, slot)} is live.")
        return pair


class TrainingJob:
    """One training run in its own thread, so that drawing keeps working meanwhile: its progress can be
    polled and it may be cancelled. The trained model is kept in memory for ``Lab.put_live``, with its reports on
    the EMNIST test set (``""``) and, when ``drawn`` (a function, called once training ends) gives the drawn test
    set, on drawn characters (``DRAWN``): every view of the app then works for it."""

    def __init__(self, config, dataset, lock: threading.Lock, folder: Path, drawn=None):
        self.config, self.dataset, self.lock, self.folder, self.drawn = config, dataset, lock, folder, drawn
        self.cancel, self.done = threading.Event(), threading.Event()
        self.epoch, self.batch, self.batches = 0, 0, 1
        self.history: dict[str, list[float]] = {}
        self.started = time.time()
        self.settled = None  # (time, fraction) once SETTLE_BATCHES batches are done: the pace is measured from there
        self.stage = TRAINING
        self.path: Path | None = None
        self.model = None  # the trained model, kept so that putting it live need not read it back
        self.reports: dict[str, dict] = {}  # {"": on the EMNIST test set, DRAWN: on drawn characters}
        self.error: str | None = None
        self.cancelled = False

    # keras progress, called from the training thread
    def on_batch(self, epoch0, batch1, batches, logs):
        self.epoch, self.batch, self.batches = epoch0, batch1, batches
        if self.settled is None and epoch0 * batches + batch1 >= SETTLE_BATCHES:
            self.settled = (time.time(), self.fraction)

    def on_epoch(self, epoch1, epochs, logs):
        # Replaced whole, never appended to, so the UI thread always reads one consistent history.
        self.history = {k: [*self.history.get(k, []), v] for k, v in logs.items()}

    def on_stage(self, stage):
        self.stage = stage  # training.SAVING: too late to cancel, the model is kept whole

    @property
    def report(self) -> dict | None:
        """The report on the EMNIST test set, once saved."""
        return self.reports.get("")

    @property
    def fraction(self) -> float:
        return min(1.0, (self.epoch * self.batches + self.batch) / (self.config.epochs * self.batches))

    def describe(self) -> str:
        if self.stage not in BATCH_STAGES:
            return f"{self.stage}..."
        text = f"epoch {self.epoch + 1} of {self.config.epochs} · batch {self.batch} of {self.batches}"
        return f"{text} · {self.time_left()}"

    def time_left(self) -> str:
        """The time left at the pace since the first batches: the set-up before them (reading data, building
        and compiling the model) would make an estimate from the start several times too long."""
        if self.settled is None or self.fraction <= self.settled[1]:
            return "estimating the time left..."
        since, done = self.settled
        left = (time.time() - since) * (1 - self.fraction) / (self.fraction - done)
        return f"about {format_seconds(left)} left"

    def run(self):
        from emnist_core.training import (
            train as training,
        )  # Keras starts with the first training job, not with the server

        try:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            # Trained, scored, and saved whole or not at all; a cancel before saving starts saves nothing.
            result = training.train_and_save(
                self.config,
                self.folder / f"{self.config.model}-{stamp}.keras",
                self.dataset,
                listener=self,
                cancel=self.cancel,
                drawn=self.drawn,
            )
            self.model, self.reports, self.path = result.model, result.reports, result.path
        except training.TrainingCancelled:
            self.cancelled = True
        except Exception as exc:  # shown to the teacher; the server keeps serving
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.stage = DONE
            self.done.set()
            self.lock.release()


class FineTuneJob(TrainingJob):
    """Fine-tuning one live model on the corrections (``finetune.fine_tune``): progress and cancel as for any
    job; the result keeps the before/after figures the Retrain tab shows."""

    def __init__(self, lab: Lab, live: LiveModel, lock: threading.Lock, folder: Path):
        from emnist_core.lab.finetune import EPOCHS  # imports Keras: only once a teacher asks for a fine-tune
        from emnist_core.training.config import TrainConfig

        super().__init__(TrainConfig(model=live.name, epochs=EPOCHS), lab.dataset, lock, folder)
        self.lab, self.live = lab, live
        self.stage = LOADING_CORRECTIONS
        self.result = None

    def run(self):
        from emnist_core.lab import finetune
        from emnist_core.training.config import TrainingCancelled

        try:
            corrections = self.lab.corrections.load()
            self.lab.load_drawn().join()  # scored on drawn characters before and after
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            self.result = finetune.fine_tune(
                self.live.path, corrections, self.dataset, self.lab.drawn, listener=self, cancel=self.cancel
            )
            path = self.folder / f"{self.live.name}-fixed-{stamp}.keras"
            self.stage = SAVING
            store.save_model(self.result.model, path, self.result.card(path.stem), self.result.reports)
            self.model, self.reports, self.path = self.result.model, self.result.reports, path
        except TrainingCancelled:
            self.cancelled = True
        except Exception as exc:  # shown to the teacher; the server keeps serving
            self.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
        finally:
            self.stage = DONE
            self.done.set()
            self.lock.release()
