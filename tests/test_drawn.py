"""Drawn input: the sketchpad renderer, the unipen dataset's partition, and `evaluate --dataset unipen --json`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from emnist_core.data import datasets as ds
from emnist_core.data import drawn
from emnist_core.data.preprocess import preprocess
from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS, INK, PAPER, PEN_SCALE, render_strokes
from ui import pad

# An "L" as a tablet records it: down the left side, then along the bottom; y points up.
L_STROKE = np.array([[0, 100], [0, 0], [60, 0]], np.float32)


def test_renderer_flips_y_and_draws_black_ink_on_white():
    canvas = render_strokes([L_STROKE], np.random.default_rng(0))
    assert canvas.shape == (CANVAS, CANVAS) and canvas.dtype == np.uint8
    assert set(np.unique(canvas)) == {INK, PAPER}  # a hard-edged brush: no grey
    rows, cols = np.nonzero(canvas == INK)
    top, bottom = rows.min(), rows.max()
    # The foot of the L is at the bottom of the canvas drawing, reaching right; the top has only the stem.
    width_at = lambda r: np.ptp(cols[rows == r])
    assert width_at(bottom - BRUSH_RADIUS // 2) > 2 * width_at(top + BRUSH_RADIUS // 2)
    # The 28x28 image reads as an upright L too: more ink in the bottom rows' right half than the top's.
    x = preprocess(canvas).astype(float)
    assert x[18:24, 14:].sum() > 3 * x[4:10, 14:].sum()


def test_renderer_uses_the_sketchpad_brush():
    # A horizontal stroke's thickness is the brush's diameter, scaled within PEN_SCALE.
    for seed in range(5):
        canvas = render_strokes([np.array([[0, 0], [100, 0]], np.float32)], np.random.default_rng(seed))
        thickness = (canvas == INK).any(axis=1).sum()
        assert 2 * BRUSH_RADIUS * PEN_SCALE[0] - 2 <= thickness <= 2 * BRUSH_RADIUS * PEN_SCALE[1] + 2
    # The page's pad shows its strokes with the same brush on the same canvas, and the server draws what it sends
    # with the renderer's own brush: a horizontal stroke is the brush's diameter thick.
    assert f"const SIDE = {CANVAS}, RADIUS = {BRUSH_RADIUS};" in pad.JS
    sent = pad.drawing({"strokes": [[[100, 300], [200, 200]]]})
    assert sent.shape == (CANVAS, CANVAS) and (sent == INK).any(axis=1).sum() in range(
        2 * BRUSH_RADIUS - 1, 2 * BRUSH_RADIUS + 2
    )


def test_a_single_tap_is_a_dot_not_an_error():
    canvas = render_strokes([np.array([[5, 5]], np.float32)], np.random.default_rng(0))
    assert (canvas == INK).sum() > 0
    with pytest.raises(ValueError, match="no pen strokes"):
        render_strokes([], np.random.default_rng(0))


def test_rendering_depends_on_each_seed_only():
    strokes = [[L_STROKE], [L_STROKE[::-1]], [L_STROKE * 3]]
    seeds = [1, 2, 3]
    forward = drawn.render_drawn(strokes, seeds, workers=1)
    backward = drawn.render_drawn(strokes[::-1], seeds[::-1], workers=1)
    np.testing.assert_array_equal(forward, backward[::-1])
    np.testing.assert_array_equal(forward, drawn.render_drawn(strokes, seeds, workers=1))
    assert forward.shape == (3, 28, 28) and forward.dtype == np.uint8


def _release(root: Path, writers: dict[str, list[tuple[str, np.ndarray]]]) -> Path:
    """A small UNIPEN release: one data file per writer, each holding its characters."""
    for writer, chars in writers.items():
        body = f".WRITER_ID {writer}\n.X_POINTS_PER_INCH 500\n.Y_POINTS_PER_INCH 500\n"
        for _, stroke in chars:
            body += ".PEN_DOWN\n" + "".join(f"{int(x)} {int(y)}\n" for x, y in stroke) + ".PEN_UP\n"
        inc = root / "include" / "con" / f"{writer}.dat"
        inc.parent.mkdir(parents=True, exist_ok=True)
        inc.write_text(body)
        data = root / "data" / "1a" / "con" / f"{writer}.dat"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text(
            f".INCLUDE con/{writer}.dat\n"
            + "".join(f'.SEGMENT CHARACTER {i} ? "{label}"\n' for i, (label, _) in enumerate(chars))
        )
    return root


def _writer_in_part(part: int, avoid=(), after="") -> str:
    return next(
        w
        for w in (f"w{i:03d}" for i in range(1000))
        if drawn._unipen_part(f"con/{w}") == part and w not in avoid and w > after
    )


@pytest.fixture
def small_release(tmp_path):
    rng = np.random.default_rng(0)
    strokes = {
        label: L_STROKE * (1 + 0.1 * i) + rng.integers(0, 5, L_STROKE.shape) for i, label in enumerate("0123456789")
    }
    train_w, test_w = _writer_in_part(0), _writer_in_part(2)
    # Alone, the twin would be in train; it repeats SAME_WRITER_MIN_SHARED of test_w's recordings, so it is the
    # same person and joins test_w's group (which takes the side of its first name, test_w's). The loner
    # shares one recording with train_w (a chance match): too few to join it.
    twin = _writer_in_part(0, avoid=(train_w,), after=test_w)
    loner = _writer_in_part(2, avoid=(test_w,), after=train_w)
    shared = "0123456789"[: drawn.SAME_WRITER_MIN_SHARED]
    writers = {
        train_w: [(c, strokes[c] + 1) for c in "0123456789"],
        test_w: [(c, strokes[c] + 2) for c in shared] + [("4", np.array([[7, 7], [7, 7]], np.float32))],  # + a dot
        twin: [(c, strokes[c] + 2) for c in shared] + [("5", strokes["5"] + 3)],
        loner: [("0", strokes["0"] + 1), ("8", strokes["8"] + 4)],
    }
    return _release(tmp_path / "train_r01_v07", writers), train_w, test_w, twin, loner


def test_partition_keeps_writers_and_shared_recordings_on_one_side(small_release, monkeypatch, tmp_path):
    root, _train_w, _test_w, _twin, _loner = small_release
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))
    data = ds.load_dataset("unipen", unipen_dir=root)
    # train_w's 10 characters in train; test_w's (its dot dropped) and the twin's new "5" in test (the twin's
    # copies dropped); the loner in test with its own "8" (its copy of train_w's "0" dropped).
    n_shared = drawn.SAME_WRITER_MIN_SHARED
    assert data.counts() == {"train": 10, "validation": 0, "test": n_shared + 2}
    assert sorted(data.y_test.tolist()) == sorted(list(range(n_shared)) + [5, 8])
    assert set(data.test_sections) == {"digits"}


BAR = np.array([[0, 0], [2, 40], [1, 80], [3, 120]], np.float32)  # a slightly wobbly vertical line


def test_a_straight_line_is_told_from_a_bent_or_closed_stroke():
    circle = np.stack([np.cos(t := np.linspace(0, 2 * np.pi, 30)), np.sin(t)], axis=1) * 50
    assert drawn.is_straight_line([BAR]) and drawn.is_straight_line([BAR[:, ::-1]])  # upright or lying down
    assert not drawn.is_straight_line([L_STROKE])
    assert not drawn.is_straight_line([circle])
    assert not drawn.is_straight_line([BAR, BAR + [30, 0]])  # two strokes: an 11, an H's sides
    assert not drawn.is_straight_line([np.array([[0, 0], [0, 100], [0, 5]], np.float32)])  # down and back up
    assert not drawn.is_straight_line([np.array([[5, 5], [5, 5]], np.float32)])  # a dot


def test_a_line_is_kept_as_1_i_or_l_and_left_out_as_any_other_class(tmp_path, monkeypatch):
    """A single straight stroke labelled H or 4 is one stroke of a character cut short by its segment: no drawing
    of an H looks like it, so it is left out of every part; as 1, i or l it is what was drawn."""
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))
    chars = [(c, BAR + 3 * i) for i, c in enumerate("1ilH4")] + [("4", L_STROKE)]
    root = _release(tmp_path / "train_r01_v07", {_writer_in_part(0): chars})
    data = ds.load_dataset("unipen", unipen_dir=root)
    names = data.label_map.names
    assert sorted(names[c] for c in data.y_train) == sorted(["1", "I", "L", "4"])  # the bent "4" stays


def test_evaluate_unipen_json_form(small_release, tmp_path, monkeypatch):
    from conftest import run_cli

    root = small_release[0]
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))  # the real release's drawings stay cached
    proc = run_cli("evaluate", "--model", "mlp", "--dataset", "unipen", "--unipen-dir", root, "--json")
    result = json.loads(proc.stdout)
    assert {"accuracy", "top3", "n", "sections"} <= result.keys()
    assert result["n"] == drawn.SAME_WRITER_MIN_SHARED + 2 and set(result["sections"]) == {"digits"}
    assert 0 <= result["accuracy"] <= result["top3"] <= 1


def test_a_saved_drawn_report_names_no_folder_of_this_machine(small_release, tmp_path, monkeypatch, tiny_model):
    """Reports ship beside the models: --save-report keeps the scores and leaves out where the data lay."""
    from emnist_core.models.store import report_path

    from conftest import run_cli

    root = small_release[0]
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))
    run_cli("evaluate", "--model", tiny_model, "--dataset", "unipen", "--unipen-dir", root, "--save-report")
    saved = report_path(tiny_model, "unipen").read_text()
    report = json.loads(saved)
    assert report["n"] == drawn.SAME_WRITER_MIN_SHARED + 2 and report["dataset"] == "unipen"
    assert str(root.parent) not in saved and "source" not in report


def test_evaluate_without_unipen_data_says_where_to_get_it(tmp_path):
    from conftest import run_cli

    proc = run_cli(
        "evaluate", "--model", "mlp", "--dataset", "unipen", "--unipen-dir", tmp_path / "nowhere", "--json", check=False
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.search(r"unipen", proc.stderr, re.I)
