"""One preprocessing for drawings, photos and test images."""

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from emnist_core.data.preprocess import FILLED_MESSAGE, EmptyCanvasError, ImageInputError, preprocess
from emnist_core.data.sketchpad import CANVAS


def drawn_l(size=800, width=40, dark_on_light=True):
    """A browser-style canvas: an 'L' in hard-edged ink, off centre."""
    img = Image.new("L", (size, size), 255 if dark_on_light else 0)
    ink = 0 if dark_on_light else 255
    draw = ImageDraw.Draw(img)
    draw.line([(200, 150), (200, 600), (450, 600)], fill=ink, width=width)
    return np.asarray(img)


def test_drawing_becomes_an_upright_emnist_frame():
    x = preprocess(drawn_l())
    assert x.shape == (28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert x[0].max() == 0 and x[:, 0].max() < 60  # a border stays empty (blur may touch it)
    rows, cols = np.flatnonzero(x.max(1) > 128), np.flatnonzero(x.max(0) > 128)
    # The long side (height) fills the frame bar EMNIST's 2-pixel border; the L is upright.
    assert rows[-1] - rows[0] >= 20
    assert x[rows[0] : rows[0] + 5, cols[0] : cols[0] + 2].mean() > 128  # the bar is on the left, at the top
    assert x[rows[0] : rows[0] + 5, cols[-1] - 3 :].mean() < 40  # nothing top right


def test_polarity_and_colour_modes_agree():
    ref = preprocess(drawn_l()).astype(int)
    grey = drawn_l()
    for variant in (
        drawn_l(dark_on_light=False),
        np.stack([grey] * 3, axis=-1),
        np.dstack([np.zeros_like(grey)] * 3 + [255 - grey]),  # ink in alpha only, as a sketchpad layer
        grey.astype(np.float32) / 255,
    ):
        assert np.abs(preprocess(variant).astype(int) - ref).max() <= 2


def test_position_and_scale_do_not_matter():
    small = np.full((300, 300), 255, np.uint8)
    small[40:250, 20:80] = 0
    big = np.full((1000, 1000), 255, np.uint8)
    big[500:920, 600:720] = 0
    assert np.abs(preprocess(small).astype(int) - preprocess(big).astype(int)).max() <= 25


def test_a_test_image_redrawn_large_comes_back_close(pool47):
    """An EMNIST image blown up to a dark-on-light canvas returns to (nearly) itself."""
    scores = []
    for image in pool47.x_test[:50]:
        canvas = 255 - np.asarray(Image.fromarray(image).resize((560, 560), Image.Resampling.BICUBIC))
        back = preprocess(canvas).astype(float)
        scores.append(np.corrcoef(back.ravel(), image.astype(float).ravel())[0, 1])
    assert np.median(scores) > 0.93  # measured 0.97


@pytest.mark.parametrize(
    "blank", [np.full((800, 800), 255, np.uint8), np.zeros((800, 800, 4), np.uint8), np.zeros((64, 64), np.float32)]
)
def test_no_ink_is_a_typed_error_with_a_message(blank):
    with pytest.raises(EmptyCanvasError, match="draw a character"):
        preprocess(blank)


@pytest.mark.parametrize("bad", [np.zeros((5, 5, 7)), np.array([]), np.full((8, 8), np.nan), "text"])
def test_unreadable_input_is_an_image_input_error(bad):
    with pytest.raises(ImageInputError):
        preprocess(bad)


def test_a_filled_canvas_is_told_apart_from_a_blank_one():
    with pytest.raises(EmptyCanvasError, match=re.escape(FILLED_MESSAGE)):
        preprocess(np.zeros((CANVAS, CANVAS, 3), np.uint8))
    with pytest.raises(EmptyCanvasError, match="empty"):
        preprocess(np.full((CANVAS, CANVAS, 3), 255, np.uint8))
