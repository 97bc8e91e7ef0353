"""Choose the verdict's NOT_SURE threshold from data: how often the answers it calls sure are right.

    python tools/verdict_threshold.py [--target 0.95]

The shipped pair (mlp, cnn) reads the drawn characters' validation split (unipen), with each model's
probabilities scaled by the temperature in its card, as the app shows them. A drawing is answered "sure" when
both models read the same class with a calibrated top probability at or above the threshold; the table gives,
per threshold, the share answered sure and how often those answers are right, on validation (where the
threshold is chosen: the lowest that reaches --target) and on the test split (a check it never saw).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from emnist_core.data.datasets import load_dataset
from emnist_core.lab import verdict
from emnist_core.models.evaluation import predict_probabilities
from emnist_core.models.store import load_card, load_model, resolve_model_path
from emnist_core.models.temperature import apply_temperature, card_temperature

THRESHOLDS = np.round(np.arange(0.30, 0.96, 0.05), 2)


def sure_table(probs: dict, y: np.ndarray) -> list[tuple[float, float, float]]:
    """(threshold, share answered sure, accuracy of those) for each threshold."""
    (a, b) = probs.values()
    agree = a.argmax(1) == b.argmax(1)
    rows = []
    for t in THRESHOLDS:
        sure = agree & (a.max(1) >= t) & (b.max(1) >= t)
        rows.append((float(t), float(sure.mean()), float((b.argmax(1)[sure] == y[sure]).mean())))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=float, default=0.95, help="accuracy the sure answers must reach")
    args = parser.parse_args()
    drawn = load_dataset("unipen")
    splits = {
        "validation": (drawn.x_val, drawn.labels_as_classes(drawn.y_val)),
        "test": (drawn.x_test, drawn.labels_as_classes(drawn.y_test)),
    }
    tables = {}
    for alias in ("mlp", "cnn"):
        path = resolve_model_path(alias)
        print(f"{alias}: {path.name}, T = {card_temperature(load_card(path)):.3f}")
    for split, (x, y) in splits.items():
        probs = {}
        for alias in ("mlp", "cnn"):
            path = resolve_model_path(alias)
            raw = predict_probabilities(load_model(path), x)
            probs[alias] = apply_temperature(raw, card_temperature(load_card(path)))
        tables[split] = sure_table(probs, y)
    print(f"\n{'threshold':>9}  {'validation: sure, right':>24}  {'test: sure, right':>18}")
    for (t, cover, right), (_, t_cover, t_right) in zip(tables["validation"], tables["test"]):
        print(f"{t:>9.2f}  {cover:>12.1%} {right:>10.1%}  {t_cover:>8.1%} {t_right:>9.1%}")
    chosen = next((t for t, _, right in tables["validation"] if right >= args.target), None)
    print(
        f"\nlowest threshold whose sure answers reach {args.target:.0%} on validation: {chosen}; "
        f"verdict.NOT_SURE is {verdict.NOT_SURE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
