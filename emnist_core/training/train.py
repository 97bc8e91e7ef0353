"""Training: ``train_and_save``, the one training path that the CLI and the app both call.

``train(config)`` -> ``TrainResult`` with the trained model, its history and its ``ModelCard`` (no test metrics).
``train_and_save(config, path)`` trains, scores the model on the test part (and on drawn input when the
dataset includes it), puts those metrics on the card and saves model, card and reports as one unit
(``store.save_model``). Progress goes to a ``listener`` (any object with ``on_batch`` / ``on_epoch`` /
``on_stage``; all optional); ``cancel`` (a ``threading.Event``) stops training between batches, or the
run before saving starts, and raises ``TrainingCancelled``: nothing is saved.
"""

from __future__ import annotations

import platform
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from emnist_core.data import datasets as ds
from emnist_core.data.drawn import drawn_test
from emnist_core.data.labels import label_map
from emnist_core.models import evaluation, store
from emnist_core.models.build import build_model, summary_text
from emnist_core.models.card import ModelCard
from emnist_core.models.registry import model_spec
from emnist_core.training.augment import augment_batch, batch_rng
from emnist_core.training.config import EVALUATING, SAVING, TrainConfig, TrainingCancelled, announce

MIN_VALIDATION = 500


@dataclass
class TrainResult:
    model: object
    config: TrainConfig
    history: dict
    card: ModelCard = field(default_factory=ModelCard)
    reports: dict = field(default_factory=dict)  # {dataset: report}, "" for the test part; by train_and_save
    path: Path | None = None  # where train_and_save saved it
    # (images, 0-based classes) it was validated on and never trained on: what a temperature is fitted on
    validation: tuple | None = field(default=None, repr=False)

    @property
    def test_metrics(self) -> dict:
        return self.card.test_metrics


def _stratified_subset(x, y, size, seed):
    if size is None or size >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=y, random_state=seed)
    idx.sort()
    return x[idx], y[idx]


def _with_extra(x_train, y_train, path, data: ds.Dataset):
    """The training images plus every image of an EMNIST CSV with ByMerge labels (a corrections download)."""
    if data.label_map.names != label_map("bymerge").names:
        raise ValueError(
            f"--extra-csv holds ByMerge labels: train on a dataset of the 47 ByMerge classes "
            f"(pool47, unipen, pool47+unipen, bymerge, balanced), not {data.name}"
        )
    x, y = ds.load_files(path, split="bymerge")
    return np.concatenate([x_train, x]), np.concatenate([y_train, np.asarray(y, y_train.dtype)])


def _load_initial_weights(model, init: str) -> None:
    """Fine-tuning: copy a saved model's weights into ``model`` (same architecture required).

    A class-prior-corrected model has the same weights as the one it corrects (the correction is a
    fixed layer), so either can be the start.
    """
    source = store.load_model(store.resolve_model_path(init))
    mine, theirs = model.get_weights(), source.get_weights()
    if [w.shape for w in mine] != [w.shape for w in theirs]:
        raise ValueError(
            f"--init {init}: its weights do not fit architecture {model.name} "
            f"({len(theirs)} arrays vs {len(mine)}); start from a model of the same architecture"
        )
    model.set_weights(theirs)


def _progress_callback(listener, cancel, epochs, steps):
    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if listener is not None and hasattr(listener, "on_batch"):
                listener.on_batch(self.epoch, batch + 1, steps, dict(logs or {}))
            if cancel is not None and cancel.is_set():
                self.model.stop_training = True  # Keras 3 checks this after every batch

        def on_epoch_end(self, epoch, logs=None):
            if listener is not None and hasattr(listener, "on_epoch") and not (cancel and cancel.is_set()):
                listener.on_epoch(epoch + 1, epochs, {k: float(v) for k, v in (logs or {}).items()})

    return Progress()


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled, augmented, one-hot batches from uint8 arrays, on any backend (no tf.data).

    Each epoch's order and each batch's warps come from (seed, epoch, batch) alone, so a run is
    reproducible and a batch can be rebuilt on its own (``batch(epoch, i)``).
    """

    def __init__(self, x, y, batch_size: int, num_classes: int, seed: int, hard_ink_rate: float):
        super().__init__()
        self.x, self.y = np.asarray(x, np.uint8), np.asarray(y, np.int64)
        self.batch_size, self.num_classes = batch_size, num_classes
        self.seed, self.hard_ink_rate = seed, hard_ink_rate
        self.epoch = 0
        self._order = self._epoch_order(0)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.y))

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def batch(self, epoch: int, i: int):
        order = self._order if epoch == self.epoch else self._epoch_order(epoch)
        idx = order[i * self.batch_size : (i + 1) * self.batch_size]
        images = augment_batch(self.x[idx], batch_rng(self.seed, epoch, i), self.hard_ink_rate)
        return images, np.eye(self.num_classes, dtype=np.float32)[self.y[idx]]

    def __getitem__(self, i: int):
        return self.batch(self.epoch, i)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._epoch_order(self.epoch)


def _augmented_setup(x_train, y_train, x_val, y_val, cfg, opts, num_classes, steps):
    """Augmented batches with one-hot (smoothed) targets; AdamW, warm-up then cosine decay."""
    batches = TrainingBatches(x_train, y_train, cfg.batch_size, num_classes, cfg.seed, opts.get("hard_ink_rate", 0.0))
    validation = (np.asarray(x_val, np.float32), np.eye(num_classes, dtype=np.float32)[np.asarray(y_val)])
    warmup = min(steps, max(1, steps * cfg.epochs // 10))
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate / 10,
        decay_steps=steps * cfg.epochs - warmup,
        alpha=0.01,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup,
    )
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=opts.get("weight_decay", 0.0))
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=opts.get("label_smoothing", 0.0))
    return (batches,), dict(validation_data=validation, validation_batch_size=1024, shuffle=False), loss, optimizer


def train(
    config: TrainConfig,
    dataset: ds.Dataset | None = None,
    listener=None,
    cancel: threading.Event | None = None,
    data_dir=None,
    unipen_dir=None,
) -> TrainResult:
    """Train ``config.model`` on ``config.dataset``; nothing is scored on the test part or saved (see module doc)."""
    cfg = config.resolved()
    data = dataset if dataset is not None else ds.load_dataset(cfg.dataset, data_dir, unipen_dir)
    x_train, y_train = _stratified_subset(data.x_train, data.labels_as_classes(data.y_train), cfg.subset, cfg.seed)
    val_size = None if cfg.subset is None else max(MIN_VALIDATION, len(y_train) // 8)
    x_val, y_val = _stratified_subset(data.x_val, data.labels_as_classes(data.y_val), val_size, cfg.seed)
    if cfg.extra_csv:  # after the subset, so that every extra image is trained on
        x_train, y_train = _with_extra(x_train, y_train, cfg.extra_csv, data)

    keras.utils.set_random_seed(cfg.seed)
    opts = model_spec(cfg.model).hyperparameters
    model = build_model(cfg.model, data.num_classes)
    if cfg.init:
        _load_initial_weights(model, cfg.init)
    steps = int(np.ceil(len(y_train) / cfg.batch_size))
    if opts.get("augment"):
        fit_data, fit_kwargs, loss, optimizer = _augmented_setup(
            x_train, y_train, x_val, y_val, cfg, opts, data.num_classes, steps
        )
    else:
        fit_data = (np.asarray(x_train, dtype=np.float32), y_train)
        fit_kwargs = dict(
            batch_size=cfg.batch_size, shuffle=True, validation_data=(np.asarray(x_val, dtype=np.float32), y_val)
        )
        loss = "sparse_categorical_crossentropy"
        optimizer = keras.optimizers.Adam(cfg.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    started = time.time()
    history = model.fit(
        *fit_data,
        epochs=cfg.epochs,
        verbose=0,
        callbacks=[_progress_callback(listener, cancel, cfg.epochs, steps)],
        **fit_kwargs,
    )
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training was cancelled; no model was saved")
    seconds = time.time() - started
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    card = model_card(model, cfg, data, hist, seconds, len(y_train), len(y_val))
    return TrainResult(model, cfg, hist, card, validation=(x_val, y_val))


def train_and_save(
    config: TrainConfig,
    path,
    dataset: ds.Dataset | None = None,
    listener=None,
    cancel: threading.Event | None = None,
    data_dir=None,
    unipen_dir=None,
    drawn=None,
    command_path: str | None = None,
    card_extra: dict | None = None,
    temperature=None,
) -> TrainResult:
    """Train, score on the test part (the full report), and on drawn input when the dataset includes unipen,
    then save model, card and reports at ``path`` as one unit; the result holds all of them and ``path``.

    ``listener.on_stage`` hears ``EVALUATING`` then ``SAVING``. A ``cancel`` set before saving starts raises
    ``TrainingCancelled`` and nothing is written; once ``SAVING`` is announced the save runs to its end.
    ``drawn``: the drawn test set (see ``drawn.drawn_test``) where the dataset alone cannot find it, or a
    function called once training ends that gives it (or None), so that it may load while the model trains.
    ``command_path``: the output path that the card's command shows (default: ``path``); ``card_extra``: more
    fields for the card (where it was trained, say). ``temperature``: a function (model, validation (images,
    classes), drawn test set or None) -> a temperature section (``temperature.temperature_section``) fitted for
    this model, which its card keeps (``calibration.temperature``) and the server serves it with; None: no T (the
    command line's ``calibrate --temperature`` fits one afterwards).
    """
    path = Path(path)
    data = dataset if dataset is not None else ds.load_dataset(config.dataset, data_dir, unipen_dir)
    result = train(config, data, listener=listener, cancel=cancel)
    announce(listener, EVALUATING)
    drawn = drawn() if callable(drawn) else drawn
    drawn = drawn if drawn is not None else drawn_test(data, unipen_dir)
    result.reports = evaluation.model_reports(result.model, data, drawn)
    # A result made elsewhere (a stand-in) may know no validation images: nothing to fit T on, so none is fitted.
    fit = temperature is not None and result.validation is not None
    own = temperature(result.model, result.validation, drawn) if fit else None
    announce(listener, SAVING)  # before the last look at cancel: a cancel from now on is told it is too late
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training was cancelled; no model was saved")
    command = result.config.command(command_path or str(path))
    result.card = result.card.scored(result.reports, command=command, **(card_extra or {}))
    if own is not None:
        result.card = result.card.with_temperature(own)
    result.path = store.save_model(result.model, path, result.card, result.reports)
    return result


def backend_versions() -> dict:
    """Python, Keras, the backend Keras ran on and numpy: what a card needs to reproduce a run."""
    from importlib.metadata import PackageNotFoundError, version

    backend = keras.backend.backend()
    found = {"python": platform.python_version(), "keras": keras.__version__, "backend": backend}
    for package in {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax",), "torch": ("torch",)}.get(
        backend, ()
    ):
        try:
            found[backend] = version(package)
            break
        except PackageNotFoundError:
            continue
    return {**found, "numpy": np.__version__}


def model_card(model, cfg: TrainConfig, data: ds.Dataset, history, seconds, n_train, n_val) -> ModelCard:
    """The run's card (``ModelCard.trained``), from what only Keras knows: its size, summary and versions."""
    hyperparameters = {
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
        "subset": cfg.subset,
        "seed": cfg.seed,
        "init": cfg.init,
        "extra_csv": cfg.extra_csv,
        **_recipe(cfg.model),
    }
    return ModelCard.trained(
        model_spec(cfg.model),
        data,
        parameters=model.count_params(),
        summary=summary_text(model),
        hyperparameters=hyperparameters,
        history=history,
        seconds=seconds,
        n_train=n_train,
        n_val=n_val,
        versions=backend_versions(),
    )


def _recipe(name: str) -> dict:
    opts = model_spec(name).hyperparameters
    if not opts.get("augment"):
        return {
            "optimizer": "Adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7), constant learning rate",
            "loss": "sparse categorical cross-entropy",
        }
    from emnist_core.training import augment

    return {
        "optimizer": f"AdamW(weight_decay={opts['weight_decay']}), linear warm-up over one epoch (at most 10% of "
        "training) then cosine decay to 1%",
        "loss": f"categorical cross-entropy, label smoothing {opts['label_smoothing']}",
        "augmentation": {
            "rotation_degrees": augment.ROTATION_DEGREES,
            "shear": augment.SHEAR,
            "scale": list(augment.SCALE),
            "shift_pixels": augment.SHIFT_PIXELS,
            "stroke_change": augment.STROKE_CHANGE,
            "hard_ink_rate": opts.get("hard_ink_rate", 0.0),
            "hard_ink_levels": list(augment.HARD_INK_LEVELS),
        },
    }


def command_line() -> str:
    return shlex.join(["python", "-m", "emnist_core", *sys.argv[1:]])
