"""The Inside tab's endpoints over HTTP (/inside, /whatif), as programs use them, and the Models tab's robustness
tables: the pictures are the ones the core draws for this drawing, in order, with captions that name their sizes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from emnist_core.data.preprocess import SIDE, load_image, preprocess
from emnist_core.serving import inside as layers
from emnist_core.serving.variants import AS_DRAWN, SHIFT, VARIANTS
from ui import draw, models
from ui.checks import CLASSES

from conftest import served, sketch, sketch_file

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture(scope="module")
def client(demo):
    with served(demo) as url:
        yield gradio_client.Client(url, verbose=False)


@pytest.fixture
def seven(tmp_path):
    """A drawn 7's file, and the 28x28 the models see of it."""
    path = sketch_file(tmp_path, "7")
    return path, preprocess(load_image(path))


def pixels(file) -> np.ndarray:
    with Image.open(file) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("value", ["blank", "none"])
def test_inside_on_an_empty_canvas_says_draw_first_and_shows_no_pictures(client, tmp_path, value):
    payload = sketch(sketch_file(tmp_path, None)) if value == "blank" else None
    cnn, mlp, note = client.predict(payload, api_name="/inside")
    assert cnn == [] and mlp == []
    assert note == draw.EMPTY_MESSAGE


def keras_model(live):
    """The live model's own Keras file, read here: what the served pictures are checked against."""
    from emnist_core.models import store

    return store.load_model(live.path)


def colour_index(rgb: np.ndarray, cmap: str) -> np.ndarray:
    """The step (0-255) of matplotlib's ``cmap`` nearest to each RGB pixel: what value a picture shows there."""
    from matplotlib import colormaps

    steps = np.round(colormaps[cmap](np.arange(256))[:, :3] * 255)
    return ((rgb[..., None, :].astype(float) - steps) ** 2).sum(axis=-1).argmin(axis=-1)


def test_inside_shows_each_cnn_stage_of_this_drawing(client, lab, seven, tmp_path):
    """Each picture is the grid of one conv stage's maps, worked out here from the model's own layers: how much the
    drawing raises each map over an empty canvas, the most raised maps first, one colour scale per stage."""
    import keras

    path, x28 = seven
    cnn, _, note = client.predict(sketch(path), api_name="/inside")
    other, _, _ = client.predict(sketch(sketch_file(tmp_path, "X")), api_name="/inside")
    model = keras_model(lab.models.get("cnn"))
    # The conv stages read off the model itself: at each image size that has a conv layer, its last layer.
    at_size = {}
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        if len(shape) == 4 and not isinstance(layer, keras.layers.Dropout):
            at_size.setdefault(shape[1:3], []).append(layer)
    stages = [found for found in at_size.values() if any(isinstance(x, keras.layers.Conv2D) for x in found)]
    assert len(cnn) == len(stages) >= 2  # one picture per conv stage
    # Each stage's output for the drawing, less its output for an empty canvas: what the drawing switches on.
    outputs = keras.Model(model.inputs, [found[-1].output for found in stages])
    run = lambda x: [np.asarray(o)[0] for o in outputs([np.asarray(x, np.float32)[None]], training=False)]
    rises = [np.maximum(a - b, 0) for a, b in zip(run(x28), run(np.zeros((SIDE, SIDE))))]

    tile, gap, columns, side = layers.TILE_PX, layers.GAP_PX, layers.GRID_COLUMNS, layers.TILE_PX + layers.GAP_PX
    for i, (panel, rise) in enumerate(zip(cnn, rises)):
        h, w, maps = rise.shape
        assert panel["caption"].startswith(f"Stage {i + 1}: {h}x{w}, {maps} maps."), panel["caption"]
        shown = np.argsort(-rise.mean(axis=(0, 1)), kind="stable")[: layers.MAPS_SHOWN]  # most raised first
        rows = -(-len(shown) // columns)
        image = pixels(panel["image"])
        assert image.shape == (rows * side - gap, columns * side - gap, 3)
        for k in range(1, rows):  # grey lines between the tiles
            assert (image[k * side - gap : k * side] == layers.GAP_GREY).all(), (i, k)
        for k in range(1, columns):
            assert (image[:, k * side - gap : k * side] == layers.GAP_GREY).all(), (i, k)
        top, zoom = rise[..., shown].max(), tile // h
        assert top > 0  # a drawing lights maps up
        for n, m in enumerate(shown):
            r, c = divmod(n, columns)
            block = image[r * side : r * side + tile, c * side : c * side + tile]
            cells = block[::zoom, ::zoom]  # one cell per map pixel, drawn zoom x zoom with hard edges
            assert np.array_equal(block, cells.repeat(zoom, axis=0).repeat(zoom, axis=1)), (i, n)
            want = np.clip((rise[..., m] / top * 256).astype(int), 0, 255)  # one scale for the stage
            assert np.abs(colour_index(cells, layers.MAP_CMAP) - want).max() <= 2, (i, n, m)
    # What the first stage's maps can see: each pixel of a map looks at the drawing through its stacked convs only
    # (two 3x3: 2 pixels around it), so wherever no ink is that near, the drawing changes nothing and all is dark.
    reach = sum((x.kernel_size[0] - 1) // 2 for x in stages[0] if isinstance(x, keras.layers.Conv2D))
    inked = np.pad(x28 > 0, reach)
    near = np.zeros_like(x28, bool)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            near |= inked[dy : dy + SIDE, dx : dx + SIDE]
    assert (~near).sum() > SIDE * SIDE // 3  # much of the picture is far from the 7's strokes
    first, zoom = pixels(cnn[0]["image"]), tile // SIDE
    for n in range(min(layers.MAPS_SHOWN, rises[0].shape[-1])):
        r, c = divmod(n, columns)
        block = first[r * side : r * side + tile : zoom, c * side : c * side + tile : zoom]
        cells = colour_index(block, layers.MAP_CMAP)
        assert (cells[~near] == 0).all(), n
    assert any(not np.array_equal(pixels(a["image"]), pixels(b["image"])) for a, b in zip(cnn, other))  # its own
    assert lab.models.get("cnn").title in note and lab.models.get("mlp").title in note


def test_inside_shows_the_templates_of_the_units_it_names(client, lab, seven):
    import keras
    from matplotlib import colormaps

    path, _ = seven
    _, mlp, _ = client.predict(sketch(path), api_name="/inside")
    model = keras_model(lab.models.get("mlp"))
    dense = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
    kernel = np.asarray(dense.kernel)  # (784, units): each unit's weight on each pixel
    after = model.layers[model.layers.index(dense) + 1]
    if isinstance(after, keras.layers.BatchNormalization):  # the normalisation folded in, as it acts on the unit
        kernel = kernel * np.asarray(after.gamma) / np.sqrt(np.asarray(after.moving_variance) + after.epsilon)
    assert len(mlp) == layers.UNITS_SHOWN
    for panel in mlp:
        index = int(panel["caption"].split()[1])  # "Unit 17 of 1024 in the first layer ..."
        assert panel["caption"].startswith(f"Unit {index} of {kernel.shape[1]} in the first layer")
        weights = kernel[:, index].reshape(SIDE, SIDE)
        rgb = colormaps[layers.TEMPLATE_CMAP](0.5 + 0.5 * weights / np.abs(weights).max())[..., :3]
        want = np.kron(np.round(rgb * 255), np.ones((4, 4, 1)))
        assert np.abs(pixels(panel["image"]).astype(int) - want).max() <= 1  # the template of the unit it names


def test_whatif_gives_both_models_answers_on_every_variant(client, seven):
    path, x28 = seven
    rows, pictures, note = client.predict(sketch(path), api_name="/whatif")
    assert [row["variant"] for row in rows] == list(VARIANTS) and len(rows) == 9
    for row in rows:
        for slot in ("mlp", "cnn"):
            assert row[slot]["label"] in CLASSES and 0 <= row[slot]["confidence"] <= 1, row
    assert rows[0]["mlp"]["label"] == rows[0]["cnn"]["label"] == "7"  # as drawn: both read it
    assert [p["caption"].split(":")[0] for p in pictures] == list(VARIANTS)
    assert all(f"MLP {r['mlp']['label']} " in p["caption"] for r, p in zip(rows, pictures))
    images = {p["caption"].split(":")[0]: pixels(p["image"])[..., 0] for p in pictures}
    assert all(image.shape == (SIDE, SIDE) for image in images.values())
    assert np.array_equal(images[AS_DRAWN], x28)  # what the models read, as the models read it
    mass = lambda x: np.array(np.nonzero(x)).mean(axis=1)
    assert np.allclose(mass(images["shifted"]) - mass(images[AS_DRAWN]), SHIFT, atol=0.5)  # really moved
    assert "still reads 7" in note


def test_whatif_on_an_empty_canvas_says_draw_first(client, tmp_path):
    rows, pictures, note = client.predict(sketch(sketch_file(tmp_path, None)), api_name="/whatif")
    assert rows == [] and pictures == [] and note == draw.EMPTY_MESSAGE


@pytest.mark.parametrize("endpoint", ["/inside", "/whatif"])
def test_a_wrong_payload_is_told_what_to_send(client, endpoint):
    with pytest.raises(AppError, match=f"{endpoint} cannot use what was sent"):
        client.predict("not a sketch", api_name=endpoint)


def test_models_tab_shows_each_live_models_robustness_table(lab):
    notes = models.robustness_notes(lab)
    for slot, note in zip(("mlp", "cnn"), notes):
        section = lab.models.get(slot).drawn_report["robustness"]
        assert lab.models.get(slot).name in note
        for variant, scores in section["variants"].items():
            assert f"{variant:<14}{scores['accuracy']:>9.1%}" in note  # its own figures, per variant


def test_a_model_without_a_robustness_table_is_told_who_makes_one(lab):
    live = dataclasses.replace(lab.models.get("cnn"), drawn_report=None)
    note = models.robustness_note(live)
    assert "no table" in note and "command line's `robustness`" in note and "with noise" not in note
    assert str(live.path.parent) not in note and "python -m" not in note  # no server path, no shell command
