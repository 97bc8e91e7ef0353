"""'Draw it bigger': a mark too small to be a character is refused before any guess, and real characters never are.

The rule (``preprocess.MIN_MARK_SIDE``) is on the ink's bounding box against the image's size, so it holds for
the sketchpad, photos and 28x28 images alike, and on the long side only, so a short "1" or "-" is read.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from emnist_core.data.preprocess import MIN_MARK_SIDE, EmptyCanvasError, ImageInputError, TooSmallError, preprocess
from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS, CHAR_SIZE, PEN_SCALE, render_strokes

from conftest import served, sketch, sketch_file

PEN = 2 * BRUSH_RADIUS  # the sketchpad's brush size is a radius: strokes this wide
CENTRE = CANVAS // 2


def canvas(*strokes, width: int = PEN, size: int = CANVAS) -> np.ndarray:
    """Black strokes with round ends on a white sketchpad; a stroke of one point is a tap."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    r = width / 2
    for points in strokes:
        if len(points) > 1:
            draw.line(points, fill=0, width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return np.asarray(image)


TAP = [(CENTRE, CENTRE)]
# A scribble in a 20-pixel square: with the brush, a blot 48 pixels across (0.12 of the canvas).
SCRIBBLE = [(CENTRE, CENTRE), (CENTRE + 20, CENTRE + 5), (CENTRE, CENTRE + 12), (CENTRE + 18, CENTRE + 20)]


@pytest.mark.parametrize(
    "strokes",
    [[TAP], [SCRIBBLE], [TAP, [(CENTRE + 15, CENTRE + 10)]]],
    ids=["a single tap", "a tiny scribble", "two taps"],
)
def test_a_dot_or_a_tiny_scribble_is_refused_with_draw_it_bigger(strokes):
    with pytest.raises(TooSmallError, match="draw it bigger"):
        preprocess(canvas(*strokes))


def test_too_small_is_an_image_input_error_not_an_empty_canvas():
    # The app shows an ImageInputError's message in the verdict box, with no guess beside it.
    assert issubclass(TooSmallError, ImageInputError) and not issubclass(TooSmallError, EmptyCanvasError)


@pytest.mark.parametrize(
    "name, strokes, width",
    [
        ("short 1", [[(CENTRE, CENTRE - 40), (CENTRE, CENTRE + 40)]], PEN),
        ("short dash", [[(CENTRE - 40, CENTRE), (CENTRE + 40, CENTRE)]], PEN),
        ("hairline 1", [[(CENTRE, CENTRE - 50), (CENTRE, CENTRE + 50)]], 1),  # a fine pen in a photo
        ("just over the limit", [[(CENTRE, CENTRE), (CENTRE, CENTRE + round(MIN_MARK_SIDE * CANVAS) - PEN + 1)]], PEN),
    ],
)
def test_thin_but_long_marks_are_read(name, strokes, width):
    x = preprocess(canvas(*strokes, width=width))
    assert x.shape == (28, 28) and x.max() == 255


def test_the_limit_is_on_the_long_side_of_the_ink():
    limit = round(MIN_MARK_SIDE * CANVAS)  # 60 pixels of a 400-pixel canvas
    for long_side, refused in ((limit - 1, True), (limit, False)):
        for shape in ((long_side, 6), (6, long_side)):
            image = np.full((CANVAS, CANVAS), 255, np.uint8)
            image[100 : 100 + shape[0], 100 : 100 + shape[1]] = 0
            if refused:
                with pytest.raises(TooSmallError):
                    preprocess(image)
            else:
                assert preprocess(image).shape == (28, 28)


def test_the_rule_is_relative_to_the_image():
    # The same tap fills a small image: there, it is a mark to read (a photo cropped close to a dot).
    small = canvas(TAP, size=CANVAS)[CENTRE - 2 * PEN : CENTRE + 2 * PEN, CENTRE - 2 * PEN : CENTRE + 2 * PEN]
    assert preprocess(small).shape == (28, 28)
    # And a 28x28 image with a 3-pixel speck is refused like a tap on the canvas.
    speck = np.zeros((28, 28), np.uint8)
    speck[12:15, 12:15] = 255
    with pytest.raises(TooSmallError):
        preprocess(speck)


@pytest.mark.parametrize("pen", PEN_SCALE)
def test_the_renderer_never_draws_a_character_too_small(pen):
    """render_drawn builds the unipen dataset through preprocess: a refusal there would stop the build. The
    renderer scales every character to at least CHAR_SIZE[0] of the canvas, even a stroke of a pixel."""

    class Smallest:
        def uniform(self, low, high, n=None):
            if (low, high) == CHAR_SIZE:
                return CHAR_SIZE[0]
            return pen if (low, high) == PEN_SCALE else (np.zeros(n) if n else 0.0)

    for strokes in ([np.array([[0, 0], [1, 1]], np.float32)], [np.array([[0, 0], [0, 100]], np.float32)]):
        assert preprocess(render_strokes(strokes, Smallest())).shape == (28, 28)


def test_emnist_images_are_never_refused(pool47):
    """EMNIST's own 28x28 images go through preprocess as any input: none is too small (measured on all
    43,234 test and validation images by tools/tiny_mark_check.py; 2,000 here)."""
    for image in pool47.x_test[:2000]:
        preprocess(image)


# ---------------------------------------------------------------- through the app's API


@pytest.fixture(scope="module")
def client(app_module, demo):
    gradio_client = pytest.importorskip("gradio_client")
    with served(demo, **app_module.LAUNCH_OPTIONS) as url:
        yield gradio_client.Client(url, verbose=False)


def test_api_a_single_dot_gets_draw_it_bigger_and_no_guess(client, tmp_path):
    # Both models answer on this server: a character drawn at a readable size gets both guesses.
    mlp, cnn, preview, _ = client.predict(sketch(sketch_file(tmp_path, "7")), api_name="/predict")
    assert mlp["label"] == cnn["label"] == "7" and mlp["confidences"] and cnn["confidences"]
    assert "<img" in preview
    # A dot is refused before either model reads it: no guess at all, no input shown, the refusal as the verdict.
    with pytest.raises(TooSmallError) as refused:
        preprocess(canvas(TAP))
    path = tmp_path / "dot.png"
    Image.fromarray(canvas(TAP)).convert("RGBA").save(path)
    mlp, cnn, preview, verdict = client.predict(sketch(path), api_name="/predict")
    assert mlp == cnn == {}  # an empty label (None, as a gr.Label sends it): no class, no confidences
    assert "<img" not in preview
    assert verdict == str(refused.value) and "draw it bigger" in verdict
