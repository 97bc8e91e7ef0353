"""Reading the class's drawings: each lifted pen's answer and the Inside tab's pictures, worked out in a process of
the server's own (``worker.Worker``) so that the process serving every page keeps Python's lock for serving them;
where that process cannot help, here."""

from __future__ import annotations

import asyncio
import logging

from emnist_core.data.labels import check_lesson
from emnist_core.lab.worker import NORMAL, Worker, WorkerError, png, sketch, spec_of

log = logging.getLogger(__name__)


class Reader:
    """The answers to drawings (see the module doc); ``in_process=True`` works them out in this process (tests, and
    a machine where starting a process is not allowed)."""

    def __init__(self, in_process: bool = False):
        self._worker = None if in_process else Worker(NORMAL)

    def read(self, pair, drawing, k: int, lesson: str | None = None):
        """A drawing (its pen strokes, checked by ``strokes.checked``, or an image) -> (the 28x28 the models of
        ``pair`` see, {slot: top-``k`` within ``lesson``}). ``ImageInputError`` (empty, too small ...) as
        ``preprocess`` says it."""
        lesson = check_lesson(lesson)
        found = self._ask("read", pair, drawing, lesson, k)
        if found is not None:
            return found
        return pair.read(sketch(drawing), k, lesson)

    async def aread(self, pair, drawing, k: int, lesson: str | None = None):
        """``read`` for a coroutine: the event loop serves other requests while the worker reads."""
        lesson = check_lesson(lesson)
        spec = None if self._worker is None else spec_of(pair)
        if spec is not None:
            try:
                return await self._worker.acall("read", spec, drawing, lesson, k)
            except WorkerError as exc:
                log.warning("read worked out in the server instead (%s)", exc)
        return await asyncio.to_thread(pair.read, sketch(drawing), k, lesson)

    def inside(self, pair, drawing) -> tuple:
        """A drawing -> (the 28x28 the models see, {slot: [(picture as PNG, caption)]}): what each model of ``pair``
        makes of it inside (``serving.inside``). ``ImageInputError`` as ``read``."""
        found = self._ask("inside", pair, drawing)
        return found if found is not None else self._inside_here(pair, drawing)

    @staticmethod
    def _inside_here(pair, drawing) -> tuple:
        from emnist_core.data.preprocess import preprocess
        from emnist_core.serving import inside

        x28 = preprocess(sketch(drawing))
        pictures = {
            slot: [(png(image), caption) for image, caption in inside.inside(live.inside, x28)]
            for slot, live in pair.models.items()
        }
        return x28, pictures

    async def ainside(self, pair, drawing) -> tuple:
        """``inside`` for a coroutine."""
        spec = None if self._worker is None else spec_of(pair)
        if spec is not None:
            try:
                return await self._worker.acall("inside", spec, drawing)
            except WorkerError as exc:
                log.warning("inside worked out in the server instead (%s)", exc)
        return await asyncio.to_thread(self._inside_here, pair, drawing)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()

    def _ask(self, kind, pair, *args):
        """The worker's answer, or None when it cannot give one (the caller works it out)."""
        spec = None if self._worker is None else spec_of(pair)
        if spec is None:
            return None
        try:
            return self._worker.call(kind, spec, *args)
        except WorkerError as exc:
            log.warning("%s worked out in the server instead (%s)", kind, exc)
            return None
