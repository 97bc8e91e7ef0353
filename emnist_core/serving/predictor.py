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

TRACED_ATTRIBUTE = "_emnist_sketch_lab_calls"  # on a Keras model: {classes: its checked fast call}


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
        """``model``'s fast call, checked on 28x28 images. A Keras model's traced call is kept on the model itself and
        reused by every Predictor that serves it (a lab checks each model alone, then serves the pair): tracing costs
        ~0.05 s a model, and tracing again makes TensorFlow warn about retracing."""
        classes = self.labels.num_classes
        kept = getattr(model, TRACED_ATTRIBUTE, None) or {}
        if classes in kept:
            return kept[classes]
        # The traced graph holds the weights; it reaches the model through a weak reference, so the two go together.
        fn = _fast_call(model, weakref.ref(model))
        try:
            out = fn(np.zeros((1, SIDE, SIDE), np.float32))  # trace now, not on the first user's stroke
        except Exception as exc:  # TF and Keras raise many types for a model built for other inputs
            raise store.ModelFileError(
                f"model {name}: does not take 28x28 images ({type(exc).__name__}); use a model trained by emnist_core"
            ) from None
        shape = tuple(getattr(out, "shape", ()))
        if shape != (1, classes):
            raise store.ModelFileError(
                f"model {name}: gives outputs of shape {shape[1:]} per image, not the {classes} class "
                f"scores of EMNIST {self.labels.split}; was it trained on another split?"
            )
        if not isinstance(model, LiteModel):  # an exported model is its own fast call
            setattr(model, TRACED_ATTRIBUTE, {**kept, classes: fn})
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
