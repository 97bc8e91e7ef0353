"""The Confusions tab: a live model's confusion matrix on a test set, its most confused pairs, the test images of
any one mistake, and its per-class accuracy.

The test set and then the lesson come last in every handler's inputs and default to EMNIST's and all classes, so
API callers that send only the model (and classes) get what they always got. Within a lesson the tab shows what the
Draw tab does in it: only the lesson's classes, each test image read among them alone (``Lab.lesson_report``).
"""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from emnist_core.data import labels
from emnist_core.lab import cards
from emnist_core.lab.challenge import CLASS_DRAWINGS, NO_DRAWINGS
from emnist_core.models import evaluation, store
from emnist_core.models.evaluation import DRAWN, EMNIST
from ui import plots
from ui.checks import CLASSES, LESSON_CHOICES, TEST_SET_NAMES, lesson_of, live_model, missing_model, refuse, test_set_of
from ui.page import SHOW_GALLERY_JS, bind

GALLERY_MAX = 48
GALLERY_ZOOM = 4
PAIRS_SHOWN = 24
SHORTCUTS = (("O", "0"), ("0", "O"), ("Z", "2"), ("2", "Z"))
# How a summary and a gallery name each test set.
# The third, CLASS_DRAWINGS: the class's own drawings, kept by the Challenge tab (labelled by their prompts).
TEST_SET_WORDS = {
    EMNIST: "EMNIST test images",
    DRAWN: "drawn test characters (UNIPEN writers never trained on)",
    CLASS_DRAWINGS: "drawings by this class (Challenge)",
}
IMAGES_WORDS = {EMNIST: "test images", DRAWN: "drawn test characters", CLASS_DRAWINGS: "class drawings"}
FIGURE_WORDS = {EMNIST: "EMNIST test", DRAWN: "drawn characters", CLASS_DRAWINGS: "the class's drawings"}
TEST_SET_CHOICES = [*((words, key) for key, words in TEST_SET_NAMES.items()), ("This class's drawings", CLASS_DRAWINGS)]


class ConfusionsTab(NamedTuple):
    """What the other tabs wire to."""

    model_pick: gr.Radio  # the live models to choose from
    lesson_pick: gr.Radio  # what is being drawn: follows the Draw tab's


def model_choices(lab):
    return [(m.title, slot) for slot, m in lab.models.pair.models.items()]


def confusions(lab, slot, test_set=EMNIST, lesson=labels.DEFAULT_LESSON):
    """(model slot, test set, lesson) -> (summary, heatmap, pair choices, per-class table, data note). Within a
    lesson other than all, only the test images of its classes count, each read among those classes alone, as
    the Draw tab reads a drawing in that lesson."""
    live = live_model(lab, slot)
    if live is None:
        raise refuse(missing_model(slot))
    test_set, lesson = test_set_key(test_set), lesson_of(lesson)
    report, _ = lab.tests.report(lab.models.pair_with(live.slot), live.slot, test_set, lesson)
    note = data_note(lab, test_set)
    if report is None:
        return no_report(lab, live, test_set, lesson), None, gr.update(choices=[], value=None), None, note
    words = TEST_SET_WORDS[test_set] + lesson_words(lesson)
    pairs = [
        (f"{pair_words(p['true'], p['predicted'])}: {p['count']}", f"{p['true']} -> {p['predicted']}")
        for p in report["confused_pairs"][:PAIRS_SHOWN]
    ]
    return (
        cards.report_summary(live.title, report, words),
        heatmap(lab, live, report, test_set, lesson),
        gr.update(choices=pairs, value=None),
        per_class_table(report),
        note,
    )


def no_report(lab, live, test_set, lesson) -> str:
    """Why there is no report to show: no class drawings yet, the test images not here, or no report file."""
    if test_set == CLASS_DRAWINGS:
        return NO_DRAWINGS
    if lesson != labels.DEFAULT_LESSON:  # a lesson is scored here, from the test images
        return lab.tests.message(test_set)
    name = store.report_path(live.path, "" if test_set == EMNIST else test_set).name
    return (
        f"No usable evaluation report (`{name}`) for {live.title} on {TEST_SET_WORDS[test_set]}, so its "
        "mistakes there cannot be shown. A model trained or fine-tuned on the Retrain tab gets its reports "
        "as part of its job; for another model, the server's owner makes them with the command line's "
        "`evaluate` (see the README)."
    )


def lesson_words(lesson) -> str:
    """How a summary says the lesson: nothing for all classes."""
    if lesson == labels.DEFAULT_LESSON:
        return ""
    return (
        f" of the lesson **{labels.LESSONS[lesson]}**, each read among the lesson's "
        f"{len(labels.lesson_classes(lesson))} classes only"
    )


def heatmap(lab, live, report, test_set: str, lesson=labels.DEFAULT_LESSON):
    """``live``'s confusion matrix from ``report`` (handed over, not looked up again: a model put live meanwhile
    changes nothing here): all 47 classes, or the lesson's only."""
    matrix = {"classes": report["classes"], "confusion_matrix": report["confusion_matrix"]}
    within = "" if lesson == labels.DEFAULT_LESSON else f", {labels.LESSONS[lesson]}"
    return plots.figure_html(lab, "confusion", matrix, f"{live.name} on {FIGURE_WORDS[test_set]}{within}")


def per_class_table(report) -> pd.DataFrame:
    headers, rows = cards.per_class_rows(report)
    return pd.DataFrame(rows, columns=headers)


def pair_words(true_name, pred_name) -> str:
    """ "O (letter o) -> 0 (zero)": a confused pair with look-alike classes named in words."""
    return f"{labels.display_name(true_name)} -> {labels.display_name(pred_name)}"


def test_set_key(value) -> str:
    """A test set as sent -> its key: the class's drawings, or one that ``checks.test_set_of`` takes; any other
    name is refused with the three choices."""
    if value == CLASS_DRAWINGS:
        return value
    try:
        return test_set_of(value)
    except gr.Error:
        raise refuse(
            f"Unknown test set {str(value)[:20]!r}; choose {', '.join([*TEST_SET_NAMES, CLASS_DRAWINGS])}."
        ) from None


def data_note(lab, test_set=EMNIST) -> str:
    if test_set == CLASS_DRAWINGS:
        return ""
    test_set = test_set_of(test_set)
    images, message = lab.tests.images(test_set)
    if images is None:
        return message
    data = lab.tests.dataset(test_set)  # which data is in use, said without its folders
    return f"{len(images):,} {cards.REPORT_WORDS[test_set]}, {cards.data_in_use(data)}."


def gallery(lab, slot, true_class, predicted_class, test_set=EMNIST, lesson=labels.DEFAULT_LESSON):
    """(model slot, true class, predicted class, test set, lesson) -> (test images of that mistake with captions,
    message)."""
    live = live_model(lab, slot)
    if live is None:
        return [], missing_model(slot)
    test_set, lesson = test_set_key(test_set), lesson_of(lesson)
    report, x_test = lab.tests.report(lab.models.pair_with(live.slot), live.slot, test_set, lesson)
    if report is None:
        if test_set == CLASS_DRAWINGS:
            return [], NO_DRAWINGS
        if lesson != labels.DEFAULT_LESSON:
            return [], lab.tests.message(test_set)
        return [], f"No evaluation report on {TEST_SET_WORDS[test_set]} for {live.title}."
    if not true_class or not predicted_class:
        return [], "Choose a pair, or a true and a predicted class, to see the test images of that mistake."
    try:
        true_name, pred_name, hits = evaluation.find_mistakes(report, true_class, predicted_class)
    except ValueError as exc:
        return [], str(exc)
    what = IMAGES_WORDS[test_set]
    within = "" if lesson == labels.DEFAULT_LESSON else f" (lesson: {labels.LESSONS[lesson]})"
    if not hits:
        return [], (
            f"The {live.title} never read one of the {what} **{labels.display_name(true_name)}** as "
            f"**{labels.display_name(pred_name)}**{within}."
        )
    text = (
        f"{len(hits)} {what} of **{labels.display_name(true_name)}** read as "
        f"**{labels.display_name(pred_name)}** by the {live.title}{within}"
    )
    if x_test is None:
        return [], f"{text}. {lab.tests.message(test_set)}"
    # The confidence first: a narrow tile cuts a caption's end.
    images = [(enlarge(x_test[i]), f"{conf:.0%}: {pair_words(true_name, pred_name)}") for i, conf in hits[:GALLERY_MAX]]
    shown = f"; the {len(images)} it was surest about" if len(hits) > len(images) else ""
    return images, f"{text}{shown}."


def enlarge(x28) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(x28)).resize((28 * GALLERY_ZOOM,) * 2, Image.Resampling.NEAREST))


def gallery_after_change(lab, slot, true_class, predicted_class, test_set=EMNIST, lesson=labels.DEFAULT_LESSON):
    """The gallery again once the model, test set or lesson changed: the pair picked before, when the lesson still
    has both its classes; else an empty gallery and nothing said (a lesson change is no mistake of the teacher's)."""
    within = labels.lesson_classes(lesson_of(lesson))
    if not true_class or not predicted_class or not {true_class, predicted_class} <= set(within):
        return [], ""
    return gallery(lab, slot, true_class, predicted_class, test_set, lesson)


def lesson_controls(lesson, true_class=None, predicted_class=None):
    """A lesson's choices for the pickers (a class picked outside it cleared), and the shortcut buttons whose two
    classes it has (O -> 0 in Digits would only be refused): -> (true class, predicted class, *shortcuts shown)."""
    within = labels.lesson_classes(lesson_of(lesson))
    pickers = [gr.update(choices=list(within), value=v if v in within else None) for v in (true_class, predicted_class)]
    return *pickers, *(gr.update(visible={t, p} <= set(within)) for t, p in SHORTCUTS)


def gallery_for_pair(lab, slot, pair, test_set=EMNIST, lesson=labels.DEFAULT_LESSON):
    """A ranked pair ("O -> 0") -> (true, predicted, gallery, message)."""
    true_name, _, pred_name = str(pair or "").partition(" -> ")
    if not pred_name:
        return None, None, [], "Choose a pair from the list."
    return true_name, pred_name, *gallery(lab, slot, true_name, pred_name, test_set, lesson)


def gallery_for_shortcut(lab, true_name, pred_name, slot, test_set=EMNIST, lesson=labels.DEFAULT_LESSON):
    """A shortcut button's pair -> (true, predicted, gallery, message)."""
    return true_name, pred_name, *gallery(lab, slot, true_name, pred_name, test_set, lesson)


def build(lab) -> ConfusionsTab:
    """The Confusions tab and its events, serving ``lab``."""
    with gr.Tab("Confusions", id="confusions") as tab:
        with gr.Row():
            model_pick = gr.Radio(
                model_choices(lab), value=next(iter(lab.models.pair.models), None), label="Model", scale=1
            )
            test_pick = gr.Radio(TEST_SET_CHOICES, value=EMNIST, label="Test set", scale=1)
            # The Draw tab's lesson, followed here (and changeable here): the matrix as the page then reads.
            lesson_pick = gr.Radio(
                LESSON_CHOICES,
                value=labels.DEFAULT_LESSON,
                label="What is being drawn",
                info="Only this lesson's classes, each read among them alone",
                scale=1,
                elem_id="confusions-lesson",
            )
            summary = gr.Markdown(elem_id="confusions-summary")
        data_box = gr.Markdown()
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                # 47 x 47 cells: on a phone the figure keeps a readable width and scrolls sideways.
                matrix = gr.HTML(label="Confusion matrix", show_label=True, container=True, elem_id="matrix")
            with gr.Column(scale=2):
                pair_pick = gr.Radio(
                    [], label="Most confused pairs (true -> predicted: count)", info="Choose one to see its test images"
                )
                with gr.Row():
                    # Custom values reach gallery(), whose message says what the classes are.
                    true_pick = gr.Dropdown(
                        CLASSES, value=None, label="True class", min_width=80, allow_custom_value=True
                    )
                    pred_pick = gr.Dropdown(
                        CLASSES, value=None, label="Predicted as", min_width=80, allow_custom_value=True
                    )
                show_button = gr.Button("Show these mistakes", variant="primary")
                with gr.Row():
                    shortcut_buttons = [gr.Button(pair_words(t, p), size="sm", min_width=60) for t, p in SHORTCUTS]
        gallery_note = gr.Markdown(elem_id="mistakes-note")
        mistakes = gr.Gallery(
            label="Test images of this mistake", columns=8, height=420, object_fit="contain", elem_id="mistakes"
        )
        class_table = gr.Dataframe(
            label="Per-class accuracy on the test set (worst first)", max_height=400, elem_id="per-class"
        )

    outputs = [summary, matrix, pair_pick, class_table, data_box]
    gallery_inputs = [model_pick, true_pick, pred_pick, test_pick, lesson_pick]
    gallery_outputs = [mistakes, gallery_note]
    shown = [model_pick, test_pick, lesson_pick]
    # Opening the tab and changing a control share one queue slot, so their reports land in the order asked: a test set
    # chosen while the tab's first (slower) report is still being worked out is not painted over by it.
    in_order = {"concurrency_id": "confusions", "concurrency_limit": 1}
    # .change, not .input: a lesson set on the Draw tab redraws this tab too, so its control and its matrix agree.
    gr.on(
        [model_pick.change, test_pick.change, lesson_pick.change],
        bind(confusions, lab),
        shown,
        outputs,
        api_name="confusions",
        preprocess=False,
        **in_order,
    ).then(
        bind(gallery_after_change, lab),
        gallery_inputs,
        gallery_outputs,
        api_name="gallery_for_new_model",
        api_visibility="private",
        preprocess=False,
    )
    lesson_pick.change(
        lesson_controls,
        [lesson_pick, true_pick, pred_pick],
        [true_pick, pred_pick, *shortcut_buttons],
        api_visibility="private",
        queue=False,
    )
    tab.select(bind(confusions, lab), shown, outputs, api_name="refresh_confusions", preprocess=False, **in_order)
    gr.on(
        [show_button.click, true_pick.input, pred_pick.input],
        bind(gallery, lab),
        gallery_inputs,
        gallery_outputs,
        api_name="gallery",
        preprocess=False,
    ).then(None, js=SHOW_GALLERY_JS)
    pair_pick.input(
        bind(gallery_for_pair, lab),
        [model_pick, pair_pick, test_pick, lesson_pick],
        [true_pick, pred_pick, *gallery_outputs],
        api_name="gallery_pair",
        preprocess=False,
    ).then(None, js=SHOW_GALLERY_JS)
    for button, (t, p) in zip(shortcut_buttons, SHORTCUTS):
        # The chosen pair is also marked in the ranked list (when it is there) and the gallery scrolled to.
        button.click(
            bind(gallery_for_shortcut, lab, t, p),
            [model_pick, test_pick, lesson_pick],
            [true_pick, pred_pick, *gallery_outputs],
            api_name=f"gallery_{t}_{p}",
            preprocess=False,
        ).then(lambda t=t, p=p: f"{t} -> {p}", None, pair_pick, api_visibility="private", queue=False).then(
            None, js=SHOW_GALLERY_JS
        )
    return ConfusionsTab(model_pick, lesson_pick)
