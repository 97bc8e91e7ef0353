"""The evaluation report on a case worked out by hand: every number below is counted from the table."""

import math

import numpy as np
import pytest

from emnist_core.data.labels import label_map, lesson_classes
from emnist_core.models.evaluation import TOP_K_MISTAKES, find_mistakes, lesson_report, report_from_probabilities

LABELS = label_map("bymerge")
NAMES = list(LABELS.names)
# (true class, {predicted class: probability}) per image; classes not named get 0.
CASES = [
    ("O", {"0": 0.6, "O": 0.3, "D": 0.1}),  # 0: O read as 0, O second
    ("O", {"0": 0.5, "Q": 0.3, "O": 0.2}),  # 1: O read as 0, O third
    ("O", {"0": 0.5, "D": 0.3, "Q": 0.2}),  # 2: O read as 0, O not even in the top 3
    ("0", {"O": 0.8, "0": 0.15, "D": 0.05}),  # 3: 0 read as O
    ("O", {"O": 0.9, "0": 0.1}),  # 4: right
    ("0", {"0": 0.7, "O": 0.2, "D": 0.1}),  # 5: right
    ("7", {"7": 0.95, "1": 0.05}),  # 6: right
]


def c(name: str) -> int:
    return NAMES.index(name)


def probabilities_and_labels():
    probs = np.zeros((len(CASES), LABELS.num_classes))
    for i, (_, guesses) in enumerate(CASES):
        for name, p in guesses.items():
            probs[i, c(name)] = p
    return probs, np.array([c(true) for true, _ in CASES])


@pytest.fixture(scope="module")
def report():
    return report_from_probabilities(*probabilities_and_labels(), LABELS, with_details=True)


def test_summary_numbers(report):
    assert report["n"] == 7
    assert report["accuracy"] == pytest.approx(3 / 7)  # images 4, 5, 6
    assert report["top3"] == pytest.approx(6 / 7)  # all but image 2; image 1 only in third place
    # recall: O 1 of 4, 0 1 of 2, 7 1 of 1; classes with no image do not count
    assert report["mean_recall"] == pytest.approx((1 / 4 + 1 / 2 + 1) / 3)
    p_true = [0.3, 0.2, 1e-7, 0.15, 0.9, 0.7, 0.95]  # image 2's 0 is clipped to 1e-7
    assert report["loss"] == pytest.approx(-np.mean(np.log(p_true)), rel=1e-4)
    assert report["classes"] == NAMES


def test_confused_pairs_go_from_true_to_predicted(report):
    assert report["confused_pairs"] == [
        {"true": "O", "predicted": "0", "count": 3},
        {"true": "0", "predicted": "O", "count": 1},
    ]


def test_confusion_matrix_rows_are_the_true_class(report):
    expected = np.zeros((LABELS.num_classes,) * 2, int)
    expected[c("O"), c("0")] = 3
    expected[c("O"), c("O")] = 1
    expected[c("0"), c("O")] = 1
    expected[c("0"), c("0")] = 1
    expected[c("7"), c("7")] = 1
    assert report["confusion_matrix"] == expected.tolist()


def test_per_class_precision_recall_support(report):
    per_class = report["per_class"]
    assert list(per_class) == NAMES
    # O: 4 images, 1 read right; read as O twice (images 3 and 4), once rightly.
    assert per_class["O"] == pytest.approx({"precision": 1 / 2, "recall": 1 / 4, "f1": 1 / 3, "support": 4})
    # 0: 2 images, 1 read right; read as 0 four times (0, 1, 2, 5), once rightly.
    assert per_class["0"] == pytest.approx({"precision": 1 / 4, "recall": 1 / 2, "f1": 1 / 3, "support": 2})
    assert per_class["7"] == pytest.approx({"precision": 1, "recall": 1, "f1": 1, "support": 1})
    assert all(per_class[name]["support"] == 0 for name in NAMES if name not in ("O", "0", "7"))
    assert per_class["D"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_misclassified_lists_index_true_class_and_top3_surest_first(report):
    surest = [  # each mistake's guesses, surest first
        [[c("0"), 0.6], [c("O"), 0.3], [c("D"), 0.1]],
        [[c("0"), 0.5], [c("Q"), 0.3], [c("O"), 0.2]],
        [[c("0"), 0.5], [c("D"), 0.3], [c("Q"), 0.2]],
        [[c("O"), 0.8], [c("0"), 0.15], [c("D"), 0.05]],
    ]
    assert report["misclassified"] == [
        [0, c("O"), surest[0][:TOP_K_MISTAKES]],
        [1, c("O"), surest[1][:TOP_K_MISTAKES]],
        [2, c("O"), surest[2][:TOP_K_MISTAKES]],
        [3, c("0"), surest[3][:TOP_K_MISTAKES]],
    ]


def test_summary_only_report_has_the_same_numbers_and_no_details(report):
    summary = report_from_probabilities(*probabilities_and_labels(), LABELS, with_details=False)
    assert summary == {k: report[k] for k in ("n", "accuracy", "top3", "loss", "mean_recall", "balanced_sections")}
    assert not math.isnan(summary["loss"])


def test_balanced_recall_per_section_counts_each_class_once(report):
    # By class: digits hold 0 (1 of 2 right) and 7 (1 of 1); upper holds O (1 of 4).
    assert report["balanced_sections"] == pytest.approx({"digits": (1 / 2 + 1) / 2, "upper": 1 / 4})
    assert list(report["balanced_sections"]) == ["digits", "upper"]


def test_balanced_recall_follows_the_images_own_sections():
    # As UNIPEN files them: an O drawn in the lower-case section is a small o, still class O.
    sections = ["upper", "lower", "lower", "digits", "upper", "digits", "digits"]
    report = report_from_probabilities(*probabilities_and_labels(), LABELS, with_details=False, sections=sections)
    assert report["balanced_sections"] == pytest.approx({"digits": (1 / 2 + 1) / 2, "upper": 1 / 2, "lower": 0.0})
    assert list(report["balanced_sections"]) == ["digits", "upper", "lower"]


class FixedModel:
    """A model whose answer for an image is the CASES row numbered by the image's first pixel."""

    def __init__(self, probs):
        self.probs = probs

    def predict_on_batch(self, x):
        return self.probs[np.asarray(x)[:, 0, 0].astype(int)]


@pytest.mark.parametrize("lesson, kept, right", [("digits", [3, 5, 6], 3), ("upper", [0, 1, 2, 4], 2)])
def test_a_lesson_scores_its_images_with_predictions_restricted_to_it(lesson, kept, right):
    from emnist_core.models.evaluation import evaluate_arrays

    probs, y = probabilities_and_labels()
    x = np.zeros((len(y), 28, 28), np.float32)
    x[:, 0, 0] = np.arange(len(y))
    report = evaluate_arrays(FixedModel(probs), x, y, LABELS, lesson=lesson)
    # digits: image 3 (a 0 read as O) reads 0 once O is ruled out; upper: image 0 (an O read as 0) reads O.
    assert report["lesson"] == lesson and report["n"] == len(kept)
    assert report["accuracy"] == pytest.approx(right / len(kept))
    # The report is the lesson's own: its classes, matrix and per-class figures; mistakes index the whole set.
    classes = report["classes"]
    assert tuple(classes) == lesson_classes(lesson) and list(report["per_class"]) == classes
    assert np.asarray(report["confusion_matrix"]).shape == (len(classes), len(classes))
    assert np.asarray(report["confusion_matrix"]).sum() == len(kept)
    for index, true, top in report["misclassified"]:
        assert index in kept and classes[true] == NAMES[y[index]] and all(c < len(classes) for c, _ in top)
    assert len(report["misclassified"]) == len(kept) - right


def test_a_lessons_mistakes_are_found_by_their_images_and_a_class_outside_it_is_named():
    probs, y = probabilities_and_labels()
    report = lesson_report(probs, y, LABELS, "upper")
    # Among capitals, image 1 (an O) reads Q and image 2 (an O) reads D: each found by its index in the whole set.
    assert find_mistakes(report, "O", "Q")[2] == [(1, pytest.approx(0.3 / 0.5, abs=1e-3))]
    assert [i for i, _ in find_mistakes(report, "O", "D")[2]] == [2]
    with pytest.raises(ValueError, match="0 \\(zero\\) is not in the lesson 'Capital letters'"):
        find_mistakes(report, "O", "0")
    with pytest.raises(ValueError, match="not an EMNIST ByMerge class"):
        find_mistakes(report, "?", "Q")


def test_no_lesson_is_the_report_as_before():
    from emnist_core.models.evaluation import evaluate_arrays

    probs, y = probabilities_and_labels()
    x = np.zeros((len(y), 28, 28), np.float32)
    x[:, 0, 0] = np.arange(len(y))
    assert evaluate_arrays(FixedModel(probs), x, y, LABELS) == report_from_probabilities(probs, y, LABELS)
