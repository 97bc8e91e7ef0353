"""API tests: the app launched in this process, driven over HTTP with gradio_client, as other programs use it."""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from emnist_core.data.datasets import DataNotFoundError
from emnist_core.data.labels import display_name
from emnist_core.lab.classroom import Classroom
from emnist_core.lab.live import Pair
from emnist_core.lab.testsets import load_emnist
from emnist_core.models import store
from emnist_core.models.evaluation import DRAWN, EMNIST
from emnist_core.models.registry import REGISTRY
from ui import confusions, draw, finetune, retrain
from ui.checks import CLASSES

from conftest import STROKES, emnist_from, pad_value, served, sketch, sketch_file

O_WORDS, ZERO_WORDS = display_name("O"), display_name("0")  # how the page names the letter and the digit
SERVER_PATH = re.compile(r"(?<![\w.])/\w[^\s/]*/")  # "/tmp/...", "/home/...": a folder on the server
INLINE_IMAGE = re.compile(r"data:image/\w+;base64,[A-Za-z0-9+/=]+")  # a figure shown inline: pixels, not a path


def says_nothing_of_the_server(text: str):
    """What the page shows a teacher names no folder of the server and no shell command."""
    text = INLINE_IMAGE.sub("data:image", text)
    assert not SERVER_PATH.search(text) and "python -m" not in text, text
    assert os.environ["EMNIST_MODELS_DIR"] not in text and str(store.ASSETS_DIR) not in text, text


gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture(scope="module")
def client(demo):
    with served(demo) as url:
        yield gradio_client.Client(url, verbose=False)


@pytest.mark.parametrize("char", sorted(STROKES))
def test_drawn_character_is_read_by_both_models(client, tmp_path, char):
    mlp, cnn, preview, verdict = client.predict(sketch(sketch_file(tmp_path, char)), api_name="/predict")
    for top in (mlp, cnn):
        confidences = [c["confidence"] for c in top["confidences"]]
        assert len(confidences) == draw.TOP_K and confidences == sorted(confidences, reverse=True)
        assert top["label"] == char
    assert preview.startswith("<img") and "data:image/png;base64," in preview
    assert f"Both models read {char}" in verdict


def test_only_composite_is_enough(client, tmp_path):
    """A client may send the composite alone, and at Gradio's default canvas size."""
    mlp, cnn, _, _ = client.predict(
        {"composite": gradio_client.handle_file(str(sketch_file(tmp_path, "7", 800)))}, api_name="/predict"
    )
    assert mlp["label"] == cnn["label"] == "7"


@pytest.mark.parametrize("value", ["blank", "none"])
def test_empty_canvas_gets_a_message_not_an_error(client, tmp_path, value):
    payload = (
        sketch(sketch_file(tmp_path, None))
        if value == "blank"
        else {"background": None, "layers": [], "composite": None}
    )
    mlp, cnn, _, verdict = client.predict(payload, api_name="/predict")
    assert not mlp and not cnn  # cleared labels
    assert verdict == draw.EMPTY_MESSAGE  # the same words for a blank drawing and for no drawing


@pytest.mark.parametrize("endpoint", ["/predict", "/explain", "/correct"])
def test_a_bare_image_file_is_read_as_the_drawing(client, corrections, tmp_path, endpoint):
    """A program may send the drawing's image file alone, not wrapped in a sketchpad value: it is the drawing,
    never "The canvas is empty"."""
    drawing = gradio_client.handle_file(str(sketch_file(tmp_path, "7")))
    if endpoint == "/predict":
        mlp, cnn, _, verdict = client.predict(drawing, api_name=endpoint)
        assert mlp["label"] == cnn["label"] == "7", verdict
    elif endpoint == "/explain":
        *overlays, captions = client.predict(drawing, api_name=endpoint)
        assert all(overlays) and all(line.endswith("read 7") for line in captions.splitlines()), captions
    else:
        assert client.predict(drawing, "7", api_name=endpoint).startswith("Kept as **7**")
        assert corrections.count() == 1


def test_photo_goes_through_the_same_preprocessing(client, tmp_path):
    # A "photo": grey paper, dark ink, larger than the canvas and not square.
    image = Image.new("RGB", (900, 600), (200, 200, 190))
    ImageDraw.Draw(image).line([(300, 100), (600, 100), (420, 520)], fill=(40, 40, 60), width=40)
    image.save(tmp_path / "photo.jpg")
    mlp, cnn, preview, _ = client.predict(
        gradio_client.handle_file(str(tmp_path / "photo.jpg")), api_name="/predict_photo"
    )
    assert mlp["label"] == cnn["label"] == "7"
    assert "data:image/png" in preview


def test_o_0_gallery_shows_captioned_test_images(client, lab, with_data):
    report = lab.models.get("mlp").report
    o, zero = report["classes"].index("O"), report["classes"].index("0")
    expected = report["confusion_matrix"][o][zero]
    images, note = client.predict("mlp", "O", "0", api_name="/gallery")
    assert len(images) == min(expected, confusions.GALLERY_MAX) > 0
    for item in images:
        assert Path(item["image"]).exists()
        assert item["caption"].endswith(f"%: {O_WORDS} -> {ZERO_WORDS}")
    assert f"{expected} test images of **{O_WORDS}** read as **{ZERO_WORDS}**" in note
    confidences = [int(item["caption"].split("%")[0]) for item in images]
    assert confidences == sorted(confidences, reverse=True)


def test_confusions_on_drawn_characters(client, lab):
    """The Confusions tab's second test set: the live models' mistakes on characters drawn with a pen."""
    live = lab.models.get("cnn")
    if live.drawn_report is None:
        pytest.skip(f"no drawn-input report beside {live.path.name}")
    summary, matrix, _pairs, _table, _ = client.predict("cnn", "unipen", api_name="/confusions")
    assert "drawn test characters" in summary and "By section: digits" in summary
    assert f"{live.drawn_report['accuracy']:.1%}" in summary and matrix is not None
    top = live.drawn_report["confused_pairs"][0]
    deadline = time.time() + 180  # the drawn characters load on first request (a minute the first time)
    while True:
        true, pred, images, note = client.predict(
            "cnn", f"{top['true']} -> {top['predicted']}", "unipen", api_name="/gallery_pair"
        )
        if images or time.time() > deadline or "not available" in note:
            break
        time.sleep(2)
    if "not available" in note:
        pytest.skip(note)
    assert (true, pred) == (top["true"], top["predicted"])
    assert len(images) == min(top["count"], confusions.GALLERY_MAX) and "drawn test characters" in note
    # The EMNIST test set is still the default for a caller that names none.
    summary, *_ = client.predict("cnn", api_name="/confusions")
    assert "EMNIST test images" in summary


@pytest.mark.parametrize(
    "api, args",
    [
        ("/confusions", ("cnn", "emnist")),
        ("/gallery", ("cnn", "O", "0", "drawn")),
        ("/gallery_pair", ("cnn", "O -> 0", "UNIPEN")),
    ],
)
def test_an_unknown_test_set_is_refused_with_the_choices(client, api, args):
    """Only an absent test set (an old client's) means EMNIST's; a name that is none of them is refused."""
    with pytest.raises(AppError) as refused:
        client.predict(*args, api_name=api)
    assert "unknown test set" in refused.value.message.lower()
    assert "pool47" in refused.value.message and "unipen" in refused.value.message


def test_a_model_put_live_while_a_tab_is_drawn_changes_nothing(lab, monkeypatch):
    """Another teacher's *Use this model* lands after a tab's handler picked the live model and before it drew
    that model's figures: they are still drawn, and are the picked model's."""
    from emnist_core.lab import cards
    from ui import models

    picked = lab.models.get("mlp")
    other = dataclasses.replace(picked, name="another-mlp", path=picked.path.with_name("another-mlp.keras"))

    def put_live_meanwhile(step):
        def then_step(*args, **kwargs):
            monkeypatch.setattr(lab.models, "_pair", Pair.serving({**lab.models.pair.models, "mlp": other}))
            return step(*args, **kwargs)

        return then_step

    for step in ("report_summary", "card_markdown"):  # what each handler does between the two
        monkeypatch.setattr(cards, step, put_live_meanwhile(getattr(cards, step)))
    _, matrix, *_ = confusions.confusions(lab, "mlp")
    assert f'alt="{picked.name} on EMNIST test"' in matrix
    monkeypatch.setattr(lab.models, "_pair", Pair.serving({**lab.models.pair.models, "mlp": picked}))
    _, curves, _ = models.model_card(lab, "mlp")
    assert f'alt="{picked.name}: training curves"' in curves


def test_shortcut_and_pair_endpoints_fill_the_gallery(client, lab, with_data):
    true, pred, images, _ = client.predict("cnn", api_name="/gallery_Z_2")
    assert (true, pred) == ("Z", "2")
    assert all(item["caption"].endswith(f"%: {display_name('Z')} -> {display_name('2')}") for item in images)
    _, _, pairs, _, _ = client.predict("cnn", api_name="/confusions")  # the ranking a person chooses from
    top = lab.models.get("cnn").report["confused_pairs"][0]
    assert pairs["choices"][0] == [
        f"{display_name(top['true'])} -> {display_name(top['predicted'])}: {top['count']}",
        f"{top['true']} -> {top['predicted']}",
    ]
    true, pred, images, _ = client.predict("cnn", f"{top['true']} -> {top['predicted']}", api_name="/gallery_pair")
    assert (true, pred) == (top["true"], top["predicted"])
    assert len(images) == min(top["count"], confusions.GALLERY_MAX)


def test_a_lesson_shows_only_its_classes_each_read_among_them(client, lab):
    """The Confusions tab in the digits lesson, as the Draw tab reads in it: only drawn digits count, each read
    among the ten digits alone; the matrix, pairs, table and gallery are the lesson's."""
    import numpy as np

    from emnist_core.data.drawn import drawn_test
    from emnist_core.data.labels import lesson_classes

    summary, matrix, pairs, table, _ = client.predict("cnn", DRAWN, "digits", api_name="/confusions")
    # What the page serves, worked out here on its own: the drawn test digits through the live pair.
    x, y, _ = drawn_test(lab.tests.dataset(DRAWN))
    digits = y < 10
    read = lab.models.pair.predictor.probabilities(x[digits], "digits")["cnn"].argmax(axis=1)
    assert f"{digits.sum():,} drawn test characters" in summary and "Digits 0-9" in summary
    assert f"accuracy **{(read == y[digits]).mean():.1%}**" in summary
    assert sorted(row[0] for row in table["data"]) == list(lesson_classes("digits"))
    assert matrix is not None
    chosen = [value for _, value in pairs["choices"]]
    assert chosen and all(part.isdigit() for value in chosen for part in value.split(" -> "))
    true, pred = (int(c) for c in chosen[0].split(" -> "))
    count = int(((y[digits] == true) & (read == pred)).sum())
    assert pairs["choices"][0][0].endswith(f": {count}")
    _, _, images, note = client.predict("cnn", chosen[0], DRAWN, "digits", api_name="/gallery_pair")
    assert len(images) == min(count, confusions.GALLERY_MAX) > 0 and "lesson: Digits 0-9" in note
    # A pair outside the lesson is named as such, not searched.
    _, _, images, note = client.predict("cnn", DRAWN, "digits", api_name="/gallery_O_0")
    assert not images and f"{O_WORDS} is not in the lesson 'Digits 0-9'" in note
    # All classes: the report saved with the model, as before.
    every, *_ = client.predict("cnn", DRAWN, "all", api_name="/confusions")
    assert every == client.predict("cnn", DRAWN, api_name="/confusions")[0] and "lesson" not in every
    assert f"{lab.models.get('cnn').drawn_report['n']:,} drawn" in every
    assert np.isin(read, range(10)).all()


@pytest.mark.parametrize(
    "true, pred, says", [("O", "O", "two different"), ("?", "0", "not an EMNIST"), ("o", "0", "read as")]
)
def test_gallery_input_is_validated(client, with_data, true, pred, says):
    images, note = client.predict("mlp", true, pred, api_name="/gallery")
    assert says in note
    assert bool(images) == (says == "read as")  # lower-case o is merged into O in ByMerge


def test_without_data_the_shipped_report_still_shows(client, lab, monkeypatch):
    def missing():
        raise DataNotFoundError("EMNIST bymerge test files not found (looked in nowhere)")

    emnist_from(lab, monkeypatch, missing)
    summary, matrix, _pairs, table, note = client.predict("mlp", api_name="/confusions")
    assert "accuracy" in summary and matrix is not None
    assert table["data"] and len(table["data"]) == len(CLASSES)
    assert "EMNIST_DATA_DIR" in note
    images, note = client.predict("mlp", "O", "0", api_name="/gallery")
    assert images == [] and "EMNIST_DATA_DIR" in note
    status, *_ = client.predict("seed-mlp", 1, 128, 1e-3, 500, api_name="/train")
    assert "EMNIST_DATA_DIR" in status


def test_missing_data_dir_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("EMNIST_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="nowhere"):
        load_emnist()


def test_training_can_be_turned_off(training_off):
    lab, client = training_off
    status, *_ = client.predict("seed-mlp", 1, 128, 1e-3, 500, api_name="/train")
    assert "turned off" in status
    assert lab.jobs.current is None


def test_cancel_stops_training_and_one_job_runs_at_a_time(client, lab, with_data, tmp_path):
    models = Path(os.environ["EMNIST_MODELS_DIR"])
    before, previous = set(models.glob("*.keras")), lab.jobs.current
    job = client.submit("seed-cnn", 5, 32, 1e-3, 5000, api_name="/train")  # a minute or more if let run
    deadline = time.monotonic() + 60
    while lab.jobs.current is previous or lab.jobs.current.batch == 0:
        assert time.monotonic() < deadline and not job.done(), "training did not start"
        time.sleep(0.05)
    status, _ = client.predict("seed-mlp", 1, 128, 1e-3, 500, api_name="/train")
    assert status.startswith("Busy")
    mlp, cnn, _, _ = client.predict(sketch(sketch_file(tmp_path, "7")), api_name="/predict")  # drawing still works
    assert mlp["label"] == cnn["label"] == "7"
    assert not job.done()
    assert "Cancelling" in client.predict(api_name="/cancel_training")
    status, _ = job.result(timeout=60)
    assert "cancelled" in status
    assert set(models.glob("*.keras")) == before
    assert not lab.jobs.busy


def test_bad_training_settings_get_a_message(client, with_data):
    status, *_ = client.predict("seed-mlp", 1, 128, 5.0, 500, api_name="/train")
    assert "learning rate" in status


def test_tiny_retrain_gets_both_reports_and_goes_live_after_a_warning(client, lab, with_data, tmp_path):
    """A tiny model, trained through the API, is scored on EMNIST and on drawn characters as part of its job; it
    reads worse than the shipped one, so *Use this model* says so with both figures and puts it live only on the
    second press; then every view works for it."""
    shipped = lab.models.get("mlp")
    status, curves = client.predict("seed-mlp", 1, 128, 1e-3, 500, api_name="/train")
    assert status.startswith(f"Done. **{lab.jobs.current.path.stem}**, scored on"), status
    assert curves is not None
    path = lab.jobs.current.path
    assert path.parent == Path(os.environ["EMNIST_MODELS_DIR"]) and store.ASSETS_DIR not in path.parents
    drawn = store.read_report(store.report_path(path, DRAWN))
    assert store.read_report(store.report_path(path)) and drawn and drawn["n"] == len(lab.tests.dataset(DRAWN).y_test)
    assert "drawn test characters" in status and "EMNIST test images" in status and "asks you to confirm" in status
    says_nothing_of_the_server(status)

    warning = client.predict(api_name="/use_model")
    assert warning.startswith("**Careful: this model reads worse"), warning
    for report in (drawn, shipped.drawn_report):  # on drawn characters, both figures
        assert f"**{report['mean_recall']:.1%}** mean per-class accuracy ({report['accuracy']:.1%} of all" in warning
    assert retrain.CONFIRM_LABEL in warning and lab.models.get("mlp") is shipped  # not live yet
    says_nothing_of_the_server(warning)
    message = client.predict(api_name="/use_model")  # the second press: put live
    assert "is live" in message, message
    assert lab.models.get("mlp").path == path
    summary, matrix, *_ = client.predict("mlp", "unipen", api_name="/confusions")
    assert summary.startswith(
        f"**MLP · {path.stem}** on {len(lab.tests.dataset(DRAWN).y_test):,} drawn test characters"
    ), summary
    assert matrix is not None
    summary, *_ = client.predict("mlp", api_name="/confusions")
    assert path.stem in summary
    for text in client.predict(api_name="/model_cards"):
        if isinstance(text, str):
            says_nothing_of_the_server(text)
    mlp, cnn, _, _ = client.predict(sketch(sketch_file(tmp_path, "7")), api_name="/predict")
    assert mlp["confidences"] and cnn["label"] == "7"  # a 500-image MLP may misread; it must still answer

    message = client.predict(api_name="/restore_models")
    assert "shipped models are live" in message
    assert lab.models.get("mlp").path == shipped.path


def test_choosing_an_architecture_offers_its_own_settings(client):
    for name, spec in REGISTRY.items():
        epochs, batch_size, learning_rate = client.predict(name, api_name="/architecture_defaults")
        assert (epochs, batch_size, learning_rate) == (
            spec.hyperparameters["epochs"],
            spec.hyperparameters["batch_size"],
            spec.hyperparameters["learning_rate"],
        )


def test_explain_gives_one_captioned_overlay_per_live_model(client, lab, tmp_path):
    from emnist_core.serving.explain import OVERLAY_PX

    mlp, cnn, captions = client.predict(sketch(sketch_file(tmp_path, "7")), api_name="/explain")
    for overlay in (mlp, cnn):
        with Image.open(overlay) as image:
            assert image.size == (OVERLAY_PX, OVERLAY_PX) and image.mode == "RGB"
    lines = captions.splitlines()
    assert [line.split(":")[0] for line in lines] == ["MLP", "CNN"]
    assert all(line.endswith("read 7") for line in lines), lines
    assert len(lab.models.pair.models) == 2


def test_explain_without_a_drawing_gives_no_overlay(client):
    mlp, cnn, captions = client.predict(None, api_name="/explain")
    assert mlp is None and cnn is None and "Why the MLP reads it" in captions


@pytest.fixture
def corrections(lab, tmp_path, monkeypatch):
    """The lab's corrections go to a folder of this test's own."""
    from emnist_core.lab.corrections import CorrectionStore

    store = CorrectionStore(tmp_path / "corrections")
    monkeypatch.setattr(lab, "classroom", Classroom(lab.guard, store))
    return store


def test_correct_keeps_what_the_models_saw_for_a_new_server(client, lab, corrections, tmp_path):
    from emnist_core.lab.corrections import CorrectionStore

    drawing = sketch_file(tmp_path, "7")
    message = client.predict(sketch(drawing), "1", api_name="/correct")
    assert message.startswith(f"Kept as **{display_name('1')}**: 1 correction ")
    kept = CorrectionStore(corrections.folder).load()  # what a restarted server reads
    assert len(kept) == 1 and kept.names == ["1"]
    x28, tops = lab.models.pair.predictor.predict_drawing(Image.open(drawing), 5)
    assert (kept.x[0] == x28).all()  # the very 28x28 the models read: one transform for both
    assert kept.tops[0]["cnn"][0][0] == tops["cnn"][0][0]


def test_downloads_reuse_one_folder(client, lab, corrections, tmp_path, monkeypatch):
    client.predict(sketch(sketch_file(tmp_path, "7")), "7", api_name="/correct")
    made = tmp_path / "temporary"
    made.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(made))  # every temporary folder this process makes goes here now
    downloads = {finetune.corrections_csv(lab)[0] for _ in range(3)}  # three teachers press Download
    assert len(downloads) == 1 and len(Path(downloads.pop()).read_text().splitlines()) == 1
    assert len(list(made.iterdir())) <= 1  # one folder for this server, made on first use: not one per click


@pytest.mark.parametrize("label, says", [("no-class", "is not a class the models know"), ("", "Choose what it")])
def test_correct_names_what_is_wrong_and_keeps_nothing(client, corrections, tmp_path, label, says):
    assert says in client.predict(sketch(sketch_file(tmp_path, "7")), label, api_name="/correct")
    assert corrections.count() == 0


def test_correct_is_refused_while_training_is_off_unless_collection_is_allowed(training_off, tmp_path, monkeypatch):
    from emnist_core.lab.corrections import COLLECTION_OFF, CorrectionStore
    from emnist_core.lab.guard import Switches

    lab, client = training_off  # a server started with training, and so corrections, off
    corrections = CorrectionStore(tmp_path / "corrections")
    monkeypatch.setattr(lab, "classroom", Classroom(lab.guard, corrections))
    payload = sketch(sketch_file(tmp_path, "7"))
    assert client.predict(payload, "7", api_name="/correct") == COLLECTION_OFF
    assert corrections.count() == 0
    # Its owner allowed corrections on their own (EMNIST_ALLOW_CORRECTIONS=1).
    monkeypatch.setattr(lab.guard, "switches", Switches(training=False, corrections=True))
    assert client.predict(payload, "7", api_name="/correct").startswith("Kept")
    assert corrections.count() == 1


def test_clearing_the_corrections_needs_the_box_ticked(client, corrections, tmp_path):
    client.predict(sketch(sketch_file(tmp_path, "7")), "7", api_name="/correct")
    assert "tick the box" in client.predict(False, api_name="/clear_corrections")
    assert "tick the box" in client.predict("yes", api_name="/clear_corrections")
    assert corrections.count() == 1
    assert client.predict(True, api_name="/clear_corrections").startswith("Deleted 1 correction;")
    assert corrections.count() == 0


def test_fine_tune_on_corrections_reports_before_and_after(client, lab, corrections, with_data, tmp_path):
    from emnist_core.lab.finetune import HOLDOUT

    count = 12
    for k in range(count):  # twelve drawings, each its own (one drawing sent twice is kept once)
        client.predict(pad_value("X", wobble=6 * k), "X", api_name="/correct")
    status = client.predict("mlp", api_name="/fine_tune")
    assert status.startswith("**Fine-tuned MLP") and "| accuracy on | before | after |" in status, status
    assert f"the newest corrections (held out, never trained on) ({round(HOLDOUT * count)})" in status
    assert "drawn test characters" in status and "EMNIST test images" in status
    says_nothing_of_the_server(status)
    csv_file, _ = client.predict(api_name="/corrections_csv")
    assert len(Path(csv_file).read_text().splitlines()) == count
    try:  # the fine-tuned model can be put live like any retrained one, with both its reports
        message = client.predict(api_name="/use_fine_tuned")
        if message.startswith("**Careful"):  # it reads worse than the live model: the second press puts it live
            assert retrain.CONFIRM_LABEL in message and not lab.models.get("mlp").name.startswith(
                "mlp-pen-prior-fixed-"
            )
            message = client.predict(api_name="/use_fine_tuned")
        assert "is live" in message, message
        assert lab.models.get("mlp").name.startswith("mlp-pen-prior-fixed-")
        assert lab.models.get("mlp").report and lab.models.get("mlp").drawn_report
    finally:
        lab.models.restore()


def retrained_copy(lab, drawn_recall_change: float) -> Path:
    """The live MLP's file, card and reports copied into the retrained-models folder as a new model, its drawn
    report's mean per-class accuracy changed by ``drawn_recall_change``."""
    import json
    import shutil

    live = lab.models.shipped.models["mlp"]
    path = lab.models.models_folder() / f"{live.name}-copy-{abs(drawn_recall_change):.0e}.keras"
    shutil.copy(live.path, path)
    shutil.copy(store.card_path(live.path), store.card_path(path))
    shutil.copy(store.report_path(live.path), store.report_path(path))
    drawn = {**live.drawn_report, "mean_recall": live.drawn_report["mean_recall"] + drawn_recall_change}
    store.report_path(path, DRAWN).write_text(json.dumps(drawn))
    return path


def test_use_puts_a_model_at_least_as_good_live_at_once_and_asks_for_a_worse_one(lab):
    lab.models.restore()
    try:
        as_good = retrained_copy(lab, 0.0)
        message, warned, button = retrain.use_model(lab, retrain.USE_LABEL, str(as_good))
        assert "is live" in message and warned is None and button["value"] == retrain.USE_LABEL
        assert lab.models.get("mlp").path == as_good
        lab.models.restore()

        worse = retrained_copy(lab, -0.001)  # a tenth of a point is worse
        message, warned, button = retrain.use_model(lab, retrain.USE_LABEL, str(worse))
        assert message.startswith("**Careful") and button["value"] == retrain.CONFIRM_LABEL
        assert "drawn test characters" in message and lab.models.get("mlp") is lab.models.shipped.models["mlp"]
        says_nothing_of_the_server(message)
        lab.models.put_live(as_good)  # another teacher's put-live meanwhile: the warning was about another live model
        message, warned, _ = retrain.use_model(lab, retrain.USE_LABEL, str(worse), warned)
        assert message.startswith("**Careful") and lab.models.get("mlp").path == as_good
        message, warned, button = retrain.use_model(lab, retrain.USE_LABEL, str(worse), warned)  # confirmed
        assert "is live" in message and warned is None and button["value"] == retrain.USE_LABEL
        assert lab.models.get("mlp").path == worse
    finally:
        lab.models.restore()


def test_the_data_notes_say_which_data_is_in_use(lab, with_data):
    from emnist_core.data import pack

    words = (
        "from the demo data pack"
        if str(pack.pack_file("pool47")) in lab.tests.dataset(EMNIST).sources
        else "from the full EMNIST files"
    )
    note, size, _ = retrain.retrain_setup(lab)
    assert note.startswith(f"{len(lab.tests.dataset(EMNIST).y_train):,} training images available, {words}."), note
    assert size["value"] == min(retrain.DEFAULT_TRAIN_SIZE, len(lab.tests.dataset(EMNIST).y_train))
    assert confusions.data_note(lab) == f"{len(lab.tests.dataset(EMNIST).y_test):,} EMNIST test images, {words}."
    says_nothing_of_the_server(note)


# ---------------------------------------------------------------- lessons (issue 19)


def bar_file(folder: Path) -> Path:
    """A bare vertical bar, drawn with the sketchpad's brush: a 1, or an l, or an I, until a lesson says which."""
    from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS

    image = Image.new("RGBA", (CANVAS, CANVAS), "white")
    ImageDraw.Draw(image).line(
        [(CANVAS / 2, CANVAS * 0.15), (CANVAS / 2, CANVAS * 0.85)], fill="black", width=2 * BRUSH_RADIUS
    )
    path = folder / "bar.png"
    image.save(path)
    return path


def test_in_the_digits_lesson_a_bar_is_a_1_and_no_letter_appears(client, tmp_path):
    mlp, cnn, _, verdict = client.predict(sketch(bar_file(tmp_path)), "digits", api_name="/predict")
    for top in (mlp, cnn):
        assert top["label"] == "1"
        shown = [c["label"] for c in top["confidences"]]
        assert len(shown) == draw.TOP_K and all(name.isdigit() for name in shown), shown
    assert "Both models read 1" in verdict
    _, _, captions = client.predict(sketch(bar_file(tmp_path)), "digits", api_name="/explain")
    assert all(line.endswith("read 1") for line in captions.splitlines()), captions


def test_the_lesson_is_optional_and_all_by_default(client, tmp_path):
    drawing = sketch(sketch_file(tmp_path, "X"))
    assert client.predict(drawing, api_name="/predict") == client.predict(drawing, "all", api_name="/predict")
    mlp, cnn, _, _ = client.predict(drawing, "upper", api_name="/predict")
    assert all(c["label"].isupper() for top in (mlp, cnn) for c in top["confidences"])


@pytest.mark.parametrize("api, args", [("/predict", ()), ("/explain", ()), ("/correct", ("7",))])
def test_an_unknown_lesson_is_refused_with_the_choices(client, corrections, tmp_path, api, args):
    with pytest.raises(AppError, match="Unknown lesson 'sums'; choose one of all, digits, letters, upper"):
        client.predict(sketch(sketch_file(tmp_path, "7")), *args, "sums", api_name=api)
    assert corrections.count() == 0


def test_a_correction_keeps_what_the_models_read_in_its_lesson(client, corrections, tmp_path):
    from emnist_core.lab.corrections import CorrectionStore

    assert client.predict(sketch(bar_file(tmp_path)), "1", "digits", api_name="/correct").startswith("Kept")
    kept = CorrectionStore(corrections.folder).load()
    assert all(name.isdigit() for top in kept.tops[0].values() for name, _ in top), kept.tops[0]


def test_the_api_page_names_the_types_it_takes(demo):
    endpoints = demo.get_api_info()["named_endpoints"]
    for name in ("/predict", "/explain", "/correct"):
        parameters = {p["parameter_name"]: p for p in endpoints[name]["parameters"]}
        assert parameters["sketch"]["python_type"]["type"].startswith(
            "dict(strokes: list[list[list[float]]], composite: None | filepath"
        ), name
        assert parameters["lesson"]["type"] == {"enum": ["all", "digits", "letters", "upper"]}, name
        assert parameters["lesson"]["parameter_default"] == "all"
    answers = [r["python_type"]["type"] for r in endpoints["/predict"]["returns"]]
    assert answers[0] == "None | dict(label: str, confidences: list[dict(label: str, confidence: float)])"
    assert answers[2:] == ["str", "str"]


def test_a_late_tick_cannot_hide_how_the_job_ended():
    """The page's 1-second tick shows the epochs while the batches run, and leaves the status alone once they are
    done: on a busy server a tick answered late would otherwise land after the Done message and hide it."""
    from types import SimpleNamespace

    from emnist_core.lab.figures import FigureCache
    from emnist_core.lab.jobs import Job
    from emnist_core.training.config import EVALUATING, SAVING, TrainConfig

    job = Job("training", TrainConfig("seed-mlp", epochs=2))
    job.take(("epoch", {"loss": 1.0}))  # the first epoch has ended, the second is under way
    job.take(("batch", 1, 3, 10))
    lab = SimpleNamespace(jobs=SimpleNamespace(current=job), figures=FigureCache())
    status, *_ = retrain.training_view(lab, 0)
    assert status.startswith("Training seed-mlp: epoch 2 of 2 · batch 3 of 10")  # the epoch under way
    for stage in (EVALUATING, SAVING):
        job.stage = stage
        status, _, _, timer = retrain.training_view(lab, 1)
        assert status == {"__type__": "update"} and timer.active  # still ticking, saying nothing new


def test_a_letter_drawn_in_the_digits_lesson_is_told_it_is_not_a_digit(lab):
    """Read among the ten digits an "A" is only a doubtful 4 or 1; the page says that, among all characters, both
    models read it as A and that the lesson reads only digits. A digit drawn in the lesson gets no such hint."""
    import asyncio

    *_, verdict = asyncio.run(draw.draw(lab, pad_value("A"), "digits"))
    assert verdict.startswith("## ") and "Not in this lesson?" in verdict, verdict
    assert "both models read **A**" in verdict and "*Digits 0-9*" in verdict
    *_, everywhere = asyncio.run(draw.draw(lab, pad_value("A"), "all"))
    assert "Not in this lesson?" not in everywhere
    *_, seven = asyncio.run(draw.draw(lab, pad_value("7"), "digits"))
    assert "Not in this lesson?" not in seven
