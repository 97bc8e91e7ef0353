"""The live pair: the models a server answers with, one of each kind (``registry.SLOTS``), and putting another live.

A ``Pair`` is one immutable value: the live models with their cards and reports, and the one ``Predictor`` that
serves exactly those. ``LiveModels`` holds the pair of this moment and swaps it for a new one by a single
assignment, so a request that took the pair (``LiveModels.pair``) answers with matching models and predictor even
while a put-live or restore replaces it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from emnist_core.data.labels import check_lesson
from emnist_core.lab.guard import PUT_LIVE, RESTORE, Guard, Teacher
from emnist_core.models import store
from emnist_core.models.card import ModelCard
from emnist_core.models.evaluation import DRAWN, TEST_SETS
from emnist_core.models.registry import REGISTRY, SLOTS
from emnist_core.models.temperature import card_temperature
from emnist_core.serving import explain, predictor
from emnist_core.serving import export as serving

MODELS_IN_ASSETS = (
    "The folder for retrained models (`EMNIST_MODELS_DIR`) is the shipped `assets/` folder or "
    "inside it; set it to another folder, so that retraining never touches the shipped models."
)
log = logging.getLogger(__name__)


def check_test_set(test_set) -> str:
    """``test_set`` when it names one of the lab's test sets (``EMNIST``, ``DRAWN``), else ValueError saying which:
    an unknown name is refused, never read as EMNIST's."""
    if test_set not in TEST_SETS:
        raise ValueError(f"unknown test set {str(test_set)[:20]!r}; choose {' or '.join(TEST_SETS)}")
    return test_set


@dataclass(frozen=True)
class LiveModel:
    """A model as the lab serves it (its LiteRT export, or the Keras model: see ``serving``) with the card and
    reports saved beside its file."""

    slot: str  # a key of registry.SLOTS
    name: str  # file stem: "seed-cnn", "cnn-bn-20260101-120000" ...
    path: Path
    model: object
    card: ModelCard | None
    report: dict | None  # on the EMNIST test set
    drawn_report: dict | None = None  # on the drawn one
    probe: object = None  # its layers for the Inside tab (``serving.inside``): the exported probe, when there is one

    @property
    def inside(self):
        """What ``serving.inside`` reads this model's layers from: its exported probe, else the Keras model."""
        return self.probe if self.probe is not None else self.model

    def report_on(self, test_set: str) -> dict | None:
        """Its report on ``test_set`` (``EMNIST`` or ``DRAWN``); ValueError for any other name."""
        return self.drawn_report if check_test_set(test_set) == DRAWN else self.report

    @property
    def title(self) -> str:
        return f"{SLOTS[self.slot]} · {self.name}"


def read_live(slot: str, name_or_path) -> LiveModel:
    """``slot``'s model at ``name_or_path`` with its card and reports, not yet checked for serving (the
    Predictor that serves it does that). A missing or damaged card or report is None: the app then says how to
    make one, and the rest works without it."""
    path = store.resolve_model_path(name_or_path)
    model = serving.load_served(path)  # exported once; the Keras file is read in safe mode
    reports = [store.read_report(store.report_path(path, key)) for key in ("", DRAWN)]
    probe = serving.load_probe(path) if isinstance(model, serving.LiteModel) else None
    return LiveModel(slot, store.model_name(path), path, model, store.load_card(path), *reports, probe)


def load_live(slot: str, name_or_path) -> LiveModel:
    """``read_live``, checked on its own: ModelFileError, naming the file, when it cannot serve."""
    live = read_live(slot, name_or_path)
    predictor.Predictor({str(live.path): live.model})  # refuses a model built for other inputs or classes
    return live


@dataclass(frozen=True)
class Pair:
    """The live models (a read-only {slot: LiveModel}, in ``SLOTS`` order) and the Predictor that serves them."""

    models: Mapping[str, LiveModel]
    predictor: predictor.Predictor

    @classmethod
    def serving(cls, models: Mapping[str, LiveModel]) -> Pair:
        """The pair of ``models``, each calibrated with the temperature in its card; ModelFileError when one
        cannot serve."""
        ordered = {slot: models[slot] for slot in SLOTS if slot in models}
        temperatures = {slot: card_temperature(m.card) for slot, m in ordered.items()}
        served = predictor.Predictor({slot: m.model for slot, m in ordered.items()}, temperatures=temperatures)
        return cls(MappingProxyType(ordered), served)

    def get(self, slot) -> LiveModel | None:
        return self.models.get(slot)

    def titles(self) -> list[str]:
        return [m.title for m in self.models.values()]

    def read(self, image, k: int, lesson: str | None = None):
        """Any drawing or photo -> (the 28x28 the models see, {slot: top-k within ``lesson``})."""
        return self.predictor.predict_drawing(image, k, lesson)

    def explain(self, x28, lesson: str | None = None) -> dict:
        """Why each live model reads the 28x28 ``x28`` as it does: {slot: explain.Explanation}, one batch of
        occluded copies through both models. Within ``lesson``: the class explained is the lesson's answer."""
        lesson = check_lesson(lesson)  # refused here, before a batch is built
        served = self.predictor
        return explain.explain(lambda batch: served.probabilities(batch, lesson), x28, served.labels.names)


def shipped_candidates(slot: str) -> list[str]:
    """A slot's shipped models, preferred first: its alias, then the registry's other models of that kind."""
    return list(dict.fromkeys([store.ALIASES[slot], *(n for n, s in REGISTRY.items() if s.kind == slot)]))


def load_shipped(assets_dir) -> tuple[dict[str, LiveModel], list[str]]:
    """The first shipped model of each kind that loads, and why each one that failed did.

    One damaged file must not take the lab down: the other kind, or another shipped model of the same kind, still
    serves. Each candidate is checked on its own, so a refused one is skipped for the next rather than failing the
    pair.
    """
    live, problems = {}, []
    serving.prepare([Path(assets_dir) / f"{store.ALIASES[slot]}.keras" for slot in SLOTS])  # one export for both
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


class LiveModels:
    """The live pair of this server: the shipped one at start, then whatever a teacher puts live."""

    def __init__(self, guard: Guard, assets_dir=store.ASSETS_DIR):
        self._guard = guard
        self.assets_dir = Path(assets_dir)
        shipped, self.load_problems = load_shipped(self.assets_dir)
        self.shipped = Pair.serving(shipped)
        self._pair = self.shipped
        self._lock = threading.Lock()  # one change of the live pair at a time, so none is lost

    @property
    def pair(self) -> Pair:
        """The pair of this moment: keep it for the whole request."""
        return self._pair

    def get(self, slot) -> LiveModel | None:
        """The live model in ``slot`` now, or None."""
        return self._pair.get(slot)

    def pair_with(self, slot: str) -> Pair:
        """The pair of this moment; ValueError when no model is live in ``slot``."""
        pair = self._pair
        if pair.get(slot) is None:
            raise ValueError(f"No {SLOTS.get(slot, slot)} is live.")
        return pair

    # ---------------------------------------------------------------- retrained models

    def models_folder(self) -> Path:
        """Where retrained models go; ValueError when that is the shipped assets folder or inside it."""
        folder, assets = store.models_dir().resolve(), self.assets_dir.resolve()
        if folder == assets or assets in folder.parents:
            raise ValueError(MODELS_IN_ASSETS)
        return folder

    def retrained_path(self, candidate) -> Path | None:
        """``candidate`` as a model file directly in the retrained-models folder, else None: whatever a page sends
        back, only a model this server trained can be put live."""
        if not candidate:
            return None
        try:
            folder = self.models_folder()
        except ValueError:
            return None
        path = Path(str(candidate)).resolve()
        return path if path.parent == folder and path.suffix == store.MODEL_SUFFIX and path.is_file() else None

    def candidate(self, path) -> LiveModel:
        """The retrained model at ``path`` with its card and reports, as it would serve, not yet served (see
        ``put_live``). ValueError when its card does not say its kind."""
        path = Path(path)
        card = store.load_card(path)
        slot = None if card is None else card.kind
        if slot not in SLOTS:
            raise ValueError(f"{path.name}: its card does not say whether it is an MLP or a CNN")
        return read_live(slot, path)

    # ---------------------------------------------------------------- changing the pair (guarded)

    def put_live(self, model, teacher: Teacher | None = None) -> LiveModel:
        """Serve ``model`` (a retrained model's path, or the ``candidate`` read from it) in its slot, for every user
        of this server, at ``teacher``'s asking (``guard.Guard.sign_in``). Refused when the guard says so;
        ModelFileError, naming the file, leaves the pair as it was."""
        self._guard.check(PUT_LIVE, teacher)
        live = model if isinstance(model, LiveModel) else self.candidate(model)
        with self._lock:
            try:
                new = Pair.serving({**self._pair.models, live.slot: live})
            except store.ModelFileError as exc:
                raise store.ModelFileError(f"{live.path}: {exc}") from None
            self._pair = new  # built first: a stroke in flight keeps the old pair
        return live

    def restore(self, teacher: Teacher | None = None) -> Pair:
        """Serve the shipped pair again (its Predictor, built at start, is reused), at ``teacher``'s asking; refused
        when the guard says so."""
        self._guard.check(RESTORE, teacher)
        with self._lock:
            self._pair = self.shipped
        return self.shipped
