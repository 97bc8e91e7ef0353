"""Temperature scaling (Guo et al. 2017): how sure a model should say it is.

A network's top probability is rarely its accuracy: "90%" is not right nine times in ten. Dividing the
log-probabilities by one number ``T``, fitted on validation data to minimise the negative log-likelihood,
fixes most of that without changing any answer (the order of the classes is kept). ``T`` is kept in the
model card (``calibration.temperature``), not in the model: the caller applies it (``apply_temperature``),
so a card can be refitted without touching weights. Numpy only (scipy and scikit-learn for the fit and the
bins): the server applies T to every prediction without importing Keras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from emnist_core.models.card import ModelCard

# Search range of log T: T from 1/20 to 20 covers any network's over- or under-confidence many times over.
LOG_T_BOUNDS = (-3.0, 3.0)
RELIABILITY_BINS = 10  # equal-width confidence bins, as in Guo et al.'s reliability diagrams
EPS = 1e-12  # log(0) guard: a probability the model rounded to zero stays finite


def _log_probs(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(probs, np.float64), EPS, None))


def apply_temperature(probs, temperature: float) -> np.ndarray:
    """softmax(log(p) / T) row by row, for (C,) or (N, C) probabilities; exactly ``probs`` at T = 1."""
    probs = np.asarray(probs)
    if temperature == 1:
        return probs  # no round trip through log and exp: the identity, to the last bit
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = _log_probs(probs) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=-1, keepdims=True)).astype(probs.dtype if probs.dtype.kind == "f" else np.float64)


def nll(probs, y) -> float:
    """Mean negative log-likelihood of the true classes ``y`` (0-based) under ``probs`` (N, C)."""
    probs = np.asarray(probs)
    return float(-_log_probs(probs[np.arange(len(y)), np.asarray(y)]).mean())


def fit_temperature(probs, y) -> float:
    """The T that minimises the NLL of softmax(log(p) / T) on (probs, y): a bounded 1-D search over log T."""
    from scipy.optimize import minimize_scalar

    log_p = _log_probs(probs)
    y = np.asarray(y)
    if len(y) == 0:
        raise ValueError("fit_temperature needs at least one labelled example")

    def loss(log_t):
        z = log_p / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        return float((np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]).mean())

    result = minimize_scalar(loss, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def reliability(probs, y, bins: int = RELIABILITY_BINS) -> dict:
    """Top-1 confidence against correctness: the bins of a reliability diagram and the expected calibration error.

    ``bins`` holds, per non-empty equal-width confidence bin, its mean confidence, accuracy and count
    (scikit-learn's ``calibration_curve`` gives the first two); ECE is their gap weighted by count.
    """
    from sklearn.calibration import calibration_curve

    probs, y = np.asarray(probs), np.asarray(y)
    confidence = np.clip(probs.max(axis=1), 0.0, 1.0)  # float32 softmax may overshoot 1 by an ulp
    correct = (probs.argmax(axis=1) == y).astype(np.int64)
    # calibration_curve returns only the non-empty bins, in order; the counts come from the same edges.
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.searchsorted(edges[1:-1], confidence)  # sklearn's own binning
    counts = np.bincount(index, minlength=bins)
    counts = counts[counts > 0]
    ece = float(np.sum(counts * np.abs(accuracy - mean_confidence)) / max(len(y), 1))
    return {
        "ece": ece,
        "nll": nll(probs, y),
        "accuracy": float(correct.mean()) if len(y) else 0.0,
        "mean_confidence": float(confidence.mean()) if len(y) else 0.0,
        "bins": [
            {"confidence": float(c), "accuracy": float(a), "count": int(n)}
            for c, a, n in zip(mean_confidence, accuracy, counts)
        ],
    }


def selective_accuracy(probs, y, thresholds) -> list[dict]:
    """For each threshold: the share of images whose top probability reaches it, and the accuracy on those.

    What a "not sure below this" rule costs (answers withheld) and buys (answers given are right more often).
    """
    probs, y = np.asarray(probs), np.asarray(y)
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    rows = []
    for t in thresholds:
        kept = confidence >= t
        rows.append(
            {
                "threshold": float(t),
                "coverage": float(kept.mean()) if len(y) else 0.0,
                "accuracy": float(correct[kept].mean()) if kept.any() else None,
            }
        )
    return rows


def temperature_section(probs, y, fitted_on: str, command: str | None = None, thresholds=(), held_out=None) -> dict:
    """Fit T on (probs, y) and describe it for a model card: T, the data, NLL/ECE and reliability bins before
    and after, (with ``thresholds``) the calibrated accuracy above each, and (with ``held_out``, a pair
    (probs, y) of data the fit never saw) NLL and ECE there before and after: the honest check."""
    temperature = fit_temperature(probs, y)
    after = apply_temperature(probs, temperature)
    section = {
        "method": "temperature scaling of the log-probabilities (Guo et al. 2017), fitted by minimum NLL",
        "T": temperature,
        "fitted_on": fitted_on,
        "n": len(y),
        "before": reliability(probs, y),
        "after": reliability(after, y),
    }
    if len(thresholds):
        section["selective"] = selective_accuracy(after, y, thresholds)
    if held_out is not None:
        test_probs, test_y = held_out
        was, now = reliability(test_probs, test_y), reliability(apply_temperature(test_probs, temperature), test_y)
        section["held_out"] = {
            "n": len(test_y),
            **{f"{k}_{when}": part[k] for k in ("nll", "ece") for when, part in (("before", was), ("after", now))},
        }
    if command:
        section["command"] = command
    return section


def ece_change(section: dict) -> tuple[float, float]:
    """(ECE before, ECE after) scaling by T, on the images T was fitted on: what the section's reliability diagram
    draws (``figures.reliability_figure``), so that a card's words and its figure quote the same pair of numbers."""
    return section["before"]["ece"], section["after"]["ece"]


def card_temperature(card: ModelCard | None) -> float:
    """The T a model card (or None) holds (``calibration.temperature.T``), or 1.0 (no change)
    when it has none, or one that is not a positive number."""
    section = None if card is None else card.temperature_section
    try:
        temperature = float(section["T"])
    except (KeyError, TypeError, ValueError):  # no section (None), no T, or not a number
        return 1.0
    return temperature if np.isfinite(temperature) and temperature > 0 else 1.0
