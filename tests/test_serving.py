"""Serving from LiteRT exports: what a server answers with must be what the Keras model says."""

from __future__ import annotations

import numpy as np
import pytest

from emnist_core.models import store
from emnist_core.serving import export as serving
from emnist_core.serving.predictor import Predictor

from conftest import untrained_model

pytest.importorskip("ai_edge_litert")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "tiny.keras"
    untrained_model().save(path)
    return path


def images(n=5, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (n, 28, 28)).astype(np.float32)


def test_an_export_serves_what_its_keras_model_says(model_file):
    served = serving.load_served(model_file)
    assert isinstance(served, serving.LiteModel)
    keras_model = store.load_model(model_file)
    for n in (1, 5, 2):  # the batch size changes between calls, as the app's do
        x = images(n)
        # Exported in a process of its own, checked there to 1e-4; this process's TensorFlow may pick other kernels.
        np.testing.assert_allclose(served(x), keras_model.predict_on_batch(x), atol=5 * serving.CHECK_TOLERANCE)
    assert Predictor({"m": served}).probabilities(images(3))["m"].shape == (3, 47)


def test_an_export_is_made_once_and_again_when_the_weights_change(model_file):
    first = serving.load_served(model_file).path
    made = first.stat().st_mtime_ns
    assert serving.load_served(model_file).path == first and first.stat().st_mtime_ns == made  # reused
    untrained_model().save(model_file)  # new weights under the same name
    assert serving.load_served(model_file).path != first


def test_a_damaged_export_is_made_again(model_file):
    path = serving.load_served(model_file).path
    path.write_bytes(b"not a model")
    served = serving.load_served(model_file)
    assert isinstance(served, serving.LiteModel) and served.path == path
    assert served(images(1)).shape == (1, 47)


def test_without_litert_the_keras_model_serves(model_file, monkeypatch):
    def no_runtime(*args, **kwargs):
        raise ImportError("No module named 'ai_edge_litert'")

    monkeypatch.setattr(serving, "export", no_runtime)
    served = serving.load_served(model_file)
    assert not isinstance(served, serving.LiteModel)
    assert Predictor({"m": served}).probabilities(images(1))["m"].shape == (1, 47)


def test_a_missing_model_is_named(tmp_path):
    with pytest.raises(store.ModelFileError, match="not found"):
        serving.load_served(tmp_path / "nothing.keras")
