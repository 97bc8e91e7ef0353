"""Corrections ("it was ___"): kept whole across a restart and a killed write, capped, switched, checked,
exported in EMNIST's formats that evaluate and train read; and fine-tuning on them helps where it should."""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from emnist_core.data import cache, files
from emnist_core.data.datasets import Dataset, load_files
from emnist_core.data.labels import label_map
from emnist_core.lab.corrections import (
    ALLOW_CORRECTIONS,
    COLLECTION_OFF,
    DISABLE_TRAINING,
    CorrectionError,
    CorrectionStore,
    corrections_dir,
)
from emnist_core.models import store

from conftest import ROOT, l_shapes

NAMES = label_map("bymerge").names
TOPS = {"mlp": [("2", 0.61), ("Z", 0.3)], "cnn": [("Z", 0.52), ("2", 0.4)]}
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def glyphs(n, seed=0):
    return l_shapes(n, seed)


def filled(folder, n, label="Z", **caps):
    s = CorrectionStore(folder, **caps)
    for i, x in enumerate(glyphs(n)):
        s.add(x, label, TOPS, when=START + timedelta(minutes=i))
    return s


# ---------------------------------------------------------------- keeping them


def test_a_correction_survives_a_restart(tmp_path):
    x = glyphs(1)[0]
    ident = CorrectionStore(tmp_path).add(x, "o", TOPS, when=START)  # merged lower case: ByMerge's O
    loaded = CorrectionStore(tmp_path).load()  # a new store: what a restarted server opens
    assert len(loaded) == 1 and loaded.ids == (ident,)
    assert np.array_equal(loaded.x[0], x) and loaded.x.dtype == np.uint8
    assert loaded.names == ["O"] and loaded.times == (START,)
    assert loaded.tops[0] == {"mlp": [["2", 0.61], ["Z", 0.3]], "cnn": [["Z", 0.52], ["2", 0.4]]}


def test_corrections_load_oldest_first(tmp_path):
    s = CorrectionStore(tmp_path)
    for minutes, label in ((5, "B"), (1, "A"), (3, "C")):
        s.add(glyphs(1)[0], label, when=START + timedelta(minutes=minutes))
    assert s.load().names == ["A", "C", "B"]


def test_a_file_holds_the_correction_and_nothing_about_the_person(tmp_path):
    CorrectionStore(tmp_path).add(glyphs(1)[0], "Z", TOPS)
    (path,) = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert set(record) == {"format", "version", "time", "label", "tops", "image_png"}
    assert record["time"].endswith("+00:00")  # UTC: no hint of where the person is
    assert path.stem.split("-")[0].endswith("Z")  # named by its time and random hex, nothing else


KILLED_WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from emnist_core.lab.corrections import CorrectionStore

real = Path.write_text
def half_then_hang(self, text, *args, **kwargs):  # the temporary is written halfway, then the process dies
    if self.name.startswith("."):
        with open(self, "w") as f:
            f.write(text[: len(text) // 2])
        print("halfway", flush=True)
        time.sleep(120)
    return real(self, text, *args, **kwargs)

Path.write_text = half_then_hang
CorrectionStore(sys.argv[1]).add(np.full((28, 28), 200, np.uint8), "Z")
"""


def test_a_process_killed_mid_write_leaves_only_whole_corrections(tmp_path):
    filled(tmp_path, 2)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "halfway"
    finally:
        proc.kill()
        proc.wait(30)
    (leftover,) = tmp_path.glob(".*")  # the killed write's half file, under its hidden temporary name
    s = CorrectionStore(tmp_path)
    assert s.count() == 2 and len(s.load()) == 2 and leftover.exists()  # a write in progress may look like this
    hour_ago = time.time() - 3700
    os.utime(leftover, (hour_ago, hour_ago))
    assert len(s.load()) == 2 and not leftover.exists()  # an old leftover is a dead write's: removed
    s.add(glyphs(1)[0], "Z")  # and the store still takes new ones
    assert s.count() == 3


def test_a_write_that_fails_halfway_leaves_nothing(tmp_path, monkeypatch):
    s = filled(tmp_path, 1)

    def fail_halfway(self, text, *args, **kwargs):
        with open(self, "w") as f:
            f.write(text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr("pathlib.Path.write_text", fail_halfway)
    with pytest.raises(OSError):
        s.add(glyphs(1)[0], "Z")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(s.load()) == 1


def test_damaged_files_are_skipped_with_a_warning(tmp_path, caplog):
    s = filled(tmp_path, 2)
    good = json.loads(next(tmp_path.glob("*.json")).read_text())
    bad = {
        "cut": next(tmp_path.glob("*.json")).read_text()[:100],
        "not-json": "\x00\x01 binary",
        "list": "[1, 2]",
        "other-format": json.dumps({**good, "format": "something else"}),
        "future-version": json.dumps({**good, "version": 99}),
        "bad-base64": json.dumps({**good, "image_png": "not base64!"}),
        "not-png": json.dumps({**good, "image_png": "aGVsbG8="}),
        "unknown-class": json.dumps({**good, "label": "%"}),
        "no-time": json.dumps({k: v for k, v in good.items() if k != "time"}),
        "naive-time": json.dumps({**good, "time": "2026-01-01T00:00:00"}),
    }
    for name, text in bad.items():
        (tmp_path / f"{name}.json").write_text(text)
    import base64
    import io

    from PIL import Image

    big = io.BytesIO()
    Image.new("L", (280, 280)).save(big, format="PNG")
    (tmp_path / "too-big.json").write_text(json.dumps({**good, "image_png": base64.b64encode(big.getvalue()).decode()}))
    with caplog.at_level("WARNING", logger="emnist_core.lab.corrections"):
        loaded = s.load()
    assert len(loaded) == 2
    assert len(caplog.records) == len(bad) + 1 and all("skipped" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- refusing them


def test_the_count_cap_holds_and_says_what_to_do(tmp_path):
    s = filled(tmp_path, 3, max_count=3)
    with pytest.raises(CorrectionError, match=r"full \(3 corrections.*Download the corrections, then clear"):
        s.add(glyphs(1)[0], "Z")
    assert s.count() == 3
    assert s.clear() == 3 and s.count() == 0
    s.add(glyphs(1)[0], "Z")


def test_the_disk_cap_holds(tmp_path):
    one = filled(tmp_path / "probe", 1)
    size = next(one.folder.glob("*.json")).stat().st_size
    s = filled(tmp_path / "store", 2, max_bytes=int(2.5 * size))
    with pytest.raises(CorrectionError, match="full"):
        s.add(glyphs(1, seed=9)[0], "Z")
    assert s.count() == 2 and sum(p.stat().st_size for p in s.folder.glob("*.json")) <= 2.5 * size


@pytest.mark.parametrize("on", ["1", "true", "YES"])
def test_disabled_training_refuses_corrections_unless_allowed(monkeypatch, on):
    from emnist_core.lab.guard import Switches

    monkeypatch.setenv(DISABLE_TRAINING, on)
    assert Switches.from_env() == Switches(training=False, corrections=False)
    monkeypatch.setenv(ALLOW_CORRECTIONS, on)
    assert Switches.from_env() == Switches(training=False, corrections=True)


@pytest.mark.parametrize("off", ["", "0", "false", "no"])
def test_collection_is_on_unless_training_is_switched_off(monkeypatch, off):
    from emnist_core.lab.guard import Switches

    monkeypatch.setenv(DISABLE_TRAINING, off)
    monkeypatch.setenv(ALLOW_CORRECTIONS, off)
    assert Switches.from_env() == Switches(training=True, corrections=True)


def test_the_classroom_obeys_the_switches_the_lab_read_once_not_the_environment(tmp_path, monkeypatch):
    from emnist_core.lab.classroom import Classroom
    from emnist_core.lab.guard import Guard, Switches

    monkeypatch.setenv(DISABLE_TRAINING, "1")
    classroom = Classroom(Guard(Switches.from_env()), CorrectionStore(tmp_path))  # as a Lab makes it
    with pytest.raises(CorrectionError) as refused:
        classroom.correct(glyphs(1)[0], "Z", TOPS)
    assert str(refused.value) == COLLECTION_OFF  # which names both switches:
    assert DISABLE_TRAINING in COLLECTION_OFF and ALLOW_CORRECTIONS in COLLECTION_OFF
    monkeypatch.setenv(ALLOW_CORRECTIONS, "1")  # set after the server started: it keeps the switches it read
    with pytest.raises(CorrectionError, match=ALLOW_CORRECTIONS):
        classroom.correct(glyphs(1)[0], "Z", TOPS)
    assert classroom.count() == 0
    monkeypatch.delenv(ALLOW_CORRECTIONS)
    # The store reads no switch itself: a script or the CLI keeping a correction is not a server.
    CorrectionStore(tmp_path).add(glyphs(1)[0], "Z", TOPS)
    assert Classroom(Guard(Switches()), CorrectionStore(tmp_path)).correct(glyphs(1)[0], "Z", TOPS) == (2, True)


def test_the_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMNIST_CORRECTIONS_DIR", str(tmp_path / "mine"))
    assert corrections_dir() == tmp_path / "mine" and CorrectionStore().folder == tmp_path / "mine"
    monkeypatch.delenv("EMNIST_CORRECTIONS_DIR")
    assert corrections_dir() == cache.cache_dir() / "corrections"


@pytest.mark.parametrize("label, name", [("Z", "Z"), ("o", "O"), (" s ", "S"), ("a", "a"), ("0", "0")])
def test_labels_are_bymerge_classes(tmp_path, label, name):
    s = CorrectionStore(tmp_path)
    s.add(glyphs(1)[0], label)
    assert s.load().names == [name]


@pytest.mark.parametrize("label", ["", "ab", "%", "é", "\n", 5, None])
def test_other_labels_are_refused(tmp_path, label):
    with pytest.raises(CorrectionError, match="class"):
        CorrectionStore(tmp_path).add(glyphs(1)[0], label)
    assert CorrectionStore(tmp_path).count() == 0


@pytest.mark.parametrize(
    "image, problem",
    [
        (np.zeros((28, 28), np.uint8), "blank"),
        (np.full((32, 32), 255, np.uint8), "28x28"),
        (np.full((1, 28, 28), 255, np.uint8), "28x28"),
        (np.full((28, 28), np.nan), "0-255"),
        (np.full((28, 28), 300.0), "0-255"),
        (np.full((28, 28), -1), "0-255"),
        (np.full((28, 28), "x"), "numbers"),
    ],
)
def test_bad_images_are_refused(tmp_path, image, problem):
    with pytest.raises(CorrectionError, match=problem):
        CorrectionStore(tmp_path).add(image, "Z")


@pytest.mark.parametrize(
    "tops, problem",
    [
        ({"my name is Ada": [("Z", 0.5)]}, "slot"),
        ({"cnn": [("not a class", 0.5)]}, "ByMerge class"),
        ({"cnn": [("Z", 1.5)]}, "probability"),
        ({"cnn": "Z"}, "pairs"),
        ([("Z", 0.5)], "map"),
    ],
)
def test_bad_tops_are_refused(tmp_path, tops, problem):
    with pytest.raises(CorrectionError, match=problem):
        CorrectionStore(tmp_path).add(glyphs(1)[0], "Z", tops)


# ---------------------------------------------------------------- exporting them


@pytest.fixture
def corrected(tmp_path):
    s = CorrectionStore(tmp_path / "store")
    rng = np.random.default_rng(0)
    for i in range(12):  # asymmetric random images, so a missing transpose shows
        s.add(rng.integers(0, 256, (28, 28)).astype(np.uint8), NAMES[i * 3], when=START + timedelta(seconds=i))
    return s


def test_csv_export_reads_back_upright_with_bymerge_labels(corrected, tmp_path):
    path = corrected.export_csv(tmp_path)  # a folder: the file gets EMNIST's style of name
    assert path.name == "emnist-bymerge-corrections.csv"
    x, y = files.read_csv(path)
    data = corrected.load()
    assert np.array_equal(x, data.x) and np.array_equal(y, data.y)
    files.check_pair(x, y, label_map("bymerge"), path)


def test_idx_export_reads_back_upright_with_bymerge_labels(corrected, tmp_path):
    images, labels = corrected.export_idx(tmp_path / "idx")
    data = corrected.load()
    assert np.array_equal(files.read_idx_images(images), data.x)
    assert np.array_equal(files.read_idx_labels(labels), data.y)
    x, y = load_files(images, labels, split="bymerge")  # what evaluate and train read
    assert np.array_equal(x, data.x) and np.array_equal(y, data.y)


def test_nothing_to_export_says_so(tmp_path):
    with pytest.raises(CorrectionError, match="no corrections"):
        CorrectionStore(tmp_path).export_csv(tmp_path / "c.csv")


def run_cli(*args):
    from conftest import run_cli as run

    return json.loads(run(*args).stdout)


def test_evaluate_reads_both_exports(corrected, tmp_path, untrained_model_file):
    csv = corrected.export_csv(tmp_path / "emnist-bymerge-corrections.csv")
    out = run_cli("evaluate", "--model", untrained_model_file, "--csv", csv, "--json")
    assert out["n"] == 12 and out["split"] == "bymerge"
    images, labels = corrected.export_idx(tmp_path)
    out = run_cli("evaluate", "--model", untrained_model_file, "--images", images, "--labels", labels, "--json")
    assert out["n"] == 12 and out["split"] == "bymerge"


def test_train_mixes_in_an_exported_csv(corrected, tmp_path):
    from emnist_core.cli import build_parser
    from emnist_core.training.config import TrainConfig
    from emnist_core.training.train import train

    csv = corrected.export_csv(tmp_path)
    assert build_parser().parse_args(["train", "--model", "seed-mlp", "--extra-csv", str(csv)]).extra_csv == str(csv)
    x = glyphs(200)
    data = Dataset(
        "pool47",
        label_map("bymerge"),
        x,
        np.full(200, 21),
        x[:20],
        np.full(20, 21),
        x[:20],
        np.full(20, 21),
        "L shapes",
        [],
    )
    result = train(TrainConfig(model="seed-mlp", epochs=1, batch_size=64, extra_csv=str(csv)), data)
    assert result.card.data["used"]["train"] == 200 + 12  # every correction, on top of the training images
    assert result.card.hyperparameters["extra_csv"] == str(csv)
    assert f"--extra-csv {csv}" in result.config.command("out.keras")
    digits = Dataset(
        "digits", label_map("digits"), x, np.zeros(200, int), x, np.zeros(200, int), x, np.zeros(200, int), "digits", []
    )
    with pytest.raises(ValueError, match="47 ByMerge classes"):
        train(TrainConfig(model="seed-mlp", epochs=1, extra_csv=str(csv)), digits)


# ---------------------------------------------------------------- fine-tuning on them


def test_the_newest_corrections_are_held_out(tmp_path):
    data = filled(tmp_path, 10).load()
    older, newest = data.split_by_time(0.2)
    assert older.ids == data.ids[:8] and newest.ids == data.ids[8:]
    assert max(older.times) < min(newest.times)
    assert len(data.split_by_time(0.01)[1]) == 1 and len(data.split_by_time(0)[1]) == 0


def test_fine_tuning_needs_enough_corrections_and_a_model_with_a_card(tmp_path, untrained_model_file):
    from emnist_core.lab.finetune import MIN_CORRECTIONS, fine_tune

    x = glyphs(200)
    data = Dataset(
        "pool47", label_map("bymerge"), x, np.full(200, 21), x, np.full(200, 21), x, np.full(200, 21), "L shapes", []
    )
    with pytest.raises(CorrectionError, match=f"at least {MIN_CORRECTIONS} corrections; there are 3"):
        fine_tune(untrained_model_file, filled(tmp_path / "few", 3).load(), data)
    with pytest.raises(ValueError, match="card"):
        fine_tune(untrained_model_file, filled(tmp_path / "enough", MIN_CORRECTIONS).load(), data)


def test_batch_norm_statistics_are_made_again_and_no_weight_moves():
    import keras

    from emnist_core.lab.finetune import _recalibrate_batch_norm
    from emnist_core.models.build import build_model

    model = build_model("mlp-bn")
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    weights = [
        w.copy()
        for layer in model.layers
        if not isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.get_weights()
    ]
    _recalibrate_batch_norm(model, "mlp-bn", glyphs(600), seed=0)
    assert all(np.abs(layer.moving_mean.numpy()).max() > 0 for layer in norms)  # they start at 0
    after = [
        w
        for layer in model.layers
        if not isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.get_weights()
    ]
    assert all(np.array_equal(a, b) for a, b in zip(weights, after))


@pytest.fixture(scope="module")
def unipen():
    """The drawn characters of the demo data pack (drawing the UNIPEN files would take a minute)."""
    from conftest import drawn_from_pack

    return drawn_from_pack()


TRUE, READ = "e", "C"  # drawn e's that a small model reads as C: a pair a few epochs leave confused
TAU = 0.5


@pytest.fixture(scope="module")
def drawn_reader(pool47, unipen, tmp_path_factory):
    """A small MLP (seed-mlp) trained for a few seconds on 6,000 scanned and 6,000 drawn characters: it reads
    about two drawn characters in three, and confuses drawn e with C, as the shipped models confuse other pairs."""
    from emnist_core.data.drawn import drawn_test
    from emnist_core.models.calibration import training_log_prior, with_prior_correction
    from emnist_core.training.config import TrainConfig
    from emnist_core.training.train import train_and_save

    rng = np.random.default_rng(0)
    p, u = (np.sort(rng.choice(len(d.y_train), 6000, replace=False)) for d in (pool47, unipen))
    data = Dataset(
        "pool47+unipen",
        label_map("bymerge"),
        np.concatenate([pool47.x_train[p], unipen.x_train[u]]),
        np.concatenate([pool47.y_train[p], unipen.y_train[u]]),
        unipen.x_val[:1000],
        unipen.y_val[:1000],
        pool47.x_test[:3000],
        pool47.y_test[:3000],
        "6,000 pool47 + 6,000 unipen training images",
        [],
    )
    folder = tmp_path_factory.mktemp("reader")
    result = train_and_save(
        TrainConfig(model="seed-mlp", epochs=3), folder / "reader.keras", data, drawn=drawn_test(unipen)
    )  # the pack's, not the UNIPEN files' (a minute to draw)
    # With a class-prior correction, as the shipped models have: fine-tuning must keep it.
    log_prior = training_log_prior(data.labels_as_classes(data.y_train), data.num_classes)
    card = result.card.updated(calibration={"method": "logit adjustment by the training class prior", "tau": TAU})
    return store.save_model(
        with_prior_correction(result.model, log_prior, TAU), folder / "reader-prior.keras", card, result.reports
    )


def test_fine_tuning_on_30_corrections_of_a_confused_pair_fixes_it_and_breaks_nothing(
    pool47, unipen, drawn_reader, tmp_path
):
    from emnist_core.lab.finetune import fine_tune
    from emnist_core.models.calibration import PriorCorrection
    from emnist_core.models.evaluation import predict_probabilities

    reader, t, r = store.load_model(drawn_reader), NAMES.index(TRUE), NAMES.index(READ)

    def misread(x, y, n):  # what a person would correct: drawn TRUEs the model read as READ
        idx = np.flatnonzero(y == t)
        return x[idx[predict_probabilities(reader, x[idx]).argmax(1) == r]][:n]

    # The 30 to train on come from training writers; the 15 held out, newest, from test writers (the pack's
    # validation slice holds too few of them).
    older, newest = misread(unipen.x_train, unipen.y_train, 30), misread(unipen.x_test, unipen.y_test, 15)
    assert (len(older), len(newest)) == (30, 15), "the small model no longer confuses this pair; pick another"
    s = CorrectionStore(tmp_path / "corrections")
    for i, x in enumerate(np.concatenate([older, newest])):
        s.add(x, TRUE, {"mlp": [(READ, 0.6), (TRUE, 0.2)]}, when=START + timedelta(minutes=i))
    base = Dataset(
        "pool47",
        label_map("bymerge"),
        pool47.x_train[:20000],
        pool47.y_train[:20000],
        pool47.x_val[:1000],
        pool47.y_val[:1000],
        pool47.x_test[:3000],
        pool47.y_test[:3000],
        "sample",
        [],
    )

    started = time.time()
    result = fine_tune(drawn_reader, s.load(), base, unipen, holdout=15 / 45)
    seconds = time.time() - started
    before, after = result.before, result.after
    print(
        f"\nfine-tuned in {seconds:.1f} s; held-out {TRUE}-read-as-{READ}: {before['held_out']['accuracy']:.1%} -> "
        f"{after['held_out']['accuracy']:.1%}; drawn test {before['drawn_test']['accuracy']:.2%} -> "
        f"{after['drawn_test']['accuracy']:.2%}; EMNIST test {before['test']['accuracy']:.2%} -> "
        f"{after['test']['accuracy']:.2%}"
    )
    assert result.corrections["trained_on"]["n"] == 30 and before["held_out"]["n"] == 15
    assert result.corrections["held_out"]["first"] > result.corrections["trained_on"]["last"]  # the newest held out
    assert before["held_out"]["accuracy"] == 0  # every one of them was a mistake
    assert after["held_out"]["accuracy"] >= 0.4  # 15 images from writers it never trained on
    assert after["drawn_test"]["n"] == len(unipen.y_test)
    assert after["drawn_test"]["accuracy"] >= before["drawn_test"]["accuracy"] - 0.01  # nothing else broke

    card = result.card("reader-fine-tuned")
    path = store.save_model(result.model, tmp_path / "reader-fine-tuned.keras", card, result.reports)
    saved = store.load_card(path)
    assert saved.fine_tuned_from["model"] == "reader-prior" and saved.calibration["tau"] == TAU
    assert saved.fine_tuning["after"]["held_out"] == after["held_out"] and saved.command is None
    assert saved.drawn_test_metrics["accuracy"] == after["drawn_test"]["accuracy"]
    model = store.load_model(path)
    assert isinstance(model.layers[-1], PriorCorrection) and model.layers[-1].tau == TAU  # serves as its source did
    assert model.output_shape == (None, len(NAMES))
