"""Corrections: "it was ___", told by a person after a prediction, kept to score and fine-tune the models on.

``CorrectionStore().add(x28, "Z", tops)`` keeps the preprocessed 28x28 image the models saw, the class the
person chose, each model's top guesses and a UTC time stamp, as one small JSON file in ``corrections_dir()``
(its record: ``correction_record``).
Nothing about the person or the session is kept: no name, no address, no cookie; the time stamp is what
lets fine-tuning hold out the newest corrections to score on (see ``finetune``).

Each file is written under a hidden temporary name and renamed into place (``cache.atomic_write``), so a
process killed mid-write leaves at most a hidden temporary, which ``load`` ignores and later removes. A
damaged file is skipped with a logged warning. A cap on the count and on the bytes on disk keeps a public
server's folder bounded: past it ``add`` refuses and says to download and clear.

``export_csv`` and ``export_idx`` write every correction in an official EMNIST format (Kaggle CSV, or an IDX
pair) with ByMerge labels, which ``python -m emnist_core evaluate --csv`` / ``--images --labels`` and
``train --extra-csv`` read.

This module does not import Keras: storing a correction stays cheap.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from emnist_core.data import cache, files
from emnist_core.data import strokes as drawn_strokes
from emnist_core.data.labels import label_map
from emnist_core.lab import correction_record as record
from emnist_core.lab.correction_record import CHALLENGE, SPLIT, CorrectionError

MAX_COUNT = 5000
MAX_BYTES = 20 * 2**20  # a correction file is about 1 kB, so the count cap is the one normally met
STALE_TEMP_SECONDS = 3600  # a hidden temporary this old is a killed write's leftover, not one in progress
SUFFIX = ".json"
# What a kept drawing is: a correction ("it was ___") or a challenge drawing (drawn when the Challenge asked for
# its class, labelled by that prompt). A challenge drawing's file says so twice: "source" in its JSON, for anyone
# reading one file, and CHALLENGE_MARK at the end of its name, so counting and picking them reads no file. Files
# without either (every file written before challenges existed) are corrections.
CORRECTION = "correction"  # CHALLENGE: correction_record's
SOURCES = (CORRECTION, CHALLENGE)
CHALLENGE_MARK = f"-{CHALLENGE}"
CSV_NAME = f"emnist-{SPLIT}-corrections.csv"
NDJSON_NAME = "sketch-lab-drawings.ndjson"  # Quick, Draw!'s simplified layout
# The IDX names follow NIST's, so evaluate reads the split from the name.
IDX_NAMES = (f"emnist-{SPLIT}-corrections-images-idx3-ubyte.gz", f"emnist-{SPLIT}-corrections-labels-idx1-ubyte.gz")
# The server's switches (read once, into ``guard.Switches``): the guard's refusal below names them.
DISABLE_TRAINING, ALLOW_CORRECTIONS = "EMNIST_DISABLE_TRAINING", "EMNIST_ALLOW_CORRECTIONS"
COLLECTION_OFF = (
    "This server does not collect corrections: training is turned off here "
    f"({DISABLE_TRAINING}=1). Its owner can allow them with {ALLOW_CORRECTIONS}=1."
)

log = logging.getLogger(__name__)


def corrections_dir() -> Path:
    """Where corrections are kept: ``EMNIST_CORRECTIONS_DIR``, else ``corrections`` in the cache folder."""
    return Path(os.environ.get("EMNIST_CORRECTIONS_DIR") or cache.cache_dir() / "corrections")


@dataclass(frozen=True)
class Corrections:
    """Corrections as arrays, oldest first: what fine-tuning and the exports read."""

    x: np.ndarray  # uint8 (N, 28, 28), upright, white ink on black: what the models saw
    y: np.ndarray  # int64 (N,): ByMerge class indices (the ByMerge files' label numbers)
    times: tuple[datetime, ...]  # UTC
    ids: tuple[str, ...]
    tops: tuple[dict, ...]  # {slot: [[class name, probability], ...]} per correction
    strokes: tuple[list | None, ...] = ()  # per correction, its pen strokes (``strokes.checked``) when it came as such

    def __len__(self) -> int:
        return len(self.y)

    @property
    def names(self) -> list[str]:
        return [label_map(SPLIT).names[c] for c in self.y]

    def take(self, index) -> Corrections:
        index = np.asarray(index, dtype=np.int64)
        pick = lambda seq: tuple(seq[i] for i in index)
        return Corrections(
            self.x[index],
            self.y[index],
            pick(self.times),
            pick(self.ids),
            pick(self.tops),
            pick(self.strokes or (None,) * len(self)),
        )

    def split_by_time(self, holdout: float) -> tuple[Corrections, Corrections]:
        """(older, newest): the newest ``holdout`` share (at least one when the share is above 0) held out."""
        if not 0 <= holdout < 1:
            raise ValueError(f"holdout must be a share in [0, 1), got {holdout}")
        held = min(len(self) - 1, max(1, round(holdout * len(self)))) if holdout > 0 and len(self) > 1 else 0
        order = np.arange(len(self))  # already oldest first
        return self.take(order[: len(self) - held]), self.take(order[len(self) - held :])


def empty_corrections() -> Corrections:
    return Corrections(np.zeros((0, files.SIDE, files.SIDE), np.uint8), np.zeros(0, np.int64), (), (), ())


class CorrectionStore:
    """One JSON file per correction in ``folder`` (default ``corrections_dir()``), at most ``max_count`` of
    them and ``max_bytes`` on disk. Safe to share between threads; every server process may open its own."""

    def __init__(self, folder=None, max_count: int = MAX_COUNT, max_bytes: int = MAX_BYTES):
        self.folder = Path(folder) if folder is not None else corrections_dir()
        self.max_count, self.max_bytes = int(max_count), int(max_bytes)
        self._lock = threading.Lock()  # the cap check and the write are one step for this process's threads
        self._tally = None  # (count, bytes) on disk, once counted (``_usage``)

    # ---------------------------------------------------------------- writing

    def add(
        self,
        x28,
        label: str,
        tops: Mapping | None = None,
        when: datetime | None = None,
        source: str = CORRECTION,
        strokes=None,
    ) -> str:
        """Keep one correction; return its id. ``x28``: the preprocessed image (uint8 28x28, white ink on
        black); ``label``: the class the person chose; ``tops``: {model slot: [(class, probability), ...]};
        ``when``: its time (default now; a naive time is taken as UTC); ``source``: ``CORRECTION`` or
        ``CHALLENGE`` (a challenge drawing, labelled by its prompt); ``strokes``: the pen strokes it was drawn with,
        when it came as strokes (``strokes.checked``' layout), kept to export in Quick, Draw!'s format. Whether this
        server collects them at all is the guard's to say (``guard.COLLECT``), before this is called.
        CorrectionError says why one is refused."""
        if source not in SOURCES:
            raise CorrectionError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        when, text = record.written(x28, label, tops, when, strokes, challenge=source == CHALLENGE)
        # The time first, so names sort by time; random hex, so two at the same instant never collide.
        mark = CHALLENGE_MARK if source == CHALLENGE else ""
        ident = f"{when.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(4)}{mark}"
        with self._lock:
            count, used = self._usage()
            if count + 1 > self.max_count or used + len(text) > self.max_bytes:
                self._tally = None  # look again next time: another process may have cleared the folder
                raise CorrectionError(
                    f"The corrections folder is full ({count} corrections, {used / 2**20:.1f} MB; it keeps at most "
                    f"{self.max_count} and {self.max_bytes / 2**20:.1f} MB). Download the corrections, then clear "
                    "them to collect more."
                )
            self.folder.mkdir(parents=True, exist_ok=True)
            cache.atomic_write(self.folder / f"{ident}{SUFFIX}", lambda tmp: tmp.write_text(text))
            self._tally = (count + 1, used + len(text))
        return ident

    def clear(self) -> int:
        """Remove every correction (and any killed write's leftovers); return how many corrections were removed."""
        with self._lock:
            removed = 0
            for path in self._paths():
                path.unlink(missing_ok=True)
                removed += 1
            self._remove_temporaries(older_than=0)
            self._tally = None
        return removed

    # ---------------------------------------------------------------- reading

    def count(self, source: str | None = None) -> int:
        """How many are kept: all (None), or only corrections (``CORRECTION``) or challenge drawings (``CHALLENGE``)."""
        return len(self._paths(source))

    def ids(self, source: str | None = None) -> tuple[str, ...]:
        """The ids of what ``load(source)`` would read, oldest first, without reading a file."""
        return tuple(path.stem for path in self._paths(source))

    def load(self, source: str | None = None, newest: int | None = None) -> Corrections:
        """Every readable correction and challenge drawing (``source`` None: what fine-tuning trains on), or only
        one ``source``'s, or only the ``newest`` few, oldest first; damaged files are skipped (logged), never
        fatal."""
        self._remove_temporaries(older_than=STALE_TEMP_SECONDS)
        found = []
        for path in self._paths(source)[-newest if newest else None :]:
            try:
                found.append((path.stem, *record.read(path)))
            except (OSError, ValueError, KeyError, TypeError) as exc:  # ValueError covers JSON, base64, PNG, label
                log.warning("correction %s skipped: %s", path.name, exc)
        if not found:
            return empty_corrections()
        found.sort(key=lambda item: (item[1], item[0]))  # by time, then id
        ids, times, images, labels, tops, strokes = zip(*found)
        return Corrections(
            np.stack(images), np.array(labels, np.int64), tuple(times), tuple(ids), tuple(tops), tuple(strokes)
        )

    # ---------------------------------------------------------------- exports

    def export_csv(self, path) -> Path:
        """Every correction as one Kaggle-style EMNIST CSV (ByMerge labels; no header; images stored transposed,
        as EMNIST's are). ``path``: the file, or a folder to write ``CSV_NAME`` in. Returns the file's path."""
        data = self._exportable()
        path = Path(path)
        path = path / CSV_NAME if path.is_dir() else path
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = data.x.transpose(0, 2, 1).reshape(len(data), -1)  # EMNIST files store each image transposed
        rows = np.concatenate([data.y[:, None], pixels.astype(np.int64)], axis=1)
        cache.atomic_write(path, lambda tmp: np.savetxt(tmp, rows, fmt="%d", delimiter=","))
        return path

    def export_ndjson(self, path) -> tuple[Path, int]:
        """Every correction and Challenge drawing that kept its strokes, as Quick, Draw!'s simplified ndjson (one
        JSON object a line: key_id, word, countrycode, timestamp, recognized by the CNN, drawing; see
        ``strokes``). ``path``: the file, or a folder to write ``NDJSON_NAME`` in. -> (the file, how many drawings
        it holds); CorrectionError when none kept its strokes."""
        data = self._exportable()
        drawn = [i for i, s in enumerate(data.strokes) if s]
        if not drawn:
            raise CorrectionError("None of the corrections kept its strokes (they were sent as images).")
        path = Path(path)
        path = path / NDJSON_NAME if path.is_dir() else path
        path.parent.mkdir(parents=True, exist_ok=True)
        names = data.names
        lines = [
            drawn_strokes.ndjson_line(
                data.ids[i], names[i], data.times[i], _read_as(data.tops[i], names[i]), data.strokes[i]
            )
            for i in drawn
        ]
        cache.atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
        return path, len(lines)

    def export_idx(self, folder) -> tuple[Path, Path]:
        """Every correction as an EMNIST IDX pair (gzip, ByMerge labels) in ``folder``: (images path, labels
        path), named ``IDX_NAMES``."""
        data = self._exportable()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        images, labels = (folder / name for name in IDX_NAMES)
        for path, magic, array in (
            (images, files.IMAGE_MAGIC, data.x.transpose(0, 2, 1)),
            (labels, files.LABEL_MAGIC, data.y.astype(np.uint8)),
        ):
            raw = np.array([magic, *array.shape], ">u4").tobytes() + np.ascontiguousarray(array, np.uint8).tobytes()
            cache.atomic_write(path, lambda tmp, raw=raw: tmp.write_bytes(gzip.compress(raw, mtime=0)))
        return images, labels

    # ---------------------------------------------------------------- internals

    def _exportable(self) -> Corrections:
        data = self.load()
        if not len(data):
            raise CorrectionError("There are no corrections to download yet.")
        return data

    def _paths(self, source: str | None = None) -> list[Path]:
        if source not in (None, *SOURCES):
            raise ValueError(f"source must be None or one of {', '.join(SOURCES)}, got {source!r}")
        if not self.folder.is_dir():
            return []
        return sorted(
            p
            for p in self.folder.glob(f"*{SUFFIX}")
            if not p.name.startswith(".")
            and p.is_file()
            and source in (None, CHALLENGE if p.stem.endswith(CHALLENGE_MARK) else CORRECTION)
        )

    def _usage(self) -> tuple[int, int]:
        """(files kept, their bytes): counted from the folder once, then kept up to date by ``add`` and ``clear``,
        so a class's thousandth drawing does not stat a thousand files (under the lock)."""
        if self._tally is not None:
            return self._tally
        sizes = []
        for path in self._paths():
            with contextlib.suppress(FileNotFoundError):  # cleared by another process meanwhile
                sizes.append(path.stat().st_size)
        self._tally = (len(sizes), sum(sizes))
        return self._tally

    def _remove_temporaries(self, older_than: float) -> None:
        """Remove hidden temporaries (``cache.temp_path``) that no write is still making: a killed write's."""
        if not self.folder.is_dir():
            return
        now = time.time()
        for path in self.folder.glob(f".*.tmp*{SUFFIX}"):
            try:
                if now - path.stat().st_mtime >= older_than:
                    path.unlink()
            except FileNotFoundError:
                pass


def _read_as(tops: dict, name: str) -> bool:
    """Whether the CNN (the model that reads drawings best) read a drawing as ``name``: Quick, Draw!'s
    "recognized"."""
    guesses = tops.get("cnn") or []
    return bool(guesses) and guesses[0][0] == name
