"""The model card (``emnist_core.models.card.ModelCard``): the shipped JSON read and written back byte for byte,
a damaged card refused, and each way a card is derived from another."""

import json
from pathlib import Path

import pytest

from emnist_core.models.card import CardError, ModelCard
from emnist_core.models.evaluation import DRAWN
from emnist_core.models.store import ASSETS_DIR, SHIPPED, ModelFileError, card_path, load_card, save_card, save_model

from conftest import untrained_model

REPORT = {"n": 10, "accuracy": 0.9, "top3": 1.0, "loss": 0.3, "mean_recall": 0.85, "per_class": {}}
DRAWN_REPORT = {**REPORT, "accuracy": 0.7, "sections": {"digits": 0.8, "upper": 0.7, "lower": 0.6}}


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_card_reads_and_writes_back_byte_for_byte(name):
    text = card_path(ASSETS_DIR / f"{name}.keras").read_text()
    card = load_card(ASSETS_DIR / f"{name}.keras")
    assert card is not None and card.extra == {}  # every key of a shipped card is a section the type knows
    assert json.dumps(card.to_json(), indent=1) == text.rstrip("\n")
    assert card.name == name and card.kind in ("mlp", "cnn") and card.parameters > 0 and card.summary


def test_unknown_keys_are_kept_and_a_section_of_the_wrong_type_is_no_card():
    card = ModelCard.from_json({"name": "m", "trained_on": "a GPU", "history": {"loss": [1.0]}})
    assert card.extra == {"trained_on": "a GPU"} and card.history == {"loss": [1.0]}
    assert card.to_json()["trained_on"] == "a GPU" and card.to_json()["test_metrics"] == {}
    assert "drawn_test_metrics" not in card.to_json()  # an optional section is written only when set
    for bad in ({"architecture": "cnn"}, {"calibration": [0.5]}, {"name": 3}, {"training_seconds": True}, [1, 2]):
        with pytest.raises(CardError):
            ModelCard.from_json(bad)


def test_updated_sets_a_section_by_name_and_anything_else_into_extra():
    card = ModelCard(name="m").updated(command="train it", trained_on="a GPU")
    assert (card.name, card.command, card.extra) == ("m", "train it", {"trained_on": "a GPU"})
    assert ModelCard.from_json(card.to_json()) == card


def test_scored_takes_the_headline_numbers_of_the_reports():
    card = ModelCard(name="m").scored({"": REPORT, DRAWN: DRAWN_REPORT}, command="c")
    assert card.test_metrics == {"n": 10, "accuracy": 0.9, "top3": 1.0, "loss": 0.3, "mean_recall": 0.85}
    assert card.drawn_test_metrics["sections"] == DRAWN_REPORT["sections"] and card.command == "c"
    assert ModelCard(name="m").scored({"": REPORT}).drawn_test_metrics is None


@pytest.mark.parametrize(
    "command, chained",
    [
        (None, "python -m emnist_core calibrate"),
        ("python -m emnist_core train", "python -m emnist_core train && python -m emnist_core calibrate"),
    ],
)
def test_a_prior_corrected_card_chains_the_command_only_to_one_that_exists(command, chained):
    source = ModelCard(
        name="m",
        architecture={"kind": "cnn", "parameters": 5},
        command=command,
        test_metrics={"accuracy": 0.5},
        drawn_test_metrics={"accuracy": 0.4},
    )
    card = source.prior_corrected(
        "m-prior",
        {"tau": 0.5},
        6,
        {"": REPORT, DRAWN: DRAWN_REPORT},
        "python -m emnist_core calibrate",
        derived_from={"weights": "m.keras"},
    )
    assert card.command == chained  # never "None && ..."
    assert (card.name, card.parameters, card.kind, card.calibration) == ("m-prior", 6, "cnn", {"tau": 0.5})
    assert card.uncalibrated_test_metrics == {"accuracy": 0.5}
    assert card.uncalibrated_drawn_test_metrics == {"accuracy": 0.4}
    assert card.test_metrics["accuracy"] == 0.9 and card.derived_from == {"weights": "m.keras"}


def test_a_fine_tuned_card_says_where_it_came_from_and_keeps_the_correction_only_when_put_back():
    source = ModelCard(
        name="src",
        date="2026-01-01",
        test_metrics={"accuracy": 0.5},
        calibration={"tau": 0.5, "temperature": {"T": 1.2}},
        command="python -m emnist_core train",
    )
    trained = ModelCard(name="cnn-bn", architecture={"kind": "cnn", "parameters": 1}, command="ignored")
    figures = {"settings": {}, "corrections": {}, "before": {}, "after": {}}
    card = trained.fine_tuned(
        "src-fixed", 7, ("src", "src.keras"), source, {"": REPORT}, figures, keeps_correction=True
    )
    assert card.command is None and card.name == "src-fixed" and card.parameters == 7
    assert card.fine_tuned_from == {
        "model": "src",
        "file": "src.keras",
        "date": "2026-01-01",
        "test_metrics": {"accuracy": 0.5},
        "drawn_test_metrics": None,
    }
    assert card.calibration["tau"] == 0.5 and "put back" in card.calibration["note"] and card.fine_tuning == figures
    assert card.temperature_section is None  # the source's T fits the source's weights, not these
    assert (
        trained.fine_tuned(
            "x", 7, ("src", "src.keras"), source, {"": REPORT}, figures, keeps_correction=False
        ).calibration
        is None
    )


@pytest.mark.parametrize("keeps_correction", [True, False])
def test_a_fine_tuned_card_holds_the_temperature_fitted_for_its_own_weights(keeps_correction):
    source = ModelCard(name="src", calibration={"tau": 0.5, "temperature": {"T": 1.2, "fitted_on": "theirs"}})
    own = {"T": 0.8, "fitted_on": "unipen validation"}
    figures = {"settings": {}, "corrections": {}, "before": {}, "after": {}}
    card = ModelCard(name="cnn-bn").fine_tuned(
        "src-fixed", 7, ("src", "src.keras"), source, {"": REPORT}, figures, keeps_correction, temperature=own
    )
    assert card.temperature_section == own
    assert ("tau" in card.calibration) == keeps_correction  # the correction's fit only with the correction


def test_with_temperature_keeps_the_prior_corrections_fit_and_save_card_writes_the_card_alone(tmp_path):
    path = save_model(untrained_model(), tmp_path / "m.keras", ModelCard(name="m", calibration={"tau": 0.5}))
    weights = path.read_bytes()
    save_card(path, load_card(path).with_temperature({"T": 1.5}))
    card = load_card(path)
    assert card.calibration == {"tau": 0.5, "temperature": {"T": 1.5}} and card.temperature_section == {"T": 1.5}
    assert path.read_bytes() == weights and card.file == "m.keras"
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["m.card.json", "m.keras"]  # no temporary left
    with pytest.raises(ModelFileError, match="model file not found"):
        save_card(tmp_path / "none.keras", card)  # a card beside no model would be a stray file
    with pytest.raises(TypeError, match="ModelCard"):
        save_model(untrained_model(), tmp_path / "d.keras", {"name": "a dict"})
