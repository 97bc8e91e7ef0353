"""Inside the models: what each layer makes of the current drawing, as pictures with plain captions.

For a CNN: the feature maps at the end of each conv stage (one stage per image size: 28x28, 14x14, 7x7),
the most active first, as one grid image per stage. For an MLP: the input-weight templates of the
first-layer units the drawing switches on most, as 28x28 images (red: ink there raises the unit, blue:
ink there lowers it).

Both show what the drawing *changes*: every activation is compared with the same model's activation for
an empty canvas, and only the rise is drawn. Batch normalisation and biases leave many units and maps
on for empty paper (the shipped CNN's first stage has 31 of 32 maps on, strongest at the frame's edges),
which would otherwise fill every picture with the same glow whatever is drawn; with the baseline taken
off, a blank canvas shows blank maps and no units.

A *probe* runs a model up to those layers. ``keras_probe`` builds one on a Keras model; the app serves LiteRT
exports, and ``serving.export`` exports each model's probe beside it (``export.LiteProbe``), so a server shows the
inside view without TensorFlow. Both kinds give the same outputs (checked when exported).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np

from emnist_core.data.preprocess import SIDE
from emnist_core.models import store

MAPS_SHOWN = 16  # per stage: a 4x4 grid is readable on a phone; 128 maps of 7x7 are not
GRID_COLUMNS = 4
TILE_PX = 56  # every map drawn this size (28x28 x2, 14x14 x4, 7x7 x8), hard-edged, so stages line up
GAP_PX = 3
GAP_GREY = 90  # a mid grey between tiles: distinct from a silent (black) map and from a bright one
UNITS_SHOWN = 8  # first-layer units of the MLP
TEMPLATE_PX = 112  # 28x28 x4
MAP_CMAP = "inferno"  # as the occlusion overlay: black (silent) to yellow (most active)
TEMPLATE_CMAP = "RdBu_r"  # red: ink there raises the unit; blue: ink there lowers it; white: no matter
MIN_RISE = 1e-3  # a rise in activation under this is numerical noise, not the drawing switching a unit on

# What each stage looks for, in a pupil's words, by its place among the stages.
FIRST_STAGE = "small pieces of stroke: edges, ends and bends"
MIDDLE_STAGE = "bigger pieces, built from the first ones: corners, curves, crossings"
LAST_STAGE = "large parts of the character, built from everything before"


class Panel(NamedTuple):
    """One picture of the inside view and its caption; unpacks as ``image, caption``."""

    image: np.ndarray  # uint8 (H, W, 3)
    caption: str


class Stage(NamedTuple):
    """A CNN conv stage's maps for one image."""

    rise: np.ndarray  # float32 (h, w, maps): each map's rise over its value for an empty canvas, >= 0
    order: np.ndarray  # map indices, most active first


class Unit(NamedTuple):
    """A first-layer MLP unit switched on by the drawing."""

    index: int
    activation: float  # after its normalisation and ReLU, for this drawing
    rise: float  # activation minus its activation for an empty canvas
    template: np.ndarray  # float32 (28, 28): its effective input weights, one per pixel


class _Probe:
    """A Keras model's inside, ready to run: its stage (or first-layer) outputs for one image, and for a blank
    (``keras_probe``)."""

    def __init__(self, model):
        import keras

        self.model = model
        self.stages = conv_stages(model)
        self.kind = "cnn" if self.stages else "mlp"
        if self.kind == "mlp":
            dense, activation, scale = first_dense(model)
            kernel = dense.kernel.numpy().astype(np.float32) * scale  # (784, units): the pixel -> unit weights
            self.templates = kernel.T.reshape(-1, SIDE, SIDE)
            layers = [activation]
        else:
            layers = self.stages
        self.fn = keras.Model(model.inputs, [layer.output for layer in layers])
        self.blank = self.run(np.zeros((SIDE, SIDE), np.float32))

    def run(self, x28) -> list[np.ndarray]:
        out = self.fn([np.asarray(x28, np.float32)[None]], training=False)
        return [np.asarray(o)[0] for o in (out if isinstance(out, (list, tuple)) else [out])]


def conv_stages(model) -> list:
    """The layer that ends each conv stage: the last layer (not a dropout) at each image size that has a conv.

    A stage is every layer whose output has the same height and width; pooling starts the next one. The
    last layer at a size is the stage's finished output (after its normalisation and activation).
    """
    import keras

    last, has_conv = {}, set()
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        if len(shape) != 4 or isinstance(layer, keras.layers.Dropout):
            continue
        size = shape[1:3]
        last[size] = layer  # insertion order keeps the first-seen order of sizes
        if isinstance(layer, keras.layers.Conv2D):
            has_conv.add(size)
    return [layer for size, layer in last.items() if size in has_conv]


def first_dense(model):
    """(the first Dense layer on the pixels, the layer giving its activation, per-unit weight scale).

    The scale folds a batch normalisation that follows it (gamma / sqrt(variance + epsilon)), so a template's
    sign and shape are what actually raise the unit; the input's rescaling (x / 255) is the same for all.
    """
    import keras

    layers = list(model.layers)
    start = next((i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)), None)
    if start is None or layers[start].kernel.shape[0] != SIDE * SIDE:
        raise ValueError(f"model {model.name}: has no conv layers and no dense layer on the 28x28 pixels")
    dense, scale, activation = layers[start], np.ones(layers[start].units, np.float32), layers[start]
    for layer in layers[start + 1 :]:
        if tuple(layer.output.shape) != tuple(dense.output.shape) or isinstance(layer, keras.layers.Dropout):
            break
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma = layer.gamma.numpy() if layer.gamma is not None else 1.0
            scale = scale * gamma / np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
        activation = layer
    return dense, activation, scale.astype(np.float32)


# ---- Probes ----------------------------------------------------------------------------------------


def keras_probe(model) -> _Probe:
    """The probe of a Keras model: ``fn`` (a Keras model giving the stages' or the first layer's outputs), ``run``,
    ``blank``, ``kind`` and, for an MLP, ``templates``."""
    return _Probe(model)


def probe(source):
    """A probe (anything with ``run``, ``blank`` and ``kind``: an exported ``LiteProbe``, a ``keras_probe``) as it
    is; a Keras model's probe; or, for a ``.keras`` path or shipped name, the probe of its Keras model (loaded now:
    keep the probe rather than the path; a served model's exported probe is ``export.load_probe``'s)."""
    if all(hasattr(source, name) for name in ("run", "blank", "kind")):
        return source
    if hasattr(source, "layers"):
        return _Probe(source)
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"inside needs a probe, a Keras model, a .keras path or a shipped name, not a "
            f"{type(source).__name__} (a served LiteRT model hides its layers: give its probe)"
        )
    return _Probe(store.load_model(store.resolve_model_path(source)))


# ---- What the drawing switches on --------------------------------------------------------------------


def stage_maps(source, x28) -> list[Stage]:
    """Each conv stage's maps for ``x28`` as their rise over an empty canvas (never below 0), ranked; ``source``:
    what ``probe`` takes."""
    p = probe(source)
    if p.kind != "cnn":
        raise ValueError("stage_maps needs a model with conv layers")
    out = []
    for maps, blank in zip(p.run(_image(x28)), p.blank):
        rise = np.maximum(maps - blank, 0)
        rise[rise < MIN_RISE] = 0
        out.append(Stage(rise, np.argsort(-rise.mean(axis=(0, 1)), kind="stable")))
    return out


def active_units(source, x28, k: int = UNITS_SHOWN) -> list[Unit]:
    """The first-layer units of an MLP that ``x28`` raises most over an empty canvas, most first (only risen ones);
    ``source``: what ``probe`` takes."""
    p = probe(source)
    if p.kind != "mlp":
        raise ValueError("active_units needs a model whose first layer is dense on the pixels")
    act, blank = p.run(_image(x28))[0], p.blank[0]
    rise = act - blank
    order = [int(i) for i in np.argsort(-rise, kind="stable")[:k] if rise[i] >= MIN_RISE]
    return [Unit(i, float(act[i]), float(rise[i]), p.templates[i]) for i in order]


# ---- Pictures and captions ---------------------------------------------------------------------------


def inside(source, x28) -> list[Panel]:
    """The inside view of one model for one 28x28 image (uint8 or float 0-255, as the models read it).

    A CNN: one grid per conv stage. An MLP: one template per unit the drawing switches on most (a blank
    canvas switches none on: one panel that says so). ``source``: a probe (``LiveModel.probe``), a Keras model,
    a ``.keras`` path or a shipped name (``cnn``, ``mlp-pen-prior`` ...).
    """
    p = probe(source)
    if p.kind == "cnn":
        stages = stage_maps(p, x28)
        return [Panel(stage_grid(s), stage_caption(i, len(stages), s)) for i, s in enumerate(stages)]
    units = active_units(p, x28)
    if not units:
        return [
            Panel(
                template_image(np.zeros((SIDE, SIDE), np.float32)),
                "Nothing is drawn, so no unit of the first layer is switched on by ink.",
            )
        ]
    total = len(p.templates)
    drawn = p.__dict__.setdefault("_template_images", {})  # a unit's template is its weights: drawn once per probe
    for u in units:
        if u.index not in drawn:
            drawn[u.index] = template_image(u.template)
    return [Panel(drawn[u.index], unit_caption(u, rank, total)) for rank, u in enumerate(units)]


@functools.cache
def colour_table(cmap: str) -> np.ndarray:
    """uint8 (256, 3): matplotlib's colour map ``cmap`` as a lookup table, as it looks colours up itself."""
    from matplotlib import colormaps

    return np.round(colormaps[cmap](np.arange(256))[:, :3] * 255).astype(np.uint8)


def coloured(scaled: np.ndarray, cmap: str) -> np.ndarray:
    """Values 0-1 -> uint8 RGB through ``cmap`` (256 steps, as matplotlib does)."""
    return colour_table(cmap)[np.clip((scaled * 256).astype(np.int64), 0, 255)]


def stage_grid(stage: Stage, shown: int = MAPS_SHOWN) -> np.ndarray:
    """uint8 RGB grid of the stage's most active maps, row by row, strongest first, on one colour scale."""
    picks = stage.order[:shown]
    maps = np.moveaxis(stage.rise[..., picks], -1, 0)  # (shown, h, w)
    top = maps.max(initial=0)
    scaled = maps / top if top > 0 else np.zeros_like(maps)  # one scale: a weak map looks weak
    zoom = TILE_PX // maps.shape[1]
    tiles = coloured(scaled, MAP_CMAP).repeat(zoom, axis=1).repeat(zoom, axis=2)
    rows = -(-len(picks) // GRID_COLUMNS)
    side = TILE_PX + GAP_PX
    grid = np.full((rows * side - GAP_PX, GRID_COLUMNS * side - GAP_PX, 3), GAP_GREY, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, GRID_COLUMNS)
        grid[r * side : r * side + tile.shape[0], c * side : c * side + tile.shape[1]] = tile
    return grid


def template_image(template) -> np.ndarray:
    """uint8 RGB (TEMPLATE_PX, TEMPLATE_PX): a unit's 28x28 weights, red positive, blue negative, hard-edged."""
    w = np.asarray(template, np.float64)
    top = np.abs(w).max(initial=0)
    scaled = 0.5 + 0.5 * (w / top if top > 0 else w)  # 0.5 (white) is "no matter"
    zoom = TEMPLATE_PX // SIDE
    return coloured(scaled, TEMPLATE_CMAP).repeat(zoom, axis=0).repeat(zoom, axis=1)


def stage_caption(index: int, stages: int, stage: Stage) -> str:
    """In a pupil's words: what the stage's maps look for, and which are shown. (The counts say how big the stage
    is; "switches on 125 of the 128" meant nothing to a pupil.)"""
    h, w, maps = stage.rise.shape
    job = FIRST_STAGE if index == 0 else LAST_STAGE if index == stages - 1 and stages > 2 else MIDDLE_STAGE
    shown = min(MAPS_SHOWN, maps)
    return (
        f"Stage {index + 1}: {h}x{w}, {maps} maps. Each map looks for one kind of shape all over the picture and "
        f"glows where it finds it; here the shapes are {job}. The {shown} that glow most for your drawing, "
        "brightest first."
    )


def unit_caption(unit: Unit, rank: int, units: int) -> str:
    """In a pupil's words: how strongly the drawing wakes the unit, and how to read its template."""
    where = "the one your drawing wakes most" if rank == 0 else f"number {rank + 1} of those your drawing wakes most"
    return (
        f"Unit {unit.index} of {units} in the first layer: {where}. Ink on its red pixels wakes it up, ink on its "
        "blue pixels calms it down."
    )


def _image(x28) -> np.ndarray:
    x = np.asarray(x28, dtype=np.float32)
    if x.shape != (SIDE, SIDE):
        raise ValueError(f"expected one 28x28 image, got shape {x.shape}; use preprocess() first")
    return x
