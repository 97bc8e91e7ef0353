"""Why each model reads a drawing, worked out in a process of its own that runs only on time the server leaves idle:
the class's answers first.

An explanation (``serving.explain``: occlusion) runs about fifty copies of a drawing through both models, ten times
the work of the answer it explains. Worked out beside the answers, on a free Space's two cores, it would make a class
wait for its answers. An ``Explainer`` hands each drawing to a ``worker.Worker`` at ``IDLE`` priority, so answers are
served first and explanations with the time that is left; where the worker cannot help, the explanation is worked
out here.

A page gets its explanations pushed: each answer ``submit``s its drawing for the page's session, and a thread of
this process works through the sessions, one drawing at a time, always the session's latest (a drawing superseded
by the next stroke before its turn is never worked out), and hands each explanation to what ``watch`` registered
for that session. So explanations cost no request of their own, and a class drawing faster than they can be worked
out gets each pupil's latest drawing explained as soon as there is time.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from emnist_core.data.labels import check_lesson
from emnist_core.lab.worker import IDLE, Worker, WorkerError, spec_of

log = logging.getLogger(__name__)


class Explainer:
    """Explanations for the server (see the module doc); ``in_process=True`` works them out in this process (tests,
    and a machine where starting a process is not allowed)."""

    def __init__(self, in_process: bool = False):
        self._worker = None if in_process else Worker(IDLE)
        self._latest: OrderedDict = OrderedDict()  # session -> (pair, x28, lesson): its drawing to explain next
        self._watchers: dict = {}  # session -> deliver({slot: Explanation})
        self._ready = threading.Condition()
        self._turns: threading.Thread | None = None

    def explain(self, pair, x28, lesson: str | None = None) -> dict:
        """{slot: ``explain.Explanation``} for the 28x28 ``x28`` and each model of ``pair`` (``live.Pair``), within
        ``lesson``: from the worker, or worked out here where it cannot help."""
        lesson = check_lesson(lesson)
        spec = None if self._worker is None else spec_of(pair)
        if spec is not None:
            try:
                return self._worker.call("explain", spec, x28, lesson)
            except WorkerError as exc:
                log.warning("explanation worked out in the server instead (%s)", exc)
        return pair.explain(x28, lesson)

    def submit(self, session, pair, x28, lesson: str | None = None) -> None:
        """Explain ``x28`` for ``session`` when its turn comes, replacing any drawing of that session still waiting;
        the explanation goes to the session's watcher (``watch``); an empty pad (``x28`` None) gets {}. Returns at
        once."""
        lesson = check_lesson(lesson)
        with self._ready:
            self._latest.pop(session, None)
            self._latest[session] = (pair, x28, lesson)  # last in the line: sessions take turns
            if self._turns is None or not self._turns.is_alive():
                self._turns = threading.Thread(target=self._work, name="explainer-turns", daemon=True)
                self._turns.start()
            self._ready.notify()

    def watch(self, session, deliver) -> None:
        """Call ``deliver({slot: Explanation})`` with each explanation of ``session``'s drawings, from a thread of
        this process, until ``forget(session)``."""
        with self._ready:
            self._watchers[session] = deliver

    def forget(self, session) -> None:
        """A page that went away: nothing more is explained or delivered for its session."""
        with self._ready:
            self._watchers.pop(session, None)
            self._latest.pop(session, None)

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._latest:
                    self._ready.wait()
                session, (pair, x28, lesson) = self._latest.popitem(last=False)
            try:
                found = {} if x28 is None else self.explain(pair, x28, lesson)
            except Exception:  # a bad drawing or model: logged; the page keeps its last explanation
                log.exception("explanation failed")
                continue
            with self._ready:
                deliver = self._watchers.get(session)
            if deliver is not None:
                deliver(found)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
