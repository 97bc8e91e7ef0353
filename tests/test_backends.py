"""One training path on any Keras backend: JAX trains without TensorFlow, files cross backends, seeds hold."""

import json
import os
import subprocess
import sys
import textwrap
from importlib.util import find_spec

import numpy as np
import pytest

from emnist_core.training.augment import augment_batch, batch_rng
from emnist_core.training.train import TrainingBatches

from conftest import NUM_CLASSES, ROOT, l_shapes

# Runs under KERAS_BACKEND=jax with every `import tensorflow` refused: trains a tiny augmented CNN for
# one epoch, saves it, and scores fixed images with it and with a shipped (TensorFlow-saved) model.
JAX_SCRIPT = textwrap.dedent("""
    import builtins, json, sys
    real_import = builtins.__import__
    def no_tensorflow(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("tensorflow is blocked in this run")
        return real_import(name, *args, **kwargs)
    builtins.__import__ = no_tensorflow

    import numpy as np
    import keras
    from emnist_core.data.datasets import Dataset
    from emnist_core.data.labels import label_map
    from emnist_core.models.store import load_model
    from emnist_core.training.train import train_and_save
    from emnist_core.training.config import TrainConfig

    out = sys.argv[1]
    x = np.load(out + "/x.npy"); y = np.arange(len(x)) % 47
    data = Dataset("pool47", label_map("bymerge"), x, y, x[:64], y[:64], x[:64], y[:64], "test", [])
    result = train_and_save(TrainConfig(model="cnn-bn", epochs=1, batch_size=64), out + "/jax.keras", data)
    np.save(out + "/jax_probs.npy", np.asarray(result.model.predict_on_batch(x[:32].astype("float32"))))
    shipped = load_model(sys.argv[2])
    np.save(out + "/shipped_probs.npy", np.asarray(shipped.predict_on_batch(x[:32].astype("float32"))))
    print(json.dumps({"backend": keras.backend.backend(), "tensorflow_loaded": "tensorflow" in sys.modules,
                      "versions": result.card.versions}))
""")


@pytest.mark.skipif(find_spec("jax") is None, reason="jax not installed (pip install -r requirements-dev.txt)")
def test_jax_trains_without_tensorflow_and_files_cross_backends(tmp_path):
    from emnist_core.models.store import ASSETS_DIR, load_model

    x = l_shapes(256)
    np.save(tmp_path / "x.npy", x)
    shipped = ASSETS_DIR / "cnn-bn.keras"
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    run = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, str(tmp_path), str(shipped)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info["backend"] == "jax" and not info["tensorflow_loaded"]
    assert info["versions"]["backend"] == "jax"

    # Saved under JAX, loaded here under TensorFlow: the same probabilities.
    import keras

    assert keras.backend.backend() == "tensorflow"
    jax_model = load_model(tmp_path / "jax.keras")
    here = np.asarray(jax_model.predict_on_batch(x[:32].astype(np.float32)))
    np.testing.assert_allclose(here, np.load(tmp_path / "jax_probs.npy"), atol=1e-4)
    # Saved under TensorFlow (a shipped file), loaded there under JAX: the same probabilities.
    ours = np.asarray(load_model(shipped).predict_on_batch(x[:32].astype(np.float32)))
    np.testing.assert_allclose(ours, np.load(tmp_path / "shipped_probs.npy"), atol=1e-4)


def test_same_seed_gives_the_same_augmented_batch():
    x, y = l_shapes(300), np.arange(300) % NUM_CLASSES
    a = TrainingBatches(x, y, 64, NUM_CLASSES, seed=5, hard_ink_rate=0.35)
    b = TrainingBatches(x, y, 64, NUM_CLASSES, seed=5, hard_ink_rate=0.35)
    first, again = a.batch(1, 2), b.batch(1, 2)
    np.testing.assert_array_equal(np.asarray(first[0]), np.asarray(again[0]))
    np.testing.assert_array_equal(first[1], again[1])
    other_seed = TrainingBatches(x, y, 64, NUM_CLASSES, seed=6, hard_ink_rate=0.35).batch(1, 2)
    assert not np.array_equal(np.asarray(first[0]), np.asarray(other_seed[0]))
    # Another epoch reshuffles and rewarps; the epoch counter moves at each epoch's end.
    assert not np.array_equal(np.asarray(a.batch(2, 2)[0]), np.asarray(first[0]))
    a.on_epoch_end()
    np.testing.assert_array_equal(np.asarray(a[2][0]), np.asarray(first[0]))


def test_augmentation_warps_within_range():
    x = l_shapes(64)
    out = np.asarray(augment_batch(x, batch_rng(0, 0, 0)))
    assert out.shape == (64, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    # Every image moved, none lost its ink.
    assert all(not np.allclose(o, i) for o, i in zip(out, x.astype(np.float32)))
    assert (out.reshape(64, -1).max(1) > 128).all()


def test_hard_ink_redraws_a_share_of_the_images():
    soft = np.tile(np.linspace(0, 255, 28, dtype=np.float32), (28, 1))[None].repeat(400, 0)
    rng = batch_rng(0, 0, 0)
    out = np.asarray(augment_batch(soft, rng, hard_ink_rate=0.5))
    # A redrawn image has a cut edge: most pixels near 0 or 255 even after the stroke blend, where a soft
    # ramp has few. Count the images that became near-binary: about the rate asked for.
    binary = ((out < 30) | (out > 225)).mean(axis=(1, 2)) > 0.8
    assert 0.35 < binary.mean() < 0.65
