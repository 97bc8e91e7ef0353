"""A class at once: concurrent gradio_client clients drawing against the app, on loopback.

Three scenarios in one run, each ``--clients`` clients x ``--calls`` predictions of the same sketch:

1. floor: a do-nothing Gradio app with the app's sketchpad input (bench_app.py's), what Gradio itself costs;
2. app, idle: ``python app.py``'s /predict;
3. app, training: the same while a training job started through the app's /train runs (cancelled after).

Prints the errors and p50/p95 latency of each, and the app's p95 over the floor's. Bounded: each
scenario stops after ``--limit`` seconds and each call after CALL_TIMEOUT, whatever happens.

Usage: python bench/bench_app_load.py [--clients 8] [--calls 100] [--limit 240] [--train-images 3000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_app import ROOT, START_TIMEOUT, connect, free_port, sketch_file, start, stop

sys.path.insert(0, str(ROOT))
from emnist_core.data.sketchpad import CANVAS

BENCH = Path(__file__).resolve().parent
WARMUP_CALLS = 3  # per client, before the clock starts
CALL_TIMEOUT = 60  # seconds; a call slower than this counts as an error
TARGET = 1.3  # the app's idle p95 may be at most this many times the floor's
TRAINING = "seed-cnn"
TRAIN_EPOCHS = 50  # more than the measurement lasts: the job is cancelled once it is done
TRAIN_START_TIMEOUT = 120


def load(url: str, api: str, value, clients: int, calls: int, limit: float, check) -> dict:
    """``clients`` threads, each with its own Client, ``calls`` timed predictions each -> latencies and errors."""
    from gradio_client import Client

    ready, latencies, errors = threading.Barrier(clients), [], []

    def client_run():
        try:
            client = Client(url, verbose=False)
            for _ in range(WARMUP_CALLS):
                client.predict(value, api_name=api)
        except Exception:
            ready.abort()  # the other clients stop waiting for this one
            raise
        ready.wait(timeout=START_TIMEOUT)  # every client starts its timed calls together
        deadline = time.monotonic() + limit
        for _ in range(calls):
            if time.monotonic() > deadline:
                errors.append("not sent: the scenario's time limit was reached")
                continue
            started = time.perf_counter()
            try:
                check(client.submit(value, api_name=api).result(timeout=CALL_TIMEOUT))
            except Exception as exc:  # any failure, timeout or wrong answer counts; the run goes on
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            else:
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client_run) for _ in range(clients)]:
            future.result()
    return {"ms": latencies, "errors": errors, "seconds": time.perf_counter() - started}


def reads_seven(result):
    mlp, cnn, _, _ = result
    if mlp["label"] != "7" or cnn["label"] != "7":
        raise ValueError(f"read {mlp['label']} and {cnn['label']}, not 7")


def start_training(url: str, images: int):
    """Start a training job through the app's /train, as the Retrain tab does; -> the job, once it trains."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    job = client.submit(TRAINING, TRAIN_EPOCHS, 128, 1e-3, images, api_name="/train")
    deadline = time.monotonic() + TRAIN_START_TIMEOUT
    while not job.status().progress_data:  # the first progress update: batches are running
        if job.done() or time.monotonic() > deadline:
            status = job.result()[0] if job.done() else "no progress yet"
            raise SystemExit(f"training did not start within {TRAIN_START_TIMEOUT} s: {status}")
        time.sleep(0.2)
    return client, job


def row(name: str, result: dict, floor_p95: float | None) -> str:
    ms = sorted(result["ms"])
    if len(ms) < 2:
        return f"{name:<28} {len(ms):>6} {len(result['errors']):>6}   (too few answers to measure)"
    p50, p95 = statistics.median(ms), statistics.quantiles(ms, n=100, method="inclusive")[94]
    ratio = f"{p95 / floor_p95:6.2f}x" if floor_p95 else "     -"
    return (
        f"{name:<28} {len(ms):>6} {len(result['errors']):>6} {p50:8.0f} {p95:8.0f} {ms[-1]:8.0f} "
        f"{result['seconds']:7.1f}   {ratio}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=100, help="timed predictions per client")
    parser.add_argument("--limit", type=float, default=240, help="seconds per scenario, at most")
    parser.add_argument("--train-images", type=int, default=3000, help="training images for the busy scenario")
    args = parser.parse_args()

    from gradio_client import handle_file

    models = tempfile.mkdtemp(prefix="bench-load-models-")
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "EMNIST_MODELS_DIR": models, "GRADIO_SERVER_NAME": "127.0.0.1"}
    app = floor = None
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        value = {"background": None, "layers": [], "composite": handle_file(str(sketch_file(Path(tmp), CANVAS)))}
        try:
            port = free_port()
            app = start(["app.py"], port, {**env, "GRADIO_SERVER_PORT": str(port)})
            app_url = f"http://127.0.0.1:{port}/"
            connect(app_url, app, time.perf_counter() + START_TIMEOUT)
            port = free_port()
            floor = start([str(BENCH / "bench_app.py"), "--serve-floor", str(port), "--size", str(CANVAS)], port)
            floor_url = f"http://127.0.0.1:{port}/"
            connect(floor_url, floor, time.perf_counter() + START_TIMEOUT)
            run = (args.clients, args.calls, args.limit)

            results["floor: do-nothing /noop"] = load(floor_url, "/noop", value, *run, check=lambda result: None)
            results["app /predict, idle"] = load(app_url, "/predict", value, *run, check=reads_seven)
            trainer, job = start_training(app_url, args.train_images)
            results[f"app /predict, {TRAINING} trains"] = load(app_url, "/predict", value, *run, check=reads_seven)
            trained_throughout = not job.done()
            trainer.predict(api_name="/cancel_training")
            final = job.result(timeout=CALL_TIMEOUT)[0]
            alive = app.poll() is None and floor.poll() is None
        finally:
            stop(app)
            stop(floor)
            shutil.rmtree(models, ignore_errors=True)

    print(
        f"{args.clients} clients x {args.calls} predictions of a {CANVAS}x{CANVAS} sketch per scenario, "
        f"127.0.0.1, {os.cpu_count()} CPUs"
    )
    print(
        f"{'scenario':<28} {'calls':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'wall s':>7}"
        "   p95/floor"
    )
    floor_ms = results["floor: do-nothing /noop"]["ms"]
    floor_p95 = statistics.quantiles(floor_ms, n=100, method="inclusive")[94] if len(floor_ms) > 1 else None
    for name, result in results.items():
        print(row(name, result, floor_p95))
    for name, result in results.items():
        for error in sorted(set(result["errors"]))[:5]:
            print(f"  {name}: {result['errors'].count(error)} x {error}")
    print(
        f"training ran throughout the busy scenario: {'yes' if trained_throughout else 'no'} "
        f"({args.train_images} images, then cancelled: {final!r})"
    )
    print(f"both servers still up at the end: {'yes' if alive else 'no'}")
    idle_ms = results["app /predict, idle"]["ms"]
    if floor_p95 and len(idle_ms) > 1:
        ratio = statistics.quantiles(idle_ms, n=100, method="inclusive")[94] / floor_p95
        verdict = "met" if ratio <= TARGET and not results["app /predict, idle"]["errors"] else "NOT met"
        print(f"target (0 errors, idle p95 <= {TARGET}x the floor's): {verdict} ({ratio:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
