"""Class-prior correction: a layer that survives saving in safe mode and favours rare classes. Temperature
scaling: a fit that finds a known miscalibration, and the CLI that writes it into a model's card."""

import numpy as np
import pytest

from emnist_core.models.build import build_model
from emnist_core.models.calibration import corrected, fit_tau, training_log_prior, with_prior_correction
from emnist_core.models.store import load_model

from conftest import NUM_CLASSES


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
    chosen = next(r for r in table if r["tau"] == tau)
    assert chosen["accuracy"] + chosen["mean_recall"] == max(r["accuracy"] + r["mean_recall"] for r in table)
    assert chosen["mean_recall"] > table[0]["mean_recall"]


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

    from emnist_core.models.store import ModelFileError, model_exists, resolve_model_path

    model = build_model("seed-mlp")
    model.save(tmp_path / "base.keras")
    log_prior = np.log(np.linspace(1, 3, NUM_CLASSES) / np.linspace(1, 3, NUM_CLASSES).sum())
    full = with_prior_correction(model, log_prior, 0.7)
    card = {
        "name": "base-prior",
        "derived_from": {"weights": "base.keras", "prior_correction": {"tau": 0.7, "log_prior": log_prior.tolist()}},
    }
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


# ---------------------------------------------------------------- temperature scaling


def overconfident(n=20_000, classes=5, temperature=2.0, seed=0):
    """Labels drawn from softmax(z), and a model that reports softmax(z * T): over-confident by exactly T."""
    from emnist_core.models.temperature import apply_temperature

    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, classes))
    truth = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = (rng.random(n)[:, None] > truth.cumsum(1)).sum(1)
    return apply_temperature(truth, 1 / temperature), y


def test_apply_temperature_is_the_identity_at_one_and_keeps_the_order():
    from emnist_core.models.temperature import apply_temperature

    probs = np.random.default_rng(3).dirichlet(np.ones(NUM_CLASSES), 50)
    assert np.array_equal(apply_temperature(probs, 1.0), probs)  # float64: a trip through log and exp would show
    probs = probs.astype(np.float32)  # what the models give
    assert np.array_equal(apply_temperature(probs, 1.0), probs)
    for t in (0.5, 2.0):
        scaled = apply_temperature(probs, t)
        assert scaled.dtype == probs.dtype and scaled.shape == probs.shape
        np.testing.assert_allclose(scaled.sum(1), 1, atol=1e-5)
        assert (scaled.argmax(1) == probs.argmax(1)).all()
        # T > 1 softens the top probability, T < 1 sharpens it.
        assert ((scaled.max(1) < probs.max(1)) if t > 1 else (scaled.max(1) > probs.max(1))).all()
    np.testing.assert_allclose(apply_temperature(probs[0], 2.0), apply_temperature(probs, 2.0)[0], rtol=1e-6)


def test_fit_temperature_recovers_a_known_overconfidence_and_lowers_nll_and_ece():
    from emnist_core.models.temperature import apply_temperature, fit_temperature, nll, reliability

    probs, y = overconfident(temperature=2.0)
    t = fit_temperature(probs, y)
    assert t == pytest.approx(2.0, rel=0.05)
    before, after = reliability(probs, y), reliability(apply_temperature(probs, t), y)
    assert after["nll"] < before["nll"] and after["nll"] == pytest.approx(nll(apply_temperature(probs, t), y))
    assert after["ece"] < before["ece"] / 3
    # An under-confident model gets T < 1.
    soft, y_soft = overconfident(temperature=0.5, seed=1)
    assert fit_temperature(soft, y_soft) == pytest.approx(0.5, rel=0.05)


def test_reliability_bins_are_sklearns_and_count_every_image():
    from sklearn.calibration import calibration_curve

    from emnist_core.models.temperature import reliability

    probs, y = overconfident(n=3000)
    result = reliability(probs, y)
    correct = probs.argmax(1) == y
    accuracy, confidence = calibration_curve(correct, probs.max(1), n_bins=10)
    assert [b["accuracy"] for b in result["bins"]] == pytest.approx(accuracy)
    assert [b["confidence"] for b in result["bins"]] == pytest.approx(confidence)
    assert sum(b["count"] for b in result["bins"]) == len(y)
    gaps = sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in result["bins"]) / len(y)
    assert result["ece"] == pytest.approx(gaps) and result["accuracy"] == pytest.approx(correct.mean())


def test_card_temperature_defaults_to_no_change():
    from emnist_core.models.card import ModelCard
    from emnist_core.models.temperature import card_temperature

    assert card_temperature(ModelCard(calibration={"tau": 0.5, "temperature": {"T": 0.8}})) == 0.8
    for calibration in (
        None,
        {"tau": 0.5},
        {"temperature": {"T": "x"}},
        {"temperature": {"T": -1}},
        {"temperature": {"T": float("nan")}},
        {"temperature": "T"},
    ):
        assert card_temperature(ModelCard(calibration=calibration)) == 1.0, calibration
    assert card_temperature(None) == 1.0


def test_calibrate_temperature_writes_the_section_into_the_models_own_card(tmp_path, capsys):
    """``calibrate --temperature`` on a tiny MNIST-format set: into a full model's card, and into a derived one's."""
    import json

    from emnist_core import cli
    from emnist_core.models.card import ModelCard
    from emnist_core.models.store import card_path, load_card, save_model

    from conftest import l_shapes, write_idx_pair

    data = tmp_path / "data"
    images = np.concatenate([l_shapes(60, seed=s) for s in range(2)])
    labels = np.arange(len(images)) % 10
    for part in ("train", "test"):
        write_idx_pair(data, "mnist", part, images, labels)
    model = build_model("seed-mlp")
    base = save_model(model, tmp_path / "m.keras", ModelCard(name="m", command="train it", calibration={"tau": 0.5}))
    log_prior = np.log(np.full(NUM_CLASSES, 1 / NUM_CLASSES))
    derived = save_model(
        None,
        tmp_path / "m-prior.keras",
        ModelCard(
            name="m-prior",
            derived_from={"weights": "m.keras", "prior_correction": {"tau": 0.3, "log_prior": log_prior.tolist()}},
        ),
    )
    for path in (base, derived):
        before = load_card(path)
        assert (
            cli.main(["calibrate", "--model", str(path), "--temperature", "--fit-on", "mnist", "--data-dir", str(data)])
            == 0
        )
        printed = json.loads(capsys.readouterr().out)
        card = load_card(path)
        section = card.temperature_section
        assert printed["T"] == pytest.approx(section["T"], abs=1e-4) and section["T"] > 0
        assert section["fitted_on"] == "mnist validation" and section["n"] == sum(
            b["count"] for b in section["after"]["bins"]
        )
        assert section["after"]["nll"] <= section["before"]["nll"] + 1e-9
        assert "calibrate --model" in section["command"] and "--temperature" in section["command"]
        assert section["selective"][0]["threshold"] == 0.3
        assert (
            section["held_out"]["n"] > 0
            and {"nll_before", "nll_after", "ece_before", "ece_after"} <= section["held_out"].keys()
        )
        # Everything else in the card stays as it was (the prior correction's fit included).
        assert card.updated(calibration=None) == before.updated(calibration=None)
        assert {k: v for k, v in card.calibration.items() if k != "temperature"} == (before.calibration or {})
    assert "temperature" in load_card(derived).calibration and card_path(derived).name == "m-prior.card.json"
    assert not (tmp_path / "m-prior.keras").exists()  # still a card over m.keras' weights


def test_reliability_figure_draws_both_curves_from_a_card_section():
    from emnist_core.lab.figures import reliability_figure
    from emnist_core.models.temperature import temperature_section

    probs, y = overconfident(n=2000)
    section = temperature_section(probs, y, fitted_on="made-up validation")
    for given in (section, {"tau": 0.5, "temperature": section}):  # the section, or the card's whole calibration
        fig = reliability_figure(given, "")
        (ax,) = fig.axes
        _diagonal, before, after = ax.get_lines()
        assert list(before.get_xdata()) == [b["confidence"] for b in section["before"]["bins"]]
        assert list(after.get_ydata()) == [b["accuracy"] for b in section["after"]["bins"]]
        assert f"T = {section['T']:.2f}" in after.get_label() and "made-up validation" in ax.get_title()


def test_the_live_models_cards_carry_a_temperature_fitted_on_drawn_characters():
    from emnist_core.models.store import ALIASES, load_card, resolve_model_path
    from emnist_core.models.temperature import card_temperature

    for alias in ALIASES:
        card = load_card(resolve_model_path(alias))
        section = card.temperature_section
        assert section["fitted_on"] == "unipen validation" and section["n"] > 5_000, alias
        assert card_temperature(card) == section["T"] != 1.0
        assert section["after"]["nll"] < section["before"]["nll"] and section["after"]["ece"] < section["before"]["ece"]
        held_out = section["held_out"]  # the drawn test split, which the fit never saw
        assert held_out["ece_after"] < held_out["ece_before"] and held_out["nll_after"] < held_out["nll_before"]
        assert "unipen" in card.calibration["fitted_on"]  # the prior correction's own fit is still there


@pytest.mark.parametrize("command", ["missing", None, "python -m emnist_core train --model seed-mlp"])
def test_calibrate_chains_its_command_to_the_sources_own_or_stands_alone(tmp_path, monkeypatch, capsys, command):
    """A source card without a command (one written before commands, or a fine-tune made in the app, whose command
    is None) gets ``calibrate``'s command alone: no KeyError, no "None && ..."."""
    import json
    import shlex
    import sys

    from emnist_core import cli
    from emnist_core.models.card import ModelCard
    from emnist_core.models.store import card_path, load_card, save_model

    from conftest import l_shapes, write_idx_pair

    data = tmp_path / "data"
    images = l_shapes(12 * NUM_CLASSES)  # a tenth of it validation: at least one image of each class
    for part in ("train", "test"):
        write_idx_pair(data, "bymerge", part, images, np.arange(len(images)) % NUM_CLASSES)
    card = ModelCard(name="ft", data={"dataset": "bymerge"}, command=None if command == "missing" else command)
    source = save_model(build_model("seed-mlp"), tmp_path / "ft.keras", card)
    if command == "missing":
        on_disk = json.loads(card_path(source).read_text())
        del on_disk["command"]
        card_path(source).write_text(json.dumps(on_disk))
    argv = ["calibrate", "--model", str(source), "--out", str(tmp_path / "ft-prior.keras"), "--data-dir", str(data)]
    monkeypatch.setattr(sys, "argv", ["emnist_core", *argv])  # what the card's command repeats
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["model"] == str(tmp_path / "ft-prior.keras")
    mine = shlex.join(["python", "-m", "emnist_core", *argv])
    card = load_card(tmp_path / "ft-prior.keras")
    assert card.command == (mine if command in ("missing", None) else f"{command} && {mine}")
    assert card.derived_from["weights"] == "ft.keras" and card.calibration["tau"] >= 0
