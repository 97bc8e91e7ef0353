"""What a training run is asked to do, as plain data: importable without Keras.

The app builds and checks a ``TrainConfig`` (and names a run's stages) before any training starts, so
none of this may import a backend; ``training`` runs it.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass

from .registry import model_spec

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
