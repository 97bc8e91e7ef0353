"""EMNIST Sketch Lab: draw a character and watch an MLP and a CNN read it side by side, browse the
test images they get wrong, and retrain either one live.

This file is the Gradio UI only: layout, handlers and wiring. The server's state (the live models,
the test data, the one training job) is an ``emnist_core.lab.state.Lab``, which ``build_demo(lab)`` serves;
every prediction, metric and figure comes from ``emnist_core``. Importing this module starts nothing.
``python app.py`` creates the Lab and serves on http://127.0.0.1:7860 (Gradio honours GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT). Environment:

- ``EMNIST_DATA_DIR``: folder of the EMNIST gzip files; needed for the test images and retraining.
- ``EMNIST_MODELS_DIR``: where retrained models are written (never ``assets/``).
- ``EMNIST_DISABLE_TRAINING=1``: turn retraining and fine-tuning off, e.g. on a public Space (the API refuses
  them too); corrections are then not collected either, unless ``EMNIST_ALLOW_CORRECTIONS=1``.
- ``EMNIST_CORRECTIONS_DIR``: where corrections are kept (default: under ``EMNIST_CACHE_DIR``).

Programs call the named endpoints (``/predict``, ``/explain``, ``/correct``, ``/confusions`` ...). The page's
own drawing and photo events are private; ``/predict``, ``/predict_photo``, ``/explain`` and ``/correct`` are
``gr.api`` endpoints that take the payload as sent and check it here, so a caller who sends the wrong shape is
told what to send.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
import tempfile
from functools import lru_cache, partial

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from emnist_core.lab import cards, figures
from emnist_core.models import evaluation, store
from emnist_core.data import labels
from emnist_core.lab.state import BATCH_STAGES, DATASET, SLOTS, Lab
from emnist_core.lab.corrections import CorrectionError
from emnist_core.data.preprocess import ImageInputError, load_image
from emnist_core.models.registry import REGISTRY
from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS  # one brush for the app and the renderer
from emnist_core.training.config import FORM_BATCH_SIZES, FORM_MAX_EPOCHS, FORM_MIN_IMAGES, SAVING, form_config
from emnist_core.lab.verdict import NO_MODEL_MESSAGE, verdict  # noqa: F401  NO_MODEL_MESSAGE: the tests' name for it

CLASSES = list(labels.label_map("bymerge").names)
TOP_K = 5
PREVIEW_PX = 168  # the 28x28 input, shown 6x enlarged
SKETCHPAD_PX = 340  # the drawing area's height on the page (its canvas stays CANVAS pixels)
GALLERY_MAX = 48
GALLERY_ZOOM = 4
PAIRS_SHOWN = 24
SUMMARY_COUNTS = ("Total params", "Trainable params", "Non-trainable params", "Optimizer params")
SHORTCUTS = (("O", "0"), ("0", "O"), ("Z", "2"), ("2", "Z"))
# The Confusions tab's test sets: EMNIST's scanned test images, or characters drawn with a pen by writers
# no model trained on (UNIPEN test, rendered with the sketchpad's brush). Value: the report's dataset.
TEST_SETS = (("EMNIST test images", DATASET), ("Drawn characters (UNIPEN)", "unipen"))
TEST_SET_WORDS = {DATASET: "EMNIST test images", "unipen": "drawn test characters (UNIPEN writers never trained on)"}
PREDICT_CONCURRENCY = 16  # a classroom drawing at once
# More than one, so a second teacher is told "busy" at once instead of waiting in the queue; the lock
# in Lab.start_job is what allows a single training job.
TRAIN_CONCURRENCY = 4
POLL_SECONDS = 0.5
DATA_WAIT_SECONDS = 60
DEFAULT_TRAIN_SIZE = 20_000
DEFAULT_ARCHITECTURE = "seed-mlp"
TRAINING_DISABLED = os.environ.get("EMNIST_DISABLE_TRAINING", "").strip().lower() in ("1", "true", "yes")
# Gradio refuses bigger uploads before the app sees them; a phone photo of a character is a few MB.
MAX_UPLOAD = "10mb"
log = logging.getLogger("emnist_sketch_lab")

EMPTY_MESSAGE = "The canvas is empty: draw a character first."
PHOTO_MESSAGE = "Upload a photo or scan of one character."
SKETCH_TAKES = '/{} cannot use what was sent. It takes Draw here: a sketch: {{"composite": an image file}}.'
PHOTO_TAKES = "/predict_photo cannot use what was sent. It takes Photo: an image file."
TRAINING_OFF_MESSAGE = "Retraining is turned off on this server (`EMNIST_DISABLE_TRAINING=1`)."
MAX_MESSAGE = 300  # characters of an error message, at most
SHOW_GALLERY_JS = "() => document.querySelector('#mistakes-note')?.scrollIntoView({behavior: 'smooth', block: 'start'})"
CSS = f"""
.why {{ margin: 0; }} .why figcaption {{ font-size: 0.9em; margin-top: 0.4em; }}
#preview img, #preview .empty, .why img, .why .empty {{ width: min({PREVIEW_PX}px, 100%); aspect-ratio: 1; height: auto;
  image-rendering: pixelated; background: #000; border-radius: 4px; display: block; }}
#preview > label[data-testid="block-label"] {{ position: static;
  margin: -10px 0 var(--spacing-lg) -12px; }}
#preview > .html-container.label-padding {{ padding-top: 0; }}
@media (max-width: 640px) {{ #preview, #verdict {{ min-width: 100% !important; }} }}
@media (max-width: 640px) {{ #matrix {{ overflow-x: auto !important; }}
  #matrix .matplotlib {{ align-items: flex-start; justify-content: flex-start; }}
  #matrix img {{ width: 640px; min-width: 640px; max-width: none; }} }}
"""
# For every launch (`python app.py`, the tests and the benches); Gradio 6 takes the page's CSS here.
# Without a GPU (school machines) the sketchpad's WebGL canvas is drawn in software, and each pointer move costs
# in proportion to its area in device pixels: bench/bench_sketchpad.py measured 428 ms a move on a 2x screen,
# 75 ms with a smaller pad (SKETCHPAD_PX) and the page drawn at 1 device pixel per CSS pixel. The models read a
# 28x28 image, so a sharper canvas would buy nothing.
ONE_DEVICE_PIXEL = "<script>Object.defineProperty(window, 'devicePixelRatio', {get: () => 1});</script>"
LAUNCH_OPTIONS = {"max_file_size": MAX_UPLOAD, "css": CSS, "head": ONE_DEVICE_PIXEL}
# Gradio's sketchpad starts, and starts again after Clear, with no tool selected: select the brush
# whenever no tool is, so that every first stroke draws.
SELECT_BRUSH_JS = """
() => {
  const watch = () => {
    const pad = document.querySelector('#sketchpad');
    if (!pad) return setTimeout(watch, 100);
    const pick = () => {
      const brush = pad.querySelector('button[aria-label="Brush"]') || pad.querySelector('.quite-round');
      if (brush && !pad.querySelector('button.highlight')) brush.click();
    };
    new MutationObserver(pick).observe(pad, {subtree: true, childList: true, attributes: true,
                                             attributeFilter: ['class']});
    pick();
  };
  watch();
}
"""
# ---------------------------------------------------------------- input checks

def refuse(message: str, cause: Exception | None = None) -> gr.Error:
    """A bad input's message, for the page or the API caller; not a server fault, so no traceback in the log."""
    if len(message) > MAX_MESSAGE:
        message = f"{message[:MAX_MESSAGE // 2]} ... {message[-MAX_MESSAGE // 2:]}"
    log.info("input refused: %s%s", message, f" ({type(cause).__name__}: {str(cause)[:200]})" if cause else "")
    return gr.Error(message, print_exception=False)


def is_file(value) -> bool:
    """A file as Gradio hands it over undecoded: {"path": ..., "url": ..., "orig_name": ...}."""
    return isinstance(value, dict) and "path" in value


def sketch_part(value, endpoint: str):
    """What an API caller sent ``endpoint`` as a sketch -> the image file to read, or None for an empty canvas;
    anything else is refused with what to send. Like the sketchpad, the composite is read first, then the first
    layer, then the background."""
    if value is None:
        return None
    layers = (value.get("layers") or []) if isinstance(value, dict) else None
    if not isinstance(layers, list):
        raise refuse(SKETCH_TAKES.format(endpoint))
    for part in (value.get("composite"), *layers, value.get("background")):
        if part is None:
            continue
        if not is_file(part) or not part["path"]:
            raise refuse(SKETCH_TAKES.format(endpoint))
        return part
    return None


def live_model(lab, slot):
    """The live model in ``slot``, or None when that slot is empty; anything but a slot's name is refused."""
    if not isinstance(slot, str) or slot not in SLOTS:
        raise refuse(missing_model(None))
    return lab.live.get(slot)


# ---------------------------------------------------------------- Draw

def look(lab, image):
    """An image (an array, or an uploaded file) -> (the 28x28 the models see, {slot: top-5}), or (None, message)."""
    if image is None:
        return None, EMPTY_MESSAGE
    if is_file(image):  # refused if empty, damaged, too big ... before any pixel is decoded
        try:
            image = load_image(image["path"], upload=True)
        except ImageInputError as exc:
            raise refuse(str(exc)) from None
    try:
        return lab.predictor.predict_drawing(image, TOP_K)
    except ImageInputError as exc:  # includes EmptyCanvasError and TooSmallError, with their own messages
        return None, str(exc)


def read(lab, image, shown=str):
    """An image (an array, or an uploaded file) -> (MLP top-5, CNN top-5, the 28x28 input as HTML, verdict).
    ``shown`` names the classes in the top-5s: the page's own events say "0 (zero)" and "O (letter o)"; programs
    get the plain class names they always got."""
    return answer(*look(lab, image), shown)


def answer(x28, tops, shown=str):
    """``look``'s result -> /predict's four outputs."""
    if x28 is None:
        return None, None, preview_html(None), tops
    # a slot may have no model
    mlp, cnn = ({shown(name): p for name, p in tops[slot]} if slot in tops else None for slot in SLOTS)
    return mlp, cnn, preview_html(x28), verdict(tops)


def why(lab, x28):
    """The 28x28 the models see -> [(overlay, caption)] per slot: where each live model found its answer."""
    found = {} if x28 is None else lab.explain(x28)
    return [(found[s].overlay, f"{SLOTS[s]}: {found[s].caption}") if s in found else
            (None, f"Why the {SLOTS[s]} reads it") for s in SLOTS]


def draw(lab, sketch):
    """The page's sketchpad, on every stroke: what /predict says, and why (/explain)."""
    x28, tops = look(lab, sketch_image(sketch))
    reasons = (why_html(overlay, text) for overlay, text in why(lab, x28))
    return *answer(x28, tops, labels.display_name), *reasons


def sketch_image(sketch):
    """The sketchpad's value as the page sends it ({"composite": image, ...}) -> the image to read."""
    if isinstance(sketch, dict) and not is_file(sketch):
        layers = [layer for layer in sketch.get("layers") or [] if layer is not None]
        return next((x for x in (sketch.get("composite"), *layers, sketch.get("background")) if x is not None), None)
    return sketch


def predict(lab, sketch):
    """The sketchpad's value -> what the Draw tab shows (/predict's four outputs)."""
    return read(lab, sketch_image(sketch))


def predict_photo(lab, image):
    """A photo (an uploaded file) -> what the Draw tab shows."""
    if image is None:
        return None, None, preview_html(None), PHOTO_MESSAGE
    return read(lab, image)


def show_photo(lab, image):
    """The page's photo box -> the Draw tab's outputs and the box itself: a refused file is taken out of the box
    (no broken-image icon) and its message stays in the verdict."""
    if image is None:  # removed, or taken out after a refusal: keep the message that says why
        return None, None, preview_html(None), gr.update(), gr.update()
    try:
        return *read(lab, image, labels.display_name), gr.update()
    except gr.Error as refused:
        return None, None, preview_html(None), refused.message, None


def correct(lab, image, label):
    """(a drawing, the class it really is) -> a short message: its 28x28 is kept as a correction, with what each
    model read and the time; nothing about the person."""
    if not isinstance(label, str) or not label:
        return "Choose what it really was, then press *Teach it*."
    x28, tops = look(lab, image)
    if x28 is None:
        return tops
    try:
        count = lab.correct(x28, label, tops)
    except CorrectionError as exc:
        return str(exc)
    return (f"Kept as **{labels.display_name(label)}**: {count:,} correction{'s' * (count != 1)} on this server. "
            "The Retrain tab can teach the models with them.")


def corrections_note(lab) -> str:
    return cards.corrections_note(lab.corrections.count())


def as_api(outputs, values):
    """Values as the components would send them, for a ``gr.api`` endpoint (which skips their postprocess)."""
    sent = [component.postprocess(value) for component, value in zip(outputs, values)]
    return tuple(value.model_dump() if hasattr(value, "model_dump") else value for value in sent)


def inline_png(pixels) -> str:
    """An image as a data URL: shown inline, so no file is written per stroke."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def preview_html(x28) -> str:
    """The 28x28 the models see, enlarged with hard pixel edges."""
    if x28 is None:
        return '<div class="empty" title="the 28x28 input appears here"></div>'
    return f'<img src="{inline_png(x28)}" alt="the 28x28 image the models see">'


def why_html(overlay, caption) -> str:
    """One model's overlay with its caption below it (a label over the picture would hide its top on a phone)."""
    picture = f'<img src="{inline_png(overlay)}" alt="where the model found its answer">' if overlay is not None else \
        '<div class="empty"></div>'
    return f'<figure class="why">{picture}<figcaption>{html.escape(caption)}</figcaption></figure>'


def serving_note(lab) -> str:
    return cards.serving_note(lab.live.values()) or NO_MODEL_MESSAGE


def label_updates(lab):
    """The two prediction boxes, titled with the model each one shows."""
    return [gr.update(label=lab.live[slot].title if slot in lab.live else f"{SLOTS[slot]} (none)") for slot in SLOTS]


def missing_model(slot) -> str:
    if slot in SLOTS:
        return f"No {SLOTS[slot]} is available on this server: its model file could not be loaded."
    return f"Unknown model; choose one of {', '.join(SLOTS)}."


# ---------------------------------------------------------------- Confusions

def model_choices(lab):
    return [(m.title, slot) for slot, m in lab.live.items()]


def test_set_of(value) -> str:
    """The Confusions tab's test set; anything else (an old client sends none) means EMNIST's."""
    return "unipen" if value == "unipen" else DATASET


def confusions(lab, slot, test_set=DATASET):
    """(model slot, test set) -> (summary, heatmap, pair choices, per-class table, data note)."""
    live = live_model(lab, slot)
    if live is None:
        raise refuse(missing_model(slot))
    test_set = test_set_of(test_set)
    report = live.report_on(test_set)
    if report is None:
        flag = "--dataset unipen " if test_set == "unipen" else ""
        name = store.report_path(live.path, "" if test_set == DATASET else test_set).name
        text = (f"No usable evaluation report (`{name}`) for {live.title}: run "
                f"`python -m emnist_core evaluate --model {live.path} {flag}--save-report`.")
        return text, None, gr.update(choices=[], value=None), None, data_note(lab, test_set)
    summary = cards.report_summary(live.title, report, TEST_SET_WORDS[test_set])
    pairs = [(f"{pair_words(p['true'], p['predicted'])}: {p['count']}", f"{p['true']} -> {p['predicted']}")
             for p in report["confused_pairs"][:PAIRS_SHOWN]]
    return (summary, heatmap(lab, str(live.path), test_set), gr.update(choices=pairs, value=None),
            per_class_table(report), data_note(lab, test_set))


@lru_cache(maxsize=8)
def heatmap(lab, path: str, test_set: str = DATASET):
    live = next(m for m in lab.live.values() if str(m.path) == path)
    where = "drawn characters" if test_set == "unipen" else "EMNIST test"
    return figures.closed(figures.confusion_figure(live.report_on(test_set), f"{live.name} on {where}"))


def per_class_table(report) -> pd.DataFrame:
    headers, rows = cards.per_class_rows(report)
    return pd.DataFrame(rows, columns=headers)


def pair_words(true_name, pred_name) -> str:
    """"O (letter o) -> 0 (zero)": a confused pair with look-alike classes named in words."""
    return f"{labels.display_name(true_name)} -> {labels.display_name(pred_name)}"


def data_note(lab, test_set=DATASET) -> str:
    images, message = lab.test_images(test_set_of(test_set))
    return "" if images is not None else message


def gallery(lab, slot, true_class, predicted_class, test_set=DATASET):
    """(model slot, true class, predicted class, test set) -> (test images of that mistake with captions, message)."""
    live = live_model(lab, slot)
    if live is None:
        return [], missing_model(slot)
    test_set = test_set_of(test_set)
    report = live.report_on(test_set)
    if report is None:
        return [], f"No evaluation report on {TEST_SET_WORDS[test_set]} for {live.title}."
    if not true_class or not predicted_class:
        return [], "Choose a pair, or a true and a predicted class, to see the test images of that mistake."
    try:
        true_name, pred_name, hits = evaluation.find_mistakes(report, true_class, predicted_class)
    except ValueError as exc:
        return [], str(exc)
    what = "drawn test characters" if test_set == "unipen" else "test images"
    if not hits:
        return [], (f"The {live.title} never read one of the {what} **{labels.display_name(true_name)}** as "
                    f"**{labels.display_name(pred_name)}**.")
    text = (f"{len(hits)} {what} of **{labels.display_name(true_name)}** read as "
            f"**{labels.display_name(pred_name)}** by the {live.title}")
    x_test, message = lab.test_images(test_set)
    if x_test is None:
        return [], f"{text}. {message}"
    # The confidence first: a narrow tile cuts a caption's end.
    images = [(enlarge(x_test[i]), f"{conf:.0%}: {pair_words(true_name, pred_name)}") for i, conf in hits[:GALLERY_MAX]]
    shown = f"; the {len(images)} it was surest about" if len(hits) > len(images) else ""
    return images, f"{text}{shown}."


def enlarge(x28) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(x28)).resize((28 * GALLERY_ZOOM,) * 2, Image.Resampling.NEAREST))


def gallery_for_pair(lab, slot, pair, test_set=DATASET):
    """A ranked pair ("O -> 0") -> (true, predicted, gallery, message)."""
    true_name, _, pred_name = str(pair or "").partition(" -> ")
    if not pred_name:
        return None, None, [], "Choose a pair from the list."
    return true_name, pred_name, *gallery(lab, slot, true_name, pred_name, test_set)


# ---------------------------------------------------------------- Retrain

def start_training(lab, arch, epochs, batch_size, learning_rate, train_size, progress=gr.Progress()):
    """Train in a background thread; yield (status, curves, candidate path, use-button) as it goes."""

    def update(status, history=None, candidate=None):
        return status, curves(history, arch), candidate, gr.update(interactive=candidate is not None)

    if cannot_train(lab):
        yield update(cannot_train(lab))
        return
    try:
        folder = lab.models_folder()
    except ValueError as exc:
        yield update(str(exc))
        return
    try:
        config = form_config(arch, epochs, batch_size, learning_rate, train_size, len(lab.dataset.y_train), DATASET)
    except ValueError as exc:
        yield update(f"Check the settings: {exc}")
        return
    job = lab.start_job(config, folder)
    if job is None:
        yield update("Busy: another training job is running on this server. Try again when it has finished.")
        return
    yield update("Starting...")
    follow(job, progress)  # the curves and status follow on the page's timer (training_view)
    if job.cancelled:
        yield update("Training cancelled; nothing was saved.", job.history)
    elif job.error:
        yield update(f"Training failed: {job.error}", job.history)
    else:
        live = lab.live.get(REGISTRY[job.config.model].kind)
        yield update(f"Done. {cards.comparison(job.report, job.path, live)}", job.history, str(job.path))


def cannot_train(lab) -> str | None:
    """Why no job can start on this server, or None."""
    if TRAINING_DISABLED:
        return TRAINING_OFF_MESSAGE
    return lab.data_message if lab.dataset is None else None


def follow(job, progress):
    """Move the page's progress bar with every batch of ``job`` until it ends. Nothing else is sent meanwhile:
    each answer a handler sends restarts Gradio's bar and its timer. (So a page that goes away no longer stops
    the job; *Cancel* does, from any page.)"""
    while not job.done.wait(POLL_SECONDS):
        progress(job.fraction, desc=job.describe())


def training_view(lab, shown):
    """The running job, each second while it runs: (status, curves when an epoch has ended, epochs shown, timer)."""
    job = lab.job
    if job is None or job.done.is_set():  # start_training's last answer says how it ended
        return gr.update(), gr.update(), shown, gr.Timer(active=False)
    epochs = len(job.history.get("loss", []))
    status = f"Training {job.config.model}: {epochs} of {job.config.epochs} epochs done."
    figure = curves(job.history, job.config.model) if epochs != shown else gr.update()
    return status, figure, epochs, gr.Timer(active=True)


def curves(history, name):
    return figures.closed(figures.curves_figure(history, f"{name}: training curves")) if history else None


def architecture_defaults(arch):
    """An architecture's own (epochs, batch size, learning rate), the settings to start from."""
    spec = REGISTRY[arch].hyperparameters
    return spec.get("epochs", 10), spec.get("batch_size", 256), spec.get("learning_rate", 1e-3)


def retrain_setup(lab):
    """The Retrain tab's data note, the training-set slider's range, and whether Start can work."""
    lab.data_ready.wait(DATA_WAIT_SECONDS)  # at start-up the data may still be loading
    if lab.dataset is None:
        return data_note(lab), gr.update(), gr.update(interactive=False)
    n = len(lab.dataset.y_train)
    return (f"{n:,} training images available. Progress shows here while a model trains.",
            gr.update(maximum=n, value=min(DEFAULT_TRAIN_SIZE, n)), gr.update(interactive=not TRAINING_DISABLED))


def start_finetune(lab, slot, progress=gr.Progress()):
    """Fine-tune a live model on the corrections in a background thread; yield (status, candidate path, use-button)."""

    def update(status, candidate=None):
        return status, candidate, gr.update(interactive=candidate is not None)

    if cannot_train(lab):
        yield update(cannot_train(lab))
        return
    try:
        job = lab.start_finetune(slot if isinstance(slot, str) else "", lab.models_folder())
    except ValueError as exc:  # no model in that slot, or the models folder is inside assets/
        yield update(str(exc))
        return
    if job is None:
        yield update("Busy: another training job is running on this server. Try again when it has finished.")
        return
    yield update(f"Fine-tuning the {job.live.title} on the corrections...")
    follow(job, progress)
    if job.cancelled:
        yield update("Fine-tuning cancelled; nothing was saved.")
    elif job.error:
        yield update(f"Fine-tuning did not run: {job.error}")
    else:
        yield update(cards.before_after(job.live.title, job.path, job.result.before, job.result.after), str(job.path))


def corrections_csv(lab):
    """All corrections as one Kaggle-style EMNIST CSV, which `evaluate --csv` and `train --extra-csv` read."""
    try:
        return str(lab.corrections.export_csv(tempfile.mkdtemp(prefix="corrections-"))), ""
    except CorrectionError as exc:
        return None, str(exc)


def clear_corrections(lab, downloaded):
    """Delete every correction on this server, once the box says they were downloaded. Refused while training
    is off: on a public server a stranger must not delete what a class gave."""
    if TRAINING_DISABLED:
        return TRAINING_OFF_MESSAGE
    if downloaded is not True:
        return "Download the corrections first, then tick the box: clearing deletes every one of them."
    count = lab.corrections.clear()
    return f"Deleted {count:,} correction{'s' * (count != 1)}; new ones can be collected."


def cancel_training(lab):
    stage = lab.cancel_job()
    if stage is None:
        return "No training job is running."
    if stage == SAVING:
        return "Too late to cancel: the model is being saved."
    return "Cancelling after the current batch..." if stage in BATCH_STAGES else "Cancelling before saving..."


def use_model(lab, candidate):
    """Serve the model this session just trained (its path is held server-side in a gr.State)."""
    if TRAINING_DISABLED:
        return TRAINING_OFF_MESSAGE
    path = lab.retrained_path(candidate)
    if path is None:
        return "Train a model first; *Use this model* serves the model you just trained."
    try:
        live = lab.put_live(path)
    except (ValueError, store.ModelFileError) as exc:
        return f"Could not use it: {exc}"
    return f"**{live.title}** is live in the Draw and Confusions tabs for everyone on this server."


def restore_models(lab):
    if TRAINING_DISABLED:
        return TRAINING_OFF_MESSAGE
    lab.restore()
    return "The shipped models are live again: " + ", ".join(m.title for m in lab.live.values()) + "."


def after_change(lab):
    """What names the live models once one is put live or restored: the model choices, labels, serving note."""
    return gr.update(choices=model_choices(lab)), *label_updates(lab), serving_note(lab)


# ---------------------------------------------------------------- Models

def model_card(lab, slot):
    """Slot -> (card text, training curves, architecture summary)."""
    live = lab.live.get(slot)
    if live is None:
        return f"### {SLOTS[slot]}\n{missing_model(slot)}", None, ""
    text = cards.card_markdown(live.title, live.path, live.card, live.report)
    # Keras' summary counts the optimizer's variables as parameters too: the card's count is the model's.
    summary = "\n".join(line for line in (live.card or {}).get("architecture", {}).get("summary", "").splitlines()
                        if line.strip() and not line.lstrip().startswith(SUMMARY_COUNTS))
    return text, card_curves(lab, str(live.path)), summary


@lru_cache(maxsize=8)
def card_curves(lab, path: str):
    live = next(m for m in lab.live.values() if str(m.path) == path)
    return curves((live.card or {}).get("history"), live.name)


def model_cards(lab):
    return [value for slot in SLOTS for value in model_card(lab, slot)]


def reliability_plots(lab):
    """Each live model's reliability diagram (stated confidence against accuracy), when its card has one."""
    return [reliability_plot(lab, str(lab.live[slot].path)) if slot in lab.live else None for slot in SLOTS]


@lru_cache(maxsize=8)
def reliability_plot(lab, path: str):
    live = next(m for m in lab.live.values() if str(m.path) == path)
    scaling = ((live.card or {}).get("calibration") or {}).get("temperature")
    return figures.closed(figures.reliability_figure(scaling, f"{live.name}: how sure vs how right")) if scaling else None


# ---------------------------------------------------------------- layout

def load_note(lab) -> str:
    """Which shipped model files failed to load at start, and what to do, for the top of the page."""
    serving = ", ".join(m.title for m in lab.shipped.values()) or "no model"
    problems = "\n".join(f"- {problem}" for problem in lab.load_problems)
    return (f"**Some shipped model files could not be loaded;** serving: {serving}. Restore the files from the "
            f"project's `assets/` (or retrain), then restart the app.\n\n{problems}")


def bind(handler, lab: Lab):
    """``handler`` as Gradio calls it, with ``lab`` as its first argument; its docstring stays the endpoint's
    description on the API page."""
    bound = partial(handler, lab)
    bound.__doc__ = handler.__doc__
    return bound


def build_demo(lab: Lab) -> gr.Blocks:
    """The page, its endpoints and their handlers, serving ``lab``."""
    with gr.Blocks(title="EMNIST Sketch Lab") as demo:
        gr.Markdown("# EMNIST Sketch Lab\nDraw one character (a digit, a capital, or one of a b d e f g h n q r t) "
                    "and compare how an MLP and a CNN read it.")
        if lab.load_problems:
            gr.Markdown(load_note(lab), elem_id="load-note", container=True, padding=True)
        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                serving = gr.Markdown(serving_note(lab), elem_id="serving")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        sketchpad = gr.Sketchpad(
                            label="Draw here", type="numpy", canvas_size=(CANVAS, CANVAS),
                            height=SKETCHPAD_PX, layers=False, transforms=(), elem_id="sketchpad",
                            brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
                            eraser=gr.Eraser(default_size=BRUSH_RADIUS * 2),
                        )
                    with gr.Column(scale=2, min_width=300):
                        with gr.Row():
                            label_boxes = [gr.Label(label=title, num_top_classes=TOP_K, min_width=150,
                                                    elem_id=f"{slot}-label") for slot, title in SLOTS.items()]
                        with gr.Row():
                            why_boxes = [gr.HTML(why_html(None, f"Why the {title} reads it"), elem_id=f"{slot}-why",
                                                 min_width=150, container=True, padding=True)
                                         for slot, title in SLOTS.items()]
                        with gr.Row(equal_height=False):
                            preview = gr.HTML(preview_html(None), label="What the models see (28x28)",
                                              show_label=True, container=True, padding=True, elem_id="preview",
                                              min_width=PREVIEW_PX + 40, scale=0)
                            verdict_box = gr.Markdown("Draw a character: the predictions update with every stroke.",
                                                      elem_id="verdict", container=True, padding=True)
                        with gr.Row(equal_height=True):
                            correct_pick = gr.Dropdown([(labels.display_name(c), c) for c in CLASSES], value=None,
                                                       label="Read wrong? It was...", min_width=120, scale=2,
                                                       elem_id="correct-pick")
                            correct_button = gr.Button("Teach it", min_width=80, scale=1, elem_id="correct-button")
                        correct_note = gr.Markdown(elem_id="correct-note")
                        with gr.Accordion("...or upload a photo or scan of one character", open=False):
                            photo = gr.Image(label="Photo", type="filepath", image_mode=None,
                                             sources=["upload", "clipboard"], height=240, elem_id="photo")
            with gr.Tab("Confusions", id="confusions") as confusions_tab:
                with gr.Row():
                    model_pick = gr.Radio(model_choices(lab), value=next(iter(lab.live), None), label="Model", scale=1)
                    test_pick = gr.Radio(TEST_SETS, value=DATASET, label="Test set", scale=1)
                    summary = gr.Markdown()
                data_box = gr.Markdown()
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        # 47 x 47 cells: on a phone the figure keeps a readable width and scrolls sideways.
                        matrix = gr.Plot(label="Confusion matrix", elem_id="matrix")
                    with gr.Column(scale=2):
                        pair_pick = gr.Radio([], label="Most confused pairs (true -> predicted: count)",
                                             info="Choose one to see its test images")
                        with gr.Row():
                            # Custom values reach gallery(), whose message says what the classes are.
                            true_pick = gr.Dropdown(CLASSES, value=None, label="True class", min_width=80,
                                                    allow_custom_value=True)
                            pred_pick = gr.Dropdown(CLASSES, value=None, label="Predicted as", min_width=80,
                                                    allow_custom_value=True)
                        show_button = gr.Button("Show these mistakes", variant="primary")
                        with gr.Row():
                            shortcut_buttons = [gr.Button(pair_words(t, p), size="sm", min_width=60)
                                                for t, p in SHORTCUTS]
                gallery_note = gr.Markdown(elem_id="mistakes-note")
                mistakes = gr.Gallery(label="Test images of this mistake", columns=8, height=420,
                                      object_fit="contain", elem_id="mistakes")
                class_table = gr.Dataframe(label="Per-class accuracy on the test set (worst first)", max_height=400)
            with gr.Tab("Retrain", id="retrain"):
                gr.Markdown(TRAINING_OFF_MESSAGE if TRAINING_DISABLED else
                            "Train a model from the registry on part of the training images. One job runs at a "
                            "time on this server; drawing keeps working meanwhile.")
                start_epochs, start_batch, start_lr = architecture_defaults(DEFAULT_ARCHITECTURE)
                with gr.Row():
                    arch = gr.Dropdown(list(REGISTRY), value=DEFAULT_ARCHITECTURE, label="Architecture")
                    epochs = gr.Slider(1, FORM_MAX_EPOCHS, value=start_epochs, step=1, label="Epochs")
                    batch_size = gr.Dropdown(list(FORM_BATCH_SIZES), value=start_batch, label="Batch size")
                    learning_rate = gr.Number(start_lr, label="Learning rate")  # TrainConfig checks the range
                    train_size = gr.Slider(FORM_MIN_IMAGES, 200_000, value=DEFAULT_TRAIN_SIZE, step=500,
                                           label="Training images")
                with gr.Row():
                    start_button = gr.Button("Start", variant="primary", interactive=not TRAINING_DISABLED)
                    cancel_button = gr.Button("Cancel", variant="stop", interactive=not TRAINING_DISABLED)
                # Also where the progress bar shows: the job never writes to this box, so Gradio keeps the
                # full bar there while the curves below update.
                train_info = gr.Markdown(container=True, padding=True, min_height=80)
                train_status = gr.Markdown()
                train_curves = gr.Plot(label="Loss and accuracy per epoch")
                candidate, epochs_shown, ticker = gr.State(None), gr.State(0), gr.Timer(1.0, active=False)
                with gr.Row():
                    use_button = gr.Button("Use this model", interactive=False)
                    restore_button = gr.Button("Restore shipped models", interactive=not TRAINING_DISABLED)
                live_status = gr.Markdown()
                gr.Markdown("### Teach the live models your class's handwriting")
                corrections_box = gr.Markdown()
                with gr.Row():
                    tune_pick = gr.Radio([(title, slot) for slot, title in SLOTS.items()], value="cnn",
                                         label="Model to fine-tune", scale=1)
                    tune_button = gr.Button("Fine-tune on the corrections", variant="primary", scale=1,
                                            interactive=not TRAINING_DISABLED)
                    export_button = gr.Button("Download the corrections (CSV)", scale=1)
                tune_status = gr.Markdown(container=True, padding=True, min_height=60)
                tune_candidate = gr.State(None)
                with gr.Row():
                    tune_use = gr.Button("Use the fine-tuned model", interactive=False)
                    corrections_file = gr.File(label="Corrections: Kaggle EMNIST CSV (ByMerge labels)")
                with gr.Row():
                    clear_check = gr.Checkbox(False, label="I have downloaded the corrections: delete them here")
                    clear_button = gr.Button("Clear the corrections", variant="stop",
                                             interactive=not TRAINING_DISABLED)
            with gr.Tab("Models", id="models") as models_tab:
                card_outputs, reliability_outputs = [], []
                with gr.Row(equal_height=False):
                    for slot in SLOTS:
                        with gr.Column():
                            card_outputs += [gr.Markdown(), gr.Plot(label="Training curves"),
                                             gr.Code(label="Architecture", language=None, interactive=False,
                                                     show_line_numbers=False)]
                            # The figure's own title says what it is; a label would cover it.
                            reliability_outputs.append(gr.Plot(label="Reliability", show_label=False))

        # Draw: the page's own events (private) predict on every stroke, last stroke wins; programs call the
        # gr.api endpoints below, which take the payload as sent and say what to send instead of a bare "Error".
        draw_outputs = [*label_boxes, preview, verdict_box]
        sketchpad.change(bind(draw, lab), sketchpad, [*draw_outputs, *why_boxes], api_name="draw",
                         api_visibility="private",
                         trigger_mode="always_last", show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY)
        photo.change(bind(show_photo, lab), photo, [*draw_outputs, photo], api_name="draw_photo", api_visibility="private",
                     preprocess=False, show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY)

        def predict_api(sketch: dict | None = None) -> tuple[dict | None, dict | None, str, str]:
            """Sketchpad value {"composite": image file} -> (MLP top-5, CNN top-5, the 28x28 input as HTML, verdict)."""
            return as_api(draw_outputs, read(lab, sketch_part(sketch, "predict")))

        def predict_photo_api(photo: dict | None = None) -> tuple[dict | None, dict | None, str, str]:
            """A photo or scan of one character (an image file) -> the same four outputs as /predict."""
            if photo is not None and not (is_file(photo) and photo["path"]):
                raise refuse(PHOTO_MESSAGE if isinstance(photo, dict) else PHOTO_TAKES)
            return as_api(draw_outputs, predict_photo(lab, photo))

        def explain_api(sketch: dict | None = None) -> tuple[dict | None, dict | None, str]:
            """Sketchpad value {"composite": image file} -> (MLP overlay, CNN overlay, captions): the 28x28 the
            models see, with heat where hiding the ink lowers each model's answer most, and one line per model."""
            found = why(lab, look(lab, sketch_part(sketch, "explain"))[0])
            files = [overlay_file] * len(found)  # an image file per model, as an image component sends one
            return *as_api(files, [overlay for overlay, _ in found]), "\n".join(text for _, text in found)

        overlay_file = gr.Image(format="png", render=False)
        gr.api(predict_api, api_name="predict", concurrency_limit=PREDICT_CONCURRENCY)
        gr.api(explain_api, api_name="explain", concurrency_limit=PREDICT_CONCURRENCY)
        gr.api(predict_photo_api, api_name="predict_photo", concurrency_limit=PREDICT_CONCURRENCY)

        # Confusions
        # The test set comes last in every handler's inputs and defaults to EMNIST's, so API callers that
        # send only the model (and classes) get what they always got.
        confusion_outputs = [summary, matrix, pair_pick, class_table, data_box]
        gallery_inputs, gallery_outputs = [model_pick, true_pick, pred_pick, test_pick], [mistakes, gallery_note]
        gr.on([model_pick.change, test_pick.change], bind(confusions, lab), [model_pick, test_pick],
              confusion_outputs, api_name="confusions", preprocess=False).then(
            bind(gallery, lab), gallery_inputs, gallery_outputs, api_name="gallery_for_new_model",
            api_visibility="private", preprocess=False)
        confusions_tab.select(bind(confusions, lab), [model_pick, test_pick], confusion_outputs,
                              api_name="refresh_confusions", preprocess=False)
        gr.on([show_button.click, true_pick.input, pred_pick.input], bind(gallery, lab), gallery_inputs,
              gallery_outputs, api_name="gallery", preprocess=False).then(None, js=SHOW_GALLERY_JS)
        pair_pick.input(bind(gallery_for_pair, lab), [model_pick, pair_pick, test_pick],
                        [true_pick, pred_pick, *gallery_outputs], api_name="gallery_pair",
                        preprocess=False).then(None, js=SHOW_GALLERY_JS)
        for button, (t, p) in zip(shortcut_buttons, SHORTCUTS):
            # The chosen pair is also marked in the ranked list (when it is there) and the gallery scrolled to.
            button.click(lambda slot, test_set, t=t, p=p: (t, p, *gallery(lab, slot, t, p, test_set)),
                         [model_pick, test_pick], [true_pick, pred_pick, *gallery_outputs],
                         api_name=f"gallery_{t}_{p}", preprocess=False).then(
                lambda t=t, p=p: f"{t} -> {p}", None, pair_pick, api_visibility="private", queue=False).then(
                None, js=SHOW_GALLERY_JS)

        # Retrain
        arch.input(architecture_defaults, arch, [epochs, batch_size, learning_rate], api_name="architecture_defaults")
        start_button.click(bind(start_training, lab), [arch, epochs, batch_size, learning_rate, train_size],
                           [train_status, train_curves, candidate, use_button], api_name="train", preprocess=False,
                           concurrency_limit=TRAIN_CONCURRENCY, show_progress_on=train_info)
        start_button.click(lambda: (0, gr.Timer(active=True)), None, [epochs_shown, ticker], api_visibility="private",
                           queue=False)
        ticker.tick(bind(training_view, lab), epochs_shown, [train_status, train_curves, epochs_shown, ticker],
                    api_visibility="private", show_progress="hidden", queue=False)
        cancel_button.click(bind(cancel_training, lab), None, train_status, api_name="cancel_training", queue=False)
        changed = [model_pick, *label_boxes, serving]
        use_button.click(bind(use_model, lab), candidate, live_status, api_name="use_model").then(
            bind(after_change, lab), None, changed, api_name="names_after_use", api_visibility="private")
        restore_button.click(bind(restore_models, lab), None, live_status, api_name="restore_models").then(
            bind(after_change, lab), None, changed, api_name="names_after_restore", api_visibility="private")

        # Corrections: said on the Draw tab, used on the Retrain tab.
        correct_button.click(bind(correct, lab), [sketchpad, correct_pick], correct_note, api_name="correct_drawing",
                             api_visibility="private").then(bind(corrections_note, lab), None, corrections_box,
                                                            api_visibility="private", queue=False)

        def correct_api(sketch: dict | None = None, label: str | None = None) -> str:
            """(sketchpad value {"composite": image file}, the class it really is) -> a short message; the drawing's
            28x28 is kept as a correction (refused while EMNIST_DISABLE_TRAINING=1, unless EMNIST_ALLOW_CORRECTIONS=1)."""
            return correct(lab, sketch_part(sketch, "correct"), label)

        gr.api(correct_api, api_name="correct", concurrency_limit=PREDICT_CONCURRENCY)
        tune_button.click(bind(start_finetune, lab), tune_pick, [tune_status, tune_candidate, tune_use],
                          api_name="fine_tune", preprocess=False, concurrency_limit=TRAIN_CONCURRENCY,
                          show_progress_on=tune_status)
        tune_use.click(bind(use_model, lab), tune_candidate, live_status, api_name="use_fine_tuned").then(
            bind(after_change, lab), None, changed, api_name="names_after_fine_tune", api_visibility="private")
        clear_button.click(bind(clear_corrections, lab), clear_check, tune_status, api_name="clear_corrections",
                           preprocess=False).then(bind(corrections_note, lab), None, corrections_box,
                                                  api_visibility="private", queue=False)
        export_button.click(bind(corrections_csv, lab), None, [corrections_file, tune_status],
                            api_name="corrections_csv")

        # Models
        models_tab.select(bind(model_cards, lab), None, card_outputs, api_name="model_cards")
        models_tab.select(bind(reliability_plots, lab), None, reliability_outputs, api_name="reliability",
                          api_visibility="private")

        # On page load: pick the brush, name the live models, say what data there is.
        demo.load(None, js=SELECT_BRUSH_JS)
        demo.load(bind(after_change, lab), None, changed, api_name="names_on_load", api_visibility="private")
        demo.load(bind(retrain_setup, lab), None, [train_info, train_size, start_button], api_name="retrain_setup",
                  api_visibility="private")
        demo.load(bind(corrections_note, lab), None, corrections_box, api_visibility="private", queue=False)
    demo.queue(default_concurrency_limit=PREDICT_CONCURRENCY)
    return demo


if __name__ == "__main__":  # also how Hugging Face Spaces runs it
    demo = build_demo(Lab())
    demo.launch(**LAUNCH_OPTIONS)
