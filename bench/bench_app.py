"""How fast the app answers, over HTTP with gradio_client, as a person's browser or a program sees it.

Prints two figures, both measured in this one run:

1. start to first prediction: from launching ``python app.py`` to the first /predict answer
   (several starts: on a shared machine this figure moves with the load);
2. per-sketch latency of /predict (both models) beside a do-nothing endpoint that takes the same
   sketchpad input, served the same way by a second process: the difference is the app's own cost.

Usage: python bench/bench_app.py [--calls 60] [--starts 3] [--size 400]
(--size: the sketch's side in pixels; 400 is the app's canvas, 800 Gradio's default.)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120
WARMUP_CALLS = 5
# A "7" as pen strokes, in fractions of the canvas side.
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_floor(port: int, size: int):
    """A do-nothing endpoint with the app's sketchpad input: what Gradio itself costs per call."""
    import gradio as gr

    with gr.Blocks() as floor:
        pad = gr.Sketchpad(type="numpy", image_mode="RGBA", canvas_size=(size, size))
        pad.change(lambda sketch: None, pad, None, api_name="noop")
    floor.queue(default_concurrency_limit=16).launch(server_name="127.0.0.1", server_port=port, quiet=True)


def sketch_file(folder: Path, size: int) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), "white")
    ImageDraw.Draw(image).line([(x * size, y * size) for x, y in SEVEN], fill="black", width=size // 14)
    path = folder / f"seven-{size}.png"
    image.save(path)
    return path


def connect(url: str, process: subprocess.Popen, deadline: float):
    from gradio_client import Client

    while True:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode} before serving")
        try:
            return Client(url, verbose=False)
        except Exception:  # not listening yet
            if time.perf_counter() > deadline:
                raise SystemExit(f"{url} did not start within {START_TIMEOUT} s") from None
            time.sleep(0.05)


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10)
    return f"{name:<26} p50 {statistics.median(ms):7.1f} ms   p10 {q[0]:7.1f}   p90 {q[-1]:7.1f}   (n={len(ms)})"


def start(script_args, port: int, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *script_args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen | None):
    if process is not None:
        process.terminate()
        process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="timed calls per endpoint")
    parser.add_argument("--starts", type=int, default=3, help="times to start the app from scratch")
    parser.add_argument("--size", type=int, default=400, help="sketch side in pixels (the app's canvas is 400)")
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        return serve_floor(args.serve_floor, args.size)

    from gradio_client import handle_file

    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "EMNIST_MODELS_DIR": tempfile.mkdtemp(prefix="bench-models-")}
    app = floor = None
    with tempfile.TemporaryDirectory() as tmp:
        value = {"background": None, "layers": [], "composite": handle_file(str(sketch_file(Path(tmp), args.size)))}
        try:
            firsts = []
            for _ in range(args.starts):  # the last app started stays up for the latency figures
                stop(app)
                port = free_port()
                started = time.perf_counter()
                app = start(["app.py"], port, {**env, "GRADIO_SERVER_PORT": str(port)})
                app_client = connect(f"http://127.0.0.1:{port}/", app, started + START_TIMEOUT)
                mlp, cnn, _, _ = app_client.predict(value, api_name="/predict")
                firsts.append(time.perf_counter() - started)
            # Started only now, so that it does not compete with the app's start for the CPU.
            port = free_port()
            floor = start([__file__, "--serve-floor", str(port), "--size", str(args.size)], port)
            floor_client = connect(f"http://127.0.0.1:{port}/", floor, time.perf_counter() + START_TIMEOUT)

            calls = {
                "app /predict": lambda: app_client.predict(value, api_name="/predict"),
                "do-nothing /noop": lambda: floor_client.predict(value, api_name="/noop"),
            }
            for call in calls.values():
                for _ in range(WARMUP_CALLS):
                    call()
            times = {name: [] for name in calls}
            for _ in range(args.calls):  # interleaved, so drifts in machine load hit both alike
                for name, call in calls.items():
                    times[name].append(timed(call))
        finally:
            stop(app)
            stop(floor)

    print(f"sketch: {args.size}x{args.size} RGBA PNG; first answer: MLP {mlp['label']}, CNN {cnn['label']}")
    print(
        f"start to first prediction (python app.py -> first /predict answer): median {statistics.median(firsts):.2f} s"
        f"  [{', '.join(f'{t:.2f}' for t in firsts)}]"
    )
    for name, ms in times.items():
        print(summary(name, ms))
    extra = statistics.median(times["app /predict"]) - statistics.median(times["do-nothing /noop"])
    print(f"app's own cost per sketch (p50 difference): {extra:+.1f} ms")


if __name__ == "__main__":
    main()
