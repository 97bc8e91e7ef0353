"""The lab a server runs (``emnist_core.lab.state`` and its services), as plain Python: no Gradio, no server.

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

from emnist_core.lab import jobs as jobs_module
from emnist_core.lab import testsets
from emnist_core.lab.guard import TRAINING_OFF, Guard, Refused, Switches
from emnist_core.lab.jobs import Job
from emnist_core.lab.live import LiveModel, LiveModels, Pair
from emnist_core.lab.state import Lab
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


def test_a_trained_model_goes_live_as_one_new_pair_with_one_predictor(assets, tmp_path, predictors_built):
    lab = Lab(data_loader=lambda: None, assets_dir=assets)
    path = retrained_copy(assets, tmp_path)
    shipped = lab.models.pair
    predictors_built.clear()  # those that loading the shipped pair built

    live = lab.models.put_live(path)
    assert predictors_built == [{"mlp", "cnn"}]  # one, for the new pair, which also checks the model
    assert live.path == path and live.card is not None and live.probe is not None  # served from its export
    new = lab.models.pair
    assert new is not shipped and dict(new.models) == {"mlp": live, "cnn": shipped.models["cnn"]}
    assert new.predictor.models == {"mlp": live.model, "cnn": shipped.models["cnn"].model}
    assert dict(shipped.models)["mlp"] is not live  # the old pair is a value: unchanged for a request holding it

    assert lab.models.restore() is shipped
    assert predictors_built == [{"mlp", "cnn"}]  # the shipped pair's Predictor is kept from start
    assert lab.models.pair is lab.models.shipped is shipped


def test_the_pair_is_swapped_whole_so_a_reader_never_pairs_new_models_with_an_old_predictor(assets, tmp_path):
    lab = Lab(data_loader=lambda: None, assets_dir=assets)
    path = retrained_copy(assets, tmp_path)
    seen, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            pair = lab.models.pair
            seen.append(pair.predictor.models["mlp"] is pair.models["mlp"].model)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(3):
        lab.models.put_live(path)
        lab.models.restore()
    stop.set()
    reader.join()
    assert seen and all(seen)


def test_a_model_that_cannot_serve_leaves_the_live_pair(assets, tmp_path):
    lab = Lab(data_loader=lambda: None, assets_dir=assets)
    path = retrained_copy(assets, tmp_path)
    untrained_model(outputs=26).save(path)  # trained on letters only
    pair = lab.models.pair
    with pytest.raises(store.ModelFileError, match=f"{re.escape(str(path))}: .*not the .* class scores"):
        lab.models.put_live(path)
    assert lab.models.pair is pair


def test_what_changes_the_pair_asks_the_guard_first(assets, tmp_path):
    models = LiveModels(Guard(Switches(training=False, corrections=False)), assets)
    pair = models.pair
    with pytest.raises(Refused, match=re.escape(TRAINING_OFF)):
        models.put_live(retrained_copy(assets, tmp_path))
    with pytest.raises(Refused, match=re.escape(TRAINING_OFF)):
        models.restore()
    assert models.pair is pair


def test_cancel_stops_a_job_before_saving_and_never_while_it_saves(assets):
    lab = Lab(data_loader=lambda: None, assets_dir=assets)
    assert lab.jobs.cancel() is None

    lab.jobs.current = job = Job("training", SimpleNamespace(epochs=1))
    job.stage = training.SAVING
    assert lab.jobs.cancel() == training.SAVING and not job.cancel.is_set()  # the model is kept whole
    job.stage = training.EVALUATING
    assert lab.jobs.cancel() == training.EVALUATING and job.cancel.is_set()

    job.done.set()
    assert lab.jobs.cancel() is None  # a finished job is no job
    off = Lab(data_loader=lambda: None, assets_dir=assets, switches=Switches(training=False, corrections=False))
    with pytest.raises(Refused, match=re.escape(TRAINING_OFF)):
        off.jobs.cancel()


def test_drawn_characters_load_on_first_request_and_a_quick_load_is_waited_for(assets):
    import time

    calls = []

    def quick():  # as from the cache: a fraction of a second
        calls.append(1)
        time.sleep(0.2)
        return SimpleNamespace(x_test=np.zeros((3, 28, 28), np.uint8))

    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=quick)
    assert calls == []  # nothing loads until someone asks
    images, _ = lab.tests.images(DRAWN)
    assert images is not None and len(images) == 3 and calls == [1]
    lab.tests.images(DRAWN)
    assert calls == [1]  # loaded once

    def slow():
        time.sleep(testsets.DRAWN_WAIT_SECONDS + 2)

    slow_lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=slow)
    images, message = slow_lab.tests.images(DRAWN)
    assert images is None and message == testsets.LOADING[DRAWN]  # a first build says so instead of hanging


@pytest.mark.parametrize("error", [RuntimeError("the disk went away"), FileNotFoundError("no UNIPEN here")])
def test_a_failed_drawn_load_is_said_and_the_next_request_tries_again(assets, error):
    calls = []

    def fails_once():
        calls.append(1)
        if len(calls) == 1:
            raise error
        return SimpleNamespace(x_test=np.zeros((2, 28, 28), np.uint8))

    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=fails_once)
    images, message = lab.tests.images(DRAWN)
    assert images is None and str(error) in message and message != testsets.LOADING[DRAWN]  # never "still loading"
    images, message = lab.tests.images(DRAWN)
    assert images is not None and len(images) == 2 and calls == [1, 1]  # tried again, and loaded


def test_an_unknown_test_set_is_refused_not_read_as_emnist(assets):
    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=lambda: pytest.fail("nothing to load"))
    live = LiveModel("mlp", "m", lab.models.assets_dir / "m.keras", None, None, {"on": EMNIST}, {"on": DRAWN})
    for name in ("emnist", "UNIPEN", "pool47+unipen", "", None):
        with pytest.raises(ValueError, match=r"unknown test set .*; choose pool47 or unipen"):
            lab.tests.images(name)
        with pytest.raises(ValueError, match="unknown test set"):
            live.report_on(name)
    assert live.report_on(EMNIST) == {"on": EMNIST} and live.report_on(DRAWN) == {"on": DRAWN}
    images, message = lab.tests.images(EMNIST)
    assert images is None and message in (testsets.LOADING[EMNIST], lab.tests.message(EMNIST))


def test_a_lesson_is_scored_as_served_once_per_live_pair(assets, monkeypatch):
    """The Confusions tab's lesson view: each test image read among the lesson's classes through the live pair,
    which reads the whole test set once for every lesson and both models, and again only for a new pair."""
    rng = np.random.default_rng(0)
    y = np.arange(120) % NUM_CLASSES
    x = rng.integers(0, 256, (len(y), 28, 28)).astype(np.uint8)
    data = SimpleNamespace(x_test=x, y_test=y, labels_as_classes=lambda labels: labels)
    lab = Lab(data_loader=lambda: data, assets_dir=assets)
    lab.tests.dataset(EMNIST, wait=30)
    passes = []
    serving = lab.models.pair.predictor
    monkeypatch.setattr(
        serving,
        "probabilities",
        lambda *a, _read=serving.probabilities, **k: (passes.append(len(a[0])), _read(*a, **k))[1],
    )

    digits, images = lab.tests.report(lab.models.pair, "cnn", EMNIST, "digits")
    upper, _ = lab.tests.report(lab.models.pair, "mlp", EMNIST, "upper")
    assert sum(passes) == len(y) and images is x  # one pass over the test set served both
    kept = y < 10
    read = serving.probabilities(x[kept], "digits")["cnn"].argmax(axis=1)
    assert digits["n"] == kept.sum() and digits["accuracy"] == pytest.approx((read == y[kept]).mean())
    assert digits["lesson"] == "digits" and len(digits["classes"]) == 10 and len(upper["classes"]) == 26
    assert {index for index, _, _ in digits["misclassified"]} == set(np.flatnonzero(kept)[read != y[kept]])

    passes.clear()
    new = Pair.serving(lab.models.pair.models)  # a put-live: a new pair
    lab.tests.report(new, "cnn", EMNIST, "letters")
    assert passes == []  # the old pair is not asked again: the new pair read the test set
    lab.tests.report(new, "mlp", EMNIST, "digits")
    assert passes == []  # and the new pair's pass is kept for every lesson

    missing = Lab(data_loader=lambda: None, assets_dir=assets)
    missing.tests.dataset(EMNIST, wait=30)
    assert missing.tests.report(missing.models.pair, "cnn", EMNIST, "digits") == (None, None)
    with pytest.raises(ValueError, match="unknown lesson"):
        lab.tests.report(lab.models.pair, "cnn", EMNIST, "vowels")


class _NoThread(threading.Thread):
    def start(self):
        raise RuntimeError("can't start new thread")


def quick_job(job, spec, drawn=None):
    """A job that ends at once, as a finished one does."""
    job.error = "ended at once"


@pytest.mark.parametrize("kind", ["training", "fine-tune"])
@pytest.mark.parametrize("failure", ["preparing the job", "starting its thread"])
def test_a_job_that_fails_to_start_leaves_the_server_free_for_the_next(assets, tmp_path, monkeypatch, kind, failure):
    from emnist_core.training.config import TrainConfig

    monkeypatch.setenv("EMNIST_MODELS_DIR", str(tmp_path / "models"))
    data = SimpleNamespace(y_train=np.zeros(3))
    lab = Lab(data_loader=lambda: data, assets_dir=assets, drawn_loader=lambda: None, own_processes=False)
    lab.tests.dataset(EMNIST, wait=30)
    request = (
        (lambda: lab.jobs.start_training(TrainConfig("seed-mlp", epochs=1)))
        if kind == "training"
        else (lambda: lab.jobs.start_fine_tune("mlp"))
    )
    if failure == "preparing the job":
        monkeypatch.setattr(lab.jobs, "_model_path", lambda stem: (_ for _ in ()).throw(MemoryError("no room")))
        with pytest.raises(MemoryError):
            request()
        monkeypatch.undo()
        monkeypatch.setenv("EMNIST_MODELS_DIR", str(tmp_path / "models"))
    else:
        no_threads = SimpleNamespace(Thread=_NoThread, Lock=threading.Lock, Event=threading.Event)
        monkeypatch.setattr(jobs_module, "threading", no_threads)  # the job's thread alone cannot start
        with pytest.raises(RuntimeError, match="can't start new thread"):
            request()
        monkeypatch.setattr(jobs_module, "threading", threading)
    monkeypatch.setattr(lab.jobs, "_run", quick_job)
    job = request()  # the next request starts a job: the server is not left "busy"
    assert job is not None and job.done.wait(5) and lab.jobs.current is job and job.error == "ended at once"


def test_a_model_is_traced_once_however_many_predictors_serve_it():
    model = untrained_model()
    alone, pair = predictor.Predictor({"a": model}), predictor.Predictor({"mlp": model})
    assert alone._fns["a"] is pair._fns["mlp"]  # the lab checks each model alone, then serves the pair
    with pytest.raises(store.ModelFileError, match="not the 47 class"):
        predictor.Predictor({"x": untrained_model(outputs=10)})
    refused = untrained_model(outputs=10)
    with pytest.raises(store.ModelFileError, match="not the 47 class"):  # a refused model is never kept as served
        predictor.Predictor({"x": refused})
    assert not hasattr(refused, predictor.TRACED_ATTRIBUTE)


def test_the_lab_serves_probabilities_calibrated_with_each_cards_temperature(lab):
    from emnist_core.models.temperature import apply_temperature, card_temperature

    x = np.zeros((1, 28, 28), np.float32)
    x[0, 6:22, 12:16] = 255  # a bar: any image will do
    served = lab.models.pair.predictor.probabilities(x)
    for slot, live in lab.models.pair.models.items():
        temperature = card_temperature(live.card)
        assert temperature != 1.0, f"the shipped {slot} card has no temperature"
        raw = np.asarray(lab.models.pair.predictor._fns[slot](x))
        np.testing.assert_allclose(served[slot], apply_temperature(raw, temperature), rtol=1e-6)
        assert not np.allclose(served[slot], raw)  # the temperature changed what is served


def test_a_server_reads_drawings_without_loading_tensorflow(lab):
    # ``lab`` exported the shipped models into its cache; a new server with that cache serves those exports.
    cache = lab.models.get("mlp").model.path.parent.parent  # CACHE/served/NAME-KEY.tflite
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

    def train_and_save(config, path, dataset, listener=None, cancel=None, drawn=None, temperature=None):
        scored_on.append(drawn())  # what train_and_save does with a function, once training has ended
        raise RuntimeError("nothing more to do here")

    monkeypatch.setenv("EMNIST_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setattr(training, "train_and_save", train_and_save)
    monkeypatch.setattr(testsets, "drawn_test", lambda data, unipen_dir=None: ("the test part of", data.name))
    data = SimpleNamespace(name=EMNIST, y_train=np.zeros(3))
    lab = Lab(data_loader=lambda: data, assets_dir=assets, drawn_loader=slow_drawn, own_processes=False)
    lab.tests.dataset(EMNIST, wait=30)
    started = time.monotonic()
    job = lab.jobs.start_training(TrainConfig("seed-mlp", epochs=1))
    assert time.monotonic() - started < 1 and not job.done.is_set()  # the job waits, not the request
    loading.set()
    assert job.done.wait(10) and "nothing more" in job.error
    assert scored_on == [("the test part of", DRAWN)]


def test_without_drawn_characters_a_job_is_scored_on_emnist_alone(assets):
    def missing():
        raise FileNotFoundError("no UNIPEN files and no demo data pack")

    lab = Lab(data_loader=lambda: None, assets_dir=assets, drawn_loader=missing)
    assert lab.tests.drawn_test() is None and "no demo data pack" in lab.tests.message(DRAWN)


def test_default_retraining_works_from_the_demo_data_pack_alone(assets, tmp_path, monkeypatch):
    """No EMNIST files anywhere: the Lab trains from the pack, the Retrain tab says so, and its default
    settings fit the pack's training images."""
    from emnist_core.data import datasets, pack
    from emnist_core.training.config import form_config
    from ui import retrain

    monkeypatch.setattr(datasets, "candidate_dirs", lambda data_dir=None: [tmp_path / "no-emnist-here"])
    monkeypatch.delenv("EMNIST_DATA_DIR", raising=False)
    lab = Lab(assets_dir=assets, drawn_loader=lambda: None)
    assert lab.tests.dataset(EMNIST, wait=30) and lab.tests.dataset(EMNIST) is not None, lab.tests.message(EMNIST)
    n = pack.POOL47_SLICE[0]
    assert (
        lab.tests.dataset(EMNIST).sources == [str(pack.pack_file("pool47"))]
        and len(lab.tests.dataset(EMNIST).y_train) == n
    )
    note, size, start = retrain.retrain_setup(lab)
    assert note.startswith(f"{n:,} training images available, from the demo data pack."), note
    assert size["value"] == retrain.DEFAULT_TRAIN_SIZE <= n and start["interactive"]
    epochs, batch_size, learning_rate = retrain.architecture_defaults(retrain.DEFAULT_ARCHITECTURE)
    config = form_config(retrain.DEFAULT_ARCHITECTURE, epochs, batch_size, learning_rate, size["value"], n, "pool47")
    assert config.subset is None  # every image of the pack, none asked for that it does not have
