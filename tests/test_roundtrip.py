"""Drawn input: browser-style canvases of test images are recognised (nearly) as well as the images."""

import numpy as np

from emnist_core.models.roundtrip import canvas_roundtrip, ink_statistics, render_canvas
from emnist_core.serving.predictor import Predictor


def test_render_canvas_is_a_hard_edged_sketchpad_image(pool47):
    canvas = render_canvas(pool47.x_test[0], np.random.default_rng(0))
    assert canvas.shape == (800, 800, 4) and canvas.dtype == np.uint8
    assert set(np.unique(canvas[:, :, :3])) == {0, 255} and canvas[:, :, 3].min() == 255


def test_preprocessed_drawings_look_like_emnist_and_score_close(pool47):
    result = canvas_roundtrip(
        Predictor.load(("mlp",)), pool47.x_test, pool47.labels_as_classes(pool47.y_test), n=200, seed=3
    )
    emnist, drawn = result["ink_statistics"]["emnist_28x28"], result["ink_statistics"]["canvas_preprocessed"]
    assert abs(emnist["long_side_px"][0] - drawn["long_side_px"][0]) < 1.0
    assert abs(emnist["stroke_width_px"][0] - drawn["stroke_width_px"][0]) < 0.6
    assert abs(emnist["centre_row"][0] - drawn["centre_row"][0]) < 0.6
    m = result["models"]["mlp"]
    assert m["accuracy_canvas"] > m["accuracy_28x28"] - 0.06  # the seed MLP is the most framing-sensitive


def test_ink_statistics_tell_thick_from_thin():
    thin, thick = np.zeros((2, 28, 28), np.uint8), np.zeros((2, 28, 28), np.uint8)
    thin[:, 4:24, 13:15] = 255
    thick[:, 4:24, 10:18] = 255
    assert ink_statistics(thick)["stroke_width_px"][0] > 2 * ink_statistics(thin)["stroke_width_px"][0]
