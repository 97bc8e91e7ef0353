"""A class on one server at once: every stroke answered, every Challenge drawing counted exactly once whatever the
timing of *Done* and the time limit, a tally that cannot be written changes nothing, figures drawn from many requests
at once, and nothing written to disk per stroke."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from emnist_core.data import cache
from emnist_core.lab.challenge import ChallengeError, Round
from emnist_core.lab.classroom import Classroom
from emnist_core.lab.corrections import CorrectionStore
from emnist_core.lab.figures import FigureCache
from ui import challenge

from conftest import ROOT, pad_value, served

sys.path.insert(0, str(ROOT / "bench"))
from pupils import SHAPES, Page, Pupil, strokes  # the bench's browser-protocol pupils

PUPILS = 30
ROUNDS_EACH = 2  # characters a pupil draws and presses Done on
PAUSE = 0.05  # seconds between a pupil's answer and its next stroke: a class at its fastest
SEVEN = pad_value("7")


@pytest.fixture
def kept(lab, tmp_path, monkeypatch):
    """The lab's corrections, Challenge drawings and class scores in a folder of this test's own."""
    folder = tmp_path / "corrections"
    monkeypatch.setattr(lab, "classroom", Classroom(lab.guard, CorrectionStore(folder)))
    return folder


def at_once(handlers):
    """Call each of ``handlers`` in a thread of its own, all released at the same moment."""
    start = threading.Barrier(len(handlers))

    def press(handler):
        start.wait()
        handler()

    threads = [threading.Thread(target=press, args=(h,)) for h in handlers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_done_and_the_time_limit_at_once_count_each_drawing_once(lab, kept, monkeypatch):
    """*Done* pressed as the time runs out: both handlers get the same round and the same prompt on screen; one
    counts the drawing, the other changes nothing, and the next prompt is asked once."""
    read = lab.reader.read

    def slow_read(*args):  # a class keeps the reader busy: both handlers are past their first look at the round
        time.sleep(0.05)
        return read(*args)

    monkeypatch.setattr(lab.reader, "read", slow_read)
    for _ in range(10):
        current = Round(("7", "X", "g"))
        at_once(
            (
                lambda c=current: challenge.finish(lab, c, 0, SEVEN, "10 s"),
                lambda c=current: challenge.tick(lab, c, 0, SEVEN, time.time() - 1, "10 s"),
            )
        )
        assert current.position == 1 and current.drawn == 1  # one answer, then the next class
    assert lab.classroom.scores()["drawings"] == 10
    assert len(lab.classroom.drawing_ids()) == 10


def test_a_tally_that_cannot_be_written_changes_no_count_and_says_so(lab, kept, monkeypatch):
    current = Round(("7", "X"))
    first = challenge.finish(lab, current, 0, SEVEN, "No time limit")
    assert "read it" in first[3] and lab.classroom.scores()["drawings"] == 1
    before = {p.name: p.read_bytes() for p in kept.rglob("*") if p.is_file()}
    real = cache.atomic_write

    def full_disk(path, write):
        if "scores" in str(path):
            raise OSError(28, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(cache, "atomic_write", full_disk)
    _, _, _, verdict, *_ = challenge.finish(lab, current, 1, SEVEN, "No time limit")
    assert "not counted" in verdict and "No space left on device" in verdict and "drawing goes on" in verdict
    assert current.position == 1 and lab.classroom.scores()["drawings"] == 1  # the prompt stays; no count moved
    assert {p.name: p.read_bytes() for p in kept.rglob("*") if p.is_file()} == before  # nothing kept was touched
    with pytest.raises(ChallengeError, match="not counted"):  # as any program's answer is
        lab.classroom.answer(np.full((28, 28), 255, np.uint8), "X", {"cnn": [("X", 1.0)]})
    monkeypatch.setattr(cache, "atomic_write", real)
    challenge.finish(lab, current, 1, SEVEN, "No time limit")  # the disk has room again: the same prompt counts
    assert lab.classroom.scores()["drawings"] == 2 and current.position == 2


def test_figures_are_drawn_from_many_requests_at_once_without_pyplot():
    figures, pictures, errors = FigureCache(kept=2), [], []
    start = threading.Barrier(8)

    def request(k):
        try:
            start.wait()
            history = {"loss": [1.0, 0.5 + k / 100], "accuracy": [0.5, 0.9 - k / 100]}
            pictures.append(figures.png("curves", history, f"model {k}", keep=k % 2 == 0))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(pictures) == 8 and all(p.startswith(b"\x89PNG") for p in pictures)
    assert len(set(pictures)) == 8  # each request's own figure
    script = (
        "import sys, emnist_core.lab.figures as f; f.FigureCache().png('curves', {'loss': [1.0]}, 't'); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr[-1000:]


def files_under(*folders) -> int:
    return sum(len(files) for folder in folders if folder.exists() for _, _, files in os.walk(folder))


async def _class_plays(url: str, seed: int) -> tuple[int, int, int, list[str]]:
    """``PUPILS`` pupils, each drawing ``ROUNDS_EACH`` Challenge characters stroke by stroke and pressing Done:
    (strokes answered, strokes sent, drawings Done counted, errors)."""
    import httpx

    page = Page(url)
    answered, sent, counted, errors = [0], [0], [0], []

    async def pupil(k):
        rng = random.Random(seed + k)
        async with httpx.AsyncClient(timeout=120) as client:
            one = Pupil(page, client)
            try:
                await one.call("challenge_new", "shuffled", "No time limit", timeout=120)
                for _ in range(ROUNDS_EACH):
                    drawing = strokes(rng.choice(list(SHAPES)), rng)
                    for n in range(1, len(drawing) + 1):
                        sent[0] += 1
                        boxes, _ = await one.call("challenge_live", {"strokes": drawing[:n]}, timeout=120)
                        answered[0] += all(box and box.get("label") for box in boxes)
                        await asyncio.sleep(PAUSE)
                    turn, _ = await one.call("challenge_done", None, None, {"strokes": drawing}, timeout=120)
                    counted[0] += "read it" in str(turn)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                await one.close()

    await asyncio.gather(*(pupil(k) for k in range(PUPILS)))
    return answered[0], sent[0], counted[0], errors


def test_a_class_of_thirty_at_once_gets_every_stroke_answered_and_every_drawing_counted_once(demo, lab, kept):
    gradio_temp = Path(os.environ["GRADIO_TEMP_DIR"])  # this test worker's own (conftest)
    with served(demo) as url:
        before = files_under(gradio_temp)
        answered, sent, counted, errors = asyncio.run(_class_plays(url.rstrip("/"), 0))
        after = files_under(gradio_temp)
    assert errors == [] and sent >= PUPILS * ROUNDS_EACH
    assert answered == sent  # every stroke got both models' answers
    assert counted == PUPILS * ROUNDS_EACH == lab.classroom.scores()["drawings"]  # each Done counted once
    assert len(lab.classroom.drawing_ids()) == counted
    assert after == before  # nothing written per stroke (the drawings kept are in the corrections folder)
