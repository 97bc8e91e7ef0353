"""A lesson's probabilities: a model's answer when the teacher has said what is being drawn.

``labels.LESSONS`` names the lessons and which classes each allows. Restricting is conditioning: the
probability of each allowed class given that the drawing is one of them, p(c) / sum of p over the lesson,
and 0 for every other class. Applied after temperature scaling, it equals the calibrated softmax over the
lesson's classes alone, so calibrated confidences (and the verdict's "not sure") keep their meaning. The class
order and the number of columns are kept: a class index means the same class restricted or not.
"""

from __future__ import annotations

import numpy as np

from emnist_core.data.labels import DEFAULT_LESSON, check_lesson, lesson_indices


def lesson_mask(lesson: str, num_classes: int, split: str = "bymerge") -> np.ndarray:
    """bool (num_classes,): True for the classes ``lesson`` allows."""
    mask = np.zeros(num_classes, bool)
    mask[list(lesson_indices(lesson, split))] = True
    return mask


def restrict(probs, lesson: str | None = DEFAULT_LESSON, split: str = "bymerge") -> np.ndarray:
    """(C,) or (N, C) probabilities -> the same restricted to ``lesson``'s classes and renormalised per row.

    ``"all"`` returns ``probs`` as it is. A row that gives every allowed class 0 (underflow) becomes uniform
    over the lesson: the model has no preference among them.
    """
    lesson = check_lesson(lesson)
    probs = np.asarray(probs)
    if lesson == DEFAULT_LESSON:
        return probs
    mask = lesson_mask(lesson, probs.shape[-1], split)
    kept = np.where(mask, probs.astype(np.float64), 0.0)
    total = kept.sum(axis=-1, keepdims=True)
    out = np.where(total > 0, kept / np.where(total > 0, total, 1.0), mask / mask.sum())
    return out.astype(probs.dtype if probs.dtype.kind == "f" else np.float64)


def in_lesson(y, lesson: str | None = DEFAULT_LESSON, split: str = "bymerge") -> np.ndarray:
    """bool per label ``y`` (0-based class positions): whether its class belongs to ``lesson``."""
    return np.isin(np.asarray(y), lesson_indices(check_lesson(lesson), split))
