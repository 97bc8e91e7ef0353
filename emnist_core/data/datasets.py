"""Named datasets with fixed train/validation/test partitions.

``pool47``: the union of the official ByMerge and ByClass *test* sets (ByClass labels merged into
the 47 ByMerge classes, exact-duplicate images removed): 216,168 images, partitioned 80/10/10,
stratified by class. The partition is keyed on image content, so it is the same on every machine
and whatever order the files are read in.

``bymerge``, ``balanced``, ``byclass``, ``letters``, ``digits``, ``mnist``: the official train and
test files; validation is a stratified 10% of train, as in the seed report.

``unipen``: characters drawn with a pen (UNIPEN), rendered with the app's sketchpad brush: see ``drawn``.

``pool47+unipen``: pool47 train + unipen train (and validation likewise) for models that read
drawings; its test part is pool47 test, so its figures compare with the EMNIST-only models'. Drawn
test figures come from ``unipen`` test. ``pool47+unipen-balanced``: the same with unipen train drawn
class-balanced (as many drawn 1s as drawn ls), as the app is used.

Data directory search order (first that exists wins): the ``data_dir`` argument (CLI
``--data-dir``), ``$EMNIST_DATA_DIR``, ``./data``, ``../shared/emnist`` beside the project,
``~/.cache/emnist_sketch_lab/data`` (where ``download`` puts files). A folder is also searched
one level down in ``gzip/`` (the layout of NIST's archive).

Where the full files are not found, ``pool47`` and ``unipen`` come from the demo data pack committed in
``assets/data`` (``pack``): the whole test parts and stratified slices of train and validation. Each
``Dataset`` says in ``source`` which data it came from.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emnist_core.data import cache, files, pack
from emnist_core.data.cache import PROJECT_ROOT
from emnist_core.data.dataset import (
    PACK_NOTE,
    PARTITION_SEED,
    DataNotFoundError,
    Dataset,
    balanced_draw,
    content_keys,
    from_pack,
    not_found,
    partition,
)
from emnist_core.data.drawn import unipen_dataset
from emnist_core.data.labels import SPLITS, byclass_to_bymerge, label_map

DATASETS = ("pool47", "unipen", "pool47+unipen", "pool47+unipen-balanced") + SPLITS
POOL_FRACTIONS = (0.8, 0.1, 0.1)
OFFICIAL_VALIDATION = 0.1
# Mixing weight of pool47+unipen: each UNIPEN training character appears this many times per epoch
# (each time with its own random warp): at 2, drawn characters are ~43% of the training images.
UNIPEN_COPIES = 2


def candidate_dirs(data_dir=None) -> list[Path]:
    found = []
    for d in (
        data_dir,
        os.environ.get("EMNIST_DATA_DIR"),
        Path.cwd() / "data",
        PROJECT_ROOT.parent / "shared" / "emnist",
        cache.cache_dir() / "data",
    ):
        if d:
            found.append(Path(d).expanduser())
    return found


def find_files(split: str, part: str, data_dir=None) -> tuple[Path, Path | None]:
    """Locate ``split``/``part`` as an IDX pair (gz or not) or a Kaggle CSV.

    Returns ``(images, labels)`` for IDX, ``(csv, None)`` for CSV. An explicit ``data_dir``
    must exist; the fallbacks are skipped when absent.
    """
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DataNotFoundError(f"data directory {data_dir} does not exist")
    for base in candidate_dirs(data_dir):
        for folder in (base, base / "gzip"):
            if not folder.is_dir():
                continue
            stem = folder / f"emnist-{split}-{part}"
            for suffix in (".gz", ""):
                images = Path(f"{stem}-images-idx3-ubyte{suffix}")
                labels = Path(f"{stem}-labels-idx1-ubyte{suffix}")
                if images.exists() and labels.exists():
                    return images, labels
            csv = Path(f"{stem}.csv")
            if csv.exists():
                return csv, None
    raise not_found([split], part, candidate_dirs(data_dir))


def load_files(images_path, labels_path=None, split: str = "bymerge", cached: bool = True):
    """Load and validate one IDX pair or CSV against ``split``'s label map (cached unless ``cached`` is False:
    a caller that caches what it makes of the files need not keep them twice)."""
    images_path = Path(images_path)
    keys = [images_path] if labels_path is None else [images_path, Path(labels_path)]
    for p in keys:
        if not p.exists():
            raise files.DataFileError(p, "file not found")
    build = lambda: _read_files(images_path, labels_path)
    # One entry per file pair, named for it without its format ("emnist-bymerge-test").
    name = images_path.name.split(".")[0].removesuffix("-images-idx3-ubyte")
    images, labels = cache.cached_arrays(keys, name, build) if cached else build()
    files.check_pair(images, labels, label_map(split), images_path, labels_path)
    return images, labels


def _read_files(images_path: Path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    if labels_path is None:
        return files.read_csv(images_path)
    return files.read_idx_images(images_path), files.read_idx_labels(Path(labels_path))


def load_split(split: str, part: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Official ``split`` ("bymerge", ...) and ``part`` ("train" or "test")."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', not {part!r}")
    return load_files(*find_files(split, part, data_dir), split=split)


def pool47_arrays(data_dir=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The deduplicated ByMerge-test + ByClass-test union from the full files, in a canonical (content) order,
    with each image's part (0 train, 1 validation, 2 test) and the source files; cached as one entry."""
    try:
        mi, ml = find_files("bymerge", "test", data_dir)
        ci, cl = find_files("byclass", "test", data_dir)
    except DataNotFoundError as exc:
        if data_dir is not None and not Path(data_dir).is_dir():
            raise
        raise not_found(["bymerge", "byclass"], "test", candidate_dirs(data_dir)) from exc
    keys = [p for p in (mi, ml, ci, cl) if p is not None]

    def build():
        xm, ym = load_files(mi, ml, "bymerge", cached=False)
        xc, yc = load_files(ci, cl, "byclass", cached=False)
        x = np.concatenate([xm, xc])
        y = np.concatenate([ym, byclass_to_bymerge(yc)])
        content = content_keys(x)
        # Exact duplicates share a key; keep one of each (their labels agree after merging).
        _, first = np.unique(content, return_index=True)
        x, y, content = np.ascontiguousarray(x[first]), y[first], content[first]
        _tr, va, te = partition(x, y, POOL_FRACTIONS, content)
        part = np.zeros(len(y), dtype=np.int8)
        part[va], part[te] = 1, 2
        return x, y, part

    x, y, part = cache.cached_arrays(keys, "pool47", build)
    return x, y, part, [str(p) for p in keys]


POOL47_DESCRIPTION = (
    "Union of the official EMNIST ByMerge and ByClass test sets, ByClass merged to the 47 ByMerge classes, exact "
    "duplicates removed; stratified 80/10/10 train/validation/test partition keyed on image content (scikit-learn "
    f"train_test_split, random_state={PARTITION_SEED})."
)


def pool47_dataset(data_dir=None) -> Dataset:
    """pool47 from the full files when they are found, else from the demo data pack (see module doc)."""
    try:
        x, y, part, sources = pool47_arrays(data_dir)
        folders = ", ".join(dict.fromkeys(str(Path(s).parent) for s in sources))
        source, description = f"full EMNIST files in {folders}", POOL47_DESCRIPTION
    except DataNotFoundError as missing:
        if data_dir is not None and not Path(data_dir).is_dir():
            raise
        arrays, manifest = from_pack("pool47", missing)
        x, y, part = arrays["images"], arrays["labels"].astype(np.int64), arrays["part"]
        sources, source = [str(pack.pack_file("pool47"))], pack.describe(manifest, "pool47")
        description = POOL47_DESCRIPTION + PACK_NOTE.format(**manifest["contents"]["pool47"])
    tr, va, te = (np.flatnonzero(np.asarray(part) == i) for i in range(3))
    return Dataset(
        "pool47", label_map("bymerge"), x[tr], y[tr], x[va], y[va], x[te], y[te], description, sources, source
    )


def load_dataset(name: str = "pool47", data_dir=None, unipen_dir=None) -> Dataset:
    """A named dataset with its fixed partition (see module doc)."""
    if name == "pool47":
        return pool47_dataset(data_dir)
    if name == "unipen":
        return unipen_dataset(unipen_dir)
    if name in ("pool47+unipen", "pool47+unipen-balanced"):
        return combined_dataset(data_dir, unipen_dir, balanced=name.endswith("-balanced"))
    if name not in SPLITS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    try:
        found = [*find_files(name, "train", data_dir), *find_files(name, "test", data_dir)]
    except DataNotFoundError as exc:
        if not getattr(exc, "missing", None):
            raise
        raise not_found([name], "both", exc.missing[2]) from None  # the one command fetches both parts
    sources = [str(p) for p in found if p]
    x_train, y_train = load_split(name, "train", data_dir)
    x_test, y_test = load_split(name, "test", data_dir)
    tr, va = partition(x_train, y_train, (1 - OFFICIAL_VALIDATION, OFFICIAL_VALIDATION))
    return Dataset(
        name,
        label_map(name),
        x_train[tr],
        y_train[tr],
        x_train[va],
        y_train[va],
        x_test,
        y_test,
        f"Official EMNIST {name} train/test; validation is a stratified 10% of train keyed on image content.",
        sources,
        f"full EMNIST files in {', '.join(dict.fromkeys(str(Path(s).parent) for s in sources))}",
    )


def combined_dataset(data_dir=None, unipen_dir=None, balanced: bool = False) -> Dataset:
    pool, drawn = load_dataset("pool47", data_dir), unipen_dataset(unipen_dir)
    picks = (
        balanced_draw(drawn.y_train, UNIPEN_COPIES * len(drawn.y_train))
        if balanced
        else np.tile(np.arange(len(drawn.y_train)), UNIPEN_COPIES)
    )
    name = "pool47+unipen-balanced" if balanced else "pool47+unipen"
    how = "class-balanced draws of unipen train" if balanced else "unipen train"
    return Dataset(
        name,
        pool.label_map,
        np.concatenate([pool.x_train, drawn.x_train[picks]]),
        np.concatenate([pool.y_train, drawn.y_train[picks]]),
        np.concatenate([pool.x_val, drawn.x_val]),
        np.concatenate([pool.y_val, drawn.y_val]),
        pool.x_test,
        pool.y_test,
        f"pool47 train + {how} (x{UNIPEN_COPIES}) for training, pool47 + unipen validation; test is pool47 "
        "test (drawn test figures: the unipen dataset's test part). " + drawn.description,
        pool.sources + drawn.sources,
        f"{pool.source}; {drawn.source}",
    )
