"""Occlusion saliency ("why this answer"): its latency and whether its maps pass the deletion check.

Prints, on pool47 test images:

1. the median (and p95) latency of ``explain`` for both live models in one call, as the lab makes it
   (``Pair.explain``), and for each model alone, with the batch size (occluded images per drawing); for the shipped
   pair as the lab serves it (LiteRT when installed: ``lab.models.pair``) and as Keras/TensorFlow;
2. the same pair's explanation as a page gets it: through the lab's ``Explainer`` (a worker process at idle
   priority, the drawing and the explanation sent over its pipe);
3. the deletion check per model: mean area under the target-probability curve as ink pixels are
   deleted most-salient-first vs in random order (lower = the probability falls sooner), and the
   share of images where salient-first falls sooner.

Usage: python bench/bench_explain.py [--images 50] [--repeats 3] [--patch 6 --stride 3]
(--patch/--stride try another occlusion grid; the defaults are explain.PATCH and explain.STRIDE; the Explainer row
always uses the defaults, as the page does.)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from emnist_core.data.datasets import load_dataset
from emnist_core.lab.state import Lab
from emnist_core.serving import explain as ex
from emnist_core.serving.export import LiteModel
from emnist_core.serving.predictor import Predictor

MODELS = ("mlp", "cnn")
SEED = 0  # which test images, and the random deletion orders


def latencies(fn, images, repeats):
    """Per-image median of ``repeats`` calls of ``fn(image)``, in ms."""
    fn(images[0])  # warm-up
    out = []
    for x in images:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t)
        out.append(np.median(times) * 1000)
    return np.array(out)


def row(label, ms) -> str:
    return f"{label:<40}{np.median(ms):>9.2f}{np.percentile(ms, 95):>9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--patch", type=int, default=ex.PATCH)
    parser.add_argument("--stride", type=int, default=ex.STRIDE)
    args = parser.parse_args()
    grid = {"patch": args.patch, "stride": args.stride}

    data = load_dataset("pool47")
    classes = data.label_map.names
    pick = np.random.default_rng(SEED).choice(len(data.x_test), args.images, replace=False)
    images = data.x_test[pick]
    # The shipped pair as a server serves it; its Explainer starts its worker process on the first explanation.
    lab = Lab(data_loader=lambda: None, drawn_loader=lambda: None)
    pair = lab.models.pair
    served = "LiteRT" if all(isinstance(m.model, LiteModel) for m in pair.models.values()) else "Keras, LiteRT missing"
    runtimes = {f"as served ({served})": pair.predictor, "Keras/TensorFlow": Predictor.load(MODELS)}

    masks = ex._patch_masks(args.patch, args.stride)
    batch = np.array([1 + (masks @ (x.ravel() >= ex.INK_LEVEL) > 0).sum() for x in images])
    print(
        f"{args.images} pool47 test images; {args.patch}x{args.patch} patches, stride {args.stride}: "
        f"{len(masks)} patches, batch of {batch.mean():.1f} images on average (max {batch.max()})"
    )
    # On a shared machine the latencies move with other people's work: say how busy it was.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    batches = [np.repeat(x[None], n, axis=0).astype(np.float32) for x, n in zip(images, batch)]

    def explaining(predictor):
        return lambda x: ex.explain(predictor.probabilities, x, classes, **grid)

    try:
        for runtime, both in runtimes.items():
            print(f"\n{'explain, ' + runtime:<40}{'p50 ms':>9}{'p95 ms':>9}")
            # Beside the pair, the models' call alone on batches of the same sizes: the rest is explain's own cost.
            rows = [
                ("+".join(MODELS) + " (one call)", explaining(both), images),
                ("  of which the models' call", both.probabilities, batches),
            ]
            rows += [
                (slot, explaining(Predictor({slot: both.models[slot]}, temperatures=both.temperatures)), images)
                for slot in MODELS
            ]
            for label, fn, inputs in rows:
                print(row(label, latencies(fn, inputs, args.repeats)))

        # What a page waits for: the drawing to the Explainer's worker (idle priority) and the explanation back.
        print(f"\n{'as a page gets it (default grid)':<40}{'p50 ms':>9}{'p95 ms':>9}")
        print(row("lab.explainer, worker process", latencies(lambda x: lab.explainer.explain(pair, x), images, 1)))
        print(row("Pair.explain, in the server", latencies(pair.explain, images, 1)))

        t = time.perf_counter()
        checks = ex.deletion_check(pair.predictor.probabilities, images, seed=SEED, **grid)
        took = time.perf_counter() - t
    finally:
        lab.reader.close()
        lab.explainer.close()
    print(f"\ndeletion check ({ex.DELETION_STEPS} steps, {took:.1f} s): area under the target's probability")
    print(f"{'model':<8}{'salient-first':>15}{'random order':>14}{'salient wins':>14}")
    for name, check in checks.items():
        print(f"{name:<8}{check.mean_salient:>15.3f}{check.mean_random:>14.3f}{check.wins:>14.0%}")


if __name__ == "__main__":
    main()
