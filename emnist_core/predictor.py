"""Prediction with the shipped (or any saved) models, loaded once and called cheaply.

Finding and loading a saved model is ``store``'s job; this module runs models that are loaded.

``model.predict`` costs ~33 ms of set-up per call; a traced ``tf.function`` with a fixed input
signature costs well under a millisecond per image, so that is what ``Predictor`` calls.
"""

from __future__ import annotations

import numpy as np

from . import store
from .labels import LabelMap, label_map
from .preprocess import SIDE, preprocess


class Predictor:
    """Several models side by side: ``predict`` gives each one's probabilities for 28x28 images."""

    def __init__(self, models: dict, labels: LabelMap | None = None):
        import tensorflow as tf

        self.labels = labels or label_map("bymerge")
        self.models = dict(models)
        spec = tf.TensorSpec([None, SIDE, SIDE], tf.float32)
        self._fns = {
            name: tf.function(lambda x, m=model: m(x, training=False), input_signature=[spec], reduce_retracing=True)
            for name, model in self.models.items()
        }
        warm = np.zeros((1, SIDE, SIDE), np.float32)
        for name, fn in self._fns.items():
            try:
                out = fn(warm)  # trace now, not on the first user's stroke
            except Exception as exc:  # TF and Keras raise many types for a model built for other inputs
                raise store.ModelFileError(f"model {name}: does not take 28x28 images ({type(exc).__name__}); "
                                     "use a model trained by emnist_core") from None
            shape, classes = tuple(getattr(out, "shape", ())), self.labels.num_classes
            if shape != (1, classes):
                raise store.ModelFileError(
                    f"model {name}: gives outputs of shape {shape[1:]} per image, not the {classes} class "
                    f"scores of EMNIST {self.labels.split}; was it trained on another split?"
                )

    @classmethod
    def load(cls, names=("mlp", "cnn"), models_dir=None) -> "Predictor":
        return cls({name: store.load_model(store.resolve_model_path(name, models_dir)) for name in names})

    def probabilities(self, images) -> dict[str, np.ndarray]:
        """``images``: uint8/float (N, 28, 28) or one (28, 28) -> {model name: (N, classes)}."""
        x = np.asarray(images, dtype=np.float32)
        if x.shape == (SIDE, SIDE):
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (SIDE, SIDE):
            raise ValueError(f"expected 28x28 images, got shape {x.shape}; use preprocess() first")
        return {name: fn(x).numpy() for name, fn in self._fns.items()}

    def top_k(self, images, k: int = 5) -> dict[str, list[list[tuple[str, float]]]]:
        """Best ``k`` (label, probability) per image per model, best first."""
        out = {}
        for name, probs in self.probabilities(images).items():
            order = np.argsort(probs, axis=1)[:, ::-1][:, :k]
            out[name] = [[(self.labels.names[c], float(p[c])) for c in row] for p, row in zip(probs, order)]
        return out

    def predict_drawing(self, image, k: int = 5):
        """Any drawing or photo -> (the 28x28 the models see, {model: top-k})."""
        x = preprocess(image)
        return x, {name: tops[0] for name, tops in self.top_k(x, k).items()}

