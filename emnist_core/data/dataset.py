"""A dataset as the rest of the package uses it (``Dataset``: fixed train, validation and test parts), and what
every named dataset's partition is made with: keys on image content, a stratified split with a seed fixed forever,
class-balanced draws, and the demo data pack as the fallback where the full files are missing (``from_pack``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from emnist_core.data import pack
from emnist_core.data.labels import LabelMap


class DataNotFoundError(FileNotFoundError):
    """No folder or file holds the data asked for; the message says where we looked."""


PARTITION_SEED = 47  # fixed forever: changing it changes every published figure


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


def balanced_draw(y, size: int, seed: int = PARTITION_SEED) -> np.ndarray:
    """``size`` indices into ``y`` drawn so that every class is equally likely, as in the app, where a class
    draws any character: UNIPEN's writers drew far more lower-case l and i than digit 1, so unbalanced, a drawn
    bar is taught as l (class L) or i (class I) three times out of four."""
    from sklearn.utils.class_weight import compute_sample_weight

    weights = compute_sample_weight("balanced", y)
    return np.sort(np.random.default_rng(seed).choice(len(y), size, p=weights / weights.sum()))


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


PACK_NOTE = (
    " From the demo data pack: the whole test part, and class-stratified slices of train and validation "
    "({train:,} and {validation:,} images)."
)


def from_pack(group: str, missing: Exception | None) -> tuple[dict, dict]:
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
