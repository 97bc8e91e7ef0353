"""The lab a server runs (``emnist_core.lab.state``), as plain Python: no Gradio, no server.

And ``app.py``'s side of the split: importing it starts nothing, ``python app.py`` is what creates the lab.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from emnist_core.lab import state as lab_module
from emnist_core.lab.state import Lab, LiveModel, TrainingJob
from emnist_core.models import store
from emnist_core.models.evaluation import DRAWN, EMNIST
from emnist_core.serving import predictor
from emnist_core.training import train as training

from conftest import NUM_CLASSES, ROOT, untrained_model

SHIPPED = ("seed-mlp", "seed-cnn")


def test_importing_app_starts_nothing():
    script = (
        "import gc, threading, keras, app; from emnist_core.lab.state import Lab; "
        "print(threading.active_count(), [o for o in gc.get_objects() if isinstance(o, (Lab, keras.Model))], "
        "hasattr(app, 'lab'), hasattr(app, 'demo'))"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["1", "[]", "False", "False"]  # one thread, no Lab, no model, no page


def test_the_lab_imports_no_gradio():
    script = "import sys, emnist_core.lab.state; print(sorted(m for m in sys.modules if m.split('.')[0] == 'gradio'))"
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """The seed models with their cards and reports, copied, and made the shipped pair."""
    monkeypatch.setattr(store, "ALIASES", {"mlp": "seed-mlp", "cnn": "seed-cnn"})
    folder = tmp_path / "assets"
    folder.mkdir()
    for name in SHIPPED:
        for suffix in (".keras", ".card.json", ".report.json"):
            shutil.copy(store.ASSETS_DIR / f"{name}{suffix}", folder)
    return folder


@pytest.fixture
def predictors_built(monkeypatch):
    """The model slots of each Predictor built from here on, one set per Predictor."""
    built, real = [], predictor.Predictor

    def counting(models, *args, **kwargs):
        built.append(set(models))
        return real(models, *args, **kwargs)

    monkeypatch.setattr(predictor, "Predictor", counting)
    return built


def retrained_copy(assets, tmp_path):
    """seed-mlp's file and card, as a retrained model in a models folder."""
    folder = tmp_path / "models"
    folder.mkdir()
    for suffix in (".keras", ".card.json"):
        shutil.copy(assets / f"seed-mlp{suffix}", folder / f"seed-mlp-20260101-000000{suffix}")
    return folder / "seed-mlp-20260101-000000.keras"


def test_a_trained_model_goes_live_from_memory_with_one_predictor(assets, tmp_path, monkeypatch, predictors_built):
    lab = Lab(data_loader=lambda: None, assets_dir=assets)
    path, in_memory = retrained_copy(assets, tmp_path), untrained_model()
    lab.job = SimpleNamespace(path=path, model=in_memory)  # what a finished TrainingJob holds
    predictors_built.clear()  # those that loading the shipped pair built
    monkeypatch.setattr(store, "load_model", lambda *a, **k: pytest.fail("the trained model was read back"))

    live = lab.put_live(path)
    assert predictors_built == [{"mlp", "cnn"}]  # one, for the new pair, which also checks the model
    assert live.model is in_memory and live.path == path and live.card is not None
    assert lab.live == {"mlp": live, "cnn": lab.shipped["cnn"]}
    assert lab.predictor.models == {"mlp": in_memory, "cnn": lab.shipped["cnn"].model}

    lab.restore()
    assert predictors_built == [{"mlp", "cnn"}]  # the shipped pair's Predictor is kept from start
    assert lab.live == lab.shipped and lab.predictor is lab.shipped_predictor


def test_a_model_that_cannot_serve_leaves_the_live_pair(assets, tmp_path):
    lab = Lab(data_loader=lambda: None, assets_dir=assets)
    path = retrained_copy(assets, tmp_path)
    lab.job = SimpleNamespace(path=path, model=untrained_model(outputs=26))  # trained on letters only
    live, serving = dict(lab.live), lab.predictor
    with pytest.raises(store.ModelFileError, match=f"{re.escape(str(path))}: .*not the .* class scores"):
        lab.put_live(path)
    assert lab.live == live and lab.predictor is serving


def test_cancel_stops_a_job_before_saving_and_never_while_it_saves(tmp_path):
    lab = SimpleNamespace(job=None)  # cancel_job reads the job alone
    assert Lab.cancel_job(lab) is None

    lab.job = TrainingJob(None, None, threading.Lock(), tmp_path)
    lab.job.stage = training.SAVING
    assert Lab.cancel_job(lab) == training.SAVING and not lab.job.cancel.is_set()  # the model is kept whole
    lab.job.stage = training.EVALUATING
    assert Lab.cancel_job(lab) == training.EVALUATING and lab.job.cancel.is_set()

    lab.job.done.set()
    assert Lab.cancel_job(lab) is None  # a finished job is no job


def test_drawn_characters_load_on_first_request_and_a_quick_load_is_waited_for(assets):
    import time

    calls = []

    def quick():  # as from the cache: a fraction of a second
        calls.append(1)
        time.sleep(0.2)
        return SimpleNamespace(x_test=np.zeros((3, 28, 28), np.uint8))

    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=quick)
    assert calls == []  # nothing loads until someone asks
    images, _ = lab.test_images(DRAWN)
    assert images is not None and len(images) == 3 and calls == [1]
    lab.test_images(DRAWN)
    assert calls == [1]  # loaded once

    def slow():
        time.sleep(lab_module.DRAWN_WAIT_SECONDS + 2)

    slow_lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=slow)
    images, message = slow_lab.test_images(DRAWN)
    assert images is None and message == lab_module.DRAWN_LOADING  # a first build says so instead of hanging


@pytest.mark.parametrize("error", [RuntimeError("the disk went away"), FileNotFoundError("no UNIPEN here")])
def test_a_failed_drawn_load_is_said_and_the_next_request_tries_again(assets, error):
    calls = []

    def fails_once():
        calls.append(1)
        if len(calls) == 1:
            raise error
        return SimpleNamespace(x_test=np.zeros((2, 28, 28), np.uint8))

    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=fails_once)
    images, message = lab.test_images(DRAWN)
    assert images is None and str(error) in message and message != lab_module.DRAWN_LOADING  # never "still loading"
    images, message = lab.test_images(DRAWN)
    assert images is not None and len(images) == 2 and calls == [1, 1]  # tried again, and loaded


def test_an_unknown_test_set_is_refused_not_read_as_emnist(assets):
    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=lambda: pytest.fail("nothing to load"))
    live = LiveModel("mlp", "m", lab.assets_dir / "m.keras", None, None, {"on": EMNIST}, {"on": DRAWN})
    for name in ("emnist", "UNIPEN", "pool47+unipen", "", None):
        with pytest.raises(ValueError, match=r"unknown test set .*; choose pool47 or unipen"):
            lab.test_images(name)
        with pytest.raises(ValueError, match="unknown test set"):
            live.report_on(name)
    assert live.report_on(EMNIST) == {"on": EMNIST} and live.report_on(DRAWN) == {"on": DRAWN}
    assert lab.test_images(EMNIST) == (None, lab_module.DATA_LOADING)


def test_a_lesson_is_scored_as_served_once_per_live_pair(assets, monkeypatch):
    """The Confusions tab's lesson view: each test image read among the lesson's classes through the live pair,
    which reads the whole test set once for every lesson and both models, and again only for a new pair."""
    rng = np.random.default_rng(0)
    y = np.arange(120) % NUM_CLASSES
    x = rng.integers(0, 256, (len(y), 28, 28)).astype(np.uint8)
    data = SimpleNamespace(x_test=x, y_test=y, labels_as_classes=lambda labels: labels)
    lab = Lab(data_loader=lambda: data, assets_dir=assets)
    lab.data_ready.wait(30)
    passes = []
    serving = lab.predictor
    monkeypatch.setattr(
        serving,
        "probabilities",
        lambda *a, _read=serving.probabilities, **k: (passes.append(len(a[0])), _read(*a, **k))[1],
    )

    digits, images = lab.lesson_report("cnn", EMNIST, "digits")
    upper, _ = lab.lesson_report("mlp", EMNIST, "upper")
    assert sum(passes) == len(y) and images is x  # one pass over the test set served both
    kept = y < 10
    read = serving.probabilities(x[kept], "digits")["cnn"].argmax(axis=1)
    assert digits["n"] == kept.sum() and digits["accuracy"] == pytest.approx((read == y[kept]).mean())
    assert digits["lesson"] == "digits" and len(digits["classes"]) == 10 and len(upper["classes"]) == 26
    assert {index for index, _, _ in digits["misclassified"]} == set(np.flatnonzero(kept)[read != y[kept]])

    passes.clear()
    monkeypatch.setattr(lab, "predictor", lab_module.serve(lab.live))  # a put-live: a new pair
    lab.lesson_report("cnn", EMNIST, "letters")
    assert passes == []  # the old pair is not asked again: the new pair read the test set
    assert lab._test_scores[EMNIST][0] is lab.predictor

    missing = Lab(data_loader=lambda: None, assets_dir=assets)
    missing.data_ready.wait(30)
    assert missing.lesson_report("cnn", EMNIST, "digits") == (None, None)
    with pytest.raises(ValueError, match="unknown lesson"):
        lab.lesson_report("cnn", EMNIST, "vowels")


class _NoThread(threading.Thread):
    def start(self):
        raise RuntimeError("can't start new thread")


class _QuickJob:
    """A job that ends at once, as a finished one does: it gives the training lock back."""

    def __init__(self, *args):
        self.lock, self.done = args[2], threading.Event()  # TrainingJob(config, dataset, lock, ...), FineTuneJob(...)

    def run(self):
        self.lock.release()
        self.done.set()


@pytest.mark.parametrize("start, job_class", [("start_job", "TrainingJob"), ("start_finetune", "FineTuneJob")])
@pytest.mark.parametrize("failure", ["building the job", "starting its thread"])
def test_a_job_that_fails_to_start_leaves_the_server_free_for_the_next(
    assets, tmp_path, monkeypatch, start, job_class, failure
):
    def no_room(*args):
        raise MemoryError("no room for the job")

    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=lambda: None)
    request = (
        (lambda: lab.start_job(None, tmp_path))
        if start == "start_job"
        else (lambda: lab.start_finetune("mlp", tmp_path))
    )
    if failure == "building the job":
        monkeypatch.setattr(lab_module, job_class, no_room)
        with pytest.raises(MemoryError):
            request()
    else:
        real_thread = threading.Thread
        monkeypatch.setattr(lab_module, job_class, _QuickJob)
        monkeypatch.setattr(lab_module.threading, "Thread", _NoThread)
        with pytest.raises(RuntimeError, match="can't start new thread"):
            request()
        monkeypatch.setattr(lab_module.threading, "Thread", real_thread)
    assert lab.job is None and not lab.train_lock.locked()
    monkeypatch.setattr(lab_module, job_class, _QuickJob)
    job = request()  # the next request starts a job: the server is not left "busy"
    assert isinstance(job, _QuickJob) and job.done.wait(5) and lab.job is job


def test_a_model_is_traced_once_however_many_predictors_serve_it():
    import gc

    model = untrained_model()
    alone, pair = predictor.Predictor({"a": model}), predictor.Predictor({"mlp": model})
    assert alone._fns["a"] is pair._fns["mlp"]  # the lab checks each model alone, then serves the pair
    key = (id(model), NUM_CLASSES)
    assert key in predictor._TRACED
    del alone, pair, model
    gc.collect()
    assert key not in predictor._TRACED  # the cache lets a model go with its last user
    with pytest.raises(store.ModelFileError, match="not the 47 class"):
        predictor.Predictor({"x": untrained_model(outputs=10)})
    with pytest.raises(store.ModelFileError, match="not the 47 class"):  # a refused model is never cached
        predictor.Predictor({"x": untrained_model(outputs=10)})


def test_the_lab_serves_probabilities_calibrated_with_each_cards_temperature(lab):
    from emnist_core.models.temperature import apply_temperature, card_temperature

    x = np.zeros((1, 28, 28), np.float32)
    x[0, 6:22, 12:16] = 255  # a bar: any image will do
    served = lab.predictor.probabilities(x)
    for slot, live in lab.live.items():
        temperature = card_temperature(live.card)
        assert temperature != 1.0, f"the shipped {slot} card has no temperature"
        raw = np.asarray(lab.predictor._fns[slot](x))
        np.testing.assert_allclose(served[slot], apply_temperature(raw, temperature), rtol=1e-6)
        assert not np.allclose(served[slot], raw)  # the temperature changed what is served


def test_a_server_reads_drawings_without_loading_tensorflow(lab):
    # ``lab`` exported the shipped models into its cache; a new server with that cache serves those exports.
    cache = lab.live["mlp"].model.path.parent.parent  # CACHE/served/NAME-KEY.tflite
    script = (
        "import sys, numpy as np, app, ui.draw; lab = app.Lab(data_loader=lambda: None); "
        "x = np.full((400, 400), 255, np.uint8); x[100:300, 190:210] = 0; "
        "print(ui.draw.predict(lab, {'composite': x})[3].startswith('**'), "
        "sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    env = {**os.environ, "EMNIST_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "[]"], proc.stdout


def test_a_training_job_is_scored_on_drawn_characters_that_load_while_it_trains(assets, tmp_path, monkeypatch):
    """The request that starts a job never waits for the drawn characters; the job does, once trained, and hands
    their test set to ``train_and_save`` so that the model is saved with both reports."""
    import time

    from emnist_core.training.config import TrainConfig

    loading = threading.Event()

    def slow_drawn():
        loading.wait(5)  # still loading when the job starts
        return SimpleNamespace(name=DRAWN)

    scored_on = []

    def train_and_save(config, path, dataset, listener=None, cancel=None, drawn=None):
        scored_on.append(drawn())  # what train_and_save does with a function, once training has ended
        raise RuntimeError("nothing more to do here")

    monkeypatch.setattr(training, "train_and_save", train_and_save)
    monkeypatch.setattr(lab_module.datasets, "drawn_test", lambda data, unipen_dir=None: ("the test part of", data))
    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=slow_drawn)
    started = time.monotonic()
    job = lab.start_job(TrainConfig("seed-mlp", epochs=1), tmp_path)
    assert time.monotonic() - started < 1 and not job.done.is_set()  # the job waits, not the request
    loading.set()
    assert job.done.wait(10) and "nothing more" in job.error
    assert scored_on == [("the test part of", lab.drawn)] and lab.drawn.name == DRAWN


def test_without_drawn_characters_a_job_is_scored_on_emnist_alone(assets):
    def missing():
        raise FileNotFoundError("no UNIPEN files and no demo data pack")

    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=missing)
    assert lab.drawn_test() is None and "no demo data pack" in lab.drawn_message


def test_default_retraining_works_from_the_demo_data_pack_alone(assets, tmp_path, monkeypatch):
    """No EMNIST files anywhere: the Lab trains from the pack, the Retrain tab says so, and its default
    settings fit the pack's training images."""
    from emnist_core.data import datasets, pack
    from emnist_core.training.config import form_config
    from ui import retrain

    monkeypatch.setattr(datasets, "candidate_dirs", lambda data_dir=None: [tmp_path / "no-emnist-here"])
    monkeypatch.delenv("EMNIST_DATA_DIR", raising=False)
    lab = Lab(assets_dir=assets, drawn_loader=lambda: None)
    assert lab.data_ready.wait(30) and lab.dataset is not None, lab.data_message
    n = pack.POOL47_SLICE[0]
    assert lab.dataset.sources == [str(pack.pack_file("pool47"))] and len(lab.dataset.y_train) == n
    note, size, start = retrain.retrain_setup(lab)
    assert note.startswith(f"{n:,} training images available, from the demo data pack."), note
    assert size["value"] == retrain.DEFAULT_TRAIN_SIZE <= n and start["interactive"]
    epochs, batch_size, learning_rate = retrain.architecture_defaults(retrain.DEFAULT_ARCHITECTURE)
    config = form_config(retrain.DEFAULT_ARCHITECTURE, epochs, batch_size, learning_rate, size["value"], n, "pool47")
    assert config.subset is None  # every image of the pack, none asked for that it does not have
