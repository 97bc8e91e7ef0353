"""Single-image latency: our Predictor (LiteRT export as the app serves it, or Keras traced) against
model.predict and predict_on_batch, plus preprocessing.

Usage: python bench/bench_predict.py [--repeats 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from emnist_core.data.preprocess import preprocess
from emnist_core.models.store import ALIASES, load_model, resolve_model_path
from emnist_core.serving.export import load_served
from emnist_core.serving.predictor import Predictor


def timed(fn, repeats):
    fn()  # warm-up (tracing, first allocation)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return np.percentile(np.array(times) * 1000, [50, 95])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--models", nargs="+", default=list(ALIASES))
    args = parser.parse_args()

    canvas = np.full((800, 800, 4), 255, np.uint8)
    canvas[150:650, 380:420, :3] = 0  # a '1' as a sketchpad would send it
    image = preprocess(canvas)[None].astype(np.float32)
    print(f"{'what':<44}{'p50 ms':>9}{'p95 ms':>9}")
    p50, p95 = timed(lambda: preprocess(canvas), args.repeats)
    print(f"{'preprocess 800x800 RGBA':<44}{p50:>9.2f}{p95:>9.2f}")
    for name in args.models:
        model = load_model(resolve_model_path(name))
        predictor, served = Predictor({name: model}), Predictor({name: load_served(resolve_model_path(name))})
        rows = [
            ("Predictor (LiteRT export: the app)", lambda served=served: served.probabilities(image)),
            ("Predictor (traced tf.function)", lambda predictor=predictor: predictor.probabilities(image)),
            ("model.predict_on_batch", lambda model=model: model.predict_on_batch(image)),
            ("model.predict", lambda model=model: model.predict(image, verbose=0)),
        ]
        for label, fn in rows:
            p50, p95 = timed(fn, args.repeats if "predict" not in label or "batch" in label else args.repeats // 5)
            print(f"{name + ': ' + label:<44}{p50:>9.2f}{p95:>9.2f}")
    both = Predictor.load(args.models)
    p50, p95 = timed(lambda: both.predict_drawing(canvas), args.repeats)
    print(f"{'canvas -> top-5 of ' + '+'.join(args.models):<44}{p50:>9.2f}{p95:>9.2f}")


if __name__ == "__main__":
    main()
