"""Named datasets with fixed train/validation/test partitions.

``pool47``: the union of the official ByMerge and ByClass *test* sets (ByClass labels merged into
the 47 ByMerge classes, exact-duplicate images removed): 216,168 images, partitioned 80/10/10,
stratified by class. The partition is keyed on image content, so it is the same on every machine
and whatever order the files are read in.

``bymerge``, ``balanced``, ``byclass``, ``letters``, ``digits``, ``mnist``: the official train and
test files; validation is a stratified 10% of train, as in the seed report.

``unipen``: characters drawn with a pen (UNIPEN sections 1a/1b/1c, labels merged into the 47
ByMerge classes; samples marked BAD, empty marks, repeated recordings and single straight strokes labelled as
a class a line cannot be, such as H or T, left out), each rendered
with the app's sketchpad brush and sent through ``preprocess``. Partitioned 80/10/10 **by writer**
(writers who share recordings count as one), keyed on a hash of the writer's name, so the split is
the same on every machine and in any reading order.

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

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emnist_core.data import cache, files, pack
from emnist_core.data.cache import PROJECT_ROOT
from emnist_core.data.labels import SPLITS, LabelMap, byclass_to_bymerge, label_map

DATASETS = ("pool47", "unipen", "pool47+unipen", "pool47+unipen-balanced") + SPLITS
POOL_FRACTIONS = (0.8, 0.1, 0.1)
OFFICIAL_VALIDATION = 0.1
PARTITION_SEED = 47  # fixed forever: changing it changes every published figure
UNIPEN_FRACTIONS = (0.8, 0.1, 0.1)  # of writers: train, validation, test
# Bump when the drawn characters change (the renderer, the preprocessing or which characters are kept), so cached
# drawn images are made again. 4: single straight strokes labelled as a class a line cannot be are left out.
UNIPEN_RENDER_VERSION = 4
# Mixing weight of pool47+unipen: each UNIPEN training character appears this many times per epoch
# (each time with its own random warp): at 2, drawn characters are ~43% of the training images.
UNIPEN_COPIES = 2
# Two writer ids that share this many identical recordings are one person (ibm's r01-04 and r02-04
# share over 100); one or two shared trivial strokes (a dot, a short bar) are chance.
SAME_WRITER_MIN_SHARED = 10
UNIPEN_SECTIONS = {"1a": "digits", "1b": "upper", "1c": "lower"}
SECTION_NAMES = np.array(list(UNIPEN_SECTIONS.values()))  # by the section column of the unipen arrays
# A single straight stroke can be a 1, an I (or an i without its dot) or an L's lower-case l, and no other class.
LINE_CLASSES = ("1", "I", "L")
# A stroke is straight when no point strays from the line between its ends by more than this share of its extent.
STRAIGHT_TOLERANCE = 0.08


def balanced_draw(y, size: int, seed: int = PARTITION_SEED) -> np.ndarray:
    """``size`` indices into ``y`` drawn so that every class is equally likely, as in the app, where a class
    draws any character: UNIPEN's writers drew far more lower-case l and i than digit 1, so unbalanced, a drawn
    bar is taught as l (class L) or i (class I) three times out of four."""
    from sklearn.utils.class_weight import compute_sample_weight

    weights = compute_sample_weight("balanced", y)
    return np.sort(np.random.default_rng(seed).choice(len(y), size, p=weights / weights.sum()))


class DataNotFoundError(FileNotFoundError):
    """No folder or file holds the data asked for; the message says where we looked."""


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


def not_found(splits, part: str, searched, also: str = "") -> DataNotFoundError:
    """The missing-data error: what is missing, where we looked, and the one command that fetches it."""
    where = ", ".join(map(str, searched))
    flag = "" if part == "both" else f" --part {part}"
    what = f"{' and '.join(splits)} {'train and test' if part == 'both' else part}"
    error = DataNotFoundError(
        f"EMNIST {what} files not found (looked in {where}{also}). Fetch them with `python -m emnist_core download "
        f"--split {' '.join(splits)}{flag}`, or set EMNIST_DATA_DIR to a folder that has them."
    )
    error.missing = (list(splits), part, list(searched))  # so a caller can say more about where it looked
    return error


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


def content_keys(images: np.ndarray) -> np.ndarray:
    """A stable 64-bit key per image, from its pixels alone."""
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return np.array(
        [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little") for row in flat],
        dtype=np.uint64,
    )


def partition(images: np.ndarray, labels: np.ndarray, fractions, keys=None) -> list[np.ndarray]:
    """Stratified split into index arrays, one per fraction, keyed on image content.

    Ordering by content key before scikit-learn's stratified split makes the result independent
    of load order; a fixed ``random_state`` makes it the same on every machine.
    """
    from sklearn.model_selection import train_test_split

    order = np.argsort(content_keys(images) if keys is None else keys, kind="stable")
    remaining, parts, left = order, [], 1.0
    for frac in fractions[:-1]:
        take, remaining = train_test_split(
            remaining, train_size=frac / left, stratify=labels[remaining], random_state=PARTITION_SEED
        )
        parts.append(np.sort(take))
        left -= frac
    parts.append(np.sort(remaining))
    return parts


@dataclass
class Dataset:
    name: str
    label_map: LabelMap
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    description: str
    sources: list[str] = field(default_factory=list)
    source: str = ""  # which data, in words: "full EMNIST files in DIR", "the demo data pack (N training images; ...)"
    test_sections: np.ndarray | None = None  # drawn data: each test image's section ("digits", "upper", "lower")

    @property
    def num_classes(self) -> int:
        return self.label_map.num_classes

    def counts(self) -> dict:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}

    def labels_as_classes(self, y: np.ndarray) -> np.ndarray:
        """File labels -> 0-based class indices (only letters starts at 1)."""
        return np.asarray(y) - self.label_map.min_label


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
        tr, va, te = partition(x, y, POOL_FRACTIONS, content)
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
PACK_NOTE = (" From the demo data pack: the whole test part, and class-stratified slices of train and validation "
             "({train:,} and {validation:,} images).")


def pool47_dataset(data_dir=None) -> Dataset:
    """pool47 from the full files when they are found, else from the demo data pack (see module doc)."""
    try:
        x, y, part, sources = pool47_arrays(data_dir)
        folders = ", ".join(dict.fromkeys(str(Path(s).parent) for s in sources))
        source, description = f"full EMNIST files in {folders}", POOL47_DESCRIPTION
    except DataNotFoundError as missing:
        if data_dir is not None and not Path(data_dir).is_dir():
            raise
        arrays, manifest = _from_pack("pool47", missing)
        x, y, part = arrays["images"], arrays["labels"].astype(np.int64), arrays["part"]
        sources, source = [str(pack.pack_file("pool47"))], pack.describe(manifest, "pool47")
        description = POOL47_DESCRIPTION + PACK_NOTE.format(**manifest["contents"]["pool47"])
    tr, va, te = (np.flatnonzero(np.asarray(part) == i) for i in range(3))
    return Dataset("pool47", label_map("bymerge"), x[tr], y[tr], x[va], y[va], x[te], y[te], description, sources,
                   source)


def _from_pack(group: str, missing: Exception | None) -> tuple[dict, dict]:
    """The pack's ``group``; where there is no pack, the error that the full files were ``missing`` (if they
    were looked for), with the pack named among the places looked in."""
    try:
        return pack.load(group)
    except FileNotFoundError:
        if missing is None:
            raise
        if getattr(missing, "missing", None):
            raise not_found(*missing.missing, also=f"; no demo data pack in {pack.PACK_DIR}") from None
        raise type(missing)(f"{missing} No demo data pack in {pack.PACK_DIR} either.") from None


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
        name, label_map(name), x_train[tr], y_train[tr], x_train[va], y_train[va], x_test, y_test,
        f"Official EMNIST {name} train/test; validation is a stratified 10% of train keyed on image content.",
        sources, f"full EMNIST files in {', '.join(dict.fromkeys(str(Path(s).parent) for s in sources))}",
    )


def unipen_index(parsed) -> tuple[list, list[int], np.ndarray]:
    """UNIPEN's usable characters among ``parsed`` (``unipen.iter_samples``' samples), partitioned but not drawn:
    (each character's strokes, its drawing seed, int32 (N, 4) columns: class, section 0/1/2, part 0/1/2 for
    train/validation/test, writer group). Parsing takes a few seconds; drawing them is what takes a minute."""
    from emnist_core.data import unipen

    samples, strokes, kept, first_writer, shared = [], [], set(), {}, {}
    line_classes = {unipen.bymerge_class(c) for c in LINE_CLASSES}
    for sample in parsed:
        square = _square_pixels(sample)
        key = _strokes_key(square)
        other = first_writer.setdefault(key, sample.writer)
        if other != sample.writer:  # the same recording under another writer id
            pair = tuple(sorted((other, sample.writer)))
            shared[pair] = shared.get(pair, 0) + 1
        if sample.quality == "BAD" or unipen.bymerge_class(sample.label) is None:
            continue
        if np.ptp(np.concatenate(square), axis=0).max() == 0:
            continue  # a dot or a placeholder at (0, 0): no character to read
        if unipen.bymerge_class(sample.label) not in line_classes and is_straight_line(square):
            continue  # an H, T or 4 that is one line: a segment holding one stroke of its character
        if key in kept:
            continue  # the same recording filed twice (under one writer or two): keep the first
        kept.add(key)
        samples.append(sample)
        strokes.append(square)
    group = _writer_groups(shared, samples)
    groups = sorted(set(group.values()))
    part = {g: _unipen_part(g) for g in groups}
    meta = np.array([[unipen.bymerge_class(s.label), list(UNIPEN_SECTIONS).index(s.section),
                      part[group[s.writer]], groups.index(group[s.writer])] for s in samples], np.int32)
    return strokes, [_key(s.source) for s in samples], meta


def unipen_arrays(unipen_dir=None) -> tuple[np.ndarray, np.ndarray, Path]:
    """Every usable UNIPEN character rendered and preprocessed: uint8 (N, 28, 28) and the int32 (N, 4) columns of
    ``unipen_index``; cached."""
    from emnist_core.data import unipen

    root = unipen.find_unipen_dir(unipen_dir)
    sections = [s for s in UNIPEN_SECTIONS if (root / "data" / s).is_dir()]  # a copy may hold only some

    def build():
        strokes, seeds, meta = unipen_index(unipen.iter_samples(root, sections))
        return render_drawn(strokes, seeds), meta

    x, meta = cache.cached_arrays(unipen_files(root), "unipen", build, root=root,
                                  version=f"render {UNIPEN_RENDER_VERSION}")
    return x, meta, root


def unipen_files(root: Path) -> list[Path]:
    """The files of a UNIPEN release that the unipen dataset is made from."""
    return sorted(p for sub in ("data", "include") for p in (root / sub).rglob("*") if p.is_file())


def is_straight_line(strokes) -> bool:
    """One stroke that runs from end to end without bending away from the line between its ends: what a 1, an I
    or an l can be drawn as. UNIPEN has a few hundred such strokes labelled H, T, K, X, 4 ... (segments that hold
    only one stroke of a character); no drawing could be read as those labels, so they are left out."""
    if len(strokes) != 1:
        return False
    points = np.asarray(strokes[0], dtype=float)
    extent = np.ptp(points, axis=0).max()
    start, end = points[0], points[-1]
    length = np.linalg.norm(end - start)
    if extent == 0 or length < 0.5 * extent:  # a dot; out and back, or a loop
        return False
    across = np.array([start[1] - end[1], end[0] - start[0]]) / length  # unit normal to the line between the ends
    return bool(np.abs((points - start) @ across).max() < STRAIGHT_TOLERANCE * extent)


def _square_pixels(sample) -> list:
    """Strokes with y rescaled to x's resolution: some tablets sample the two axes differently."""
    x_ppi, y_ppi = sample.x_points_per_inch, sample.y_points_per_inch
    if not (x_ppi and y_ppi) or x_ppi == y_ppi:
        return list(sample.strokes)
    return [s * np.array([1.0, x_ppi / y_ppi], np.float32) for s in sample.strokes]


def _strokes_key(strokes) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for s in strokes:
        h.update(np.ascontiguousarray(s, np.float32).tobytes() + b"|")
    return h.digest()


def _writer_groups(shared: dict, kept) -> dict:
    """Writer -> the group it is partitioned with. ``shared``: (writer, writer) -> identical recordings they
    share. Writers with many (the same person under two ids, as ibm's r01-04 and r02-04) are one group,
    so no person crosses the split."""
    parent = {}

    def find(w):
        parent.setdefault(w, w)
        while parent[w] != w:
            parent[w] = parent[parent[w]]
            w = parent[w]
        return w

    for (a, b), count in sorted(shared.items()):
        a, b = find(a), find(b)
        if count >= SAME_WRITER_MIN_SHARED and a != b:
            parent[max(a, b)] = min(a, b)
    return {s.writer: find(s.writer) for s in kept}


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _unipen_part(writer: str) -> int:
    """0/1/2 (train/validation/test) for a writer, from a hash of the name: stable everywhere."""
    u = _key(f"{PARTITION_SEED}:{writer}") / 2**64
    return int(u >= UNIPEN_FRACTIONS[0]) + int(u >= UNIPEN_FRACTIONS[0] + UNIPEN_FRACTIONS[1])


def render_drawn(strokes: list, seeds: list[int], workers: int | None = None) -> np.ndarray:
    """Pen strokes -> the 28x28 images the models see, drawn on the app's sketchpad and preprocessed.

    Each character's size, place and pen width come from its own seed, so the result does not
    depend on order or on how the work is shared between processes (one per core).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = 2000
    jobs = [(strokes[i : i + chunk], seeds[i : i + chunk]) for i in range(0, len(strokes), chunk)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        parts = [_render_chunk(job) for job in jobs]
    else:
        # spawn, not fork: a forked TensorFlow process can hang in its worker threads.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_render_chunk, jobs))
    return np.concatenate(parts) if parts else np.zeros((0, 28, 28), np.uint8)


def _render_chunk(job) -> np.ndarray:
    from emnist_core.data.preprocess import preprocess
    from emnist_core.data.sketchpad import render_strokes

    strokes, seeds = job
    return np.stack([preprocess(render_strokes(s, np.random.default_rng(seed))) for s, seed in zip(strokes, seeds)])


UNIPEN_DESCRIPTION = (
    "UNIPEN train_r01_v07 sections 1a/1b/1c (pen-drawn isolated characters), labels merged into the 47 ByMerge "
    "classes, BAD samples and single straight strokes labelled other than 1, I or L left out, each rendered with "
    "the app's sketchpad brush at a random size, place and pen width and preprocessed like a browser drawing; "
    "partitioned 80/10/10 by writer (hash of the writer's name, "
    f"seed {PARTITION_SEED})."
)


def drawn_arrays(unipen_dir=None, pack_only: bool = False) -> tuple[np.ndarray, np.ndarray, list[str], str, str]:
    """unipen's images and (N, 4) columns (see ``unipen_index``) from the UNIPEN files when they are found, else
    (or with ``pack_only``) from the demo data pack, unless ``unipen_dir`` names a folder: (images, columns,
    sources, source, description)."""
    from emnist_core.data.unipen import UnipenNotFoundError

    missing = None
    if not pack_only:
        try:
            x, meta, root = unipen_arrays(unipen_dir)
            return x, meta, [str(root)], f"UNIPEN files in {root}", UNIPEN_DESCRIPTION
        except UnipenNotFoundError as exc:
            if unipen_dir is not None:
                raise
            missing = exc
    arrays, manifest = _from_pack("unipen", missing)
    contents = manifest["contents"]["unipen"]
    npz = pack.pack_file("unipen")
    if contents.get("render_version") != UNIPEN_RENDER_VERSION:  # not the drawings this code would make
        raise pack.PackError(npz, f"its drawn characters were rendered by version {contents.get('render_version')}"
                             f" of the renderer; this code draws version {UNIPEN_RENDER_VERSION}")
    return (arrays["images"], arrays["meta"], [str(npz)], pack.describe(manifest, "unipen"),
            UNIPEN_DESCRIPTION + PACK_NOTE.format(**contents))


def unipen_dataset(unipen_dir=None, pack_only: bool = False) -> Dataset:
    """The ``unipen`` dataset, its test images' sections with it; ``pack_only``: from the demo data pack even where
    the UNIPEN files are (it holds the same test part, drawn the same way, in a fraction of a second)."""
    x, meta, sources, source, description = drawn_arrays(unipen_dir, pack_only)
    y, part = meta[:, 0].astype(np.int64), meta[:, 2]
    tr, va, te = (np.flatnonzero(part == i) for i in range(3))
    return Dataset("unipen", label_map("bymerge"), x[tr], y[tr], x[va], y[va], x[te], y[te], description, sources,
                   source, SECTION_NAMES[meta[te, 1]])


def drawn_test(data: Dataset, unipen_dir=None):
    """The drawn-input test set that a model trained on ``data`` is also scored on: (images, classes, sections)
    of the unipen test part when ``data`` includes unipen, else None."""
    if "unipen" not in data.name:
        return None
    drawn = data if data.name == "unipen" else load_dataset("unipen", unipen_dir=unipen_dir)
    return drawn.x_test, drawn.labels_as_classes(drawn.y_test), drawn.test_sections


def combined_dataset(data_dir=None, unipen_dir=None, balanced: bool = False) -> Dataset:
    pool, drawn = load_dataset("pool47", data_dir), unipen_dataset(unipen_dir)
    picks = (balanced_draw(drawn.y_train, UNIPEN_COPIES * len(drawn.y_train)) if balanced else
             np.tile(np.arange(len(drawn.y_train)), UNIPEN_COPIES))
    name = "pool47+unipen-balanced" if balanced else "pool47+unipen"
    how = "class-balanced draws of unipen train" if balanced else "unipen train"
    return Dataset(
        name, pool.label_map,
        np.concatenate([pool.x_train, drawn.x_train[picks]]), np.concatenate([pool.y_train, drawn.y_train[picks]]),
        np.concatenate([pool.x_val, drawn.x_val]), np.concatenate([pool.y_val, drawn.y_val]),
        pool.x_test, pool.y_test,
        f"pool47 train + {how} (x{UNIPEN_COPIES}) for training, pool47 + unipen validation; test is pool47 "
        "test (drawn test figures: the unipen dataset's test part). " + drawn.description,
        pool.sources + drawn.sources, f"{pool.source}; {drawn.source}",
    )
