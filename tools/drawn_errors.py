"""What the drawn test set's errors are made of: the bar and ring look-alikes, errors every model shares, and
characters that are one straight line labelled as a class a line cannot be.

    python tools/drawn_errors.py [--models cnn mlp models/OTHER.keras ...]

Reads the unipen dataset's test part (9,317 characters) with each model, as `evaluate --dataset unipen` does, and
prints, per model:
- natural and class-balanced accuracy (mean per-class recall) and top-3;
- the recall of the bar and ring classes (0, O; 1, I, L);
- the class-balanced accuracy with the bar and the ring settled, the most that settling them alone could give.
Then the errors all the models make, with the same wrong answer, and the UNIPEN characters the unipen dataset
leaves out as single straight strokes labelled as a class a line cannot be (an H, T or 4 that is one line: a
segment that holds only one stroke of its character; ``drawn.is_straight_line``). That count reads the
strokes, so it needs the UNIPEN files (about 20 s to parse); without them it is skipped. Before they were left
out (render version 3) the test part held 87 of them, and the live CNN read 6 as labelled.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.metrics import recall_score

from emnist_core.data import unipen
from emnist_core.data.datasets import load_dataset
from emnist_core.data.drawn import LINE_CLASSES, _square_pixels, _strokes_key, is_straight_line
from emnist_core.data.labels import label_map
from emnist_core.models.evaluation import predict_probabilities
from emnist_core.models.store import load_model, resolve_model_path

# ByMerge's classes that a drawing alone cannot always tell apart: a ring and a bar (the lesson setting answers them).
BAR_AND_RING = (("0", "O"), ("1", "I", "L"))


def lines_left_out(names: list[str]) -> dict[str, int] | None:
    """UNIPEN's characters (not marked BAD) that are a single straight stroke labelled outside LINE_CLASSES, by
    label, most first; None without the UNIPEN files."""
    try:
        root = unipen.find_unipen_dir()
    except unipen.UnipenNotFoundError as exc:
        print(f"straight lines skipped: {exc}")
        return None
    counts: dict[str, int] = {}
    seen = set()  # a recording filed twice counts once, as the dataset keeps it once
    for sample in unipen.iter_samples(root):
        label = unipen.bymerge_class(sample.label)
        square = _square_pixels(sample)
        key = _strokes_key(square)
        if sample.quality == "BAD" or label is None or names[label] in LINE_CLASSES or key in seen:
            continue
        seen.add(key)
        if is_straight_line(square):
            counts[names[label]] = counts.get(names[label], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


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

    preds = {}
    for name in args.models:
        path = resolve_model_path(name)
        probs = predict_probabilities(load_model(path), x)
        pred = preds[name] = probs.argmax(1)
        top3 = (np.argsort(-probs, axis=1)[:, :3] == y[:, None]).any(axis=1).mean()
        recalls = recall_score(y, pred, average=None, labels=range(len(names)), zero_division=0)
        print(
            f"\n{name} ({path.name}): natural {np.mean(pred == y):.1%}, class-balanced {balanced(y, pred):.1%}, "
            f"top-3 {top3:.1%}"
        )
        print("  recall " + ", ".join(f"{c} {recalls[names.index(c)]:.0%}" for m in BAR_AND_RING for c in m))
        settled = np.where(group[pred] == group[y], y, pred)
        print(f"  class-balanced with the bar and the ring settled: {balanced(y, settled):.1%}")

    first = next(iter(preds.values()))
    shared = np.all([p != y for p in preds.values()], axis=0) & np.all([p == first for p in preds.values()], axis=0)
    look = shared & (group[first] == group[y])
    print(
        f"\nwrong in all {len(preds)} models with one answer: {shared.sum()} of {len(y)} "
        f"({look.sum()} inside the bar and ring groups)"
    )
    left_out = lines_left_out(names)
    if left_out is not None:
        print(
            f"left out of the unipen dataset as single straight lines labelled other than {'/'.join(LINE_CLASSES)}: "
            f"{sum(left_out.values())} (" + ", ".join(f"{k} {v}" for k, v in left_out.items()) + ")"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
