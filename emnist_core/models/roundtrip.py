"""Canvas round trip: are drawn characters recognised as well as test images?

Held-out test images are redrawn the way a browser sketchpad sends a drawing (hard-edged dark ink on a
large light RGBA canvas, at a random size, position and pen width), sent through the full predict path
(``preprocess`` then the model), and scored beside the same images at 28x28. ``ink_statistics``
measures how EMNIST-like the preprocessed drawings look.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from emnist_core.data.preprocess import preprocess

CANVAS = 800
CHAR_HEIGHT = (220, 640)  # pixels on the canvas: a small to a canvas-filling character
PEN_CHANGE = (-0.12, 0.25)  # pen width change, as a fraction of the character's stroke width
INK_LEVEL = 128  # the 28x28 image is cut here to get a hard edge, as a brush has


def render_canvas(image28: np.ndarray, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """One upright EMNIST image -> an RGBA canvas with a hard-edged black drawing of it on white."""
    height = int(rng.integers(*CHAR_HEIGHT))
    big = Image.fromarray(np.asarray(image28, np.uint8)).resize((height, height), Image.Resampling.BICUBIC)
    ink = np.asarray(big) >= INK_LEVEL
    # A thinner or thicker pen: grow or shrink the binary ink by a few canvas pixels.
    stroke = 2.5 * height / 28  # a typical EMNIST stroke is ~2.5 of its 28 pixels
    change = round(rng.uniform(*PEN_CHANGE) * stroke)
    if change:  # a square pen tip of 2|change|+1 pixels (scipy's filters take it a row and a column at a time)
        size = 2 * abs(change) + 1
        grown = (ndimage.maximum_filter if change > 0 else ndimage.minimum_filter)(ink, size, mode="nearest")
        if grown.any():
            ink = grown
    out = np.full((canvas, canvas, 4), 255, np.uint8)
    top, left = rng.integers(0, canvas - height + 1, size=2)
    region = out[top : top + height, left : left + height]
    region[ink, :3] = 0
    return out


def ink_statistics(images: np.ndarray, level: int = 128) -> dict:
    """How a set of 28x28 images looks: bounding box, centring, stroke width, intensities."""
    images = np.asarray(images)
    grid = np.arange(28)
    long_side, cy, cx, width = [], [], [], []
    for im in images:
        mask = im >= level
        if not mask.any():
            continue
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        long_side.append(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)
        w = im.astype(np.float64)
        cy.append((w.sum(1) * grid).sum() / w.sum())
        cx.append((w.sum(0) * grid).sum() / w.sum())
        # For a stroke of width s the distance to the background averages about s/4 inside it.
        width.append(4 * ndimage.distance_transform_edt(mask)[mask].mean())
    ink = images[images > 0]
    hist = np.histogram(ink, bins=[1, 64, 128, 192, 256])[0] / max(len(ink), 1)
    summary = lambda v: [round(float(np.mean(v)), 2), round(float(np.std(v)), 2)]
    return {
        "long_side_px": summary(long_side),
        "centre_row": summary(cy),
        "centre_col": summary(cx),
        "stroke_width_px": summary(width),
        "mean_intensity": round(float(images.mean()), 1),
        "ink_histogram": {
            "1-63": round(float(hist[0]), 3),
            "64-127": round(float(hist[1]), 3),
            "128-191": round(float(hist[2]), 3),
            "192-255": round(float(hist[3]), 3),
        },
    }


def canvas_roundtrip(predictor, x: np.ndarray, y: np.ndarray, n: int = 2000, seed: int = 0) -> dict:
    """Score ``predictor``'s models on ``n`` test images at 28x28 and redrawn as canvases."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(y), size=min(n, len(y)), replace=False))
    x28, truth = np.asarray(x[pick]), np.asarray(y[pick])
    drawn = np.stack([preprocess(render_canvas(im, rng)) for im in x28])
    direct, redrawn = predictor.probabilities(x28), predictor.probabilities(drawn)
    models = {}
    for name in direct:
        acc28 = float((direct[name].argmax(1) == truth).mean())
        acc_canvas = float((redrawn[name].argmax(1) == truth).mean())
        models[name] = {
            "accuracy_28x28": acc28,
            "accuracy_canvas": acc_canvas,
            "gap_points": 100 * (acc28 - acc_canvas),
        }
    return {
        "n": len(truth),
        "seed": seed,
        "models": models,
        "ink_statistics": {"emnist_28x28": ink_statistics(x28), "canvas_preprocessed": ink_statistics(drawn)},
    }
