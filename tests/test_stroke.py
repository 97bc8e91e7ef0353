"""Stroke normalisation: any pen width reaches the models as a pen width EMNIST's writers used."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from emnist_core.data.preprocess import (
    MAX_STROKE_STEPS,
    NIST_CHAR_SIZE,
    STROKE_RANGE,
    normalise_stroke,
    preprocess,
    stroke_width,
)
from emnist_core.data.sketchpad import CANVAS

LOW, HIGH = STROKE_RANGE
# A "7" in fractions of the image side: a top bar and a long diagonal.
SEVEN = [(0.25, 0.15), (0.75, 0.15), (0.45, 0.85)]


def seven(pen: int, side: int = NIST_CHAR_SIZE, ink: int = 255, paper: int = 0) -> Image.Image:
    """A hard-edged "7" drawn with a ``pen`` pixels wide; by default white ink on black, as emnist_frame has it."""
    image = Image.new("L", (side, side), paper)
    ImageDraw.Draw(image).line([(x * side, y * side) for x, y in SEVEN], fill=ink, width=pen, joint="curve")
    return image


def width(image) -> float:
    return stroke_width(np.asarray(image))


def distance_to_range(w: float) -> float:
    return max(LOW - w, 0.0, w - HIGH)


@pytest.mark.parametrize("pen", [1, 2, 3, 14, 16, 18])
def test_strokes_outside_the_range_come_out_within_a_pixel_of_it(pen):
    before, after = width(seven(pen)), width(normalise_stroke(seven(pen)))
    assert distance_to_range(before) > 1  # so the case is a thin or a thick one
    assert distance_to_range(after) < 1  # measured: at most 0.62 (1-px pen: 7.5; 14-px pen: 12.6)
    assert (after > before) == (before < LOW)  # thin ones thickened, thick ones thinned


@pytest.mark.parametrize("pen", [20, 24])
def test_very_thick_strokes_are_thinned_by_at_most_the_step_limit(pen):
    before, after = width(seven(pen)), width(normalise_stroke(seven(pen)))
    assert before > HIGH + 2 * MAX_STROKE_STEPS  # beyond what the steps can reach
    # Each step takes about a pixel off each side: measured 7.4 and 7.7 px off for 4 steps.
    assert MAX_STROKE_STEPS < before - after <= 2 * MAX_STROKE_STEPS + 1
    assert after >= HIGH  # never thinned past the range


@pytest.mark.parametrize("pen", [8, 9, 10])
def test_strokes_in_the_range_are_left_alone(pen):
    image = seven(pen)
    assert LOW <= width(image) <= HIGH
    assert np.array_equal(np.asarray(normalise_stroke(image)), np.asarray(image))


@pytest.mark.parametrize("shape", ["hairline", "dot", "short dash"])
def test_a_thin_character_is_never_erased(shape):
    image = Image.new("L", (NIST_CHAR_SIZE, NIST_CHAR_SIZE), 0)
    draw = ImageDraw.Draw(image)
    if shape == "hairline":
        draw.line([(10, 10), (50, 54)], fill=255, width=1)
    elif shape == "dot":
        image.putpixel((32, 32), 255)
    else:
        draw.line([(30, 32), (34, 32)], fill=255, width=1)
    before, after = np.asarray(image), np.asarray(normalise_stroke(image))
    assert after.max() == 255
    assert (after[before >= 128] >= 128).all()  # every pixel of the character is still ink
    assert width(after) > width(before)


def test_drawings_with_a_thin_and_a_thick_pen_reach_the_models_alike():
    """Through the whole preprocessing: a 7 drawn on the sketchpad with a fine pen and with a marker 23 times as
    wide comes out with about as much ink in the 28x28 (measured 65 and 64 pixels; 44 and 157 without
    normalisation)."""
    thin, thick = ((preprocess(np.asarray(seven(pen, CANVAS, ink=0, paper=255))) >= 128).sum() for pen in (3, 70))
    assert 0.75 < thick / thin < 1.33
