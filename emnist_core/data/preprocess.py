"""Turn any drawing or photo of one character into the 28x28 array the models take.

This follows EMNIST's own conversion of NIST's 128x128 scans (Cohen et al. 2017): Gaussian blur
(sigma 1), crop to the ink's bounding box, centre in a square frame keeping the aspect ratio with
a border, bicubic resize to 28x28, scale intensities to 0-255. The result is upright,
white ink on black, uint8 — exactly what the dataset loaders return — so a drawing and a test
image reach a model the same way.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from emnist_core.data.files import (
    SIDE,  # EMNIST images are SIDE x SIDE: one constant for files, preprocessing and models
)

# NIST characters are scanned in 128x128 frames; we rescale the ink's bounding box so its long side
# has a typical NIST character size before blurring, so that sigma=1 means what it meant there.
NIST_CHAR_SIZE = 64
BLUR_SIGMA = 1.0
# EMNIST's 2-pixel border is at NIST's scale, around a blurred region of interest. Measured on
# pool47, the ink's long side (at half intensity) is 21.9 +/- 1.4 of 28 pixels; a 7-pixel border
# around our 64-pixel working size reproduces that (21.8 for hard-edged canvases, 21.9 for scans).
# Tuned with `python -m emnist_core roundtrip`, which prints both sets of statistics.
BORDER = 7
# About half intensity bounds the ink, so a soft scan and a hard-edged brush stroke are framed alike.
# Just under half: a box-reduced hard edge is exactly 127.5, and rounding must not decide the frame.
INK_THRESHOLD = 0.45
# Pen widths vary from brush to brush. Strokes outside the range of EMNIST writers' pens are
# thickened or thinned into it; inside it they are left alone, as EMNIST's own variety is.
STROKE_RANGE = (8.0, 12.0)  # pixels at NIST_CHAR_SIZE; gives 5.2 px at 28x28, as EMNIST
MAX_STROKE_STEPS = 4
MAX_INPUT_SIDE = 4096  # larger arrays are shrunk first; the character never needs more detail
# Canvases over this size are box-reduced by Pillow (2-4x, in C) before any other work: the 64-pixel
# working size needs no more, and an 800x800 sketch then costs what a 400x400 one does.
WORK_SIDE = 512
# A file over this many pixels is refused before it is decoded: 25 M is a 5000x5000 photo, and a
# small PNG can claim 20000x20000 (a decompression bomb) that would take gigabytes to decode.
MAX_IMAGE_PIXELS = 25_000_000
# Pillow's 16- and 32-bit greyscale modes: read at full depth, never squeezed through 8 bits.
DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "F")
# Pillow modes whose arrays ink_map reads as they are; any other mode (P, CMYK, YCbCr ...) is
# converted to RGBA first, since its channels are not grey/RGB/alpha.
ARRAY_MODES = ("1", "L", "RGB", "RGBA", *DEEP_MODES)
# A mark whose bounding box (at INK_THRESHOLD) has a long side under this share of the image's short side
# is too small to be a character, however thin or thick: a tap of the app's brush is 2 * 14 / 400 = 0.07 of
# the canvas, a tiny scribble 0.1-0.13. Drawn that small with the brush, characters are a blot: the shipped
# pair reads UNIPEN characters drawn at 0.08-0.12 of the canvas right 5-9% of the time, at 0.15 20-25%,
# at 0.30 80%. Real characters stay far above the limit: the smallest the sketchpad renderer draws
# (CHAR_SIZE[0]) measure 0.30, EMNIST's 28x28 images at least 0.50, and none of 91,121 UNIPEN characters
# (drawn at that size with the thinnest and the thickest pen) or 43,234 EMNIST test and validation images
# is refused. On the long side only, so a short "1" or "-" (thin but long) is read.
# Measured by `python tools/tiny_mark_check.py`.
MIN_MARK_SIDE = 0.15


FILLED_MESSAGE = "The canvas is all one dark colour: clear it and draw a character first."
TOO_SMALL_MESSAGE = "That mark is too small to be a character: draw it bigger, across most of the canvas."


class ImageInputError(ValueError):
    """The input is not an image we can read (wrong shape, dtype, NaN ...)."""


class EmptyCanvasError(ImageInputError):
    """The image holds no ink: nothing to recognise."""

    def __init__(self, message: str = "The canvas is empty: draw a character first."):
        super().__init__(message)


class TooSmallError(ImageInputError):
    """The ink is a dot or a scribble too small to be a character (``MIN_MARK_SIDE``): no guess is made."""

    def __init__(self, message: str = TOO_SMALL_MESSAGE):
        super().__init__(message)


def ink_map(image) -> np.ndarray:
    """Any image -> float32 (H, W) in [0, 1], ink high, background 0.

    Accepts a PIL image or an array: grey (H, W) or (H, W, 1), RGB, RGBA; uint8, uint16, bool,
    other integers or float (0-1 or 0-255; a larger range is scaled by its maximum). Transparent
    pixels count as white paper. Dark-on-light and light-on-dark are told apart by the border,
    which is background in any sensible drawing.
    """
    return _ink_u8(image, reduce=False).astype(np.float32) * (1 / 255)


def _ink_u8(image, reduce: bool = True) -> np.ndarray:
    """``ink_map`` as uint8 0-255: on an 800x800 canvas, integer maths keeps this to a few ms."""
    if isinstance(image, Image.Image):
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ImageInputError(
                f"The image is {image.width}x{image.height}, over {MAX_IMAGE_PIXELS:,} pixels; scale it down first."
            )
        try:  # a lazily opened file is decoded only here
            image = np.asarray(image if image.mode in ARRAY_MODES else image.convert("RGBA"))
        except (OSError, ValueError) as exc:
            raise ImageInputError(f"The image cannot be decoded ({str(exc)[:80]}).") from None
    try:
        a = np.asarray(image)
    except ValueError:  # ragged nested lists
        raise ImageInputError("Expected an image array, got rows of different lengths.") from None
    if a.dtype == object or a.size == 0:
        raise ImageInputError("Expected an image array, got an empty or non-numeric value.")
    if not a.dtype.isnative:  # big-endian 16-bit PNG data would not compare equal to uint16
        a = a.astype(a.dtype.newbyteorder("="))
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ImageInputError(f"Expected a grey, RGB or RGBA image, got an array of shape {a.shape}.")
    if max(a.shape[:2]) > MAX_INPUT_SIDE:
        step = int(np.ceil(max(a.shape[:2]) / MAX_INPUT_SIDE))
        a = a[::step, ::step]
    if a.dtype != np.uint8:
        a = np.round(_to_unit_float(a) * 255).astype(np.uint8)
    if reduce and max(a.shape[:2]) > WORK_SIDE:
        factor = min(4, -(-max(a.shape[:2]) // WORK_SIDE))
        a = np.asarray(Image.fromarray(np.ascontiguousarray(a)).reduce(factor))
    grey = a
    if a.ndim == 3:
        grey = np.asarray(Image.fromarray(np.ascontiguousarray(a[:, :, :3]), "RGB").convert("L"))
        if a.shape[2] == 4:
            alpha = a[:, :, 3]
            if alpha.min() < 255:  # composite over white paper: grey' = 255 - alpha * (255 - grey)
                grey = 255 - ((255 - grey.astype(np.uint16)) * alpha // 255).astype(np.uint8)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = int(np.median(border))
    if background == 255:
        return 255 - grey
    wide = grey.astype(np.int32)
    if background >= 128:
        ink = (background - wide) * 255 // background
    else:
        ink = (wide - background) * 255 // (255 - background)
    return np.clip(ink, 0, 255).astype(np.uint8)


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == bool:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ImageInputError(f"Unsupported pixel type {a.dtype}; use uint8, uint16, bool or float.")
    # Checked before any arithmetic: float64 values beyond float32's range would overflow to inf.
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise ImageInputError("The image holds NaN or infinite values.")
    if a.min() < 0:
        raise ImageInputError("The image holds negative values; expected 0-1 or 0-255.")
    top = float(a.max())
    # 0-1 and 0-255 are the usual scales; beyond them (16-bit data in int32, HDR floats) there is
    # no standard one, so the brightest pixel counts as white.
    scale = 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else top
    return (a / scale).astype(np.float32)


def preprocess(image, *, centre: bool = True) -> np.ndarray:
    """A drawing or photo of one character -> upright uint8 (28, 28), white ink on black.

    ``centre=False`` skips the crop to the ink and the centring: the whole image is framed as it is, so the
    character keeps the place and size it has on the canvas (what a model would see without this step).
    Raises ``EmptyCanvasError`` when there is no ink, ``TooSmallError`` ("draw it bigger") for a mark too
    small to be a character, ``ImageInputError`` for unreadable input.
    """
    threshold = round(INK_THRESHOLD * 255)
    ink = _ink_u8(image)
    mask = ink >= threshold
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):  # a mark thinner than the reduction may have faded: look again at full size
        ink = _ink_u8(image, reduce=False)
        mask = ink >= threshold
        rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        if ink.size and int(np.median(_grey_sample(image))) < 128:
            raise EmptyCanvasError(FILLED_MESSAGE)
        raise EmptyCanvasError()
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    if max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 < MIN_MARK_SIDE * min(mask.shape):
        raise TooSmallError()  # before any guess: a model would read a dot as something, with confidence
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] if centre else ink
    return emnist_frame(crop)


def _grey_sample(image) -> np.ndarray:
    """Grey levels (paper white) of an image that has no ink: tells a filled canvas from a blank one."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 4 and a.dtype == np.uint8:
        return np.where(a[::8, ::8, 3] < 128, 255, a[::8, ::8, :3].mean(axis=2))  # transparent is paper
    if a.ndim == 3 and a.dtype == np.uint8:
        return a[::8, ::8, :3].mean(axis=2)
    if a.ndim == 2 and a.dtype == np.uint8:
        return a[::8, ::8]
    return np.array([255])  # other inputs: say the plain "empty" message


def emnist_frame(crop: np.ndarray) -> np.ndarray:
    """EMNIST's steps on a uint8 ink crop (ink high) that is already cut to its bounding box."""
    h, w = crop.shape
    scale = NIST_CHAR_SIZE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8), mode="L")
    img = img.resize(size, Image.Resampling.LANCZOS)  # antialiased, like a scan of real ink
    img = normalise_stroke(img)
    pad = int(np.ceil(3 * BLUR_SIGMA))  # room for the blur to spread before we frame it
    side = max(size) + 2 * (BORDER + pad)
    frame = Image.new("L", (side, side), 0)
    frame.paste(img, ((side - size[0]) // 2, (side - size[1]) // 2))
    frame = frame.filter(ImageFilter.GaussianBlur(BLUR_SIGMA))
    # Crop away the blur margin so the ink keeps exactly BORDER pixels around it.
    frame = frame.crop((pad, pad, side - pad, side - pad))
    out = np.asarray(frame.resize((SIDE, SIDE), Image.Resampling.BICUBIC), dtype=np.float32)
    top = out.max()
    if top <= 0:
        raise EmptyCanvasError()
    return np.round(out * (255.0 / top)).astype(np.uint8)


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width of a uint8 ink image in pixels (0 when there is no ink)."""
    from scipy.ndimage import distance_transform_edt

    mask = ink >= 128
    if not mask.any():
        return 0.0
    # Inside a stroke of width s the distance to the background averages about s/4.
    return 4.0 * float(distance_transform_edt(mask)[mask].mean())


def normalise_stroke(img: Image.Image) -> Image.Image:
    """Grow or shrink the ink into ``STROKE_RANGE``: whole pixels, then a blend for the fraction.

    The blend keeps the result continuous in the input, so a pixel more or less of pen width
    never flips a whole step.
    """
    width = stroke_width(np.asarray(img))
    low, high = STROKE_RANGE
    need = (min(max(width, low), high) - width) / 2  # pixels to add (or remove) on each side
    need = max(-MAX_STROKE_STEPS, min(MAX_STROKE_STEPS, need))
    step = ImageFilter.MaxFilter(3) if need > 0 else ImageFilter.MinFilter(3)
    whole, fraction = int(abs(need)), abs(need) % 1
    out = img
    for i in range(whole + (fraction > 0)):
        nxt = out.filter(step)
        if need < 0 and np.asarray(nxt).max() < 128:
            break  # never erase a thin character
        out = nxt if i < whole else Image.blend(out, nxt, fraction)
    return out


# What a person who uploaded a file is told (no server path in it: the file is a temporary copy).
IMAGE_TYPES = "a PNG, JPEG, GIF, BMP or WebP of one character"
NOT_AN_IMAGE = f"That file is not an image: upload {IMAGE_TYPES}."
EMPTY_FILE = f"That file is empty (0 bytes): upload {IMAGE_TYPES}."
DAMAGED_IMAGE = "That image file is damaged or cut short: save it again, or upload another."


def load_image(path, upload: bool = False) -> np.ndarray:
    """Read an image file (a path, or its bytes) into an array for ``preprocess`` with clear errors.

    The size is checked from the header, before any pixel is decoded (``MAX_IMAGE_PIXELS``).
    16-bit and 32-bit greyscale keep their depth; everything else comes back as uint8 RGBA.
    ``upload=True``: the messages speak to the person who uploaded the file and never name its path.
    """
    limit = f"over {MAX_IMAGE_PIXELS:,} pixels; scale it down first."

    def problem(for_file: str, for_upload: str) -> ImageInputError:
        return ImageInputError(for_upload if upload else f"{path}: {for_file}")

    data = bytes(path) if isinstance(path, (bytes, bytearray, memoryview)) else None
    if data is not None:
        path = "the image data"
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise problem(
                    f"the image is {img.width}x{img.height}, {limit}",
                    f"That image is {img.width}x{img.height} pixels, over {MAX_IMAGE_PIXELS:,}: scale it down first.",
                )
            ImageOps.exif_transpose(img, in_place=True)  # phone photos are stored sideways with an EXIF note
            img.load()
            return np.asarray(img if img.mode in DEEP_MODES else img.convert("RGBA"))
    except ImageInputError:
        raise
    except FileNotFoundError:
        raise problem("file not found.", "That file was not received: upload it again.") from None
    except Image.DecompressionBombError:  # Pillow's own, larger limit, hit while reading the header
        raise problem(
            f"the image is {limit}", f"That image has over {MAX_IMAGE_PIXELS:,} pixels: scale it down first."
        ) from None
    except UnidentifiedImageError:
        if len(data) == 0 if data is not None else os.path.isfile(path) and os.path.getsize(path) == 0:
            raise problem("the file is empty.", EMPTY_FILE) from None
        raise problem("not an image file (use PNG, JPEG, GIF, BMP or WebP).", NOT_AN_IMAGE) from None
    except OSError as exc:
        if exc.errno is None:  # Pillow's decoders report damaged data as an OSError without an errno
            raise problem(f"the image data is damaged or cut short ({str(exc)[:80]}).", DAMAGED_IMAGE) from None
        raise problem(f"cannot be read ({exc.strerror}).", "That file cannot be read: upload it again.") from None
    except Exception as exc:  # Pillow's decoders raise many types on damaged data; one message for all
        raise problem(f"the image data is damaged ({type(exc).__name__}).", DAMAGED_IMAGE) from None
