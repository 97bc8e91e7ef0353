"""Training-time augmentation: random affine warps, hard-ink redraws and stroke-width changes.

Handwriting varies in slant, size, position and pen width; drawn input varies even more. These
warps teach the models that invariance. The image work is ``keras.ops``, so it runs on any Keras
backend (TensorFlow on a CPU, JAX on a GPU). The random parameters come from a numpy generator
keyed on (seed, epoch, batch): the same seed gives the same warps on every backend (and the same
batch on one backend) however the batches are scheduled.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

from emnist_core.models.registry import (
    HARD_INK_RATE,
)  # share of images redrawn with hard-edged ink (a training default)

ROTATION_DEGREES = 12.0
SHEAR = 0.25  # x offset per unit of y
SCALE = (0.85, 1.12)  # per-axis zoom factors
ASPECT = (0.93, 1.07)  # a little independent aspect change on top of the zoom
SHIFT_PIXELS = 2.5
STROKE_CHANGE = 0.7  # at most this much of a one-pixel dilation (or erosion) is blended in
HARD_INK_LEVELS = (0.3, 0.6)  # where the soft scan is cut to make the hard edge (fraction of full ink)
HARD_INK_UPSCALE = 3  # the cut is made at 3x size, then pooled back, so edges stay a little soft
CENTRE = 13.5  # the middle of a 28-pixel image, in pixel coordinates


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    """The generator for one batch: independent of every other batch, the same on every run."""
    return np.random.default_rng([seed, epoch, batch])


def affine_transforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random warps as (n, 8) output->input projective rows (the form ``affine_transform`` takes)."""
    theta = rng.uniform(-1.0, 1.0, n) * (ROTATION_DEGREES * math.pi / 180)
    shear = rng.uniform(-SHEAR, SHEAR, n)
    sx = rng.uniform(*SCALE, n)
    sy = sx * rng.uniform(*ASPECT, n)
    shift = rng.uniform(-SHIFT_PIXELS, SHIFT_PIXELS, (n, 2))
    cos, sin = np.cos(theta), np.sin(theta)
    # Output pixel -> input pixel: A = R(theta) @ Shear @ diag(1/sx, 1/sy), about the image centre.
    a00, a01 = cos / sx, (cos * shear - sin) / sy
    a10, a11 = sin / sx, (sin * shear + cos) / sy
    tx = CENTRE - a00 * CENTRE - a01 * CENTRE + shift[:, 0]
    ty = CENTRE - a10 * CENTRE - a11 * CENTRE + shift[:, 1]
    zeros = np.zeros(n)
    return np.stack([a00, a01, tx, a10, a11, ty, zeros, zeros], axis=1).astype(np.float32)


def hard_ink(images, levels, chosen):
    """Redraw the ``chosen`` images as a brush would: cut at ``levels`` at 3x size, then pool back.

    A sketchpad sends hard-edged ink; after preprocessing it is softer than a binary mask but
    sharper than a scan. Seeing some such images in training closes most of that gap.
    """
    side = images.shape[1] * HARD_INK_UPSCALE
    big = ops.image.resize(images, (side, side), interpolation="bilinear")
    cut = ops.cast(big >= levels, "float32") * 255.0
    redrawn = ops.average_pool(cut, HARD_INK_UPSCALE, HARD_INK_UPSCALE, padding="valid")
    return ops.where(chosen, redrawn, images)


def stroke_change(images, amount):
    """Thicken (``amount`` > 0) or thin each image's strokes by a fraction of a pixel."""
    dilated = ops.max_pool(images, 3, 1, padding="same")
    eroded = -ops.max_pool(-images, 3, 1, padding="same")
    target = ops.where(amount > 0, dilated, eroded)
    return images + ops.abs(amount) * (target - images)


def augment_batch(images, rng: np.random.Generator, hard_ink_rate: float = HARD_INK_RATE):
    """uint8 or float (B, 28, 28) in 0-255 -> float32 (B, 28, 28) backend tensor, warped.

    Draws, in this order, the warps, the stroke changes, then the hard-ink choices from ``rng``.
    """
    images = np.asarray(images)
    n = len(images)
    transforms = affine_transforms(rng, n)
    amount = rng.uniform(-STROKE_CHANGE, STROKE_CHANGE, (n, 1, 1, 1)).astype(np.float32)
    levels = (rng.uniform(*HARD_INK_LEVELS, (n, 1, 1, 1)) * 255.0).astype(np.float32)
    chosen = rng.uniform(0.0, 1.0, (n, 1, 1, 1)) < hard_ink_rate
    x = ops.convert_to_tensor(images.astype(np.float32)[..., None])
    x = ops.image.affine_transform(
        x, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0.0, data_format="channels_last"
    )
    if hard_ink_rate > 0:
        x = hard_ink(x, levels, chosen)
    x = stroke_change(x, amount)
    return ops.clip(x[..., 0], 0.0, 255.0)
