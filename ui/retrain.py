"""The Retrain tab: train a model from the registry (one job per server, live curves, cancel), put it live or
restore the shipped pair; fine-tune a live model on the class's corrections, download or clear them.

Whatever changes the server (training, put live, restore, clearing the corrections) is refused while
``lab.switches.training`` is off, on the page and over the API alike. A model that reads worse than the live
one it would replace goes live only on a second press, after the page has said so with both figures. What the
tab says names models and data, never a path on the server or a shell command.
"""

from __future__ import annotations

import functools
import tempfile
from typing import NamedTuple

import gradio as gr

from emnist_core.data.pack import POOL47_SLICE
from emnist_core.lab import cards
from emnist_core.lab.corrections import CorrectionError
from emnist_core.lab.guard import CLEAR_CORRECTIONS, PUT_LIVE, TRAIN, TRAINING_OFF, Refused
from emnist_core.models import store
from emnist_core.models.evaluation import DRAWN, EMNIST
from emnist_core.models.registry import REGISTRY, SLOTS
from emnist_core.training.config import (
    BATCH_STAGES,
    FORM_BATCH_SIZES,
    FORM_MAX_EPOCHS,
    FORM_MIN_IMAGES,
    SAVING,
    form_config,
)
from ui import plots
from ui.page import TRAIN_CONCURRENCY, bind

POLL_SECONDS = 0.5
TICK_SECONDS = 1.0  # how often a page that started a job shows its epochs
DATA_WAIT_SECONDS = 60
DEFAULT_TRAIN_SIZE = POOL47_SLICE[0]  # all of the demo data pack's training images: the default works from it alone
DEFAULT_ARCHITECTURE = "seed-mlp"
TRAINING_OFF_MESSAGE = TRAINING_OFF
BUSY_MESSAGE = "Busy: another training job is running on this server. Try again when it has finished."
INTRO = (
    "Train a model from the registry on part of the training images. One job runs at a time on this server; "
    "drawing keeps working meanwhile."
)
USE_LABEL, TUNE_USE_LABEL = "Use this model", "Use the fine-tuned model"
CONFIRM_LABEL = "Use it anyway"  # the put-live button, once it has said the model reads worse
NOTHING_TO_USE = {
    USE_LABEL: "Train a model first; *Use this model* serves the model you just trained.",
    TUNE_USE_LABEL: "Fine-tune a model first; *Use the fine-tuned model* serves the one you just made.",
}


class RetrainTab(NamedTuple):
    """What the other tabs and the page's load wire to."""

    train_info: gr.Markdown  # the data note, filled on load
    train_size: gr.Slider  # its range is the training set's, set on load
    start_button: gr.Button  # interactive once the data is there
    corrections_box: gr.Markdown  # how many corrections this server keeps
    put_live: dict  # {name: event} of the events that change the live models: the other tabs rename them after


# ---------------------------------------------------------------- training


def cannot_train(lab) -> str | None:
    """Why no job can start on this server, or None."""
    if not lab.guard.allows(TRAIN):
        return TRAINING_OFF_MESSAGE
    return lab.tests.message(EMNIST) if lab.tests.dataset(EMNIST) is None else None


def start_training(lab, arch, epochs, batch_size, learning_rate, train_size, progress=gr.Progress()):
    """Train in a background thread; yield (status, curves, candidate path, use-button) as it goes."""
    # A fifth output, for the page only (a gr.State): the job's start time, sent only when this request started
    # the job. Its change is what switches the page's timer on, so a refused request ("Busy") never shows another
    # job's progress.

    def update(status, history=None, candidate=None, started=gr.update()):
        use = gr.update(interactive=candidate is not None, value=USE_LABEL)
        return status, plots.curves(lab, history, arch), candidate, use, started

    if cannot_train(lab):
        yield update(cannot_train(lab))
        return
    n_train = len(lab.tests.dataset(EMNIST).y_train)
    try:
        config = form_config(arch, epochs, batch_size, learning_rate, train_size, n_train, EMNIST)
    except ValueError as exc:
        yield update(f"Check the settings: {exc}")
        return
    try:
        job = lab.jobs.start_training(config)
    except ValueError as exc:  # Refused, the models folder inside assets/, the data gone
        yield update(str(exc))
        return
    if job is None:
        yield update(BUSY_MESSAGE)
        return
    yield update("Starting...", started=job.started)
    follow(job, progress)  # the curves and status follow on the page's timer (training_view)
    if job.cancelled:
        yield update("Training cancelled; nothing was saved.", job.history)
    elif job.error:
        yield update(f"Training failed: {cards.no_paths(job.error)}", job.history)
    else:
        yield update(f"Done. {done_message(lab, job, USE_LABEL)}", job.history, str(job.path))


def done_message(lab, job, use_label: str) -> str:
    """A finished job's model on both test sets against the live model it would replace, and what pressing
    ``use_label`` will do."""
    candidate = lab.models.candidate(job.path)
    live = lab.models.get(candidate.slot)
    found = cards.standing(candidate, live)
    then = (
        f"It reads worse than the live model: *{use_label}* says so and asks you to confirm."
        if found.confirm
        else f"*{use_label}* serves it in the Draw and Confusions tabs; *Restore shipped models* undoes that."
    )
    return f"{cards.trained(candidate.name, job.reports, live, lab.tests.message(DRAWN))}\n\n{then}"


def follow(job, progress):
    """Move the page's progress bar with every batch of ``job`` until it ends. Nothing else is sent meanwhile:
    each answer a handler sends restarts Gradio's bar and its timer. (So a page that goes away no longer stops
    the job; *Cancel* does, from any page.)"""
    while not job.done.wait(POLL_SECONDS):
        progress(job.fraction, desc=job.describe())


def follow_job():
    """A job this page started: show its epochs from now on, each tick."""
    return 0, gr.Timer(active=True)


def training_view(lab, shown):
    """The running job, each second while it runs: (status, curves when an epoch has ended, epochs shown, timer)."""
    job = lab.jobs.current
    if job is None or job.done.is_set():  # start_training's last answer says how it ended
        return gr.update(), gr.update(), shown, gr.Timer(active=False)
    epochs = len(job.history.get("loss", []))
    # Once the batches are done the status is left alone: a tick answered late (a busy server) must not land
    # after start_training's last answer and hide how the job ended.
    status = (
        f"Training {job.config.model}: {epochs} of {job.config.epochs} epochs done."
        if job.stage in BATCH_STAGES
        else gr.update()
    )
    figure = plots.curves(lab, job.history, job.config.model) if epochs != shown else gr.update()
    return status, figure, epochs, gr.Timer(active=True)


def architecture_defaults(arch):
    """An architecture's own (epochs, batch size, learning rate), the settings to start from."""
    spec = REGISTRY[arch].hyperparameters
    return spec.get("epochs", 10), spec.get("batch_size", 256), spec.get("learning_rate", 1e-3)


def retrain_setup(lab):
    """The Retrain tab's data note, the training-set slider's range, and whether Start can work."""
    data = lab.tests.dataset(EMNIST, wait=DATA_WAIT_SECONDS)  # at start-up the data may still be loading
    if data is None:
        return lab.tests.message(EMNIST), gr.update(), gr.update(interactive=False)
    n = len(data.y_train)
    return (
        f"{n:,} training images available, {cards.data_in_use(data)}. Progress shows here while a model trains.",
        gr.update(maximum=n, value=min(DEFAULT_TRAIN_SIZE, n)),
        gr.update(interactive=lab.guard.allows(TRAIN)),
    )


def cancel_training(lab):
    try:
        stage = lab.jobs.cancel()
    except Refused as exc:
        return str(exc)
    if stage is None:
        return "No training job is running."
    if stage == SAVING:
        return "Too late to cancel: the model is being saved."
    return "Cancelling after the current batch..." if stage in BATCH_STAGES else "Cancelling before saving..."


def use_model(lab, label, candidate, warned=None):
    """Serve the model this page just trained or fine-tuned (its path is held server-side in a gr.State) when it
    reads at least as well as the live model it replaces. When it reads worse, say so with both figures and serve
    it on the next press. -> (message, the warning that the next press confirms, the button: ``label`` or
    CONFIRM_LABEL)."""
    button = gr.update(value=label)
    try:
        lab.guard.check(PUT_LIVE)  # before anything is read: a refusal says so, whatever was sent
    except Refused as exc:
        return str(exc), None, button
    path = lab.models.retrained_path(candidate)
    if path is None:
        return NOTHING_TO_USE[label], None, button
    try:
        model = lab.models.candidate(path)
        live = lab.models.get(model.slot)
        found = cards.standing(model, live)
        # What was warned of: this model in place of that live one. Another teacher's put-live meanwhile warns anew.
        warning = f"{path} for {live.path if live else ''}"
        if found.confirm and warned != warning:
            return cards.put_live_warning(found, CONFIRM_LABEL), warning, gr.update(value=CONFIRM_LABEL)
        lab.models.put_live(model)
    except (ValueError, store.ModelFileError) as exc:  # Refused too
        return f"Could not use it: {cards.no_paths(exc)}", None, button
    return f"**{model.title}** is live in the Draw and Confusions tabs for everyone on this server.", None, button


def restore_models(lab):
    try:
        pair = lab.models.restore()
    except Refused as exc:
        return str(exc)
    return "The shipped models are live again: " + ", ".join(pair.titles()) + "."


# ---------------------------------------------------------------- corrections


def start_finetune(lab, slot, progress=gr.Progress()):
    """Fine-tune a live model on the corrections in a background thread; yield (status, candidate path, use-button)."""

    def update(status, candidate=None):
        return status, candidate, gr.update(interactive=candidate is not None, value=TUNE_USE_LABEL)

    if cannot_train(lab):
        yield update(cannot_train(lab))
        return
    try:
        job = lab.jobs.start_fine_tune(slot if isinstance(slot, str) else "")
    except ValueError as exc:  # Refused, no model in that slot, or the models folder is inside assets/
        yield update(str(exc))
        return
    if job is None:
        yield update(BUSY_MESSAGE)
        return
    yield update(f"Fine-tuning the {job.live.title} on the corrections...")
    follow(job, progress)
    if job.cancelled:
        yield update("Fine-tuning cancelled; nothing was saved.")
    elif job.error:
        yield update(f"Fine-tuning did not run: {cards.no_paths(job.error)}")
    else:
        figures = cards.before_after(job.live.title, job.path.stem, job.before, job.after)
        yield update(f"{figures}\n\n{done_message(lab, job, TUNE_USE_LABEL)}", str(job.path))


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


def clear_corrections(lab, downloaded):
    """Delete every correction on this server, once the box says they were downloaded. Refused while training
    is off: on a public server a stranger must not delete what a class gave."""
    try:
        lab.guard.check(CLEAR_CORRECTIONS)  # first: a refusal says so, ticked or not
    except Refused as exc:
        return str(exc)
    if downloaded is not True:
        return "Download the corrections first, then tick the box: clearing deletes every one of them."
    count = lab.classroom.clear()
    return f"Deleted {count:,} correction{'s' * (count != 1)}; new ones can be collected."


# ---------------------------------------------------------------- the tab


def build(lab) -> RetrainTab:
    """The Retrain tab and its events, serving ``lab``."""
    with gr.Tab("Retrain", id="retrain"):
        gr.Markdown(INTRO if lab.guard.allows(TRAIN) else TRAINING_OFF_MESSAGE)
        train_info, train_size, start_button, live_status, put_live = training_part(lab)
        corrections_box, tune_use = corrections_part(lab, live_status)
    return RetrainTab(
        train_info, train_size, start_button, corrections_box, {**put_live, "names_after_fine_tune": tune_use}
    )


def training_part(lab):
    """Training a model and putting it live: (data note, training-set slider, Start, live note, put-live events
    by the name of what follows them)."""
    on = lab.guard.allows(TRAIN)
    start_epochs, start_batch, start_lr = architecture_defaults(DEFAULT_ARCHITECTURE)
    with gr.Row():
        arch = gr.Dropdown(list(REGISTRY), value=DEFAULT_ARCHITECTURE, label="Architecture")
        epochs = gr.Slider(1, FORM_MAX_EPOCHS, value=start_epochs, step=1, label="Epochs")
        batch_size = gr.Dropdown(list(FORM_BATCH_SIZES), value=start_batch, label="Batch size")
        learning_rate = gr.Number(start_lr, label="Learning rate")  # TrainConfig checks the range
        train_size = gr.Slider(FORM_MIN_IMAGES, 200_000, value=DEFAULT_TRAIN_SIZE, step=500, label="Training images")
    with gr.Row():
        start_button = gr.Button("Start", variant="primary", interactive=on)
        cancel_button = gr.Button("Cancel", variant="stop", interactive=on)
    # Also where the progress bar shows: the job never writes to this box, so Gradio keeps the
    # full bar there while the curves below update.
    train_info = gr.Markdown(container=True, padding=True, min_height=80)
    train_status = gr.Markdown(elem_id="train-status")
    train_curves = gr.HTML(label="Loss and accuracy per epoch", show_label=True, container=True, elem_id="train-curves")
    candidate, epochs_shown, ticker = gr.State(None), gr.State(0), gr.Timer(TICK_SECONDS, active=False)
    warned = gr.State(None)  # the warning the next press of *Use this model* confirms
    job_started = gr.State(None)  # when the last job this page started began
    with gr.Row():
        use_button = gr.Button(USE_LABEL, interactive=False)
        restore_button = gr.Button("Restore shipped models", interactive=on)
    live_status = gr.Markdown()

    arch.input(architecture_defaults, arch, [epochs, batch_size, learning_rate], api_name="architecture_defaults")
    start_button.click(
        bind(start_training, lab),
        [arch, epochs, batch_size, learning_rate, train_size],
        [train_status, train_curves, candidate, use_button, job_started],
        api_name="train",
        preprocess=False,
        concurrency_limit=TRAIN_CONCURRENCY,
        show_progress_on=train_info,
    )
    job_started.change(follow_job, None, [epochs_shown, ticker], api_visibility="private", queue=False)
    ticker.tick(
        bind(training_view, lab),
        epochs_shown,
        [train_status, train_curves, epochs_shown, ticker],
        api_visibility="private",
        show_progress="hidden",
        queue=False,
    )
    cancel_button.click(bind(cancel_training, lab), None, train_status, api_name="cancel_training", queue=False)
    put_live = {
        "names_after_use": use_button.click(
            bind(use_model, lab, USE_LABEL),
            [candidate, warned],
            [live_status, warned, use_button],
            api_name="use_model",
        ),
        "names_after_restore": restore_button.click(
            bind(restore_models, lab), None, live_status, api_name="restore_models"
        ),
    }
    return train_info, train_size, start_button, live_status, put_live


def corrections_part(lab, live_status):
    """Fine-tuning on the corrections, downloading and clearing them: (the corrections' count, put-live event)."""
    on = lab.guard.allows(TRAIN)
    gr.Markdown("### Teach the live models your class's handwriting")
    corrections_box = gr.Markdown()
    with gr.Row():
        tune_pick = gr.Radio(
            [(title, slot) for slot, title in SLOTS.items()], value="cnn", label="Model to fine-tune", scale=1
        )
        tune_button = gr.Button("Fine-tune on the corrections", variant="primary", scale=1, interactive=on)
        export_button = gr.Button("Download the corrections (CSV)", scale=1)
    tune_status = gr.Markdown(container=True, padding=True, min_height=60)
    tune_candidate, tune_warned = gr.State(None), gr.State(None)
    with gr.Row():
        tune_use = gr.Button(TUNE_USE_LABEL, interactive=False)
        corrections_file = gr.File(label="Corrections: Kaggle EMNIST CSV (ByMerge labels)")
    with gr.Row():
        clear_check = gr.Checkbox(False, label="I have downloaded the corrections: delete them here")
        clear_button = gr.Button("Clear the corrections", variant="stop", interactive=on)

    tune_button.click(
        bind(start_finetune, lab),
        tune_pick,
        [tune_status, tune_candidate, tune_use],
        api_name="fine_tune",
        preprocess=False,
        concurrency_limit=TRAIN_CONCURRENCY,
        show_progress_on=tune_status,
    )
    put_live = tune_use.click(
        bind(use_model, lab, TUNE_USE_LABEL),
        [tune_candidate, tune_warned],
        [live_status, tune_warned, tune_use],
        api_name="use_fine_tuned",
    )
    clear_button.click(
        bind(clear_corrections, lab), clear_check, tune_status, api_name="clear_corrections", preprocess=False
    ).then(bind(corrections_note, lab), None, corrections_box, api_visibility="private", queue=False)
    export_button.click(bind(corrections_csv, lab), None, [corrections_file, tune_status], api_name="corrections_csv")
    return corrections_box, put_live
