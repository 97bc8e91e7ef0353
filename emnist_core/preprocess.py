"""Turn any drawing or photo of one character into the 28x28 array the models take.

This follows EMNIST's own conversion of NIST's 128x128 scans (Cohen et al. 2017): Gaussian blur
(sigma 1), crop to the ink's bounding box, centre in a square frame keeping the aspect ratio with
a 2-pixel border, bicubic resize to 28x28, scale intensities to 0-255. The result is upright,
white ink on black, uint8 — exactly what the dataset loaders return — so a drawing and a test
image reach a model the same way.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

SIDE = 28
# NIST characters are scanned in 128x128 frames; we rescale the ink's bounding box so its long side
# has a typical NIST character size before blurring, so that sigma=1 means what it meant there.
NIST_CHAR_SIZE = 64
BLUR_SIGMA = 1.0
BORDER = 2
INK_THRESHOLD = 0.25  # fraction of full ink that counts as ink when finding the bounding box
MAX_INPUT_SIDE = 4096  # larger arrays are shrunk first; the character never needs more detail


class ImageInputError(ValueError):
    """The input is not an image we can read (wrong shape, dtype, NaN ...)."""


class EmptyCanvasError(ImageInputError):
    """The image holds no ink: nothing to recognise."""

    def __init__(self, message: str = "The canvas is empty: draw a character first."):
        super().__init__(message)


def ink_map(image) -> np.ndarray:
    """Any image -> float32 (H, W) in [0, 1], ink high, background 0.

    Accepts a PIL image or an array: grey (H, W) or (H, W, 1), RGB, RGBA; uint8, uint16, bool or
    float (0-1 or 0-255). Transparent pixels count as white paper. Dark-on-light and
    light-on-dark are told apart by the border, which is background in any sensible drawing.
    """
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGBA") if image.mode in ("P", "PA", "LA") else image)
    a = np.asarray(image)
    if a.dtype == object or a.size == 0:
        raise ImageInputError("Expected an image array, got an empty or non-numeric value.")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ImageInputError(f"Expected a grey, RGB or RGBA image, got an array of shape {a.shape}.")
    if max(a.shape[:2]) > MAX_INPUT_SIDE:
        step = int(np.ceil(max(a.shape[:2]) / MAX_INPUT_SIDE))
        a = a[::step, ::step]
    a = _to_unit_float(a)
    if a.ndim == 3:
        rgb = a[:, :, :3]
        if a.shape[2] == 4:
            alpha = a[:, :, 3:4]
            rgb = rgb * alpha + (1.0 - alpha)  # composite over white paper
        grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    else:
        grey = a
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if background >= 0.5:
        ink = (background - grey) / max(background, 1e-6)
    else:
        ink = (grey - background) / max(1.0 - background, 1e-6)
    return np.clip(ink, 0.0, 1.0, out=ink).astype(np.float32, copy=False)


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == bool:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating):
        f = a.astype(np.float32)
        if not np.isfinite(f).all():
            raise ImageInputError("The image holds NaN or infinite values.")
        top = float(f.max()) if f.size else 0.0
        if f.min() < 0:
            raise ImageInputError("The image holds negative values; expected 0-1 or 0-255.")
        return f / 255.0 if top > 1.0 else f
    raise ImageInputError(f"Unsupported pixel type {a.dtype}; use uint8, uint16, bool or float.")


def preprocess(image) -> np.ndarray:
    """A drawing or photo of one character -> upright uint8 (28, 28), white ink on black.

    Raises ``EmptyCanvasError`` when there is no ink, ``ImageInputError`` for unreadable input.
    """
    ink = ink_map(image)
    mask = ink >= INK_THRESHOLD
    if not mask.any():
        raise EmptyCanvasError()
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return emnist_frame(crop)


def emnist_frame(crop: np.ndarray) -> np.ndarray:
    """EMNIST's steps on an ink crop (float, ink high) that is already cut to its bounding box."""
    h, w = crop.shape
    scale = NIST_CHAR_SIZE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(np.round(crop * 255).astype(np.uint8), mode="L")
    img = img.resize(size, Image.Resampling.LANCZOS)  # antialiased, like a scan of real ink
    pad = int(np.ceil(3 * BLUR_SIGMA))  # room for the blur to spread before we frame it
    side = max(size) + 2 * (BORDER + pad)
    frame = Image.new("L", (side, side), 0)
    frame.paste(img, ((side - size[0]) // 2, (side - size[1]) // 2))
    frame = frame.filter(ImageFilter.GaussianBlur(BLUR_SIGMA))
    # Crop away the blur margin so the ink's frame keeps EMNIST's 2-pixel border.
    frame = frame.crop((pad, pad, side - pad, side - pad))
    out = np.asarray(frame.resize((SIDE, SIDE), Image.Resampling.BICUBIC), dtype=np.float32)
    top = out.max()
    if top <= 0:
        raise EmptyCanvasError()
    return np.round(out * (255.0 / top)).astype(np.uint8)


def load_image(path) -> np.ndarray:
    """Read an image file into an array for ``preprocess`` with clear errors."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(img, dtype=np.float32) / (65535.0 if "16" in img.mode else max(1, np.asarray(img).max()))
            return np.asarray(img.convert("RGBA"))
    except FileNotFoundError:
        raise ImageInputError(f"{path}: file not found.") from None
    except Image.DecompressionBombError:
        raise ImageInputError(f"{path}: image is too large to open safely.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"{path}: not a readable image ({exc}).") from None
