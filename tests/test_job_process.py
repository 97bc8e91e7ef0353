"""Training jobs in a real child process (``jobs.run_in_process``), as ``python app.py`` runs them.

The ``lab`` fixture runs jobs in a thread; these tests start ``python -m emnist_core.lab.job_process`` for real, on a
tiny seed MLP and a few hundred synthetic images, and check what a page relies on: a cancel ends the job at once
and saves nothing, a job whose process dies is reported and frees the slot, the server never imports TensorFlow, and
a day of retraining keeps only the newest models (and their exports).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest

from emnist_core.data.dataset import Dataset
from emnist_core.data.labels import label_map
from emnist_core.lab import jobs as jobs_module
from emnist_core.lab.guard import Guard, Switches
from emnist_core.lab.jobs import MODELS_KEPT, Jobs
from emnist_core.models import store
from emnist_core.models.evaluation import EMNIST
from emnist_core.serving import export
from emnist_core.training.config import BATCH_STAGES, TrainConfig

from conftest import ROOT, synthetic

TRAIN_IMAGES = 400
# Batches of two: a few hundred steps, so a job is still training a moment after its first batch is told.
LONG_JOB = TrainConfig(model="seed-mlp", epochs=2, batch_size=2)
QUICK_JOB = TrainConfig(model="seed-mlp", epochs=1, batch_size=32)
# A cancelled job ends within a second on a quiet machine (``CANCEL_GRACE_SECONDS``; bench/bench_jobs.py measures
# it): here, beside the suite's other workers, only that it ends, long before the job would have.
CANCEL_SECONDS = 20
SET_UP_TIMEOUT = 180  # the child imports TensorFlow: seconds on two shared cores
JOB_TIMEOUT = 300


def tiny_data() -> Dataset:
    x, y = synthetic(TRAIN_IMAGES, 0)
    return Dataset("synthetic", label_map("bymerge"), x, y, x[:50], y[:50], x[:100], y[:100], "two shapes", [])


class Models:
    """What ``Jobs`` asks of ``live.LiveModels``: where retrained models go, and the live pair's files."""

    def __init__(self, folder, live=()):
        self.folder = folder
        self.pair = SimpleNamespace(models={f"slot{i}": SimpleNamespace(path=p) for i, p in enumerate(live)})

    def models_folder(self):
        return self.folder


class Sets:
    """What ``Jobs`` asks of ``testsets.TestSets`` for a training job: the EMNIST data, and no drawn characters."""

    def __init__(self, data):
        self.data = data

    def dataset(self, name, wait=0):
        return self.data if name == EMNIST else None

    def message(self, name):
        return ""

    def drawn_test(self, wait=None):
        return None

    def own_loader(self, name):  # a test's own data: sent to the job as loaded here
        return None


def job_slot(folder, live=()) -> Jobs:
    """The server's job slot, running each job in a process of its own, its models going to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Jobs(Guard(Switches()), Models(folder, live), Sets(tiny_data()), lambda: None, in_process=True)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def training(job) -> bool:
    """Whether ``job`` has told its first batch (its process is past set-up, inside ``model.fit``)."""
    return job.stage in BATCH_STAGES and job.batch > 0


@pytest.fixture
def children(monkeypatch):
    """The job processes started from here on (``jobs.py`` keeps its child to itself)."""
    started, popen = [], subprocess.Popen

    def recording(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(jobs_module, "subprocess", SimpleNamespace(**{**vars(subprocess), "Popen": recording}))
    yield started
    for child in started:  # a failed test leaves no job running
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_cancel_ends_a_training_job_within_the_grace_and_saves_nothing(tmp_path, children):
    jobs = job_slot(tmp_path / "models")
    job = jobs.start_training(LONG_JOB)
    wait_until(lambda: training(job) or job.done.is_set(), SET_UP_TIMEOUT, "the first batch")
    assert not job.done.is_set(), job.error  # still training: the cancel comes mid-fit
    assert jobs.cancel() in BATCH_STAGES
    assert job.done.wait(CANCEL_SECONDS), f"still {job.describe()}, {CANCEL_SECONDS} s after the cancel"
    assert job.cancelled and job.error is None and job.path is None, (job.error, job.path)
    assert not jobs.busy and not store.list_models(tmp_path / "models"), "a cancelled job saved a model"
    children[0].wait(5)  # its process is gone too


def test_a_job_deaf_to_its_cancel_is_ended_after_the_grace(tmp_path, children):
    """A job's process still setting up (importing TensorFlow, seconds) hears no cancel: the server ends it."""
    jobs = job_slot(tmp_path / "models")
    job = jobs.start_training(LONG_JOB)
    wait_until(lambda: children, 10, "the job's process")
    assert jobs.cancel() is not None
    assert job.done.wait(CANCEL_SECONDS), f"still {job.describe()}, {CANCEL_SECONDS} s after the cancel"
    assert job.cancelled and job.error is None and job.path is None, job.error
    assert children[0].wait(5) == -signal.SIGKILL, "the job ended by itself, not by the server"
    assert not jobs.busy and not store.list_models(tmp_path / "models")


def test_a_job_whose_process_dies_is_failed_and_frees_the_slot(tmp_path, children):
    jobs = job_slot(tmp_path / "models")
    job = jobs.start_training(LONG_JOB)
    wait_until(lambda: training(job) or job.done.is_set(), SET_UP_TIMEOUT, "the first batch")
    os.kill(children[0].pid, signal.SIGKILL)  # the machine ran out of memory, say
    assert job.done.wait(10), "a dead job is still followed"
    assert not job.cancelled and job.error and "stopped" in job.error, job.error
    assert not jobs.busy and not store.list_models(tmp_path / "models")
    again = jobs.start_training(LONG_JOB)  # the slot is free: the next job starts (and is ended at once)
    assert again is not None and again is not job and jobs.busy
    wait_until(lambda: len(children) == 2, 10, "the next job's process")
    children[1].kill()
    assert again.done.wait(10) and again.error and not jobs.busy


def test_a_finished_job_is_saved_and_older_retrained_models_are_pruned_with_their_exports(
    tmp_path, children, monkeypatch
):
    """The newest ``MODELS_KEPT`` retrained models (the new one among them) and the live ones are kept, whatever
    their age; the others go, and their exports in the cache with them."""
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))  # the job's process exports here too
    folder, served = tmp_path / "models", export.cache_dir() / "served"
    folder.mkdir()
    served.mkdir(parents=True)
    old = [folder / f"seed-mlp-2026010{i}-000000.keras" for i in range(MODELS_KEPT + 2)]
    for age, path in enumerate(reversed(old)):  # old[0] the oldest, by its files' times
        path.write_bytes(b"weights")
        (served / f"{path.stem}-0123456789abcdef0123.tflite").write_bytes(b"export")
        os.utime(path, (time.time() - 3600 * (age + 1),) * 2)
    live = old[0]  # the oldest is live: kept all the same
    jobs = job_slot(folder, live=[live])
    job = jobs.start_training(QUICK_JOB)
    assert job.done.wait(JOB_TIMEOUT) and job.error is None and not job.cancelled, job.error
    assert job.path.is_file() and job.report is not None and export.exported_path(job.path).is_file()
    kept = [job.path, *old[-(MODELS_KEPT - 1) :]]  # the new one and the newest old ones
    assert set(store.list_models(folder)) == {*kept, live}
    for path in old:
        exported = list(served.glob(f"{path.stem}-*"))
        assert bool(exported) == (path in kept or path == live), (path.name, exported)


def test_the_server_never_imports_tensorflow_while_a_job_trains(tmp_path):
    """A Lab of its own processes, on a server's own loaders (the EMNIST files, else the demo pack; the pack's drawn
    characters), trains a model and fine-tunes it to the end and puts it live; TensorFlow and Keras were loaded only
    in the jobs' processes. Each job read the data itself: the server never loaded the drawn characters the jobs were
    scored on (and mixed in). (``test_lab`` checks the same for reading drawings with the shipped models.)"""
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        from emnist_core.lab.state import Lab
        from emnist_core.lab.testsets import load_drawn_pack
        from emnist_core.models.evaluation import DRAWN, EMNIST
        from emnist_core.training.config import TrainConfig

        lab = Lab(drawn_loader=load_drawn_pack)  # a server's own loader: the pack's, not a minute's drawing
        data = lab.tests.dataset(EMNIST, wait=60)
        job = lab.jobs.start_training(TrainConfig(model="seed-mlp", epochs=1, batch_size=32, subset={TRAIN_IMAGES}))
        assert job.done.wait({JOB_TIMEOUT}) and job.error is None, job.error
        assert DRAWN in job.reports, job.reports.keys()  # scored on the drawn characters too
        lab.models.put_live(job.path)
        image = np.full((400, 400), 255, np.uint8)
        image[100:300, 190:210] = 0
        lab.models.pair.read(image, 3)
        ex = np.flatnonzero(data.labels_as_classes(data.y_test) == list(data.label_map.names).index("X"))[:10]
        for x28 in data.x_test[ex]:
            lab.classroom.correct(x28, "X", {{}})
        job = lab.jobs.start_fine_tune("mlp")  # the model just put live
        assert job.done.wait({JOB_TIMEOUT}) and job.error is None, job.error
        assert DRAWN in job.reports, job.reports.keys()
        print("drawn characters loaded by the server:", lab.tests.loaded(DRAWN))
        print("loaded:", sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
        """
    )
    env = {**os.environ, "EMNIST_MODELS_DIR": str(tmp_path / "models")}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=JOB_TIMEOUT + 60, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-2:] == ["drawn characters loaded by the server: False", "loaded: []"], (
        proc.stdout
    )
