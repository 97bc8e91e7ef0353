"""What a training run is asked to do, as plain data: importable without Keras.

The app builds and checks a ``TrainConfig`` (and names a job's stages) before any training starts, so
none of this may import a backend; ``training`` runs it.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import asdict, dataclass

from emnist_core.models.evaluation import EMNIST
from emnist_core.models.registry import REGISTRY, model_spec

# What a job is doing, told to its listener's on_stage (``announce``) and shown on the page. A training job:
# TRAINING, then train_and_save's EVALUATING and SAVING; a fine-tune (``lab.finetune``): LOADING_CORRECTIONS,
# SCORING_BEFORE, FINE_TUNING, SCORING_AFTER, SAVING. From SAVING on a cancel is too late: the model is kept whole.
TRAINING, EVALUATING, SAVING, DONE = "training", "evaluating on the test set", "saving", "done"
LOADING_CORRECTIONS = "loading the corrections"
SCORING_BEFORE, FINE_TUNING, SCORING_AFTER = (
    "scoring the model before fine-tuning",
    "fine-tuning",
    "scoring the fine-tuned model",
)
BATCH_STAGES = (TRAINING, FINE_TUNING)  # the stages a job counts batches in (``on_batch``)


def announce(listener, stage: str) -> None:
    """Tell ``listener`` (any object; ``on_stage`` is optional) that a job is now at ``stage``."""
    if listener is not None and hasattr(listener, "on_stage"):
        listener.on_stage(stage)


class TrainingCancelled(Exception):
    """Training was cancelled; nothing was saved."""


@dataclass
class TrainConfig:
    model: str = "seed-cnn"
    dataset: str = EMNIST
    epochs: int | None = None  # None: the architecture's default
    batch_size: int | None = None
    learning_rate: float | None = None
    subset: int | None = None  # train on a stratified sample of this many images
    seed: int = 0
    init: str | None = None  # start from this saved model's weights (a shipped name or a .keras path)
    extra_csv: str | None = None  # also train on every image of this ByMerge EMNIST CSV (a corrections download)

    def resolved(self) -> TrainConfig:
        """Fill unset hyperparameters from the architecture's defaults, and validate them."""
        defaults = model_spec(self.model).hyperparameters
        cfg = TrainConfig(**asdict(self))
        pick = lambda value, key: defaults[key] if value is None else value
        cfg.epochs = int(pick(cfg.epochs, "epochs"))
        cfg.batch_size = int(pick(cfg.batch_size, "batch_size"))
        cfg.learning_rate = float(pick(cfg.learning_rate, "learning_rate"))
        if cfg.epochs < 1 or cfg.epochs > 1000:
            raise ValueError(f"epochs must be between 1 and 1000, got {cfg.epochs}")
        if cfg.batch_size < 1 or cfg.batch_size > 8192:
            raise ValueError(f"batch size must be between 1 and 8192, got {cfg.batch_size}")
        if not 0 < cfg.learning_rate <= 1:
            raise ValueError(f"learning rate must be in (0, 1], got {cfg.learning_rate}")
        if cfg.subset is not None and cfg.subset < 100:
            raise ValueError(f"subset must be at least 100 images, got {cfg.subset}")
        return cfg

    def command(self, out: str) -> str:
        args = [
            "python",
            "-m",
            "emnist_core",
            "train",
            "--model",
            self.model,
            "--dataset",
            self.dataset,
            "--epochs",
            str(self.epochs),
            "--batch-size",
            str(self.batch_size),
            "--learning-rate",
            repr(self.learning_rate),
            "--seed",
            str(self.seed),
        ]
        if self.subset:
            args += ["--subset", str(self.subset)]
        if self.init:
            args += ["--init", self.init]
        if self.extra_csv:
            args += ["--extra-csv", self.extra_csv]
        return shlex.join(args + ["--out", out])


# The app's Retrain form: what a class may ask of a shared server.
FORM_MAX_EPOCHS = 50
FORM_BATCH_SIZES = (32, 64, 128, 256, 512, 1024)
FORM_MIN_IMAGES = 500


def form_config(arch, epochs, batch_size, learning_rate, train_size, n_train: int, dataset: str) -> TrainConfig:
    """The Retrain form's values, as a page or any program sent them, checked -> a resolved TrainConfig on
    ``dataset`` (all ``n_train`` images, or a stratified subset); ValueError naming the setting and its range."""
    if not isinstance(arch, str) or arch not in REGISTRY:
        raise ValueError(f"architecture must be one of {', '.join(REGISTRY)}")
    epochs, size = _number(epochs, "epochs"), _number(train_size, "training images")
    batch_size, learning_rate = _number(batch_size, "batch size"), _number(learning_rate, "learning rate", float)
    if not 1 <= epochs <= FORM_MAX_EPOCHS:
        raise ValueError(f"epochs must be between 1 and {FORM_MAX_EPOCHS}, got {epochs}")
    if batch_size not in FORM_BATCH_SIZES:
        raise ValueError(f"batch size must be one of {', '.join(map(str, FORM_BATCH_SIZES))}, got {batch_size}")
    if size < FORM_MIN_IMAGES:
        raise ValueError(f"training images must be at least {FORM_MIN_IMAGES:,}, got {size:,}")
    return TrainConfig(
        model=arch,
        dataset=dataset,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        subset=None if size >= n_train else size,
    ).resolved()


def _number(value, name, kind=int):
    """A number from a form or a direct call, or ValueError naming the setting (None, NaN, text, and for a
    whole-number setting a fraction: 2.7 epochs are refused, never cut to 2)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a number")
    if kind is int and not number.is_integer():
        raise ValueError(f"{name} must be a whole number, got {value}")
    return kind(number)
