"""Prediction with the shipped (or any saved) models, loaded once and called cheaply.

Finding and loading a saved model is ``store``'s job; this module runs models that are loaded.

``model.predict`` costs ~33 ms of set-up per call. ``Predictor`` calls what is cheapest instead: a model
exported to LiteRT (``serving.LiteModel``, what the app serves) as it is; a Keras model through a traced
``tf.function`` with a fixed input signature under TensorFlow, or ``predict_on_batch`` under another
backend, each well under a millisecond per image.

A lesson (``labels.LESSONS``: all, digits, letters, upper) restricts every model's probabilities to the
lesson's classes, renormalised after temperature scaling (``lessons.restrict``): set once for a Predictor, or
per call. ``"all"`` leaves them exactly as the models give them.
"""

from __future__ import annotations

import weakref

import numpy as np

from emnist_core.data.labels import DEFAULT_LESSON, LabelMap, check_lesson, label_map, lesson_indices
from emnist_core.data.preprocess import SIDE, preprocess
from emnist_core.models import store
from emnist_core.models.lessons import restrict
from emnist_core.models.temperature import apply_temperature, card_temperature
from emnist_core.serving.export import LiteModel

# Checked fast calls by model: (id(model), classes) -> (weak reference to the model, numpy-returning call).
_TRACED: dict = {}


class Predictor:
    """Several models side by side: ``predict`` gives each one's probabilities for 28x28 images."""

    def __init__(
        self,
        models: dict,
        labels: LabelMap | None = None,
        temperatures: dict | None = None,
        lesson: str | None = DEFAULT_LESSON,
    ):
        """``temperatures``: {model name: T} from each model's card (``temperature.card_temperature``), so that
        the probabilities it gives are calibrated; a model without one keeps its own (T = 1). ``lesson``: the
        lesson every call uses unless it names another."""
        self.labels = labels or label_map("bymerge")
        self.models = dict(models)
        self.temperatures = {name: float((temperatures or {}).get(name, 1.0)) for name in self.models}
        self.lesson = check_lesson(lesson)
        self._fns = {name: self._checked_fn(name, model) for name, model in self.models.items()}

    def _checked_fn(self, name, model):
        """``model``'s traced call, checked on 28x28 images. Traced once per model object and reused by every
        Predictor that serves it (a lab checks each model alone, then serves the pair): tracing costs ~0.05 s
        a model at start-up, and tracing again makes TensorFlow warn about retracing."""
        key = (id(model), self.labels.num_classes)
        cached = _TRACED.get(key)
        if cached is not None and cached[0]() is model:
            return cached[1]
        # The traced graph holds the weights; a weak reference to the model lets the cache entry go with it.
        ref = weakref.ref(model, lambda _, key=key, cache=_TRACED: cache.pop(key, None))
        fn = _fast_call(model, ref)
        try:
            out = fn(np.zeros((1, SIDE, SIDE), np.float32))  # trace now, not on the first user's stroke
        except Exception as exc:  # TF and Keras raise many types for a model built for other inputs
            raise store.ModelFileError(
                f"model {name}: does not take 28x28 images ({type(exc).__name__}); use a model trained by emnist_core"
            ) from None
        shape, classes = tuple(getattr(out, "shape", ())), self.labels.num_classes
        if shape != (1, classes):
            raise store.ModelFileError(
                f"model {name}: gives outputs of shape {shape[1:]} per image, not the {classes} class "
                f"scores of EMNIST {self.labels.split}; was it trained on another split?"
            )
        _TRACED[key] = (ref, fn)
        return fn

    @classmethod
    def load(cls, names=("mlp", "cnn"), models_dir=None, lesson: str | None = DEFAULT_LESSON) -> Predictor:
        """Saved models by name or path, each calibrated with the temperature in its card."""
        paths = {name: store.resolve_model_path(name, models_dir) for name in names}
        return cls(
            {name: store.load_model(path) for name, path in paths.items()},
            temperatures={name: card_temperature(store.load_card(path)) for name, path in paths.items()},
            lesson=lesson,
        )

    def probabilities(self, images, lesson: str | None = None) -> dict[str, np.ndarray]:
        """``images``: uint8/float (N, 28, 28) or one (28, 28) -> {model name: (N, classes)}, calibrated, then
        restricted to ``lesson`` (default: this Predictor's); a class outside it gets probability 0."""
        lesson = self.lesson if lesson is None else check_lesson(lesson)
        x = np.asarray(images, dtype=np.float32)
        if x.shape == (SIDE, SIDE):
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (SIDE, SIDE):
            raise ValueError(f"expected 28x28 images, got shape {x.shape}; use preprocess() first")
        return {
            name: restrict(apply_temperature(np.asarray(fn(x)), self.temperatures[name]), lesson, self.labels.split)
            for name, fn in self._fns.items()
        }

    def top_k(self, images, k: int = 5, lesson: str | None = None) -> dict[str, list[list[tuple[str, float]]]]:
        """Best ``k`` (label, probability) per image per model, best first; within ``lesson`` only, so fewer
        than ``k`` when the lesson has fewer classes."""
        lesson = self.lesson if lesson is None else check_lesson(lesson)
        allowed = np.array(lesson_indices(lesson, self.labels.split))  # all classes: 0 ... C-1, as before
        out = {}
        for name, probs in self.probabilities(images, lesson).items():
            # Ranked among the lesson's classes only: one the model gave 0 still never yields its place to
            # a class outside the lesson.
            order = allowed[np.argsort(probs[:, allowed], axis=1)[:, ::-1][:, :k]]
            out[name] = [[(self.labels.names[c], float(p[c])) for c in row] for p, row in zip(probs, order)]
        return out

    def predict_drawing(self, image, k: int = 5, lesson: str | None = None):
        """Any drawing or photo -> (the 28x28 the models see, {model: top-k}), within ``lesson``."""
        x = preprocess(image)
        return x, {name: tops[0] for name, tops in self.top_k(x, k, lesson).items()}


def _fast_call(model, ref):
    """The cheapest way to call ``model`` on a batch, returning numpy (N, classes)."""
    if isinstance(model, LiteModel):
        return model
    import keras

    if keras.backend.backend() != "tensorflow":
        return lambda x: ref().predict_on_batch(x)
    import tensorflow as tf

    spec = tf.TensorSpec([None, SIDE, SIDE], tf.float32)
    traced = tf.function(lambda x: ref()(x, training=False), input_signature=[spec], reduce_retracing=True)
    return lambda x: traced(x).numpy()
