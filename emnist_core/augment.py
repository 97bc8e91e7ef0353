"""Training-time augmentation: random affine warps and stroke-width changes, batched in TensorFlow.

Handwriting varies in slant, size, position and pen width; drawn input varies even more. These
warps teach the models that invariance. Randomness is stateless and keyed on (seed, batch number),
so a run is reproducible however tf.data schedules its parallel work.
"""

from __future__ import annotations

import math

import tensorflow as tf

ROTATION_DEGREES = 12.0
SHEAR = 0.25  # x offset per unit of y
SCALE = (0.85, 1.12)  # per-axis zoom factors
SHIFT_PIXELS = 2.5
STROKE_CHANGE = 0.7  # at most this much of a one-pixel dilation (or erosion) is blended in
HARD_INK_RATE = 0.35  # share of images redrawn with hard-edged ink, as a browser brush draws
HARD_INK_LEVELS = (0.3, 0.6)  # where the soft scan is cut to make the hard edge (fraction of full ink)


def _uniform(shape, seed, lo, hi):
    return tf.random.stateless_uniform(shape, seed=seed, minval=lo, maxval=hi)


def random_affine(images, seed):
    """``images``: float (B, 28, 28, 1) -> the same, each warped by its own random affine map."""
    b = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 6)
    theta = _uniform([b], seeds[0], -1.0, 1.0) * (ROTATION_DEGREES * math.pi / 180)
    shear = _uniform([b], seeds[1], -SHEAR, SHEAR)
    sx = _uniform([b], seeds[2], *SCALE)
    sy = sx * _uniform([b], seeds[3], 0.93, 1.07)  # a little independent aspect change
    shift = _uniform([b, 2], seeds[4], -SHIFT_PIXELS, SHIFT_PIXELS)
    cos, sin = tf.cos(theta), tf.sin(theta)
    # Output pixel -> input pixel: A = R(theta) @ Shear @ diag(1/sx, 1/sy), about the image centre.
    a00, a01 = cos / sx, (cos * shear - sin) / sy
    a10, a11 = sin / sx, (sin * shear + cos) / sy
    c = 13.5
    tx = c - a00 * c - a01 * c + shift[:, 0]
    ty = c - a10 * c - a11 * c + shift[:, 1]
    zeros = tf.zeros_like(a00)
    transforms = tf.stack([a00, a01, tx, a10, a11, ty, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[28, 28], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT",
    )


def random_stroke(images, seed):
    """Thicken or thin each image's strokes by a random fraction of a pixel."""
    b = tf.shape(images)[0]
    amount = _uniform([b, 1, 1, 1], seed, -STROKE_CHANGE, STROKE_CHANGE)
    dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
    target = tf.where(amount > 0, dilated, eroded)
    return images + tf.abs(amount) * (target - images)


def random_hard_ink(images, seed, rate=HARD_INK_RATE):
    """Redraw a share of the images as a brush would: cut at a level at 3x size, then back down.

    A sketchpad sends hard-edged ink; after preprocessing it is softer than a binary mask but
    sharper than a scan. Seeing some such images in training closes most of that gap.
    """
    b = tf.shape(images)[0]
    s1, s2 = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    level = _uniform([b, 1, 1, 1], s1, *HARD_INK_LEVELS) * 255.0
    chosen = _uniform([b, 1, 1, 1], s2, 0.0, 1.0) < rate
    big = tf.image.resize(images, [84, 84], method="bilinear")
    hard = tf.cast(big >= level, tf.float32) * 255.0
    redrawn = tf.nn.avg_pool2d(hard, 3, 3, "VALID")
    return tf.where(chosen, redrawn, images)


def augment_batch(images, seed, hard_ink_rate=HARD_INK_RATE):
    """uint8 or float (B, 28, 28) in 0-255 -> float32 (B, 28, 28), warped."""
    x = tf.cast(images, tf.float32)[..., None]
    s1, s2, s3 = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    x = random_affine(x, s1)
    if hard_ink_rate > 0:
        x = random_hard_ink(x, s3, hard_ink_rate)
    x = random_stroke(x, s2)
    return tf.clip_by_value(x[..., 0], 0.0, 255.0)
