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
from ui import draw, inside, models
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


def test_inside_shows_each_cnn_stage_as_the_core_draws_it(client, lab, seven):
    path, x28 = seven
    cnn, _, note = client.predict(sketch(path), api_name="/inside")
    expected = layers.inside(lab.live["cnn"].path, x28)
    stages = layers.stage_maps(lab.live["cnn"].path, x28)
    assert len(cnn) == len(expected) == len(stages) >= 2  # one picture per conv stage
    for i, (panel, want, stage) in enumerate(zip(cnn, expected, stages)):
        h, w, maps = stage.rise.shape
        assert panel["caption"].startswith(f"Stage {i + 1}: {h}x{w}, {maps} maps."), panel["caption"]
        assert np.array_equal(pixels(panel["image"]), want.image)  # the grid of this drawing, not another's
        assert pixels(panel["image"]).max() > 0 and stage.rise.max() > 0  # a drawing lights maps up
    sizes = [stage.rise.shape[0] for stage in stages]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == SIDE  # first stage first
    assert lab.live["cnn"].title in note and lab.live["mlp"].title in note


def test_inside_shows_the_templates_of_the_units_it_names(client, lab, seven):
    path, x28 = seven
    _, mlp, _ = client.predict(sketch(path), api_name="/inside")
    units = layers.active_units(lab.live["mlp"].path, x28)
    total = len(layers.probe(lab.live["mlp"].path).templates)
    assert len(mlp) == len(units) == layers.UNITS_SHOWN
    for _rank, (panel, unit) in enumerate(zip(mlp, units)):
        assert panel["caption"].startswith(f"Unit {unit.index} of {total} in the first layer"), panel["caption"]
        # the picture is the template of the unit its caption names
        assert np.array_equal(pixels(panel["image"]), layers.template_image(unit.template))
        assert pixels(panel["image"]).shape == (layers.TEMPLATE_PX, layers.TEMPLATE_PX, 3)
    assert [u.rise for u in units] == sorted((u.rise for u in units), reverse=True)  # strongest first


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


def test_a_drawing_made_while_the_layers_load_is_told_loading_then_shown(lab, seven, monkeypatch):
    path, _ = seven
    monkeypatch.setattr(inside, "_loaded", set())  # as a server that has not loaded them yet
    shown = list(inside.show_inside(lab, {"composite": load_image(path)}))
    assert shown[0][2] == inside.LOADING and len(shown) == 2
    cnn, mlp, _ = shown[1]
    assert len(cnn) >= 2 and len(mlp) == layers.UNITS_SHOWN
    assert inside.is_warm(lab)  # the next drawing is not told "loading"
    assert len(list(inside.show_inside(lab, {"composite": load_image(path)}))) == 1


def test_models_tab_shows_each_live_models_robustness_table(lab):
    notes = models.robustness_notes(lab)
    for slot, note in zip(("mlp", "cnn"), notes):
        section = lab.live[slot].drawn_report["robustness"]
        assert lab.live[slot].name in note
        for variant, scores in section["variants"].items():
            assert f"{variant:<14}{scores['accuracy']:>9.1%}" in note  # its own figures, per variant


def test_a_model_without_a_robustness_table_is_told_who_makes_one(lab):
    live = dataclasses.replace(lab.live["cnn"], drawn_report=None)
    note = models.robustness_note(live)
    assert "no table" in note and "command line's `robustness`" in note and "with noise" not in note
    assert str(live.path.parent) not in note and "python -m" not in note  # no server path, no shell command
