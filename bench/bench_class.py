"""A class of pupils on one server, emulated as their browsers reach it, beside the framework's floor.

Starts ``python app.py`` and ``bench/floor_app.py`` (a page with the same pad and event names whose handlers do
nothing), and runs each scenario on both, one after the other, in this one run, with the same emulated pupils
(``pupils.py``: the page's own events over Gradio's queue protocol). A pupil draws a character stroke by stroke:
each lifted pen sends the strokes so far, waits for the answer, and lifts the next pen ``--pause`` seconds later.

Scenarios:
- draw: the Draw tab (the answer; why each model reads it follows on the page's stream: the share of strokes whose
  explanation came before the next stroke, and its p50 delay after the answer, are printed beside);
- inside: the Inside tab (feature maps and templates on every stroke);
- challenge: the Challenge tab (live answers on every stroke, *Done* after each character);
- training: the Draw tab while a CNN trains on the same server (started through the Retrain tab's /train).

Prints, per scenario, strokes answered a second and the answer's p50 and p95 for the app and the floor, and the
app's figures as a share of the floor's. Bounded: each scenario lasts ``--seconds``; each call times out.

    python bench/bench_class.py [--pupils 30] [--seconds 20] [--pause 0.5] [--scenarios draw,inside,challenge,training]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pupils import SHAPES, Page, Pupil, strokes

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180
CALL_TIMEOUT = 60
WARMUP_SECONDS = 3
# /train's form: a CNN job that outlasts the measurement (about 4 minutes here) and is short enough to start at once:
# one estimated over 5 minutes asks for a second press first (ui/retrain.py, CONFIRM_ABOVE_SECONDS).
TRAINING = ("seed-cnn", 20, 128, 1e-3, 8000)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start a server on a free port, its output in ``log`` (a new temporary file by default); -> (its process, its
    URL) once its page answers."""
    port = free_port()
    log = log or Path(tempfile.mkdtemp(prefix="bench-class-")) / "server.log"
    with open(log, "wb") as out:  # a file, not a pipe: a pipe nobody reads would stall a server that logs under load
        process = subprocess.Popen(
            command, cwd=ROOT, env={**env, "GRADIO_SERVER_PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/config", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{command} did not serve within {START_TIMEOUT} s")


async def pupil_draws(page: Page, client, until: float, pause: float, seed: int, events: dict, scenario: str):
    """One pupil drawing characters until ``until``: each lifted pen's answer is timed (``events["answers"]``), and
    on the Draw tab how long after it the page's stream brings its explanation (``events["explained"]``)."""
    pupil, rng = Pupil(page, client), random.Random(seed)
    await asyncio.sleep(rng.uniform(0, pause))  # pupils start out of step, as a class does
    explained = None
    try:
        if "page_stream" in page.events and scenario in ("draw", "training"):
            explained = await pupil.stream("page_stream")  # what the page does when it loads
        if scenario == "challenge":
            await pupil.call("challenge_new", timeout=CALL_TIMEOUT)
        event = {"draw": "draw", "training": "draw", "inside": "inside_drawing", "challenge": "challenge_live"}
        while time.monotonic() < until:
            drawing = strokes(rng.choice(list(SHAPES)), rng)
            for k in range(1, len(drawing) + 1):
                value = {"strokes": drawing[:k]}
                try:
                    seen = len(explained) if explained is not None else 0
                    _, seconds = await pupil.call(event[scenario], value, timeout=CALL_TIMEOUT)
                    answered = time.perf_counter()
                    if time.monotonic() < until:
                        events["answers"].append(seconds)
                except Exception as exc:  # any failure or timeout counts; the pupil goes on
                    events["errors"].append(f"{type(exc).__name__}: {str(exc)[:100]}")
                    answered = None
                await asyncio.sleep(pause)
                if explained is not None and answered is not None and len(explained) > seen:
                    events["explained"].append(max(0.0, explained[-1][0] - answered))  # came before the next stroke
            if scenario == "challenge":
                try:
                    await pupil.call("challenge_done", None, None, {"strokes": drawing}, timeout=CALL_TIMEOUT)
                except Exception as exc:
                    events["errors"].append(f"Done: {type(exc).__name__}: {str(exc)[:100]}")
    finally:
        await pupil.close()


async def class_at(url: str, scenario: str, pupils: int, seconds: float, pause: float) -> dict:
    page = Page(url)
    limits = httpx.Limits(max_connections=4 * pupils + 10, max_keepalive_connections=4 * pupils + 10)
    async with httpx.AsyncClient(limits=limits, timeout=CALL_TIMEOUT) as client:
        warm = {"answers": [], "explained": [], "errors": []}
        until = time.monotonic() + WARMUP_SECONDS
        await asyncio.gather(*(pupil_draws(page, client, until, pause, 1000 + i, warm, scenario) for i in range(2)))
        events = {"answers": [], "explained": [], "errors": []}
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(pupil_draws(page, client, until, pause, i, events, scenario) for i in range(pupils)))
        events["seconds"] = time.monotonic() - started
        events["measured"] = seconds
    return events


def figures(events: dict) -> dict:
    ms = sorted(1000 * s for s in events["answers"])
    why = sorted(1000 * s for s in events["explained"])
    p = lambda values, q: statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else 0
    return {
        "rate": len(ms) / events["measured"],
        "p50": p(ms, 50),
        "p95": p(ms, 95),
        "errors": len(events["errors"]),
        "why_p50": p(why, 50),
        "why": len(why) / max(len(ms), 1),
        "first_error": (events["errors"] or [""])[0],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per scenario and server")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between an answer and the next stroke")
    parser.add_argument("--scenarios", default="draw,inside,challenge,training")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")

    work = Path(tempfile.mkdtemp(prefix="bench-class-"))
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "EMNIST_MODELS_DIR": str(work / "models"),
        "EMNIST_CORRECTIONS_DIR": str(work / "corrections"),
        "PYTHONUNBUFFERED": "1",
    }
    app, app_url = start([sys.executable, "app.py"], env)
    try:
        floor, floor_url = start([sys.executable, "bench/floor_app.py"], env)
    except BaseException:
        app.kill()
        raise
    print(
        f"{args.pupils} pupils, {args.seconds:.0f} s a scenario, {args.pause} s between an answer and the next "
        f"stroke; {os.cpu_count()} cores"
    )
    print(
        f"{'scenario':<10} {'server':<6} {'strokes/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}  "
        f"{'explained, p50 ms':>18}  vs floor: strokes/s  p95"
    )
    try:
        for scenario in scenarios:
            floor_events = asyncio.run(
                class_at(
                    floor_url,
                    "challenge" if scenario == "challenge" else "draw" if scenario == "training" else scenario,
                    args.pupils,
                    args.seconds,
                    args.pause,
                )
            )
            job = None
            if scenario == "training":
                from gradio_client import Client

                job = Client(app_url, verbose=False).submit(*TRAINING, api_name="/train")
                time.sleep(15)  # the job's process starts and trains
                if job.done():  # it said why it did not start (busy, refused, would take too long)
                    raise SystemExit(f"no job trains: {str(job.result()[0])[:300]}")
            app_events = asyncio.run(class_at(app_url, scenario, args.pupils, args.seconds, args.pause))
            if job is not None:
                from gradio_client import Client

                Client(app_url, verbose=False).predict(api_name="/cancel_training")
            f, a = figures(floor_events), figures(app_events)
            for name, row in (("floor", f), ("app", a)):
                why = f"{row['why']:9.0%} {row['why_p50']:8.0f}" if row["why"] else f"{'-':>18}"
                line = (
                    f"{scenario:<10} {name:<6} {row['rate']:9.1f} {row['p50']:8.0f} {row['p95']:8.0f} "
                    f"{row['errors']:6d}  {why}"
                )
                if name == "app":
                    line += f"  {a['rate'] / max(f['rate'], 1e-9):18.0%}  {a['p95'] / max(f['p95'], 1e-9):5.2f}x"
                print(line + (f"  ({row['first_error']})" if row["errors"] else ""), flush=True)
    finally:
        for process in (app, floor):
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
