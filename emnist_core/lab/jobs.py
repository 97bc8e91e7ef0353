"""One job at a time: training a model from the registry, or fine-tuning a live model on the class's corrections.

``Jobs`` runs each job in a process of its own (``job_process``: lower priority, bounded threads, TensorFlow only
there), follows it from a thread of the server, and keeps what a page shows of it in a ``Job``: its stage, batches,
curves, and how it ended. A cancel stops the job within ``CANCEL_GRACE_SECONDS`` (the process is ended if it has
not stopped by then, unless it is already saving: a model being saved is kept whole). A job whose process dies is
reported as failed, and the slot is free again.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import datetime
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

from emnist_core.lab import job_process
from emnist_core.lab.cards import format_seconds
from emnist_core.lab.guard import CANCEL, FINE_TUNE, TRAIN, Guard, Teacher
from emnist_core.lab.job_process import JobSpec
from emnist_core.lab.live import LiveModel, LiveModels
from emnist_core.lab.testsets import TestSets
from emnist_core.models import store
from emnist_core.models.evaluation import DRAWN, EMNIST
from emnist_core.models.registry import REGISTRY, SLOTS
from emnist_core.serving import export
from emnist_core.training.config import BATCH_STAGES, DONE, LOADING_CORRECTIONS, SAVING, TRAINING, TrainConfig

SETTLE_BATCHES = 5  # a job's time estimate starts after this many batches
POLL_SECONDS = 0.1
CANCEL_GRACE_SECONDS = 0.5  # a cancelled job that has not stopped by then is ended: a cancel takes under 1 s
STOP_WAIT_SECONDS = 5
FINE_TUNE_EPOCHS = 3  # finetune.EPOCHS, named here without importing Keras
JOB_SET_UP_SECONDS = 30  # a job's process starting, its data read, its model scored on both test sets
MODELS_KEPT = 5  # retrained models kept besides the live ones (their exports with them): the newest
log = logging.getLogger(__name__)


class Job:
    """One job as the pages see it. Its fields are written by the thread that follows the job, and each is replaced
    whole (never appended to), so a page always reads consistent values."""

    def __init__(self, kind: str, config: TrainConfig, live: LiveModel | None = None):
        self.kind, self.config, self.live = kind, config, live  # live: the model a fine-tune starts from
        self.done, self.cancel = threading.Event(), threading.Event()
        self.epoch, self.batch, self.batches = 0, 0, 1
        self.history: dict[str, list[float]] = {}
        self.started = time.time()
        self.settled = None  # (time, fraction) once SETTLE_BATCHES batches are done: the pace is measured from there
        self.stage = TRAINING if kind == job_process.TRAINING else LOADING_CORRECTIONS
        self.path: Path | None = None
        self.reports: dict[str, dict] = {}  # {"": on the EMNIST test set, DRAWN: on drawn characters}
        self.before = self.after = None  # a fine-tune's figures (``finetune.FineTuneResult``)
        self.error: str | None = None
        self.cancelled = False

    def take(self, message) -> bool:
        """Apply one message from the job's process; True when it was the last."""
        kind, *values = message
        if kind == "stage":
            self.stage = values[0]
        elif kind == "batch":
            self.epoch, self.batch, self.batches = values
            if self.settled is None and self.epoch * self.batches + self.batch >= SETTLE_BATCHES:
                self.settled = (time.time(), self.fraction)
        elif kind == "epoch":
            self.history = {k: [*self.history.get(k, []), v] for k, v in values[0].items()}
        elif kind == "done":
            outcome = values[0]
            self.reports, self.path = outcome["reports"], Path(outcome["path"])
            self.before, self.after = outcome.get("before"), outcome.get("after")
        elif kind == "cancelled":
            self.cancelled = True
        elif kind == "error":
            self.error = values[0]
        return kind in ("done", "cancelled", "error")

    @property
    def report(self) -> dict | None:
        """The report on the EMNIST test set, once saved."""
        return self.reports.get("")

    @property
    def fraction(self) -> float:
        return min(1.0, (self.epoch * self.batches + self.batch) / (self.config.epochs * self.batches))

    def describe(self) -> str:
        if self.stage not in BATCH_STAGES:
            return f"{self.stage}..."
        text = f"epoch {self.epoch + 1} of {self.config.epochs} · batch {self.batch} of {self.batches}"
        return f"{text} · {self.time_left()}"

    def time_left(self) -> str:
        """The time left at the pace since the first batches: the set-up before them (starting the process, reading
        data, building the model) would make an estimate from the start several times too long."""
        if self.settled is None or self.fraction <= self.settled[1]:
            return "estimating the time left..."
        since, done = self.settled
        left = (time.time() - since) * (1 - self.fraction) / (self.fraction - done)
        return f"about {format_seconds(left)} left"


class Jobs:
    """The server's one job slot. ``in_process=False`` runs a job in a thread of this process instead (tests that
    replace what a job calls, and a machine where starting a process is not allowed)."""

    def __init__(self, guard: Guard, models: LiveModels, tests: TestSets, corrections, in_process: bool = True):
        """``corrections``: () -> the class's corrections and Challenge drawings (``Classroom.corrections``), read
        when a fine-tune starts."""
        self._guard, self._models, self._tests, self._corrections = guard, models, tests, corrections
        self._run = run_in_process if in_process else run_in_thread
        self._own_process = in_process
        self._slot = threading.Lock()
        self.current: Job | None = None

    @property
    def busy(self) -> bool:
        """Whether a job holds the slot now."""
        return self._slot.locked()

    def start_training(self, config: TrainConfig, teacher: Teacher | None = None) -> Job | None:
        """Train ``config`` on this server's EMNIST data in the job's own process, at ``teacher``'s asking; None when
        a job is running. Refused by the guard; ValueError when the data is not here or the models folder is inside
        the shipped assets. The model is scored on the drawn characters too: they load meanwhile."""
        self._guard.check(TRAIN, teacher)
        data = self._tests.dataset(EMNIST)
        if data is None:
            raise ValueError(self._tests.message(EMNIST))
        path = self._model_path(config.model)
        if not self._loader(DRAWN):
            self._tests.dataset(DRAWN)  # starts loading them here now, while the model trains

        def spec():
            made = JobSpec(job_process.TRAINING, path, self._loader(EMNIST) or data, config=config)
            return made, lambda: self._loader(DRAWN) or self._tests.drawn_test()

        return self._start(Job(job_process.TRAINING, config), spec)

    def start_fine_tune(self, slot: str, teacher: Teacher | None = None) -> Job | None:
        """Fine-tune ``slot``'s live model on the class's corrections (``finetune``) in the job's own process, at
        ``teacher``'s asking; None when a job is running. Refused by the guard; ValueError when no model is live
        there."""
        self._guard.check(FINE_TUNE, teacher)
        live = self._models.get(slot)
        if live is None:
            raise ValueError(f"No {SLOTS.get(slot, slot)} is live to fine-tune.")
        data = self._tests.dataset(EMNIST)
        if data is None:
            raise ValueError(self._tests.message(EMNIST))
        path = self._model_path(f"{live.name}-fixed")
        config = TrainConfig(model=live.name, epochs=FINE_TUNE_EPOCHS)

        def spec():  # in the job's thread: the corrections (and the drawn characters) load there, not in a request
            corrections = self._corrections()
            drawn = self._loader(DRAWN) or self._tests.dataset(DRAWN, wait=None)  # mixed in; scored before and after
            sent = self._loader(EMNIST) or data
            return JobSpec(
                job_process.FINE_TUNE, path, sent, source=live.path, corrections=corrections, drawn=drawn
            ), None

        return self._start(Job(job_process.FINE_TUNE, config, live), spec)

    def estimate(self, config: TrainConfig) -> float | None:
        """Seconds a training job of ``config`` would take on this server: its images and epochs at the rate its
        architecture trains in a job (``ModelSpec.cpu_images_per_second``, measured by bench/bench_job_speed.py),
        and the job's set-up and scoring; None where no rate is known or the data is not here."""
        rate = REGISTRY[config.model].cpu_images_per_second if config.model in REGISTRY else None
        data = self._tests.dataset(EMNIST)
        if not rate or data is None:
            return None
        images = config.subset or len(data.y_train)
        return JOB_SET_UP_SECONDS + config.epochs * images / rate

    def cancel(self, teacher: Teacher | None = None) -> str | None:
        """Ask the running job to stop, at ``teacher``'s asking. -> None when no job is running, else the stage it
        was asked in: ``SAVING`` means too late, the model is being saved whole and is kept; any earlier stage stops
        before anything is saved. Refused by the guard."""
        self._guard.check(CANCEL, teacher)
        job = self.current
        if job is None or job.done.is_set():
            return None
        stage = job.stage
        if stage != SAVING:
            job.cancel.set()
        return stage

    def _prune(self) -> None:
        """Keep the newest ``MODELS_KEPT`` retrained models and the live ones; remove the others and their exports,
        so a day of retraining in class does not fill the disk."""
        live = [m.path for m in self._models.pair.models.values()]
        for path in store.prune(self._models.models_folder(), MODELS_KEPT, protect=live):
            if path.name.endswith(store.MODEL_SUFFIX):
                export.remove_exports(store.model_name(path))

    def _loader(self, name: str):
        """For a job in a process of its own, the set's loader, where that is the server's own, for the job to call
        there (``TestSets.own_loader``): the server then keeps no set only a job needs (the drawn characters, 74 MB)
        and pipes it no images (EMNIST's, 171 MB). None otherwise: the job is sent the set loaded here."""
        return self._tests.own_loader(name) if self._own_process else None

    def _model_path(self, stem: str) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return self._models.models_folder() / f"{stem}-{stamp}.keras"

    def _start(self, job: Job, spec) -> Job | None:
        """Follow ``job`` in a thread, holding the slot, which the thread gives back when the job ends; None when
        another job holds it."""
        if not self._slot.acquire(blocking=False):
            return None
        try:
            self.current = job  # before the thread runs: a cancel that comes at once must find the job
            threading.Thread(target=self._follow, args=(job, spec), name=f"job-{job.kind}", daemon=True).start()
        except BaseException:
            self._slot.release()
            raise
        return job

    def _follow(self, job: Job, spec) -> None:
        try:
            made, drawn = spec()
            self._run(job, made, drawn)
            self._prune()
        except Exception as exc:  # shown to the teacher; the server keeps serving
            log.exception("job failed")
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.stage = DONE
            self._slot.release()  # before done is said: whoever waits on it may start the next job at once
            job.done.set()


# ---------------------------------------------------------------- where a job runs


def run_in_process(job: Job, spec: JobSpec, drawn=None) -> None:
    """Run ``spec`` in a child process (``python -m emnist_core.lab.job_process``) and follow it into ``job``."""
    env = {**os.environ, **job_process.thread_environment()}
    package_root = str(Path(__file__).resolve().parents[2])  # the folder emnist_core is in
    env["PYTHONPATH"] = package_root + (f":{env['PYTHONPATH']}" if env.get("PYTHONPATH") else "")
    child = subprocess.Popen(
        [sys.executable, "-m", "emnist_core.lab.job_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        close_fds=True,
    )
    # Our own copies of the pipes' ends, wrapped as connections (framed pickles), and Popen's closed.
    writer = Connection(os.dup(child.stdin.fileno()), readable=False)
    reader = Connection(os.dup(child.stdout.fileno()), writable=False)
    child.stdin.close()
    child.stdout.close()
    try:
        converse(
            job,
            reader,
            writer,
            drawn,
            alive=lambda: child.poll() is None,
            stop=child.kill,
            exit_code=lambda: child.returncode,
            opening=spec,  # sent while the child still imports: a cancel meanwhile must not wait for it
        )
    except (EOFError, OSError) as exc:
        if job.error is None and not job.cancelled:
            job.error = f"the job's process stopped ({exc or type(exc).__name__}; exit code {child.poll()})"
    finally:
        if job.cancelled or job.error:
            child.kill()  # it has nothing left to save: the slot is free now, not after the process's own teardown
        for connection in (reader, writer):
            connection.close()
        try:
            child.wait(STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_in_thread(job: Job, spec: JobSpec, drawn=None) -> None:
    """Run ``spec`` in a thread of this process (``job_process.main``) and follow it into ``job``."""
    here, there = Pipe()
    worker = threading.Thread(target=job_process.main, args=(there, spec), name="job-run", daemon=True)
    worker.start()
    try:
        converse(job, here, here, drawn, alive=worker.is_alive)
    finally:
        here.close()
        worker.join(STOP_WAIT_SECONDS)
        there.close()


def converse(
    job: Job, reader, writer, drawn=None, alive=lambda: True, stop=None, exit_code=lambda: None, opening=None
) -> None:
    """Follow a running job: its messages into ``job``; ``opening`` (the job's spec) sent to it first, then
    ``drawn()`` (the drawn test set, which may take a while to load) once there; a cancel passed on, and the job
    ended by ``stop`` if it has not stopped within ``CANCEL_GRACE_SECONDS``; a job that stops without its last
    message reported as failed. What is sent goes through one thread, in order: a child that is not reading yet
    (still importing) never holds up this loop."""
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def send_all():
        for message in iter(outbox.get, None):
            try:
                writer.send(message)
            except (OSError, ValueError, TypeError):  # the job ended first (TypeError: its pipe closed meanwhile)
                return

    sender = threading.Thread(target=send_all, name="job-send", daemon=True)
    sender.start()
    if opening is not None:
        outbox.put(opening)
    if drawn is not None:
        threading.Thread(target=lambda: outbox.put(("drawn", drawn())), name="job-drawn", daemon=True).start()
    try:
        _follow_messages(job, reader, outbox, alive, stop, exit_code)
    finally:
        outbox.put(None)
        sender.join(POLL_SECONDS)  # done, or stuck on a pipe nobody reads: the caller's close ends it


def _follow_messages(job: Job, reader, outbox, alive, stop, exit_code) -> None:
    cancelled_at = None
    while True:
        if job.cancel.is_set() and cancelled_at is None:
            cancelled_at = time.monotonic()
            outbox.put(("cancel",))
        if reader.poll(POLL_SECONDS):
            if job.take(reader.recv()):
                return
        elif not alive():
            while reader.poll(0):  # what it said before it stopped
                if job.take(reader.recv()):
                    return
            job.error = f"the job's process stopped before it finished (exit code {exit_code()})"
            return
        late = cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS
        if late and stop is not None and job.stage != SAVING:
            stop()  # nothing is saved before SAVING, so nothing is left half-written
            job.cancelled = True
            return
