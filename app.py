"""EMNIST Sketch Lab: draw a character and watch an MLP and a CNN read it side by side, browse the
test images they get wrong, and retrain either one live.

This file is the Spaces entry point and the page's composition root: it builds the Lab, lays out the tabs (each
in its own module of ``ui/``: ``draw``, ``inside``, ``challenge``, ``confusions``, ``retrain``, ``models``), wires
what one tab does to another, and launches. The server's state (the live models, the test data, the one training
job) is an ``emnist_core.lab.state.Lab``, which ``build_demo(lab)`` serves; every prediction, metric and figure comes
from ``emnist_core``. Importing this module starts nothing. ``python app.py`` creates the Lab and serves on
http://127.0.0.1:7860 (Gradio honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT). Environment:

- ``EMNIST_DATA_DIR``: folder of the EMNIST gzip files; without it (and without them beside the project) the demo
  data pack in ``assets/data`` serves the test images and a training slice.
- ``EMNIST_MODELS_DIR``: where retrained models are written (never ``assets/``).
- ``EMNIST_TEACHER_KEY``: the teacher's key (a Space secret): training, putting models live, clearing the
  corrections and resetting the class scores need it, and pupils' pages show only the pupils' tabs.
- ``EMNIST_DISABLE_TRAINING=1``: turn retraining and fine-tuning off, e.g. on a public Space (the API refuses
  them too); corrections are then not collected either, unless ``EMNIST_ALLOW_CORRECTIONS=1``. Both are read
  once, into ``Lab.switches``.
- ``EMNIST_CORRECTIONS_DIR``: where corrections are kept (default: under ``EMNIST_CACHE_DIR``).
- ``EMNIST_CORRECTIONS_REPO`` and ``HF_TOKEN``: push the corrections to that Hub dataset repository every few
  minutes (``emnist_core.lab.hub``).

Programs call the named endpoints (``/predict``, ``/explain``, ``/correct``, ``/confusions`` ...): see the page's
"Use via API" link, or ``ui/draw.py`` for the four that take a drawing or a photo.
"""

from __future__ import annotations

import sys

import gradio as gr

from emnist_core import Lab
from emnist_core.lab import hub
from ui import challenge, classview, confusions, draw, draw_api, finetune, inside, models, pad, retrain, teacher
from ui.page import DELETE_CACHE, LAUNCH_OPTIONS, PREDICT_CONCURRENCY, SWITCH_INTERVAL, bind

TITLE = "EMNIST Sketch Lab"
INTRO = (
    f"# {TITLE}\nDraw one character (a digit, a capital, or one of a b d e f g h n q r t) and compare how an "
    "MLP and a CNN read it."
)


def load_note(lab) -> str:
    """Which shipped model files failed to load at start, and what to do, for the top of the page."""
    serving = ", ".join(lab.models.shipped.titles()) or "no model"
    problems = "\n".join(f"- {problem}" for problem in lab.models.load_problems)
    return (
        f"**Some shipped model files could not be loaded;** serving: {serving}. Restore the files from the "
        f"project's `assets/` (or retrain), then restart the app.\n\n{problems}"
    )


def after_change(lab):
    """What names the live models once one is put live or restored: the Confusions tab's model choices, the Draw
    tab's prediction boxes and its serving note."""
    return gr.update(choices=confusions.model_choices(lab)), *draw.label_updates(lab), draw.serving_note(lab)


def build_demo(lab: Lab) -> gr.Blocks:
    """The page, its endpoints and their handlers, serving ``lab``; and the class view for the projector."""
    with gr.Blocks(title=TITLE, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO)
        if lab.models.load_problems:
            gr.Markdown(load_note(lab), elem_id="load-note", container=True, padding=True)
        held = teacher.pass_holder()  # the teacher's pass: every guarded handler's last input
        with gr.Tabs():
            drawing = draw.build(lab)
            inside.build(lab)
            playing = challenge.build(lab, held.key)
            confused = confusions.build(lab)
            training = retrain.build(lab, held.key, finetune.build)
            cards = models.build(lab)
        area = teacher.build(lab, held)
        draw_api.endpoints(lab)
        inside.endpoints(lab)
        challenge.endpoints(lab)

        # A model put live or restored is named wherever the live models are shown: at once on the page that did
        # it, and within a second on every other open page (the page stream below).
        renamed = [confused.model_pick, *drawing.label_boxes, drawing.serving]
        for name, event in training.put_live.items():
            event.then(bind(after_change, lab), None, renamed, api_name=name, api_visibility="private")
        # The Confusions tab follows the lesson the Draw tab is in.
        drawing.lesson_pick.change(
            lambda lesson: lesson, drawing.lesson_pick, confused.lesson_pick, api_visibility="private", queue=False
        )
        # Corrections are told on the Draw tab and counted on the Retrain tab.
        count = bind(finetune.corrections_note, lab)
        drawing.corrected.then(count, None, training.corrections_box, api_visibility="private", queue=False)
        # The teacher's tabs and controls show on the teacher's page only (everywhere where no key is set).
        teachers = [training.tab, cards.tab, playing.teacher_row, area.leave]
        shown = teacher.view(lab, len(teachers), signed_out_only=1)
        show = {"api_visibility": "private", "show_progress": "hidden", "queue": False}
        for event in (area.sign_in, area.sign_out):
            event.then(shown, held.key, [*teachers, area.signing], **show)

        pad.on_load(demo)  # the pads send strokes from now on, and any drawn while the page loaded
        # On page load: the page's stream of explanations, and of the live models' names once another is put live.
        demo.load(
            bind(draw.page_stream, lab, after_change),
            None,
            [*drawing.why_boxes, *renamed],
            api_name="page_stream",
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
        demo.unload(bind(draw.page_closed, lab))
        # On page load: the teacher's pass this browser kept; name the live models; say what data there is.
        demo.load(bind(teacher.restored, lab), held.kept, [held.key, area.note], **show).then(
            shown, held.key, [*teachers, area.signing], **show
        )
        demo.load(bind(after_change, lab), None, renamed, api_name="names_on_load", api_visibility="private")
        demo.load(
            bind(retrain.retrain_setup, lab),
            None,
            [training.train_info, training.train_size, training.start_button],
            api_name="retrain_setup",
            api_visibility="private",
        )
        demo.load(bind(retrain.last_trained, lab), None, [training.candidate, training.use_button], **show)
        demo.load(count, None, training.corrections_box, api_visibility="private", queue=False)
    # The class view is opened from the Teacher area's link, not from a bar on every pupil's page.
    with demo.route("Class view", "/class", show_in_navbar=False) as class_page:
        classview.build(lab, class_page)
    demo.queue(default_concurrency_limit=PREDICT_CONCURRENCY)
    return demo


if __name__ == "__main__":  # also how Hugging Face Spaces runs it
    sys.setswitchinterval(SWITCH_INTERVAL)
    lab = Lab()
    hub.push_corrections(lab.classroom.folder)  # only when EMNIST_CORRECTIONS_REPO and HF_TOKEN are set
    demo = build_demo(lab)
    demo.launch(**LAUNCH_OPTIONS)
