"""Training: a small real run learns, cancel stops it, a seed reproduces it, saving is clean."""

import json
import threading
import zipfile

import numpy as np
import pytest

from emnist_core.datasets import Dataset
from emnist_core.labels import label_map
from emnist_core.training import TrainConfig, TrainingCancelled, card_path, save_model, train


@pytest.fixture(scope="module")
def small_pool(pool47):
    """A few thousand real pool47 images, so a smoke run takes seconds."""
    rng = np.random.default_rng(0)
    pick = lambda n, size: np.sort(rng.choice(n, size, replace=False))  # noqa: E731
    tr, va, te = pick(len(pool47.y_train), 6000), pick(len(pool47.y_val), 1000), pick(len(pool47.y_test), 2000)
    return Dataset("pool47", label_map("bymerge"), pool47.x_train[tr], pool47.y_train[tr], pool47.x_val[va],
                   pool47.y_val[va], pool47.x_test[te], pool47.y_test[te], "pool47 sample for tests", [])


class Recorder:
    def __init__(self):
        self.batches, self.epochs = 0, []

    def on_batch(self, epoch, batch, batches, logs):
        self.batches += 1

    def on_epoch(self, epoch, epochs, logs):
        self.epochs.append((epoch, epochs, logs))


def test_seed_mlp_learns_far_above_chance(small_pool):
    rec = Recorder()
    result = train(TrainConfig(model="seed-mlp", epochs=3), small_pool, listener=rec)
    # Chance is 1/47 (the most common class alone is under 5%); a few epochs reach well past 60%.
    assert result.test_metrics["accuracy"] > 0.6
    assert [e[0] for e in rec.epochs] == [1, 2, 3] and rec.batches == 3 * 24
    assert set(rec.epochs[-1][2]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_augmented_cnn_recipe_runs(small_pool):
    result = train(TrainConfig(model="cnn-bn", epochs=2), small_pool)
    assert result.card["hyperparameters"]["augmentation"]["rotation_degrees"] > 0
    assert result.test_metrics["accuracy"] > 0.3  # chance is 1/47


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
    a, b = (train(cfg, small_pool, evaluate_test=False).model.get_weights() for _ in range(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = train(TrainConfig(model="seed-mlp", epochs=1, subset=1000, seed=8), small_pool, evaluate_test=False)
    assert not np.array_equal(a[0], c.model.get_weights()[0])


def test_saved_model_has_no_optimizer_and_a_full_card(small_pool, tmp_path):
    result = train(TrainConfig(model="seed-mlp", epochs=1, subset=500), small_pool)
    path = save_model(result, tmp_path / "m.keras")
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.keras"]  # no temporary left


@pytest.mark.parametrize("bad, message", [(dict(epochs=0), "epochs"), (dict(batch_size=0), "batch size"),
                                          (dict(learning_rate=5.0), "learning rate"), (dict(subset=3), "subset"),
                                          (dict(model="resnet"), "unknown architecture")])
def test_bad_hyperparameters_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad).resolved()
