"""The Challenge tab: the page names a character, the student draws it on the tab's own sketchpad while both models
answer live, and *Done* (or the time limit) says who read it, moves the round score and goes on to the next. Below:
the class scores, the server-wide tally of every drawing, as a table and a chart, with a reset for the teacher.

A round (``emnist_core.lab.challenge.Round``) lives in a ``gr.State``: one per page. Programs play through four
``gr.api`` endpoints (``endpoints``): /challenge_next deals the classes of a round to each client session, and
/challenge_answer takes a drawing with the class asked, so a program may answer any class it chooses to ask.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import NamedTuple

import gradio as gr

from emnist_core.data import labels
from emnist_core.data.strokes import Strokes
from emnist_core.lab import challenge
from emnist_core.lab.challenge import ChallengeError, prompt_text
from emnist_core.lab.guard import RESET_SCORES, Refused, Teacher
from emnist_core.models.registry import SLOTS
from ui import draw, pad
from ui.checks import refuse, sketch_part
from ui.page import PREDICT_CONCURRENCY, bind
from ui.teacher import teacher

PAD_ID = "challenge-pad"
LIVE_TOP = 3  # the live answers' top classes: three keep the pad and Done on a phone's screen
TIME_LIMITS = {"No time limit": 0, "10 s": 10, "20 s": 20, "30 s": 30}
TICK_SECONDS = 1  # the countdown's step; the tick only reads the clock until the time is up
SESSIONS_KEPT = 1024  # API sessions whose round is remembered; the oldest is forgotten first
RESET_LABEL, RESET_CONFIRM = "Reset the class scores", "Reset now"
NO_ROUND = "Press **New round** to start."
DRAW_FIRST = "Draw {} first, then press Done."
ROUND_OVER = "The round is over: press **New round** to play again."
SHUFFLED_INSTEAD = "The live CNN has no report on drawn characters to rank the classes by, so this round is shuffled."
NO_CLASS = 'Send the class you were asked to draw (as /challenge_next gave it, e.g. "g").'


class ChallengeTab(NamedTuple):
    """What the other tabs wire to."""

    answered: gr.events.Dependency  # the round score moved: a drawing was counted (and maybe kept)
    teacher_row: gr.Row  # the reset: the teacher's


# ---------------------------------------------------------------- a round on the page


def prompt_heading(current) -> str:
    return f"## {current.prompt_words}" if current is not None else f"## {NO_ROUND}"


def round_line(current) -> str:
    return f"Your round: {current.summary()}" if current is not None else ""


def deadline(limit) -> float | None:
    """When the time for a new prompt runs out (server clock), or None without a time limit."""
    seconds = TIME_LIMITS.get(limit, 0) if isinstance(limit, str) else 0
    return time.time() + seconds if seconds else None


def countdown(when) -> str:
    return "" if when is None else f"{max(0, math.ceil(when - time.time()))} s left"


def start(lab, order, limit):
    """New round -> (round, prompt shown, prompt, verdict, round score, deadline, countdown, pad, timer)."""
    cnn = lab.models.get(challenge.ORDER_SLOT)
    current = lab.classroom.new_round(
        order if order in challenge.ORDERS else challenge.DEFAULT_ORDER, cnn.drawn_report if cnn is not None else None
    )
    note = SHUFFLED_INSTEAD if order == "hardest" and current.kind != "hardest" else ""
    when = deadline(limit)
    return (
        current,
        current.position,
        prompt_heading(current),
        note,
        round_line(current),
        when,
        countdown(when),
        pad.EMPTY,
        gr.Timer(active=when is not None),
    )


def finish(lab, current, shown, drawing, limit, timed_out=False):
    """*Done* (or the time running out) on the prompt at position ``shown`` -> (round, prompt shown, prompt,
    verdict, round score, deadline, countdown, pad): the drawing is counted and kept (``Classroom.answer``), the
    next class asked and the pad cleared. A prompt is answered once, whatever presses and ticks come together: one
    that is answered already changes nothing. An empty pad is skipped when the time ran out; on *Done* the line
    beside the button asks for a drawing, and the verdict of the last one stays."""
    unchanged = (gr.skip(),) * 8
    if current is None or current.done:
        return (
            current,
            gr.skip(),
            prompt_heading(current),
            ROUND_OVER if current else NO_ROUND,
            round_line(current),
            None,
            "",
            gr.skip(),
        )
    if shown is not None and shown != current.position:  # this prompt was answered by an earlier press or tick
        return unchanged
    key = (current.uid, current.position if shown is None else shown)  # the prompt on this page's screen
    asked_class = current.prompt
    asked = prompt_text(asked_class)
    image = sketch_part(drawing, "challenge")
    x28, tops = draw.look(lab, lab.models.pair, image)
    if x28 is None:
        if not timed_out:
            return (*(gr.skip(),) * 6, DRAW_FIRST.format(asked), gr.skip())
        if not lab.classroom.claim(key):
            return unchanged
        current.skip()
        verdict = f"Time's up: **{asked}** skipped."
    else:
        strokes = image if isinstance(image, Strokes) else None
        try:
            result = lab.classroom.answer(x28, asked_class, tops, strokes, key=key)
        except ChallengeError as exc:  # a drawing that cannot be counted: said, the prompt stays
            return (current, gr.skip(), gr.skip(), str(exc), *(gr.skip(),) * 4)
        if result is None:
            return unchanged
        current.answer(tops)
        verdict = f"{'Time is up. ' if timed_out else ''}**{asked}**: {result.reading.words()}" + (
            f"\n\n{result.note}" if result.note else ""
        )
    if current.done:
        verdict += f"\n\n{ROUND_OVER}"
    when = None if current.done else deadline(limit)
    return (
        current,
        current.position,
        prompt_heading(current),
        verdict,
        round_line(current),
        when,
        countdown(when),
        pad.EMPTY,
    )


def tick(lab, current, shown, drawing, when, limit):
    """Every second while a time limit is set: the countdown, and once the time is up, what *Done* does."""
    if when is None or current is None or current.done:
        return (*(gr.skip(),) * 6, "", gr.skip())
    if time.time() < when:
        return (*(gr.skip(),) * 6, countdown(when), gr.skip())
    return finish(lab, current, shown, drawing, limit, timed_out=True)


def set_limit(current, limit):
    """A time limit chosen -> (deadline, countdown, timer): the clock starts on the class asked now."""
    when = None if current is None or current.done else deadline(limit)
    return when, countdown(when), gr.Timer(active=when is not None)


async def live(lab, drawing):
    """Each time the pen is lifted, as on the Draw tab: each model's top classes (a coroutine, as the Draw tab's)."""
    x28, tops = await draw.alook(lab, lab.models.pair, sketch_part(drawing, "challenge"))
    shown = (
        {slot: {labels.display_name(name): p for name, p in top} for slot, top in tops.items()}
        if x28 is not None
        else {}
    )
    return [shown.get(slot) for slot in SLOTS]


def opened(lab, current, order, limit):
    """The tab opened: a page's first visit starts its round; the round it has goes on."""
    if current is None:
        return start(lab, order, limit)
    return (gr.skip(),) * 9


# ---------------------------------------------------------------- class scores


def scores_view(lab) -> str:
    """The server-wide class scores in one sentence (the class view shows them per class)."""
    return lab.classroom.scores_summary()


def reset(lab, teacher: Teacher | None = None) -> str:
    """Clear the class scores (the drawings kept stay); Refused where that is off or not the teacher's doing."""
    cleared = lab.classroom.reset_scores(teacher)
    return f"The class scores were reset ({cleared:,} drawing{'s' * (cleared != 1)} had been counted)."


def reset_on_page(lab, armed, teacher_key: str | None = None, request: gr.Request = None):
    """The teacher's *Reset* button: the first press says what would be cleared and asks for a second press
    (``armed``); the second clears. -> (message, armed, the button, the scores' sentence)."""
    button = lambda confirm: gr.update(value=RESET_CONFIRM if confirm else RESET_LABEL)
    try:
        by = teacher(lab, teacher_key, request)
        lab.guard.check(RESET_SCORES, by)
        if not armed:
            drawn = lab.classroom.scores()["drawings"]
            ask = (
                f"This clears the class scores: {drawn:,} drawing{'s' * (drawn != 1)} counted (the drawings kept "
                f"stay). Press **{RESET_CONFIRM}** to clear them."
            )
            return ask, True, button(True), gr.skip()
        message = reset(lab, by)
    except (Refused, ChallengeError) as exc:  # not the teacher, switched off; or the scores file could not be written
        message = str(exc)
    return message, False, button(False), scores_view(lab)


# ---------------------------------------------------------------- the API


class Decks:
    """The round each API client session plays (its ``session_hash``): /challenge_next deals its classes one by
    one, and a new round starts when one is over. The last ``SESSIONS_KEPT`` sessions are remembered."""

    def __init__(self):
        self._rounds: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def deal(self, lab, session) -> tuple[str, challenge.Round]:
        with self._lock:
            current = self._rounds.pop(session, None)
            if current is None or current.done:
                cnn = lab.models.get(challenge.ORDER_SLOT)
                current = lab.classroom.new_round(drawn_report=cnn.drawn_report if cnn is not None else None)
            name = current.prompt
            current.skip()  # dealt: the answer names its class, so the deck need not wait for it
            self._rounds[session] = current
            while len(self._rounds) > SESSIONS_KEPT:
                self._rounds.popitem(last=False)
        return name, current


def challenge_next_api(lab, decks: Decks, request: gr.Request) -> tuple[str, str, int]:
    """No input -> (the class to draw, by its plain name as /challenge_answer takes it, e.g. "g"; what the page
    asks, e.g. "Draw: g (lower case)"; how many classes of this client's round are left). Each client session
    is dealt the 47 classes once per round, shuffled."""
    name, current = decks.deal(lab, getattr(request, "session_hash", None))
    return name, f"Draw: {prompt_text(name)}", len(current.order) - current.position


def challenge_answer_api(lab, sketch: dict | None = None, asked: str | None = None) -> tuple[str, str, dict]:
    """(a drawing: its strokes {"strokes": [[xs, ys], ...]}, a sketch {"composite": image file} or the image file
    alone; the class asked) -> (who read it: "both", "mlp", "cnn" or "neither"; in words; {"asked", "read_by",
    "answers", "kept", "note"}). Counted in the class scores; the drawing's 28x28 (and strokes) is kept, labelled by
    the class asked, where this server collects drawings."""
    image = sketch_part(sketch, "challenge_answer")
    if not isinstance(asked, str) or not asked.strip():
        raise refuse(NO_CLASS)
    try:
        name = challenge.asked_class(asked)
        x28, tops = draw.look(lab, lab.models.pair, image)
        if x28 is None:
            raise refuse(tops)
        strokes = image if isinstance(image, Strokes) else None
        result = lab.classroom.answer(x28, name, tops, strokes)
    except ChallengeError as exc:
        raise refuse(str(exc)) from None
    return result.reading.who, result.reading.words(), result.as_dict()


def class_scores_api(lab) -> tuple[dict, str, list]:
    """No input -> ({"drawings", "mlp_right", "cnn_right", "per_class": {class: {"drawn", "mlp_right",
    "cnn_right"}}}, the same in words, the table's rows [class, drawn, MLP %, CNN %])."""
    return lab.classroom.scores(), lab.classroom.scores_summary(), lab.classroom.scores_rows()


def reset_class_scores_api(lab, teacher_key: str | None = None, request: gr.Request = None) -> str:
    """(the teacher key, where one is set) -> what was reset. Refused while training is off
    (EMNIST_DISABLE_TRAINING=1), and without the teacher key where one is set."""
    try:
        return reset(lab, teacher(lab, teacher_key, request))
    except (Refused, ChallengeError) as exc:
        raise refuse(str(exc)) from None


def endpoints(lab):
    """The ``gr.api`` endpoints for programs; declared outside the page's tabs."""
    decks = Decks()
    gr.api(bind(challenge_next_api, lab, decks), api_name="challenge_next", concurrency_limit=PREDICT_CONCURRENCY)
    gr.api(bind(challenge_answer_api, lab), api_name="challenge_answer", concurrency_limit=PREDICT_CONCURRENCY)
    gr.api(bind(class_scores_api, lab), api_name="class_scores", concurrency_limit=PREDICT_CONCURRENCY)
    gr.api(bind(reset_class_scores_api, lab), api_name="reset_class_scores")


# ---------------------------------------------------------------- the tab


def build(lab, teacher_key: gr.Textbox) -> ChallengeTab:
    """The Challenge tab and its events, serving ``lab``; ``teacher_key``: the page's pass (``ui.teacher``), the
    reset button's last input. The reset shows only on the teacher's page where a teacher key is set."""
    with gr.Tab("Challenge", id="challenge") as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                prompt = gr.Markdown(prompt_heading(None), elem_id="challenge-prompt")
                drawing = pad.stroke_pad(PAD_ID)
                with gr.Row(equal_height=True):
                    done_button = gr.Button("Done", variant="primary", scale=2, min_width=100, elem_id="challenge-done")
                    clock_note = gr.Markdown(elem_id="challenge-clock", min_width=80)
            with gr.Column(scale=2, min_width=300):
                verdict = gr.Markdown(elem_id="challenge-verdict", container=True, padding=True, min_height=60)
                round_score = gr.Markdown(elem_id="round-score")
                with gr.Row():
                    live_boxes = [
                        gr.Label(label=title, num_top_classes=LIVE_TOP, min_width=150, elem_id=f"challenge-{slot}")
                        for slot, title in SLOTS.items()
                    ]
                with gr.Row():
                    order = gr.Radio(
                        [(words, key) for key, words in challenge.ORDERS.items()],
                        value=challenge.DEFAULT_ORDER,
                        label="Order",
                        min_width=150,
                    )
                    limit = gr.Radio(
                        list(TIME_LIMITS), value=next(iter(TIME_LIMITS)), label="Time limit", min_width=150
                    )
                new_button = gr.Button("New round", elem_id="challenge-new")
        gr.Markdown("### Class scores: every drawing on this server")
        summary = gr.Markdown(elem_id="class-scores-summary")
        with gr.Row(equal_height=True, visible=not lab.guard.locked) as teacher_row:
            reset_button = gr.Button(
                RESET_LABEL, variant="stop", scale=0, min_width=200, interactive=lab.guard.allows(RESET_SCORES)
            )
            reset_note = gr.Markdown()
        # Inside the tab: a component made between two tabs would shift the later tabs' places in the tab bar (Gradio
        # then shows them twice).
        current, shown, when = gr.State(None), gr.State(None), gr.State(None)  # shown: the prompt's position
        clock = gr.Timer(TICK_SECONDS, active=False)
        armed = gr.State(False)  # the next press of the reset button clears

    turn = [current, shown, prompt, verdict, round_score, when, clock_note, drawing]
    private = {"api_visibility": "private"}
    tab.select(bind(opened, lab), [current, order, limit], [*turn, clock], **private).then(
        bind(scores_view, lab), None, summary, **private
    )
    drawing.change(
        bind(live, lab),
        drawing,
        live_boxes,
        api_name="challenge_live",
        trigger_mode="always_last",
        show_progress="hidden",
        concurrency_limit=PREDICT_CONCURRENCY,
        **private,
    )
    new_button.click(bind(start, lab), [order, limit], [*turn, clock], api_name="challenge_new", **private)
    done_button.click(
        bind(finish, lab),
        [current, shown, drawing, limit],
        turn,
        api_name="challenge_done",
        trigger_mode="once",
        concurrency_limit=PREDICT_CONCURRENCY,
        **private,
    )
    clock.tick(
        bind(tick, lab),
        [current, shown, drawing, when, limit],
        turn,
        show_progress="hidden",
        concurrency_limit=PREDICT_CONCURRENCY,
        **private,
    )
    limit.input(set_limit, [current, limit], [when, clock_note, clock], **private)
    # The round score's line changes exactly when a drawing was counted (or a round began): the tally is redrawn
    # then, not on every tick of the clock.
    answered = round_score.change(bind(scores_view, lab), None, summary, **private)
    reset_button.click(
        bind(reset_on_page, lab), [armed, teacher_key], [reset_note, armed, reset_button, summary], **private
    )
    return ChallengeTab(answered, teacher_row)
