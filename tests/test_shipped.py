"""The shipped models: loadable in safe mode, documented, and their reports are reproducible."""

import numpy as np
import pytest

from emnist_core.models.evaluation import predict_probabilities
from emnist_core.models.store import (
    ALIASES,
    ASSETS_DIR,
    SHIPPED,
    load_card,
    load_model,
    load_report,
    report_path,
    resolve_model_path,
)
from emnist_core.serving.predictor import Predictor

NAMES = list(SHIPPED)
REREAD_STRIDE = 4
MAX_TIPPED = 2


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_has_card_and_report(name):
    path = resolve_model_path(name)
    card, report = load_card(path), load_report(report_path(path))
    # Every shipped model is scored on pool47 test; those for drawn input trained on pool47 + unipen.
    assert card.dataset in ("pool47", "pool47+unipen") and card.data["partition"]["test"] == 21617
    assert card.command.startswith("python -m emnist_core train --model")
    assert len(card.history["val_accuracy"]) == card.hyperparameters["epochs"]
    assert report["n"] == 21617 and abs(report["accuracy"] - card.test_metrics["accuracy"]) < 1e-9
    assert np.asarray(report["confusion_matrix"]).sum() == report["n"]
    assert len(report["misclassified"]) == round(report["n"] * (1 - report["accuracy"]))
    derived = card.derived_from
    weights = path.with_name(derived["weights"]) if derived else path  # a derived model reuses another's weights
    assert weights.stat().st_size < 12e6  # saved without optimizer state
    assert derived is None or not path.exists()  # one copy of each set of weights


def test_assets_hold_no_two_copies_of_the_same_weights():
    import hashlib
    import zipfile

    digests = {}
    for path in ASSETS_DIR.glob("*.keras"):
        with zipfile.ZipFile(path) as z:
            digests.setdefault(hashlib.sha256(z.read("model.weights.h5")).hexdigest(), []).append(path.name)
    assert all(len(names) == 1 for names in digests.values()), digests


def test_aliases_point_at_shipped_models():
    for alias, name in ALIASES.items():
        assert resolve_model_path(alias) == ASSETS_DIR / f"{name}.keras"


@pytest.mark.parametrize("name", NAMES)
def test_report_reproduces_image_by_image_on_pool47_test(name, pool47):
    """Every REREAD_STRIDE-th test image read again: the ones the report lists as misread are misread again, as the
    same class, and no other is (float sums may tip an image or two: at most MAX_TIPPED). A quarter of the images
    catches a model or a test set that is not the one reported, in a quarter of the time."""
    report = load_report(report_path(resolve_model_path(name)))
    rows = np.arange(0, len(pool47.y_test), REREAD_STRIDE)
    probs = predict_probabilities(load_model(resolve_model_path(name)), pool47.x_test[rows])
    now = dict(zip(rows.tolist(), probs.argmax(axis=1).tolist()))
    y = pool47.labels_as_classes(pool47.y_test)
    assert report["n"] == len(y)
    misread = {i: top[0][0] for i, true, top in report["misclassified"] if i % REREAD_STRIDE == 0}
    misread_now = {i: p for i, p in now.items() if p != y[i]}
    tipped = set(misread.items()) ^ set(misread_now.items())
    assert len(misread) > 10 and len(tipped) <= MAX_TIPPED, sorted(tipped)[:10]


def test_predictor_top5_on_real_images(pool47):
    predictor = Predictor.load(("mlp", "cnn"))
    tops = predictor.top_k(pool47.x_test[:200], k=5)
    truth = [pool47.label_map.name(v) for v in pool47.y_test[:200]]
    for name, per_image in tops.items():
        assert all(len(t) == 5 for t in per_image)
        hit = np.mean([t[0][0] == true for t, true in zip(per_image, truth)])
        assert hit > 0.8, name


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_has_a_drawn_input_report(name):
    path = resolve_model_path(name)
    report = load_report(report_path(path, "unipen"))
    assert report["dataset"] == "unipen" and report["n"] > 5_000
    assert set(report["sections"]) == {"digits", "upper", "lower"}
    assert report["accuracy"] <= report["top3"] <= 1
    drawn = load_card(path).drawn_test_metrics
    if drawn:  # models trained for drawn input carry the figure in their card too
        assert drawn["accuracy"] == pytest.approx(report["accuracy"], abs=1e-9)


def test_live_models_are_the_ones_trained_for_drawn_input():
    for alias, _name in ALIASES.items():
        card = load_card(resolve_model_path(alias))
        assert card.dataset == "pool47+unipen", alias
        assert "unipen" in card.calibration["fitted_on"], alias
