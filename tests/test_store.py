"""Saved models (emnist_core.models.store): names and aliases, a save that is all or nothing, derived models, listing,
removing."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from emnist_core.models import store
from emnist_core.models.calibration import with_prior_correction
from emnist_core.models.card import ModelCard
from emnist_core.models.store import (
    ModelFileError,
    card_path,
    list_models,
    load_card,
    load_model,
    load_report,
    model_exists,
    model_files,
    remove_model,
    report_path,
    resolve_model_path,
    save_model,
)

from conftest import NUM_CLASSES, untrained_model

REPORT = {
    "n": 2,
    "accuracy": 0.5,
    "mean_recall": 0.5,
    "classes": ["0", "1"],
    "per_class": {},
    "confusion_matrix": [[1, 1], [0, 0]],
    "confused_pairs": [],
    "misclassified": [],
}
X = np.random.default_rng(0).integers(0, 255, (3, 28, 28)).astype(np.float32)


def model_with_bias(value: float):
    model = untrained_model()
    model.layers[-1].bias.assign(np.full(NUM_CLASSES, value, np.float32))
    return model


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder``, hidden ones included, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def log_prior():
    p = np.linspace(1, 3, NUM_CLASSES)
    return np.log(p / p.sum())


def derived_card(weights="base.keras", tau=0.5):
    return ModelCard(
        name="derived",
        derived_from={"weights": weights, "prior_correction": {"tau": tau, "log_prior": log_prior().tolist()}},
    )


def test_a_model_is_named_by_its_keras_path():
    path = Path("/models/cnn-bn-20260101-120000.keras")
    assert store.model_name(path) == "cnn-bn-20260101-120000"
    assert card_path(path).name == "cnn-bn-20260101-120000.card.json"
    assert report_path(path).name == "cnn-bn-20260101-120000.report.json"
    assert report_path(path, "unipen").name == "cnn-bn-20260101-120000.unipen.report.json"


def test_aliases_name_shipped_models_and_a_models_folder_comes_first(tmp_path, monkeypatch):
    assert set(store.ALIASES.values()) <= set(store.SHIPPED)  # every alias is a shipped model
    monkeypatch.setattr(store, "ALIASES", {"mlp": "seed-mlp", "mine": "my-model"})
    assert resolve_model_path("mlp") == store.ASSETS_DIR / "seed-mlp.keras"
    assert resolve_model_path("seed-mlp") == store.ASSETS_DIR / "seed-mlp.keras"
    save_model(model_with_bias(0), tmp_path / "seed-mlp.keras", ModelCard())
    save_model(model_with_bias(0), tmp_path / "my-model.keras", ModelCard())
    assert resolve_model_path("seed-mlp", tmp_path) == tmp_path / "seed-mlp.keras"  # a retrained one of that name
    assert resolve_model_path("mine", tmp_path) == tmp_path / "my-model.keras"
    with pytest.raises(ModelFileError, match=r"unknown model 'mine': give a shipped name \(mlp, mine, seed-mlp"):
        resolve_model_path("mine")  # not in assets/, and no models folder given
    with pytest.raises(ModelFileError, match="model file not found"):
        resolve_model_path(tmp_path / "gone.keras")


def test_save_writes_model_card_and_reports_as_one_unit(tmp_path):
    path = save_model(
        model_with_bias(1),
        tmp_path / "m.keras",
        ModelCard(name="m"),
        {"": REPORT, "unipen": {**REPORT, "sections": {"digits": 0.5}}},
    )
    assert path == tmp_path / "m.keras"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.card.json",
        "m.keras",
        "m.report.json",
        "m.unipen.report.json",
    ]  # no temporary left
    assert model_files(path) == [path, card_path(path), report_path(path), report_path(path, "unipen")]
    assert load_card(path) == ModelCard(name="m", file="m.keras")
    assert load_report(report_path(path))["model"] == "m.keras"
    assert load_report(report_path(path, "unipen"))["sections"] == {"digits": 0.5}
    assert load_model(path).layers[-1].bias.numpy()[0] == 1


def test_a_failed_report_write_leaves_no_new_file_and_the_old_model_whole(tmp_path, monkeypatch):
    path = save_model(
        model_with_bias(1),
        tmp_path / "m.keras",
        ModelCard(extra={"version": 1}),
        {"": {**REPORT, "version": 1}, "unipen": REPORT},
    )
    before = snapshot(tmp_path)
    real_write = Path.write_text

    def full_disk(self, text, *args, **kwargs):  # the disk fills up half-way through the report
        if ".report." in self.name:
            real_write(self, text[: len(text) // 2])
            raise OSError(28, "No space left on device")
        return real_write(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_model(model_with_bias(2), path, ModelCard(extra={"version": 2}), {"": {**REPORT, "version": 2}})
    monkeypatch.undo()
    assert snapshot(tmp_path) == before  # the same files, byte for byte: nothing new, nothing half-replaced
    assert load_model(path).layers[-1].bias.numpy()[0] == 1 and load_card(path).extra["version"] == 1


def test_a_failure_while_replacing_puts_the_old_files_back(tmp_path, monkeypatch):
    path = save_model(model_with_bias(1), tmp_path / "m.keras", ModelCard(extra={"version": 1}), {"": REPORT})
    before = snapshot(tmp_path)
    real_replace = os.replace

    def refuse_the_card(src, dst):  # the model file is already replaced when this happens
        if Path(dst).name == "m.card.json" and ".tmp-old" not in Path(src).name:
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", refuse_the_card)
    with pytest.raises(PermissionError):
        save_model(model_with_bias(2), path, ModelCard(extra={"version": 2}), {"": REPORT})
    monkeypatch.undo()
    assert snapshot(tmp_path) == before
    assert load_model(path).layers[-1].bias.numpy()[0] == 1


def test_a_derived_model_is_a_card_over_another_models_weights(tmp_path):
    base = save_model(model_with_bias(0), tmp_path / "base.keras", ModelCard(name="base"), {"": REPORT})
    path = tmp_path / "derived.keras"
    save_model(
        model_with_bias(3), path, ModelCard(name="a full copy"), {"": REPORT, "unipen": REPORT}
    )  # saved over next
    save_model(None, path, derived_card(), {"": REPORT})
    assert not path.exists() and model_exists(path)
    assert not report_path(path, "unipen").exists()  # the old copy's files went with it: nothing stale
    assert model_files(path) == [card_path(path), report_path(path)]
    assert load_card(path).file is None and resolve_model_path(path) == path
    assert list_models(tmp_path) == [base, path]
    expected = with_prior_correction(load_model(base), log_prior(), 0.5).predict_on_batch(X)
    np.testing.assert_allclose(load_model(path).predict_on_batch(X), expected, atol=1e-6)


@pytest.mark.parametrize(
    "card, error, message",
    [
        (ModelCard(), ValueError, "give a model, or a card whose derived_from names a .keras file"),
        (derived_card("../base.keras"), ValueError, "in the same folder"),
        (derived_card("derived.keras"), ValueError, "cannot reuse its own weights"),
        (derived_card("gone.keras"), ModelFileError, "reuses the weights of gone.keras, which is missing"),
    ],
)
def test_a_derived_model_must_name_weights_beside_it(tmp_path, card, error, message):
    with pytest.raises(error, match=message):
        save_model(None, tmp_path / "derived.keras", card)
    assert list(tmp_path.iterdir()) == []


def test_listing_finds_full_and_derived_models_and_nothing_else(tmp_path):
    assert list_models(tmp_path / "none") == []
    save_model(model_with_bias(0), tmp_path / "b.keras", ModelCard())
    save_model(None, tmp_path / "a.keras", derived_card("b.keras"))
    (tmp_path / ".c.tmp123-456.keras").write_bytes(b"a killed save's leftover")
    (tmp_path / "d.card.json").write_text(json.dumps({"name": "a card without a model"}))
    (tmp_path / "e.report.json").write_text(json.dumps(REPORT))
    (tmp_path / "notes.txt").write_text("not a model")
    assert list_models(tmp_path) == [tmp_path / "a.keras", tmp_path / "b.keras"]


def test_removing_a_model_removes_its_files_only(tmp_path):
    base = save_model(model_with_bias(0), tmp_path / "m.keras", ModelCard(), {"": REPORT, "unipen": REPORT})
    other = save_model(model_with_bias(0), tmp_path / "m-2.keras", ModelCard(), {"": REPORT})
    derived = save_model(None, tmp_path / "m-prior.keras", derived_card("m.keras"), {"": REPORT})
    with pytest.raises(ValueError, match=r"m-prior\.keras reuse its weights; remove them first"):
        remove_model(base)
    assert remove_model(derived) == [card_path(derived), report_path(derived)]
    assert remove_model(base) == [base, card_path(base), report_path(base), report_path(base, "unipen")]
    assert list_models(tmp_path) == [other] and len(model_files(other)) == 3
    assert remove_model(base) == []  # gone already
