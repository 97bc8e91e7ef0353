"""A temperature for a model that a job made, fitted for its own weights on images it was not trained on.

A temperature (``models.temperature``) belongs to one set of weights: new weights served with another model's T
say "90%" where they may be right seven times in ten. So a job fits one after training, before it saves the model,
and the card keeps it (``calibration.temperature``), which is where the server reads the T it serves with
(``temperature.card_temperature``). The card's reliability figures are then this model's own as well.

- A training job fits on the validation part of its dataset (never trained on: the images of its val_* curves)
  and checks the fit on the drawn test characters, when the server has them.
- A fine-tune fits on the drawn characters' validation part (writers it never trained on: its training slice
  comes from their training part), or on the base data's validation part where no drawn characters are on the
  server, and checks the fit on the drawn test characters (else the base test part). Not on the held-out
  corrections: each correction is a drawing that a model read wrong, so a fit on them would learn to doubt every
  answer, and they are a few dozen at most.

The "not sure" threshold (``verdict.NOT_SURE``) is not measured again: it is a rule for a pair (both models sure,
both reading the same class), measured once with the shipped pair. The section says so (``not_sure``), with what the
threshold does for this model alone on its fit images: the share it would answer as sure, and how often those are
right.
"""

from __future__ import annotations

import numpy as np

from emnist_core.lab.verdict import NOT_SURE
from emnist_core.models.evaluation import DRAWN, predict_probabilities
from emnist_core.models.store import ALIASES
from emnist_core.models.temperature import temperature_section

# One parameter is pinned down long before this many images; a job has one core, and scoring them costs seconds.
FIT_MAX = 5000
HELD_OUT_MAX = 5000
SAMPLE_SEED = 0  # which images a capped fit reads: fixed, so a fit can be made again
PAIR_WORDS = " and ".join(ALIASES.values())
MEASURED_FOR = (
    f"the shipped pair ({PAIR_WORDS}) on drawn validation characters; not measured again for this model "
    "(the rule needs both models of a pair)"
)


def fit_section(model, fit, fitted_on: str, held_out=None, held_out_on: str | None = None) -> dict:
    """``model``'s temperature section (``temperature.temperature_section``): T fitted on ``fit`` = (images,
    0-based classes) it was not trained on, named ``fitted_on`` ("unipen validation"); checked on ``held_out``
    (images, classes, ...) named ``held_out_on``, when given; and the "not sure" threshold it is served with."""
    x, y = _sample(fit[0], fit[1], FIT_MAX)
    if not len(y):
        raise ValueError(
            f"{fitted_on}: no images to fit the model's temperature on; give a dataset with a validation part"
        )
    held = None
    if held_out is not None and len(held_out[1]):
        hx, hy = _sample(held_out[0], held_out[1], HELD_OUT_MAX)
        held = predict_probabilities(model, hx), hy
    section = temperature_section(
        predict_probabilities(model, x), y, fitted_on=fitted_on, thresholds=(NOT_SURE,), held_out=held
    )
    if held is not None:
        section["held_out"]["on"] = held_out_on
    (row,) = section.pop("selective")
    section["not_sure"] = {"threshold": NOT_SURE, "measured_for": MEASURED_FOR, "on": fitted_on, **row}
    return section


def for_training(dataset_name: str):
    """What ``training.train_and_save`` calls (its ``temperature``) to fit a training job's model:
    (model, validation (images, classes), drawn test set or None) -> its section; None without validation images."""

    def fit(model, validation, drawn_test):
        if not len(validation[1]):  # nothing held out to fit on: served at T = 1, and its card says so
            return None
        return fit_section(model, validation, f"{dataset_name} validation", drawn_test, f"{DRAWN} test")

    return fit


def for_fine_tune(model, base, drawn) -> dict | None:
    """A fine-tuned model's section: fitted on ``drawn``'s validation part (else ``base``'s), checked on its test
    part (see the module doc); None when neither has a validation part (its card then says it is not calibrated)."""
    data = next((d for d in (drawn, base) if d is not None and len(d.y_val)), None)
    if data is None:
        return None
    return fit_section(
        model,
        (data.x_val, data.labels_as_classes(data.y_val)),
        f"{data.name} validation",
        (data.x_test, data.labels_as_classes(data.y_test)),
        f"{data.name} test",
    )


def _sample(x, y, n: int):
    """At most ``n`` of (x, y), drawn at random but always the same ones, in their order."""
    y = np.asarray(y)
    if len(y) <= n:
        return x, y
    idx = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(y), n, replace=False))
    return x[idx], y[idx]
