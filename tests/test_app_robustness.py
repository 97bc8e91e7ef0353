"""Robustness and security of the app, over its API as strangers would use it: bad input, bad files,
retraining faults, untrusted content. The app runs in this process, launched as ``python app.py`` launches it.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from PIL import Image, ImageFile

from emnist_core.data.datasets import load_dataset
from emnist_core.data.files import LABEL_MAGIC
from emnist_core.data.preprocess import DAMAGED_IMAGE, EMPTY_FILE, MAX_IMAGE_PIXELS, NOT_AN_IMAGE, SIDE
from emnist_core.data.sketchpad import CANVAS
from emnist_core.lab.job_process import JobSpec
from emnist_core.lab.jobs import Job, run_in_thread
from emnist_core.lab.live import MODELS_IN_ASSETS
from emnist_core.lab.verdict import NO_MODEL_MESSAGE
from emnist_core.models import store
from emnist_core.models.evaluation import CLASS_ECHO, EMNIST
from emnist_core.training import train as training
from emnist_core.training.config import SAVING
from ui import confusions, draw, models, retrain
from ui.checks import MAX_MESSAGE, PHOTO_TAKES
from ui.page import MAX_UPLOAD, TRAIN_CONCURRENCY

from conftest import (
    NUM_CLASSES,
    emnist_from,
    idx_bytes,
    l_shapes,
    png_bomb,
    served,
    sketch,
    sketch_file,
    untrained_model,
    write_csv,
    write_idx_pair,
)

gradio_client = pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")
from gradio_client.exceptions import AppError  # noqa: E402

SHORTENED = " ... "  # what the app puts where it cut a long message short
TINY_TRAIN = ("seed-mlp", 1, 128, 1e-3, 500)  # architecture, epochs, batch size, learning rate, images
SHIPPED = ("seed-mlp", "seed-cnn")


def assert_clear(message):
    """A short message for a person: no traceback, no source lines."""
    text = str(message)
    assert 0 < len(text) <= MAX_MESSAGE + len(SHORTENED), text
    assert "Traceback" not in text and 'File "' not in text and "Error:" not in text, text


@pytest.fixture(scope="module")
def base_url(app_module, demo):
    with served(demo, **app_module.LAUNCH_OPTIONS) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def client(base_url):
    return gradio_client.Client(f"{base_url}/", verbose=False)


def assert_still_serves(client, folder):
    mlp, cnn, _, _ = client.predict(sketch(sketch_file(folder, "7")), api_name="/predict")
    assert mlp["label"] == cnn["label"] == "7"


def call(base_url, api, data) -> tuple[str, object]:
    """One call through Gradio's REST API without gradio_client, as any program can make it -> (event, data)."""
    posted = httpx.post(f"{base_url}/gradio_api/call/{api}", json={"data": data}, timeout=30)
    posted.raise_for_status()
    stream = httpx.get(f"{base_url}/gradio_api/call/{api}/{posted.json()['event_id']}", timeout=60).text
    events = [line[6:].strip() for line in stream.splitlines() if line.startswith("event:")]
    payloads = [line[5:].strip() for line in stream.splitlines() if line.startswith("data:")]
    return events[-1], json.loads(payloads[-1])


def files_in(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``folder``, hidden temporaries included, with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


# 1. Bad input ---------------------------------------------------------------------------------------


def image_file(folder: Path, kind: str) -> Path:
    """One input file of each kind the issue lists; the name always ends in .png, whatever the content."""
    path = folder / f"{kind.replace(' ', '-')}.png"
    seven = Image.open(sketch_file(folder, "7")).convert("L")
    if kind == "blank white":
        Image.new("RGBA", seven.size, "white").save(path)
    elif kind == "transparent":
        Image.new("RGBA", seven.size, (0, 0, 0, 0)).save(path)
    elif kind == "full ink":
        Image.new("RGBA", seven.size, "black").save(path)
    elif kind == "single dot":
        dot = Image.new("L", seven.size, 255)
        dot.putpixel((dot.width // 2, dot.height // 2), 0)
        dot.save(path)
    elif kind == "greyscale":
        seven.save(path)
    elif kind == "16-bit":
        Image.fromarray(np.asarray(seven).astype(np.uint16) * 257).save(path)
    elif kind == "bomb":
        png_bomb(path, BOMB_SIDE, BOMB_SIDE)
    elif kind == "over the pixel limit":
        png_bomb(path, OVER_SIDE, OVER_SIDE)
    elif kind == "not an image":
        path.write_bytes(b"these are my notes, not a picture\n" * 20)
    elif kind == "zero bytes":
        path.write_bytes(b"")
    elif kind == "truncated":
        seven.save(folder / "whole.png")
        whole = (folder / "whole.png").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    return path


# Inputs the models can read, or that hold no character: an answer in the verdict box, never an error.
READABLE = {"greyscale": "7", "16-bit": "7"}
NO_CHARACTER = ("blank white", "transparent", "full ink")
TOO_SMALL = ("single dot",)  # told to draw bigger, never given a guess
# Files that are no image the app can use: refused with a message before any handler runs.
REFUSED = ("not an image", "zero bytes", "bomb", "over the pixel limit", "truncated")
BOMB_SIDE = 20_000  # over Pillow's own limit (2 x Image.MAX_IMAGE_PIXELS), which stops it at the header
OVER_SIDE = math.isqrt(MAX_IMAGE_PIXELS) + 1  # under Pillow's limit, just over the app's


def refusal(kind: str) -> str:
    """The app's message for each refused file."""
    return {
        "not an image": NOT_AN_IMAGE,
        "zero bytes": EMPTY_FILE,
        "bomb": f"over {MAX_IMAGE_PIXELS:,} pixels: scale it down first",
        "over the pixel limit": f"That image is {OVER_SIDE}x{OVER_SIDE} pixels, over {MAX_IMAGE_PIXELS:,}: scale it "
        "down first",
        "truncated": DAMAGED_IMAGE,
    }[kind]


ENDPOINTS = {"/predict": lambda path: sketch(path), "/predict_photo": gradio_client.handle_file}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("kind", [*READABLE, *NO_CHARACTER, *TOO_SMALL])
def test_odd_images_get_predictions_or_a_message(client, tmp_path, endpoint, kind):
    mlp, cnn, preview, verdict = client.predict(ENDPOINTS[endpoint](image_file(tmp_path, kind)), api_name=endpoint)
    assert_clear(verdict)
    if kind in NO_CHARACTER + TOO_SMALL:
        assert not mlp and not cnn and "img" not in preview  # labels and preview cleared
        assert ("bigger" if kind in TOO_SMALL else "draw a character") in verdict
    else:
        assert mlp["confidences"] and cnn["confidences"] and "read" in verdict
        assert READABLE[kind] in (None, mlp["label"]) and READABLE[kind] in (None, cnn["label"])


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("kind", REFUSED)
def test_bad_files_are_refused_before_decoding_and_the_server_keeps_serving(
    client, app_module, tmp_path, monkeypatch, endpoint, kind
):
    decoded = []  # the server runs in this process: record every image Pillow decodes
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    with pytest.raises(AppError) as refused:
        client.predict(ENDPOINTS[endpoint](image_file(tmp_path, kind)), api_name=endpoint)
    assert refusal(kind) in refused.value.message
    assert_clear(refused.value.message)
    assert all(w * h <= MAX_IMAGE_PIXELS for w, h in decoded), decoded  # no pixel of an oversized image decoded
    assert_still_serves(client, tmp_path)


@pytest.mark.parametrize(
    "payload",
    [[1, 2, 3], "a drawing", 7, {"composite": "/etc/passwd"}, {"composite": [[0, 255], [255, 0]]}, {"layers": "abc"}],
    ids=["list", "string", "number", "path string", "nested list", "layers string"],
)
def test_sketch_payloads_of_the_wrong_shape_get_a_message(client, tmp_path, payload):
    with pytest.raises(AppError) as refused:
        client.predict(payload, api_name="/predict")
    assert refused.value.message.startswith("/predict cannot use what was sent")
    assert '{"composite": an image file}' in refused.value.message
    assert_clear(refused.value.message)
    assert_still_serves(client, tmp_path)


@pytest.mark.parametrize(
    "payload",
    [{}, {"layers": []}, {"background": None, "layers": [], "composite": None}, None],
    ids=["no keys", "layers only", "all empty", "none"],
)
def test_sketch_payloads_without_an_image_read_as_an_empty_canvas(client, payload):
    mlp, cnn, _, verdict = client.predict(payload, api_name="/predict")
    assert not mlp and not cnn and verdict == draw.EMPTY_MESSAGE


@pytest.mark.parametrize("payload", [[[0, 255]], "a photo", {"orig_name": "x.png"}], ids=["list", "string", "no file"])
def test_photo_payloads_of_the_wrong_shape_get_a_message(client, payload):
    with pytest.raises(AppError) as refused:
        client.predict(payload, api_name="/predict_photo")
    assert (
        refused.value.message
        == PHOTO_TAKES
        == ("/predict_photo cannot use what was sent. It takes Photo: an image file.")
    )


ARRAYS = {  # what no JSON payload can carry, given straight to the handler
    "NaN": np.full((CANVAS, CANVAS), np.nan),
    "infinite": np.full((CANVAS, CANVAS, 4), np.inf, np.float32),
    "1-D": np.zeros(CANVAS),
    "4-D": np.zeros((2, 40, 40, 4)),
    "5 channels": np.zeros((40, 40, 5), np.uint8),
    "0x0": np.zeros((0, 0)),
    "objects": np.array([[object(), None]]),
    "ragged rows": [[0, 255], [255]],
    "text": "a drawing",
    "number": 7,
}


NOT_IMAGES = ("ragged rows", "text", "number")  # no image at all: a sketch holding one is refused


@pytest.mark.parametrize("name", list(ARRAYS))
@pytest.mark.parametrize("handler", ["predict", "predict_photo"])
def test_unreadable_arrays_get_a_message_from_the_handlers(lab, name, handler):
    value = ARRAYS[name]
    if handler == "predict" and name in NOT_IMAGES:  # the sketch reader's check, the same as over the API
        with pytest.raises(gr.Error) as refused:
            draw.predict(lab, {"composite": value})
        assert refused.value.message.startswith("/predict cannot use what was sent")
        return
    value = {"composite": value} if handler == "predict" else value
    mlp, cnn, preview, verdict = getattr(draw, handler)(lab, value)
    assert mlp is None and cnn is None and "img" not in preview
    assert_clear(verdict)
    if name in ("NaN", "infinite"):
        assert "NaN or infinite" in verdict


@pytest.fixture
def fake_data(lab, monkeypatch):
    """Training images as far as the Retrain tab's checks go: enough to reach the settings' validation."""
    emnist_from(lab, monkeypatch, lambda: SimpleNamespace(y_train=np.zeros(5000)))


@pytest.mark.parametrize(
    "body, says",
    [
        ('["seed-mlp", NaN, 128, 0.001, 500, null, ""]', "epochs must be a number"),
        ('["seed-mlp", 1, 128, Infinity, 500, null, ""]', "learning rate must be a number"),
        ('["seed-mlp", 1, 128, 0.001, -Infinity, null, ""]', "training images must be a number"),
    ],
)
def test_nan_and_infinity_sent_over_http_get_a_message(base_url, fake_data, body, says):
    # The raw protocol sends every input: the two last are the confirm state and the teacher key.
    posted = httpx.post(
        f"{base_url}/gradio_api/call/train",
        content=f'{{"data": {body}}}',
        headers={"content-type": "application/json"},
        timeout=30,
    )
    stream = httpx.get(f"{base_url}/gradio_api/call/train/{posted.json()['event_id']}", timeout=60).text
    assert says in stream and "Traceback" not in stream


@pytest.mark.parametrize(
    "settings, says",
    [
        (("seed-mlp", "abc", 128, 1e-3, 500), "epochs must be a number"),
        (("seed-mlp", 1, 128, 1e-3, 100), "training images must be at least 500, got 100"),
        (("seed-mlp", 1000, 128, 1e-3, 500), "epochs must be between 1 and 50, got 1000"),
        (("seed-mlp", 1, 7, 1e-3, 500), "batch size must be one of 32, 64, 128, 256, 512, 1024, got 7"),
        (("seed-mlp", 1, 128, 0.0, 500), "learning rate must be in (0, 1], got 0.0"),
        (("../../etc/passwd", 1, 128, 1e-3, 500), "architecture must be one of seed-mlp"),
        ((["seed-mlp"], 1, 128, 1e-3, 500), "architecture must be one of seed-mlp"),
        (("seed-mlp", 1, 128, None, 500), "learning rate must be a number"),
    ],
)
def test_bad_training_settings_get_a_message_and_start_nothing(client, lab, fake_data, settings, says):
    previous = lab.jobs.current
    try:
        status, *_ = client.predict(*settings, api_name="/train")
    except AppError as refused:  # refused by Gradio's own checks, before the handler runs
        status = refused.message
    assert says in status
    assert_clear(status)
    assert lab.jobs.current is previous


@pytest.mark.parametrize("value", [float("nan"), float("inf"), None, "many", [3]])
def test_non_numbers_in_training_settings_are_named(lab, fake_data, value):
    for position, name in enumerate(["epochs", "learning rate", "training images"]):
        settings = ["seed-mlp", 1, 128, 1e-3, 500]
        settings[[1, 3, 4][position]] = value
        status, *_ = next(retrain.start_training(lab, *settings))
        assert status == f"Check the settings: {name} must be a number"


@pytest.mark.parametrize(
    "true, says",
    [
        ("../../etc/passwd", "is not an EMNIST ByMerge class"),
        ("x" * 10_000, "'{echo}...' is not an EMNIST ByMerge class"),
        ("<script>alert(1)</script>", "is not an EMNIST ByMerge class"),
        ("", "Choose a pair"),
    ],
)
def test_gallery_names_are_checked_and_echoed_short(client, true, says):
    images, note = client.predict("mlp", true, "0", api_name="/gallery")
    assert images == [] and says.format(echo=true[:CLASS_ECHO]) in note
    assert_clear(note)


def test_a_pair_outside_the_classes_is_named(client):
    *_, images, note = client.predict("mlp", "O -> ../../0", api_name="/gallery_pair")
    assert images == [] and "'../../0' is not an EMNIST ByMerge class" in note


UNKNOWN_MODEL = (
    "Unknown model; choose one of mlp, cnn"  # the app's own check (the endpoints that take the payload as sent)
)
NOT_A_CHOICE = "is not in the list of choices"  # Gradio's, for a dropdown it checks itself
UNKNOWN_LESSON = "Unknown lesson '../../sums'; choose one of all, digits, letters, upper"


@pytest.mark.parametrize(
    "api, args, says",
    [
        ("/gallery", ("../assets", "O", "0"), UNKNOWN_MODEL),
        ("/confusions", ("/etc/passwd",), UNKNOWN_MODEL),
        ("/architecture_defaults", ("../seed-mlp",), NOT_A_CHOICE),
        ("/gallery_O_0", ("~/x",), UNKNOWN_MODEL),
        ("/confusions", ("m" * 100_000,), UNKNOWN_MODEL),
        ("/gallery", (["mlp"], "O", "0"), UNKNOWN_MODEL),
        ("/confusions", ("mlp", "pool47", "../../sums"), UNKNOWN_LESSON),
        (
            "/gallery",
            ("mlp", "O", "0", "pool47", "../../sums" + "x" * 100_000),
            "Unknown lesson '../../sumsxxxxxxxxxx';",
        ),
    ],
)
def test_names_outside_the_choices_are_refused(client, api, args, says):
    with pytest.raises(AppError) as refused:
        client.predict(*args, api_name=api)
    assert says in refused.value.message, refused.value.message
    assert_clear(refused.value.message)  # a huge value is not echoed whole


# 2. Bad files -------------------------------------------------------------------------------------


@pytest.fixture
def assets_copy(app_module, tmp_path, monkeypatch):
    """The seed models with their cards and reports, copied so that a test may damage them, and made
    the live pair (whatever the shipped aliases are) so that damaging them hits what the app serves."""
    monkeypatch.setattr(store, "ALIASES", {"mlp": "seed-mlp", "cnn": "seed-cnn"})
    folder = tmp_path / "assets"
    folder.mkdir()
    for name in SHIPPED:
        for suffix in (".keras", ".card.json", ".report.json"):
            shutil.copy(store.ASSETS_DIR / f"{name}{suffix}", folder)
    return folder


def no_data():
    raise FileNotFoundError("no data in this test")


def test_a_damaged_shipped_model_is_reported_and_the_other_serves(
    client, app_module, lab, assets_copy, monkeypatch, tmp_path, caplog
):
    damaged = assets_copy / "seed-cnn.keras"
    damaged.write_bytes(damaged.read_bytes()[:5000])  # cut short, as by an interrupted copy
    damaged_lab = app_module.Lab(data_loader=lambda: None, assets_dir=assets_copy)
    assert set(damaged_lab.models.pair.models) == {"mlp"}
    problems = damaged_lab.models.load_problems
    assert len(problems) == 1 and str(damaged) in problems[0] and "not a loadable Keras model" in problems[0]
    assert any(str(damaged) in record.getMessage() for record in caplog.records)  # the server log says so too

    monkeypatch.setattr(lab, "models", damaged_lab.models)  # the served lab now serves what damaged_lab does
    config = app_module.build_demo(damaged_lab).config
    notes = [c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == "load-note"]
    assert len(notes) == 1 and str(damaged) in notes[0] and "Restore the files" in notes[0]
    assert "serving: MLP · seed-mlp" in notes[0]

    mlp, cnn, _, verdict = client.predict(sketch(sketch_file(tmp_path, "7")), api_name="/predict")
    assert mlp["label"] == "7" and not cnn  # the CNN label is cleared
    assert verdict.startswith("**The MLP reads 7**") and "no CNN is available" in verdict
    with pytest.raises(AppError, match="No CNN is available on this server"):
        client.predict("cnn", api_name="/confusions")
    images, note = client.predict("cnn", "O", "0", api_name="/gallery")
    assert images == [] and "No CNN is available" in note
    cards = client.predict(api_name="/model_cards")
    assert "seed-mlp" in cards[0] and "No CNN is available" in cards[3]


def test_without_any_model_the_app_still_starts_and_says_so(app_module, tmp_path):
    empty = tmp_path / "empty-assets"
    empty.mkdir()
    lab = app_module.Lab(data_loader=lambda: None, assets_dir=empty)
    assert lab.models.pair.models == {} and len(lab.models.load_problems) == 2
    assert all("model file not found" in problem for problem in lab.models.load_problems)
    app_module.build_demo(lab)
    *_, verdict = draw.predict(lab, {"composite": np.asarray(Image.open(sketch_file(tmp_path, "7")))})
    assert verdict == NO_MODEL_MESSAGE


def test_a_damaged_model_falls_back_to_another_shipped_model_of_its_kind(app_module, assets_copy):
    for suffix in (".keras", ".card.json"):  # a second CNN under another registry name
        shutil.copy(assets_copy / f"seed-cnn{suffix}", assets_copy / f"cnn-bn{suffix}")
    (assets_copy / "seed-cnn.keras").write_text("renamed notes, not a model\n")
    lab = app_module.Lab(data_loader=lambda: None, assets_dir=assets_copy)
    assert lab.models.get("cnn").name == "cnn-bn" and lab.models.get("mlp").name == "seed-mlp"
    assert len(lab.models.load_problems) == 1 and "seed-cnn.keras" in lab.models.load_problems[0]


def test_unsafe_or_unfit_models_are_refused_at_start(app_module, assets_copy, tmp_path):
    import keras

    marker = tmp_path / "code-ran"
    touch_marker = eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]")  # the path saved in the code
    unsafe = untrained_model(body=[keras.layers.Lambda(touch_marker)])
    unsafe.save(assets_copy / "seed-mlp.keras")
    keras.saving.load_model(assets_copy / "seed-mlp.keras", safe_mode=False)
    assert marker.exists()  # loading it unsafely runs its code: only safe mode stands in the way
    marker.unlink()
    letters = untrained_model(outputs=26)
    letters.save(assets_copy / "seed-cnn.keras")

    lab = app_module.Lab(data_loader=lambda: None, assets_dir=assets_copy)
    assert lab.models.pair.models == {} and not marker.exists()
    mlp_problem, cnn_problem = lab.models.load_problems
    assert "seed-mlp.keras: refused by Keras' safe mode" in mlp_problem
    assert "seed-cnn.keras" in cnn_problem and f"not the {NUM_CLASSES} class scores" in cnn_problem


def test_a_missing_card_and_a_damaged_report_are_named_with_what_to_do(app_module, assets_copy):
    (assets_copy / "seed-mlp.card.json").unlink()
    (assets_copy / "seed-cnn.report.json").write_text('{"n": 5, "accuracy"')
    lab = app_module.Lab(data_loader=lambda: None, assets_dir=assets_copy)
    assert set(lab.models.pair.models) == {"mlp", "cnn"} and lab.models.load_problems == []  # both still serve
    card, _, _ = models.model_card(lab, "mlp")
    assert "No model card** (`seed-mlp.card.json` is missing or damaged): restore it" in card
    summary, matrix, *_ = confusions.confusions(lab, "cnn")
    assert "No usable evaluation report (`seed-cnn.report.json`)" in summary and "Retrain tab" in summary
    assert matrix is None


def bad_data_folder(folder: Path, damage: str) -> Path:
    """EMNIST test files for both splits of pool47, the ByMerge one damaged; -> the damaged file."""
    images, labels = l_shapes(60), np.arange(60) % NUM_CLASSES
    write_idx_pair(folder, "byclass", "test", images, labels)
    bad_images, bad_labels = write_idx_pair(folder, "bymerge", "test", images, labels)
    if damage == "wrong magic number":
        with open(bad_images, "wb") as f:  # not gzipped: the reader takes both
            f.write(idx_bytes(images, LABEL_MAGIC))
        return bad_images
    if damage == "wrong count":
        import gzip

        with gzip.open(bad_labels, "wb") as f:
            f.write(idx_bytes(labels[:50], LABEL_MAGIC))
        return bad_labels
    bad_images.unlink()
    bad_labels.unlink()
    csv = write_csv(folder / "emnist-bymerge-test.csv", images, labels)
    csv.write_text("\n".join(",".join(line.split(",")[:10]) for line in csv.read_text().splitlines()))
    return csv


@pytest.mark.parametrize(
    "damage, says",
    [
        ("wrong magic number", "magic number 2049 is not 2051"),
        ("wrong count", "50 labels for 60 images"),
        ("wrong columns", "rows have 10 columns, expected 785"),
    ],
)
def test_damaged_dataset_files_are_named_in_the_app(client, lab, monkeypatch, tmp_path, damage, says):
    bad = bad_data_folder(tmp_path / "data", damage)
    emnist_from(lab, monkeypatch, lambda: load_dataset("pool47", tmp_path / "data"))
    *_, note = client.predict("mlp", api_name="/confusions")
    assert str(bad) in note and says in note and "EMNIST_DATA_DIR" in note  # the file, the fault, what to do
    status, *_ = client.predict(*TINY_TRAIN, api_name="/train")
    assert str(bad) in status
    assert_still_serves(client, tmp_path)


# 3. Retraining faults -----------------------------------------------------------------------------


def models_folder() -> Path:
    return Path(os.environ["EMNIST_MODELS_DIR"])


@pytest.mark.parametrize("stage", ["training", "evaluating"])
def test_cancel_at_any_stage_leaves_the_models_folder_as_it_was(client, app_module, lab, with_data, monkeypatch, stage):
    models_folder().mkdir(parents=True, exist_ok=True)
    before, answers = files_in(models_folder()), []
    module, name = (training, "train") if stage == "training" else (training.evaluation, "evaluate_arrays")
    real = getattr(module, name)

    def cancel_then_go_on(*args, **kwargs):  # a teacher presses Cancel as this stage begins
        answers.append(retrain.cancel_training(lab))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, cancel_then_go_on)
    status, *_ = client.predict(*TINY_TRAIN, api_name="/train")
    assert answers and answers[0].startswith("Cancelling")
    assert status == "Training cancelled; nothing was saved."
    assert files_in(models_folder()) == before
    assert not lab.jobs.busy


def test_a_retrained_model_is_saved_whole_in_the_models_folder_never_in_assets(
    client, app_module, lab, with_data, monkeypatch
):
    assets = lab.models.assets_dir
    shipped_before = {p.name: p.read_bytes() for p in assets.iterdir() if p.name.startswith(SHIPPED)}
    models_folder().mkdir(parents=True, exist_ok=True)
    before, answers = files_in(models_folder()), []
    real_save = store.save_model

    def cancel_then_save(*args, **kwargs):  # Cancel pressed while saving: too late, the model is kept whole
        deadline = time.time() + 10
        while lab.jobs.current.stage != SAVING and time.time() < deadline:  # the page shows "Saving" first
            time.sleep(0.01)
        answers.append(retrain.cancel_training(lab))
        return real_save(*args, **kwargs)

    monkeypatch.setattr(store, "save_model", cancel_then_save)
    status, *_ = client.predict(*TINY_TRAIN, api_name="/train")
    assert answers == ["Too late to cancel: the model is being saved."]
    assert status.startswith("Done. **"), status
    new = set(files_in(models_folder())) - set(before)
    stem = lab.jobs.current.path.stem
    assert new == {f"{stem}.keras", f"{stem}.card.json", f"{stem}.report.json", f"{stem}.unipen.report.json"}
    assert not list(assets.glob(f"{stem}*"))
    assert {p.name: p.read_bytes() for p in assets.iterdir() if p.name.startswith(SHIPPED)} == shipped_before


def fake_dataset():
    return SimpleNamespace(
        name="pool47",
        y_train=np.zeros(5000),
        x_test=np.zeros((3, 28, 28), np.uint8),
        y_test=np.zeros(3, int),
        label_map=None,
        labels_as_classes=lambda y: y,
    )


@pytest.mark.parametrize("fails", ["model", "card", "report"])
def test_a_failed_save_leaves_no_part_of_a_model(app_module, monkeypatch, tmp_path, fails):
    import keras

    config = training.TrainConfig("seed-mlp", epochs=1)
    trained = training.TrainResult(untrained_model(), config.resolved(), {})  # an empty card
    monkeypatch.setattr(training, "train", lambda *a, **k: trained)
    monkeypatch.setattr(training.evaluation, "evaluate_arrays", lambda *a: {"n": 3, "accuracy": 1.0})
    full_disk = OSError(28, "No space left on device")
    real_save, real_write = keras.Model.save, Path.write_text

    def save(model, path, *args, **kwargs):  # the disk fills up half-way through a file
        if fails == "model":
            Path(path).write_bytes(b"PK\x03\x04")
            raise full_disk
        return real_save(model, path, *args, **kwargs)

    def write_text(path, text, *args, **kwargs):
        if f".{fails}." in path.name:
            real_write(path, text[: len(text) // 2])
            raise full_disk
        return real_write(path, text, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", save)
    monkeypatch.setattr(Path, "write_text", write_text)
    job = Job("training", config)
    run_in_thread(job, JobSpec("training", tmp_path / "m.keras", fake_dataset(), config=config), drawn=lambda: None)
    assert job.error == "OSError: [Errno 28] No space left on device" and job.path is None
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def endless_training(app_module, lab, monkeypatch):
    """Training that runs until cancelled, on a stand-in dataset: what the job logic sees, in no time."""
    started = threading.Event()

    def train(config, dataset, listener=None, cancel=None, **kwargs):
        started.set()
        cancel.wait(60)
        raise training.TrainingCancelled()

    monkeypatch.setattr(training, "train", train)
    emnist_from(lab, monkeypatch, fake_dataset)
    yield started
    job = lab.jobs.current
    if job is not None and not job.done.is_set():  # a test that failed half-way: free the lock for the next
        job.cancel.set()
        job.done.wait(30)


def test_simultaneous_requests_start_one_job_and_tell_the_others_it_is_busy(client, app_module, lab, endless_training):
    jobs = [client.submit(*TINY_TRAIN, api_name="/train") for _ in range(TRAIN_CONCURRENCY)]
    assert endless_training.wait(30)
    deadline = time.monotonic() + 30
    while sum(job.done() for job in jobs) < len(jobs) - 1:
        assert time.monotonic() < deadline, "the other requests got no answer"
        time.sleep(0.05)
    busy = [job for job in jobs if job.done()]
    assert all(job.result()[0].startswith("Busy: another training job") for job in busy)
    (running,) = [job for job in jobs if not job.done()]
    assert "Cancelling" in client.predict(api_name="/cancel_training")
    assert running.result(timeout=30)[0] == "Training cancelled; nothing was saved."
    assert not lab.jobs.busy


@pytest.mark.parametrize("where", [".", "retrained"])
def test_a_models_folder_in_assets_is_refused(client, lab, monkeypatch, endless_training, where):
    monkeypatch.setenv("EMNIST_MODELS_DIR", str(lab.models.assets_dir / where))
    previous = lab.jobs.current
    status, *_ = client.predict(*TINY_TRAIN, api_name="/train")
    assert status == MODELS_IN_ASSETS
    assert lab.jobs.current is previous and not endless_training.is_set()


def test_use_model_serves_only_model_files_in_the_models_folder(client, app_module, lab, base_url, tmp_path):
    folder = models_folder()
    folder.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "seed-mlp-copy.keras"
    for suffix in (".keras", ".card.json"):
        shutil.copy(lab.models.assets_dir / f"seed-mlp{suffix}", tmp_path / f"seed-mlp-copy{suffix}")
    (folder / "notes.txt").write_text("not a model")
    live = dict(lab.models.pair.models)
    climbing_out = f"{folder}/{os.path.relpath(outside, folder)}"  # starts in the models folder, ends outside
    for candidate in (
        outside,
        climbing_out,
        "/etc/passwd",
        lab.models.assets_dir / "seed-mlp.keras",
        folder / "notes.txt",
        folder,
        "seed-mlp",
        "../seed-mlp.keras",
    ):
        assert retrain.use_model(lab, retrain.USE_LABEL, str(candidate))[0].startswith("Train a model first"), candidate
        assert lab.models.pair.models == live
    # The raw protocol sends every input: the path (ignored: the candidate is a server-side State), the warning
    # it confirms, the teacher key.
    event, answer = call(base_url, "use_model", [str(outside), None, ""])
    assert event == "complete" and answer[0].startswith("Train a model first")
    assert lab.models.pair.models == live

    for suffix in (".keras", ".card.json"):  # the same file, in the models folder: served
        shutil.copy(tmp_path / f"seed-mlp-copy{suffix}", folder)
    try:
        served = str(folder / outside.name)
        message, warned, _ = retrain.use_model(lab, retrain.USE_LABEL, served)  # seed-mlp reads worse: asks first
        assert "is live" not in message and warned and lab.models.pair.models == live
        assert "is live" in retrain.use_model(lab, retrain.USE_LABEL, served, warned)[0]
        assert lab.models.get("mlp").path == folder / outside.name
    finally:
        lab.models.restore()


def test_the_training_switch_is_enforced_by_the_api(app_module, training_off, monkeypatch):
    lab, client = training_off  # a server started with EMNIST_DISABLE_TRAINING=1
    off = retrain.TRAINING_OFF_MESSAGE
    lab.tests.dataset(EMNIST, wait=30)
    emnist_from(lab, monkeypatch, fake_dataset)  # data to train on is there: only the switch is in the way
    live = dict(lab.models.pair.models)
    status, *_ = client.predict(*TINY_TRAIN, api_name="/train")
    assert status == off
    assert client.predict(api_name="/use_model") == off
    assert client.predict(api_name="/restore_models") == off
    assert client.predict("cnn", api_name="/fine_tune") == off
    assert client.predict(api_name="/use_fine_tuned") == off
    assert client.predict(True, api_name="/clear_corrections") == off
    assert call(client.src.rstrip("/"), "train", [*TINY_TRAIN, None, ""])[1][0] == off  # any HTTP client
    assert lab.jobs.current is None and lab.models.pair.models == live
    buttons = {
        c["props"].get("value"): c["props"].get("interactive")
        for c in app_module.build_demo(lab).config["components"]
        if c["type"] == "button"
    }
    assert buttons["Start"] is False and buttons["Restore shipped models"] is False
    assert buttons["Fine-tune on the corrections"] is False


# 4. Untrusted content -----------------------------------------------------------------------------


def test_uploads_over_the_size_limit_are_refused(client, app_module, demo, base_url, tmp_path):
    limit = demo.max_file_size  # MAX_UPLOAD in bytes, as Gradio read it from LAUNCH_OPTIONS at launch
    assert app_module.LAUNCH_OPTIONS["max_file_size"] == MAX_UPLOAD and limit > 0
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(limit + 1))
    answer = httpx.post(f"{base_url}/gradio_api/upload", files={"files": ("big.png", big.read_bytes())}, timeout=60)
    assert answer.status_code == 413 and f"maximum allowed size of {limit} bytes" in answer.text
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # gradio_client checks it first
        client.predict(gradio_client.handle_file(str(big)), api_name="/predict_photo")
    big.write_bytes(os.urandom(limit))
    answer = httpx.post(f"{base_url}/gradio_api/upload", files={"files": ("big.png", big.read_bytes())}, timeout=60)
    assert answer.status_code == 200  # the limit, not any upload, is what was refused
    assert_still_serves(client, tmp_path)


def test_no_file_is_served_beyond_what_the_ui_shows(app_module, base_url):
    root = Path(app_module.__file__).resolve().parent
    private = [
        "/etc/passwd",
        root / "app.py",
        "app.py",
        "assets/seed-cnn.keras",
        root / "assets" / "seed-cnn.keras",
        root / "README.md",
        models_folder() / "x.keras",
        "/tmp/gradio/../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
    ]
    for path in private:
        answer = httpx.get(f"{base_url}/gradio_api/file={path}", timeout=10)
        assert answer.status_code in (403, 404), (path, answer.status_code)
        assert "root:" not in answer.text and "import" not in answer.text
    for path in ("/file=/etc/passwd", "/app.py", "/assets/seed-cnn.keras", "/static/../app.py"):
        assert httpx.get(f"{base_url}{path}", timeout=10).status_code == 404, path


SERVER_IMAGE = str(Path(__file__).resolve().parent.parent / "assets" / "figures" / "app-draw.png")  # on the server


@pytest.mark.parametrize(
    "api, payload, refused_by",
    [
        ("predict", {"composite": {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}}, "Gradio"),
        ("predict", {"composite": {"path": "app.py", "meta": {"_type": "gradio.FileData"}}}, "Gradio"),
        (
            "predict",
            {"composite": {"url": "http://127.0.0.1:1/secret.png", "meta": {"_type": "gradio.FileData"}}},
            "the app",
        ),
        # Without Gradio's tag, Gradio passes a file reference on unchecked: the app must not read it.
        ("predict", {"composite": {"path": SERVER_IMAGE}}, "the app"),
        ("predict", {"path": SERVER_IMAGE}, "the app"),
        ("explain", {"path": SERVER_IMAGE}, "the app"),
        ("predict_photo", {"path": SERVER_IMAGE, "orig_name": "x.png"}, "the app"),
    ],
    ids=[
        "server file",
        "app source",
        "server-side fetch",
        "untagged server image",
        "bare untagged server image",
        "bare untagged to explain",
        "untagged photo",
    ],
)
def test_a_payload_cannot_make_the_server_read_its_own_files(base_url, api, payload, refused_by, tmp_path):
    assert Path(SERVER_IMAGE).is_file()
    lesson = [] if api == "predict_photo" else ["all"]  # every input the endpoint takes: only the file is wrong
    event, answer = call(base_url, api, [payload, *lesson])
    assert event == "error", answer
    if refused_by == "Gradio":  # a tagged file it was not sent: refused before any handler runs, with its message
        assert answer == {"error": None}, answer  # hidden from the caller (it names server paths)
    else:  # any other file reference: refused by the app, which says what the endpoint takes
        assert answer["error"].startswith(f"/{api} cannot use what was sent"), answer
    # The same call with an uploaded drawing in the file's place is answered: the file reference alone was refused.
    drawing = sketch_file(tmp_path, "7")
    posted = httpx.post(f"{base_url}/gradio_api/upload", files={"files": (drawing.name, drawing.read_bytes())})
    uploaded = {"path": posted.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": drawing.name}
    event, answer = call(base_url, api, [{"composite": uploaded} if "composite" in payload else uploaded, *lesson])
    assert event == "complete", answer


def test_what_the_gallery_shows_is_served(app_module, base_url, with_data):
    raw = gradio_client.Client(f"{base_url}/", verbose=False, download_files=False)
    images, _ = raw.predict("mlp", "O", "0", api_name="/gallery")
    assert images
    answer = httpx.get(images[0]["image"]["url"], timeout=10)
    assert answer.status_code == 200
    assert Image.open(io.BytesIO(answer.content)).size == (SIDE * confusions.GALLERY_ZOOM,) * 2


def test_a_bad_upload_shows_its_message_on_the_page_and_the_page_goes_on(app_module, base_url, tmp_path):
    from browser import chromium, launch, new_page

    with chromium().sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = new_page(browser, f"{base_url}/")
            page.get_by_text("...or upload a photo or scan of one character").click()
            page.locator("#photo input[type=file]").set_input_files(str(image_file(tmp_path, "not an image")))
            page.get_by_text(NOT_AN_IMAGE).first.wait_for()
            assert "Traceback" not in page.content()
            page.locator("#photo img").wait_for(state="detached")  # the refused file leaves no broken image
            page.wait_for_timeout(500)
            assert page.get_by_text(NOT_AN_IMAGE).count() >= 1  # and its message stays
            page.locator("#photo input[type=file]").set_input_files(str(image_file(tmp_path, "greyscale")))
            top = page.locator("#verdict h2")  # the big answer
            top.wait_for()
            assert top.inner_text().strip() == "7"
        finally:
            browser.close()


def test_a_job_that_would_take_long_says_how_long_and_starts_on_a_second_press(lab, fake_data, monkeypatch):
    """wide-resnet's own settings on 5,000 images would hold the one job slot for over half an hour on this
    server: the first press says so and starts nothing; the same settings pressed again start it. A quick job
    starts at once."""
    asked = []
    monkeypatch.setattr(lab.jobs, "start_training", lambda config, teacher=None: asked.append(config))  # -> Busy
    slow = ("wide-resnet", 20, 512, 0.001, 5000)
    status, *_, start_button, armed = list(retrain.start_training(lab, *slow))[-1]
    assert status.startswith("**This job would take about ") and " min " in status and "wide-resnet" in status
    assert start_button["value"] == retrain.START_ANYWAY and armed and asked == []
    confirmed = armed
    status, *_, start_button, armed = list(retrain.start_training(lab, *slow, confirmed))[-1]
    assert [c.model for c in asked] == ["wide-resnet"] and status == retrain.BUSY_MESSAGE
    assert start_button["value"] == retrain.START_LABEL and armed is None
    # Other settings than those confirmed ask again; a seed MLP's job (seconds) never asks.
    assert "would take" in list(retrain.start_training(lab, "wide-resnet", 5, 512, 0.001, 5000, confirmed))[-1][0]
    list(retrain.start_training(lab, "seed-mlp", 10, 256, 0.001, 5000))
    assert [c.model for c in asked] == ["wide-resnet", "seed-mlp"]
