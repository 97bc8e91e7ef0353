"""The teacher's key: what changes the class's server needs it where it is set, over the API as on the page; the key
is never kept, echoed or logged; wrong keys are counted; a laptop with no key stays open."""

from __future__ import annotations

import logging
import time

import pytest

from emnist_core.lab import guard
from emnist_core.lab.guard import (
    ACTIONS,
    COLLECT,
    RESET_SCORES,
    TEACHER_ONLY,
    TRAIN,
    WRONG_KEYS_ALLOWED,
    Guard,
    Refused,
    Switches,
    Teacher,
    TeacherKey,
)

from conftest import served

KEY = "correct-horse-battery-staple"


@pytest.fixture
def locked() -> Guard:
    return Guard(Switches(), TeacherKey(KEY))


def test_without_a_key_everything_is_open_as_before():
    open_guard = Guard(Switches())
    assert not open_guard.locked and open_guard.sign_in(KEY, "page") is None
    for action in ACTIONS:
        open_guard.check(action)  # no teacher needed
        assert open_guard.shows(action, None)


def test_with_a_key_each_action_that_changes_the_class_needs_the_teacher(locked):
    for action in TEACHER_ONLY:
        with pytest.raises(Refused, match=f"Only the teacher can {action} on this server.*teacher key"):
            locked.check(action)
        assert not locked.shows(action, None)
    locked.check(COLLECT)  # pupils still teach the models their handwriting
    teacher = locked.sign_in(KEY, "page")
    for action in TEACHER_ONLY:
        locked.check(action, teacher)
        assert locked.shows(action, teacher)
    with pytest.raises(Refused):  # a pass must be one this server signed
        locked.check(TRAIN, Teacher(f"{int(time.time()) + 999}.{'0' * 64}"))


def test_the_key_is_never_kept_and_the_pass_is_not_the_key(locked, caplog):
    teacher = locked.sign_in(KEY, "page")
    kept = b"".join(
        v if isinstance(v, bytes) else repr(v).encode() for v in (*vars(locked).values(), *vars(locked._key).values())
    )
    assert KEY not in teacher.token and KEY.encode() not in kept
    with caplog.at_level(logging.INFO), pytest.raises(Refused) as wrong:
        locked.sign_in("not-the-key-at-all", "page")
    assert "not-the-key-at-all" not in str(wrong.value) and "not-the-key-at-all" not in caplog.text
    # The pass is taken back later instead of the key, by this server and by one restarted with the same key ...
    assert locked.sign_in(teacher.token, "page") == teacher
    assert Guard(Switches(), TeacherKey(KEY)).is_teacher(teacher)
    # ... and not by one whose key changed.
    assert not Guard(Switches(), TeacherKey("another-key-entirely")).is_teacher(teacher)


def test_a_pass_expires(locked, monkeypatch):
    teacher = locked.sign_in(KEY, "page")
    later = time.time() + guard.PASS_DAYS * 86_400 + 60
    monkeypatch.setattr(guard.time, "time", lambda: later)
    assert not locked.is_teacher(teacher)
    assert locked.sign_in(teacher.token, "page") is None  # an old pass is not a wrong key: nothing is counted


def test_wrong_keys_are_counted_per_asker_and_refused_for_a_while(locked, monkeypatch):
    for _ in range(WRONG_KEYS_ALLOWED):
        with pytest.raises(Refused, match="not the teacher key"):
            locked.sign_in("guess", "pupil")
    with pytest.raises(Refused, match="Too many wrong teacher keys"):
        locked.sign_in(KEY, "pupil")  # even the right key, from there, for now
    assert locked.sign_in(KEY, "teacher") is not None  # another page is not held up
    later = time.time() + guard.WRONG_KEYS_WINDOW + 1
    monkeypatch.setattr(guard.time, "time", lambda: later)
    assert locked.sign_in(KEY, "pupil") is not None  # a minute on, the key works there again


def test_the_key_is_read_from_the_environment_once():
    assert TeacherKey.from_env({}) is None and TeacherKey.from_env({guard.TEACHER_KEY: "  "}) is None
    assert TeacherKey.from_env({guard.TEACHER_KEY: KEY}).is_key(KEY)


# ---------------------------------------------------------------- over the API


@pytest.fixture(scope="module")
def locked_server(app_module, tmp_path_factory):
    """A server with a teacher key, its page served in this process: (lab, a gradio_client on it)."""
    import gradio_client

    from emnist_core.lab.corrections import CorrectionStore

    from conftest import drawn_from_pack

    lab = app_module.Lab(
        drawn_loader=drawn_from_pack,
        corrections=CorrectionStore(tmp_path_factory.mktemp("corrections")),
        teacher_key=TeacherKey(KEY),
        own_processes=False,
    )
    with served(app_module.build_demo(lab)) as url:
        yield lab, gradio_client.Client(url, verbose=False)


@pytest.mark.parametrize(
    ("api_name", "args"),
    [
        ("/reset_class_scores", ()),
        ("/train", ("seed-mlp", 1, 256, 0.001, 500)),
        ("/fine_tune", ("cnn",)),
        ("/cancel_training", ()),
        ("/restore_models", ()),
        ("/clear_corrections", (True,)),
    ],
)
def test_a_program_without_the_key_changes_nothing(locked_server, api_name, args):
    from gradio_client.exceptions import AppError

    lab, client = locked_server
    live = lab.models.pair
    try:
        answer = client.predict(*args, api_name=api_name)
        text = answer[0] if isinstance(answer, (list, tuple)) else answer
    except AppError as exc:  # an endpoint for programs only refuses as an error
        text = str(exc)
    assert "Only the teacher can" in text and "teacher_key" in text, text
    assert lab.models.pair is live and not lab.jobs.busy


def test_a_program_with_the_key_resets_and_a_wrong_key_is_told(locked_server):
    from gradio_client.exceptions import AppError

    lab, client = locked_server
    with pytest.raises(AppError, match="not the teacher key"):
        client.predict("nope", api_name="/reset_class_scores")
    assert client.predict(KEY, api_name="/reset_class_scores").startswith("The class scores were reset")
    lab.guard.check(RESET_SCORES, lab.guard.sign_in(KEY, "test"))  # and the guard agrees


def test_drawing_and_teaching_stay_open_to_pupils(locked_server):
    from conftest import pad_value

    _lab, client = locked_server
    boxes = client.predict(pad_value("7"), api_name="/predict")
    assert boxes[0]["label"]
    kept = client.predict(pad_value("7", wobble=10), "1", api_name="/correct")
    assert kept.startswith("Kept as"), kept
