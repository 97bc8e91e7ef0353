"""Pupils as a browser reaches a Gradio page: the page's own events over its queue protocol, no gradio_client.

Each ``Pupil`` is one browser tab: a session of its own, one event stream (``/gradio_api/queue/data``) kept open,
and events joined as the page joins them (``POST /gradio_api/queue/join`` with the event's ``fn_index``, the values
of its inputs, and the session), each answered on that stream (``process_completed``; a generator's first answer
comes as ``process_generating``). The events are found in the page's config by their ``api_name`` (the page's
private events have one too), so the bench drives exactly what the page's scripts drive.

Strokes come from ``SHAPES``: characters as pen strokes in fractions of the pad, drawn stroke by stroke with a
little jitter each time, as a class draws.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import secrets
import time

import httpx

PAD = 400  # sketchpad.CANVAS: the pad's pixels, in which strokes are sent
# A few characters as a pupil draws them, stroke by stroke: fractions of the pad, y down.
SHAPES = {
    "7": [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]],
    "X": [[(0.25, 0.15), (0.75, 0.85)], [(0.75, 0.15), (0.25, 0.85)]],
    "T": [[(0.2, 0.2), (0.8, 0.2)], [(0.5, 0.2), (0.5, 0.85)]],
    "H": [[(0.3, 0.15), (0.3, 0.85)], [(0.7, 0.15), (0.7, 0.85)], [(0.3, 0.5), (0.7, 0.5)]],
    "4": [[(0.6, 0.85), (0.6, 0.15), (0.2, 0.6), (0.8, 0.6)]],
    "A": [[(0.2, 0.85), (0.5, 0.15), (0.8, 0.85)], [(0.33, 0.55), (0.67, 0.55)]],
    "E": [[(0.7, 0.15), (0.3, 0.15), (0.3, 0.85), (0.7, 0.85)], [(0.3, 0.5), (0.65, 0.5)]],
    "L": [[(0.3, 0.15), (0.3, 0.85), (0.7, 0.85)]],
}
POINTS_PER_SEGMENT = 12  # a pen sends many points along a line


def strokes(shape: str, rng: random.Random) -> list[list[list[float]]]:
    """One pupil's drawing of ``shape``: [[xs, ys, ts], ...] in pad pixels, jittered, with times in ms."""
    dx, dy, scale = rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(0.8, 1.1)
    drawn, t = [], 0
    for stroke in SHAPES[shape]:
        xs, ys, ts = [], [], []
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            for k in range(POINTS_PER_SEGMENT):
                f = k / POINTS_PER_SEGMENT
                xs.append(round(PAD * (0.5 + scale * (x0 + f * (x1 - x0) - 0.5) + dx), 1))
                ys.append(round(PAD * (0.5 + scale * (y0 + f * (y1 - y0) - 0.5) + dy), 1))
                ts.append(t)
                t += 8
        xs.append(round(PAD * (0.5 + scale * (stroke[-1][0] - 0.5) + dx), 1))
        ys.append(round(PAD * (0.5 + scale * (stroke[-1][1] - 0.5) + dy), 1))
        ts.append(t)
        t += 300
        drawn.append([xs, ys, ts])
    return drawn


class Page:
    """A served page's config: its events by api_name, and where its queue is."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        config = httpx.get(f"{self.url}/config", timeout=30).json()
        self.events = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        self.components = {c["id"]: c for c in config["components"]}

    def event(self, api_name: str) -> dict:
        if api_name not in self.events:
            raise KeyError(f"the page has no event {api_name!r}; it has {', '.join(sorted(self.events))}")
        return self.events[api_name]


class Pupil:
    """One browser tab on ``page``: its own session, one open event stream."""

    def __init__(self, page: Page, client: httpx.AsyncClient):
        self.page, self.client = page, client
        self.session = secrets.token_hex(6)
        self.waiting: dict[str, asyncio.Future] = {}
        self.early: dict[str, dict] = {}  # answers that came before their join's reply was read
        self.streams: dict[str, list] = {}  # event -> what each of its messages brought, as (time, data)
        self.stream_task = None

    async def open(self):
        self.stream_task = asyncio.create_task(self._stream())

    async def close(self):
        if self.stream_task:
            self.stream_task.cancel()

    async def _stream(self):
        url = f"{self.page.url}/gradio_api/queue/data"
        while True:  # the browser reconnects when the stream ends (it does once no event is pending)
            try:
                async with self.client.stream("GET", url, params={"session_hash": self.session}, timeout=None) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data:"):
                            self._message(json.loads(line[5:]))
            except (httpx.HTTPError, asyncio.CancelledError) as exc:
                if isinstance(exc, asyncio.CancelledError):
                    raise
            await asyncio.sleep(0.05)

    def _message(self, message: dict):
        if message.get("event_id") in self.streams and message.get("msg") == "process_generating":
            self.streams[message["event_id"]].append((time.perf_counter(), (message.get("output") or {}).get("data")))
            return
        kind = message.get("msg")
        future = self.waiting.get(message.get("event_id"))
        if future is None:
            if kind in ("process_generating", "process_completed"):
                self.early.setdefault(message["event_id"], message)
            return
        if future.done():
            return
        if kind in ("process_generating", "process_completed"):
            output = message.get("output") or {}
            if kind == "process_completed" and not message.get("success", True):
                future.set_exception(RuntimeError(str(output.get("error") or output)[:200]))
            else:
                future.set_result(output.get("data"))

    async def stream(self, api_name: str) -> list:
        """Join the page's long-lived event ``api_name`` (as a page does on load); -> the list its messages go to,
        as (time, data)."""
        event = self.page.event(api_name)
        if self.stream_task is None:
            await self.open()
        body = {
            "data": [None] * len(event["inputs"]),
            "event_data": None,
            "fn_index": event["id"],
            "session_hash": self.session,
            "trigger_id": None,
        }
        answer = await self.client.post(f"{self.page.url}/gradio_api/queue/join", json=body)
        answer.raise_for_status()
        messages = self.streams[answer.json()["event_id"]] = []
        return messages

    async def call(self, api_name: str, *values, timeout: float = 60) -> tuple[list, float]:
        """Join the page's event ``api_name`` with ``values`` for its inputs (None for a state, as a page sends);
        -> (its first answer's data, seconds until it came)."""
        event = self.page.event(api_name)
        data = list(values) + [None] * (len(event["inputs"]) - len(values))
        started = time.perf_counter()
        body = {
            "data": data,
            "event_data": None,
            "fn_index": event["id"],
            "session_hash": self.session,
            "trigger_id": event["targets"][0][0] if event["targets"] else None,
        }
        if self.stream_task is None:
            await self.open()
        answer = await self.client.post(f"{self.page.url}/gradio_api/queue/join", json=body, timeout=timeout)
        answer.raise_for_status()
        future = asyncio.get_running_loop().create_future()
        event_id = answer.json()["event_id"]
        self.waiting[event_id] = future
        if event_id in self.early:  # answered before the join's reply was read
            self._message(self.early.pop(event_id))
        try:
            data = await asyncio.wait_for(future, timeout)
        finally:
            self.waiting.pop(event_id, None)
        return data, time.perf_counter() - started
