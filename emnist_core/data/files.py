"""Reading EMNIST files: NIST's IDX format (gzip or not) and Kaggle's CSV edition.

Every reader returns images upright as uint8 ``(N, 28, 28)`` (white ink on black, as stored)
and labels as int64 ``(N,)``. Both formats store each image transposed; we undo it here, once.
Problems raise ``DataFileError`` naming the file and what is wrong.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
SIDE = 28  # EMNIST images are SIDE x SIDE pixels
CSV_BLOCK_ROWS = 20_000  # rows read (as int64, 125 MB) and checked at a time: a whole EMNIST CSV would be 4 GB


class DataFileError(ValueError):
    """A dataset file is missing, truncated, corrupt or does not match its partner."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        super().__init__(f"{path}: {problem}")


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(path, "file not found") from None
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            # One zlib call on the whole buffer is several times faster than gzip.open().read().
            d = zlib.decompressobj(wbits=31)
            raw = d.decompress(raw) + d.flush()
        except zlib.error as exc:
            raise DataFileError(path, f"corrupt gzip data ({exc}); download the file again") from None
        if not d.eof:
            raise DataFileError(path, "gzip stream is truncated; download the file again")
    return raw


def _header(path: Path, raw: bytes, magic: int, dims: int) -> tuple[int, ...]:
    need = 4 + 4 * dims
    if len(raw) < need:
        raise DataFileError(path, f"only {len(raw)} bytes, too short for an IDX header")
    header = np.frombuffer(raw, dtype=">u4", count=1 + dims)
    if int(header[0]) != magic:
        kind = "images" if magic == IMAGE_MAGIC else "labels"
        raise DataFileError(path, f"magic number {int(header[0])} is not {magic} (IDX {kind}); is this the right file?")
    return tuple(int(v) for v in header[1:])


def read_idx_images(path) -> np.ndarray:
    """IDX3 images -> upright uint8 ``(N, 28, 28)``."""
    path = Path(path)
    raw = _read_bytes(path)
    n, rows, cols = _header(path, raw, IMAGE_MAGIC, 3)
    if (rows, cols) != (SIDE, SIDE):
        raise DataFileError(path, f"images are {rows}x{cols}, expected 28x28")
    expected = 16 + n * rows * cols
    if len(raw) != expected:
        raise DataFileError(
            path,
            f"header says {n} images ({expected} bytes) but the file has {len(raw)} bytes; "
            "the file is truncated or corrupt",
        )
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, cols, rows)
    return np.ascontiguousarray(images.transpose(0, 2, 1))


def read_idx_labels(path) -> np.ndarray:
    """IDX1 labels -> int64 ``(N,)``."""
    path = Path(path)
    raw = _read_bytes(path)
    (n,) = _header(path, raw, LABEL_MAGIC, 1)
    if len(raw) != 8 + n:
        raise DataFileError(
            path, f"header says {n} labels but the file has {len(raw) - 8}; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


def _uint8_block(values: np.ndarray) -> np.ndarray:
    if values.size and (values.min() < 0 or values.max() > 255):
        bad = values[(values < 0) | (values > 255)][0]
        raise ValueError(f"value {bad} is outside 0-255")
    return values.astype(np.uint8)


def read_csv(path) -> tuple[np.ndarray, np.ndarray]:
    """Kaggle CSV (label then 784 pixels per row, no header) -> (images, labels)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataFileError(path, "file not found")
    try:
        # Read as int64 a block at a time and checked, then kept as uint8: pandas casts 300 to 44 and -1 to 255
        # without a word when asked for uint8 directly.
        blocks = [
            _uint8_block(block.to_numpy())
            for block in pd.read_csv(path, header=None, dtype=np.int64, engine="c", chunksize=CSV_BLOCK_ROWS)
        ]
    except pd.errors.EmptyDataError:
        raise DataFileError(path, "file is empty") from None
    except (ValueError, OverflowError) as exc:  # a header row, a short or long row, 300, -1, 0.5, binary ...
        # pandas' messages can span lines; the first one says what is wrong.
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:100]
        raise DataFileError(
            path,
            f"not an EMNIST CSV: every row must be 785 integers 0-255, label then 784 pixels, no header ({detail})",
        ) from None
    values = np.concatenate(blocks)
    if values.shape[1] != 1 + SIDE * SIDE:
        raise DataFileError(
            path, f"rows have {values.shape[1]} columns, expected 785 (label then 784 pixels, no header)"
        )
    images = values[:, 1:].reshape(-1, SIDE, SIDE).transpose(0, 2, 1)
    return np.ascontiguousarray(images), values[:, 0].astype(np.int64)


def check_pair(images: np.ndarray, labels: np.ndarray, label_map, images_path, labels_path=None) -> None:
    """Counts agree and every label is a class of ``label_map``."""
    if len(images) != len(labels):
        raise DataFileError(
            labels_path or images_path,
            f"{len(labels)} labels for {len(images)} images; the two files do not belong together",
        )
    if len(labels) and (labels.min() < label_map.min_label or labels.max() > label_map.max_label):
        bad = labels[(labels < label_map.min_label) | (labels > label_map.max_label)][0]
        raise DataFileError(
            labels_path or images_path,
            f"label {int(bad)} is outside {label_map.min_label}-{label_map.max_label} of EMNIST "
            f"{label_map.split}; is this the right split?",
        )
