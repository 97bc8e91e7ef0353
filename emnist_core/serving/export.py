"""Serving saved models with LiteRT, so that a server never loads TensorFlow.

Importing TensorFlow and Keras costs ~3 s of a ~5 s start and hundreds of MB; the LiteRT interpreter imports in
0.07 s and runs one 28x28 image in ~0.1 ms (MLP) or ~0.25 ms (CNN). A ``.keras`` file is exported to LiteRT once
into the cache (``EMNIST_CACHE_DIR/served``): the model, and its *probe* (the outputs of its conv stages, or of its
first layer, that the Inside tab shows: ``serving.inside``). An export is keyed on the bytes of the weights it came
from (and a derived model's correction), so a retrained or restored file is exported again and a stale one is never
served. Nothing is committed: ``assets/`` keeps one copy of each model's weights.

Exporting needs TensorFlow. A process that has it loaded already (a training job's, the command line's, the tests')
exports in place; any other, a server above all, runs ``python -m emnist_core.serving.export PATH ...`` as a child
process and reads what it wrote. Each export is checked against the Keras model it came from before it is served;
when LiteRT is not installed, or an export fails or disagrees, the Keras model serves instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from emnist_core.data.cache import atomic_write, cache_dir
from emnist_core.data.preprocess import SIDE
from emnist_core.models import store

EXPORT_VERSION = 2  # part of every export's key: bump it to export every model again (2: with its probe)
EXPORT_TIMEOUT_SECONDS = 600
CHECK_IMAGES = 8  # random images on which an export must agree with its Keras model
CHECK_TOLERANCE = 1e-4  # largest difference in any class probability
log = logging.getLogger(__name__)


class LiteModel:
    """A model exported to LiteRT: ``model(x)`` maps float32 (N, 28, 28) to (N, classes) probabilities.

    One interpreter reads single drawings (a stroke's answer) and another any batch (a test set, an explanation's
    occluded copies): resizing an interpreter reallocates it, and answers and batches come in any order. Each
    interpreter runs one call at a time. ``threads``: LiteRT's threads per call (None: its own choice)."""

    def __init__(self, path, threads: int | None = None):
        self.path, self.threads = Path(path), threads
        self._single = _Interpreter(self.path, threads, batch=1)
        self._batches = _Interpreter(self.path, threads)

    def __call__(self, x) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return (self._single if len(x) == 1 else self._batches)(x)


class _Interpreter:
    """One LiteRT interpreter over a model file, sized for the last batch it was given; one call at a time."""

    def __init__(self, path: Path, threads: int | None, batch: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = None
        self._lock = threading.Lock()
        if batch is not None:
            self._resize(batch)

    def _resize(self, batch: int) -> None:
        self._interpreter.resize_tensor_input(self._input, [batch, SIDE, SIDE])
        self._interpreter.allocate_tensors()
        self._batch = batch

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            if x.shape[0] != self._batch:  # resizing reallocates: keep the size until a call needs another
                self._resize(x.shape[0])
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


class LiteProbe:
    """A model's probe exported to LiteRT (``serving.inside``): ``run(x28)`` gives the outputs the Inside tab
    draws for one image, in the order the Keras probe gives them; ``blank`` the same for an empty canvas."""

    def __init__(self, path, meta):
        from ai_edge_litert.interpreter import Interpreter

        with np.load(meta, allow_pickle=False) as saved:
            self.kind = str(saved["kind"])
            self.order = [int(i) for i in saved["order"]]  # the LiteRT output that is each Keras output
            self.templates = saved.get("templates")
        self.path = Path(path)
        self._interpreter = Interpreter(model_path=str(self.path))
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._outputs = [d["index"] for d in self._interpreter.get_output_details()]
        self._lock = threading.Lock()
        self.blank = self.run(np.zeros((SIDE, SIDE), np.float32))

    def run(self, x28) -> list[np.ndarray]:
        with self._lock:
            self._interpreter.set_tensor(self._input, np.asarray(x28, np.float32).reshape(1, SIDE, SIDE))
            self._interpreter.invoke()
            found = [self._interpreter.get_tensor(index)[0].copy() for index in self._outputs]
        return [found[i] for i in self.order]


def served_paths(path) -> tuple[Path, Path, Path]:
    """Where the exports of the model at ``path`` are kept: (model, probe, probe's facts)."""
    stem = cache_dir() / "served" / f"{store.model_name(path)}-{export_key(path)}"
    return stem.with_suffix(".tflite"), stem.with_name(stem.name + ".probe.tflite"), stem.with_suffix(".probe.npz")


def exported_path(path) -> Path:
    return served_paths(path)[0]


def load_served(path, here: bool | None = None):
    """The model at ``path`` ready to serve: its LiteRT export when LiteRT can serve it, else the Keras model.
    ``here``: export in this process when the export is missing (default: when a backend is loaded here already;
    see the module doc).

    Raises ``store.ModelFileError`` as ``store.load_model`` does when the file itself is bad.
    """
    path = Path(path)
    if not store.model_exists(path):
        raise store.ModelFileError(f"{path}: model file not found")
    try:
        paths = served_paths(path)
    except OSError as exc:
        raise store.ModelFileError(f"{path}: cannot be read ({exc})") from None
    here = _keras_here() if here is None else here
    if not all(p.is_file() for p in paths) and _litert() and not here:
        export_elsewhere([path])  # a server: TensorFlow is loaded in a child process, never here
    if all(p.is_file() for p in paths):
        try:
            return LiteModel(paths[0])
        except ImportError:
            return store.load_model(path)
        except Exception as exc:  # a damaged export in the cache: make it again
            log.warning("export %s unusable (%s); exporting again", paths[0], exc)
    model = store.load_model(path)
    try:
        return export(model, paths)
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


def prepare(paths) -> None:
    """Export every model at ``paths`` that has no export yet, all in one child process (a server's start: one
    TensorFlow start for the pair, not one per model); nothing when each is exported, or when this process exports in
    place anyway (``load_served``)."""
    missing = []
    for path in paths:
        try:
            if store.model_exists(path) and not all(p.is_file() for p in served_paths(path)):
                missing.append(path)
        except OSError:
            continue  # a file that cannot be read: load_served says so
    if missing and _litert() and not _keras_here():
        export_elsewhere(missing)


def load_probe(path) -> LiteProbe | None:
    """The exported probe of the model at ``path`` (exported with the model by ``load_served``), or None when there
    is none (LiteRT missing, or the export failed: ``serving.inside`` then reads the Keras model)."""
    try:
        _, probe, meta = served_paths(path)
        return LiteProbe(probe, meta) if probe.is_file() and meta.is_file() else None
    except (ImportError, OSError, ValueError, KeyError) as exc:
        log.warning("probe of %s not loaded (%s)", Path(path).name, exc)
        return None


def export(model, paths) -> LiteModel:
    """Export ``model`` and its probe to ``paths`` (``served_paths``; each written whole or not at all), checked
    against ``model``."""
    import ai_edge_litert.interpreter  # noqa: F401  fail before exporting when the runtime is missing

    target, probe, meta = paths
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda tmp: _export_to(model, tmp))
    served = LiteModel(target)
    x = np.random.default_rng(0).uniform(0, 255, (CHECK_IMAGES, SIDE, SIDE)).astype(np.float32)
    gap = float(np.abs(served(x) - np.asarray(model(_as_built(model, x), training=False))).max())
    if not gap <= CHECK_TOLERANCE:
        target.unlink(missing_ok=True)
        raise ValueError(f"the export differs from the model by {gap:.2g}")
    export_probe(model, probe, meta)
    log.info("exported %s to %s", model.name, target)
    return served


def export_probe(model, target: Path, meta: Path) -> None:
    """Export ``model``'s probe (``inside.keras_probe``) to ``target``, with what LiteRT cannot hold in ``meta``:
    the kind, the MLP's templates, and which LiteRT output is which (matched on a random image, checked)."""
    from emnist_core.serving.inside import keras_probe

    keras = keras_probe(model)
    atomic_write(target, lambda tmp: _export_to(keras.fn, tmp))
    x = np.random.default_rng(1).uniform(0, 255, (SIDE, SIDE)).astype(np.float32)
    wanted = keras.run(x)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(target))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[None])
    interpreter.invoke()
    found = [interpreter.get_tensor(d["index"])[0] for d in interpreter.get_output_details()]
    order = []
    for output in wanted:
        gaps = [np.abs(f - output).max() if f.shape == output.shape else np.inf for f in found]
        best = int(np.argmin(gaps))
        if not gaps[best] <= CHECK_TOLERANCE * max(1.0, float(np.abs(output).max())):
            target.unlink(missing_ok=True)
            raise ValueError(f"the probe's export differs from the model by {gaps[best]:.2g}")
        order.append(best)
    extra = {"templates": keras.templates} if keras.kind == "mlp" else {}

    def write(tmp: Path):
        with open(tmp, "wb") as f:
            np.savez(f, kind=keras.kind, order=np.array(order), **extra)

    atomic_write(meta, write)


def remove_exports(name: str) -> list[Path]:
    """Remove every export of the model named ``name`` (its file's stem) from the cache; return what was removed."""
    removed = [p for p in (cache_dir() / "served").glob(f"{name}-*") if p.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def export_elsewhere(paths) -> None:
    """Export the models at ``paths`` in a child process (``python -m emnist_core.serving.export``), which loads
    TensorFlow so that this process need not. Failures are logged: the caller serves what it can."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": package_root + (f":{os.environ['PYTHONPATH']}" if os.environ.get("PYTHONPATH") else ""),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "emnist_core.serving.export", *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=EXPORT_TIMEOUT_SECONDS,
    )
    if proc.returncode != 0:
        log.warning("exporting %s failed: %s", ", ".join(Path(p).name for p in paths), proc.stderr[-1000:])


def _litert() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


def _keras_here() -> bool:
    """Whether this process has a deep-learning backend loaded already: then it exports in place."""
    return "tensorflow" in sys.modules or ("keras" in sys.modules and "jax" in sys.modules)


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


def main(argv=None) -> int:
    """``python -m emnist_core.serving.export PATH ...``: export each model (and its probe) into the cache."""
    failed = 0
    for path in argv if argv is not None else sys.argv[1:]:
        served = load_served(path, here=True)
        if not isinstance(served, LiteModel):
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
