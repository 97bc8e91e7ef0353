"""The Keras builders for every architecture in the registry.

All models take upright uint8-range images of shape (28, 28) (what ``preprocess`` and the loaders
return) and scale them to [0, 1] themselves, so no caller can forget or repeat that step.

The registry itself (names, kinds, descriptions, training defaults) is plain data in ``registry``,
which does not import Keras; ``REGISTRY``, ``ModelSpec`` and ``model_spec`` are re-exported here for
existing callers.
"""

from __future__ import annotations

import keras
from keras import layers

from emnist_core.models.registry import INPUT_SHAPE, model_spec


def _inputs():
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    return inputs, layers.Rescaling(1.0 / 255, name="scale")(inputs)


def build_seed_mlp(num_classes: int = 47) -> keras.Model:
    """The report's MLP: 784-512-512-47, ReLU, dropout 0.2."""
    inputs, x = _inputs()
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(512, activation="relu")(x)
        x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="seed_mlp")


def build_seed_cnn(num_classes: int = 47) -> keras.Model:
    """The report's CNN: two blocks of [3x3 conv + LeakyReLU] x 2, max-pool, dropout; 3 dense layers."""
    inputs, x = _inputs()
    x = layers.Reshape((*INPUT_SHAPE, 1))(x)
    for filters in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same")(x)
            x = layers.LeakyReLU(negative_slope=0.3)(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="seed_cnn")


def _conv_bn(x, filters):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def build_cnn_bn(num_classes: int = 47) -> keras.Model:
    """Three VGG-style blocks (32, 64, 128 filters) with batch norm; ~0.6M parameters."""
    inputs, x = _inputs()
    x = layers.Reshape((*INPUT_SHAPE, 1))(x)
    for filters, dropout in ((32, 0.1), (64, 0.2), (128, 0.3)):
        x = _conv_bn(x, filters)
        x = _conv_bn(x, filters)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="cnn_bn")


def build_mlp_bn(num_classes: int = 47) -> keras.Model:
    """The seed MLP grown: 784-1024-1024-512 with batch norm and dropout 0.2."""
    inputs, x = _inputs()
    x = layers.Flatten()(x)
    for units in (1024, 1024, 512):
        x = layers.Dense(units, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        # Augmentation already regularises: at 0.3 the model underfit (86% train vs 89% validation).
        x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mlp_bn")


def _preact_block(x, filters, stride):
    """Pre-activation residual block (He et al. 2016): BN-ReLU-conv twice, projection when the shape changes."""
    shortcut = x
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    return layers.Add()([x, shortcut])


WIDE_RESNET_STAGES = ((64, 1), (128, 2), (256, 2))  # (filters, stride) per stage, two blocks each


def build_wide_resnet(num_classes: int = 47) -> keras.Model:
    """Pre-activation wide ResNet, 3 stages of 2 blocks (64, 128, 256 filters); ~2.8M parameters."""
    inputs, x = _inputs()
    x = layers.Reshape((*INPUT_SHAPE, 1))(x)
    x = layers.Conv2D(WIDE_RESNET_STAGES[0][0], 3, padding="same", use_bias=False)(x)
    for filters, stride in WIDE_RESNET_STAGES:
        x = _preact_block(x, filters, stride)
        x = _preact_block(x, filters, 1)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="wide_resnet")


def build_model(name: str, num_classes: int = 47) -> keras.Model:
    return globals()[model_spec(name).builder](num_classes)


def summary_text(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    return "\n".join(lines)
