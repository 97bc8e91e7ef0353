"""The Challenge tab's API and handlers (issue 17): /challenge_next deals a round, /challenge_answer counts and keeps
each drawing, /class_scores and /reset_class_scores, and the class's drawings as the Confusions tab's third test
set. The app is served in this process and driven with gradio_client, as other programs use it."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from emnist_core.data.labels import display_name, label_map
from emnist_core.data.sketchpad import CANVAS
from emnist_core.lab.challenge import CLASS_DRAWINGS, NO_DRAWINGS, RESET_OFF, Round, prompt_text
from emnist_core.lab.classroom import Classroom
from emnist_core.lab.corrections import CHALLENGE, CorrectionStore
from emnist_core.lab.scores import ClassScores, scores_path
from emnist_core.models.evaluation import EMNIST
from ui import challenge, classview, pad
from ui.checks import SKETCH_TAKES

from conftest import served, sketch, sketch_file

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

NAMES = label_map("bymerge").names
ROUNDS = 20
GLYPH_PX = 260  # a typed character's size on the 400-pixel canvas: most of it, as a finger draws on a phone


@pytest.fixture(scope="module")
def client(demo):
    with served(demo) as url:
        yield gradio_client.Client(url, verbose=False)


@pytest.fixture
def kept(lab, tmp_path, monkeypatch):
    """The lab's corrections, challenge drawings and class scores go to a folder of this test's own."""
    folder = tmp_path / "corrections"
    monkeypatch.setattr(lab, "classroom", Classroom(lab.guard, CorrectionStore(folder)))
    return folder


def typed_sketch(folder, char: str):
    """A sketchpad composite of ``char`` typed in Pillow's own font, black on white: a drawing of any class that
    the models read right or wrong, as a pupil's is."""
    image = Image.new("RGB", (CANVAS, CANVAS), "white")
    font = ImageFont.load_default(size=GLYPH_PX)
    ImageDraw.Draw(image).text((CANVAS / 2, CANVAS / 2), char, fill="black", font=font, anchor="mm")
    path = folder / f"typed-{ord(char)}.png"
    image.save(path)
    return path


def read_as(client, drawing) -> dict:
    """What /predict says each model read ``drawing`` as (plain class names): the path the Challenge does not use."""
    mlp, cnn, _, _ = client.predict(sketch(drawing), api_name="/predict")
    return {"mlp": mlp["label"], "cnn": cnn["label"]}


def test_twenty_rounds_are_counted_exactly_and_kept_on_disk(client, lab, kept, tmp_path):
    expected, asked_in_order, readings = {}, [], []
    for i in range(ROUNDS):
        name, words, left = client.predict(api_name="/challenge_next")
        assert name in NAMES and words == f"Draw: {prompt_text(name)}" and left == len(NAMES) - 1 - i
        drawing = typed_sketch(tmp_path, name)
        read = read_as(client, drawing)
        who, sentence, detail = client.predict(sketch(drawing), name, api_name="/challenge_answer")
        right = {slot for slot, top in read.items() if top == name}
        assert detail == {"asked": name, "read_by": who, "answers": read, "kept": True, "note": ""}
        assert who == ("both" if len(right) == 2 else right.pop() if right else "neither"), (name, read, who)
        assert sentence.endswith(".") and ("read it" in sentence)
        counts = expected.setdefault(name, {"drawn": 0, "mlp_right": 0, "cnn_right": 0})
        counts["drawn"] += 1
        for slot in read:
            counts[f"{slot}_right"] += read[slot] == name
        asked_in_order.append(name)
        readings.append(read)
    assert len(set(asked_in_order)) == ROUNDS  # a round asks for each class once
    totals = {key: sum(c[key] for c in expected.values()) for key in ("drawn", "mlp_right", "cnn_right")}
    print(f"{ROUNDS} typed characters: CNN read {totals['cnn_right']}, MLP {totals['mlp_right']}")

    scores, summary, rows = client.predict(api_name="/class_scores")
    assert scores == {
        "drawings": ROUNDS,
        "mlp_right": totals["mlp_right"],
        "cnn_right": totals["cnn_right"],
        "per_class": {n: expected[n] for n in NAMES if n in expected},
    }
    assert summary.startswith(f"The class drew {ROUNDS} characters") and len(rows) == ROUNDS
    # Kept on disk: what a restarted server reads back, the tally and every drawing labelled by its prompt.
    assert ClassScores(scores_path(kept)).as_dict() == scores
    drawings = CorrectionStore(kept).load(CHALLENGE)
    assert drawings.names == asked_in_order and len(CorrectionStore(kept).load()) == ROUNDS
    first, _ = lab.models.pair.predictor.predict_drawing(
        np.asarray(Image.open(typed_sketch(tmp_path, asked_in_order[0]))), 5
    )
    assert np.array_equal(drawings.x[0], first)  # the exact 28x28 the models read


def test_each_client_is_dealt_every_class_once_a_round(client):
    other = gradio_client.Client(client.src, verbose=False)  # another program: its own session, its own round
    assert other.predict(api_name="/challenge_next")[2] == len(NAMES) - 1
    for _ in range(client.predict(api_name="/challenge_next")[2]):  # what an earlier test left of this round
        client.predict(api_name="/challenge_next")
    dealt = [client.predict(api_name="/challenge_next") for _ in NAMES]  # the round over, a new one is dealt
    assert sorted(name for name, _, _ in dealt) == sorted(NAMES)
    assert [left for _, _, left in dealt] == list(range(len(NAMES) - 1, -1, -1))
    assert other.predict(api_name="/challenge_next")[2] == len(NAMES) - 2  # untouched by the first client


@pytest.mark.parametrize(
    "payload, asked, says",
    [
        ("seven", "qq", "not a class the models know"),
        ("seven", None, "Send the class you were asked to draw"),
        ("seven", "", "Send the class you were asked to draw"),
        ("blank", "7", "The canvas is empty"),
        ("text", "7", SKETCH_TAKES.format("challenge_answer")[:40]),
    ],
)
def test_a_bad_answer_is_refused_with_what_to_send_and_not_counted(client, kept, tmp_path, payload, asked, says):
    drawing = {
        "seven": lambda: sketch(sketch_file(tmp_path, "7")),
        "blank": lambda: sketch(sketch_file(tmp_path, None)),
        "text": lambda: "a seven",
    }[payload]()
    with pytest.raises(AppError, match=says):
        client.predict(drawing, asked, api_name="/challenge_answer")
    assert client.predict(api_name="/class_scores")[0]["drawings"] == 0
    assert not CorrectionStore(kept).ids()


def test_reset_clears_the_tally_not_the_drawings_and_is_refused_while_training_is_off(
    client, kept, tmp_path, training_off
):
    client.predict(sketch(sketch_file(tmp_path, "7")), "7", api_name="/challenge_answer")
    assert client.predict(api_name="/reset_class_scores") == "The class scores were reset (1 drawing had been counted)."
    assert client.predict(api_name="/class_scores")[0] == {
        "drawings": 0,
        "mlp_right": 0,
        "cnn_right": 0,
        "per_class": {},
    }
    assert len(CorrectionStore(kept).load(CHALLENGE)) == 1  # the drawing stays: only the tally was cleared

    off_lab, off_client = training_off
    off_client.predict(sketch(sketch_file(tmp_path, "X")), "X", api_name="/challenge_answer")
    before = off_lab.classroom.scores()
    assert before["drawings"] >= 1
    with pytest.raises(AppError, match="the class scores cannot be reset here"):
        off_client.predict(api_name="/reset_class_scores")
    assert off_lab.classroom.scores() == before
    # On the page the button says the same and shows the scores unchanged.
    message, armed, _, summary = challenge.reset_on_page(off_lab, True)  # even a confirmed press
    assert message == RESET_OFF and not armed and summary.startswith("The class drew")


def test_the_class_drawings_are_the_confusions_third_test_set(client, lab, kept, tmp_path):
    summary, matrix, pairs, table, note = client.predict("cnn", CLASS_DRAWINGS, api_name="/confusions")
    assert summary == NO_DRAWINGS and matrix is None
    assert client.predict("cnn", "X", "7", CLASS_DRAWINGS, api_name="/gallery")[1] == NO_DRAWINGS
    # Asked for X, the pupil drew a 7 (both models read it as 7): a mistake the Confusions tab can show.
    seven, ex = sketch(sketch_file(tmp_path, "7")), sketch(sketch_file(tmp_path, "X"))
    for drawing, asked in ((seven, "X"), (seven, "X"), (ex, "X"), (seven, "7")):
        client.predict(drawing, asked, api_name="/challenge_answer")
    summary, matrix, pairs, table, note = client.predict("cnn", CLASS_DRAWINGS, api_name="/confusions")
    assert "on 4 drawings by this class (Challenge): accuracy **50.0%**" in summary, summary
    assert matrix is not None and note == ""
    assert pairs["choices"][0][1] == "X -> 7" and pairs["choices"][0][0].endswith(": 2")
    images, message = client.predict("cnn", "X", "7", CLASS_DRAWINGS, api_name="/gallery")
    assert len(images) == 2 and message.startswith(f"2 class drawings of **{display_name('X')}** read as **7**"), (
        message
    )
    # In the upper-case lesson the 7 drawn for "7" does not count and the X drawings are read among capitals.
    summary, _, pairs, table, _ = client.predict("cnn", CLASS_DRAWINGS, "upper", api_name="/confusions")
    assert "on 3 drawings by this class (Challenge) of the lesson **Capital letters**" in summary, summary
    # Only the classes drawn get a row: a capital never drawn has no row of zeros.
    assert [(row[0], row[-1]) for row in table["data"]] == [("X", 3)], table
    assert all("7" not in value for _, value in pairs["choices"])
    # The other test sets are as before, and an unknown one is still refused.
    assert "EMNIST test images" in client.predict("cnn", EMNIST, api_name="/confusions")[0]
    with pytest.raises(AppError, match=f"choose pool47, unipen, {CLASS_DRAWINGS}"):
        client.predict("cnn", "challenges", api_name="/confusions")


# ---------------------------------------------------------------- the page's handlers


def test_done_counts_and_moves_on(lab, kept, tmp_path):
    current = Round(("7", "X", "g"))
    seven = np.asarray(Image.open(sketch_file(tmp_path, "7")).convert("RGB"))
    # Done on an empty pad asks for a drawing beside the button; nothing moves.
    out = challenge.finish(lab, current, 0, None, "No time limit")
    assert out[6] == "Draw 7 first, then press Done." and current.position == 0
    _state, shown, prompt, verdict, score, when, clock, cleared = challenge.finish(lab, current, 0, seven, "20 s")
    assert verdict == "**7**: Both models read it." and shown == 1 and cleared == pad.EMPTY
    assert prompt == f"## Draw: {display_name('X')}" and score == "Your round: 1 of 3 drawn: CNN 1, MLP 1."
    assert 19 <= when - time.time() <= 20 and clock == "20 s left"
    assert lab.classroom.scores()["per_class"] == {"7": {"drawn": 1, "mlp_right": 1, "cnn_right": 1}}
    # A second press for the prompt already answered (a double tap) changes nothing: the verdict stays.
    assert challenge.finish(lab, current, 0, None, "20 s") == (gr.skip(),) * 8
    assert challenge.finish(lab, current, 0, seven, "20 s") == (gr.skip(),) * 8
    assert current.position == 1 and lab.classroom.scores()["drawings"] == 1
    assert challenge.scores_view(lab).startswith("The class drew 1 character;")
    board = classview.board(lab)  # the projector's view: one card, for 7, read right by both
    assert board.count('class="cv-class"') == 1 and "1 drawn" in board and board.count("✓") == 2


def test_the_class_view_names_a_hard_class_only_once_it_was_drawn_a_few_times():
    counts = lambda drawn, mlp, cnn: {"drawn": drawn, "mlp_right": mlp, "cnn_right": cnn}
    # Each class drawn once and read wrong: too soon to name one, and never "every class was read right".
    once = classview.hardest({"D": counts(1, 0, 0), "W": counts(1, 0, 0)})
    assert "Too soon to say" in once and "read right" not in once
    # Drawn twice and read right, beside a class read wrong once: nothing hard, said of the classes drawn enough.
    assert "every class drawn 2 times or more was read right" in classview.hardest(
        {"7": counts(2, 2, 2), "D": counts(1, 0, 0)}
    )
    # A class drawn twice and read wrong once is named, with each model's share.
    named = classview.hardest({"7": counts(2, 2, 2), "Q": counts(2, 1, 2)})
    assert 'class="cv-hard"' in named and ">Q<" in named and "CNN 100% · MLP 50% of 2" in named and ">7<" not in named


def test_the_time_limit_skips_an_empty_pad_and_answers_a_drawn_one(lab, kept, tmp_path):
    current = Round(("7", "X", "g"))
    seven = np.asarray(Image.open(sketch_file(tmp_path, "7")).convert("RGB"))
    later = time.time() + 5
    assert challenge.tick(lab, current, 0, seven, later, "10 s")[-2] in ("5 s left", "4 s left")
    assert current.position == 0  # a tick before the time is up only counts down
    out = challenge.tick(lab, current, 0, None, time.time() - 0.1, "10 s")
    assert out[3] == "Time's up: **7** skipped." and out[2] == f"## Draw: {display_name('X')}" and current.drawn == 0
    out = challenge.tick(lab, current, 1, seven, time.time() - 0.1, "10 s")
    assert out[3].startswith(f"Time is up. **{display_name('X')}**: Neither model read it") and current.drawn == 1
    assert lab.classroom.scores()["drawings"] == 1
    current.skip()
    out = challenge.finish(lab, current, None, seven, "10 s")
    assert out[3] == challenge.ROUND_OVER and out[5] is None and lab.classroom.scores()["drawings"] == 1
