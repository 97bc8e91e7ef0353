"""Inside view and what-if: their latency for the shipped pair, against the 1.5 s budget of each.

Prints, on drawn test images (UNIPEN test, as the app's drawings reach the models):

1. the first call of ``inside`` for both shipped models: it loads the Keras models (TensorFlow included);
2. the median, p95 and worst latency of ``inside`` for both models, one after the other, as the app asks;
3. the same for ``what_if`` on a 400x400 sketchpad canvas (each test image placed on it at a drawn size and
   place), through the Predictor the app serves (LiteRT when installed): preprocessing, every variant and
   one call of both models.

Usage: python bench/bench_inside.py [--images 50]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from emnist_core.data.datasets import load_dataset
from emnist_core.lab import state as lab
from emnist_core.serving import inside
from emnist_core.serving.variants import placed_on_canvas
from emnist_core.serving.whatif import what_if

MODELS = ("mlp", "cnn")
BUDGET_S = 1.5
SEED = 0


def timed(fn, inputs) -> np.ndarray:
    out = []
    for x in inputs:
        t = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t)
    return np.array(out)


def summary(label: str, seconds: np.ndarray) -> str:
    ms = seconds * 1000
    verdict = "within" if seconds.max() <= BUDGET_S else "OVER"
    return (
        f"{label:<34}{np.median(ms):>9.1f}{np.percentile(ms, 95):>9.1f}{ms.max():>9.1f}   "
        f"{verdict} the {BUDGET_S} s budget"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    args = parser.parse_args()

    data = load_dataset("unipen")
    rng = np.random.default_rng(SEED)
    images = data.x_test[rng.choice(len(data.x_test), args.images, replace=False)]
    canvases = [255 - placed_on_canvas(x, rng) for x in images]  # black ink on white, as the sketchpad sends
    print(f"{args.images} unipen test images; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    paths = {slot: lab.read_live(slot, slot).path for slot in MODELS}
    t = time.perf_counter()
    for slot in MODELS:
        inside.inside(paths[slot], images[0])
    print(f"first inside call, both models (loads Keras and both models): {time.perf_counter() - t:.1f} s")

    print(f"\n{'':<34}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    both = timed(lambda x: [inside.inside(paths[slot], x) for slot in MODELS], images)
    print(summary("inside, mlp + cnn", both))
    for slot in MODELS:
        print(summary(f"  {slot} alone", timed(lambda x, slot=slot: inside.inside(paths[slot], x), images)))

    live = {slot: lab.read_live(slot, slot) for slot in MODELS}
    predictor = lab.serve(live)
    served = type(live["cnn"].model).__name__
    what_if(predictor, canvases[0])  # warm-up
    print(summary(f"what_if, 9 variants ({served})", timed(lambda c: what_if(predictor, c), canvases)))


if __name__ == "__main__":
    main()
