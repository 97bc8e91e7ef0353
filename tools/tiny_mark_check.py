"""Measure preprocess's "draw it bigger" rule (MIN_MARK_SIDE): how often it refuses real characters, and how
well the shipped pair reads characters drawn at the sizes it refuses.

    python tools/tiny_mark_check.py            # EMNIST test + validation and UNIPEN at the smallest size
    python tools/tiny_mark_check.py --quick    # 2,000 of each

1. False refusals: EMNIST test and validation images (28x28, through preprocess as any input) and every UNIPEN
   character drawn by the sketchpad renderer at its smallest size (CHAR_SIZE[0]) with the thinnest and the
   thickest pen (PEN_SCALE). Each should be read, never refused.
2. Accuracy against size: 3,000 UNIPEN validation characters drawn with the default brush at a long side of
   0.07 ... 0.30 of the canvas, read by the shipped MLP and CNN: where a guess stops meaning anything.
Needs EMNIST_DATA_DIR and the UNIPEN release (UNIPEN_DATA_DIR or ../shared/unipen).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from emnist_core.data import preprocess as pp
from emnist_core.data import unipen
from emnist_core.data.datasets import load_dataset
from emnist_core.data.drawn import _square_pixels, _unipen_part
from emnist_core.data.sketchpad import CHAR_SIZE, PEN_SCALE, render_strokes

SIZES = (0.07, 0.10, 0.12, 0.15, 0.20, 0.25, 0.30)  # long side of the character as a share of the canvas
ACCURACY_SAMPLE = 3000


class FixedDraw:
    """An rng for render_strokes that draws at one size and pen width, in the middle of the canvas."""

    def __init__(self, pen: float, size: float):
        self.pen, self.size = pen, size

    def uniform(self, low, high, n=None):
        if (low, high) == PEN_SCALE:
            return self.pen
        if (low, high) == CHAR_SIZE:
            return self.size
        return np.full(n, 0.5) if n else 0.5


def refused(images) -> int:
    count = 0
    for image in images:
        try:
            pp.preprocess(image)
        except pp.TooSmallError:
            count += 1
    return count


def drawn_characters():
    """(strokes, class, is validation writer) of every usable UNIPEN character, as the unipen dataset keeps them."""
    for sample in unipen.iter_samples(unipen.find_unipen_dir()):
        if sample.quality == "BAD" or unipen.bymerge_class(sample.label) is None:
            continue
        strokes = _square_pixels(sample)
        if np.ptp(np.concatenate(strokes), axis=0).max() == 0:
            continue
        # The writer's own part (the dataset also joins writers that share recordings: a few move).
        yield strokes, unipen.bymerge_class(sample.label), _unipen_part(sample.writer) == 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images of each kind instead of all")
    args = parser.parse_args()
    limit = 2000 if args.quick else None
    rng = np.random.default_rng(0)

    pool = load_dataset("pool47")
    emnist = np.concatenate([pool.x_test, pool.x_val])[:limit]
    print(f"MIN_MARK_SIDE {pp.MIN_MARK_SIDE}")
    print(f"EMNIST 28x28 (test + validation): {refused(emnist)} of {len(emnist):,} refused", flush=True)

    characters = list(drawn_characters())
    chosen = characters if limit is None else [characters[i] for i in rng.choice(len(characters), limit, replace=False)]
    for pen in PEN_SCALE:
        canvases = (render_strokes(s, FixedDraw(pen, CHAR_SIZE[0])) for s, _, _ in chosen)
        print(
            f"UNIPEN drawn at the renderer's smallest size, pen x{pen}: {refused(canvases)} of {len(chosen):,} refused",
            flush=True,
        )

    from emnist_core.models.evaluation import predict_probabilities
    from emnist_core.models.store import load_model, resolve_model_path

    validation = [c for c in characters if c[2]]
    sample = [validation[i] for i in rng.choice(len(validation), min(ACCURACY_SAMPLE, len(validation)), replace=False)]
    y = np.array([label for _, label, _ in sample])
    models = {alias: load_model(resolve_model_path(alias)) for alias in ("mlp", "cnn")}
    threshold = round(pp.INK_THRESHOLD * 255)
    print(f"\naccuracy of {len(sample):,} drawn validation characters against their size (default brush):")
    for size in SIZES:
        frames, sides = [], []
        for strokes, _, _ in sample:
            ink = pp._ink_u8(render_strokes(strokes, FixedDraw(1.0, size)))
            rows, cols = np.flatnonzero((ink >= threshold).any(1)), np.flatnonzero((ink >= threshold).any(0))
            sides.append((max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1) / min(ink.shape))
            frames.append(pp.emnist_frame(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]))  # past the rule
        frames = np.stack(frames)
        accuracy = {a: float((predict_probabilities(m, frames).argmax(1) == y).mean()) for a, m in models.items()}
        print(
            f"  long side {np.median(sides):.2f} of the canvas: "
            + ", ".join(f"{a} {v:.1%}" for a, v in accuracy.items())
            + ("  (refused)" if np.median(sides) < pp.MIN_MARK_SIDE else ""),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
