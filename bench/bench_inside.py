"""Inside view and what-if: their latency for the shipped pair, against the 1.5 s budget of each.

Prints, on drawn test images (UNIPEN test, as the app's drawings reach the models):

1. the first call of ``inside`` for both shipped models from their Keras files: it loads Keras (TensorFlow
   included) and both models;
2. the median, p95 and worst latency of ``inside`` for both models, one after the other: from the Keras models,
   and from the exported probes the lab serves (``LiveModel.inside``, LiteRT when installed);
3. the Inside tab's whole answer as a page gets it: ``lab.reader.inside`` on a 400x400 canvas (each test image
   placed on it at a drawn size and place), worked out in the lab's reader process (preprocessing, both probes,
   the pictures as PNG, sent back over its pipe);
4. the same for ``what_if`` on that canvas, through the live pair's Predictor (LiteRT when installed):
   preprocessing, every variant and one call of both models.

Usage: python bench/bench_inside.py [--images 50]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from emnist_core.data.datasets import load_dataset
from emnist_core.data.preprocess import preprocess
from emnist_core.lab.state import Lab
from emnist_core.serving import inside
from emnist_core.serving.variants import VARIANTS, placed_on_canvas
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


def looking_inside(probes, slots):
    """x28 -> the inside view of each of ``slots``, one after the other, as a page asks."""
    return lambda x: [inside.inside(probes[slot], x) for slot in slots]


def summary(label: str, seconds: np.ndarray) -> str:
    ms = seconds * 1000
    verdict = "within" if seconds.max() <= BUDGET_S else "OVER"
    return (
        f"{label:<40}{np.median(ms):>9.1f}{np.percentile(ms, 95):>9.1f}{ms.max():>9.1f}   "
        f"{verdict} the {BUDGET_S} s budget"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    args = parser.parse_args()

    data = load_dataset("unipen")
    rng = np.random.default_rng(SEED)
    images = data.x_test[rng.choice(len(data.x_test), args.images, replace=False)]
    canvases = [255 - placed_on_canvas(x, rng) for x in images]  # black ink on white, as a drawing reaches a model
    print(f"{args.images} unipen test images; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    lab = Lab(data_loader=lambda: None, drawn_loader=lambda: None)  # the shipped pair, as a server serves it
    pair = lab.models.pair
    try:
        paths = {slot: pair.models[slot].path for slot in MODELS}
        t = time.perf_counter()
        keras_probes = {slot: inside.probe(paths[slot]) for slot in MODELS}  # as inside(path) loads it
        for slot in MODELS:
            inside.inside(keras_probes[slot], images[0])
        print(f"first inside call, both models (loads Keras and both models): {time.perf_counter() - t:.1f} s")

        print(f"\n{'':<40}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
        served_probes = {slot: pair.models[slot].inside for slot in MODELS}
        for source, probes in (("Keras", keras_probes), ("as served", served_probes)):
            print(summary(f"inside, mlp + cnn ({source})", timed(looking_inside(probes, MODELS), images)))
            for slot in MODELS:
                print(summary(f"  {slot} alone", timed(looking_inside(probes, [slot]), images)))

        lab.reader.inside(pair, canvases[0])  # starts the reader's process
        print(summary("the Inside tab's answer (lab.reader)", timed(lambda c: lab.reader.inside(pair, c), canvases)))
        print(summary("  of which preprocessing", timed(preprocess, canvases)))

        served = type(pair.models["cnn"].model).__name__
        what_if(pair.predictor, canvases[0])  # warm-up
        print(
            summary(
                f"what_if, {len(VARIANTS)} variants ({served})", timed(lambda c: what_if(pair.predictor, c), canvases)
            )
        )
    finally:
        lab.reader.close()
        lab.explainer.close()


if __name__ == "__main__":
    main()
