"""A training or fine-tuning job, run in a process of its own (``python -m emnist_core.lab.job_process``).

The server never imports TensorFlow and never shares its two cores evenly with a job: each job starts this
module as a child process at a lower priority (``JOB_NICENESS``) with a bounded number of threads
(``JOB_THREADS``), so the class's drawings come first. Server and job talk over the child's stdin and stdout
as ``multiprocessing.connection`` messages:

- the server sends the ``JobSpec`` first, then ``("drawn", test set or None)`` once the drawn characters have
  loaded (a model is scored on them), and ``("cancel",)`` when a teacher cancels. Where the server's data comes
  from its own loaders, the spec and the drawn message carry the loaders instead, and the job reads the data
  here (``testsets.OWN_LOADERS``);
- the job sends ``("stage", name)``, ``("batch", epoch, batch, batches)``, ``("epoch", history)`` as it goes,
  and ends with ``("done", outcome)``, ``("cancelled",)`` or ``("error", message)``.

A server that goes away closes the pipe: the job takes that as a cancel. A finished model gets a temperature fitted
for its own weights (``own_temperature``: its card's, which the server serves it with), is saved (whole or not at
all) and exported for serving (``serving.export``) here, so the server only reads the export. ``main`` is the same
job for a caller that runs it in a thread (the tests, over ``multiprocessing.Pipe``).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

JOB_NICENESS = 10  # below the server's requests: a class drawing while a model trains is served first
JOB_THREADS = 1  # of the two cores of a free Space, one stays the class's
# Each backend's and math library's own thread counts, set before any of them is imported.
THREAD_VARIABLES = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)
BATCH_MESSAGE_SECONDS = 0.1  # how often a job tells its batches (the page shows them each second)
TRAINING, FINE_TUNE = "training", "fine-tune"


@dataclass
class JobSpec:
    """What a job is asked to do: everything it needs, or the loaders that read it, so the child shares nothing with
    the server."""

    kind: str  # TRAINING or FINE_TUNE
    path: Path  # where the model is saved (with its card and reports)
    dataset: object  # datasets.Dataset, or its loader: the EMNIST data it trains on and is scored on
    config: object = None  # training: the resolved TrainConfig
    source: Path | None = None  # fine-tuning: the live model's file
    corrections: object = None  # fine-tuning: corrections.Corrections
    drawn: object = None  # fine-tuning: the drawn characters (datasets.Dataset, or its loader), mixed in and scored on


def thread_environment(threads: int = JOB_THREADS) -> dict[str, str]:
    """The environment variables that bound a process's threads to ``threads``, for a child process."""
    return {name: str(threads) for name in THREAD_VARIABLES}


class Reporter:
    """The job's listener (``training.train``'s protocol): each event becomes a message to the server."""

    def __init__(self, send):
        self._send, self._last = send, 0.0

    def on_stage(self, stage):
        self._send(("stage", stage))

    def on_batch(self, epoch0, batch1, batches, logs=None):
        now = time.monotonic()
        if now - self._last >= BATCH_MESSAGE_SECONDS or batch1 == batches:
            self._last = now
            self._send(("batch", epoch0, batch1, batches))

    def on_epoch(self, epoch1, epochs, logs):
        self._send(("epoch", {k: float(v) for k, v in logs.items()}))


def main(conn, spec: JobSpec | None = None) -> None:
    """Run the job ``spec`` (or the first message on ``conn``), telling the server over ``conn`` as it goes."""
    from emnist_core.training.config import TrainingCancelled

    send_lock = threading.Lock()

    def send(message):
        with send_lock:
            conn.send(message)

    spec = spec if spec is not None else conn.recv()
    cancel, drawn = threading.Event(), queue.Queue(maxsize=1)
    threading.Thread(target=_listen, args=(conn, cancel, drawn), name="job-listen", daemon=True).start()
    try:
        outcome = (_train if spec.kind == TRAINING else _fine_tune)(spec, Reporter(send), cancel, drawn)
        send(("done", outcome))
    except TrainingCancelled:
        send(("cancelled",))
    except Exception as exc:  # said to the teacher; the server keeps serving
        send(
            (
                "error",
                str(exc) if isinstance(exc, ValueError) and spec.kind == FINE_TUNE else f"{type(exc).__name__}: {exc}",
            )
        )


def _listen(conn, cancel: threading.Event, drawn: queue.Queue) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the server went away: nobody is left to use the model
            cancel.set()
            return
        if message[0] == "cancel":
            cancel.set()
        elif message[0] == "drawn":
            drawn.put(message[1])


def _waited(drawn: queue.Queue, cancel: threading.Event):
    """The drawn test set the server sends once it has loaded, or None if the job is cancelled meanwhile."""
    while not cancel.is_set():
        try:
            return drawn.get(timeout=0.2)
        except queue.Empty:
            continue
    return None


def _loaded(sent, missing_is_none: bool = False):
    """A data set the server sent, or read here with the loader it sent (a ``Dataset`` is not callable); a drawn set
    that cannot be had here is None, as it was on the server."""
    if not callable(sent):
        return sent
    try:
        return sent()
    except (FileNotFoundError, ValueError) as exc:
        if not missing_is_none:
            raise
        print(f"the drawn characters are not here: {exc}", file=sys.stderr)
        return None


def _drawn_test(sent):
    """The drawn test set a model is scored on: as the server sent it, or read here with the loader it sent."""
    if not callable(sent):
        return sent
    from emnist_core.lab.testsets import drawn_test_part

    drawn = _loaded(sent, missing_is_none=True)
    try:
        return None if drawn is None else drawn_test_part(drawn)
    except (FileNotFoundError, ValueError) as exc:  # the model is still saved, with its EMNIST report
        print(f"drawn test set not scored: {exc}", file=sys.stderr)
        return None


def _in_background(load):
    """Start ``load`` in a thread now; -> () -> its result (or its exception), once it has one. A daemon thread, not
    concurrent.futures': those are joined when the process exits, and this one may still be waiting for a drawn
    set that a job ended by an error never gets."""
    result = {}

    def run():
        try:
            result["value"] = load()
        except BaseException as exc:  # raised where the result is asked for
            result["error"] = exc

    thread = threading.Thread(target=run, name="job-drawn", daemon=True)
    thread.start()

    def get():
        thread.join()
        if "error" in result:
            raise result["error"]
        return result.get("value")

    return get


def _train(spec: JobSpec, reporter: Reporter, cancel, drawn) -> dict:
    from emnist_core.lab import own_temperature
    from emnist_core.training import train as training

    # The drawn characters the model is scored on load while it trains (drawing UNIPEN the first time: a minute).
    drawn_test = _in_background(lambda: _drawn_test(_waited(drawn, cancel)))
    dataset = _loaded(spec.dataset)
    name = dataset.name if dataset is not None else spec.config.dataset
    result = training.train_and_save(
        spec.config,
        spec.path,
        dataset,
        listener=reporter,
        cancel=cancel,
        drawn=drawn_test,
        temperature=own_temperature.for_training(name),  # served with a T of its own weights, not T = 1
    )
    _export(result.path)
    return {"path": str(result.path), "reports": result.reports}


def _fine_tune(spec: JobSpec, reporter: Reporter, cancel, drawn) -> dict:
    from emnist_core.lab import finetune
    from emnist_core.models import store
    from emnist_core.training.config import SAVING, TrainingCancelled

    drawn = _loaded(spec.drawn, missing_is_none=True)
    result = finetune.fine_tune(
        spec.source, spec.corrections, _loaded(spec.dataset), drawn, listener=reporter, cancel=cancel
    )
    reporter.on_stage(SAVING)
    if cancel.is_set():
        raise TrainingCancelled("fine-tuning was cancelled; no model was saved")
    store.save_model(result.model, spec.path, result.card(spec.path.stem), result.reports)
    _export(spec.path)
    return {"path": str(spec.path), "reports": result.reports, "before": result.before, "after": result.after}


def _export(path) -> None:
    """Export the saved model for serving, here where Keras is loaded already: the server then only reads it."""
    from emnist_core.serving import export

    export.load_served(path)


def process_main() -> None:
    """The child process: stdin and stdout carry the messages (stdout's own writes go to stderr, so a library's
    print cannot break them), at a lower priority, then ``main``."""
    from multiprocessing.connection import Connection

    reading, writing = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.nice(JOB_NICENESS)
    _bound_threads()
    main(_Duplex(Connection(reading, writable=False), Connection(writing, readable=False)))


def _bound_threads() -> None:
    """TensorFlow's own pools, sized before its first op (the environment's variables size the math libraries')."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(JOB_THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(JOB_THREADS)


class _Duplex:
    """Two one-way connections (a child's stdin and stdout) as one: ``send`` on one, ``recv`` and ``poll`` on the
    other."""

    def __init__(self, reader, writer):
        self._reader, self._writer = reader, writer

    def send(self, message):
        self._writer.send(message)

    def recv(self):
        return self._reader.recv()

    def poll(self, timeout=0.0):
        return self._reader.poll(timeout)

    def close(self):
        self._reader.close()
        self._writer.close()


if __name__ == "__main__":
    process_main()
