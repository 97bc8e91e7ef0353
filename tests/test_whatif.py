"""What if: each variant really is the change it is named for, both models answer on every variant in one
batch, and the robustness table scores a model under each variant and is kept in its drawn report."""

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from emnist_core import cli
from emnist_core.data import datasets as ds
from emnist_core.data.datasets import Dataset
from emnist_core.data.labels import label_map
from emnist_core.data.preprocess import SIDE, EmptyCanvasError, preprocess
from emnist_core.models import store
from emnist_core.models.evaluation import report_from_probabilities
from emnist_core.serving import robustness as rb
from emnist_core.serving import variants as va
from emnist_core.serving.predictor import Predictor
from emnist_core.serving.whatif import what_if

from conftest import untrained_model

CANVAS = 400


def sketch(corner=False):
    """A sketchpad-like canvas (black on white) with a tall 'L'; ``corner``: small, in the top-left corner."""
    img = Image.new("L", (CANVAS, CANVAS), 255)
    draw = ImageDraw.Draw(img)
    if corner:
        draw.line([(40, 30), (40, 150), (110, 150)], fill=0, width=16, joint="curve")
    else:
        draw.line([(150, 60), (150, 340), (280, 340)], fill=0, width=28, joint="curve")
    return np.asarray(img)


def centre(x):
    return np.array(ndimage.center_of_mass(np.asarray(x, np.float64)))


def orientation(x):
    """Angle of the ink's long axis from vertical, in degrees, anticlockwise as seen positive."""
    x = np.asarray(x, np.float64)
    r, c = np.indices(x.shape)
    (cr, cc), w = centre(x), x / x.sum()
    mrr, mcc, mrc = (w * (r - cr) ** 2).sum(), (w * (c - cc) ** 2).sum(), (w * (r - cr) * (c - cc)).sum()
    # rows grow downwards: a top leaning left (anticlockwise) has columns falling as rows rise: mrc > 0
    return np.degrees(0.5 * np.arctan2(2 * mrc, mrr - mcc))


def bar():
    x = np.zeros((SIDE, SIDE), np.uint8)
    x[4:24, 12:16] = 255
    return ndimage.gaussian_filter(x, 1)


def test_every_variant_is_named_and_a_28x28():
    pictures = va.variants(preprocess(sketch()), sketch())
    assert list(pictures) == list(va.VARIANTS) and len(pictures) == 9
    assert all(p.shape == (SIDE, SIDE) and p.dtype == np.uint8 for p in pictures.values())
    assert np.array_equal(pictures[va.AS_DRAWN], preprocess(sketch()))
    distinct = {p.tobytes() for p in pictures.values()}
    assert len(distinct) == len(pictures)  # none is a copy of another


def test_shifted_moves_the_ink_by_the_shift():
    x = preprocess(sketch())
    moved = centre(va.variants(x)["shifted"]) - centre(x)
    np.testing.assert_allclose(moved, va.SHIFT, atol=0.3)


def test_rotations_turn_the_ink_both_ways():
    pictures = va.variants(bar())
    assert abs(orientation(bar())) < 1
    plus, minus = (orientation(pictures[f"rotated {s}{va.TURN_DEGREES}°"]) for s in "+-")
    assert plus == pytest.approx(va.TURN_DEGREES, abs=2) and minus == pytest.approx(-va.TURN_DEGREES, abs=2)
    np.testing.assert_allclose(centre(pictures["rotated +15°"]), centre(bar()), atol=0.3)  # turned in place


def test_thinner_thicker_and_smaller_change_the_strokes_and_size():
    x = preprocess(sketch())
    p = va.variants(x)
    ink = lambda img: int((img >= 128).sum())
    assert ink(p["thinner"]) < 0.8 * ink(x) < ink(x) < 0.8 * ink(p["thicker"])
    assert (p["thinner"] <= x).all() and (p["thicker"] >= x).all()  # erosion inside, dilation outside the ink

    def extent(img):
        rows, cols = np.nonzero(img >= 128)
        return np.ptp(rows) + 1, np.ptp(cols) + 1

    np.testing.assert_allclose(np.array(extent(p["smaller"])) / extent(x), va.SMALLER, atol=0.08)
    np.testing.assert_allclose(
        centre(p["smaller"]) - (SIDE - 1) / 2, (centre(x) - (SIDE - 1) / 2) * va.SMALLER, atol=0.3
    )  # shrunk about the centre


def test_noise_is_speckle_of_the_stated_spread_and_the_same_every_time():
    x = preprocess(sketch())
    noisy = va.variants(x)["with noise"]
    assert np.array_equal(noisy, va.variants(x)["with noise"])
    background = x == 0
    # Speckle clipped at black: half the background pixels lit, about 0.8 sd on average where lit.
    lit = noisy[background] > 0
    assert 0.4 < lit.mean() < 0.6
    assert noisy[background][lit].mean() == pytest.approx(0.8 * va.NOISE_SD, rel=0.15)


def test_not_centred_keeps_the_place_on_the_canvas():
    drawing = sketch(corner=True)
    centred, not_centred = preprocess(drawing), va.variants(preprocess(drawing), drawing)[va.NOT_CENTRED]
    rows, _cols = np.nonzero(centred >= 128)
    assert abs((rows.min() + rows.max()) / 2 - (SIDE - 1) / 2) <= 1  # preprocessing centres the ink's box
    r, c = centre(not_centred)
    assert r < 10 and c < 10  # the drawing sits in the canvas's top-left corner
    assert np.array_equal(not_centred, preprocess(drawing, centre=False))
    big = preprocess(sketch(), centre=False)
    assert (big >= 128).sum() > 2 * (not_centred >= 128).sum()  # and it keeps its size on the canvas
    with pytest.raises(EmptyCanvasError):
        preprocess(np.full((CANVAS, CANVAS), 255, np.uint8), centre=False)


def test_a_test_image_is_placed_on_a_canvas_when_there_is_no_drawing():
    rng = np.random.default_rng(0)
    x = preprocess(sketch())
    canvas = va.placed_on_canvas(x, rng)
    assert canvas.shape == (CANVAS, CANVAS) and canvas.max() > 200
    rows, cols = np.nonzero(canvas >= 128)
    side = max(np.ptp(rows), np.ptp(cols)) / CANVAS
    assert va.CHAR_SIZE[0] - 0.05 <= side <= va.CHAR_SIZE[1] + 0.05
    picks = [va.uncentred(x, np.random.default_rng(seed)) for seed in range(6)]
    assert len({tuple(np.round(centre(p))) for p in picks}) > 3  # each in its own place


@pytest.fixture(scope="module")
def predictor():
    import keras

    return Predictor(
        {
            "mlp": untrained_model(),
            "cnn": untrained_model([keras.layers.Reshape((SIDE, SIDE, 1)), keras.layers.Conv2D(4, 3)]),
        }
    )


def test_what_if_answers_for_both_models_on_every_variant_in_one_batch(predictor, monkeypatch):
    batches = []
    real = predictor.top_k
    monkeypatch.setattr(predictor, "top_k", lambda images, k=5: batches.append(images) or real(images, k))
    out = what_if(predictor, sketch())
    assert len(batches) == 1 and batches[0].shape == (len(va.VARIANTS), SIDE, SIDE)
    assert [row["variant"] for row in out.rows] == list(va.VARIANTS)
    json.dumps(out.rows)  # plain values, ready to send
    # Each model's own answer on each variant's image (the same batch: the same numbers to the last bit).
    probs = predictor.probabilities(np.stack([image for image, _ in out.images]))
    for i, (row, (_image, caption)) in enumerate(zip(out.rows, out.images)):
        assert set(row) == {"variant", "mlp", "cnn"} and caption.startswith(row["variant"] + ": ")
        for model in ("mlp", "cnn"):
            best = int(np.argmax(probs[model][i]))
            assert row[model] == {
                "label": predictor.labels.names[best],
                "confidence": round(float(probs[model][i, best]), 4),
            }
    assert np.array_equal(out.images[2][0], va.variants(preprocess(sketch()))["shifted"])


def test_what_if_on_a_blank_canvas_says_so_before_asking_a_model(predictor, monkeypatch):
    monkeypatch.setattr(predictor, "top_k", lambda *a, **k: pytest.fail("a model was asked"))
    with pytest.raises(EmptyCanvasError):
        what_if(predictor, np.full((CANVAS, CANVAS), 255, np.uint8))


class LeftOrRight:
    """A toy model: class 1 when the ink's centre lies right of column 12, else class 0."""

    output_shape = (None, 47)

    def predict_on_batch(self, x):
        cols = np.array([centre(img)[1] for img in np.asarray(x)])
        probs = np.full((len(x), 47), 1e-6, np.float32)
        probs[np.arange(len(x)), (cols > 12).astype(int)] = 1
        return probs


def bars(n=12):
    """Vertical bars left of centre (column centre 10.5), all class 0."""
    x = np.zeros((n, SIDE, SIDE), np.uint8)
    for i in range(n):
        x[i, 4 + i % 3 : 24 - i % 4, 9:13] = 255
    return x, np.zeros(n, int)


def test_robustness_scores_each_variant_of_the_test_set():
    x, y = bars()
    table = rb.robustness(LeftOrRight(), x, y, label_map("bymerge"), test_set="bars")
    assert list(table["variants"]) == list(va.VARIANTS) and table["n"] == len(y)
    rows = table["variants"]
    assert rows[va.AS_DRAWN] == {"accuracy": 1.0, "mean_recall": 1.0}
    assert rows["shifted"]["accuracy"] == 0.0  # moved 3 right: past column 12, every bar
    assert rows["rotated +15°"]["accuracy"] == rows["smaller"]["accuracy"] == 1.0  # turned or shrunk in place
    text = rb.format_table(table)
    assert "shifted" in text and "-100.0" in text
    sets = rb.variant_sets(x)
    assert all(np.array_equal(a, b) for a, b in zip(sets.values(), rb.variant_sets(x).values()))  # repeatable


@pytest.fixture
def drawn_model(tmp_path, monkeypatch):
    """A tiny model saved with a drawn report, and a small stand-in for the drawn test set."""
    x, y = bars(20)
    x[10:] = x[10:, :, ::-1]  # the second half on the right: class 1
    y[10:] = 1
    monkeypatch.setattr(
        ds, "load_dataset", lambda name, *a, **k: Dataset(name, label_map("bymerge"), x, y, x, y, x, y, "bars", [])
    )
    model = untrained_model()
    probs = model.predict_on_batch(x.astype(np.float32))
    report = {**report_from_probabilities(probs, y, label_map("bymerge")), "dataset": "unipen"}
    path = tmp_path / "tiny.keras"
    model.save(path)
    for dataset in ("", "unipen"):
        store.save_report(report, store.report_path(path, dataset))
    return path, report


def test_the_robustness_command_keeps_the_table_in_the_drawn_report(drawn_model, capsys):
    path, before = drawn_model
    assert cli.main(["robustness", "--model", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = store.load_report(store.report_path(path, "unipen"))
    assert saved["robustness"]["variants"] == printed["variants"]
    assert list(printed["variants"]) == list(va.VARIANTS) and printed["n"] == 20
    assert {k: saved[k] for k in before} == json.loads(json.dumps(before))  # the rest of the report as it was
    assert printed["variants"][va.AS_DRAWN]["accuracy"] == pytest.approx(before["accuracy"])
    assert "robustness --model" in saved["robustness"]["command"]
    assert store.load_report(store.report_path(path)).get("robustness") is None  # only the drawn report


def test_the_robustness_command_without_a_drawn_report_says_what_to_do(drawn_model, capsys):
    path, _ = drawn_model
    store.report_path(path, "unipen").unlink()
    assert cli.main(["robustness", "--model", str(path)]) == 2
    assert "evaluate --model" in capsys.readouterr().err
    assert cli.main(["robustness", "--model", str(path), "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "not centred" in out and "balanced" in out
    assert not store.report_path(path, "unipen").exists()
