"""Training: a small real run learns, cancel stops it, a seed reproduces it, train_and_save saves it whole."""

import json
import threading
import zipfile

import numpy as np
import pytest

from emnist_core.data.datasets import Dataset
from emnist_core.data.labels import label_map
from emnist_core.models import store
from emnist_core.models.evaluation import CARD_METRICS
from emnist_core.models.store import card_path, list_models, load_report, model_files, report_path
from emnist_core.training.config import EVALUATING, SAVING, TrainConfig, TrainingCancelled
from emnist_core.training.train import train, train_and_save


@pytest.fixture(scope="module")
def small_pool(pool47):
    """A few thousand real pool47 images, so a smoke run takes seconds."""
    rng = np.random.default_rng(0)
    pick = lambda n, size: np.sort(rng.choice(n, size, replace=False))
    tr, va, te = pick(len(pool47.y_train), 6000), pick(len(pool47.y_val), 1000), pick(len(pool47.y_test), 2000)
    return Dataset(
        "pool47",
        label_map("bymerge"),
        pool47.x_train[tr],
        pool47.y_train[tr],
        pool47.x_val[va],
        pool47.y_val[va],
        pool47.x_test[te],
        pool47.y_test[te],
        "pool47 sample for tests",
        [],
    )


class Recorder:
    def __init__(self):
        self.batches, self.epochs = 0, []

    def on_batch(self, epoch, batch, batches, logs):
        self.batches += 1

    def on_epoch(self, epoch, epochs, logs):
        self.epochs.append((epoch, epochs, logs))


def test_seed_mlp_learns_far_above_chance(small_pool, tmp_path):
    rec = Recorder()
    result = train_and_save(TrainConfig(model="seed-mlp", epochs=3), tmp_path / "m.keras", small_pool, listener=rec)
    # Chance is 1/47 (the most common class alone is under 5%); a few epochs reach well past 60%.
    assert result.test_metrics["accuracy"] > 0.6
    assert [e[0] for e in rec.epochs] == [1, 2, 3] and rec.batches == 3 * 24
    assert set(rec.epochs[-1][2]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_augmented_recipe_learns(small_pool, tmp_path):
    # mlp-bn: the augmented recipe cnn-bn also trains with, at ten times its speed on a CPU (the CNN's own layers
    # train in test_backends.py).
    result = train_and_save(TrainConfig(model="mlp-bn", epochs=3), tmp_path / "m.keras", small_pool)
    assert result.card.hyperparameters["augmentation"]["rotation_degrees"] > 0
    assert result.test_metrics["accuracy"] > 0.5  # chance is 1/47; 0.71 when written


def test_cancel_stops_between_batches(small_pool):
    cancel = threading.Event()

    class CancelAfterTwo(Recorder):
        def on_batch(self, epoch, batch, batches, logs):
            super().on_batch(epoch, batch, batches, logs)
            if self.batches == 2:
                cancel.set()

    rec = CancelAfterTwo()
    with pytest.raises(TrainingCancelled):
        train(TrainConfig(model="seed-mlp", epochs=5), small_pool, listener=rec, cancel=cancel)
    assert rec.batches == 2 and rec.epochs == []


def test_same_seed_same_model(small_pool):
    cfg = TrainConfig(model="seed-mlp", epochs=1, subset=1000, seed=7)
    a, b = (train(cfg, small_pool).model.get_weights() for _ in range(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = train(TrainConfig(model="seed-mlp", epochs=1, subset=1000, seed=8), small_pool)
    assert not np.array_equal(a[0], c.model.get_weights()[0])


def test_saved_model_has_no_optimizer_a_full_card_and_its_reports(small_pool, tmp_path):
    classes = small_pool.labels_as_classes(small_pool.y_test[:200])
    drawn = small_pool.x_test[:200], classes, np.where(classes < 10, "digits", "letters")  # stands in for unipen
    result = train_and_save(
        TrainConfig(model="seed-mlp", epochs=1, subset=500), tmp_path / "m.keras", small_pool, drawn=drawn
    )
    path = result.path
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
        names = z.namelist()
    assert "compile_config" not in config or not config["compile_config"]
    assert not any("optimizer" in n for n in names)
    card = json.loads(card_path(path).read_text())
    for key in ("architecture", "data", "hyperparameters", "history", "test_metrics", "versions", "date", "command"):
        assert card[key], key
    assert card["architecture"]["parameters"] == result.model.count_params()
    assert "--model seed-mlp" in card["command"] and "--subset 500" in card["command"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.card.json",
        "m.keras",
        "m.report.json",
        "m.unipen.report.json",
    ]  # no temporary left
    # The card's metrics are the saved reports' numbers, and the reports say whose they are.
    report, drawn_report = load_report(report_path(path)), load_report(report_path(path, "unipen"))
    assert card["test_metrics"] == {k: report[k] for k in CARD_METRICS if k in report} and card["test_metrics"]["n"] > 0
    assert card["test_metrics"] == result.test_metrics and report["n"] == len(small_pool.y_test)
    assert card["drawn_test_metrics"]["sections"] == drawn_report["sections"] and drawn_report["n"] == 200
    assert report["model"] == drawn_report["model"] == "m.keras" and drawn_report["dataset"] == "unipen"


@pytest.mark.parametrize("stage", [EVALUATING, SAVING])
def test_a_cancel_before_saving_starts_saves_nothing_and_one_after_is_too_late(
    small_pool, tmp_path, monkeypatch, stage
):
    cancel, stages, real_save = threading.Event(), [], store.save_model

    class CancelAt(Recorder):
        def on_stage(self, now):
            stages.append(now)
            if now == stage == EVALUATING:
                cancel.set()

    def cancel_then_save(*args, **kwargs):  # pressed while the files are being written
        cancel.set()
        return real_save(*args, **kwargs)

    monkeypatch.setattr(store, "save_model", cancel_then_save)
    config = TrainConfig(model="seed-mlp", epochs=1, subset=500)
    if stage == EVALUATING:
        with pytest.raises(TrainingCancelled):
            train_and_save(config, tmp_path / "m.keras", small_pool, listener=CancelAt(), cancel=cancel)
        assert list(tmp_path.iterdir()) == []
    else:
        result = train_and_save(config, tmp_path / "m.keras", small_pool, listener=CancelAt(), cancel=cancel)
        assert cancel.is_set() and list_models(tmp_path) == [result.path] and len(model_files(result.path)) == 3
    assert stages == [EVALUATING, SAVING]


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch size"),
        (dict(learning_rate=5.0), "learning rate"),
        (dict(subset=3), "subset"),
        (dict(model="resnet"), "unknown architecture"),
    ],
)
def test_bad_hyperparameters_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad).resolved()


FORM = dict(
    arch="seed-mlp", epochs=2, batch_size=64, learning_rate=1e-3, train_size=1000, n_train=5000, dataset="pool47"
)


@pytest.mark.parametrize(
    "setting, given",
    [("epochs", dict(epochs=2.7)), ("batch size", dict(batch_size=64.5)), ("training images", dict(train_size=999.9))],
)
def test_the_retrain_form_refuses_a_fraction_where_a_whole_number_is_asked(setting, given):
    from emnist_core.training.config import form_config

    with pytest.raises(ValueError, match=f"^{setting} must be a whole number, got"):
        form_config(**{**FORM, **given})  # never cut down: 2.7 epochs are not 2
    whole = form_config(**{**FORM, **{key: float(round(value)) for key, value in given.items()}})  # 3.0 is 3
    assert (whole.epochs, whole.batch_size, whole.subset) == (
        round(given.get("epochs", 2)),
        64,
        round(given.get("train_size", 1000)),
    )
