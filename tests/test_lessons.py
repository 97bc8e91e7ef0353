"""Lessons: both models' answers restricted to what the teacher says is being drawn (digits, letters, capitals)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from emnist_core.data.labels import LESSONS, label_map, lesson_classes
from emnist_core.data.preprocess import preprocess
from emnist_core.data.sketchpad import render_strokes
from emnist_core.models.lessons import restrict
from emnist_core.models.temperature import apply_temperature
from emnist_core.serving.predictor import Predictor

from conftest import run_cli, synthetic, untrained_model, write_csv

NAMES = label_map("bymerge").names
BAR = [[(0, 0), (0, 1)]]  # one pen stroke straight down: what a pupil draws for a 1 (and for an l)


def drawn_bar(seed: int = 0) -> np.ndarray:
    """A bar drawn with the sketchpad's brush, as the models see it (28x28)."""
    return preprocess(render_strokes(BAR, np.random.default_rng(seed)))


def random_probabilities(n: int, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).dirichlet(np.ones(len(NAMES)), size=n).astype(np.float32)
    return p


@pytest.mark.parametrize("lesson", [k for k in LESSONS if k != "all"])
def test_restricted_rows_sum_to_one_and_keep_only_the_lessons_classes(lesson):
    p = random_probabilities(20)
    r = restrict(p, lesson)
    allowed = [NAMES.index(n) for n in lesson_classes(lesson)]
    outside = np.setdiff1d(np.arange(len(NAMES)), allowed)
    assert r.shape == p.shape and r.dtype == p.dtype
    assert np.allclose(r.sum(axis=1), 1, atol=1e-6)
    assert (r[:, outside] == 0).all()
    # Conditioning keeps the odds between allowed classes.
    assert np.allclose(r[:, allowed] / r[:, allowed[:1]], p[:, allowed] / p[:, allowed[:1]], rtol=1e-5)


def test_all_is_the_models_own_answer_untouched():
    p = random_probabilities(5)
    assert restrict(p, "all") is p and restrict(p, None) is p


def test_after_temperature_it_is_the_calibrated_softmax_over_the_lesson():
    p, t = random_probabilities(4, seed=1), 1.7
    digits = list(range(10))
    z = np.log(p[:, digits].astype(np.float64)) / t
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert np.allclose(restrict(apply_temperature(p, t), "digits")[:, digits], expected, atol=1e-6)


def test_a_row_that_gives_the_lesson_nothing_is_uniform_over_it():
    p = np.zeros((1, len(NAMES)), np.float32)
    p[0, NAMES.index("A")] = 1
    r = restrict(p, "digits")
    assert np.allclose(r[0, :10], 0.1) and r[0, 10:].sum() == 0


def test_an_unknown_lesson_says_what_the_lessons_are():
    with pytest.raises(ValueError, match="choose one of all, digits, letters, upper"):
        restrict(random_probabilities(1), "vowels")


# ---------------------------------------------------------------- the Predictor


@pytest.fixture(scope="module")
def toy():
    return untrained_model()


def test_predictor_restricts_after_calibration(toy):
    x = np.random.default_rng(0).integers(0, 256, (6, 28, 28)).astype(np.uint8)
    plain = Predictor({"m": toy}, temperatures={"m": 1.7})
    own = apply_temperature(np.asarray(toy.predict_on_batch(x.astype(np.float32))), 1.7)
    assert np.array_equal(plain.probabilities(x)["m"], own)  # the default, "all", is exactly as before
    digits = plain.probabilities(x, "digits")["m"]
    assert np.allclose(digits, restrict(own, "digits"), atol=1e-6)
    assert np.allclose(Predictor({"m": toy}, temperatures={"m": 1.7}, lesson="digits").probabilities(x)["m"], digits)


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_top_k_never_names_a_class_outside_the_lesson(toy, lesson):
    x = np.random.default_rng(1).integers(0, 256, (4, 28, 28)).astype(np.uint8)
    allowed = set(lesson_classes(lesson))
    tops = Predictor({"m": toy}).top_k(x, k=20, lesson=lesson)["m"]
    for top in tops:
        assert len(top) == min(20, len(allowed))
        assert {name for name, _ in top} <= allowed
        assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)


def test_a_bad_lesson_is_refused_before_any_model_runs(toy):
    with pytest.raises(ValueError, match="choose one of"):
        Predictor({"m": toy}, lesson="kanji")
    with pytest.raises(ValueError, match="choose one of"):
        Predictor({"m": toy}).top_k(np.zeros((28, 28)), lesson="kanji")


@pytest.fixture(scope="module")
def shipped():
    return Predictor.load(("mlp", "cnn"))


@pytest.mark.parametrize("seed", range(3))
def test_a_drawn_bar_in_the_digits_lesson_reads_1(shipped, seed):
    bar = drawn_bar(seed)
    for model, top in shipped.top_k(bar, k=5, lesson="digits").items():
        assert top[0][0][0] == "1", (model, top[0])
        assert all(name.isdigit() for name, _ in top[0])
    letters = shipped.top_k(bar, k=5, lesson="letters")
    assert all(top[0][0][0] in ("L", "I") for top in letters.values()), letters


def test_the_lab_explains_the_lessons_answer():
    from emnist_core.lab.state import Lab

    lab = Lab(data_loader=lambda: None)
    bar = drawn_bar()
    assert {e.target for e in lab.models.pair.explain(bar, "digits").values()} == {"1"}
    assert all(e.target in lesson_classes("upper") for e in lab.models.pair.explain(bar, "upper").values())
    assert all(e.caption.endswith(f"made it read {e.target}") for e in lab.models.pair.explain(bar).values())
    with pytest.raises(ValueError, match="choose one of"):
        lab.models.pair.explain(bar, "kanji")


# ---------------------------------------------------------------- the command line


def test_predict_with_classes_digits_reads_a_drawn_bar_as_1(tmp_path):
    canvas = render_strokes(BAR, np.random.default_rng(0))
    Image.fromarray(canvas).save(tmp_path / "bar.png")
    line = json.loads(
        run_cli("predict", "--model", "cnn", "--classes", "digits", "--json", tmp_path / "bar.png").stdout
    )
    assert line["top"][0][0] == "1" and all(name.isdigit() for name, _ in line["top"])
    assert sum(p for _, p in line["top"]) <= 1.0001


def test_evaluate_with_classes_scores_only_that_lessons_images(tmp_path, tiny_model):
    x, y = synthetic(40, 2)  # 20 'L' shapes (class L), 20 mirrored (class 7)
    csv = write_csv(tmp_path / "emnist-bymerge-test.csv", x, y)
    digits = json.loads(
        run_cli("evaluate", "--model", tiny_model, "--csv", csv, "--classes", "digits", "--json").stdout
    )
    assert digits["lesson"] == "digits" and digits["n"] == 20 and digits["accuracy"] > 0.9
    assert set(digits["balanced_sections"]) == {"digits"}
    upper = json.loads(run_cli("evaluate", "--model", tiny_model, "--csv", csv, "--classes", "upper", "--json").stdout)
    assert upper["n"] == 20 and set(upper["balanced_sections"]) == {"upper"}
    every = json.loads(run_cli("evaluate", "--model", tiny_model, "--csv", csv, "--json").stdout)
    assert every["n"] == 40 and "lesson" not in every
    assert every["mean_recall"] == pytest.approx(np.mean(list(every["balanced_sections"].values())))
    refused = run_cli(
        "evaluate", "--model", tiny_model, "--csv", csv, "--classes", "digits", "--save-report", check=False
    )
    assert refused.returncode == 2 and "leave out --classes" in refused.stderr
