"""What the drawn test set's errors are made of: the bar and ring look-alikes, errors every model shares, and
characters that are one straight line labelled as a class a line cannot be.

    python tools/drawn_errors.py [--models cnn mlp models/OTHER.keras ...]

Reads the unipen dataset's test part (9,404 characters) with each model, as `evaluate --dataset unipen` does, and
prints, per model:
- natural and class-balanced accuracy (mean per-class recall) and top-3;
- the recall of the bar and ring classes (0, O; 1, I, L) and the class-balanced accuracy when a guess inside the
  true class's group counts as right: the most that settling the bar and the ring alone could give;
- on the characters that are a single straight stroke labelled with a class other than 1, I or L (an H, T or 4
  that is one line: a UNIPEN segment that holds only one stroke of its character), how many each model reads as
  labelled, and its class-balanced accuracy on the rest (with the bar and the ring settled too).
Then the errors all the models make, with the same wrong answer. The straight-line count reads the strokes, so
it needs the UNIPEN files (about 20 s to parse); without them it is skipped.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.metrics import recall_score

from emnist_core.data import unipen
from emnist_core.data.datasets import load_dataset, unipen_index
from emnist_core.data.labels import label_map
from emnist_core.models.evaluation import predict_probabilities
from emnist_core.models.store import load_model, resolve_model_path

# ByMerge's classes that a drawing alone cannot always tell apart: a ring and a bar (the lesson setting answers them).
BAR_AND_RING = (("0", "O"), ("1", "I", "L"))
# A single straight stroke can be a 1, an I (or an i without its dot) or an L's lower-case l, and no other class.
LINE_CLASSES = ("1", "I", "L")
# A stroke is straight when no point strays from the line between its ends by more than this share of its extent.
STRAIGHT_TOLERANCE = 0.08
TEST_PART = 2  # the part column of unipen_index: 0 train, 1 validation, 2 test


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


def single_lines(names: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(per test character: a straight line labelled outside LINE_CLASSES, the count of such per part), or None
    without the UNIPEN files."""
    try:
        root = unipen.find_unipen_dir()
    except unipen.UnipenNotFoundError as exc:
        print(f"straight lines skipped: {exc}")
        return None
    strokes, _, meta = unipen_index(unipen.iter_samples(root))
    line_ok = [names.index(c) for c in LINE_CLASSES]
    mislabelled = np.array([is_straight_line(s) for s in strokes]) & ~np.isin(meta[:, 0], line_ok)
    per_part = np.bincount(meta[mislabelled, 2], minlength=3)
    return mislabelled[meta[:, 2] == TEST_PART], per_part


def balanced(y, pred) -> float:
    return float(recall_score(y, pred, average="macro", zero_division=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "mlp"], help="shipped names or .keras paths")
    args = parser.parse_args()
    names = list(label_map("bymerge").names)
    drawn = load_dataset("unipen")
    x, y = drawn.x_test, drawn.y_test
    group = np.arange(len(names))
    for members in BAR_AND_RING:
        group[[names.index(c) for c in members]] = names.index(members[0])
    lines = single_lines(names)
    if lines is not None:
        print(f"single straight lines labelled outside {'/'.join(LINE_CLASSES)}: train {lines[1][0]}, "
              f"validation {lines[1][1]}, test {lines[1][2]}")

    preds = {}
    for name in args.models:
        path = resolve_model_path(name)
        probs = predict_probabilities(load_model(path), x)
        pred = preds[path.name] = probs.argmax(1)
        top3 = (np.argsort(-probs, axis=1)[:, :3] == y[:, None]).any(axis=1).mean()
        recalls = recall_score(y, pred, average=None, labels=range(len(names)), zero_division=0)
        print(f"\n{path.name}: natural {np.mean(pred == y):.1%}, class-balanced {balanced(y, pred):.1%}, "
              f"top-3 {top3:.1%}")
        print("  recall " + ", ".join(f"{c} {recalls[names.index(c)]:.0%}" for m in BAR_AND_RING for c in m))
        settled = np.where(group[pred] == group[y], y, pred)
        print(f"  class-balanced with the bar and the ring settled: {balanced(y, settled):.1%}")
        if lines is not None:
            cut = lines[0]
            print(f"  on the {cut.sum()} straight lines it reads {np.sum(pred[cut] == y[cut])} as labelled; "
                  f"class-balanced on the other {np.sum(~cut)}: {balanced(y[~cut], pred[~cut]):.1%}, "
                  f"{balanced(y[~cut], settled[~cut]):.1%} with the bar and the ring settled too")

    first = next(iter(preds.values()))
    shared = np.all([p != y for p in preds.values()], axis=0) & np.all([p == first for p in preds.values()], axis=0)
    look = shared & (group[first] == group[y])
    print(f"\nwrong in all {len(preds)} models with one answer: {shared.sum()} of {len(y)} "
          f"({look.sum()} inside the bar and ring groups)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
