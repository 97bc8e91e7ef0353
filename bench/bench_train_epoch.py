"""Seconds per training epoch of cnn-bn on this machine: today's backend-agnostic batches vs the old tf.data path.

Both run in this one process on the same pool47 images, the same model, optimizer and augmentation
settings. The old path (tf.data with a parallel map over TensorFlow image ops) is read from git at
LEGACY_COMMIT, the last commit that had it, so the comparison needs no second copy in the tree.
Each path trains WARMUP + MEASURED epochs; the figure is the median measured epoch, scaled to a
full pool47 train epoch (172,934 images).

    python bench/bench_train_epoch.py [--images 20480] [--backend-only]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import types
from pathlib import Path

import keras
import numpy as np

from emnist_core.data import datasets as ds
from emnist_core.models.build import build_model
from emnist_core.models.registry import model_spec
from emnist_core.training.config import TrainConfig
from emnist_core.training.train import _augmented_setup

ROOT = Path(__file__).resolve().parent.parent
LEGACY_COMMIT = "45fec2a"
MODEL = "cnn-bn"
POOL47_TRAIN = 172_934
WARMUP, MEASURED = 1, 2


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)

    def __init__(self):
        super().__init__()
        self.seconds = []


def legacy_dataset(x, y, cfg, hard_ink):
    """The training input exactly as it was at LEGACY_COMMIT (tf.data, TensorFlow image ops)."""
    import tensorflow as tf

    source = subprocess.run(
        ["git", "show", f"{LEGACY_COMMIT}:emnist_core/augment.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    legacy = types.ModuleType("legacy_augment")
    exec(compile(source, "legacy_augment.py", "exec"), legacy.__dict__)
    return (
        tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
        .shuffle(len(y), seed=cfg.seed, reshuffle_each_iteration=True)
        .batch(cfg.batch_size)
        .enumerate()
        .map(
            lambda i, b: (
                legacy.augment_batch(b[0], tf.stack([tf.cast(cfg.seed, tf.int64), i]), hard_ink),
                tf.one_hot(b[1], 47),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )


def time_epochs(x, y, x_val, y_val, legacy: bool) -> list[float]:
    cfg = TrainConfig(model=MODEL, epochs=WARMUP + MEASURED).resolved()
    opts = model_spec(MODEL).hyperparameters
    steps = -(-len(y) // cfg.batch_size)
    keras.utils.set_random_seed(0)
    (batches,), fit_kwargs, loss, optimizer = _augmented_setup(x, y, x_val, y_val, cfg, opts, 47, steps)
    if legacy:
        batches = legacy_dataset(x, y, cfg, opts.get("hard_ink_rate", 0.0))
    model = build_model(MODEL)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(batches, epochs=cfg.epochs, verbose=0, callbacks=[timer], **fit_kwargs)
    return timer.seconds[WARMUP:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_480, help="training images per epoch (default 20,480)")
    parser.add_argument("--backend-only", action="store_true", help="time today's path only (any backend)")
    args = parser.parse_args()
    data = ds.load_dataset("pool47")
    x, y = data.x_train[: args.images], data.labels_as_classes(data.y_train[: args.images])
    x_val, y_val = data.x_val[:1024], data.labels_as_classes(data.y_val[:1024])
    print(
        f"{MODEL}, {len(y)} pool47 images per epoch, backend {keras.backend.backend()}, "
        f"median of {MEASURED} epochs after {WARMUP} warm-up"
    )
    paths = [("keras.ops batches (today)", False)] + (
        [] if args.backend_only else [("tf.data (at " + LEGACY_COMMIT + ")", True)]
    )
    results = {}
    for name, legacy in paths:
        seconds = statistics.median(time_epochs(x, y, x_val, y_val, legacy))
        results[name] = seconds
        print(f"  {name:<28} {seconds:7.2f} s/epoch  -> {seconds * POOL47_TRAIN / len(y):7.1f} s per full pool47 epoch")
    if len(results) == 2:
        today, before = results.values()
        print(f"  today / before: {today / before:.3f} (target: at most 1.10)")


if __name__ == "__main__":
    main()
