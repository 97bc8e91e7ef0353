"""Variants of a drawing: the same character moved, turned, thinned, thickened, shrunk or speckled.

Every variant but one changes the 28x28 image the models read (after preprocessing, which would undo a
move or a change of size or pen on the canvas). "not centred" is the exception: it skips the
preprocessing's crop-and-centre step (``preprocess(..., centre=False)``), so it needs the drawing itself.
For a set of 28x28 images with no drawing behind them (a test set), ``placed_on_canvas`` puts each one
back on a sketchpad-sized canvas at a random size and place, drawn as ``sketchpad.render_strokes`` draws
characters, and that canvas is read without centring.

The image operations are scipy.ndimage's, in C; the variants are fixed (no randomness but the noise,
which comes from a seeded generator), so the same drawing always gives the same pictures.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from emnist_core.data.preprocess import SIDE, preprocess
from emnist_core.data.sketchpad import CANVAS, CHAR_SIZE

AS_DRAWN = "as drawn"
NOT_CENTRED = "not centred"
# Pixels down and right. EMNIST framing leaves only 2-3 pixels between the ink and the frame's edge
# (preprocess.BORDER): a longer move would cut ink off, and test cropping rather than moving.
SHIFT = (2, 2)
TURN_DEGREES = 15
PEN_FOOTPRINT = ndimage.generate_binary_structure(2, 1)  # a 3x3 cross: one pixel off or onto each side
SMALLER = 0.7  # of the size, about the frame's centre
NOISE_SD = 20  # grey levels (of 255): a light speckle over the whole frame, as a grainy photo of paper
NOISE_SEED = 0
# EMNIST-framed ink's long side is ~22 of the 28 pixels (see preprocess.BORDER); a placed frame is scaled
# so the ink's long side is a share of the canvas drawn as the sketchpad renderer draws characters.
INK_SHARE_OF_FRAME = 22 / SIDE

# name -> what it is, in plain words (the order is the order shown)
VARIANTS = {
    AS_DRAWN: "what the models normally read",
    NOT_CENTRED: "where and as big as it is on the canvas, without the centring step",
    "shifted": f"moved {SHIFT[1]} pixels right and {SHIFT[0]} down",
    f"rotated +{TURN_DEGREES}°": f"turned {TURN_DEGREES} degrees anticlockwise",
    f"rotated -{TURN_DEGREES}°": f"turned {TURN_DEGREES} degrees clockwise",
    "thinner": "one pixel taken off each side of every stroke",
    "thicker": "one pixel added to each side of every stroke",
    "smaller": f"shrunk to {SMALLER:.0%} of its size, kept in the middle",
    "with noise": f"random speckle added (spread {NOISE_SD} grey levels of 255)",
}


def variants(x28, drawing=None, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """{name: uint8 (28, 28)} for every variant of ``VARIANTS``, in order.

    ``x28``: the image the models read (``preprocess(drawing)``). ``drawing``: what was drawn, for "not
    centred"; without it, ``x28`` is placed on a canvas at a size and place drawn from ``rng``.
    ``rng`` also draws the noise (default: seeded, the same picture every time).
    """
    x = _image(x28)
    rng = rng if rng is not None else np.random.default_rng(NOISE_SEED)
    not_centred = preprocess(drawing, centre=False) if drawing is not None else uncentred(x, rng)
    out = {AS_DRAWN: x, NOT_CENTRED: not_centred, **{k: v[0] for k, v in transformed(x[None], rng).items()}}
    return {name: out[name] for name in VARIANTS}


def transformed(images, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The 28x28 variants (all but "as drawn" and "not centred") of uint8 (N, 28, 28) images: {name: (N, 28, 28)}."""
    x = np.asarray(images, np.float32)
    each = lambda fn: np.stack([fn(img) for img in x])
    centre = (SIDE - 1) / 2
    out = {
        "shifted": ndimage.shift(x, (0, *SHIFT), order=1, mode="constant", cval=0),
        f"rotated +{TURN_DEGREES}°": ndimage.rotate(x, TURN_DEGREES, axes=(1, 2), reshape=False, order=1),
        f"rotated -{TURN_DEGREES}°": ndimage.rotate(x, -TURN_DEGREES, axes=(1, 2), reshape=False, order=1),
        "thinner": each(lambda img: ndimage.grey_erosion(img, footprint=PEN_FOOTPRINT)),
        "thicker": each(lambda img: ndimage.grey_dilation(img, footprint=PEN_FOOTPRINT)),
        # output pixel o reads input pixel centre + (o - centre) / SMALLER: the picture shrinks about its centre
        "smaller": each(
            lambda img: ndimage.affine_transform(img, np.eye(2) / SMALLER, offset=centre - centre / SMALLER, order=1)
        ),
        "with noise": x + rng.normal(0, NOISE_SD, x.shape),
    }
    return {name: np.clip(np.round(v), 0, 255).astype(np.uint8) for name, v in out.items()}


def placed_on_canvas(x28, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """uint8 (canvas, canvas) white-on-black: ``x28`` enlarged so its ink is as big as a drawn character
    (``sketchpad.CHAR_SIZE`` of the canvas), at a random place."""
    side = min(canvas, round(rng.uniform(*CHAR_SIZE) * canvas / INK_SHARE_OF_FRAME))
    frame = Image.fromarray(_image(x28)).resize((side, side), Image.Resampling.BILINEAR)
    out = Image.new("L", (canvas, canvas), 0)
    out.paste(frame, tuple(int(v) for v in rng.integers(0, canvas - side + 1, 2)))
    return np.asarray(out)


def uncentred(x28, rng: np.random.Generator) -> np.ndarray:
    """ "not centred" for an image with no drawing behind it: placed on a canvas, read without centring."""
    return preprocess(placed_on_canvas(x28, rng), centre=False)


def _image(x28) -> np.ndarray:
    x = np.asarray(x28)
    if x.shape != (SIDE, SIDE):
        raise ValueError(f"expected one 28x28 image, got shape {x.shape}; use preprocess() first")
    return np.clip(np.round(x), 0, 255).astype(np.uint8) if x.dtype != np.uint8 else x
