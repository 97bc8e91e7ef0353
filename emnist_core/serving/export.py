"""Serving saved models with LiteRT, so that a server answers its first drawing without loading TensorFlow.

Importing TensorFlow and Keras costs ~3 s of a ~5 s start; the LiteRT interpreter imports in 0.07 s and
runs one 28x28 image in ~0.1 ms (MLP) or ~0.25 ms (CNN). A ``.keras`` file is exported to LiteRT once,
on the first start that needs it, into the cache (``EMNIST_CACHE_DIR/served``); the export is keyed on
the bytes of the weights it came from (and a derived model's correction), so a retrained or restored
file is exported again and a stale one is never served. Nothing is committed: ``assets/`` keeps one
copy of each model's weights. Each export is checked against the Keras model it came from before it is
served; when LiteRT is not installed, or an export fails or disagrees, the Keras model serves instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

import numpy as np

from emnist_core.data.cache import atomic_write, cache_dir
from emnist_core.data.preprocess import SIDE
from emnist_core.models import store

EXPORT_VERSION = 1  # part of every export's key: bump it to export every model again
CHECK_IMAGES = 8  # random images on which an export must agree with its Keras model
CHECK_TOLERANCE = 1e-4  # largest difference in any class probability
log = logging.getLogger(__name__)


class LiteModel:
    """A model exported to LiteRT: ``model(x)`` maps float32 (N, 28, 28) to (N, classes) probabilities."""

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self._interpreter = Interpreter(model_path=str(self.path))
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = None
        self._lock = threading.Lock()  # an interpreter runs one call at a time; a call takes well under 1 ms

    def __call__(self, x) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            if x.shape[0] != self._batch:  # resizing reallocates: keep the size until a call needs another
                self._interpreter.resize_tensor_input(self._input, [x.shape[0], SIDE, SIDE])
                self._interpreter.allocate_tensors()
                self._batch = x.shape[0]
            self._interpreter.set_tensor(self._input, x)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()


def export_key(path) -> str:
    """What an export of ``path`` depends on: its weights' bytes and, for a derived model, its correction."""
    path = Path(path)
    digest = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    card = None if path.is_file() else store.load_card(path)
    derived = None if card is None else card.derived_from
    if derived is not None:
        digest.update(json.dumps(derived, sort_keys=True).encode())
        path = path.with_name(str(derived.get("weights")))
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


def exported_path(path) -> Path:
    return cache_dir() / "served" / f"{store.model_name(path)}-{export_key(path)}.tflite"


def load_served(path):
    """The model at ``path`` ready to serve: its LiteRT export when LiteRT can serve it, else the Keras model.

    Raises ``store.ModelFileError`` as ``store.load_model`` does when the file itself is bad.
    """
    path = Path(path)
    if not store.model_exists(path):
        raise store.ModelFileError(f"{path}: model file not found")
    try:
        target = exported_path(path)
    except OSError as exc:
        raise store.ModelFileError(f"{path}: cannot be read ({exc})") from None
    if target.is_file():
        try:
            return LiteModel(target)
        except ImportError:
            return store.load_model(path)
        except Exception as exc:  # a damaged export in the cache: make it again
            log.warning("export %s unusable (%s); exporting again", target, exc)
    model = store.load_model(path)
    try:
        return export(model, target)
    except ImportError:
        log.info("ai-edge-litert is not installed: serving %s with Keras", path.name)
    except Exception as exc:  # the Keras model still serves; say why the fast path is missing
        log.warning(
            "could not export %s to LiteRT (%s: %s); serving it with Keras",
            path.name,
            type(exc).__name__,
            str(exc)[:200],
        )
    return model


def export(model, target: Path) -> LiteModel:
    """Export ``model`` to ``target`` (written whole or not at all), checked against ``model``."""
    import ai_edge_litert.interpreter  # noqa: F401  fail before exporting when the runtime is missing

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda tmp: _export_to(model, tmp))
    served = LiteModel(target)
    x = np.random.default_rng(0).uniform(0, 255, (CHECK_IMAGES, SIDE, SIDE)).astype(np.float32)
    gap = float(np.abs(served(x) - np.asarray(model(_as_built(model, x), training=False))).max())
    if not gap <= CHECK_TOLERANCE:
        target.unlink(missing_ok=True)
        raise ValueError(f"the export differs from the model by {gap:.2g}")
    log.info("exported %s to %s", model.name, target)
    return served


def _as_built(model, x):
    """``x`` in the structure the model was built with (a list for some functional models), so that Keras does
    not warn; a Sequential model read from a file has no recorded structure until it is called."""
    try:
        return [x] if isinstance(model.input, list) else x
    except (AttributeError, ValueError):
        return x


def _export_to(model, tmp: Path) -> None:
    # Keras writes to the name it is given plus ".tflite" when that suffix is missing: give it one.
    staged = tmp.with_name(tmp.name + ".tflite")
    try:
        model.export(str(staged), format="litert", verbose=False)
        staged.replace(tmp)
    finally:
        staged.unlink(missing_ok=True)
