"""Shared fixtures: small EMNIST-format files written by the tests, the real data when present."""

from __future__ import annotations

import gzip
import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import zlib
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Corrections and the Challenge's tally of this test run (of each worker, when the run is shared out), not the
# cache's: a test that counts them must not see another's.
os.environ.setdefault("EMNIST_CORRECTIONS_DIR", tempfile.mkdtemp(prefix="sketch-lab-corrections-"))
# Gradio's uploads and cache of this test run (of each worker): a test that counts the files written sees its own.
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="sketch-lab-gradio-")

from emnist_core.data.files import IMAGE_MAGIC, LABEL_MAGIC  # noqa: E402
from emnist_core.data.labels import label_map  # noqa: E402
from emnist_core.data.preprocess import SIDE  # noqa: E402
from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS  # noqa: E402
from emnist_core.models.evaluation import EMNIST  # noqa: E402

SHARED = Path(os.environ.get("EMNIST_DATA_DIR") or ROOT.parent / "shared" / "emnist")
NUM_CLASSES = label_map("bymerge").num_classes  # what every model here predicts
# Characters drawn as pen strokes on the canvas, in fractions of its side: distinct shapes with no
# look-alike class, so any usable model reads them.
STROKES = {
    "7": [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]],
    "X": [[(0.25, 0.15), (0.75, 0.85)], [(0.75, 0.15), (0.25, 0.85)]],
    "A": [[(0.2, 0.85), (0.5, 0.15), (0.8, 0.85)], [(0.33, 0.58), (0.67, 0.58)]],
}


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_pair(folder: Path, split: str, part: str, upright: np.ndarray, labels, gz: bool = True):
    """Write images the way EMNIST stores them: transposed, big-endian IDX, optionally gzipped."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    opener = gzip.open if gz else open
    images = folder / f"emnist-{split}-{part}-images-idx3-ubyte{suffix}"
    labels_path = folder / f"emnist-{split}-{part}-labels-idx1-ubyte{suffix}"
    with opener(images, "wb") as f:
        f.write(idx_bytes(upright.transpose(0, 2, 1), IMAGE_MAGIC))
    with opener(labels_path, "wb") as f:
        f.write(idx_bytes(np.asarray(labels), LABEL_MAGIC))
    return images, labels_path


def write_csv(path: Path, upright: np.ndarray, labels):
    rows = np.concatenate([np.asarray(labels)[:, None], upright.transpose(0, 2, 1).reshape(len(labels), -1)], 1)
    np.savetxt(path, rows, fmt="%d", delimiter=",")
    return path


def l_shapes(n: int, seed: int = 0) -> np.ndarray:
    """Upright 'L' glyphs: a vertical bar on the left and a foot at the bottom (asymmetric on purpose)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        x0, y0 = rng.integers(4, 8, size=2)
        out[i, y0:24, x0 : x0 + 3] = 255
        out[i, 21:24, x0:22] = 255
    return out


def sketch_file(folder: Path, char: str | None, size: int = CANVAS) -> Path:
    """A sketchpad composite (black ink on white RGBA) of ``char`` drawn with the sketchpad's round brush, scaled
    to a canvas of ``size``; None: blank."""
    image = Image.new("RGBA", (size, size), "white")
    draw = ImageDraw.Draw(image)
    pen = round(2 * BRUSH_RADIUS * size / CANVAS)  # the brush size is a radius
    for stroke in STROKES.get(char, []):
        draw.line([(x * size, y * size) for x, y in stroke], fill="black", width=pen, joint="curve")
    path = folder / f"sketch-{char or 'blank'}-{size}.png"
    image.save(path)
    return path


def pad_value(char: str, wobble: float = 0.0) -> dict:
    """What the page's pad sends for ``char`` drawn with ``STROKES``, its first point moved ``wobble`` pad pixels to
    the right (a drawing of its own for each wobble)."""
    found = [[[x * CANVAS for x, _ in s], [y * CANVAS for _, y in s]] for s in STROKES[char]]
    found[0][0][0] += wobble
    return {"strokes": found}


def sketch(path) -> dict:
    """The sketchpad value an API client sends for the image file at ``path``."""
    import gradio_client

    return {"background": None, "layers": [], "composite": gradio_client.handle_file(str(path))}


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of ``width`` x ``height``, written row block by row block: a few kB on disk,
    width*height bytes once decoded."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then packed bits
    packer, block = zlib.compressobj(9), 500
    data = b"".join(packer.compress(row * min(block, height - y)) for y in range(0, height, block)) + packer.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )
    return path


def untrained_model(body=(), outputs: int = NUM_CLASSES):
    """A small Keras model on 28x28 images, untrained: ``body`` layers, then a softmax over ``outputs``."""
    import keras

    return keras.Sequential(
        [keras.Input((SIDE, SIDE)), *body, keras.layers.Flatten(), keras.layers.Dense(outputs, activation="softmax")]
    )


@contextmanager
def served(demo, **launch_options):
    """``demo`` served on a free loopback port while the block runs; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Where the browser tests put their screenshots: ``SKETCH_LAB_ARTIFACTS``, else a temporary folder."""
    folder = Path(os.environ.get("SKETCH_LAB_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own decoded-array cache unless CI set one."""
    if "EMNIST_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def untrained_model_file(tmp_path_factory) -> Path:
    """``untrained_model()`` saved as a .keras file: enough for the loaders and the CLI to run end to end, quickly."""
    path = tmp_path_factory.mktemp("model") / "untrained.keras"
    untrained_model().save(path)
    return path


@pytest.fixture(scope="module")
def app_module(tmp_path_factory):
    """``app.py``, imported (which starts nothing), with retrained models going to a temporary folder."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EMNIST_MODELS_DIR", str(tmp_path_factory.mktemp("models")))  # retrained models go here
        import app

        yield app


def drawn_from_pack():
    """The drawn characters from the demo data pack, even where the UNIPEN files are (``testsets.load_drawn_pack``;
    ``test_drawn`` checks the files' partition against it)."""
    from emnist_core.lab.testsets import load_drawn_pack

    return load_drawn_pack()


@pytest.fixture(scope="module")
def lab(app_module):
    """The server state that ``python app.py`` serves: the shipped pair live, the test images loading."""
    return app_module.Lab(drawn_loader=drawn_from_pack, own_processes=False)


@pytest.fixture(scope="module")
def demo(app_module, lab):
    """The page ``python app.py`` serves, over ``lab``."""
    return app_module.build_demo(lab)


@pytest.fixture(scope="module")
def training_off(app_module):
    """A server whose owner turned training off, and corrections with it: a Lab built with those switches, its
    page served in this process; -> (that lab, a gradio_client on it)."""
    import gradio_client

    from emnist_core.lab.guard import Switches

    lab = app_module.Lab(data_loader=lambda: None, switches=Switches(training=False, corrections=False))
    with served(app_module.build_demo(lab)) as url:
        yield lab, gradio_client.Client(url, verbose=False)


def emnist_from(lab, monkeypatch, loader):
    """``lab`` reading its EMNIST data from ``loader`` instead (for the rest of the test), once that has loaded or
    failed: what a server meets when its data is missing, damaged or other."""
    from emnist_core.lab.testsets import TestSets

    tests = TestSets(loader, drawn_from_pack, lambda: lab.classroom.drawing_ids(), lambda: lab.classroom.drawings())
    monkeypatch.setattr(lab, "tests", tests)
    monkeypatch.setattr(lab.jobs, "_tests", tests)  # the job slot trains on the same data
    tests.dataset(EMNIST, wait=60)
    return tests


@pytest.fixture
def with_data(lab):
    """The app's EMNIST test set, once loaded; skips where the data is not on this machine."""
    lab.tests.dataset(EMNIST, wait=120)
    if lab.tests.dataset(EMNIST) is None:
        pytest.skip(f"EMNIST test images not available: {lab.tests.message(EMNIST)}")
    return lab.tests.dataset(EMNIST)


@pytest.fixture(scope="session")
def shared_emnist() -> Path:
    if not (SHARED / "emnist-bymerge-test-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real EMNIST files not found in {SHARED} (set EMNIST_DATA_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def pool47(shared_emnist):
    from emnist_core.data.datasets import load_dataset

    return load_dataset("pool47", shared_emnist)


# ---------------------------------------------------------------- the command line, and a tiny trained model


def run_cli(*args, check=True, own_process=False):
    """``python -m emnist_core ARGS`` -> what it exited with and printed (a ``subprocess.CompletedProcess``): in this
    process, as ``__main__`` runs it, from the project folder; ``own_process``: as a real subprocess."""
    argv = [str(a) for a in args]
    if own_process:
        proc = subprocess.run(
            [sys.executable, "-m", "emnist_core", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
    else:
        from emnist_core.cli import main

        out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
        os.chdir(ROOT)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(argv)
        except SystemExit as exited:  # argparse's way out: a wrong command line, or --help
            code = exited.code if isinstance(exited.code, int) else int(exited.code is not None)
        finally:
            os.chdir(here)
        proc = subprocess.CompletedProcess(["python", "-m", "emnist_core", *argv], code, out.getvalue(), err.getvalue())
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def synthetic(n, seed):
    """Two easy classes: 'L' shapes (class 21, "L") and their mirror images (class 7, "7"-ish)."""
    x = l_shapes(n, seed)
    y = np.full(n, 21)
    x[n // 2 :], y[n // 2 :] = x[n // 2 :, :, ::-1], 7
    return x, y


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A seed MLP trained for three epochs on ``synthetic`` shapes: a real model file for the CLI, in seconds."""
    from emnist_core.data.datasets import Dataset
    from emnist_core.training.config import TrainConfig
    from emnist_core.training.train import train_and_save

    x, y = synthetic(400, 0)
    data = Dataset("synthetic", label_map("bymerge"), x, y, x[:50], y[:50], x[:100], y[:100], "two shapes", [])
    return train_and_save(
        TrainConfig(model="seed-mlp", epochs=3, batch_size=32), tmp_path_factory.mktemp("m") / "tiny.keras", data
    ).path
