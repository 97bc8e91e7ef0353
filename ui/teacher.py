"""The teacher on the page: the key entered once and kept in that browser as a pass, what a pupil's page leaves out,
and how every handler that changes the class's server learns who asks.

A pupil's page shows the pupil's tabs (Draw, Inside, Challenge, Confusions) and no control it cannot use; once the
teacher signs in under **Teacher** at the foot of the page, the teacher's tabs and buttons appear, on that page and
on every later visit from that browser (``gr.BrowserState`` keeps the pass, never the key). Each handler that
changes the server takes the pass (on the page) or the key (from a program) as its last input, ``teacher_key``, and
hands it to ``lab.guard`` (``guard.Guard.sign_in``), which alone decides. Where no key is set (a laptop), everything
is open, and the foot of the page says so once.
"""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from emnist_core.lab.guard import TEACHER_KEY, Refused, Teacher
from ui.page import bind

PASS_KEPT_AS = "emnist-sketch-lab-teacher-pass"  # the browser's storage key for the pass
OPEN_NOTE = (
    f"**Anyone with this page can retrain, put models live and reset the class scores:** no teacher key is set on "
    f"this server. On a public Space, set a `{TEACHER_KEY}` secret: then only the teacher can."
)
SIGNED_OUT = "Pupils see Draw, Inside, Challenge and Confusions. Teacher: enter the key to retrain and run the class."
SIGNED_IN = "**Signed in as the teacher** in this browser: the Retrain and Models tabs and the class's controls show."
SIGNED_OFF = "Signed out: this browser shows a pupil's page again."
CLASS_VIEW_LINK = "[Open the class view for the projector](class)"


class Pass(NamedTuple):
    """The teacher's pass on a page: kept in the browser between visits, and the page's copy that every
    teacher-only handler gets as its last input, ``teacher_key`` (empty on a pupil's page)."""

    kept: gr.BrowserState
    key: gr.Textbox


class TeacherArea(NamedTuple):
    """What the page wires to: the foot's note, and the sign-in's events (``.then`` shows or hides the teacher's
    controls)."""

    note: gr.Markdown
    sign_in: object
    sign_out: object
    signing: gr.Column  # the key's box and Sign in: a signed-in teacher's page shows Sign out instead
    leave: gr.Button


def asker(request: gr.Request | None) -> str:
    """Who sends a key, for counting wrong ones: the page's session, else the program's address."""
    session = getattr(request, "session_hash", None)
    client = getattr(request, "client", None)
    return session or f"address {getattr(client, 'host', '')}"


def teacher(lab, teacher_key, request: gr.Request | None = None) -> Teacher | None:
    """The teacher's pass for what was sent as ``teacher_key`` (a pass or the key), None for nothing; Refused for a
    wrong key (``lab.guard`` says what to do)."""
    return lab.guard.sign_in(teacher_key, asker(request))


def is_teacher(lab, teacher_key, request: gr.Request | None = None) -> bool:
    """Whether this page may show the teacher's controls (always where no key is set)."""
    try:
        return lab.guard.is_teacher(teacher(lab, teacher_key, request))
    except Refused:
        return False


def sign_in(lab, key, request: gr.Request):
    """The key typed in -> (the pass kept in the browser, the page's copy, the box emptied, what happened)."""
    try:
        found = teacher(lab, key, request)
    except Refused as exc:
        return gr.skip(), gr.skip(), "", str(exc)
    if found is None:
        return gr.skip(), gr.skip(), "", "Type the teacher key first."
    return found.token, found.token, "", SIGNED_IN


def sign_out():
    return None, "", "", SIGNED_OFF


def restored(lab, kept, request: gr.Request):
    """On load: the pass this browser kept, if still good -> (the page's copy, what the foot says)."""
    if not lab.guard.locked:
        return "", OPEN_NOTE
    return (kept, SIGNED_IN) if is_teacher(lab, kept, request) else ("", SIGNED_OUT)


def pass_holder() -> Pass:
    """The page's pass, made before the tabs whose handlers take it (nothing shows)."""
    return Pass(gr.BrowserState(None, storage_key=PASS_KEPT_AS), gr.Textbox(visible=False, elem_id="teacher-pass"))


def view(lab, count: int, signed_out_only: int = 0):
    """A handler: (the page's pass) -> a visibility update for each of ``count`` teacher-only tabs and controls, then
    the opposite for each of ``signed_out_only`` (the sign-in fields)."""

    def shown(teacher_key, request: gr.Request):
        signed_in = is_teacher(lab, teacher_key, request)
        return [gr.update(visible=signed_in)] * count + [gr.update(visible=not signed_in)] * signed_out_only

    return shown


def build(lab, held: Pass) -> TeacherArea:
    """The Teacher area at the foot of the page, and the events that sign in and out and restore a kept pass."""
    kept, key = held
    with gr.Accordion("Teacher", open=not lab.guard.locked, elem_id="teacher-area"):  # open: the note shows
        signed_in = gr.Markdown(OPEN_NOTE if not lab.guard.locked else SIGNED_OUT, elem_id="teacher-note")
        with gr.Row(visible=lab.guard.locked):
            with gr.Column(scale=4) as signing, gr.Row():
                typed = gr.Textbox(label="Teacher key", type="password", max_lines=1, scale=3, elem_id="teacher-key")
                enter = gr.Button("Sign in", variant="primary", scale=1, elem_id="teacher-sign-in")
            leave = gr.Button("Sign out", scale=1, visible=False, elem_id="teacher-sign-out")
        gr.Markdown(CLASS_VIEW_LINK)
    signing_in = gr.on(
        [enter.click, typed.submit],
        bind(sign_in, lab),
        typed,
        [kept, key, typed, signed_in],
        api_visibility="private",
        show_progress="hidden",
    )
    signing_out = leave.click(sign_out, None, [kept, key, typed, signed_in], api_visibility="private", queue=False)
    return TeacherArea(signed_in, signing_in, signing_out, signing, leave)
