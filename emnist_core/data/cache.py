"""The cache and safe writes: where decoded arrays and exports are kept, and files written all or nothing.

Every writer in the project (saved models, exports, corrections, the cache itself) goes through
``atomic_write``, so a reader or a killed process never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

CACHE_VERSION = 1
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout: assets/ and ../shared are found from here


def temp_path(path, kind: str = "tmp") -> Path:
    """A hidden name beside ``path`` for this process and thread: ``.STEM.tmpPID-TID.SUFFIX``.

    Hidden (and ignored by git), so a leftover of a killed process is never taken for the real file;
    the suffix is kept, because some writers (Keras) choose the format by it.
    """
    path = Path(path)
    return path.with_name(f".{path.stem}.{kind}{os.getpid()}-{threading.get_ident()}{path.suffix}")


def atomic_write(path, write) -> None:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it over ``path``.

    A reader, or a process killed mid-write, never sees half a file.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def cache_dir() -> Path:
    """Where decoded arrays are kept (``EMNIST_CACHE_DIR``, else ~/.cache/emnist_sketch_lab)."""
    base = os.environ.get("EMNIST_CACHE_DIR") or Path.home() / ".cache" / "emnist_sketch_lab"
    return Path(base)


def _cache_key(*paths: Path) -> str:
    h = hashlib.sha1(str(CACHE_VERSION).encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def cached_arrays(key_paths, name: str, build) -> tuple[np.ndarray, np.ndarray]:
    """``build()`` once, then memory-map the saved ``.npy`` pair on every later call.

    The key holds each source file's path, size and mtime, so a changed file is decoded again.
    A cache that cannot be written (read-only home) is skipped, not fatal.
    """
    folder = cache_dir() / f"{name}-{_cache_key(*[Path(p) for p in key_paths])}"
    x_path, y_path = folder / "images.npy", folder / "labels.npy"
    if x_path.exists() and y_path.exists():
        try:
            return np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    images, labels = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, array in ((x_path, images), (y_path, labels)):
            atomic_write(path, lambda tmp: np.save(tmp, array))
    except OSError:
        pass
    return images, labels
