"""Bad input never crashes preprocessing: any array or file gives a 28x28 frame or a short ImageInputError."""

import json
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw, ImageFile

from emnist_core import cli
from emnist_core.data import preprocess as pp
from emnist_core.data.preprocess import (
    MAX_IMAGE_PIXELS,
    EmptyCanvasError,
    ImageInputError,
    TooSmallError,
    ink_map,
    load_image,
    preprocess,
)

from conftest import png_bomb

DTYPES = (np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_)
MAX_MESSAGE = 120  # characters, not counting a file path: one line a person reads
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _elements(dtype):
    if dtype == np.bool_:
        return st.booleans()
    if np.issubdtype(dtype, np.floating):
        width = np.finfo(dtype).bits
        # In-range drawings most of the time, and anything at all (NaN, inf, negative, 1e300) the rest.
        return st.one_of(st.floats(0, 1, width=width), st.floats(0, 255, width=width), st.floats(width=width))
    info = np.iinfo(dtype)
    return st.one_of(st.integers(0, min(255, int(info.max))), st.integers(int(info.min), int(info.max)))


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(
        st.one_of(
            hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),  # grey, 1x1 and 1xN included
            st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 2, 3, 4, 5])),  # channels
            hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),  # empty, 1-D, 4-D ...
        )
    )
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))


def _short(exc: Exception, path=None) -> bool:
    text = str(exc).replace(str(path), "") if path else str(exc)
    return 0 < len(text) <= MAX_MESSAGE and "\n" not in text


def _frame_or_clear_error(image):
    """The contract: a uint8 (28, 28) frame scaled to full white, or an ImageInputError with a short message."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy overflow/invalid warnings mean unchecked input
        try:
            x = preprocess(image)
        except ImageInputError as exc:
            assert _short(exc), str(exc)
            return exc
    assert x.dtype == np.uint8 and x.shape == (28, 28) and x.max() == 255
    return x


@PROPERTY
@given(arrays())
def test_preprocess_gives_a_frame_or_a_clear_error(a):
    _frame_or_clear_error(a)


@PROPERTY
@given(arrays())
def test_ink_map_is_finite_and_in_unit_range_or_a_clear_error(a):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            ink = ink_map(a)
        except ImageInputError as exc:
            assert _short(exc), str(exc)
            return
    assert ink.dtype == np.float32 and ink.ndim == 2 and max(ink.shape) <= pp.MAX_INPUT_SIDE
    assert np.isfinite(ink).all() and ink.min() >= 0 and ink.max() <= 1


@settings(max_examples=25, deadline=None)
@given(
    long_side=st.integers(5, 9000),
    short_side=st.integers(5, 40),
    tall=st.booleans(),
    dark_on_light=st.booleans(),
    data=st.data(),
)
def test_long_thin_canvases_keep_their_ink(long_side, short_side, tall, dark_on_light, data):
    """Up to 9000 pixels a side (past MAX_INPUT_SIDE, so shrunk first): a 3-pixel-thick mark is still found.

    Found means read, or refused as too small to be a character (a speck on a wide strip), which only a
    mark that was found can be; lost would be "the canvas is empty"."""
    h, w = (long_side, short_side) if tall else (short_side, long_side)
    canvas = np.full((h, w), 255 if dark_on_light else 0, np.uint8)
    top, left = data.draw(st.integers(1, h - 4)), data.draw(st.integers(1, w - 4))
    bottom, right = data.draw(st.integers(top + 3, h - 1)), data.draw(st.integers(left + 3, w - 1))
    canvas[top:bottom, left:right] = 0 if dark_on_light else 255
    x = _frame_or_clear_error(canvas)
    assert isinstance(x, (np.ndarray, TooSmallError)), f"ink lost: {x}"


def _glyph(size=120) -> np.ndarray:
    img = Image.new("L", (size, size), 255)
    ImageDraw.Draw(img).line([(30, 20), (30, 95), (85, 95)], fill=0, width=9)
    return np.asarray(img)


def _transparent_sketch():
    rgba = np.zeros((100, 100, 4), np.uint8)
    return rgba  # all alpha 0: a sketchpad layer nobody drew on


def _dot():
    a = np.full((200, 200), 255, np.uint8)
    a[100, 100] = 0
    return a


@pytest.mark.parametrize(
    "name, image, expected",
    [
        ("empty array", np.zeros((0, 0), np.uint8), "empty or non-numeric"),
        ("blank white", np.full((200, 200), 255, np.uint8), "draw a character"),
        ("blank black", np.zeros((200, 200), np.uint8), "draw a character"),
        ("full ink", np.zeros((64, 64, 3), np.uint8), "draw a character"),
        ("transparent RGBA", _transparent_sketch(), "draw a character"),
        ("NaN", np.full((20, 20), np.nan, np.float32), "NaN or infinite"),
        ("negative", -np.ones((20, 20), np.int32), "negative values"),
        ("two channels", np.zeros((20, 20, 2), np.uint8), "shape (20, 20, 2)"),
        ("complex", np.ones((20, 20), np.complex64), "Unsupported pixel type"),
        ("ragged rows", [[0, 255], [0]], "different lengths"),
        ("text", "an A", "shape ()"),
        ("None", None, "non-numeric"),
    ],
)
def test_named_bad_arrays_give_their_message(name, image, expected):
    with pytest.raises(ImageInputError, match=re.escape(expected)) as err:
        preprocess(image)
    assert _short(err.value)
    if expected == "draw a character":
        assert isinstance(err.value, EmptyCanvasError)


@pytest.mark.parametrize(
    "image",
    [
        _glyph()[:, :, None].astype(np.float64),  # (H, W, 1) float 0-255
        Image.fromarray(_glyph()).convert("P"),
        Image.fromarray(_glyph()).convert("LA"),
        Image.fromarray(_glyph()).convert("1"),
        _glyph() < 128,  # bool, ink True
    ],
    ids=["HxWx1 float", "palette", "LA", "1-bit", "bool"],
)
def test_other_readable_forms_give_a_frame(image):
    assert isinstance(_frame_or_clear_error(image), np.ndarray)


def test_a_single_dot_is_too_small_but_a_close_crop_of_one_is_a_centred_blob():
    with pytest.raises(TooSmallError, match="draw it bigger"):  # a pixel on a 200x200 canvas: no character
        preprocess(_dot())
    x = preprocess(_dot()[98:103, 98:103])  # the same dot, a fifth of a 5x5 image
    assert x[14, 14] == 255 and x[0].max() == 0 and x[:, 0].max() == 0


def test_greyscale_colour_and_16_bit_agree():
    grey = _glyph()
    ref = preprocess(grey).astype(int)
    deep = grey.astype(np.uint16) * 257
    for variant in (
        np.stack([grey] * 3, -1),
        deep,
        deep.astype(">u2"),
        grey.astype(np.int32) * 257,
        grey.astype(np.float64) * 4,
        Image.fromarray(grey).convert("CMYK"),
    ):
        assert np.abs(preprocess(variant).astype(int) - ref).max() <= 2


# Files ---------------------------------------------------------------------------------------------

BOMB_SIDE = 20_000  # over Pillow's own limit (2 x Image.MAX_IMAGE_PIXELS), which stops it at the header
OVER_SIDE = math.isqrt(MAX_IMAGE_PIXELS) + 1  # under Pillow's limit, just over ours


@pytest.fixture
def files(tmp_path):
    """One of each kind of bad (and good) image file."""
    glyph = _glyph()
    out = {}
    Image.fromarray(glyph).save(out.setdefault("good", tmp_path / "good.png"))
    Image.fromarray(glyph.astype(np.uint16) * 257).save(out.setdefault("16-bit", tmp_path / "sixteen.png"))
    Image.fromarray(np.zeros((50, 50, 4), np.uint8)).save(out.setdefault("transparent", tmp_path / "transparent.png"))
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(out.setdefault("blank", tmp_path / "blank.png"))
    out["bomb"] = png_bomb(tmp_path / "bomb.png", BOMB_SIDE, BOMB_SIDE)
    out["over our limit"] = png_bomb(tmp_path / "big.png", OVER_SIDE, OVER_SIDE)
    (out.setdefault("not an image", tmp_path / "notes.png")).write_bytes(b"these are my notes, not a picture\n" * 20)
    (out.setdefault("zero bytes", tmp_path / "zero.png")).write_bytes(b"")
    good = out["good"].read_bytes()
    (out.setdefault("truncated", tmp_path / "truncated.png")).write_bytes(good[: len(good) // 2])
    (out.setdefault("folder", tmp_path / "folder.png")).mkdir()
    out["missing"] = tmp_path / "missing.png"
    return out


FILE_ERRORS = {
    "bomb": f"over {MAX_IMAGE_PIXELS:,} pixels; scale it down first",
    "over our limit": f"the image is {OVER_SIDE}x{OVER_SIDE}, over {MAX_IMAGE_PIXELS:,} pixels",
    "not an image": "not an image file (use PNG, JPEG",
    "zero bytes": "the file is empty",
    "truncated": "damaged or cut short",
    "folder": "cannot be read",
    "missing": "file not found",
}


@pytest.mark.parametrize("kind", list(FILE_ERRORS))
def test_bad_image_files_give_a_clear_error(files, kind):
    with pytest.raises(ImageInputError, match=re.escape(FILE_ERRORS[kind])) as err:
        load_image(files[kind])
    assert str(files[kind]) in str(err.value) and _short(err.value, files[kind])


def test_a_decompression_bomb_is_refused_before_any_pixel_is_decoded(files, monkeypatch):
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    for kind in ("bomb", "over our limit"):
        with pytest.raises(ImageInputError, match="scale it down"):
            load_image(files[kind])
    assert decoded == []


def test_the_pixel_limit_is_ours_and_exact(tmp_path, monkeypatch):
    Image.new("L", (10, 10), 255).save(tmp_path / "at.png")
    Image.new("L", (10, 11), 255).save(tmp_path / "over.png")
    monkeypatch.setattr(pp, "MAX_IMAGE_PIXELS", 100)
    assert load_image(tmp_path / "at.png").shape[:2] == (10, 10)
    with pytest.raises(ImageInputError, match="10x11, over 100 pixels"):
        load_image(tmp_path / "over.png")


def test_16_bit_png_keeps_its_depth_and_matches_8_bit(files):
    deep = load_image(files["16-bit"])
    assert deep.dtype == np.uint16 and deep.max() > 255
    assert np.abs(preprocess(deep).astype(int) - preprocess(load_image(files["good"])).astype(int)).max() <= 2


@pytest.mark.parametrize("kind", ["transparent", "blank"])
def test_image_files_without_ink_are_empty_canvases(files, kind):
    with pytest.raises(EmptyCanvasError):
        preprocess(load_image(files[kind]))


def test_a_lazily_opened_broken_file_passed_as_pil_is_an_image_input_error(files):
    with Image.open(files["truncated"]) as img, pytest.raises(ImageInputError, match="cannot be decoded"):
        preprocess(img)


def test_cli_predict_reports_each_bad_file_and_keeps_going(files, untrained_model_file, capsys):
    order = ["not an image", "good", "zero bytes", "bomb", "transparent", "missing", "truncated", "16-bit"]
    code = cli.main(
        ["predict", "--json", "--top", "3", "--model", str(untrained_model_file), *(str(files[k]) for k in order)]
    )
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["file"] for line in lines] == [str(files[k]) for k in order]
    for kind, line in zip(order, lines):
        if kind in ("good", "16-bit"):
            assert len(line["top"]) == 3 and "error" not in line
        else:
            assert "top" not in line and _short(line["error"], files[kind])
            assert FILE_ERRORS.get(kind, "draw a character") in line["error"]
    assert code == 1  # some files failed
