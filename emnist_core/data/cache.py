"""The cache and safe writes: where decoded arrays and exports are kept, and files written all or nothing.

Every writer in the project (saved models, exports, corrections, the cache itself) goes through
``atomic_write``, so a reader or a killed process never sees half a file.

Decoded arrays are kept as one entry per source (``cached_arrays``): ``arrays/<name>/`` holds the
arrays as ``.npy`` files (memory-mapped when read) and ``entry.json``, which records the source's
*identity*: each file's name, size and SHA-256. A copy of the same files in another folder, or the
same files touched, reuses the entry; different contents replace it in place, so an entry never
piles up beside an older one. Hashing costs a few tenths of a second, so the entry also remembers
the paths, sizes and modification times it was last read from, and skips the hashing while they
are unchanged. ``entries()`` lists what the cache folder holds and ``clear()`` empties what can be
made again; people's corrections, retrained models and downloaded data files are never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE_VERSION = 2  # 2: entries keyed on the sources' contents (1 keyed on path and time: a new entry per copy)
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout: assets/ and ../shared are found from here
ARRAYS = "arrays"  # the folder of decoded-array entries, under cache_dir()
ENTRY_FILE = "entry.json"
# What else lives in the cache folder, named by the modules that write there. clear() removes only what is
# made again when needed; the rest is data someone gave or fetched, and is kept.
CLEARED = {
    ARRAYS: "decoded arrays (made again from the files when needed)",
    "served": "models exported for serving (made again at the next start)",
    "downloads": "NIST's downloaded archive (fetched again by the next download)",
}
KEPT = {
    "data": "EMNIST files fetched by `download`",
    "models": "models retrained in the app",
    "corrections": "people's corrections",
}
# Entries of cache version 1 sat at the top as NAME-<16 hex digits>/{images,labels}.npy.
_VERSION1_ENTRY = re.compile(r".+-[0-9a-f]{16}")


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


def file_sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def source_files(paths, root=None) -> list[dict]:
    """Each file's identity: its name (relative to ``root`` when given), size and SHA-256, in name order."""
    found = []
    for p in map(Path, paths):
        name = p.relative_to(root).as_posix() if root is not None else p.name
        found.append({"name": name, "size": p.stat().st_size, "sha256": file_sha256(p)})
    return sorted(found, key=lambda f: f["name"])


def identity_digest(files: list[dict], version: str = "") -> str:
    """One SHA-256 for a set of files (``source_files``): the same files anywhere give the same digest.
    ``version``: of what is made from them, when that can change while the files do not."""
    h = hashlib.sha256(f"{version}\n".encode() if version else b"")
    for f in files:
        h.update(f"{f['name']}|{f['size']}|{f['sha256']}\n".encode())
    return h.hexdigest()


def _stamps(paths, version: str) -> str:
    """Where the files are and when they changed: a shortcut past hashing while this is unchanged."""
    h = hashlib.sha1(f"{CACHE_VERSION}|{version}\n".encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cached_arrays(key_paths, name: str, build, root=None, version: str = "") -> tuple[np.ndarray, ...]:
    """``build()`` (a tuple of arrays) once per source, then memory-map the saved arrays on every later call.

    ``key_paths``: the source files; ``name``: the entry, one per source ("pool47", "emnist-bymerge-test").
    The entry is reused while the files' contents are the same, wherever they are (names are taken relative
    to ``root`` when given); other contents, or another ``version`` of ``build``, replace it. A cache that
    cannot be written (read-only home) is skipped, not fatal.
    """
    paths = [Path(p) for p in key_paths]
    folder = cache_dir() / ARRAYS / name
    entry, stamps = _read_entry(folder), _stamps(paths, version)
    if entry is not None and entry["stamps"] == stamps:
        arrays = _load_arrays(folder, entry)
        if arrays is not None:
            return arrays
    files = source_files(paths, root)
    identity = identity_digest(files, version)
    if entry is not None and entry["identity"] == identity:
        arrays = _load_arrays(folder, entry)
        if arrays is not None:  # the same data from another place: remember this place
            _write_entry(folder, {**entry, "stamps": stamps})
            return arrays
    arrays = tuple(build())
    summary = {"files": len(files), "bytes": sum(f["size"] for f in files), "first": files[0]["name"] if files else ""}
    _store(
        folder,
        arrays,
        {
            "version": CACHE_VERSION,
            "name": name,
            "identity": identity,
            "stamps": stamps,
            "arrays": len(arrays),
            "sources": summary,
        },
    )
    return arrays


def _read_entry(folder: Path) -> dict | None:
    try:
        entry = json.loads((folder / ENTRY_FILE).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(entry, dict) and entry.get("version") == CACHE_VERSION and isinstance(entry.get("arrays"), int)
    return entry if ok else None


def _load_arrays(folder: Path, entry: dict) -> tuple[np.ndarray, ...] | None:
    try:
        return tuple(np.load(folder / f"{i}.npy", mmap_mode="r") for i in range(entry["arrays"]))
    except (OSError, ValueError):
        return None  # a damaged entry is built again


def _write_entry(folder: Path, entry: dict) -> None:
    try:
        atomic_write(folder / ENTRY_FILE, lambda tmp: tmp.write_text(json.dumps(entry, indent=1)))
    except OSError:
        pass


def _store(folder: Path, arrays, entry: dict) -> None:
    """Write the entry in a hidden folder beside its place, then swap it in: a reader sees the old entry or the
    new one, never half of one; the old one's memory maps stay valid until they are closed."""
    tmp = temp_path(folder)
    try:
        tmp.mkdir(parents=True)
        for i, array in enumerate(arrays):
            np.save(tmp / f"{i}.npy", array)
        (tmp / ENTRY_FILE).write_text(json.dumps(entry, indent=1))
        if folder.exists():
            old = temp_path(folder, "old")
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder)
        _remove_version1_entries()
    except OSError:
        pass  # read-only or full: the caller has its arrays all the same
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _version1_entries(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    return sorted(
        p
        for p in base.iterdir()
        if p.is_dir()
        and _VERSION1_ENTRY.fullmatch(p.name)
        and {c.name for c in p.iterdir()} <= {"images.npy", "labels.npy"}
    )


def _remove_version1_entries() -> None:
    for path in _version1_entries(cache_dir()):
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class CacheItem:
    """One thing in the cache folder: an entry of decoded arrays or one of the other folders."""

    name: str
    path: Path
    bytes: int
    what: str
    cleared: bool  # whether clear() removes it


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def entries() -> list[CacheItem]:
    """What the cache folder holds: each decoded-array entry, older-version entries, and the other folders."""
    base, items = cache_dir(), []
    arrays = base / ARRAYS
    for folder in sorted(arrays.iterdir()) if arrays.is_dir() else []:
        entry = _read_entry(folder)
        if entry is None:
            what = "damaged or of another cache version (made again when needed)"
        else:
            src = entry["sources"]
            what = f"decoded from {src['files']:,} source file{'s' * (src['files'] != 1)} ({src['first']}" + (
                ", ...)" if src["files"] > 1 else ")"
            )
        items.append(CacheItem(f"{ARRAYS}/{folder.name}", folder, folder_bytes(folder), what, True))
    for folder in _version1_entries(base):
        items.append(CacheItem(folder.name, folder, folder_bytes(folder), "an entry of the older cache layout", True))
    for name, what in (*CLEARED.items(), *KEPT.items()):
        path = base / name
        if name != ARRAYS and path.exists():
            items.append(CacheItem(name, path, folder_bytes(path), what, name in CLEARED))
    return items


def clear() -> tuple[int, list[CacheItem]]:
    """Remove what the cache can make again; -> (bytes freed, what was kept)."""
    freed, kept = 0, []
    for item in entries():
        if not item.cleared:
            kept.append(item)
            continue
        freed += item.bytes
        if item.path.is_dir():
            shutil.rmtree(item.path, ignore_errors=True)
        else:
            item.path.unlink(missing_ok=True)
    arrays = cache_dir() / ARRAYS
    if arrays.is_dir():
        shutil.rmtree(arrays, ignore_errors=True)  # hidden leftovers of killed writers too
    return freed, kept
