"""EMNIST Sketch Lab: draw a character and watch an MLP and a CNN read it side by side, browse the
test images they get wrong, and retrain either one live.

This file is the Gradio UI only; every prediction, metric and figure comes from ``emnist_core``.
``python app.py`` serves on http://127.0.0.1:7860 (Gradio honours GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT). Environment:

- ``EMNIST_DATA_DIR``: folder of the EMNIST gzip files; needed for the test images and retraining.
- ``EMNIST_MODELS_DIR``: where retrained models are written (never ``assets/``).
- ``EMNIST_DISABLE_TRAINING=1``: turn retraining off, e.g. on a public Space.
"""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the server log

import gradio as gr  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from emnist_core import datasets, evaluation, figures, labels, predictor, training  # noqa: E402
from emnist_core.models import REGISTRY  # noqa: E402
from emnist_core.preprocess import ImageInputError  # noqa: E402

SLOTS = {"mlp": "MLP", "cnn": "CNN"}  # the app always compares one live model of each kind
CLASSES = list(labels.label_map("bymerge").names)
DATASET = "pool47"  # the shipped reports index this dataset's test images
CANVAS = 400  # sketchpad pixels: ample for a 28x28 target, and cheap to send and preprocess per stroke
BRUSH = 14  # brush radius in canvas pixels: strokes about as thick, relative to a character, as NIST's pens
TOP_K = 5
NOTE_MIN_PROB = 0.10  # a second guess this likely counts when looking for a look-alike pair
PREVIEW_PX = 168  # the 28x28 input, shown 6x enlarged
GALLERY_MAX = 48
GALLERY_ZOOM = 4
PAIRS_SHOWN = 24
SHORTCUTS = (("O", "0"), ("0", "O"), ("Z", "2"), ("2", "Z"))
PREDICT_CONCURRENCY = 16  # a classroom drawing at once
# More than one, so a second teacher is told "busy" at once instead of waiting in the queue; the lock
# in Lab.start_job is what allows a single training job.
TRAIN_CONCURRENCY = 4
POLL_SECONDS = 0.5
DATA_WAIT_SECONDS = 60
DEFAULT_TRAIN_SIZE = 20_000
DEFAULT_ARCHITECTURE = "seed-mlp"
MAX_EPOCHS = 50
BATCH_SIZES = (32, 64, 128, 256, 512, 1024)
TRAINING_DISABLED = os.environ.get("EMNIST_DISABLE_TRAINING", "").strip().lower() in ("1", "true", "yes")

EMPTY_MESSAGE = "The canvas is empty: draw a character first."
DATA_HELP = (
    "Put the official EMNIST gzip files (`emnist-bymerge-test-*` and `emnist-byclass-test-*`, from NIST's "
    "`gzip.zip`) in a folder and start the app with `EMNIST_DATA_DIR=/path/to/folder python app.py`, "
    "or fetch them with `python -m emnist_core download --split bymerge --part test` (then `--split byclass`)."
)
TRAINING_OFF_MESSAGE = "Retraining is turned off on this server (`EMNIST_DISABLE_TRAINING=1`)."
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


# ---------------------------------------------------------------- server state

@dataclass
class LiveModel:
    slot: str  # "mlp" or "cnn"
    name: str  # file stem: "seed-cnn", "cnn-bn-20260101-120000" ...
    path: Path
    model: object
    card: dict | None
    report: dict | None

    @property
    def title(self) -> str:
        return f"{SLOTS[self.slot]} · {self.name}"


def load_live(slot: str, name_or_path) -> LiveModel:
    path = predictor.resolve_model_path(name_or_path)
    report = evaluation.report_path(path)
    return LiveModel(slot, path.name.removesuffix(".keras"), path, predictor.load_model(path),
                     predictor.load_card(path), evaluation.load_report(report) if report.exists() else None)


def load_data():
    return datasets.load_dataset(DATASET, os.environ.get("EMNIST_DATA_DIR") or None)


class Lab:
    """All server state: the live models, the test data (or why it is missing), the one training job."""

    def __init__(self, data_loader=load_data):
        self.shipped = {slot: load_live(slot, slot) for slot in SLOTS}
        self.live = dict(self.shipped)
        self.predictor = predictor.Predictor({slot: m.model for slot, m in self.live.items()})
        self.dataset = None
        self.data_message = "The test images are still loading; try again in a few seconds."
        self.data_ready = threading.Event()
        self.train_lock = threading.Lock()
        self.job: TrainingJob | None = None
        # Reading a test set from disk takes seconds: do it after start, not before the first prediction.
        threading.Thread(target=self._load_data, args=(data_loader,), name="load-data", daemon=True).start()

    def _load_data(self, loader):
        try:
            self.dataset = loader()
        except (datasets.DataNotFoundError, ValueError) as exc:  # DataFileError is a ValueError
            self.data_message = f"The EMNIST images are not available on this server ({exc}). {DATA_HELP}"
        finally:
            self.data_ready.set()

    def put_live(self, path) -> LiveModel:
        """Serve ``path`` (a retrained model) in its slot, for every user of this server."""
        card = predictor.load_card(path) or {}
        slot = card.get("architecture", {}).get("kind")
        if slot not in SLOTS:
            raise ValueError(f"{Path(path).name}: its card does not say whether it is an MLP or a CNN")
        live = load_live(slot, Path(path))
        self._serve({**self.live, slot: live})
        return live

    def restore(self):
        self._serve(dict(self.shipped))

    def _serve(self, live: dict):
        # Build the new predictor first, then swap both references: a stroke in flight keeps the old pair.
        new = predictor.Predictor({slot: m.model for slot, m in live.items()})
        self.live, self.predictor = live, new

    def start_job(self, config) -> "TrainingJob | None":
        """Start training in a thread, or None when a job is already running on this server."""
        if not self.train_lock.acquire(blocking=False):
            return None
        self.job = TrainingJob(config, self.dataset, self.train_lock)
        threading.Thread(target=self.job.run, name="training", daemon=True).start()
        return self.job


class TrainingJob:
    """One training run in its own thread: the UI polls its progress and may cancel it."""

    def __init__(self, config, dataset, lock: threading.Lock):
        self.config, self.dataset, self.lock = config, dataset, lock
        self.cancel, self.done = threading.Event(), threading.Event()
        self.epoch, self.batch, self.batches = 0, 0, 1
        self.history: dict[str, list[float]] = {}
        self.started = time.time()
        self.stage = "training"
        self.path: Path | None = None
        self.report: dict | None = None
        self.error: str | None = None
        self.cancelled = False

    # keras progress, called from the training thread
    def on_batch(self, epoch0, batch1, batches, logs):
        self.epoch, self.batch, self.batches = epoch0, batch1, batches

    def on_epoch(self, epoch1, epochs, logs):
        # Replaced whole, never appended to, so the UI thread always reads one consistent history.
        self.history = {k: [*self.history.get(k, []), v] for k, v in logs.items()}

    @property
    def fraction(self) -> float:
        return min(1.0, (self.epoch * self.batches + self.batch) / (self.config.epochs * self.batches))

    def describe(self) -> str:
        if self.stage != "training":
            return f"{self.stage}..."
        text = f"epoch {self.epoch + 1}/{self.config.epochs} · batch {self.batch}/{self.batches}"
        if self.fraction > 0:
            left = (time.time() - self.started) * (1 - self.fraction) / self.fraction
            text += f" · about {format_seconds(left)} left"
        return text

    def run(self):
        try:
            result = training.train(self.config, self.dataset, listener=self, cancel=self.cancel, evaluate_test=False)
            self.stage = "evaluating on the test set"
            data = self.dataset
            report = evaluation.evaluate_arrays(result.model, data.x_test, data.labels_as_classes(data.y_test),
                                                data.label_map)
            self.report = {**report, "dataset": data.name, "part": "test"}
            result.card["test_metrics"] = {k: v for k, v in self.report.items() if isinstance(v, (int, float))}
            self.stage = "saving"
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            path = predictor.models_dir() / f"{self.config.model}-{stamp}.keras"
            training.save_model(result, path)
            evaluation.save_report(self.report, evaluation.report_path(path))
            self.path = path
        except training.TrainingCancelled:
            self.cancelled = True
        except Exception as exc:  # shown to the teacher; the server keeps serving
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.stage = "done"
            self.done.set()
            self.lock.release()


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


# ---------------------------------------------------------------- Draw

def sketch_image(value):
    """A sketchpad value (or a bare image) -> the image to read, or None when there is none."""
    if isinstance(value, dict):
        if value.get("composite") is not None:
            return value["composite"]
        layers = [layer for layer in value.get("layers") or [] if layer is not None]
        return layers[0] if layers else value.get("background")
    return value


def predict(sketch):
    """Sketchpad value -> (MLP top-5, CNN top-5, the 28x28 input as HTML, verdict)."""
    image = sketch_image(sketch)
    if image is None:
        return None, None, preview_html(None), EMPTY_MESSAGE
    try:
        x28, tops = lab.predictor.predict_drawing(image, TOP_K)
    except ImageInputError as exc:  # includes EmptyCanvasError, with its own message
        return None, None, preview_html(None), str(exc)
    return dict(tops["mlp"]), dict(tops["cnn"]), preview_html(x28), verdict(tops)


def predict_photo(image):
    if image is None:
        return None, None, preview_html(None), "Upload a photo or scan of one character."
    return predict(image)


def verdict(tops) -> str:
    (mlp, p_mlp), (cnn, p_cnn) = tops["mlp"][0], tops["cnn"][0]
    if mlp == cnn:
        text = f"**Both models read {mlp}** (MLP {p_mlp:.0%}, CNN {p_cnn:.0%})."
    else:
        text = (f"**The models disagree:** the MLP reads **{mlp}** ({p_mlp:.0%}), "
                f"the CNN reads **{cnn}** ({p_cnn:.0%}).")
    guesses = dict.fromkeys(
        name for top in tops.values() for rank, (name, p) in enumerate(top[:2]) if rank == 0 or p >= NOTE_MIN_PROB
    )
    note = labels.lookalike_note(list(guesses))
    return f"{text}\n\n{note}" if note else text


def preview_html(x28) -> str:
    """The 28x28 the models see, enlarged with hard pixel edges; inline, so no file is written per stroke."""
    style = f"width:{PREVIEW_PX}px;height:{PREVIEW_PX}px;image-rendering:pixelated;background:#000;border-radius:4px"
    if x28 is None:
        return f'<div style="{style}" title="the 28x28 input appears here"></div>'
    buffer = io.BytesIO()
    Image.fromarray(x28).save(buffer, format="PNG")
    src = base64.b64encode(buffer.getvalue()).decode()
    return f'<img src="data:image/png;base64,{src}" alt="the 28x28 image the models see" style="{style}">'


# ---------------------------------------------------------------- Confusions

def model_choices():
    return [(m.title, slot) for slot, m in lab.live.items()]


def model_names():
    """The Confusions tab's model choices, renamed after a model is put live or restored."""
    return gr.update(choices=model_choices())


def confusions(slot):
    """Model slot -> (summary, heatmap, pair choices, per-class table, data note)."""
    live = lab.live.get(slot)
    if live is None:
        raise gr.Error(f"Unknown model {slot!r}; choose one of {', '.join(SLOTS)}.")
    report = live.report
    if report is None:
        text = (f"No evaluation report for {live.title}: run "
                f"`python -m emnist_core evaluate --model {live.path} --save-report`.")
        return text, None, gr.update(choices=[], value=None), None, data_note()
    summary = (f"**{live.title}** on {report['n']:,} {report.get('dataset', '')} test images: "
               f"accuracy **{report['accuracy']:.1%}**, mean per-class accuracy {report['mean_recall']:.1%}.")
    pairs = [(f"{p['true']} -> {p['predicted']}: {p['count']}", f"{p['true']} -> {p['predicted']}")
             for p in report["confused_pairs"][:PAIRS_SHOWN]]
    return (summary, heatmap(str(live.path)), gr.update(choices=pairs, value=None), per_class_table(report),
            data_note())


@lru_cache(maxsize=8)
def heatmap(path: str):
    live = next(m for m in lab.live.values() if str(m.path) == path)
    fig = figures.confusion_figure(live.report, f"{live.name}: confusion matrix (rows: true class)")
    plt.close(fig)  # Gradio renders it; pyplot need not keep it open
    return fig


def per_class_table(report) -> pd.DataFrame:
    rows = [(name, s["recall"], s["precision"], s["f1"], s["support"]) for name, s in report["per_class"].items()]
    table = pd.DataFrame(rows, columns=["class", "accuracy", "precision", "F1", "test images"])
    return table.sort_values("accuracy").round(3)


def data_note() -> str:
    if lab.dataset is not None:
        return ""
    return lab.data_message


def class_name(text, names) -> str:
    """A typed class -> its ByMerge name; merged lower-case letters ("o") mean their capital."""
    text = str(text or "").strip()
    if text in names:
        return text
    if text in labels.MERGED_LOWERCASE and text.upper() in names:
        return text.upper()
    raise ValueError(f"{text!r} is not an EMNIST ByMerge class; choose one of {' '.join(names)}")


def gallery(slot, true_class, predicted_class):
    """(model slot, true class, predicted class) -> (test images of that mistake with captions, message)."""
    live = lab.live.get(slot)
    if live is None:
        return [], f"Unknown model {slot!r}; choose one of {', '.join(SLOTS)}."
    if live.report is None:
        return [], f"No evaluation report for {live.title}."
    if not true_class or not predicted_class:
        return [], "Choose a pair, or a true and a predicted class, to see the test images of that mistake."
    names = live.report["classes"]
    try:
        true_name, pred_name = class_name(true_class, names), class_name(predicted_class, names)
    except ValueError as exc:
        return [], str(exc)
    if true_name == pred_name:
        return [], "Choose two different classes: the gallery shows images of one read as the other."
    t, p = names.index(true_name), names.index(pred_name)
    hits = [(i, top[0][1]) for i, y, top in live.report["misclassified"] if y == t and top[0][0] == p]
    if not hits:
        return [], f"The {live.title} never read a test **{true_name}** as **{pred_name}**."
    hits.sort(key=lambda hit: -hit[1])  # the surest mistakes first
    text = f"{len(hits)} test images of **{true_name}** read as **{pred_name}** by the {live.title}"
    if lab.dataset is None:
        return [], f"{text}. {lab.data_message}"
    images = [(enlarge(lab.dataset.x_test[i]), f"{true_name} -> {pred_name} ({conf:.0%})")
              for i, conf in hits[:GALLERY_MAX]]
    shown = f"; the {len(images)} it was surest about" if len(hits) > len(images) else ""
    return images, f"{text}{shown}."


def enlarge(x28) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(x28)).resize((28 * GALLERY_ZOOM,) * 2, Image.Resampling.NEAREST))


def gallery_for_pair(slot, pair):
    """A ranked pair ("O -> 0") -> (true, predicted, gallery, message)."""
    true_name, _, pred_name = str(pair or "").partition(" -> ")
    if not pred_name:
        return None, None, [], "Choose a pair from the list."
    return true_name, pred_name, *gallery(slot, true_name, pred_name)


# ---------------------------------------------------------------- Retrain

def start_training(arch, epochs, batch_size, learning_rate, train_size, progress=gr.Progress()):
    """Train in a background thread; yield (status, curves, candidate path, use-button) as it goes."""

    def update(status, history=None, candidate=None):
        return status, curves(history, arch), candidate, gr.update(interactive=candidate is not None)

    if TRAINING_DISABLED:
        yield update(TRAINING_OFF_MESSAGE)
        return
    if lab.dataset is None:
        yield update(lab.data_message)
        return
    n_train = len(lab.dataset.y_train)
    try:
        config = training.TrainConfig(
            model=str(arch), dataset=DATASET, epochs=int(epochs), batch_size=int(batch_size),
            learning_rate=float(learning_rate), subset=None if int(train_size) >= n_train else int(train_size),
        ).resolved()
    except (TypeError, ValueError) as exc:
        yield update(f"Check the settings: {exc}")
        return
    job = lab.start_job(config)
    if job is None:
        yield update("Busy: another training job is running on this server. Try again when it has finished.")
        return
    yield update("Starting...")
    shown_epochs = 0
    try:
        while not job.done.wait(POLL_SECONDS):
            progress(job.fraction, desc=job.describe())
            if len(job.history.get("loss", [])) > shown_epochs:  # a new point on the curves
                shown_epochs = len(job.history["loss"])
                yield update(f"Epoch {shown_epochs} of {config.epochs} done.", job.history)
    except GeneratorExit:  # the page went away: stop the job rather than train for no one
        job.cancel.set()
        raise
    if job.cancelled:
        yield update("Training cancelled; nothing was saved.", job.history)
    elif job.error:
        yield update(f"Training failed: {job.error}", job.history)
    else:
        yield update(f"Done. {comparison(job)}", job.history, str(job.path))


def curves(history, name):
    if not history:
        return None
    fig = figures.curves_figure(history, f"{name}: training curves")
    plt.close(fig)
    return fig


def comparison(job) -> str:
    kind = REGISTRY[job.config.model].kind
    live = lab.live[kind]
    mine = f"**Test accuracy: {job.report['accuracy']:.1%}** on {job.report['n']:,} images"
    theirs = f"the live {live.title} has " + (f"{live.report['accuracy']:.1%}" if live.report else "no report")
    return f"{mine}; {theirs}.\n\nSaved to `{job.path}`. *Use this model* serves it in the Draw and Confusions tabs."


def architecture_defaults(arch):
    """An architecture's own (epochs, batch size, learning rate), the settings to start from."""
    spec = REGISTRY[arch].hyperparameters
    return spec.get("epochs", 10), spec.get("batch_size", 256), spec.get("learning_rate", 1e-3)


def retrain_setup():
    """The Retrain tab's data note, the training-set slider's range, and whether Start can work."""
    lab.data_ready.wait(DATA_WAIT_SECONDS)  # at start-up the data may still be loading
    if lab.dataset is None:
        return data_note(), gr.update(), gr.update(interactive=False)
    n = len(lab.dataset.y_train)
    return (f"{n:,} training images available. Progress shows here while a model trains.",
            gr.update(maximum=n, value=min(DEFAULT_TRAIN_SIZE, n)), gr.update(interactive=not TRAINING_DISABLED))


def cancel_training():
    job = lab.job
    if job is None or job.done.is_set():
        return "No training job is running."
    job.cancel.set()
    return "Cancelling after the current batch..."


def use_model(candidate):
    """Serve the model this session just trained (its path is held server-side in a gr.State)."""
    if TRAINING_DISABLED:
        return TRAINING_OFF_MESSAGE
    if not candidate or not Path(candidate).exists():
        return "Train a model first; *Use this model* serves the model you just trained."
    try:
        live = lab.put_live(candidate)
    except (ValueError, predictor.ModelFileError) as exc:
        return f"Could not use it: {exc}"
    return f"**{live.title}** is live in the Draw and Confusions tabs for everyone on this server."


def restore_models():
    lab.restore()
    return "The shipped models are live again: " + ", ".join(m.title for m in lab.live.values()) + "."


# ---------------------------------------------------------------- Models

def model_card(slot):
    """Slot -> (card text, training curves, architecture summary)."""
    live = lab.live[slot]
    card = live.card or {}
    arch, data = card.get("architecture", {}), card.get("data", {})
    lines = [f"### {live.title}", arch.get("description", ""), ""]
    if arch.get("parameters"):
        lines.append(f"- **Parameters:** {arch['parameters']:,}")
    lines.append(f"- **File:** `{live.path}`")
    if data:
        used = ", ".join(f"{k} {v:,}" for k, v in data.get("used", {}).items())
        lines.append(f"- **Data:** {data.get('dataset', '?')} ({used}). {data.get('description', '')}")
    metrics = live.report or card.get("test_metrics") or {}
    if metrics.get("accuracy") is not None:
        lines.append(f"- **Test:** accuracy {metrics['accuracy']:.1%}, mean per-class accuracy "
                     f"{metrics.get('mean_recall', float('nan')):.1%}, loss {metrics.get('loss', float('nan')):.3f} "
                     f"on {metrics.get('n', 0):,} images")
    hp = card.get("hyperparameters", {})
    if hp:
        lines.append("- **Training:** " + ", ".join(f"{k} {v}" for k, v in hp.items() if not isinstance(v, dict)))
    if card.get("training_seconds") is not None:
        lines.append(f"- **Trained:** {card.get('date', '?')} in {format_seconds(card['training_seconds'])}")
    if card.get("command"):
        lines.append(f"- **Command:** `{card['command']}`")
    summary = "\n".join(line for line in arch.get("summary", "").splitlines() if line.strip())
    return "\n".join(lines), card_curves(str(live.path)), summary


@lru_cache(maxsize=8)
def card_curves(path: str):
    live = next(m for m in lab.live.values() if str(m.path) == path)
    return curves((live.card or {}).get("history"), live.name)


def model_cards():
    return [value for slot in SLOTS for value in model_card(slot)]


# ---------------------------------------------------------------- layout

def build_demo() -> gr.Blocks:
    with gr.Blocks(title="EMNIST Sketch Lab") as demo:
        gr.Markdown("# EMNIST Sketch Lab\nDraw one character (a digit, a capital, or one of a b d e f g h n q r t) "
                    "and compare how an MLP and a CNN read it.")
        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        sketchpad = gr.Sketchpad(
                            label="Draw here", type="numpy", image_mode="RGBA", canvas_size=(CANVAS, CANVAS),
                            height=480, layers=False, transforms=(), elem_id="sketchpad",
                            brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                            eraser=gr.Eraser(default_size=BRUSH * 2),
                        )
                    with gr.Column(scale=2, min_width=320):
                        with gr.Row():
                            mlp_label = gr.Label(label="MLP", num_top_classes=TOP_K, min_width=150,
                                                 elem_id="mlp-label")
                            cnn_label = gr.Label(label="CNN", num_top_classes=TOP_K, min_width=150,
                                                 elem_id="cnn-label")
                        with gr.Row(equal_height=False):
                            preview = gr.HTML(preview_html(None), label="What the models see (28x28)",
                                              show_label=True, container=True, padding=True,
                                              min_width=PREVIEW_PX + 40, scale=0)
                            verdict_box = gr.Markdown("Draw a character: the predictions update with every stroke.",
                                                      elem_id="verdict", container=True, padding=True)
                        with gr.Accordion("...or upload a photo or scan of one character", open=False):
                            photo = gr.Image(label="Photo", type="pil", image_mode="RGBA",
                                             sources=["upload", "clipboard"], height=240)
            with gr.Tab("Confusions", id="confusions") as confusions_tab:
                with gr.Row():
                    model_pick = gr.Radio(model_choices(), value="mlp", label="Model", scale=1)
                    summary = gr.Markdown()
                data_box = gr.Markdown()
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        matrix = gr.Plot(label="Confusion matrix")
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
                            shortcut_buttons = [gr.Button(f"{t} -> {p}", size="sm", min_width=60)
                                                for t, p in SHORTCUTS]
                gallery_note = gr.Markdown()
                mistakes = gr.Gallery(label="Test images of this mistake", columns=8, height=420,
                                      object_fit="contain")
                class_table = gr.Dataframe(label="Per-class accuracy on the test set (worst first)", max_height=400)
            with gr.Tab("Retrain", id="retrain"):
                gr.Markdown(TRAINING_OFF_MESSAGE if TRAINING_DISABLED else
                            "Train a model from the registry on part of the training images. One job runs at a "
                            "time on this server; drawing keeps working meanwhile.")
                start_epochs, start_batch, start_lr = architecture_defaults(DEFAULT_ARCHITECTURE)
                with gr.Row():
                    arch = gr.Dropdown(list(REGISTRY), value=DEFAULT_ARCHITECTURE, label="Architecture")
                    epochs = gr.Slider(1, MAX_EPOCHS, value=start_epochs, step=1, label="Epochs")
                    batch_size = gr.Dropdown(list(BATCH_SIZES), value=start_batch, label="Batch size")
                    learning_rate = gr.Number(start_lr, label="Learning rate")  # TrainConfig checks the range
                    train_size = gr.Slider(500, 200_000, value=DEFAULT_TRAIN_SIZE, step=500,
                                           label="Training images")
                with gr.Row():
                    start_button = gr.Button("Start", variant="primary", interactive=not TRAINING_DISABLED)
                    cancel_button = gr.Button("Cancel", variant="stop", interactive=not TRAINING_DISABLED)
                # Also where the progress bar shows: the job never writes to this box, so Gradio keeps the
                # full bar there while the curves below update.
                train_info = gr.Markdown(container=True, padding=True, min_height=80)
                train_status = gr.Markdown()
                train_curves = gr.Plot(label="Loss and accuracy per epoch")
                candidate = gr.State(None)
                with gr.Row():
                    use_button = gr.Button("Use this model", interactive=False)
                    restore_button = gr.Button("Restore shipped models", interactive=not TRAINING_DISABLED)
                live_status = gr.Markdown()
            with gr.Tab("Models", id="models") as models_tab:
                card_outputs = []
                with gr.Row(equal_height=False):
                    for slot in SLOTS:
                        with gr.Column():
                            card_outputs += [gr.Markdown(), gr.Plot(label="Training curves"),
                                             gr.Code(label="Architecture", language=None, interactive=False,
                                                     show_line_numbers=False)]

        # Draw: live prediction on every stroke, last stroke wins, nothing written to disk.
        draw_outputs = [mlp_label, cnn_label, preview, verdict_box]
        sketchpad.change(predict, sketchpad, draw_outputs, api_name="predict", trigger_mode="always_last",
                         show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY)
        photo.change(predict_photo, photo, draw_outputs, api_name="predict_photo", show_progress="hidden",
                     concurrency_limit=PREDICT_CONCURRENCY)

        # Confusions
        confusion_outputs = [summary, matrix, pair_pick, class_table, data_box]
        gallery_inputs, gallery_outputs = [model_pick, true_pick, pred_pick], [mistakes, gallery_note]
        model_pick.change(confusions, model_pick, confusion_outputs, api_name="confusions").then(
            gallery, gallery_inputs, gallery_outputs, api_name="gallery_for_new_model", api_visibility="private")
        confusions_tab.select(confusions, model_pick, confusion_outputs, api_name="refresh_confusions")
        gr.on([show_button.click, true_pick.input, pred_pick.input], gallery, gallery_inputs, gallery_outputs,
              api_name="gallery")
        pair_pick.input(gallery_for_pair, [model_pick, pair_pick], [true_pick, pred_pick, *gallery_outputs],
                        api_name="gallery_pair")
        for button, (t, p) in zip(shortcut_buttons, SHORTCUTS):
            button.click(lambda slot, t=t, p=p: (t, p, *gallery(slot, t, p)), model_pick,
                         [true_pick, pred_pick, *gallery_outputs], api_name=f"gallery_{t}_{p}")

        # Retrain
        arch.input(architecture_defaults, arch, [epochs, batch_size, learning_rate], api_name="architecture_defaults")
        start_button.click(start_training, [arch, epochs, batch_size, learning_rate, train_size],
                           [train_status, train_curves, candidate, use_button], api_name="train",
                           concurrency_limit=TRAIN_CONCURRENCY, show_progress_on=train_info)
        cancel_button.click(cancel_training, None, train_status, api_name="cancel_training", queue=False)
        use_button.click(use_model, candidate, live_status, api_name="use_model").then(
            model_names, None, model_pick, api_name="names_after_use", api_visibility="private")
        restore_button.click(restore_models, None, live_status, api_name="restore_models").then(
            model_names, None, model_pick, api_name="names_after_restore", api_visibility="private")

        # Models
        models_tab.select(model_cards, None, card_outputs, api_name="model_cards")

        # On page load: pick the brush, say what data there is. The other tabs fill when opened.
        demo.load(None, js=SELECT_BRUSH_JS)
        demo.load(retrain_setup, None, [train_info, train_size, start_button], api_name="retrain_setup",
                  api_visibility="private")
    demo.queue(default_concurrency_limit=PREDICT_CONCURRENCY)
    return demo


lab = Lab()
demo = build_demo()

if __name__ == "__main__":
    demo.launch()
