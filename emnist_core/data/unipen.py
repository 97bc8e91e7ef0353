"""Read UNIPEN 1.0 pen data: isolated characters as people draw them, stroke by stroke.

EMNIST is scanned ink; the app's input is drawn ink. UNIPEN (``train_r01_v07``, International Unipen
Foundation 1999) records real handwriting as pen strokes, so rendered the way the sketchpad draws it,
it is training and evaluation data for exactly what the app sees. Sections ``1a``, ``1b`` and ``1c``
hold isolated digits, upper-case and lower-case letters.

The text format is read by ``unipen_format`` (``parse_file``).

**The y axis points up** (tablet coordinates). Strokes keep the file's coordinates unchanged, so
anything drawing them on a canvas (y down) must flip y, or every character comes out upside down.
Resolution and sampling rate differ between contributors (``x_points_per_inch`` and
``y_points_per_inch`` may even differ from each other), so a renderer should normalise size itself.

Split by ``writer`` (or contributor), never by sample: the same person's characters on both sides
of a split make drawn-input figures look better than they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from emnist_core.data.cache import PROJECT_ROOT
from emnist_core.data.labels import label_map, merged_name
from emnist_core.data.unipen_format import Reader, Sample

SECTIONS = ("1a", "1b", "1c")  # isolated digits, upper-case letters, lower-case letters
DATA_ENV = "UNIPEN_DATA_DIR"
RELEASE_NAME = "train_r01_v07"


class UnipenNotFoundError(FileNotFoundError):
    """No UNIPEN folder was found; the message says where we looked and how to get the data."""


def bymerge_class(label: str) -> int | None:
    """The EMNIST ByMerge class (0-46) of a UNIPEN label, or None outside the 47 classes.

    Uses the project's merge rule (``labels.merged_name``): the lower-case letters that look like their
    capitals ("o", "s", ...) share their class; the others ("a", "b", ...) have their own.
    """
    name = merged_name(label)
    bymerge = label_map("bymerge")
    return bymerge.index_of(name) if name in bymerge.names else None


def _release_in(folder: Path) -> Path | None:
    """``folder`` itself, or its ``train_r01_v07/``, when it holds ``data/`` and ``include/``."""
    for option in (folder, folder / RELEASE_NAME):
        if (option / "data").is_dir() and (option / "include").is_dir():
            return option
    return None


def find_unipen_dir(unipen_dir=None) -> Path:
    """The UNIPEN release folder (the one holding ``data/`` and ``include/``).

    Looks at, in order: ``unipen_dir`` (CLI ``--unipen-dir``: an explicit choice must be a UNIPEN
    folder, never silently replaced by another), ``$UNIPEN_DATA_DIR``, and
    ``../shared/unipen/train_r01_v07`` beside the project. Each may also name the folder just above
    the release (one holding ``train_r01_v07/``).
    """
    if unipen_dir is not None:
        folder = Path(unipen_dir).expanduser()
        if not folder.is_dir():
            raise UnipenNotFoundError(f"UNIPEN directory {folder} does not exist")
        found = _release_in(folder)
        if found is None:
            raise UnipenNotFoundError(
                f"{folder} is not a UNIPEN folder: it needs data/ and include/ subfolders "
                f"(the layout of the {RELEASE_NAME} release)"
            )
        return found
    env = os.environ.get(DATA_ENV)
    beside = PROJECT_ROOT.parent / "shared" / "unipen" / RELEASE_NAME
    for candidate in (env, beside):
        found = _release_in(Path(candidate).expanduser()) if candidate else None
        if found is not None:
            return found
    raise UnipenNotFoundError(
        f"UNIPEN data not found (looked in: ${DATA_ENV}{f'={env}' if env else ' (not set)'}, {beside}; a UNIPEN "
        "folder holds data/ and include/). Get the parse-friendly patched copy at "
        "https://github.com/GreenCappuccino/train_r01_v07 or the UNIPEN release on Zenodo "
        f"(doi:10.5281/zenodo.1195803), then pass --unipen-dir or set {DATA_ENV}."
    )


def iter_samples(root, sections=SECTIONS) -> Iterator[Sample]:
    """Every character sample under ``root/data/<section>/``, in sorted file order (deterministic)."""
    root = Path(root)
    reader = Reader(root / "include")
    for section in (sections,) if isinstance(sections, str) else sections:
        base = root / "data" / section
        if not base.is_dir():
            raise UnipenNotFoundError(f"UNIPEN section folder {base} not found")
        files = [p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")]
        for path in sorted(files, key=lambda p: p.relative_to(base).parts):
            contributor = path.relative_to(base).parts[0]
            if contributor == path.name:
                continue  # a stray file beside the contributor folders (README, ...): no data
            yield from reader.parse(path, section=section, contributor=contributor, root=root)
