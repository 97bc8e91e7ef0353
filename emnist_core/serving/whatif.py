"""What if: both models' answers on variants of the current drawing (``variants.VARIANTS``), in one batch.

``what_if(predictor, drawing)`` gives a row per variant, ``{"variant", "mlp", "cnn"}`` (one key per model
the predictor serves: the app's are "mlp" and "cnn"), each model's top-1 as ``{"label", "confidence"}``,
and each variant's 28x28 image with a caption saying what was changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emnist_core.data.preprocess import preprocess
from emnist_core.serving.variants import VARIANTS, variants

CONFIDENCE_DIGITS = 4


@dataclass(frozen=True)
class WhatIf:
    rows: list[dict]  # {"variant": name, model name: {"label": top-1, "confidence": its probability}, ...}
    images: list[tuple[np.ndarray, str]]  # (uint8 (28, 28) as the models read it, "shifted: moved ...")


def what_if(predictor, drawing) -> WhatIf:
    """Every variant of ``drawing`` (any image ``preprocess`` reads) through ``predictor`` (a
    ``serving.predictor.Predictor``), all in one batch. Raises ``preprocess``'s ``ImageInputError`` for a
    blank, tiny or unreadable drawing, before any model is asked."""
    x28 = preprocess(drawing)
    pictures = variants(x28, drawing)
    names = list(pictures)
    tops = predictor.top_k(np.stack([pictures[n] for n in names]), k=1)
    rows = [
        {
            "variant": name,
            **{
                model: {"label": tops[model][i][0][0], "confidence": round(tops[model][i][0][1], CONFIDENCE_DIGITS)}
                for model in tops
            },
        }
        for i, name in enumerate(names)
    ]
    return WhatIf(rows, [(pictures[n], f"{n}: {VARIANTS[n]}") for n in names])
