"""Damaged, wrong or unsafe model and dataset files give a typed error that names the file."""

import gzip
import json
import zipfile

import numpy as np
import pytest

from emnist_core.data import datasets as ds
from emnist_core.data.files import IMAGE_MAGIC, LABEL_MAGIC, DataFileError
from emnist_core.models.store import ModelFileError, card_path, load_card, load_model, resolve_model_path
from emnist_core.serving.predictor import Predictor

from conftest import NUM_CLASSES, idx_bytes, l_shapes, untrained_model, write_csv, write_idx_pair

# Models --------------------------------------------------------------------------------------------


def _spoil(good, path, how):
    data = good.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "corrupt":  # the zip directory survives, the members' bytes do not
        spoiled = bytearray(data)
        for i in range(100, len(spoiled) - 2000, 97):
            spoiled[i] ^= 0xFF
        path.write_bytes(bytes(spoiled))
    elif how == "not a zip":
        path.write_text("this is a text file that someone renamed to .keras\n")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "zip without a model":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("notes.txt", "no config.json here")
    elif how == "unknown layer":
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
            for item in src.infolist():
                payload = src.read(item)
                if item.filename == "config.json":
                    config = json.loads(payload)
                    config["config"]["layers"][-1]["class_name"] = "NoSuchLayer"
                    payload = json.dumps(config)
                dst.writestr(item, payload)
    return path


@pytest.mark.parametrize("how", ["truncated", "corrupt", "not a zip", "empty", "zip without a model", "unknown layer"])
def test_a_bad_keras_file_is_a_model_file_error_naming_it(untrained_model_file, tmp_path, how):
    path = _spoil(untrained_model_file, tmp_path / f"{how.replace(' ', '-')}.keras", how)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and "not a loadable Keras model" in message and "\n" not in message


def test_the_good_model_itself_loads(untrained_model_file):
    # so the failures above are the damage's doing
    assert load_model(untrained_model_file).output_shape == (None, NUM_CLASSES)


def test_a_missing_model_file_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="model file not found"):
        resolve_model_path(tmp_path / "gone.keras")
    with pytest.raises(ModelFileError, match=r"gone\.keras"):
        load_model(tmp_path / "gone.keras")


def test_a_lambda_layer_is_refused_by_safe_mode(tmp_path):
    import keras

    path = tmp_path / "lambda.keras"
    untrained_model(body=[keras.layers.Lambda(lambda t: t * 2.0)]).save(path)
    keras.saving.load_model(path, safe_mode=False)  # a valid file: only safe mode stands in the way
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(path) in str(err.value) and "refused by Keras' safe mode" in str(err.value)


def test_a_model_for_other_inputs_or_classes_is_refused_by_the_predictor():
    import keras

    other_input = keras.Sequential([keras.Input((10,)), keras.layers.Dense(NUM_CLASSES)])
    with pytest.raises(ModelFileError, match="does not take 28x28 images"):
        Predictor({"tabular": other_input})
    with pytest.raises(ModelFileError, match=rf"shape \(26,\) per image, not the {NUM_CLASSES} class scores"):
        Predictor({"letters": untrained_model(outputs=26)})


def test_cards_missing_or_damaged_read_as_none(untrained_model_file, tmp_path):
    assert load_card(tmp_path / "no-card.keras") is None
    card = card_path(tmp_path / "broken.keras")
    for text in (
        "{not json",
        "[1, 2, 3]",
        '"a string"',
        "",
        '{"architecture": "cnn"}',
        '{"history": [1]}',
        '{"training_seconds": "long"}',
        '{"command": 7}',
    ):  # the last four: a section of the wrong type
        card.write_text(text)
        assert load_card(tmp_path / "broken.keras") is None, text
    card.write_bytes(b"\xff\xfe\x00garbage")
    assert load_card(tmp_path / "broken.keras") is None
    card.write_text('{"model": "seed-mlp"}')
    assert load_card(tmp_path / "broken.keras").extra == {"model": "seed-mlp"}  # an unknown key is kept


# Dataset files -------------------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path):
    """A good gzip IDX pair of bymerge test, and the raw bytes of its images file."""
    images, labels = write_idx_pair(tmp_path / "good", "bymerge", "test", l_shapes(4), [1, 2, 3, 4])
    return images, labels, gzip.decompress(images.read_bytes())


def _flip_bytes(data: bytes, start: int, step: int = 7) -> bytes:
    out = bytearray(data)
    for i in range(start, len(out) - 10, step):
        out[i] ^= 0x5A
    return bytes(out)


IMAGE_DAMAGE = {
    "wrong magic": (
        lambda raw, gz: gzip.compress(idx_bytes(np.zeros((4, 28, 28)), LABEL_MAGIC)),
        f"magic number {LABEL_MAGIC} is not {IMAGE_MAGIC}",
    ),
    "truncated": (lambda raw, gz: gzip.compress(raw[:-100]), "the file is truncated or corrupt"),
    "count too high": (
        lambda raw, gz: gzip.compress(np.array([IMAGE_MAGIC, 5, 28, 28], ">u4").tobytes() + raw[16:]),
        "header says 5 images",
    ),
    "not 28x28": (lambda raw, gz: gzip.compress(idx_bytes(np.zeros((4, 32, 32)), IMAGE_MAGIC)), "images are 32x32"),
    "header cut": (lambda raw, gz: gzip.compress(raw[:10]), "too short for an IDX header"),
    "gzip cut short": (lambda raw, gz: gz[: len(gz) // 2], "gzip stream is truncated"),
    "gzip corrupt": (lambda raw, gz: _flip_bytes(gz, 20), "corrupt gzip data"),
    "gzip checksum": (lambda raw, gz: gz[:-8] + bytes([gz[-8] ^ 1]) + gz[-7:], "corrupt gzip data"),
    "empty": (lambda raw, gz: b"", "only 0 bytes"),
}


@pytest.mark.parametrize("damage", list(IMAGE_DAMAGE))
def test_damaged_idx_images_are_a_data_file_error_naming_the_file(pair, tmp_path, damage):
    images, labels, raw = pair
    spoil, expected = IMAGE_DAMAGE[damage]
    bad = tmp_path / "emnist-bymerge-test-images-idx3-ubyte.gz"
    bad.write_bytes(spoil(raw, images.read_bytes()))
    with pytest.raises(DataFileError) as err:
        ds.load_files(bad, labels, "bymerge")
    assert str(bad) in str(err.value) and expected in str(err.value) and err.value.path == str(bad)


@pytest.mark.parametrize(
    "content, expected",
    [
        (idx_bytes(np.zeros((4, 28, 28)), IMAGE_MAGIC), f"magic number {IMAGE_MAGIC} is not {LABEL_MAGIC}"),
        (idx_bytes(np.array([1, 2, 3, 4]), LABEL_MAGIC)[:-1], "header says 4 labels but the file has 3"),
        (idx_bytes(np.array([1, 2, 3]), LABEL_MAGIC), "3 labels for 4 images"),
        (
            idx_bytes(np.array([1, 2, NUM_CLASSES, 4]), LABEL_MAGIC),
            f"label {NUM_CLASSES} is outside 0-{NUM_CLASSES - 1} of EMNIST bymerge",
        ),
    ],
    ids=["wrong magic", "truncated", "count differs", "label out of range"],
)
def test_bad_labels_files_are_a_data_file_error_naming_the_file(pair, tmp_path, content, expected):
    images, _, _ = pair
    bad = tmp_path / "emnist-bymerge-test-labels-idx1-ubyte"
    bad.write_bytes(content)
    with pytest.raises(DataFileError) as err:
        ds.load_files(images, bad, "bymerge")
    assert str(bad) in str(err.value) and expected in str(err.value)


def test_labels_out_of_range_for_the_split_found_by_load_split(tmp_path):
    # Label 0 is valid in bymerge but not in letters (classes 1-26).
    write_idx_pair(tmp_path, "letters", "test", l_shapes(3), [1, 0, 26])
    with pytest.raises(DataFileError, match="label 0 is outside 1-26 of EMNIST letters") as err:
        ds.load_split("letters", "test", data_dir=tmp_path)
    assert "emnist-letters-test-labels-idx1-ubyte.gz" in str(err.value)


def _csv_rows(tmp_path, edit):
    path = write_csv(tmp_path / "emnist-bymerge-test.csv", l_shapes(3), [1, 2, 3])
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


NOT_785 = "every row must be 785 integers"
CSV_DAMAGE = {
    "too few columns": (
        lambda lines: [",".join(line.split(",")[:100]) for line in lines],
        "rows have 100 columns, expected 785",
    ),
    "header row": (lambda lines: ["label," + ",".join(f"p{i}" for i in range(784))] + lines, NOT_785),
    "one long row": (lambda lines: [lines[0] + ",0,0"] + lines[1:], NOT_785),
    "one short row": (lambda lines: [lines[0].rsplit(",", 2)[0]] + lines[1:], NOT_785),
    "value 300": (lambda lines: [lines[0].replace(",0,", ",300,", 1)] + lines[1:], NOT_785),
    "negative": (lambda lines: [lines[0].replace(",0,", ",-1,", 1)] + lines[1:], NOT_785),
    "label out of range": (
        lambda lines: ["99" + lines[0][lines[0].index(",") :]] + lines[1:],
        "label 99 is outside 0-46",
    ),
    "empty": (lambda lines: [], "file is empty"),
}


@pytest.mark.parametrize("damage", list(CSV_DAMAGE))
def test_bad_csv_is_a_data_file_error_with_a_one_line_message(tmp_path, damage):
    edit, expected = CSV_DAMAGE[damage]
    bad = _csv_rows(tmp_path, edit)
    if damage == "empty":
        bad.write_text("")
    with pytest.raises(DataFileError) as err:
        ds.load_files(bad, None, "bymerge")
    assert str(bad) in str(err.value) and expected in str(err.value) and "\n" not in str(err.value)


def test_a_file_replaced_by_a_damaged_copy_is_not_served_from_the_cache(pair):
    images, labels, raw = pair
    ds.load_files(images, labels, "bymerge")  # decoded and cached
    images.write_bytes(gzip.compress(raw[:-784]))
    with pytest.raises(DataFileError, match="truncated or corrupt"):
        ds.load_files(images, labels, "bymerge")


def test_a_damaged_cache_is_rebuilt_from_the_files(pair, monkeypatch, tmp_path):
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))
    images, labels, _ = pair
    x, y = ds.load_files(images, labels, "bymerge")
    x, y = np.array(x), np.array(y)
    for npy in (tmp_path / "cache").rglob("*.npy"):
        npy.write_bytes(b"not numpy")
    x2, y2 = ds.load_files(images, labels, "bymerge")
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
