"""``unipen``: characters drawn with a pen, as the app's sketchpad draws them.

UNIPEN sections 1a/1b/1c, labels merged into the 47 ByMerge classes; samples marked BAD, empty marks, repeated
recordings and single straight strokes labelled as a class a line cannot be (such as H or T) are left out. Each
character is rendered with the app's sketchpad brush (``sketchpad.render_strokes``) and sent through ``preprocess``.
Partitioned 80/10/10 **by writer** (writers who share recordings count as one), keyed on a hash of the writer's name,
so the split is the same on every machine and in any reading order. Where the UNIPEN files are not found, the
characters come from the demo data pack (``pack``), which holds the same test part drawn the same way.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from emnist_core.data import cache, pack
from emnist_core.data.dataset import PACK_NOTE, PARTITION_SEED, Dataset, from_pack
from emnist_core.data.labels import label_map

UNIPEN_FRACTIONS = (0.8, 0.1, 0.1)  # of writers: train, validation, test
# Bump when the drawn characters change (the renderer, the preprocessing or which characters are kept), so cached
# drawn images are made again. 4: single straight strokes labelled as a class a line cannot be are left out.
UNIPEN_RENDER_VERSION = 4
# Two writer ids that share this many identical recordings are one person (ibm's r01-04 and r02-04
# share over 100); one or two shared trivial strokes (a dot, a short bar) are chance.
SAME_WRITER_MIN_SHARED = 10
UNIPEN_SECTIONS = {"1a": "digits", "1b": "upper", "1c": "lower"}
SECTION_NAMES = np.array(list(UNIPEN_SECTIONS.values()))  # by the section column of the unipen arrays
# A single straight stroke can be a 1, an I (or an i without its dot) or an L's lower-case l, and no other class.
LINE_CLASSES = ("1", "I", "L")
# A stroke is straight when no point strays from the line between its ends by more than this share of its extent.
STRAIGHT_TOLERANCE = 0.08


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
    meta = np.array(
        [
            [
                unipen.bymerge_class(s.label),
                list(UNIPEN_SECTIONS).index(s.section),
                part[group[s.writer]],
                groups.index(group[s.writer]),
            ]
            for s in samples
        ],
        np.int32,
    )
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

    x, meta = cache.cached_arrays(
        unipen_files(root), "unipen", build, root=root, version=f"render {UNIPEN_RENDER_VERSION}"
    )
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
    arrays, manifest = from_pack("unipen", missing)
    contents = manifest["contents"]["unipen"]
    npz = pack.pack_file("unipen")
    if contents.get("render_version") != UNIPEN_RENDER_VERSION:  # not the drawings this code would make
        raise pack.PackError(
            npz,
            f"its drawn characters were rendered by version {contents.get('render_version')}"
            f" of the renderer; this code draws version {UNIPEN_RENDER_VERSION}",
        )
    return (
        arrays["images"],
        arrays["meta"],
        [str(npz)],
        pack.describe(manifest, "unipen"),
        UNIPEN_DESCRIPTION + PACK_NOTE.format(**contents),
    )


def unipen_dataset(unipen_dir=None, pack_only: bool = False) -> Dataset:
    """The ``unipen`` dataset, its test images' sections with it; ``pack_only``: from the demo data pack even where
    the UNIPEN files are (it holds the same test part, drawn the same way, in a fraction of a second)."""
    x, meta, sources, source, description = drawn_arrays(unipen_dir, pack_only)
    y, part = meta[:, 0].astype(np.int64), meta[:, 2]
    tr, va, te = (np.flatnonzero(part == i) for i in range(3))
    return Dataset(
        "unipen",
        label_map("bymerge"),
        x[tr],
        y[tr],
        x[va],
        y[va],
        x[te],
        y[te],
        description,
        sources,
        source,
        SECTION_NAMES[meta[te, 1]],
    )


def drawn_test(data: Dataset, unipen_dir=None):
    """The drawn-input test set that a model trained on ``data`` is also scored on: (images, classes, sections)
    of the unipen test part when ``data`` includes unipen, else None."""
    if "unipen" not in data.name:
        return None
    drawn = data if data.name == "unipen" else unipen_dataset(unipen_dir)
    return drawn.x_test, drawn.labels_as_classes(drawn.y_test), drawn.test_sections
