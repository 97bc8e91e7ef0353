"""A server's memory across training jobs: does ``python app.py`` keep what each job leaves behind?

Starts ``python app.py`` (retrained models, corrections and Gradio's files in a temporary folder), waits for its
EMNIST data to load and for a first drawing to be answered and explained, and reads its resident memory (``VmRSS``
in ``/proc``): the server process alone, and the server with its child processes (the reader and explainer workers
are part of the server's footprint; a job's own process is measured once it has ended). Then runs ``--jobs``
training jobs one after the other through the page's own API (``/train``, as a teacher's press of Start does:
seed-mlp, 1 epoch, 2,000 images by default) and reads the memory again after each.

Prints one line per reading: MB for the server alone and with its children, and the change from before the first
job; then the change from the end of the first job to the end of the last, where a leak shows. Target: within 10%
of before after three jobs. Then ``--cancels`` times a cancel: a long CNN job started through ``/train``, Cancel
pressed (``/cancel_training``) once it trains, and the seconds until its process is gone and until ``/train``
answers. Target: within 1 s.

    python bench/bench_jobs.py [--jobs 3] [--images 2000] [--epochs 1] [--cancels 3] [--url http://127.0.0.1:7860]

With --url, measures a server already running on this machine (found by the port it listens on).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_class import TRAINING, start
from gradio_client import Client
from pupils import Page, Pupil, strokes

DATA_TIMEOUT = 300  # reading the EMNIST training images: a minute or more from the gzip files
WARM_UP_TIMEOUT = 60
SETTLE_SECONDS = 3  # after a job: its process reaped, the server's threads done with it
TARGET_CHANGE = 0.10
ARCHITECTURE, BATCH_SIZE, LEARNING_RATE = "seed-mlp", 128, 1e-3
TRAINING_AFTER_SECONDS = 15  # from its process's start to inside model.fit, with room to spare


def start_app(folder: Path, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """``python app.py`` on a free port, its retrained models, corrections and Gradio files under ``folder`` and its
    log in ``folder/server.log``; -> (its process, its URL) once its page answers."""
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "EMNIST_MODELS_DIR": str(folder / "models"),
        "EMNIST_CORRECTIONS_DIR": str(folder / "corrections"),
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        **(env or {}),
    }
    return start([sys.executable, "app.py"], env, folder / "server.log")


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory in MB (0 when it is gone); ``field="RssAnon"``: only what it allocated itself,
    not the file pages it maps (the cached EMNIST arrays are memory-mapped: reading them all for a job's process
    makes them resident, as the OS's file cache, which it takes back when memory is short)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid``."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command's name, which may hold spaces
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        found += below
        todo += below
    return found


def reading(pid: int) -> tuple[float, float, int, float]:
    """(server MB, server and children MB, how many children, server and children's own (anonymous) MB)."""
    children = descendants(pid)
    alone = rss_mb(pid)
    anon = rss_mb(pid, "RssAnon") + sum(rss_mb(c, "RssAnon") for c in children)
    return alone, alone + sum(rss_mb(c) for c in children), len(children), anon


def server_pid(url: str) -> int:
    """The pid of the process listening on ``url``'s port (for --url): from /proc/net/tcp's inode."""
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                return int(fd.parent.parent.name)
        except OSError:
            continue
    raise SystemExit(f"no process of this machine listens on port {port}")


async def warm_up(url: str) -> str:
    """What a first page does: the Retrain tab's data note (which waits a few seconds for the data), and one
    drawing answered and explained, which starts the reader's and the explainer's processes; -> the note."""
    async with httpx.AsyncClient(timeout=60) as client:
        pupil = Pupil(Page(url), client)
        try:
            (note, *_), _ = await pupil.call("retrain_setup")
            explained = await pupil.stream("page_stream")
            await pupil.call("draw", {"strokes": strokes("7", random.Random(0))})
            deadline = time.monotonic() + WARM_UP_TIMEOUT
            while not explained and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await pupil.close()
    return note


def wait_for_data(url: str) -> str:
    deadline = time.monotonic() + DATA_TIMEOUT
    while time.monotonic() < deadline:
        note = asyncio.run(warm_up(url))
        if "training images available" in note:
            return note
        time.sleep(2)
    raise SystemExit(f"the server's EMNIST data did not load within {DATA_TIMEOUT} s: {note}")


def job_pids(pid: int) -> list[int]:
    """The job processes below the server now."""
    found = []
    for c in descendants(pid):
        try:
            if b"job_process" in Path(f"/proc/{c}/cmdline").read_bytes():
                found.append(c)
        except OSError:  # ended meanwhile
            continue
    return found


def wait_for_no_job(pid: int, timeout: float = 30) -> None:
    """Until no job process is left below the server (a job's process exits after its last message)."""
    deadline = time.monotonic() + timeout
    while job_pids(pid) and time.monotonic() < deadline:
        time.sleep(0.2)


def time_a_cancel(client: Client, pid: int) -> tuple[float, float]:
    """A long job started as Start does, cancelled as Cancel does once it trains -> (seconds from the press to its
    process gone, to /train's last answer)."""
    pending = client.submit(*TRAINING, api_name="/train")
    deadline = time.monotonic() + WARM_UP_TIMEOUT
    while not job_pids(pid):
        if time.monotonic() > deadline or pending.done():
            raise SystemExit(f"the job's process did not start: {str(pending.result()[0])[:300]}")
        time.sleep(0.1)
    time.sleep(TRAINING_AFTER_SECONDS)  # past its imports and set-up: inside model.fit
    pressed = time.monotonic()
    client.predict(api_name="/cancel_training")
    while job_pids(pid):
        time.sleep(0.02)
    gone = time.monotonic() - pressed
    status = str(pending.result()[0])
    if "cancel" not in status.lower():
        raise SystemExit(f"the job was not cancelled: {status[:300]}")
    return gone, time.monotonic() - pressed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cancels", type=int, default=3)
    parser.add_argument("--url", help="a server already running on this machine (default: start app.py)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    process, url = (None, args.url) if args.url else start_app(folder)
    try:
        pid = process.pid if process else server_pid(url)
        print(f"server pid {pid} at {url}; {wait_for_data(url)}")
        time.sleep(SETTLE_SECONDS)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            f"\n{'':<14}{'server MB':>10}{'+children MB':>14}{'children':>10}{'change':>9}{'+children':>11}"
            f"{'own MB':>9}{'change':>9}"
        )
        before = reading(pid)
        rows = [("before", before)]

        def show(label, found):
            change = [f"{(found[i] - before[i]) / before[i]:+.1%}" for i in (0, 1)]
            print(
                f"{label:<14}{found[0]:>10.0f}{found[1]:>14.0f}{found[2]:>10}{change[0]:>9}{change[1]:>11}"
                f"{found[3]:>9.0f}{(found[3] - before[3]) / before[3]:>+9.1%}"
            )

        show("before", before)
        client = Client(url, verbose=False)
        for n in range(1, args.jobs + 1):
            started = time.monotonic()
            status, *_ = client.predict(
                ARCHITECTURE, args.epochs, BATCH_SIZE, LEARNING_RATE, args.images, api_name="/train"
            )
            took = time.monotonic() - started
            if not str(status).startswith("Done"):
                raise SystemExit(f"job {n} did not finish: {str(status)[:300]}")
            wait_for_no_job(pid)
            time.sleep(SETTLE_SECONDS)
            rows.append((f"after job {n}", reading(pid)))
            show(f"after job {n}", rows[-1][1])
            print(f"{'':<14}(job {n} took {took:.0f} s)")
        cancels = [time_a_cancel(client, pid) for _ in range(args.cancels)]
    finally:
        if process is not None:
            stop_app(process)

    first, last = rows[1][1], rows[-1][1]
    change = (last[1] - before[1]) / before[1]
    print(
        f"\nown (anonymous) memory of the server and its children: {before[3]:.0f} MB before, {last[3]:.0f} MB after "
        f"{args.jobs} jobs ({(last[3] - before[3]) / before[3]:+.1%})"
    )
    print(
        f"\nserver + children: {before[1]:.0f} MB before, {last[1]:.0f} MB after {args.jobs} jobs ({change:+.1%}; "
        f"target within {TARGET_CHANGE:.0%}: {'met' if abs(change) <= TARGET_CHANGE else 'NOT met'}); "
        f"from the end of job 1 to the end of job {args.jobs}: {(last[1] - first[1]) / first[1]:+.1%}"
    )
    if cancels:
        worst = max(gone for gone, _ in cancels)
        print(
            f"\ncancel, {len(cancels)} times ({TRAINING[0]} training): its process gone "
            + ", ".join(f"{gone:.2f}" for gone, _ in cancels)
            + " s after the press; /train answered "
            + ", ".join(f"{answered:.2f}" for _, answered in cancels)
            + f" s after (target within 1 s: {'met' if worst <= 1 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
