"""The demo data pack: enough EMNIST and drawn characters for every tab, committed with the project.

A fresh clone or a Hugging Face Space has no EMNIST or UNIPEN files beside it. ``assets/data/`` holds
``pool47.npz`` and ``unipen.npz`` (uint8 images, compressed; each under the 10 MiB that a Hugging Face
Space takes without Git LFS) and ``manifest.json`` (what they hold, where it came from, licences, and
each file's and array's SHA-256), made by one command from the full files::

    python -m emnist_core pack --out assets/data

- ``pool47``: the whole pool47 test part (21,617 images, in the order the shipped reports index them),
  plus class-stratified slices of its train and validation parts (``POOL47_SLICE``);
- ``unipen``: the whole unipen test part (9,317 drawn characters as the models see them, with class,
  section and writer group), plus class-stratified slices of its train and validation parts.

Rows keep the full dataset's order and carry their part (0 train, 1 validation, 2 test), so a part read
from the pack is the full part or a subsequence of it. ``load`` reads one group's file, checks its and
every array's SHA-256 against the manifest and refuses a damaged pack with ``PackError`` naming the file.
``datasets.load_dataset`` falls back to the pack when the full files are not found.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from emnist_core.data.cache import PROJECT_ROOT, atomic_write, file_sha256

PACK_DIR = PROJECT_ROOT / "assets" / "data"
MANIFEST_FILE = "manifest.json"
PACK_FORMAT = 1
FILE_LIMIT = 10 * 2**20  # bytes: a Hugging Face Space refuses a larger file pushed without Git LFS
BUILD_COMMAND = "python -m emnist_core pack --out assets/data"
# Training and validation images kept per dataset: (train, validation). At ~250 bytes per compressed image,
# these and the two full test parts (31,021 images) make about 14.5 MB, under the 15 MB the pack may take.
POOL47_SLICE = (16_000, 2_000)
UNIPEN_SLICE = (8_000, 1_000)
SLICE_SEED = 47  # scikit-learn's random_state for the stratified slices: fixed, so a rebuild keeps the same images
TEST = 2  # the part code of a test row
# Each group is one file, GROUP.npz, holding these arrays.
GROUPS = {"pool47": ("images", "labels", "part"), "unipen": ("images", "meta")}
ARRAY_NOTES = {
    "pool47": {
        "images": "uint8 (N, 28, 28), upright, white ink on black",
        "labels": "ByMerge class 0-46",
        "part": "0 train, 1 validation, 2 test (the full test part, in the order the shipped reports index)",
    },
    "unipen": {
        "images": "uint8 (N, 28, 28): pen strokes drawn with the app's sketchpad brush and preprocessed",
        "meta": "int32 columns: ByMerge class, section (0 digits, 1 upper, 2 lower), part (0 train, 1 validation, "
        "2 test), writer group",
    },
}
EMNIST_ABOUT = {
    "what": "pool47: the union of the official EMNIST ByMerge and ByClass test sets (ByClass merged into the 47 "
    "ByMerge classes, exact duplicates removed), partitioned 80/10/10 by class (see README, Data)",
    "origin": "EMNIST, derived from NIST Special Database 19 (https://www.nist.gov/srd/nist-special-database-19); "
    "files from https://www.nist.gov/itl/products-and-services/emnist-dataset",
    "licence": "NIST states no licence for EMNIST; the terms of NIST Special Database 19 apply",
    "cite": 'Cohen, Afshar, Tapson, van Schaik, "EMNIST: an extension of MNIST to handwritten letters", 2017, '
    "arXiv:1702.05373",
}
UNIPEN_ABOUT = {
    "what": "UNIPEN train_r01_v07 sections 1a/1b/1c, pen-drawn isolated characters, rendered with the app's "
    "sketchpad brush; partitioned 80/10/10 by writer (see README, Drawn input)",
    "origin": "International Unipen Foundation, train_r01_v07 (1999); parse-friendly copy at "
    "https://github.com/GreenCappuccino/train_r01_v07",
    "licence": "Creative Commons Attribution 4.0 (CC BY 4.0)",
    "cite": 'Guyon, Schomaker, Plamondon, Liberman, Janet, "UNIPEN project of on-line data exchange and '
    'recognizer benchmarks", ICPR 1994; data: doi 10.5281/zenodo.1195803',
}


class PackError(ValueError):
    """The pack is damaged or does not match its manifest; the message names the file and what to do."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        super().__init__(
            f"{path}: {problem}. Restore it from the repository (git checkout -- assets/data) or "
            f"rebuild it from the full files: {BUILD_COMMAND}"
        )


def pack_file(group: str, folder=None) -> Path:
    """``group``'s .npz in ``folder`` (default: the project's assets/data)."""
    return (Path(folder) if folder is not None else PACK_DIR) / f"{group}.npz"


def manifest_file(folder=None) -> Path:
    return (Path(folder) if folder is not None else PACK_DIR) / MANIFEST_FILE


def load(group: str, folder=None) -> tuple[dict[str, np.ndarray], dict]:
    """``group``'s arrays ("pool47": images, labels, part; "unipen": images, meta), checked against the manifest,
    and the manifest. FileNotFoundError when there is no pack; PackError when it is damaged.

    Kept in memory per file version: the app and a training job share one read-only copy.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown pack group {group!r}; choose one of {', '.join(GROUPS)}")
    paths = (pack_file(group, folder), manifest_file(folder))
    stamp = tuple((os.fspath(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    return _load(stamp, group)


@functools.lru_cache(maxsize=4)
def _load(stamp, group: str) -> tuple[dict[str, np.ndarray], dict]:
    npz, manifest_path = (Path(s[0]) for s in stamp)
    manifest = read_manifest(manifest_path)
    expected = manifest["files"].get(group) or {}
    if file_sha256(npz) != expected.get("sha256"):
        raise PackError(
            npz, f"its SHA-256 is not the one in {manifest_path.name}: the file is damaged or from another build"
        )
    arrays = {}
    try:
        with np.load(npz) as z:
            for name in GROUPS[group]:
                arrays[name] = _checked(z[name], manifest["arrays"].get(group, {}).get(name), f"{group}/{name}", npz)
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, ValueError) as exc:
        if isinstance(exc, PackError):
            raise
        raise PackError(npz, f"cannot be read ({type(exc).__name__}: {exc})") from None
    return arrays, manifest


def _checked(array: np.ndarray, expected: dict | None, key: str, npz: Path) -> np.ndarray:
    if not isinstance(expected, dict):
        raise PackError(npz, f"array {key} is not in the manifest")
    if [list(array.shape), str(array.dtype)] != [expected["shape"], expected["dtype"]]:
        raise PackError(
            npz,
            f"array {key} is {array.dtype} {array.shape}, the manifest says {expected['dtype']} "
            f"{tuple(expected['shape'])}",
        )
    if array_sha256(array) != expected["sha256"]:
        raise PackError(npz, f"array {key} does not match its SHA-256 in the manifest")
    array.flags.writeable = False  # shared by every caller of load()
    return array


def read_manifest(path) -> dict:
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PackError(path, f"cannot be read as JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise PackError(path, f"is not a format-{PACK_FORMAT} pack manifest")
    for field in ("files", "arrays", "contents"):
        if not isinstance(manifest.get(field), dict):
            raise PackError(path, f"has no {field!r} section")
    return manifest


def array_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(array)).cast("B")).hexdigest()


def describe(manifest: dict, group: str) -> str:
    """How the page and the CLI name this data: "the demo data pack (16,000 training images; the full test part)"."""
    return f"the demo data pack ({manifest['contents'][group]['train']:,} training images; the full test part)"


# ------------------------------------------------------------------------------------------------ building


def stratified_slice(labels, part, sizes: tuple[int, int], seed: int = SLICE_SEED) -> np.ndarray:
    """Row indices to keep, in order: every test row, and ``sizes`` (train, validation) rows of the train and
    validation parts, each drawn stratified by class (scikit-learn's train_test_split)."""
    from sklearn.model_selection import train_test_split

    labels, part = np.asarray(labels), np.asarray(part)
    keep = [np.flatnonzero(part == TEST)]
    for code, size in enumerate(sizes):
        rows = np.flatnonzero(part == code)
        if size < len(rows):
            rows, _ = train_test_split(rows, train_size=size, stratify=labels[rows], random_state=seed)
        keep.append(rows)
    return np.sort(np.concatenate(keep))


def build(out, pool47: tuple, unipen: tuple, sources: dict, command: str = BUILD_COMMAND) -> dict:
    """Write the pack into ``out`` and return its manifest.

    ``pool47``: (images, labels, part) of the full pool; ``unipen``: (images, meta) of the full drawn set
    (``drawn.unipen_arrays``); ``sources``: {"emnist": [file identities], "unipen": {summary}} for the
    manifest (``cache.source_files``).
    """
    x, y, part = (np.asarray(a) for a in pool47)
    ux, meta = (np.asarray(a) for a in unipen)
    keep = stratified_slice(y, part, POOL47_SLICE)
    ukeep = stratified_slice(meta[:, 0], meta[:, 2], UNIPEN_SLICE)
    arrays = {
        "pool47": {
            "images": np.ascontiguousarray(x[keep], np.uint8),
            "labels": np.ascontiguousarray(y[keep], np.uint8),
            "part": np.ascontiguousarray(part[keep], np.int8),
        },
        "unipen": {
            "images": np.ascontiguousarray(ux[ukeep], np.uint8),
            "meta": np.ascontiguousarray(meta[ukeep], np.int32),
        },
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for group, members in arrays.items():
        npz = pack_file(group, out)
        atomic_write(npz, lambda tmp, members=members: np.savez_compressed(tmp, **members))
        written[group] = {"name": npz.name, "bytes": npz.stat().st_size, "sha256": file_sha256(npz)}
    manifest = _manifest(arrays, written, sources, command)
    atomic_write(manifest_file(out), lambda p: p.write_text(json.dumps(manifest, indent=1) + "\n"))
    return manifest


def _counts(part) -> dict:
    counts = np.bincount(np.asarray(part), minlength=3)
    return {"train": int(counts[0]), "validation": int(counts[1]), "test": int(counts[2])}


def _manifest(arrays: dict, written: dict, sources: dict, command: str) -> dict:
    slices = (
        "slices of the full train and validation parts, each stratified by class (scikit-learn "
        f"train_test_split, random_state={SLICE_SEED}); the test part is whole"
    )
    return {
        "name": "EMNIST Sketch Lab demo data pack",
        "format": PACK_FORMAT,
        "about": "What every tab needs on a machine with no EMNIST or UNIPEN files (a fresh clone, a Hugging Face "
        "Space). With the full files present the project uses them instead.",
        "command": command,
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": written,
        "contents": {
            "pool47": {**_counts(arrays["pool47"]["part"]), "train_and_validation": slices},
            "unipen": {
                **_counts(arrays["unipen"]["meta"][:, 2]),
                "train_and_validation": slices,
                "render_version": sources["unipen"].get("render_version"),
            },
        },
        "arrays": {
            group: {
                name: {
                    "shape": list(a.shape),
                    "dtype": str(a.dtype),
                    "sha256": array_sha256(a),
                    "holds": ARRAY_NOTES[group][name],
                }
                for name, a in members.items()
            }
            for group, members in arrays.items()
        },
        "sources": {
            "emnist": {**EMNIST_ABOUT, "files": sources["emnist"]},
            "unipen": {**UNIPEN_ABOUT, **{k: v for k, v in sources["unipen"].items() if k != "render_version"}},
        },
    }
