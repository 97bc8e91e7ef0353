"""What a training run is asked to do, as plain data: importable without Keras.

The app builds and checks a ``TrainConfig`` (and names a run's stages) before any training starts, so
none of this may import a backend; ``training`` runs it.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import asdict, dataclass

from emnist_core.models.registry import REGISTRY, model_spec

# What train_and_save is doing after training, told to the listener's on_stage (the app shows it).
EVALUATING, SAVING = "evaluating on the test set", "saving"


class TrainingCancelled(Exception):
    """Training was cancelled; nothing was saved."""


@dataclass
class TrainConfig:
    model: str = "seed-cnn"
    dataset: str = "pool47"
    epochs: int | None = None  # None: the architecture's default
    batch_size: int | None = None
    learning_rate: float | None = None
    subset: int | None = None  # train on a stratified sample of this many images
    seed: int = 0
    init: str | None = None  # start from this saved model's weights (a shipped name or a .keras path)
    extra_csv: str | None = None  # also train on every image of this ByMerge EMNIST CSV (a corrections download)

    def resolved(self) -> "TrainConfig":
        """Fill unset hyperparameters from the architecture's defaults, and validate them."""
        defaults = model_spec(self.model).hyperparameters
        cfg = TrainConfig(**asdict(self))
        pick = lambda value, key: defaults[key] if value is None else value  # noqa: E731
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
        args = ["python", "-m", "emnist_core", "train", "--model", self.model, "--dataset", self.dataset,
                "--epochs", str(self.epochs), "--batch-size", str(self.batch_size),
                "--learning-rate", repr(self.learning_rate), "--seed", str(self.seed)]
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
    return TrainConfig(model=arch, dataset=dataset, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                       subset=None if size >= n_train else size).resolved()


def _number(value, name, kind=int):
    """A number from a form or a direct call, or ValueError naming the setting (None, NaN, text ...)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a number")
    return kind(number)
