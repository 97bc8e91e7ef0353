"""The Challenge (issue 17): rounds over the 47 classes, the server-wide class scores (exact under thirty students
at once, kept across a restart, reset refused while training is off), and the class's drawings kept as a test set."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from emnist_core.data import cache
from emnist_core.data.labels import label_map
from emnist_core.data.preprocess import load_image
from emnist_core.lab import challenge
from emnist_core.lab.challenge import ChallengeError, Round, new_round, read_answer
from emnist_core.lab.corrections import CHALLENGE, CORRECTION, CorrectionError, CorrectionStore
from emnist_core.lab.guard import Refused, Switches
from emnist_core.lab.scores import ClassScores, scores_path
from emnist_core.lab.state import Lab
from emnist_core.lab.testsets import CLASS_DRAWINGS
from emnist_core.models import evaluation, store

from conftest import l_shapes, sketch_file

NAMES = label_map("bymerge").names
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def tops_for(mlp: str, cnn: str) -> dict:
    """What the two models read, as ``Predictor.predict_drawing`` gives it: (class, probability), best first."""
    return {"mlp": [(mlp, 0.7), ("Z", 0.2)], "cnn": [(cnn, 0.8), ("2", 0.1)]}


def wrong(asked: str) -> str:
    """A class other than ``asked``: what a model that misread it answered."""
    return "Z" if asked != "Z" else "2"


def make_lab(folder, **switches) -> Lab:
    """A lab serving the shipped pair, its corrections (and so its class scores) in ``folder``."""
    return Lab(
        data_loader=lambda: None,
        drawn_loader=lambda: None,
        corrections=CorrectionStore(folder),
        switches=Switches(**switches),
    )


# ---------------------------------------------------------------- rounds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_shuffled_round_asks_for_every_class_once(seed):
    r = new_round("shuffled", seed=seed)
    assert sorted(r.order) == sorted(NAMES) and len(r.order) == 47 and r.kind == "shuffled"
    assert new_round("shuffled", seed=seed).order == r.order  # a seed gives the same round
    assert r.order != tuple(NAMES)


def test_hardest_first_follows_the_live_cnns_drawn_recall():
    report = store.read_report(store.ASSETS_DIR / f"{store.ALIASES['cnn']}.unipen.report.json")
    r = new_round("hardest", report)
    recall = [report["per_class"][n]["recall"] for n in r.order]
    assert r.kind == "hardest" and sorted(r.order) == sorted(NAMES)
    assert recall == sorted(recall) and recall[0] < recall[-1]
    # Without a drawn report there is nothing to rank by: the round is shuffled, and says so.
    assert new_round("hardest", None, seed=0).kind == "shuffled"
    with pytest.raises(ChallengeError, match="shuffled, hardest"):
        new_round("easiest")


def test_a_round_scores_each_model_and_moves_on():
    r = Round(("g", "C", "0"))
    assert r.prompt == "g" and r.prompt_words == "Draw: g (lower case)"
    assert r.answer(tops_for("g", "g")).who == "both"
    assert r.prompt_words == "Draw: C / c"
    with pytest.raises(ChallengeError, match="asks for C / c now"):
        r.answer(tops_for("C", "C"), asked="0")
    assert r.answer(tops_for("C", "G"), asked="c").who == "mlp"  # a merged lower case asks for its class
    r.skip()  # the time ran out on an empty pad
    assert r.done and r.prompt is None and r.score == {"mlp": 2, "cnn": 1} and r.drawn == 2
    assert r.summary() == "2 of 3 drawn: CNN 1, MLP 2."
    with pytest.raises(ChallengeError, match="over"):
        r.answer(tops_for("g", "g"))


@pytest.mark.parametrize(
    "mlp, cnn, who, words",
    [
        ("q", "q", "both", "Both models read it."),
        ("q", "9", "mlp", "The MLP read it; the CNN took it for 9."),
        ("g", "q", "cnn", "The CNN read it; the MLP took it for g."),
        ("0", "9", "neither", "Neither model read it: the MLP took it for 0 (zero), the CNN took it for 9."),
    ],
)
def test_who_read_it(mlp, cnn, who, words):
    reading = read_answer(tops_for(mlp, cnn), "q")
    assert reading.who == who and reading.words() == words
    assert reading.as_dict() == {"asked": "q", "read_by": who, "answers": {"mlp": mlp, "cnn": cnn}}


def test_a_model_that_gave_no_answer_read_nothing_and_unknown_classes_are_refused():
    assert read_answer({"cnn": [("q", 0.9)]}, "q").who == "cnn"
    with pytest.raises(ChallengeError, match="not a class the models know"):
        read_answer(tops_for("q", "q"), "qq")


# ---------------------------------------------------------------- class scores


def test_twenty_answers_are_counted_exactly_kept_on_disk_and_kept_as_drawings(tmp_path):
    lab = make_lab(tmp_path)
    r = lab.classroom.new_round("shuffled", seed=7)
    images = l_shapes(20, seed=3)
    expected = {}
    for i in range(20):
        asked = r.prompt
        # The MLP reads every third drawing, the CNN every one but each fourth: known answers, counted exactly.
        tops = tops_for(asked if i % 3 == 0 else wrong(asked), asked if i % 4 else wrong(asked))
        assert r.answer(tops).who == lab.classroom.answer(images[i], asked, tops).reading.who
        c = expected.setdefault(asked, {"drawn": 0, "mlp_right": 0, "cnn_right": 0})
        c["drawn"] += 1
        c["mlp_right"] += i % 3 == 0
        c["cnn_right"] += i % 4 != 0
    scores = lab.classroom.scores()
    assert scores["drawings"] == 20 and scores["mlp_right"] == 7 and scores["cnn_right"] == 15
    assert scores["per_class"] == expected and r.score == {"mlp": 7, "cnn": 15}
    # A restarted server reads the same tally back from disk.
    assert ClassScores(scores_path(tmp_path)).as_dict() == scores
    assert make_lab(tmp_path).classroom.scores() == scores
    # Each drawing is kept, labelled by its prompt, as a challenge drawing: not counted as a correction.
    drawings = lab.classroom.drawings()
    assert drawings.names == list(r.order[:20]) and np.array_equal(drawings.x, images)
    assert len(lab.classroom.drawing_ids()) == 20 and lab.classroom.count() == 20  # no correction among them
    assert lab.classroom.correct(images[0], "Z", tops_for("2", "Z")).count == 1  # "1 correction on this server"


def test_thirty_students_at_once_are_counted_exactly(tmp_path):
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads swap as often as they can: a race would show
    lab = make_lab(tmp_path)
    students, each, start = 30, 4, threading.Barrier(30)
    images, errors = l_shapes(students, seed=5), []

    def student(k):
        try:
            start.wait()
            for i in range(each):
                asked = NAMES[(k + i) % len(NAMES)]
                lab.classroom.answer(images[k], asked, tops_for(asked, asked if k % 2 else wrong(asked)))
        except Exception as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=student, args=(k,)) for k in range(students)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    scores = lab.classroom.scores()
    assert (scores["drawings"], scores["mlp_right"], scores["cnn_right"]) == (120, 120, 60)
    assert sum(c["drawn"] for c in scores["per_class"].values()) == 120
    assert ClassScores(scores_path(tmp_path)).as_dict() == scores  # the file holds the last count, not an older one
    assert len(lab.classroom.drawing_ids()) == 120


def test_the_tally_on_its_own_is_exact_under_thirty_threads(tmp_path, monkeypatch):
    real, jitter = cache.atomic_write, random.Random(0)

    def slow_write(path, write):  # writes that take a while and end in any order: a lost count would show
        time.sleep(jitter.random() / 200)
        real(path, write)

    monkeypatch.setattr(cache, "atomic_write", slow_write)
    scores, start = ClassScores(tmp_path / "scores.json"), threading.Barrier(30)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def student(k):
        for i in range(20):
            start.wait()  # thirty answers at the same instant, twenty times over
            scores.add(NAMES[(k * 20 + i) % len(NAMES)], ("cnn",) if i % 2 else ("mlp", "cnn"))

    try:
        threads = [threading.Thread(target=student, args=(k,)) for k in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    totals = scores.as_dict()
    assert (totals["drawings"], totals["mlp_right"], totals["cnn_right"]) == (600, 300, 600)
    assert ClassScores(tmp_path / "scores.json").as_dict() == totals


def test_reset_is_refused_while_training_is_off(tmp_path):
    off = make_lab(tmp_path, training=False, corrections=False)
    result = off.classroom.answer(l_shapes(1)[0], "q", tops_for("q", "9"))
    assert result.kept is None and result.note == challenge.NOT_KEPT  # counted, but no drawing collected
    assert result.as_dict()["kept"] is False and off.classroom.count() == 0
    with pytest.raises(Refused, match="Training is turned off"):
        off.classroom.reset_scores()
    assert off.classroom.scores()["drawings"] == 1
    on = make_lab(tmp_path)  # the same server restarted with training on
    assert on.classroom.scores()["drawings"] == 1
    assert on.classroom.reset_scores() == 1
    assert make_lab(tmp_path).classroom.scores() == {"drawings": 0, "mlp_right": 0, "cnn_right": 0, "per_class": {}}


def test_the_scores_in_words_and_as_a_table(tmp_path):
    scores = ClassScores(tmp_path / "s.json")
    assert scores.summary() == "The class has not drawn anything in the Challenge yet."
    for right in (("mlp", "cnn"), ("cnn",), (), ("mlp", "cnn")):
        scores.add("q", right)
    for _ in range(3):
        scores.add("C", ("mlp", "cnn"))
    scores.add("0", ())  # drawn once: too few to call it the hardest
    assert scores.summary() == ("The class drew 8 characters; the CNN read 75%, the MLP 62%; hardest: q, CNN 75%.")
    assert scores.rows() == [["0 (zero)", 1, 0, 0], ["C / c", 3, 100, 100], ["q", 4, 50, 75]]
    every_one_read = ClassScores(tmp_path / "right.json")
    for _ in range(3):
        every_one_read.add("E", ("mlp", "cnn"))
    # Nothing was missed: no class is called the hardest ("hardest: E, CNN 100%" was said).
    assert every_one_read.summary() == "The class drew 3 characters; the CNN read 100%, the MLP 100%."


def test_a_damaged_tally_is_set_aside_not_fatal(tmp_path, caplog):
    path = tmp_path / "s.json"
    path.write_text('{"format": "emnist-sketch-lab class scores", "version": 1, "per_class": {"q": {"drawn": -1}}}')
    scores = ClassScores(path)
    assert scores.as_dict()["drawings"] == 0 and "set aside" in caplog.text
    assert len(list(tmp_path.glob("s.json.damaged-*"))) == 1  # kept for a person to look at, never overwritten
    scores.add("q", ())
    assert json.loads(path.read_text())["per_class"] == {"q": {"cnn_right": 0, "drawn": 1, "mlp_right": 0}}
    with pytest.raises(ValueError, match="not a ByMerge class"):
        scores.add("qq", ())
    with pytest.raises(ValueError, match="unknown model slot"):
        scores.add("q", ("rnn",))


# ---------------------------------------------------------------- the class's drawings as data


def test_challenge_drawings_are_marked_and_kept_apart_from_corrections(tmp_path):
    s = CorrectionStore(tmp_path)
    images = l_shapes(5)
    for i, label in enumerate(("q", "C", "q")):
        s.add(images[i], label, tops_for("g", label), when=START + timedelta(minutes=2 * i), source=CHALLENGE)
    s.add(images[3], "Z", tops_for("2", "2"), when=START + timedelta(minutes=1))  # a correction, as before
    s.add(images[4], "A", when=START + timedelta(minutes=9))
    drawn = s.load(CHALLENGE)
    assert drawn.names == ["q", "C", "q"] and np.array_equal(drawn.x, images[:3])
    assert s.load(CORRECTION).names == ["Z", "A"]
    assert s.load().names == ["q", "Z", "C", "q", "A"]  # fine-tuning trains on both, held out by time
    assert (s.count(), s.count(CORRECTION), s.count(CHALLENGE)) == (5, 2, 3)
    records = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert sorted(r.get("source", "none") for r in records.values()) == ["challenge"] * 3 + ["none"] * 2
    assert all(stem.endswith("-challenge") == ("source" in r) for stem, r in records.items())
    with pytest.raises(CorrectionError, match="source must be"):
        s.add(images[0], "q", source="game")


def test_the_corrections_cap_holds_for_challenge_drawings_too(tmp_path):
    lab = Lab(data_loader=lambda: None, drawn_loader=lambda: None, corrections=CorrectionStore(tmp_path, max_count=2))
    images = l_shapes(3)
    kept = [lab.classroom.answer(images[i], "q", tops_for("q", "q")) for i in range(3)]
    assert [k.kept is not None for k in kept] == [True, True, False]
    assert "full" in kept[2].note and lab.classroom.scores()["drawings"] == 3  # counted, though not kept


def test_the_class_drawings_are_a_test_set_for_the_live_models(tmp_path):
    lab = make_lab(tmp_path)
    pair = lab.models.pair
    assert lab.tests.report(pair, "cnn", CLASS_DRAWINGS) == (None, None)  # nothing drawn yet: NO_DRAWINGS says so
    x7, tops7 = lab.models.pair.predictor.predict_drawing(load_image(sketch_file(tmp_path, "7")))
    xx, topsx = lab.models.pair.predictor.predict_drawing(load_image(sketch_file(tmp_path, "X")))
    asked = ["7", "X", "Z", "7"]  # the 7 drawn when Z was asked is a mistake by its prompt
    for x, tops, name in zip((x7, xx, x7, x7), (tops7, topsx, tops7, tops7), asked):
        lab.classroom.answer(x, name, tops)
    for slot in ("mlp", "cnn"):
        report, x = lab.tests.report(pair, slot, CLASS_DRAWINGS)
        assert report["n"] == 4 and x.shape == (4, 28, 28)
        assert [NAMES[c] for c in lab.classroom.drawings().y] == asked
        assert report["dataset"] == challenge.CLASS_DRAWINGS and report["model"] == lab.models.get(slot).name
        assert {n: s["support"] for n, s in report["per_class"].items() if s["support"]} == {"7": 2, "X": 1, "Z": 1}
        read = [t[slot][0][0] for t in (tops7, topsx, tops7, tops7)]  # what the page showed for each drawing
        assert report["accuracy"] == np.mean([r == a for r, a in zip(read, asked)])
        assert np.array(report["confusion_matrix"]).sum() == 4
        if read[2] == "7":  # the usual case: the gallery finds the 7 drawn for Z, by its index into found.x
            _true_name, _pred_name, hits = evaluation.find_mistakes(report, "Z", "7")
            assert [i for i, _ in hits] == [2] and np.array_equal(x[2], x7)
        assert lab.tests.report(pair, slot, CLASS_DRAWINGS)[0] is report  # kept until a drawing is added
    lab.classroom.answer(xx, "X", topsx)
    assert lab.tests.report(pair, "cnn", CLASS_DRAWINGS)[0]["n"] == 5
