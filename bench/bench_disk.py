"""A server's disk across a class's drawing: what ``python app.py`` writes for each lifted pen.

Starts ``python app.py`` with fresh folders of its own for Gradio's files (``GRADIO_TEMP_DIR``), the cache
(``EMNIST_CACHE_DIR``: decoded data and the models' exports, written at start) and the corrections, waits for its
data to load and a first drawing to be answered, then lets ``--pupils`` emulated pupils (``pupils.py``: the page's
own events, as browsers send them) lift ``--strokes`` pens in all, half of them on the Draw tab (``draw``, with the
page's stream open for the explanations) and half on the Inside tab (``inside_drawing``), as fast as answers come.

Prints, for each folder, its files and MB before and after the strokes, and the growth; then the total growth.
Target: under 5 MB after 10,000 strokes.

    python bench/bench_disk.py [--strokes 10000] [--pupils 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import httpx
from bench_jobs import SETTLE_SECONDS, start_app, stop_app, wait_for_data
from pupils import SHAPES, Page, Pupil, strokes

CALL_TIMEOUT = 60
TARGET_MB, TARGET_STROKES = 5, 10_000  # under 5 MB after 10,000 strokes
TABS = ("draw", "inside_drawing")  # the events a lifted pen sends on the Draw and Inside tabs
FOLDERS = {"Gradio files": "gradio", "cache": "cache", "corrections": "corrections"}


def usage(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``."""
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


async def pupil_draws(page: Page, client, event: str, seed: int, left: list, errors: list) -> None:
    """One pupil drawing characters stroke by stroke on the tab of ``event`` while strokes are ``left``."""
    pupil, rng = Pupil(page, client), random.Random(seed)
    try:
        if event == "draw" and "page_stream" in page.events:
            await pupil.stream("page_stream")  # what a page does when it loads: explanations come on it
        while left[0] > 0:
            drawing = strokes(rng.choice(list(SHAPES)), rng)
            for k in range(1, len(drawing) + 1):
                if left[0] <= 0:
                    return
                left[0] -= 1
                try:
                    await pupil.call(event, {"strokes": drawing[:k]}, timeout=CALL_TIMEOUT)
                except Exception as exc:  # counted; the pupil goes on
                    errors.append(f"{type(exc).__name__}: {str(exc)[:100]}")
    finally:
        await pupil.close()


async def class_draws(url: str, total: int, pupils: int) -> list:
    page = Page(url)
    limits = httpx.Limits(max_connections=4 * pupils + 10, max_keepalive_connections=4 * pupils + 10)
    lefts = {event: [total // len(TABS) + (i < total % len(TABS))] for i, event in enumerate(TABS)}
    errors = []
    async with httpx.AsyncClient(limits=limits, timeout=CALL_TIMEOUT) as client:
        await asyncio.gather(
            *(
                pupil_draws(page, client, TABS[i % len(TABS)], i, lefts[TABS[i % len(TABS)]], errors)
                for i in range(pupils)
            )
        )
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=10_000)
    parser.add_argument("--pupils", type=int, default=20)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-disk-"))
    where = {name: folder / sub for name, sub in FOLDERS.items()}
    process, url = start_app(folder, {"EMNIST_CACHE_DIR": str(where["cache"])})
    try:
        print(f"server at {url}, its folders under {folder}; {wait_for_data(url)}")
        time.sleep(SETTLE_SECONDS)
        before = {name: usage(path) for name, path in where.items()}
        started = time.monotonic()
        errors = asyncio.run(class_draws(url, args.strokes, args.pupils))
        took = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)  # anything written after the last answer
        after = {name: usage(path) for name, path in where.items()}
    finally:
        stop_app(process)

    print(
        f"{args.strokes:,} strokes by {args.pupils} pupils ({', '.join(TABS)}) in {took:.0f} s, {len(errors)} errors; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    print(f"\n{'':<14}{'files':>8}{'MB':>9}{'files':>8}{'MB':>9}{'growth MB':>11}")
    print(f"{'':<14}{'before':>17}{'after':>17}")
    for name in where:
        (n0, b0), (n1, b1) = before[name], after[name]
        print(f"{name:<14}{n0:>8}{b0 / 1e6:>9.2f}{n1:>8}{b1 / 1e6:>9.2f}{(b1 - b0) / 1e6:>11.3f}")
    growth = sum(after[name][1] - before[name][1] for name in where) / 1e6
    limit = TARGET_MB * args.strokes / TARGET_STROKES  # the target, for the strokes of this run
    verdict = "met" if growth < limit else "NOT met"
    print(f"\ntotal growth {growth:.3f} MB after {args.strokes:,} strokes (target under {limit:.2f} MB: {verdict})")


if __name__ == "__main__":
    main()
