"""The architecture registry as plain data: names, kinds, descriptions and training defaults.

This module imports neither Keras nor numpy, so listing architectures is cheap: the CLI's
``--help`` and ``--model`` choices read it without starting a deep-learning backend. The Keras
builders live in ``models``; a spec names its builder, and ``models.build_model(name)`` calls it
(``models`` imports this module, never the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The two kinds of model, each with the name people see: the app serves one of each side by side.
SLOTS = {"mlp": "MLP", "cnn": "CNN"}

# Every model takes upright uint8-range images of this shape and scales them to [0, 1] itself.
INPUT_SHAPE = (28, 28)

# Share of training images redrawn with hard-edged ink, as a browser brush draws (see ``augment``).
# Here, not in ``augment``, because it is a training default and ``augment`` imports keras.ops.
HARD_INK_RATE = 0.35

# Defaults for the training command; the seed models use the report's settings.
SEED_HYPERPARAMETERS = {"epochs": 10, "batch_size": 256, "learning_rate": 1e-3}

# The improved recipe: augmentation, label smoothing, AdamW with warm-up then cosine decay.
AUGMENTED_HYPERPARAMETERS = {
    "epochs": 20,
    "batch_size": 256,
    "learning_rate": 2e-3,
    "augment": True,
    "label_smoothing": 0.1,
    "weight_decay": 1e-4,
    "hard_ink_rate": HARD_INK_RATE,
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "mlp" or "cnn": which side of the app it belongs to
    description: str
    builder: str  # name of the function in ``emnist_core.models.build`` that builds it: (num_classes) -> keras.Model
    hyperparameters: dict = field(default_factory=dict)
    # Images a second it trains at in a server's job (one thread, lower priority) on a 2-core machine like a free
    # Space, measured by bench/bench_job_speed.py (2 significant figures, 2026-12-07): the Retrain tab's time
    # estimate before a job starts.
    cpu_images_per_second: float | None = None


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "seed-mlp",
            "mlp",
            "The seed report's MLP (784-512-512-47, ReLU, dropout 0.2).",
            "build_seed_mlp",
            dict(SEED_HYPERPARAMETERS),
            cpu_images_per_second=17500,
        ),
        ModelSpec(
            "seed-cnn",
            "cnn",
            "The seed report's CNN (2x[2x conv3x3 LeakyReLU, max-pool, dropout], "
            "32 then 64 filters, dense 256-128-47).",
            "build_seed_cnn",
            dict(SEED_HYPERPARAMETERS),
            cpu_images_per_second=810,
        ),
        ModelSpec(
            "mlp-bn",
            "mlp",
            "Wider, deeper MLP (784-1024-1024-512-47) with batch norm and dropout, "
            "trained with augmentation and label smoothing.",
            "build_mlp_bn",
            {**AUGMENTED_HYPERPARAMETERS, "epochs": 40},
            cpu_images_per_second=4700,
        ),
        ModelSpec(
            "cnn-bn",
            "cnn",
            "VGG-style CNN, 3 blocks of 2 conv3x3+batch norm (32, 64, 128 filters), "
            "dense 256, trained with augmentation and label smoothing.",
            "build_cnn_bn",
            # The shipped cnn-bn was trained before hard-ink redraws existed; 0 reproduces it.
            {**AUGMENTED_HYPERPARAMETERS, "hard_ink_rate": 0.0},
            cpu_images_per_second=400,
        ),
        # Models that read drawings: the same architectures, fine-tuned from the EMNIST-only weights on
        # pool47 + pen-drawn UNIPEN characters (python -m emnist_core train --dataset pool47+unipen --init ...).
        ModelSpec(
            "mlp-pen",
            "mlp",
            "mlp-bn's architecture for drawn input: fine-tuned from mlp-bn on pool47 + "
            "UNIPEN pen strokes rendered with the app's brush.",
            "build_mlp_bn",
            {**AUGMENTED_HYPERPARAMETERS, "epochs": 12, "learning_rate": 1e-3},
            cpu_images_per_second=4000,
        ),
        ModelSpec(
            "cnn-pen",
            "cnn",
            "cnn-bn's architecture for drawn input: fine-tuned from cnn-bn on pool47 + "
            "UNIPEN pen strokes rendered with the app's brush.",
            "build_cnn_bn",
            {**AUGMENTED_HYPERPARAMETERS, "epochs": 8, "learning_rate": 1e-3},
            cpu_images_per_second=390,
        ),
        ModelSpec(
            "wide-resnet",
            "cnn",
            "Pre-activation wide ResNet (3 stages x 2 blocks, 64-128-256 filters, "
            "~2.8M parameters). For GPU training (about 20 epochs in a few GPU minutes; see docs/models.md, "
            "Training on any backend, and on a GPU): not meant for CPU training (over 10 minutes an epoch on 2 "
            "cores, hours a run).",
            "build_wide_resnet",
            {**AUGMENTED_HYPERPARAMETERS, "epochs": 20, "batch_size": 512},
            cpu_images_per_second=47,
        ),
    )
}


def model_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(REGISTRY)}") from None
