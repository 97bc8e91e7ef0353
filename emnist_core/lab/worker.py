"""Work on drawings in a process of the server's own, so the process that serves every page keeps Python's lock for
serving them.

A Python process runs one thread at a time: the few milliseconds of Python that reading a drawing takes (drawing the
strokes, preprocessing, the models) are milliseconds in which the thread that serves every page of the class waits.
Measured with 30 pupils, that wait, not the work, is most of an answer's delay. A ``Worker`` sends each piece of work
to a child process (``python -m emnist_core.lab.worker PRIORITY``) over its stdin and stdout, one request at a time
from any thread, and waits for the answer without holding the lock. The child reads the exported models it is named
(their files); it runs at the server's priority (answers) or only on time the server leaves idle (explanations:
``IDLE``). A child that stops is started again by the next request; a request it cannot answer raises
``WorkerError``, and the caller does the work itself.

The work a child does (``KINDS``): ``read`` (a drawing -> the 28x28 the models see and their top classes), ``inside``
(the Inside tab's pictures, as PNG) and ``explain`` (why each model reads a 28x28 so).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from multiprocessing.connection import Connection
from pathlib import Path

NORMAL, IDLE = "normal", "idle"
NICENESS = 19  # where the scheduler has no idle class: as far below the server as a process can be
THREADS = 1  # LiteRT threads a call in a child: the other core stays the server's
TIMEOUT_SECONDS = 30
KEPT = 4  # live pairs a child keeps loaded (a put-live makes a new pair)
SMALL_PICTURE = 64 * 1024  # bytes: pictures up to this size are kept as PNG once drawn (``_Served.png``)
PICTURES_KEPT = 4096
log = logging.getLogger(__name__)


class WorkerError(RuntimeError):
    """A child could not do the work (it stopped, timed out or failed): the caller does it itself."""


def spec_of(pair) -> tuple | None:
    """What a child needs to serve ``pair`` (``live.Pair``): ((slot, model file, exported file, temperature), ...);
    None when a model of it is not served from a LiteRT export (a child reads exports only)."""
    from emnist_core.serving.export import LiteModel

    found = []
    for slot, live in pair.models.items():
        if not isinstance(live.model, LiteModel):
            return None
        found.append((slot, str(live.path), str(live.model.path), pair.predictor.temperatures[slot]))
    return tuple(found)


class Worker:
    """One child process at ``priority`` (``NORMAL`` or ``IDLE``) and the requests waiting for it."""

    def __init__(self, priority: str = NORMAL):
        self.priority = priority
        self._lock = threading.Lock()  # starting the child, and writing to it, one thread at a time
        self._child = None
        self._writer = None
        self._waiting: dict[int, object] = {}  # request -> deliver(answer)
        self._ids = itertools.count()

    def call(self, kind: str, *args):
        """The child's answer to ``kind(*args)``, waited for in this thread; WorkerError when there is none."""
        done, box = threading.Event(), []
        request = self._send(kind, args, lambda answer: (box.append(answer), done.set()))
        if not done.wait(TIMEOUT_SECONDS):
            self._waiting.pop(request, None)
            raise WorkerError(f"no answer within {TIMEOUT_SECONDS} s")
        return _outcome(box[0])

    async def acall(self, kind: str, *args):
        """``call`` for a coroutine: the event loop serves other requests while the child works."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        request = self._send(kind, args, lambda answer: loop.call_soon_threadsafe(_settle, future, answer))
        try:
            answer = await asyncio.wait_for(future, TIMEOUT_SECONDS)
        except TimeoutError:
            self._waiting.pop(request, None)
            raise WorkerError(f"no answer within {TIMEOUT_SECONDS} s") from None
        return _outcome(answer)

    def _send(self, kind: str, args, deliver) -> int:
        """Send a request, starting the child if need be; ``deliver(answer)`` is called from the reading thread."""
        request = next(self._ids)
        self._waiting[request] = deliver
        try:
            with self._lock:
                if self._child is None or self._child.poll() is not None:
                    self._start()
                self._writer.send((request, kind, args))
        except (OSError, ValueError) as exc:  # could not start it, or it stopped as we wrote
            self._waiting.pop(request, None)
            raise WorkerError(f"{type(exc).__name__}: {exc}") from None
        return request

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _start(self) -> None:
        self._stop()
        root = str(Path(__file__).resolve().parents[2])  # where emnist_core is, wherever the server was started
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        child = subprocess.Popen(
            [sys.executable, "-m", "emnist_core.lab.worker", self.priority],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self._writer = Connection(os.dup(child.stdin.fileno()), readable=False)
        reader = Connection(os.dup(child.stdout.fileno()), writable=False)
        child.stdin.close()
        child.stdout.close()
        self._child = child
        threading.Thread(target=self._read, args=(reader,), name=f"worker-{self.priority}", daemon=True).start()

    def _read(self, reader) -> None:
        """Hand each answer to the request waiting for it; when the child stops, wake every request still waiting."""
        try:
            while True:
                request, answer = reader.recv()
                deliver = self._waiting.pop(request, None)
                if deliver is not None:
                    deliver(answer)
        except (EOFError, OSError):
            for request in list(self._waiting):
                deliver = self._waiting.pop(request, None)
                if deliver is not None:
                    deliver(WorkerError("the worker process stopped"))
        finally:
            reader.close()

    def _stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            self._child = None


def _settle(future, answer) -> None:
    if not future.done():
        future.set_result(answer)


def _outcome(answer):
    """A child's answer as a result, or raised: its own WorkerError, or the work's error (a drawing refused ...)."""
    if isinstance(answer, BaseException):
        raise answer
    return answer


# ---------------------------------------------------------------- in the child


class _Served:
    """What a child keeps loaded: each pair's Predictor, and each model's probe (for the Inside tab)."""

    def __init__(self):
        self.models, self.predictors, self.probes = {}, {}, {}
        self.pictures = OrderedDict()  # small pictures as PNG, by content: an MLP unit's template recurs

    def png(self, image) -> bytes:
        """``png(image)``, kept for small pictures (a unit's template is drawn on every stroke that wakes it)."""
        if image.nbytes > SMALL_PICTURE:
            return png(image)
        key = hashlib.blake2b(image.tobytes(), digest_size=16).digest() + bytes(str(image.shape), "ascii")
        if key not in self.pictures:
            self.pictures[key] = png(image)
            if len(self.pictures) > PICTURES_KEPT:
                self.pictures.popitem(last=False)
        self.pictures.move_to_end(key)
        return self.pictures[key]

    def predictor(self, spec):
        from emnist_core.serving.export import LiteModel
        from emnist_core.serving.predictor import Predictor

        if spec not in self.predictors:
            for _, _, exported, _ in spec:
                if exported not in self.models:
                    self.models[exported] = LiteModel(exported, threads=THREADS)
            self.predictors[spec] = Predictor(
                {s: self.models[e] for s, _, e, _ in spec}, temperatures={s: t for s, _, _, t in spec}
            )
            while len(self.predictors) > KEPT:
                self.predictors.pop(next(iter(self.predictors)))
        return self.predictors[spec]

    def probe(self, path):
        from emnist_core.serving.export import load_probe
        from emnist_core.serving.inside import probe

        if path not in self.probes:
            self.probes[path] = load_probe(path) or probe(path)
        return self.probes[path]


def sketch(drawing):
    """A drawing as pen strokes (``strokes.checked``' layout) or as an image -> the image to preprocess."""
    from emnist_core.data import strokes
    from emnist_core.data.sketchpad import draw_strokes

    return draw_strokes(strokes.points(drawing)) if isinstance(drawing, strokes.Strokes) else drawing


def _read(served: _Served, spec, drawing, lesson, k):
    """A drawing -> (the 28x28 the models see, {slot: top-k within ``lesson``})."""
    return served.predictor(spec).predict_drawing(sketch(drawing), k, lesson)


def _inside(served: _Served, spec, drawing):
    """A drawing -> (its 28x28, {slot: [(picture as PNG, caption)]}): what each model's layers make of it
    (``serving.inside``)."""
    from emnist_core.data.preprocess import preprocess
    from emnist_core.serving import inside

    x28 = preprocess(sketch(drawing))
    pictures = {
        slot: [(served.png(image), caption) for image, caption in inside.inside(served.probe(path), x28)]
        for slot, path, _, _ in spec
    }
    return x28, pictures


def _explain(served: _Served, spec, x28, lesson):
    """{slot: ``explain.Explanation``} for ``x28`` within ``lesson``."""
    from emnist_core.serving import explain

    predictor = served.predictor(spec)
    return explain.explain(lambda batch: predictor.probabilities(batch, lesson), x28, predictor.labels.names)


KINDS = {"read": _read, "inside": _inside, "explain": _explain}


def png(pixels) -> bytes:
    """A picture as PNG, quickly (a few kB more than the smallest, several times faster)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def serve(reader, writer) -> None:
    """Answer each request (request, kind, args) with (request, answer) or (request, the exception it raised)."""
    served = _Served()
    while True:
        try:
            request, kind, args = reader.recv()
        except (EOFError, OSError):  # the server went away
            return
        try:
            answer = KINDS[kind](served, *args)
        except Exception as exc:  # the caller says it, or does the work itself
            answer = exc if _picklable(exc) else WorkerError(f"{type(exc).__name__}: {exc}")
        writer.send((request, answer))


def _picklable(exc) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


def lower_priority(priority: str) -> None:
    """``IDLE``: run only on time the server leaves idle (Linux's SCHED_IDLE), else at ``NICENESS``."""
    if priority != IDLE:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(NICENESS)


def main() -> None:
    """The child: stdin and stdout carry requests and answers (stdout's own writes go to stderr)."""
    reading, writing = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lower_priority(sys.argv[1] if len(sys.argv) > 1 else NORMAL)
    serve(Connection(reading, writable=False), Connection(writing, readable=False))


if __name__ == "__main__":
    main()
