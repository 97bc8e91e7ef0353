"""Training speed of each architecture as the server's jobs train: in a process of its own, with the job's thread
bound and priority (``job_process``), on this machine. Prints images per second for each, the figure the registry's
``cpu_images_per_second`` holds (the Retrain tab's time estimate before a job starts), and how long the Retrain form's
default job (the architecture's own epochs on the pack's training images) would take.

Each architecture trains one epoch on ``--images`` random 28x28 images with its own hyperparameters (augmentation
included where it has it); the rate is measured over the epoch's batches after the first ``SETTLE_BATCHES`` (the
compile and warm-up before them are not a per-image cost).

    python bench/bench_job_speed.py [--images 3072] [--models seed-mlp cnn-bn ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from emnist_core.data.pack import POOL47_SLICE
from emnist_core.lab.job_process import JOB_NICENESS, thread_environment
from emnist_core.models.registry import REGISTRY

FORM_IMAGES = POOL47_SLICE[0]  # the Retrain form's default: all of the demo data pack's training images

SETTLE_BATCHES = 3
DEFAULT_IMAGES = 3072

CHILD = """
import json, os, sys, time
import numpy as np
from emnist_core.data.dataset import Dataset
from emnist_core.data.labels import label_map
from emnist_core.training import train as training
from emnist_core.training.config import TrainConfig

os.nice({nice})
arch, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
y = rng.integers(0, 47, n)
data = Dataset("random", label_map("bymerge"), x, y, x[:256], y[:256], x[:256], y[:256], "random images")
marks = []

class Listener:
    def on_stage(self, stage): pass
    def on_batch(self, epoch, batch, batches, logs=None): marks.append((batch, time.perf_counter()))
    def on_epoch(self, *a, **k): pass

config = TrainConfig(model=arch, epochs=1)
training.train(config, data, Listener())
batch_size = config.resolved().batch_size
(b0, t0), (b1, t1) = marks[{settle}], marks[-1]
print(json.dumps({{"images_per_second": (b1 - b0) * batch_size / (t1 - t0), "batch_size": batch_size}}))
"""


def measure(arch: str, images: int) -> dict:
    env = {**os.environ, **thread_environment(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = CHILD.format(nice=JOB_NICENESS, settle=SETTLE_BATCHES - 1)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, arch, str(images)], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {**found, "wall_seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES)
    parser.add_argument("--models", nargs="*", default=list(REGISTRY))
    args = parser.parse_args()
    print(f"{'architecture':<14} {'images/s':>9} {'batch':>6} {'epochs':>6}  a job on {FORM_IMAGES:,} images")
    for arch in args.models:
        found = measure(arch, args.images)
        if "error" in found:
            print(f"{arch:<14} failed: {found['error']}")
            continue
        rate, epochs = found["images_per_second"], REGISTRY[arch].hyperparameters.get("epochs", 10)
        minutes = epochs * FORM_IMAGES / rate / 60
        print(f"{arch:<14} {rate:>9.0f} {found['batch_size']:>6} {epochs:>6}  {minutes:,.1f} min")


if __name__ == "__main__":
    main()
