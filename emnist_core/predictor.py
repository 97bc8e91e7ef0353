"""Prediction with the shipped (or any saved) models, loaded once and called cheaply.

``model.predict`` costs ~33 ms of set-up per call; a traced ``tf.function`` with a fixed input
signature costs well under a millisecond per image, so that is what ``Predictor`` calls.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .labels import LabelMap, label_map
from .preprocess import SIDE, preprocess

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
SHIPPED = ("seed-mlp", "seed-cnn", "mlp-bn", "cnn-bn", "mlp-bn-prior", "cnn-bn-prior")
# The app's live pair: the best MLP and the best CNN shipped, with the class-prior correction,
# because people draw letters as often as digits (see README's results).
ALIASES = {"mlp": "mlp-bn-prior", "cnn": "cnn-bn-prior"}


class ModelFileError(ValueError):
    """A model file is missing, corrupt or not a model we can run."""


def resolve_model_path(name_or_path, models_dir=None) -> Path:
    """A shipped model name (``cnn``, ``seed-mlp`` ...) or a path to a ``.keras`` file -> its path."""
    text = str(name_or_path)
    name = ALIASES.get(text, text)
    for folder in (models_dir, ASSETS_DIR):
        if folder is not None and "/" not in name and not name.endswith(".keras"):
            candidate = Path(folder) / f"{name}.keras"
            if model_exists(candidate):
                return candidate
    path = Path(text)
    if path.suffix == ".keras":
        if not model_exists(path):
            raise ModelFileError(f"{path}: model file not found")
        return path
    known = ", ".join([*ALIASES, *SHIPPED])
    raise ModelFileError(f"unknown model {text!r}: give a shipped name ({known}) or a path to a .keras file")


def model_exists(path) -> bool:
    """A ``.keras`` file, or a derived model: a card beside it that names the weights it reuses."""
    path = Path(path)
    return path.is_file() or isinstance((load_card(path) or {}).get("derived_from"), dict)


def load_model(path):
    """Load a ``.keras`` file (or a derived model, see ``model_exists``) for inference, in Keras' safe mode."""
    import keras

    from . import calibration  # noqa: F401  registers PriorCorrection, a layer of the shipped models

    path = Path(path)
    if not path.is_file():
        derived = (load_card(path) or {}).get("derived_from")
        if isinstance(derived, dict):
            return _load_derived(path, derived)
        raise ModelFileError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):  # Keras would report this as "file not found"
        raise ModelFileError(f"{path}: not a loadable Keras model (a .keras file is a zip archive; this one is "
                             "cut short or another kind of file); retrain it or restore the shipped file")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive; one clear message for all
        if "arbitrary code execution" in str(exc):  # the words of Keras' safe-mode refusal
            raise ModelFileError(f"{path}: refused by Keras' safe mode: the model holds Python code (such as a "
                                 "Lambda layer) that would run on loading; rebuild it from standard layers") from None
        raise ModelFileError(
            f"{path}: not a loadable Keras model ({type(exc).__name__}: {str(exc)[:200]}); "
            "retrain it or restore the shipped file"
        ) from None


def _load_derived(path: Path, derived: dict):
    """A class-prior correction over another model's weights in the same folder: one copy of the weights.

    The card holds ``derived_from = {"weights": "NAME.keras", "prior_correction": {"tau", "log_prior"}}``.
    """
    from .calibration import PriorCorrection, with_prior_correction

    weights, correction = derived.get("weights"), derived.get("prior_correction") or {}
    if not isinstance(weights, str) or Path(weights).name != weights or not weights.endswith(".keras"):
        raise ModelFileError(f"{path}: its card's derived_from.weights must name a .keras file in the same folder")
    base_path = path.with_name(weights)
    if not base_path.is_file():
        raise ModelFileError(f"{path}: reuses the weights of {weights}, which is missing; restore it or retrain")
    base = load_model(base_path)
    if isinstance(base.layers[-1], PriorCorrection):  # start from the uncorrected probabilities
        import keras

        base = keras.Model(base.inputs, base.layers[-1].input, name=base.name)
    try:
        tau, log_prior = float(correction["tau"]), [float(v) for v in correction["log_prior"]]
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(f"{path}: its card's prior_correction needs a number tau and a list log_prior") from None
    if len(log_prior) != base.output_shape[-1]:
        raise ModelFileError(f"{path}: log_prior has {len(log_prior)} classes, {weights} gives {base.output_shape[-1]}")
    return with_prior_correction(base, log_prior, tau)


def load_card(path) -> dict | None:
    """The model card beside a model file, or None when there is none."""
    from .training import card_path

    p = card_path(path)
    try:
        card = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None  # a damaged card counts as none


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
                raise ModelFileError(f"model {name}: does not take 28x28 images ({type(exc).__name__}); "
                                     "use a model trained by emnist_core") from None
            shape, classes = tuple(getattr(out, "shape", ())), self.labels.num_classes
            if shape != (1, classes):
                raise ModelFileError(
                    f"model {name}: gives outputs of shape {shape[1:]} per image, not the {classes} class "
                    f"scores of EMNIST {self.labels.split}; was it trained on another split?"
                )

    @classmethod
    def load(cls, names=("mlp", "cnn"), models_dir=None) -> "Predictor":
        return cls({name: load_model(resolve_model_path(name, models_dir)) for name in names})

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


def models_dir() -> Path:
    """Writable folder for retrained models (``EMNIST_MODELS_DIR``); never ``assets/``."""
    import os

    from .files import cache_dir

    return Path(os.environ.get("EMNIST_MODELS_DIR") or cache_dir() / "models")
