"""Evaluation reports: accuracy, loss, per-class precision/recall, confusion matrix, mistakes.

A report is a plain dict (saved as JSON beside the model by ``store``), so the app can show it without data.

Beside natural top-1 (``accuracy``, weighted by how often each class occurs in the test set) a report gives
class-balanced figures, as the app is used, where a class draws every character alike: ``mean_recall`` (the
mean per-class recall) and ``balanced_sections`` (the same within each section: digits, upper, lower). A
section is the image's own when the caller gives one (UNIPEN files each drawing under digits, upper or lower
case: a drawn c is "lower" though its class is C), else its class's (``labels.class_section``).
"""

from __future__ import annotations

import numpy as np

from emnist_core.data.labels import (
    DEFAULT_LESSON,
    LESSONS,
    SECTIONS,
    LabelMap,
    check_lesson,
    class_from_text,
    class_section,
    display_name,
    lesson_classes,
    lesson_indices,
)
from emnist_core.models.lessons import in_lesson, restrict

EVAL_BATCH = 2048
TOP_K_MISTAKES = 3
# What a model card keeps of its reports: the headline numbers, not the details.
CARD_METRICS = ("n", "accuracy", "top3", "loss", "mean_recall", "balanced_sections")
DRAWN_CARD_METRICS = (*CARD_METRICS, "sections")
# The two test sets, one name each (they are also the datasets' names, ``datasets.DATASETS``):
EMNIST = "pool47"  # EMNIST's scanned characters: the test part the shipped reports (NAME.report.json) index
DRAWN = "unipen"  # drawn input, UNIPEN's writers: a model trained on it is scored on it too (NAME.unipen.report.json)
TEST_SETS = (EMNIST, DRAWN)


def predict_probabilities(model, x: np.ndarray) -> np.ndarray:
    """Class probabilities for many images, in batches (never one eager call on a whole set)."""
    out = []
    for start in range(0, len(x), EVAL_BATCH):
        batch = np.asarray(x[start : start + EVAL_BATCH], dtype=np.float32)
        out.append(np.asarray(model.predict_on_batch(batch)))
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)


def clipped(probs: np.ndarray, floor: float = 1e-7) -> np.ndarray:
    """``probs`` with no probability below ``floor`` (a class given 0 costs a bounded loss, -log 1e-7), rows
    summing to one again, as scikit-learn's log_loss checks."""
    probs = np.clip(np.asarray(probs, np.float64), floor, 1)
    return probs / probs.sum(axis=1, keepdims=True)


def report_from_probabilities(
    probs: np.ndarray, y: np.ndarray, label_map, with_details: bool = True, sections=None
) -> dict:
    """Metrics from probabilities ``(N, C)`` and 0-based class indices ``y``; ``sections``: a section name per
    image, else each class's (see the module's note)."""
    from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

    classes = np.arange(label_map.num_classes)
    pred = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
    present = support > 0
    top3 = np.argsort(probs, axis=1)[:, -3:]
    report = {
        "n": len(y),
        "accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "top3": float((top3 == np.asarray(y)[:, None]).any(axis=1).mean()) if len(y) else 0.0,
        "loss": float(log_loss(y, clipped(probs), labels=classes)) if len(y) else 0.0,
        "mean_recall": float(recall[present].mean()) if present.any() else 0.0,
        "balanced_sections": balanced_sections(pred, y, label_map.names, sections),
    }
    if not with_details:
        return report
    names = list(label_map.names)
    cm = confusion_matrix(y, pred, labels=classes)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1]
    pairs = []
    for flat in order:
        t, p = np.unravel_index(flat, off.shape)
        if off[t, p] == 0:
            break
        pairs.append({"true": names[t], "predicted": names[p], "count": int(off[t, p])})
    wrong = np.flatnonzero(pred != y)
    top = np.argsort(probs[wrong], axis=1)[:, ::-1][:, :TOP_K_MISTAKES]
    report.update(
        classes=names,
        per_class={
            names[i]: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i in classes
        },
        confusion_matrix=cm.tolist(),
        confused_pairs=pairs,
        # Index into the evaluated set, true class, then the top-3 (class, probability).
        misclassified=[
            [int(i), int(y[i]), [[int(c), round(float(probs[i, c]), 4)] for c in top[j]]] for j, i in enumerate(wrong)
        ],
    )
    return report


def evaluate_arrays(
    model, x, y, label_map, with_details: bool = True, sections=None, lesson: str | None = DEFAULT_LESSON
) -> dict:
    """A report on (x, y); with ``sections`` (a name per image), also each section's accuracy. A ``lesson``
    other than "all" (``labels.LESSONS``) scores only the images of its classes, with the predictions
    restricted to them as the app restricts them (``lesson_report``)."""
    lesson, y = check_lesson(lesson), np.asarray(y)
    if lesson != DEFAULT_LESSON:  # only the lesson's images are read; mistakes still index the whole (x, y)
        rows = np.flatnonzero(in_lesson(y, lesson, label_map.split))
        probs = np.zeros((len(y), label_map.num_classes), np.float32)
        probs[rows] = predict_probabilities(model, x[rows])
        return lesson_report(probs, y, label_map, lesson, sections, with_details)
    return lesson_report(predict_probabilities(model, x), y, label_map, lesson, sections, with_details)


def lesson_report(
    probs: np.ndarray, y, label_map, lesson: str | None = DEFAULT_LESSON, sections=None, with_details: bool = True
) -> dict:
    """The report of a model (``probs``: its probabilities for every image, as served) as it answers within
    ``lesson``, the way the page does once a teacher says what is being drawn: only the images of the lesson's
    classes count, each read among those classes alone (``lessons.restrict``). The report is the lesson's own:
    its ``classes``, confusion matrix, pairs and per-class figures cover the lesson's classes only, and it names
    its ``lesson``; each mistake still gives its image's index into the whole set. ``"all"``: the full report.
    With ``sections`` (a name per image), also each section's accuracy."""
    lesson, y = check_lesson(lesson), np.asarray(y)
    rows = np.arange(len(y))
    if lesson != DEFAULT_LESSON:
        kept = np.asarray(lesson_indices(lesson, label_map.split))
        rows = np.flatnonzero(np.isin(y, kept))
        probs = restrict(np.asarray(probs)[rows], lesson, label_map.split)[:, kept]
        y = np.searchsorted(kept, y[rows])  # a class's position among the lesson's classes
        label_map = LabelMap(
            label_map.split, tuple(label_map.indices[i] for i in kept), tuple(label_map.names[i] for i in kept)
        )
        sections = None if sections is None else np.asarray(sections)[rows]
    report = report_from_probabilities(probs, y, label_map, with_details, sections)
    if sections is not None:
        report["sections"] = section_accuracy(probs, y, sections)
    if lesson != DEFAULT_LESSON:
        report["lesson"] = lesson
        if with_details:
            report["misclassified"] = [[int(rows[i]), t, top] for i, t, top in report["misclassified"]]
    return report


def section_accuracy(probs: np.ndarray, y, sections) -> dict:
    """Accuracy per section (digits, upper, lower ...), in order of first appearance."""
    sections, right = np.asarray(sections), probs.argmax(axis=1) == np.asarray(y)
    return {str(name): float(right[sections == name].mean()) for name in dict.fromkeys(sections.tolist())}


def balanced_sections(pred, y, names, sections=None) -> dict:
    """Mean per-class recall within each section, digits, upper, lower first (then any other, in order of first
    appearance): each class that has images in a section counts once there, however many it has."""
    pred, y = np.asarray(pred), np.asarray(y)
    if sections is None:
        sections = [class_section(names[c]) for c in y]
    sections, right = np.asarray(sections, dtype=str), pred == y
    out = {}
    for name in dict.fromkeys([*(s for s in SECTIONS if s in sections), *sections.tolist()]):
        here = sections == name
        out[str(name)] = float(np.mean([right[here & (y == c)].mean() for c in np.unique(y[here])]))
    return out


def model_reports(model, data, drawn=None) -> dict[str, dict]:
    """The reports saved with a model (``store.save_model``): ``""``, the full report on ``data``'s test part;
    ``DRAWN``, on drawn input, when ``drawn`` (images, classes, sections; see ``drawn.drawn_test``) is given."""
    y = data.labels_as_classes(data.y_test)
    reports = {"": {**evaluate_arrays(model, data.x_test, y, data.label_map), "dataset": data.name, "part": "test"}}
    if drawn is not None:
        x, y, sections = drawn
        reports[DRAWN] = {
            **evaluate_arrays(model, x, y, data.label_map, sections=sections),
            "dataset": DRAWN,
            "part": "test",
        }
    return reports


CLASS_ECHO = 12  # characters of a typed class shown back in a message


def class_name(text, names) -> str:
    """A typed class -> its name in ``names`` (``labels.class_from_text``: "q" is q, "c" is C, "C / c" is C).
    ValueError, saying what the classes are, for anything else."""
    name = class_from_text(text, names)
    if name is not None:
        return name
    text = str(text or "").strip()
    shown = text if len(text) <= CLASS_ECHO else text[:CLASS_ECHO] + "..."  # the message stays short
    raise ValueError(f"{shown!r} is not an EMNIST ByMerge class; choose one of {' '.join(names)}")


def find_mistakes(report: dict, true_class, predicted_class) -> tuple[str, str, list[tuple[int, float]]]:
    """The test images a report's model read as ``predicted_class`` when they were ``true_class``:
    (true name, predicted name, [(index into the test set, confidence)], surest first).
    ValueError with a message for a person when the classes are not two different classes."""
    names = report["classes"]
    if report.get("lesson"):  # a class of EMNIST's, but not of this lesson, is said to be outside it
        for text in (true_class, predicted_class):
            name = class_from_text(text, lesson_classes(DEFAULT_LESSON))  # lessons are ByMerge's
            if name is not None and name not in names:
                raise ValueError(
                    f"{display_name(name)} is not in the lesson {LESSONS[report['lesson']]!r}; "
                    f"choose one of {' '.join(names)}"
                )
    true_name, pred_name = class_name(true_class, names), class_name(predicted_class, names)
    if true_name == pred_name:
        raise ValueError("Choose two different classes: the gallery shows images of one read as the other.")
    t, p = names.index(true_name), names.index(pred_name)
    hits = [(i, top[0][1]) for i, y, top in report["misclassified"] if y == t and top[0][0] == p]
    return true_name, pred_name, sorted(hits, key=lambda hit: -hit[1])
