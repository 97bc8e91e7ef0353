"""The seed report's figures: training curves, confusion-matrix heatmap, sample and mistake grids; and the page's
figures as PNG, drawn once per content (``FigureCache``).

Each ``*_figure`` function returns a new matplotlib ``Figure`` made with the object API, never pyplot, so figures
can be drawn from many request threads at once (pyplot keeps global state); ``write_figures`` saves them all as PNG
for one model.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from emnist_core.models.temperature import ece_change

FIGURES_KEPT = 16  # a few models' figures on each test set: drawing one takes a tenth of a second or more
DPI = 100


def png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def curves_figure(history: dict, title: str = ""):
    """Loss and accuracy per epoch, training beside validation."""
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, style in ((metric, "-o"), (f"val_{metric}", "-s")):
            values = history.get(key) or []
            if values:
                ax.plot(
                    range(1, len(values) + 1),
                    values,
                    style,
                    ms=3,
                    label="validation" if key.startswith("val_") else "training",
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        # Epochs are whole: no 1.25, 1.50 ticks, even for a run of one or two.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        epochs = max(len(history.get(metric) or []), 1)
        ax.set_xlim(0.5, epochs + 0.5)  # one epoch is a point in the middle, not on a 0.96-1.04 axis
        ax.grid(alpha=0.3)
        if ax.get_lines():  # a run's first moments may have a loss and no accuracy yet: no empty legend
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_figure(report: dict, title: str = "", normalize: bool = True):
    """Heatmap of the confusion matrix; rows normalised to recall so rare classes stay visible."""
    cm = np.asarray(report["confusion_matrix"], dtype=np.float64)
    names = report["classes"]
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(9.5, 8.5))
    ax = fig.subplots()
    # A log-like colour scale shows the off-diagonal mistakes beside a bright diagonal.
    image = ax.imshow(np.sqrt(cm), cmap="viridis")
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    bar = fig.colorbar(image, ax=ax, fraction=0.046)
    bar.set_label("sqrt(fraction of the true class)" if normalize else "sqrt(count)")
    ax.set_title(title or "Confusion matrix")
    fig.tight_layout()
    return fig


def grid_figure(images, captions, columns: int = 10, title: str = "", colors=None):
    """A grid of 28x28 images (upright, ink white) with a caption under each."""
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    fig = Figure(figsize=(columns * 1.1, rows * 1.3))
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(captions[i], fontsize=7, color=(colors[i] if colors else "black"))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def reliability_figure(calibration: dict, title: str = ""):
    """Reliability diagram from a card's temperature section (``calibration.temperature``, or the whole
    ``calibration`` holding it): accuracy against stated confidence per bin, before and after scaling by T.

    A calibrated model's points lie on the diagonal: of the drawings it reads with 80% confidence, 80% are right.
    """
    section = calibration.get("temperature", calibration)
    fig = Figure(figsize=(4.8, 4.4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    eces = ece_change(section)  # the card's words quote the same two numbers (``plain_card.sure_line``)
    lines = (("before", "-o", "model's own"), ("after", "-s", f"scaled by T = {section['T']:.2f}"))
    for (key, style, words), ece in zip(lines, eces):
        bins = section[key]["bins"]
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            style,
            ms=4,
            label=f"{words} (ECE {ece:.1%})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("top-1 confidence")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(
        title or f"Reliability on {section.get('fitted_on', 'validation')} ({section.get('n', 0):,})", fontsize=10
    )
    fig.tight_layout()
    return fig


def class_scores_figure(per_class: dict, series: dict, title: str = "", drawn_key: str = "drawn"):
    """The Challenge's class scores: per class drawn (``per_class``: {class: counts}, in the order shown), the share
    each model read right, one bar per model (``series``: {legend: the count's key, e.g. "cnn_right"}), with how
    many drawings each class's bars stand on above them."""
    names = list(per_class)
    fig = Figure(figsize=(max(4.0, 0.32 * len(names) + 1.5), 3.2))
    ax = fig.subplots()
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(names))
    for i, (legend, key) in enumerate(series.items()):
        rates = [100 * per_class[n][key] / max(per_class[n][drawn_key], 1) for n in names]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, rates, width, label=legend)
    for position, name in enumerate(names):  # a 100% on one drawing is not a 100% on fifty
        ax.text(position, 101, str(per_class[name][drawn_key]), ha="center", va="bottom", fontsize=6, color="grey")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(0, 112)
    ax.set_ylabel("% read right")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Class scores (drawings per class above the bars)", fontsize=10)
    fig.tight_layout()
    return fig


def write_figures(model: str, out_dir=None, data_dir=None) -> list[Path]:
    """Write every figure of ``model`` (shipped name or path) as PNG; returns the paths.

    Curves come from the model card and the matrix from the saved report; the two image grids
    need the test images and are skipped, with a note, when the data is not found.
    """
    import sys

    from emnist_core.data import datasets as ds
    from emnist_core.models.evaluation import EMNIST
    from emnist_core.models.store import load_card, load_model, load_report, report_path, resolve_model_path
    from emnist_core.serving.predictor import Predictor

    path = resolve_model_path(model)
    name = path.name.removesuffix(".keras")
    out = Path(out_dir) if out_dir else path.parent / "figures" / name
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, filename):
        fig.savefig(out / filename, dpi=110)
        written.append(out / filename)

    card = load_card(path)
    if card is not None and card.history:
        save(curves_figure(card.history, f"{name}: training curves"), "curves.png")
    rp = report_path(path)
    if not rp.exists():
        raise FileNotFoundError(f"{rp} not found: run `python -m emnist_core evaluate --model {model} --save-report`")
    report = load_report(rp)
    save(
        confusion_figure(report, f"{name}: confusion matrix on {report.get('dataset', 'the')} test"),
        "confusion_matrix.png",
    )
    try:
        data = ds.load_dataset(report.get("dataset", EMNIST), data_dir)
    except ds.DataNotFoundError as exc:
        print(f"note: sample grids skipped ({exc})", file=sys.stderr)
        return written
    names = report["classes"]
    x, y = data.x_test, data.labels_as_classes(data.y_test)
    predictor = Predictor({name: load_model(path)})
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(len(y), 50, replace=False))
    probs = predictor.probabilities(x[sample])[name]
    pred = probs.argmax(axis=1)
    save(
        grid_figure(
            x[sample],
            [f"{names[t]} -> {names[p]}" for t, p in zip(y[sample], pred)],
            colors=["black" if t == p else "red" for t, p in zip(y[sample], pred)],
            title=f"{name}: sample predictions (true -> predicted)",
        ),
        "samples.png",
    )
    wrong = report["misclassified"][:: max(1, len(report["misclassified"]) // 100)][:100]
    save(
        grid_figure(
            [x[i] for i, _, _ in wrong],
            [f"{names[t]} -> {names[top[0][0]]} ({top[0][1]:.0%})" for _, t, top in wrong],
            title=f"{name}: 100 misclassified test images",
        ),
        "misclassified.png",
    )
    return written


# ---------------------------------------------------------------- the page's figures

FIGURES = {
    "confusion": confusion_figure,
    "curves": curves_figure,
    "reliability": reliability_figure,
    "class_scores": lambda scores, title: class_scores_figure(*scores, title),  # (per class, series)
}


class FigureCache:
    """The page's figures as PNG bytes, each drawn once for the same (kind, data, title) and the latest
    ``kept`` kept: the data is the key (as JSON text), so a figure kept is always the one for what was asked,
    whichever model it came from. Bytes, not figure objects, are shared between requests."""

    def __init__(self, kept: int = FIGURES_KEPT):
        self._kept, self._drawn, self._lock = kept, OrderedDict(), threading.Lock()

    def png(self, kind: str, data, title: str, keep: bool = True) -> bytes:
        """``FIGURES[kind](data, title)`` as PNG; ``keep=False`` for a figure that will not be asked for again (a
        running job's curves change with every epoch)."""
        key = (kind, json.dumps(data, sort_keys=True), title)
        with self._lock:
            if key in self._drawn:
                self._drawn.move_to_end(key)
                return self._drawn[key]
        drawn = png(FIGURES[kind](data, title))  # outside the lock: two different figures draw at once
        if keep:
            with self._lock:
                self._drawn[key] = drawn
                while len(self._drawn) > self._kept:
                    self._drawn.popitem(last=False)
        return drawn
