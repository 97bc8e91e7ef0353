"""Calibration: a class-prior correction (which class wins) and temperature scaling (how sure to say it is).

Class-prior correction: stop letters being pulled towards the digit-heavy training distribution.

pool47 follows ByMerge's natural distribution (digits are ~10x as common as most letters), so a model
trained on it leans towards digits when unsure. People draw letters as often as digits. Logit
adjustment (Menon et al. 2021) divides each class probability by its training prior raised to a
power ``tau``; ``tau`` is fitted on the validation set to maximise the mean of accuracy and mean
per-class recall. The correction is a layer appended to the model, so every caller gets it.

Temperature scaling (how sure to say it is) is in ``temperature``.
"""

from __future__ import annotations

import keras
import numpy as np

TAUS = np.round(np.arange(0.0, 1.01, 0.05), 2)


@keras.saving.register_keras_serializable(package="emnist_core")
class PriorCorrection(keras.layers.Layer):
    """probabilities -> softmax(log p - tau * log prior): a fixed, data-free re-weighting."""

    def __init__(self, log_prior, tau: float, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.log_prior = [float(v) for v in log_prior]
        self.tau = float(tau)

    def call(self, probabilities):
        shift = keras.ops.convert_to_tensor(np.asarray(self.log_prior, np.float32) * self.tau)
        return keras.ops.softmax(keras.ops.log(probabilities + 1e-7) - shift, axis=-1)

    def get_config(self):
        return {**super().get_config(), "log_prior": self.log_prior, "tau": self.tau}


def corrected(probs: np.ndarray, log_prior: np.ndarray, tau: float) -> np.ndarray:
    logits = np.log(probs + 1e-7) - tau * log_prior
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_tau(probs: np.ndarray, y: np.ndarray, log_prior: np.ndarray) -> tuple[float, list[dict]]:
    """The ``tau`` in ``TAUS`` that maximises (accuracy + mean recall) / 2 on (probs, y)."""
    from sklearn.metrics import balanced_accuracy_score

    table = []
    for tau in TAUS:
        pred = corrected(probs, log_prior, tau).argmax(1)
        acc, recall = float((pred == y).mean()), float(balanced_accuracy_score(y, pred))
        table.append({"tau": float(tau), "accuracy": acc, "mean_recall": recall})
    best = max(table, key=lambda r: r["accuracy"] + r["mean_recall"])
    return best["tau"], table


def without_prior_correction(model: keras.Model) -> keras.Model:
    """The model's uncorrected probabilities: its own output when it ends in a ``PriorCorrection``, else itself."""
    if not isinstance(model.layers[-1], PriorCorrection):
        return model
    return keras.Model(model.inputs, model.layers[-1].input, name=model.name)


def with_prior_correction(model: keras.Model, log_prior, tau: float) -> keras.Model:
    # Flat, not nested: the correction reads the model's own output tensor.
    outputs = PriorCorrection(log_prior, tau, name="prior_correction")(model.outputs[0])
    return keras.Model(model.inputs, outputs, name=f"{model.name}_calibrated")


def training_log_prior(y_train: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.bincount(np.asarray(y_train), minlength=num_classes).astype(np.float64)
    return np.log((counts + 1) / (counts + 1).sum())
