"""The UNIPEN 1.0 text format, as ``unipen`` reads it: one data file (and the files it includes) -> its character
samples.

The text format, as this module reads it:

- Lines starting with ``.`` are keywords; anything else belongs to the keyword above it.
  ``.INCLUDE path`` pulls in another file, relative to the release's ``include/`` folder, and
  includes nest. Unknown keywords are skipped.
- ``.PEN_DOWN`` then lines of ``x y`` (extra columns, such as time, are ignored), then ``.PEN_UP``,
  which may also carry points: the pen moving in the air. Every ``.PEN_DOWN``, and every
  ``.PEN_UP`` that carries points, starts a new *component*, numbered from 0 in file order across
  all included text of one data file. An empty ``.PEN_UP`` only separates.
- ``.SEGMENT CHARACTER <ref> <quality> "<label>"`` is one character. ``<ref>`` is a component
  range: ``5``, ``3-4``, ``7:2-9`` (component 7 from its point 2 to the end of component 9),
  ``3-7:4`` (up to point 4 of component 7, inclusive), ``3:1-3:9``, or a comma list of these.
  Only the pen-down components of the range are ink. ``<quality>`` is ``OK``, ``?`` (not checked
  by hand) or ``BAD``. Other segment kinds (``WORD``, ...) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUALITIES = ("OK", "?", "BAD")
MM_PER_INCH = 25.4

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_PEN_KEYWORDS = (".PEN_DOWN", ".PEN_UP")
_META_KEYWORDS = {  # keyword -> (field, unit factor to points per inch / per second)
    ".WRITER_ID": ("writer_id", None),
    ".X_POINTS_PER_INCH": ("x_points_per_inch", 1.0),
    ".Y_POINTS_PER_INCH": ("y_points_per_inch", 1.0),
    ".X_POINTS_PER_MM": ("x_points_per_inch", MM_PER_INCH),
    ".Y_POINTS_PER_MM": ("y_points_per_inch", MM_PER_INCH),
    ".POINTS_PER_SECOND": ("points_per_second", 1.0),
}
_META_FIELDS = ("writer_id", "x_points_per_inch", "y_points_per_inch", "points_per_second")
# One range of a segment reference: component[:point][-component[:point]].
_RANGE = re.compile(r"(\d+)(?::(\d+))?(?:-(\d+)(?::(\d+))?)?")
# Item kinds of a parsed file, in file order.
_PEN, _META, _INCLUDE, _SEGMENT = range(4)


class UnipenFormatError(ValueError):
    """A UNIPEN file breaks the format; the message is ``"<path>:<line>: <problem>"``."""

    def __init__(self, path, line: int, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        super().__init__(f"{path}:{line}: {problem}")


@dataclass(frozen=True, eq=False)  # eq=False: numpy strokes have no single truth value
class Sample:
    """One hand-drawn character.

    ``strokes`` are the pen-down traces in drawing order, each a read-only float32 ``(n, 2)`` array
    of x, y in the file's tablet units, **y pointing up** (flip it to draw on a canvas). Read-only
    because neighbouring characters may share one recorded stroke.
    """

    label: str  # as written: "a", "A", "7"
    strokes: tuple  # of np.ndarray (n, 2) float32, x then y (y up), pen-down only
    quality: str  # "OK", "?" (not checked by hand) or "BAD"
    writer: str  # "<contributor>/<writer id>", or "<contributor>/file:<data file>" when unnamed
    contributor: str
    section: str  # "1a", "1b" or "1c"
    source: str  # "<data file relative to root>:<line of the .SEGMENT>"
    x_points_per_inch: float | None = None  # tablet resolution; x and y may differ
    y_points_per_inch: float | None = None
    points_per_second: float | None = None


def _points(tokens: list, path, lines: list, first: int, last: int) -> np.ndarray:
    """One pen block's collected ``x``, ``y`` strings as a read-only float32 ``(n, 2)`` array.

    numpy converts the whole block in one call (per-token ``int()`` would dominate the parse time);
    integers are the format's rule, decimals are accepted, anything else is located line by line.
    """
    try:
        points = np.array(tokens, dtype=np.int32).astype(np.float32)
    except (ValueError, OverflowError):
        points = np.array([_number(t, path, lines, first, last) for t in tokens], dtype=np.float32)
    points = points.reshape(-1, 2)
    points.flags.writeable = False
    return points


def _number(token: str, path, lines: list, first: int, last: int) -> float:
    """A finite decimal number; otherwise an error naming the block line that holds ``token``."""
    try:
        value = float(token)
    except ValueError:
        value = float("nan")
    if abs(value) <= _FLOAT32_MAX:  # False for nan
        return value
    for line_no in range(first, last + 1):
        if token in lines[line_no - 1].split()[:2]:
            break
    raise UnipenFormatError(path, line_no, f"expected a point 'x y', got {lines[line_no - 1].strip()!r}")


def _read_items(path: Path) -> list:
    """One file's pen components, metadata, includes and segments, in file order (not resolved)."""
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    items = []
    block = None  # the open pen block's coordinate strings: x0, y0, x1, y1, ...
    down, start = False, 0

    def close(end: int) -> None:
        if block or down:  # an empty .PEN_UP only separates; it is no component
            items.append((_PEN, down, _points(block, path, lines, start + 1, end)))

    for line_no, line in enumerate(lines, 1):
        if line[:1] == ".":
            if block is not None:
                close(line_no - 1)
                block = None
            keyword, *arg = line.split(None, 1)
            arg = arg[0].strip() if arg else ""
            if keyword in _PEN_KEYWORDS:
                block, down, start = [], keyword == ".PEN_DOWN", line_no
            elif keyword == ".SEGMENT":
                items.append((_SEGMENT, _parse_segment(arg, path, line_no), line_no))
            elif keyword == ".INCLUDE":
                items.append((_INCLUDE, arg, line_no))
            elif keyword in _META_KEYWORDS:
                items.append((_META, *_parse_meta(keyword, arg, path, line_no)))
        elif block is not None:
            parts = line.split()
            if len(parts) >= 2:
                block += parts[:2]
            elif parts:
                raise UnipenFormatError(path, line_no, f"expected a point 'x y', got {line.strip()!r}")
    if block is not None:
        close(len(lines))
    return items


def _parse_meta(keyword: str, arg: str, path, line_no: int) -> tuple:
    field, factor = _META_KEYWORDS[keyword]
    if factor is None:
        return field, arg or None
    try:
        return field, float(arg.split()[0]) * factor
    except (ValueError, IndexError):
        raise UnipenFormatError(path, line_no, f"{keyword} needs a number, got {arg!r}") from None


def _parse_segment(arg: str, path, line_no: int):
    """``(ranges, quality, label)`` of a CHARACTER segment; None for other kinds (ignored)."""
    head, quote, rest = arg.partition('"')
    words = head.split()
    if not words or words[0] != "CHARACTER":
        return None
    label_text = (quote + rest).strip()
    if len(label_text) < 2 or not label_text.endswith('"'):
        raise UnipenFormatError(path, line_no, f'the label must be in double quotes, like "a": got {arg!r}')
    if len(words) != 3:
        raise UnipenFormatError(path, line_no, f'expected .SEGMENT CHARACTER <ref> <quality> "<label>", got {arg!r}')
    ref, quality = words[1], words[2]
    if quality not in QUALITIES:
        raise UnipenFormatError(path, line_no, f"quality must be one of {' '.join(QUALITIES)}, got {quality!r}")
    ranges = []
    for part in ref.split(","):
        m = _RANGE.fullmatch(part)
        if m is None:
            raise UnipenFormatError(
                path,
                line_no,
                f"malformed component reference {ref!r} (expected forms like "
                "5, 3-4, 7:2-9, 3-7:4 or a comma list of them)",
            )
        c0, p0, c1, p1 = (None if g is None else int(g) for g in m.groups())
        if c1 is None:  # "5" is all of component 5; "5:3" is its point 3
            c1, p1 = c0, p0
        if c1 < c0 or (c1 == c0 and p0 is not None and p1 is not None and p1 < p0):
            raise UnipenFormatError(path, line_no, f"component reference {part!r} runs backwards")
        ranges.append((c0, p0, c1, p1))
    return tuple(ranges), quality, label_text[1:-1]


class Reader:
    """Reads data files, keeping header includes (no pen data) parsed for the next data file."""

    def __init__(self, include_dir):
        self.include_dir = Path(include_dir)
        self.cache: dict[Path, list] = {}

    def items(self, path: Path) -> list:
        key = path.resolve()
        if key in self.cache:
            return self.cache[key]
        items = _read_items(path)
        if not any(item[0] == _PEN for item in items):
            # Headers (documentation, lexicons) are pulled in by up to a thousand data files each:
            # keep them parsed. Pen-data includes are pulled in at most once per section, and holding
            # them all would cost ~100 MB to save a few seconds.
            self.cache[key] = items
        return items

    def parse(self, path, *, section: str, contributor: str, root=None) -> list[Sample]:
        path = Path(path)
        anonymous = _anonymous_writer(path, section, contributor, root)
        names = {}  # file -> its name in Sample.source (resolving paths is slow: once per file)
        components = []  # (pen down?, points, metadata in force)
        segments = []  # (file, segment, line)
        meta = dict.fromkeys(_META_FIELDS)
        state = tuple(meta.values())

        def walk(file: Path, items: list, stack: tuple) -> None:
            nonlocal state
            for item in items:
                kind = item[0]
                if kind == _PEN:
                    components.append((item[1], item[2], state))
                elif kind == _META:
                    meta[item[1]] = item[2]
                    state = tuple(meta.values())
                elif kind == _INCLUDE:
                    target = self.include_dir / item[1]
                    if not item[1] or not target.is_file():
                        raise UnipenFormatError(file, item[2], f"included file {target} not found")
                    key = target.resolve()
                    if key in stack:
                        chain = " -> ".join(str(p) for p in (*stack[stack.index(key) :], key))
                        raise UnipenFormatError(file, item[2], f"include cycle: {chain}")
                    walk(target, self.items(target), (*stack, key))
                elif item[1] is not None:  # a CHARACTER segment
                    segments.append((file, *item[1:]))

        walk(path, _read_items(path), (path.resolve(),))
        samples = []
        for file, (ranges, quality, label), line_no in segments:
            strokes, first = _resolve(ranges, components, file, line_no)
            if not strokes:
                raise UnipenFormatError(file, line_no, "the segment holds no pen-down points")
            writer_id, x_ppi, y_ppi, pps = first
            if file not in names:
                names[file] = _name(file, root)
            samples.append(
                Sample(
                    label=label,
                    strokes=tuple(strokes),
                    quality=quality,
                    writer=f"{contributor}/{writer_id}" if writer_id else anonymous,
                    contributor=contributor,
                    section=section,
                    source=f"{names[file]}:{line_no}",
                    x_points_per_inch=x_ppi,
                    y_points_per_inch=y_ppi,
                    points_per_second=pps,
                )
            )
        return samples


def _name(path: Path, root) -> str:
    """``path`` relative to the release folder when it is inside it, for ``Sample.source``."""
    if root is not None:
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def _anonymous_writer(path: Path, section: str, contributor: str, root) -> str:
    """The writer key of a file with no .WRITER_ID: its path inside ``data/<section>/<contributor>/``."""
    path = path.resolve()
    if root is not None:
        folder = Path(root).resolve() / "data" / section / contributor
    else:
        folder = next((p for p in path.parents if p.name == contributor and p.parent.name == section), path.parent)
    try:
        within = path.relative_to(folder).as_posix()
    except ValueError:
        within = path.name
    return f"{contributor}/file:{within}"


def _resolve(ranges, components, path, line_no) -> tuple[list, tuple | None]:
    """The pen-down point runs a segment's ranges cover, and the metadata of the first."""
    strokes, first = [], None
    count = len(components)
    for c0, p0, c1, p1 in ranges:
        if c1 >= count:
            raise UnipenFormatError(
                path, line_no, f"component {c1} does not exist (the file has {count} components, numbered from 0)"
            )
        for c in range(c0, c1 + 1):
            down, points, meta = components[c]
            lo = p0 if c == c0 and p0 is not None else 0
            hi = p1 + 1 if c == c1 and p1 is not None else len(points)  # point ranges are inclusive
            for point in (p0 if c == c0 else None, p1 if c == c1 else None):
                if point is not None and point >= len(points):
                    raise UnipenFormatError(
                        path, line_no, f"point {point} of component {c} does not exist (it has {len(points)} points)"
                    )
            if down and hi > lo:
                strokes.append(points[lo:hi])
                if first is None:
                    first = meta
    return strokes, first


def parse_file(path, include_dir, *, section: str, contributor: str, root=None) -> list[Sample]:
    """The character samples of one UNIPEN data file, following its includes.

    ``root`` (the release folder) makes ``Sample.source`` relative to it; anonymous writers are
    keyed by the file's path inside ``data/<section>/<contributor>/``, so two files never merge.
    """
    return Reader(include_dir).parse(path, section=section, contributor=contributor, root=root)
