"""Shared fixtures: small EMNIST-format files written by the tests, the real data when present."""

from __future__ import annotations

import gzip
import os
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(os.environ.get("EMNIST_DATA_DIR") or ROOT.parent / "shared" / "emnist")


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
        f.write(idx_bytes(upright.transpose(0, 2, 1), 2051))
    with opener(labels_path, "wb") as f:
        f.write(idx_bytes(np.asarray(labels), 2049))
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
        out[i, y0 : 24, x0 : x0 + 3] = 255
        out[i, 21:24, x0 : 22] = 255
    return out


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


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own decoded-array cache unless CI set one."""
    if "EMNIST_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def shared_emnist() -> Path:
    if not (SHARED / "emnist-bymerge-test-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real EMNIST files not found in {SHARED} (set EMNIST_DATA_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def pool47(shared_emnist):
    from emnist_core.datasets import load_dataset

    return load_dataset("pool47", shared_emnist)
