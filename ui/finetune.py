"""The Retrain tab's second part: teach the live models the class's handwriting. Fine-tune a live model on the
corrections the class told (its put-live goes through the Retrain tab's ``use_model``), download them as CSV, or
clear them (the teacher's doing where a teacher key is set)."""

from __future__ import annotations

import functools
import tempfile

import gradio as gr

from emnist_core.lab import cards
from emnist_core.lab.corrections import CorrectionError
from emnist_core.lab.guard import CLEAR_CORRECTIONS, TRAIN, Refused
from emnist_core.models.registry import SLOTS
from ui import retrain
from ui.page import TRAIN_CONCURRENCY, bind
from ui.teacher import teacher

TUNE_USE_LABEL = retrain.TUNE_USE_LABEL


def start_finetune(lab, slot, teacher_key: str | None = None, request: gr.Request = None, progress=gr.Progress()):
    """Fine-tune a live model on the class's corrections; yield (status, candidate path, use-button). Needs the
    teacher where a teacher key is set."""

    def update(status, candidate=None):
        return status, candidate, gr.update(interactive=candidate is not None, value=TUNE_USE_LABEL)

    if retrain.cannot_train(lab):
        yield update(retrain.cannot_train(lab))
        return
    try:
        job = lab.jobs.start_fine_tune(slot if isinstance(slot, str) else "", teacher(lab, teacher_key, request))
    except ValueError as exc:  # Refused, no model in that slot, or the models folder is inside assets/
        yield update(str(exc))
        return
    if job is None:
        yield update(retrain.BUSY_MESSAGE)
        return
    yield update(f"Fine-tuning the {job.live.title} on the corrections...")
    retrain.follow(job, progress)
    if job.cancelled:
        yield update("Fine-tuning cancelled; nothing was saved.")
    elif job.error:
        yield update(f"Fine-tuning did not run: {cards.no_paths(job.error)}")
    else:
        figures = cards.before_after(job.live.title, job.path.stem, job.before, job.after)
        yield update(f"{figures}\n\n{retrain.done_message(lab, job, TUNE_USE_LABEL)}", str(job.path))


def corrections_note(lab) -> str:
    return cards.corrections_note(lab.classroom.count())


@functools.cache
def downloads() -> tempfile.TemporaryDirectory:
    """The one folder of this server process for the files its page offers to download, made on first use and
    removed when the process ends: the next download rewrites a file there, it never adds a folder."""
    return tempfile.TemporaryDirectory(prefix="emnist-sketch-lab-downloads-")


def corrections_csv(lab):
    """All corrections as one Kaggle-style EMNIST CSV, which `evaluate --csv` and `train --extra-csv` read."""
    try:
        return str(lab.classroom.export_csv(downloads().name)), ""
    except CorrectionError as exc:
        return None, str(exc)


def drawings_ndjson(lab):
    """No input -> (the corrections and Challenge drawings that kept their pen strokes, as one file of Quick,
    Draw!'s simplified ndjson, a drawing a line; what it holds)."""
    try:
        path, count = lab.classroom.export_ndjson(downloads().name)
    except CorrectionError as exc:
        return None, str(exc)
    return str(path), f"{count:,} drawing{'s' * (count != 1)} with their strokes, in Quick, Draw!'s ndjson."


def clear_corrections(lab, downloaded, teacher_key: str | None = None, request: gr.Request = None):
    """Delete every correction on this server, once the box says they were downloaded: the teacher's doing where a
    teacher key is set, and refused while training is off (a stranger must not delete what a class gave)."""
    try:
        by = teacher(lab, teacher_key, request)
        lab.guard.check(CLEAR_CORRECTIONS, by)  # first: a refusal says so, ticked or not
        if downloaded is not True:
            return "Download the corrections first, then tick the box: clearing deletes every one of them."
        count = lab.classroom.clear(by)
    except Refused as exc:
        return str(exc)
    return f"Deleted {count:,} correction{'s' * (count != 1)}; new ones can be collected."


def build(lab, live_status, teacher_key: gr.Textbox):
    """The corrections' part of the Retrain tab: fine-tuning on them, downloading and clearing them. -> (the
    corrections' count, the put-live event)."""
    on = lab.guard.allows(TRAIN)
    gr.Markdown("### Teach the live models your class's handwriting")
    corrections_box = gr.Markdown()
    with gr.Row():
        tune_pick = gr.Radio(
            [(title, slot) for slot, title in SLOTS.items()], value="cnn", label="Model to fine-tune", scale=1
        )
        tune_button = gr.Button("Fine-tune on the corrections", variant="primary", scale=1, interactive=on)
        export_button = gr.Button("Download the corrections (CSV)", scale=1)
        strokes_button = gr.Button("Download the drawings' strokes (ndjson)", scale=1)
    tune_status = gr.Markdown(container=True, padding=True, min_height=60)
    tune_candidate, tune_warned = gr.State(None), gr.State(None)
    with gr.Row():
        tune_use = gr.Button(TUNE_USE_LABEL, interactive=False)
        corrections_file = gr.File(label="Corrections: Kaggle EMNIST CSV (ByMerge labels), or strokes (ndjson)")
    with gr.Row():
        clear_check = gr.Checkbox(False, label="I have downloaded the corrections: delete them here")
        clear_button = gr.Button("Clear the corrections", variant="stop", interactive=on)

    tune_button.click(
        bind(start_finetune, lab),
        [tune_pick, teacher_key],
        [tune_status, tune_candidate, tune_use],
        api_name="fine_tune",
        preprocess=False,
        concurrency_limit=TRAIN_CONCURRENCY,
        show_progress_on=tune_status,
    )
    put_live = tune_use.click(
        bind(retrain.use_model, lab, TUNE_USE_LABEL),
        [tune_candidate, tune_warned, teacher_key],
        [live_status, tune_warned, tune_use],
        api_name="use_fine_tuned",
    )
    clear_button.click(
        bind(clear_corrections, lab),
        [clear_check, teacher_key],
        tune_status,
        api_name="clear_corrections",
        preprocess=False,
    ).then(bind(corrections_note, lab), None, corrections_box, api_visibility="private", queue=False)
    export_button.click(bind(corrections_csv, lab), None, [corrections_file, tune_status], api_name="corrections_csv")
    strokes_button.click(bind(drawings_ndjson, lab), None, [corrections_file, tune_status], api_name="drawings_ndjson")
    return corrections_box, put_live
