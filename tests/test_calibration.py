"""Class-prior correction: a layer that survives saving in safe mode and favours rare classes."""

import numpy as np

from conftest import NUM_CLASSES
from emnist_core.calibration import corrected, fit_tau, training_log_prior, with_prior_correction
from emnist_core.models import build_model
from emnist_core.store import load_model


def test_correction_moves_ties_towards_the_rare_class():
    log_prior = training_log_prior(np.array([0] * 90 + [1] * 10), 2)
    probs = np.array([[0.55, 0.45]])
    assert corrected(probs, log_prior, 0.0).argmax() == 0
    assert corrected(probs, log_prior, 1.0).argmax() == 1
    np.testing.assert_allclose(corrected(probs, log_prior, 0.0), probs, atol=1e-6)


def test_fit_tau_prefers_balance_when_the_prior_misleads():
    rng = np.random.default_rng(0)
    y = np.array([0] * 50 + [1] * 50)
    # A model that over-predicts class 0 by a constant factor, as a digit-heavy prior would.
    p1 = np.clip(np.where(y == 1, 0.45, 0.2) + rng.normal(0, 0.03, 100), 0.01, 0.99)
    probs = np.stack([1 - p1, p1], 1)
    tau, table = fit_tau(probs, y, training_log_prior(np.array([0] * 80 + [1] * 20), 2))
    assert tau > 0 and table[0]["tau"] == 0
    best = max(table, key=lambda r: r["accuracy"] + r["mean_recall"])
    assert best["mean_recall"] > table[0]["mean_recall"]


def test_corrected_model_saves_and_loads_in_safe_mode(tmp_path):
    model = build_model("seed-mlp")
    log_prior = np.log(np.full(NUM_CLASSES, 1 / NUM_CLASSES))
    log_prior[0] = np.log(0.5)
    wrapped = with_prior_correction(model, log_prior, 0.5)
    x = np.random.default_rng(1).integers(0, 255, (3, 28, 28)).astype(np.float32)
    wrapped.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict_on_batch(x), wrapped.predict_on_batch(x), atol=1e-6)
    np.testing.assert_allclose(again.predict_on_batch(x).sum(1), 1, atol=1e-5)
    ratio = again.predict_on_batch(x)[:, 0] / model.predict_on_batch(x)[:, 0]
    assert (ratio < 1).all()  # the common class is damped


def test_derived_model_reuses_weights_and_matches_a_full_copy(tmp_path):
    import json

    import pytest

    from emnist_core.store import ModelFileError, model_exists, resolve_model_path

    model = build_model("seed-mlp")
    model.save(tmp_path / "base.keras")
    log_prior = np.log(np.linspace(1, 3, NUM_CLASSES) / np.linspace(1, 3, NUM_CLASSES).sum())
    full = with_prior_correction(model, log_prior, 0.7)
    card = {"name": "base-prior", "derived_from": {"weights": "base.keras",
                                                   "prior_correction": {"tau": 0.7, "log_prior": log_prior.tolist()}}}
    (tmp_path / "base-prior.card.json").write_text(json.dumps(card))
    path = tmp_path / "base-prior.keras"
    assert not path.exists() and model_exists(path) and resolve_model_path(path) == path
    x = np.random.default_rng(2).integers(0, 255, (4, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(load_model(path).predict_on_batch(x), full.predict_on_batch(x), atol=1e-6)

    for weights, message in (("../base.keras", "same folder"), ("gone.keras", "missing")):
        card["derived_from"]["weights"] = weights
        (tmp_path / "base-prior.card.json").write_text(json.dumps(card))
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
