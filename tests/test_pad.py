"""The drawing pad's strokes: checked at the boundary, drawn by the renderer that draws every training character, read
by the API exactly as the image of the same strokes, and kept with corrections for Quick, Draw!'s ndjson."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emnist_core.data import sketchpad, strokes
from emnist_core.data.sketchpad import CANVAS
from emnist_core.lab.corrections import CorrectionError, CorrectionStore
from ui import pad

from conftest import STROKES, served

# The conftest's 7, as the pad records it: x and y in pad pixels, a time per point.
SEVEN = [
    [
        [round(x * CANVAS, 1) for x, _ in stroke],
        [round(y * CANVAS, 1) for _, y in stroke],
        [40 * i for i in range(len(stroke))],
    ]
    for stroke in STROKES["7"]
]


@pytest.mark.parametrize(
    "value",
    [
        {"strokes": "7"},
        {"strokes": [[1, 2]]},
        {"strokes": [[[1, 2], [3]]]},  # x and y of different lengths
        {"strokes": [[[], []]]},
        {"strokes": [[[1, float("nan")], [3, 4]]]},
        {"strokes": [[[True], [3]]]},
        {"strokes": [[["a"], [3]]]},
        {"strokes": [[[1], [2], [3, 4]]]},
        {"strokes": [[[1.0] * 3000, [2.0] * 3000]] * 2},  # more points than any character
        {"strokes": [[[1.0], [2.0]]] * 100},  # more strokes than any character
        {"points": []},
    ],
)
def test_strokes_that_are_not_a_drawing_are_refused_with_what_to_send(value):
    with pytest.raises(ValueError) as refused:
        pad.drawing(value)
    assert str(refused.value) == strokes.TAKES


def test_strokes_are_clamped_to_the_pad_rounded_and_timed():
    kept = strokes.checked([[[-5, 10.04, 999], [3, 4, 5]], [[7], [8], [123.6]]])
    assert kept == [[[0.0, 10.0, float(CANVAS)], [3.0, 4.0, 5.0], [0, 0, 0]], [[7.0], [8.0], [124]]]
    assert pad.drawing({"strokes": []}) is None  # an empty pad, as after Clear


def test_the_pad_and_the_training_characters_are_drawn_by_one_renderer(monkeypatch):
    drawn = []
    real = sketchpad.draw_strokes
    monkeypatch.setattr(sketchpad, "draw_strokes", lambda s, *a, **k: drawn.append("called") or real(s, *a, **k))
    monkeypatch.setattr(pad, "draw_strokes", sketchpad.draw_strokes)
    image = pad.drawing({"strokes": SEVEN})
    sketchpad.render_strokes([np.array([[0, 0], [1, 1]])], np.random.default_rng(0))
    assert drawn == ["called", "called"]  # the page's strokes and a UNIPEN character alike
    assert image.shape == (CANVAS, CANVAS) and image.dtype == np.uint8
    assert np.array_equal(image, real(strokes.points(strokes.checked(SEVEN))))
    ink = np.argwhere(image < 128)  # the brush is the sketchpad's: a line is 2 * BRUSH_RADIUS wide
    assert ink[:, 0].min() == pytest.approx(SEVEN[0][1][0] - sketchpad.BRUSH_RADIUS, abs=1)


@pytest.fixture(scope="module")
def client(demo):
    gradio_client = pytest.importorskip("gradio_client")
    with served(demo) as url:
        yield gradio_client.Client(url, verbose=False)


def test_the_api_reads_strokes_as_it_reads_their_image(client, tmp_path):
    from PIL import Image

    from conftest import sketch

    by_strokes = client.predict({"strokes": SEVEN}, api_name="/predict")
    path = tmp_path / "seven.png"
    Image.fromarray(pad.drawing({"strokes": SEVEN})).save(path)
    by_image = client.predict(sketch(path), api_name="/predict")
    assert by_strokes == by_image and by_strokes[1]["label"] == "7"
    with pytest.raises(Exception, match="cannot use the strokes sent"):
        client.predict({"strokes": [[1, 2]]}, api_name="/predict")


def test_corrections_keep_their_strokes_and_export_as_quick_draw_ndjson(tmp_path):
    store = CorrectionStore(tmp_path / "kept")
    x28 = np.zeros((28, 28), np.uint8)
    x28[4:24, 12:16] = 255
    store.add(x28, "7", {"cnn": [("7", 0.9)]}, strokes=SEVEN)
    store.add(x28, "1", {"cnn": [("7", 0.6)]}, strokes=SEVEN)
    store.add(x28, "1")  # sent as an image: no strokes to export
    path, count = store.export_ndjson(tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert count == len(lines) == 2
    assert [(line["word"], line["recognized"]) for line in lines] == [("7", True), ("1", False)]
    assert set(lines[0]) == {"key_id", "word", "countrycode", "timestamp", "recognized", "drawing"}
    assert lines[0]["countrycode"] == "" and lines[0]["timestamp"].endswith(" UTC")  # nothing about the person
    (xs, ys), *_ = lines[0]["drawing"]
    assert min(xs) == 0 and min(ys) == 0 and max(max(xs), max(ys)) == 255  # aligned and scaled as Quick, Draw!'s
    assert all(isinstance(v, int) for v in xs + ys) and len(xs) <= len(SEVEN[0][0])  # simplified, whole numbers
    assert store.load().strokes[0] == strokes.checked(SEVEN)
    images_only = CorrectionStore(tmp_path / "images")
    images_only.add(x28, "7")
    with pytest.raises(CorrectionError, match="kept its strokes"):
        images_only.export_ndjson(tmp_path)
