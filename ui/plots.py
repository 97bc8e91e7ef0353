"""The figures the page shows with ``gr.Plot``, from what the caller hands over: never looked up again by a
model's path, so a model put live meanwhile cannot make one fail."""

from __future__ import annotations

import json
from functools import lru_cache

from emnist_core.lab import figures

FIGURES_KEPT = 8  # a few models' figures on each test set: drawing one takes a tenth of a second or more
FIGURES = {
    "confusion": figures.confusion_figure,
    "curves": figures.curves_figure,
    "reliability": figures.reliability_figure,
    "class_scores": lambda scores, title: figures.class_scores_figure(*scores, title),
}  # (per class, series)


def figure(kind: str, data: dict, title: str):
    """``FIGURES[kind](data, title)``, drawn once for the same data and title. The data is the cache's key (as
    JSON text), so a figure kept is always the one for what was asked, whichever model it came from."""
    return _drawn(kind, json.dumps(data, sort_keys=True), title)


@lru_cache(maxsize=FIGURES_KEPT)
def _drawn(kind: str, data: str, title: str):
    return figures.closed(FIGURES[kind](json.loads(data), title))


def curves(history, name, keep: bool = False):
    """Loss and accuracy per epoch, or None without a history. ``keep``: a finished model's curves, drawn once; a
    running job's change with every epoch and are not kept."""
    if not history:
        return None
    title = f"{name}: training curves"
    return figure("curves", history, title) if keep else figures.closed(figures.curves_figure(history, title))
