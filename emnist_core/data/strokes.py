"""Drawings as pen strokes, as the page's pad records them and as Quick, Draw! publishes them.

The pad sends each stroke as ``[xs, ys, ts]``: x and y in pad pixels (``sketchpad.CANVAS``, y down), t in
milliseconds since the drawing's first point, one entry per point (Quick, Draw!'s raw layout). ``checked`` checks
and rounds them for keeping; ``simplified`` gives Quick, Draw!'s *simplified* layout (aligned to the top-left corner,
scaled so the longest side spans 0-255, resampled at 1 pixel and simplified with Ramer-Douglas-Peucker at epsilon
2.0, as the published dataset was; Douglas-Peucker is shapely's), and ``ndjson_line`` one line of its
newline-delimited JSON.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np

from emnist_core.data.sketchpad import CANVAS

MAX_STROKES = 60
MAX_POINTS = 4000  # in all of a drawing's strokes: a character drawn slowly is a few hundred
SIMPLIFIED_SIDE = 255
RESAMPLE_SPACING = 1.0
RDP_EPSILON = 2.0
TAKES = (
    'Strokes are sent as {"strokes": [[xs, ys], ...]} or {"strokes": [[xs, ys, ts], ...]}: per stroke, its x and '
    f"y in pad pixels (0-{CANVAS}, y down) and optionally the milliseconds since the first point; at most "
    f"{MAX_STROKES} strokes and {MAX_POINTS} points."
)


class Strokes(list):
    """Checked strokes (``checked``): a list, marked so that a drawing's strokes are never taken for an image's rows."""


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def checked(strokes) -> Strokes:
    """Strokes as sent (``[[xs, ys], ...]`` or ``[[xs, ys, ts], ...]``) -> the same, checked, x and y clamped to the
    pad and rounded to a tenth of a pixel, t to a millisecond (0 where none was sent); ValueError (``TAKES``) for
    anything else."""
    if not isinstance(strokes, list) or len(strokes) > MAX_STROKES:
        raise ValueError(TAKES)
    found, points = Strokes(), 0
    for stroke in strokes:
        if not isinstance(stroke, (list, tuple)) or len(stroke) not in (2, 3):
            raise ValueError(TAKES)
        xs, ys = stroke[0], stroke[1]
        ts = stroke[2] if len(stroke) == 3 else [0] * len(xs) if isinstance(xs, list) else None
        if not all(isinstance(v, list) for v in (xs, ys, ts)) or not xs or not len(xs) == len(ys) == len(ts):
            raise ValueError(TAKES)
        points += len(xs)
        if points > MAX_POINTS or not all(_number(v) for v in (*xs, *ys, *ts)):
            raise ValueError(TAKES)
        clamp = lambda v: round(min(CANVAS, max(0.0, float(v))), 1)
        found.append([[clamp(v) for v in xs], [clamp(v) for v in ys], [round(float(v)) for v in ts]])
    return found


def points(strokes) -> list[np.ndarray]:
    """Checked strokes -> each stroke's (n, 2) float array of x, y: what ``sketchpad.draw_strokes`` draws."""
    return [np.column_stack(stroke[:2]).astype(np.float64) for stroke in strokes]


def simplified(strokes) -> list[list[list[int]]]:
    """Checked strokes -> Quick, Draw!'s simplified drawing: ``[[xs, ys], ...]`` of whole numbers 0-255 (see the
    module doc)."""
    from shapely import LineString

    arrays = points(strokes)
    if not arrays:
        return []
    low = np.min([a.min(axis=0) for a in arrays], axis=0)
    extent = float(np.max([a.max(axis=0) for a in arrays] - low)) or 1.0
    drawing = []
    for a in arrays:
        xy = (a - low) * (SIMPLIFIED_SIDE / extent)
        if len(xy) > 1 and np.ptp(xy, axis=0).max() > 0:
            line = LineString(xy).segmentize(RESAMPLE_SPACING).simplify(RDP_EPSILON, preserve_topology=False)
            xy = np.asarray(line.coords)
        xy = np.clip(np.round(xy[:, :2]), 0, SIMPLIFIED_SIDE).astype(int)
        drawing.append([xy[:, 0].tolist(), xy[:, 1].tolist()])
    return drawing


def ndjson_line(key_id: str, word: str, when: datetime, recognized: bool, strokes) -> str:
    """One drawing as a line of Quick, Draw!'s simplified ndjson: key_id, word, countrycode (none: nothing about a
    person is kept), timestamp, recognized, drawing."""
    record = {
        "key_id": key_id,
        "word": word,
        "countrycode": "",
        "timestamp": when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"),
        "recognized": bool(recognized),
        "drawing": simplified(strokes),
    }
    return json.dumps(record, separators=(",", ":"))
