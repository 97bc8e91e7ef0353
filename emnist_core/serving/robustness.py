"""Robustness: a model's accuracy on a test set under each variant of ``variants.VARIANTS``.

The table says how much moving, turning, thinning, thickening, shrinking or speckling the characters
costs a model, in natural accuracy (each class as often as the test set has it) and class-balanced
accuracy (mean per-class recall, each class counting once, as the app is used). It is kept in the
model's drawn report (``NAME.unipen.report.json``) under ``"robustness"``.
"""

from __future__ import annotations

import numpy as np

from emnist_core.models.evaluation import predict_probabilities, report_from_probabilities
from emnist_core.serving.variants import AS_DRAWN, NOISE_SEED, NOT_CENTRED, VARIANTS, transformed, uncentred

REPORT_KEY = "robustness"


def variant_sets(x, seed: int = NOISE_SEED) -> dict[str, np.ndarray]:
    """{variant: uint8 (N, 28, 28)} of the test images ``x``, in ``VARIANTS`` order; one seeded generator
    draws every random choice (each image's place on the canvas, then the noise), so a run is repeatable."""
    x = np.asarray(x, np.uint8)
    rng = np.random.default_rng(seed)
    sets = {AS_DRAWN: x, NOT_CENTRED: np.stack([uncentred(img, rng) for img in x]), **transformed(x, rng)}
    return {name: sets[name] for name in VARIANTS}


def robustness(model, x, y, label_map, *, seed: int = NOISE_SEED, test_set: str = "") -> dict:
    """The table for a Keras model on images ``x`` with 0-based classes ``y``: {"variants": {name: {"accuracy",
    "mean_recall"}}, "n", "test_set", "seed", "variants_described"}."""
    y = np.asarray(y)
    table = {}
    for name, images in variant_sets(x, seed).items():
        report = report_from_probabilities(predict_probabilities(model, images), y, label_map, with_details=False)
        table[name] = {"accuracy": report["accuracy"], "mean_recall": report["mean_recall"]}
    return {
        "test_set": test_set,
        "n": len(y),
        "seed": seed,
        "variants": table,
        "variants_described": dict(VARIANTS),
    }


def format_table(section: dict) -> str:
    """The table as plain text: a line per variant, natural and class-balanced accuracy, change from as drawn."""
    rows = section["variants"]
    base = rows[AS_DRAWN]
    lines = [
        f"{section['test_set']} ({section['n']} images): accuracy under each variant",
        f"{'variant':<14}{'natural':>9}{'change':>9}{'balanced':>10}{'change':>9}",
    ]
    for name, m in rows.items():
        lines.append(
            f"{name:<14}{m['accuracy']:>9.1%}{100 * (m['accuracy'] - base['accuracy']):>+9.1f}"
            f"{m['mean_recall']:>10.1%}{100 * (m['mean_recall'] - base['mean_recall']):>+9.1f}"
        )
    return "\n".join(lines)
