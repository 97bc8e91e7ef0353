"""The app's sketchpad, in one place: canvas size, brush, and the one renderer that draws pen strokes with it.

The page's pad (``ui/pad.py``) records pen strokes in ``CANVAS`` pixels and shows them with a brush of
``BRUSH_RADIUS``; the server draws what it is sent with ``draw_strokes``. ``render_strokes`` draws recorded pen
strokes (UNIPEN) with the same round, hard-edged brush on the same canvas, at a random size, place and pen width, so
a drawing and a training sample are made by one renderer. The canvas then goes through the one ``preprocess``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 400  # sketchpad pixels: ample for a 28x28 target, and cheap to send and preprocess per stroke
BRUSH_RADIUS = (
    14  # gr.Brush(default_size=...) is a radius: strokes 28 px wide, as thick relative to a character as NIST's pens
)
INK, PAPER = 0, 255  # the sketchpad's fixed colour (black) on its white composite
# What people do: a finger on a phone fills most of the pad, a mouse draws small, a stylus in between
# (long side of the character as a share of the canvas), and the brush is resized now and then.
CHAR_SIZE = (0.3, 0.9)
PEN_SCALE = (0.6, 1.5)  # pen width as a multiple of the default brush
MIN_CHAR_PIXELS = 4  # a character's long side is never drawn smaller than this, even a dot


def render_strokes(strokes, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """Pen strokes (arrays of x, y with y pointing up, as tablets record) -> a uint8 (canvas, canvas) grey
    sketch, black ink on white, drawn with the sketchpad's round brush.

    ``rng`` picks the character's size, place and the pen width.
    """
    strokes = [np.asarray(s, np.float64).reshape(-1, 2) for s in strokes if len(s)]
    if not strokes:
        raise ValueError("no pen strokes to draw")
    points = np.concatenate(strokes)
    low, high = points.min(0), points.max(0)
    extent = float((high - low).max()) or 1.0
    radius = BRUSH_RADIUS * rng.uniform(*PEN_SCALE)
    size = max(MIN_CHAR_PIXELS, rng.uniform(*CHAR_SIZE) * canvas - 2 * radius)
    scale = size / extent
    drawn = (high - low) * scale
    room = canvas - 2 * radius - drawn
    offset = radius + rng.uniform(0, 1, 2) * np.maximum(room, 0)
    placed = []
    for stroke in strokes:
        xy = (stroke - low) * scale
        xy[:, 1] = drawn[1] - xy[:, 1]  # y up on the tablet, down on the canvas
        placed.append(xy + offset)
    return draw_strokes(placed, radius, canvas)


def draw_strokes(strokes, radius: float = BRUSH_RADIUS, canvas: int = CANVAS) -> np.ndarray:
    """Strokes in canvas pixels (each an (n, 2) array of x, y, y pointing down, as the page's pad records them) ->
    a uint8 (canvas, canvas) grey sketch, black ink on white, drawn with the sketchpad's round brush of ``radius``."""
    image = Image.new("L", (canvas, canvas), PAPER)
    draw = ImageDraw.Draw(image)
    r = radius
    for stroke in strokes:
        flat = [tuple(p) for p in np.asarray(stroke, np.float64).reshape(-1, 2)]
        if not flat:
            continue
        if len(flat) > 1:
            draw.line(flat, fill=INK, width=max(1, round(2 * r)), joint="curve")
        for x, y in (flat[0], flat[-1]):  # round caps, and a dot for a single tap
            draw.ellipse((x - r, y - r, x + r, y + r), fill=INK)
    return np.asarray(image)
