"""The Retrain tab: train a model from the registry (one job per server, live curves, cancel), put it live or
restore the shipped pair; fine-tune a live model on the class's corrections, download or clear them.

Whatever changes the server (training, put live, restore, clearing the corrections) is refused while
``lab.switches.training`` is off, on the page and over the API alike. A model that reads worse than the live
one it would replace goes live only on a second press, after the page has said so with both figures. What the
tab says names models and data, never a path on the server or a shell command.
"""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from emnist_core.data.pack import POOL47_SLICE
from emnist_core.lab import cards
from emnist_core.lab.guard import PUT_LIVE, TRAIN, TRAINING_OFF, Refused
from emnist_core.models import store
from emnist_core.models.evaluation import DRAWN, EMNIST
from emnist_core.models.registry import REGISTRY
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
from ui.teacher import teacher

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
START_LABEL, START_ANYWAY = "Start", "Start anyway"  # the second, once it has said a job would be slow
CONFIRM_ABOVE_SECONDS = 5 * 60  # a job estimated to take longer says so and waits for a second press
CONFIRM_LABEL = "Use it anyway"  # the put-live button, once it has said the model reads worse
NOTHING_TO_USE = {
    USE_LABEL: "Train a model first; *Use this model* serves the model you just trained.",
    TUNE_USE_LABEL: "Fine-tune a model first; *Use the fine-tuned model* serves the one you just made.",
}


class RetrainTab(NamedTuple):
    """What the other tabs and the page's load wire to."""

    tab: gr.Tab  # the teacher's: hidden on a pupil's page
    train_info: gr.Markdown  # the data note, filled on load
    train_size: gr.Slider  # its range is the training set's, set on load
    start_button: gr.Button  # interactive once the data is there
    candidate: gr.State  # the model *Use this model* puts live
    use_button: gr.Button
    corrections_box: gr.Markdown  # how many corrections this server keeps
    put_live: dict  # {name: event} of the events that change the live models: the other tabs rename them after


# ---------------------------------------------------------------- training


def cannot_train(lab) -> str | None:
    """Why no job can start on this server, or None."""
    if not lab.guard.allows(TRAIN):
        return TRAINING_OFF_MESSAGE
    return lab.tests.message(EMNIST) if lab.tests.dataset(EMNIST) is None else None


def start_training(
    lab,
    arch,
    epochs,
    batch_size,
    learning_rate,
    train_size,
    armed=None,
    teacher_key: str | None = None,
    request: gr.Request = None,
    progress=gr.Progress(),
):
    """Train a model of the registry; yield (status, curves, candidate path, use-button) as it goes. Needs the
    teacher where a teacher key is set: ``teacher_key`` is the key (or, on the page, the pass it gave). A job that
    would take longer than a few minutes on this server says how long and starts on a second call."""
    # More outputs, for the page only: the job's start time (a gr.State), sent only when this request started the
    # job: its change switches the page's timer on, so a refused request ("Busy") never shows another job's
    # progress; the Start button's label, and the slow job a second press confirms (``armed``, a gr.State).

    def update(status, history=None, candidate=None, started=gr.update(), confirm=None):
        use = gr.update(interactive=candidate is not None, value=USE_LABEL)
        start = gr.update(value=START_ANYWAY if confirm else START_LABEL)
        return status, plots.curves(lab, history, arch), candidate, use, started, start, confirm

    if cannot_train(lab):
        yield update(cannot_train(lab))
        return
    n_train = len(lab.tests.dataset(EMNIST).y_train)
    try:
        by = teacher(lab, teacher_key, request)
        lab.guard.check(TRAIN, by)  # first: a pupil is told so, never asked to confirm
        config = form_config(arch, epochs, batch_size, learning_rate, train_size, n_train, EMNIST)
    except Refused as exc:
        yield update(str(exc))
        return
    except ValueError as exc:
        yield update(f"Check the settings: {exc}")
        return
    seconds = lab.jobs.estimate(config)
    if seconds is not None and seconds > CONFIRM_ABOVE_SECONDS and armed != repr(config):
        yield update(slow_job_message(config, seconds, n_train), confirm=repr(config))
        return
    try:
        job = lab.jobs.start_training(config, by)
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


def slow_job_message(config, seconds: float, n_train: int) -> str:
    images = config.subset or n_train
    return (
        f"**This job would take about {cards.format_seconds(seconds)} on this server** ({config.model}: "
        f"{config.epochs} epoch{'s' * (config.epochs != 1)} of {images:,} images), and hold its one job slot "
        f"meanwhile. Press **{START_ANYWAY}** to run it, or choose fewer epochs or training images."
    )


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
    # The same words as the progress bar's: the epoch under way, never "0 of 10 done" beside "epoch 3".
    status = f"Training {job.config.model}: {job.describe()}" if job.stage in BATCH_STAGES else gr.update()
    figure = plots.curves(lab, job.history, job.config.model) if epochs != shown else gr.update()
    return status, figure, epochs, gr.Timer(active=True)


def disarm():
    """Forget the slow job a press of *Start anyway* would start: (armed, Start button)."""
    return None, gr.update(value=START_LABEL)


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


def cancel_training(lab, teacher_key: str | None = None, request: gr.Request = None):
    """Stop the running job (the teacher's, where a teacher key is set) -> what happened."""
    try:
        stage = lab.jobs.cancel(teacher(lab, teacher_key, request))
    except Refused as exc:
        return str(exc)
    if stage is None:
        return "No training job is running."
    if stage == SAVING:
        return "Too late to cancel: the model is being saved."
    return "Cancelling after the current batch..." if stage in BATCH_STAGES else "Cancelling before saving..."


def use_model(lab, label, candidate, warned=None, teacher_key: str | None = None, request: gr.Request = None):
    """Serve the model this page just trained or fine-tuned (its path is held server-side in a gr.State) when it
    reads at least as well as the live model it replaces. When it reads worse, say so with both figures and serve
    it on the next press. -> (message, the warning that the next press confirms, the button: ``label`` or
    CONFIRM_LABEL)."""
    button = gr.update(value=label)
    try:
        by = teacher(lab, teacher_key, request)
        lab.guard.check(PUT_LIVE, by)  # before anything is read: a refusal says so, whatever was sent
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
        lab.models.put_live(model, by)
    except (ValueError, store.ModelFileError) as exc:  # Refused too
        return f"Could not use it: {cards.no_paths(exc)}", None, button
    return f"**{model.title}** is live in the Draw and Confusions tabs for everyone on this server.", None, button


def restore_models(lab, teacher_key: str | None = None, request: gr.Request = None):
    """Serve the shipped pair again (the teacher's doing, where a teacher key is set) -> what happened."""
    try:
        pair = lab.models.restore(teacher(lab, teacher_key, request))
    except Refused as exc:
        return str(exc)
    return "The shipped models are live again: " + ", ".join(pair.titles()) + "."


# ---------------------------------------------------------------- the tab


def build(lab, teacher_key: gr.Textbox, corrections_part) -> RetrainTab:
    """The Retrain tab and its events, serving ``lab``; only the teacher's page shows it where a teacher key is set.
    ``teacher_key``: the page's pass (``ui.teacher``), every guarded handler's last input. ``corrections_part``:
    (lab, live note, teacher_key) -> (the corrections' count, its put-live event): the tab's second part
    (``ui.finetune.build``), which uses this module's job helpers."""
    with gr.Tab("Retrain", id="retrain", visible=not lab.guard.locked) as tab:
        gr.Markdown(INTRO if lab.guard.allows(TRAIN) else TRAINING_OFF_MESSAGE)
        train_info, train_size, start_button, live_status, put_live, candidate, use_button = training_part(
            lab, teacher_key
        )
        corrections_box, tune_use = corrections_part(lab, live_status, teacher_key)
    return RetrainTab(
        tab,
        train_info,
        train_size,
        start_button,
        candidate,
        use_button,
        corrections_box,
        {**put_live, "names_after_fine_tune": tune_use},
    )


def training_part(lab, teacher_key):
    """Training a model and putting it live: (data note, training-set slider, Start, live note, put-live events
    by the name of what follows them, the model to put live, its button)."""
    on = lab.guard.allows(TRAIN)
    start_epochs, start_batch, start_lr = architecture_defaults(DEFAULT_ARCHITECTURE)
    with gr.Row():
        arch = gr.Dropdown(list(REGISTRY), value=DEFAULT_ARCHITECTURE, label="Architecture")
        epochs = gr.Slider(1, FORM_MAX_EPOCHS, value=start_epochs, step=1, label="Epochs")
        batch_size = gr.Dropdown(list(FORM_BATCH_SIZES), value=start_batch, label="Batch size")
        learning_rate = gr.Number(start_lr, label="Learning rate")  # TrainConfig checks the range
        train_size = gr.Slider(FORM_MIN_IMAGES, 200_000, value=DEFAULT_TRAIN_SIZE, step=500, label="Training images")
    with gr.Row():
        start_button = gr.Button(START_LABEL, variant="primary", interactive=on)
        cancel_button = gr.Button("Cancel", variant="stop", interactive=on)
    # Also where the progress bar shows: the job never writes to this box, so Gradio keeps the
    # full bar there while the curves below update.
    train_info = gr.Markdown(container=True, padding=True, min_height=80)
    train_status = gr.Markdown(elem_id="train-status")
    train_curves = gr.HTML(label="Loss and accuracy per epoch", show_label=True, container=True, elem_id="train-curves")
    candidate, epochs_shown, ticker = gr.State(None), gr.State(0), gr.Timer(TICK_SECONDS, active=False)
    warned = gr.State(None)  # the warning the next press of *Use this model* confirms
    armed = gr.State(None)  # the slow job the next press of *Start anyway* starts
    job_started = gr.State(None)  # when the last job this page started began
    with gr.Row():
        use_button = gr.Button(USE_LABEL, interactive=False)
        restore_button = gr.Button("Restore shipped models", interactive=on)
    live_status = gr.Markdown()

    arch.input(architecture_defaults, arch, [epochs, batch_size, learning_rate], api_name="architecture_defaults")
    # A warning is about the settings it quoted: once they change, Start asks afresh. (An architecture's defaults
    # can land just after a quick press of Start, which then quoted the previous ones.)
    gr.on(
        [arch.change, epochs.change, batch_size.change, learning_rate.change, train_size.change],
        disarm,
        None,
        [armed, start_button],
        api_visibility="private",
        show_progress="hidden",
        queue=False,
    )
    start_button.click(
        bind(start_training, lab),
        [arch, epochs, batch_size, learning_rate, train_size, armed, teacher_key],
        [train_status, train_curves, candidate, use_button, job_started, start_button, armed],
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
    cancel_button.click(bind(cancel_training, lab), teacher_key, train_status, api_name="cancel_training", queue=False)
    put_live = {
        "names_after_use": use_button.click(
            bind(use_model, lab, USE_LABEL),
            [candidate, warned, teacher_key],
            [live_status, warned, use_button],
            api_name="use_model",
        ),
        "names_after_restore": restore_button.click(
            bind(restore_models, lab), teacher_key, live_status, api_name="restore_models"
        ),
    }
    return train_info, train_size, start_button, live_status, put_live, candidate, use_button


def last_trained(lab):
    """On load: the model this server's last job made, ready for *Use this model* when it is not live (a page
    reloaded after training can still put it live). -> (the model, the button)."""
    job = lab.jobs.current
    path = None if job is None or job.kind != "training" or not job.done.is_set() else job.path
    live = [m.path for m in lab.models.pair.models.values()]
    if path is None or path in live or lab.models.retrained_path(str(path)) is None:
        return None, gr.update(interactive=False, value=USE_LABEL)
    return str(path), gr.update(interactive=True, value=USE_LABEL)
