"""The inside view: each CNN stage's maps and the MLP's first-layer templates are the model's own, for this
drawing, and blank when nothing is drawn."""

import re

import numpy as np
import pytest

from emnist_core.data.preprocess import SIDE
from emnist_core.serving import inside as ins

from conftest import l_shapes


def with_random_statistics(model, seed=0):
    """Give every batch normalisation random statistics, as training leaves them: a blank image then switches
    maps and units on, so blank pictures must come from taking that baseline off, not from zero weights."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 1.5, n), rng.normal(0.3, 0.3, n), rng.normal(0, 0.5, n), rng.uniform(0.5, 2, n)]
            )
    return model


def tiny_cnn():
    import keras
    from keras import layers

    return with_random_statistics(
        keras.Sequential(
            [
                keras.Input((SIDE, SIDE)),
                layers.Rescaling(1 / 255),
                layers.Reshape((SIDE, SIDE, 1)),
                layers.Conv2D(8, 3, padding="same"),
                layers.BatchNormalization(),
                layers.ReLU(),
                layers.MaxPooling2D(),
                layers.Dropout(0.2),
                layers.Conv2D(12, 3, padding="same"),
                layers.BatchNormalization(),
                layers.ReLU(),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dense(47, activation="softmax"),
            ]
        )
    )


def tiny_mlp():
    import keras
    from keras import layers

    model = with_random_statistics(
        keras.Sequential(
            [
                keras.Input((SIDE, SIDE)),
                layers.Rescaling(1 / 255),
                layers.Flatten(),
                layers.Dense(40, use_bias=False),
                layers.BatchNormalization(),
                layers.ReLU(),
                layers.Dropout(0.3),
                layers.Dense(47, activation="softmax"),
            ]
        ),
        seed=1,
    )
    bn = model.layers[3]
    gamma, *rest = bn.get_weights()
    bn.set_weights([gamma * np.where(np.arange(len(gamma)) % 2, 1, -1), *rest])  # even units: ink lowers them
    return model


@pytest.fixture(scope="module")
def cnn():
    return tiny_cnn()


@pytest.fixture(scope="module")
def mlp():
    return tiny_mlp()


def drawing():
    return l_shapes(1, seed=3)[0]


def colours(image):
    return {tuple(c) for c in np.unique(image.reshape(-1, 3), axis=0)}


def test_the_stages_are_where_the_size_changes_and_end_after_their_activation(cnn):
    stages = ins.conv_stages(cnn)
    assert [type(s).__name__ for s in stages] == ["ReLU", "ReLU"]
    assert [tuple(s.output.shape[1:]) for s in stages] == [(28, 28, 8), (14, 14, 12)]
    panels = ins.inside(cnn, drawing())
    assert len(panels) == 2
    assert "28x28, 8 maps" in panels[0].caption and "14x14, 12 maps" in panels[1].caption
    image, _caption = panels[0]  # unpacks as (image, caption)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_a_blank_image_has_blank_maps_and_a_drawing_does_not(cnn):
    from matplotlib import colormaps

    # Without the baseline taken off, a blank canvas switches maps on (biases, normalisation).
    raw = ins.probe(cnn).run(np.zeros((SIDE, SIDE)))
    assert all(r.max() > 0.1 for r in raw)
    silent = tuple(np.round(np.array(colormaps[ins.MAP_CMAP](0.0)[:3]) * 255).astype(np.uint8))
    for image, _ in ins.inside(cnn, np.zeros((SIDE, SIDE), np.uint8)):
        assert colours(image) <= {silent, (ins.GAP_GREY,) * 3}
    assert all(not s.rise.any() for s in ins.stage_maps(cnn, np.zeros((SIDE, SIDE))))
    for image, caption in ins.inside(cnn, drawing()):
        assert len(colours(image)) > 20
        assert caption.startswith("Stage ") and "glow most for your drawing" in caption


def test_the_first_stage_lights_up_where_the_ink_is(cnn):
    x = np.zeros((SIDE, SIDE), np.uint8)
    x[4:24, 3:7] = 255  # ink in columns 3-6 only
    first = ins.stage_maps(cnn, x)[0].rise
    assert first[:, 3:7].sum() > 0
    # One 3x3 conv reaches one pixel beyond the ink; further right the map is what a blank gives: no rise.
    assert not first[:, 8:].any()
    second = ins.stage_maps(cnn, x)[1].rise  # 14x14: two convs and a pool reach 3 of its pixels at most
    assert not second[:, 7:].any()
    for stage in ins.stage_maps(cnn, drawing()):  # ranked: the most active map first
        means = stage.rise.mean(axis=(0, 1))[stage.order]
        assert (np.diff(means) <= 0).all() and means[0] > 0


def test_maps_are_ranked_most_active_first_and_drawn_on_one_scale():
    rise = np.zeros((7, 7, 20), np.float32)
    for k in range(20):
        rise[..., k] = k / 19  # map 19 is the most active, map 0 silent
    stage = ins.Stage(rise, np.argsort(-rise.mean(axis=(0, 1)), kind="stable"))
    grid = ins.stage_grid(stage)
    side = ins.TILE_PX + ins.GAP_PX
    rows = -(-ins.MAPS_SHOWN // ins.GRID_COLUMNS)
    assert grid.shape == (rows * side - ins.GAP_PX, ins.GRID_COLUMNS * side - ins.GAP_PX, 3)
    tiles = [grid[r * side, c * side].astype(int) for r in range(rows) for c in range(ins.GRID_COLUMNS)]
    brightness = [t.sum() for t in tiles]
    assert brightness == sorted(brightness, reverse=True) and brightness[0] > brightness[-1]
    from matplotlib import colormaps

    top = np.round(np.array(colormaps[ins.MAP_CMAP](1.0)[:3]) * 255)
    assert np.array_equal(tiles[0], top)  # map 19, strongest, first, at the top of the shared scale
    fifth = np.round(np.array(colormaps[ins.MAP_CMAP](15 / 19)[:3]) * 255)
    assert np.array_equal(tiles[4], fifth)  # map 15: a weaker map looks weaker, not rescaled to full


def first_layer(mlp):
    """The MLP's first layer as a reader would work it out: kernel, BN fold, activation for an image."""
    import keras

    dense, bn, relu = mlp.layers[2], mlp.layers[3], mlp.layers[4]
    gamma, _, _, var = (np.asarray(w) for w in bn.get_weights())
    effective = np.asarray(dense.get_weights()[0]) * (gamma / np.sqrt(var + bn.epsilon))
    activation = keras.Model(mlp.inputs, relu.output)
    return effective, lambda x: np.asarray(activation([np.asarray(x, np.float32)[None]]))[0]


def test_each_template_is_the_weight_column_of_the_unit_it_names(mlp):
    effective, activation = first_layer(mlp)
    x = drawing()
    act, blank = activation(x), activation(np.zeros((SIDE, SIDE)))
    panels = ins.inside(mlp, x)
    assert len(panels) == ins.UNITS_SHOWN
    expected_order = np.argsort(-(act - blank), kind="stable")[: ins.UNITS_SHOWN]
    named = []
    for image, caption in panels:
        unit = int(re.match(r"Unit (\d+) of 40 in the first layer: ", caption).group(1))
        named.append(unit)
        column = effective[:, unit].reshape(SIDE, SIDE)  # pixel (r, c) is input r * 28 + c
        assert np.array_equal(image, ins.template_image(column))
        other = effective[:, (unit + 1) % 40].reshape(SIDE, SIDE)
        assert not np.array_equal(image, ins.template_image(other))
    assert named == list(expected_order)  # the units the drawing raises most, most first
    assert {u % 2 for u in named} == {0, 1}  # some whose normalisation flips the weights' sign
    units = ins.active_units(mlp, x)
    assert [u.index for u in units] == named
    np.testing.assert_allclose([u.activation for u in units], act[named], rtol=1e-5, atol=1e-6)


def test_template_colours_follow_the_weights_sign():
    w = np.zeros((SIDE, SIDE), np.float32)
    w[5, 5], w[20, 20] = 2.0, -1.0
    img = ins.template_image(w)
    zoom = ins.TEMPLATE_PX // SIDE
    small = img[::zoom, ::zoom].astype(int)
    assert img.shape == (ins.TEMPLATE_PX, ins.TEMPLATE_PX, 3)
    assert small[5, 5, 0] > small[5, 5, 2] + 50  # raises the unit: red
    assert small[20, 20, 2] > small[20, 20, 0] + 50  # lowers it: blue
    assert np.ptp(small[0, 0]) < 10 and small[0, 0].min() > 200  # no matter: white
    assert np.array_equal(img, np.repeat(np.repeat(img[::zoom, ::zoom], zoom, 0), zoom, 1))


def test_a_blank_image_switches_no_unit_on(mlp):
    assert ins.active_units(mlp, np.zeros((SIDE, SIDE))) == []
    ((image, caption),) = ins.inside(mlp, np.zeros((SIDE, SIDE)))
    assert "no unit" in caption and len(colours(image)) == 1
    assert np.array_equal(image, ins.template_image(np.zeros((SIDE, SIDE))))


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
def test_the_exported_probe_shows_what_the_keras_model_shows(tmp_path, monkeypatch, cnn, kind):
    """A server reads a model's layers from its LiteRT export (no TensorFlow there): the same pictures and captions
    as from the Keras model, for a drawing and for a blank canvas."""
    pytest.importorskip("ai_edge_litert")
    from emnist_core.serving import export

    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))
    model = cnn if kind == "cnn" else tiny_mlp()
    path = tmp_path / f"tiny-{kind}.keras"
    model.save(path)
    assert isinstance(export.load_served(path, here=True), export.LiteModel)
    probe = export.load_probe(path)
    assert probe is not None and probe.kind == kind
    for image in (drawing(), np.zeros((SIDE, SIDE), np.uint8)):
        exported, keras = ins.inside(probe, image), ins.inside(model, image)
        assert [p.caption for p in exported] == [p.caption for p in keras]
        for a, b in zip(exported, keras):
            assert np.abs(a.image.astype(int) - b.image).max() <= 2  # colours from values equal to 1e-5


def test_bad_input_says_what_to_do(cnn):
    with pytest.raises(ValueError, match="28x28"):
        ins.inside(cnn, np.zeros((2, SIDE, SIDE)))
    with pytest.raises(TypeError, match="give its probe"):
        ins.inside(object(), drawing())  # a served LiteRT model, say
