"""Why this answer: where in the 28x28 image each model found its evidence, by occlusion.

Occlusion treats a model as a black box, so it explains the MLP and the CNN (and any runtime that
serves them) alike: grey out one square patch of the image at a time (set it to 0, the
background), ask the model again, and see how much its top class's probability drops. A pixel's
saliency is the average drop over the patches that cover it.

Every occluded image of one drawing goes into ONE batch and one call of ``probabilities``
(``Predictor.probabilities``: {model name: (N, classes)}), which serves every model at once; only
patches that touch ink are tried, since greying out background changes nothing.

``explain`` gives each model's ``Explanation``: the class it reads, the saliency map, a caption
("the left stroke made it read 4") and an overlay image to show beside its prediction.
``deletion_check`` tests the maps: deleting pixels most-salient-first should lower the target's
probability sooner than deleting them in random order (Samek et al. 2017, "Evaluating the
visualization of what a deep neural network has learned").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from emnist_core.data.preprocess import SIDE

# A 7x7 patch is a stroke's width plus its blur (EMNIST strokes are ~5 px wide at 28x28): hiding one
# removes a piece of one stroke. Stride 3 tiles the frame exactly (8x8 = 64 patches), and ~50 of
# them touch ink in a test image, so a drawing costs ~50 images per model: ~16 ms (p95 ~19 ms) for
# both shipped models as the app serves them with LiteRT, on two shared CPU cores.
# Measured with bench/bench_explain.py on 100 pool47 test images: 6x6 patches (~60 images, up to
# 81) make maps a little better at the deletion check for the CNN, too close to 30 ms under LiteRT;
# 8x8 patches at stride 4 (~30 images) score about as well for half the cost, but their maps move in
# 4-pixel steps: blocks in the overlay rather than strokes.
PATCH = 7
STRIDE = 3
# Pixels dimmer than this count as background: EMNIST's blur leaves faint halos that no model needs,
# and a patch touching only those would add images to the batch for nothing.
INK_LEVEL = 32
# Under this drop in probability (1%) no part matters: the map is shown as empty and the caption
# says the whole shape decides.
MIN_SALIENCY = 0.01

OVERLAY_PX = 168  # 6 screen pixels per image pixel
OVERLAY_CMAP = "inferno"  # dark to yellow: reads as heat, and stays visible over white ink
OVERLAY_INK = 0.55  # the image is dimmed to this brightness so the heat stands out on the ink
OVERLAY_ALPHA = 0.75  # opacity of the heat on the most salient pixel

# Captions name the cell of a 3x3 grid that holds the centroid of the strongest evidence: the pixels
# with at least HOT_SHARE of the map's maximum. Evidence this many times longer than wide, centred
# along its length, is a stroke ("the left stroke"), not a part ("the top-left part").
HOT_SHARE = 0.5
STROKE_ELONGATION = 1.5
# Evidence spread this far both ways (standard deviation over the grid's side; spread evenly over a
# whole side it is 0.29) belongs to no one part: a 0 read from its whole ring.
WHOLE_SPREAD = 0.2
# A narrow character (a 1, an l) has no left and right: its grid is at least this wide, centred on it.
MIN_GRID = 14
# The pieces named: at most MAX_PARTS, the biggest first, as many as hold MAIN_SHARE of the evidence.
MAIN_SHARE = 0.6
MAX_PARTS = 2
# A place named for a piece must hold at least this share of it: a cell half of it, a stroke (or a half of
# the character) nearly all of it. "The stroke across the middle" is a piece lying along the middle, not a
# loop whose top crosses it: that is "the bottom half".
NAMED_SHARE = 0.5
STROKE_SHARE = 0.8
WHOLE = "the whole shape together"
SEVERAL = "several parts together"
ROWS = ("top", "middle", "bottom")
# Halves of the character: (axis, its two bands) on the 3x3 grid; a piece named so touches both bands.
HALVES = {
    "the top half": (0, (0, 1)),
    "the bottom half": (0, (1, 2)),
    "the left half": (1, (0, 1)),
    "the right half": (1, (1, 2)),
}
COLUMNS = ("left", "middle", "right")

DELETION_STEPS = 16  # points on a deletion curve after the start: 17 images per curve


@dataclass(frozen=True)
class Explanation:
    """What one model read in one image, and where it found the evidence."""

    target: str  # the class name the model reads (its top class)
    probability: float  # the model's probability for it, on the whole image
    saliency: np.ndarray  # float32 (28, 28), >= 0: drop in that probability when the area is hidden
    caption: str  # one plain sentence: where the evidence is
    overlay: np.ndarray  # uint8 (OVERLAY_PX, OVERLAY_PX, 3): the image with the saliency as heat


def explain(probabilities, x28, classes, *, patch: int = PATCH, stride: int = STRIDE) -> dict[str, Explanation]:
    """Explain every model's answer for one 28x28 image (uint8 or float 0-255, white ink on black).

    ``probabilities``: batch float32 (N, 28, 28) -> {model name: (N, classes)}, called once.
    ``classes``: class names by index.
    """
    out = {}
    for name, (target, p, saliency) in saliency_maps(probabilities, x28, patch=patch, stride=stride).items():
        label = str(classes[target])
        out[name] = Explanation(label, p, saliency, caption(saliency, label, x28), overlay(x28, saliency))
    return out


def saliency_maps(probabilities, x28, *, patch: int = PATCH, stride: int = STRIDE) -> dict[str, tuple]:
    """{model name: (target index, its probability, saliency (28, 28))} from one ``probabilities`` call."""
    x = _image(x28)
    masks = _patch_masks(patch, stride)  # (patches, 784)
    # A patch that touches no ink leaves the image as it is: its drop is 0 without asking the model.
    touches = masks @ (x.ravel() >= INK_LEVEL) > 0
    hidden = masks[touches].reshape(-1, SIDE, SIDE)
    batch = np.concatenate([x[None], np.where(hidden, np.float32(0), x)])
    coverage = masks.sum(0)  # at least 1: the patches tile the whole frame
    maps = {}
    for name, probs in probabilities(batch).items():
        probs = np.asarray(probs)
        target = int(np.argmax(probs[0]))
        # A patch whose hiding raises the probability is no evidence for the answer: it counts as 0.
        drops = np.maximum(probs[0, target] - probs[1:, target], 0)
        saliency = (drops @ masks[touches]) / coverage
        maps[name] = (target, float(probs[0, target]), saliency.reshape(SIDE, SIDE).astype(np.float32))
    return maps


def caption(saliency, target_name: str, ink=None) -> str:
    """One sentence naming where the evidence is; it always ends "made it read <target_name>".

    The strongest saliency on the ink (``ink``, the 28x28 image, when given) falls into connected pieces;
    the one or two pieces that hold most of it are each named by a cell of a 3x3 grid drawn over the
    character (the ink's bounding box; else the whole frame): "the top-left part", "the middle"; a piece
    lying along a whole side is a stroke ("the left stroke"); a piece over two thirds, "the bottom half". A
    place is named only when the piece covers it and lies mostly in it, so a caption always points at ink
    that holds evidence: never at the gap between two pieces, nor across a loop whose edge crosses it.
    """
    s = np.asarray(saliency, dtype=np.float64)
    top = s.max(initial=0)
    inked = np.ones(s.shape, bool) if ink is None else np.asarray(ink) >= INK_LEVEL
    # The strongest evidence only: a map is never zero over the ink, and a faint spread over the
    # whole character would make every piece one piece.
    hot = (s >= HOT_SHARE * top) & inked
    if top < MIN_SALIENCY or not hot.any():
        return f"no single part decides it: the whole shape made it read {target_name}"
    return f"{' and '.join(name for name, _ in caption_parts(s, hot, _grid_box(ink)))} made it read {target_name}"


def caption_parts(saliency, hot, box) -> list[tuple[str, set]]:
    """[(name, its grid cells {(row, column)})] for the pieces of ``hot`` that hold most of the saliency.

    One or two pieces, biggest first, as many as hold MAIN_SHARE of the hot saliency; more than two
    is "several parts together". A piece spread over the whole character is "the whole shape together".
    """
    from scipy import ndimage

    labels, count = ndimage.label(hot, structure=np.ones((3, 3)))
    mass = ndimage.sum_labels(saliency, labels, index=np.arange(1, count + 1))
    parts, held = [], 0.0
    for piece in np.argsort(-mass, kind="stable") + 1:
        if held >= MAIN_SHARE * mass.sum():
            break
        if len(parts) == MAX_PARTS:
            return [(SEVERAL, set())]
        part = _name_piece(np.where(labels == piece, saliency, 0), box)
        if part[0] == WHOLE:
            return [part]
        if part[0] not in (name for name, _ in parts):
            parts.append(part)
        held += mass[piece - 1]
    return parts


def _name_piece(weight, box) -> tuple[str, set]:
    """(name, cells) of one connected piece of evidence: its centroid's cell, or the stroke along it."""
    rows, cols = np.nonzero(weight > 0)
    cell_rows, cell_cols = (cells[index] for cells, index in zip(_cells(box), (rows, cols)))
    covered = set(zip(cell_rows.tolist(), cell_cols.tolist()))  # the cells the piece touches
    centre, spread = [], []
    for axis, (lo, length) in zip(np.indices(weight.shape) + 0.5, box):
        c = np.average(axis, weights=weight)
        centre.append(min(max(int(3 * (c - lo) / length), 0), 2))
        spread.append(np.sqrt(np.average((axis - c) ** 2, weights=weight)) / length)
    name, named = _region(*centre, *spread)
    mass = np.zeros((3, 3))
    np.add.at(mass, (cell_rows, cell_cols), weight[rows, cols])
    share = lambda cells: sum(mass[c] for c in cells) / mass.sum()
    if name == WHOLE or (named <= covered and share(named) >= (STROKE_SHARE if len(named) == 3 else NAMED_SHARE)):
        return name, named
    # The centroid fell where the piece is not, or is not mostly (inside a curve's bend, on the top of a
    # loop): name the half of the character holding nearly all of the piece, else the cell holding most.
    halves = []
    for half, (axis, bands) in HALVES.items():
        cells = {cell for cell in np.ndindex(3, 3) if cell[axis] in bands}
        if share(cells) >= STROKE_SHARE and {cell[axis] for cell in covered} >= set(bands):
            halves.append((half, cells))
    if halves:
        return max(halves, key=lambda half: share(half[1]))
    row, col = np.unravel_index(int(np.argmax(mass)), mass.shape)
    return _cell_name(int(row), int(col)), {(int(row), int(col))}


def overlay(x28, saliency) -> np.ndarray:
    """The image dimmed to grey, the salient pixels in heat colours, enlarged to OVERLAY_PX with hard edges."""
    from matplotlib import colormaps

    grey = _image(x28)[..., None] / 255 * OVERLAY_INK
    s = np.asarray(saliency, dtype=np.float32)
    top = s.max(initial=0)
    weight = s / top if top >= MIN_SALIENCY else np.zeros_like(s)  # an empty map shows no heat
    heat = colormaps[OVERLAY_CMAP](weight)[..., :3]
    alpha = (OVERLAY_ALPHA * weight)[..., None]
    rgb = np.round(255 * ((1 - alpha) * grey + alpha * heat)).astype(np.uint8)
    scale = OVERLAY_PX // SIDE
    return np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)


# ---- The sanity check: deletion curves ---------------------------------------------------------


def deletion_curve(probabilities_of_one_model, x28, order, target_index: int, steps: int = DELETION_STEPS):
    """Target probability as the pixels in ``order`` (flat indices) are set to 0, in ``steps`` equal parts.

    ``probabilities_of_one_model``: batch (N, 28, 28) -> (N, classes). Returns (steps + 1,): the
    first point is the whole image, the last has every pixel of ``order`` deleted.
    """
    probs = np.asarray(probabilities_of_one_model(deletion_images(x28, order, steps)))
    return probs[:, target_index]


def deletion_images(x28, order, steps: int = DELETION_STEPS) -> np.ndarray:
    """float32 (steps + 1, 28, 28): ``x28`` with the first 0, 1/steps, ... , all of ``order`` deleted."""
    x = _image(x28).ravel()
    order = np.asarray(order, dtype=int)
    # rank[pixel] = when that pixel goes; pixels not in the order never go.
    rank = np.full(x.size, order.size + 1)
    rank[order] = np.arange(order.size)
    cut = np.linspace(0, order.size, steps + 1).round()
    return np.where(rank[None] < cut[:, None], np.float32(0), x[None]).reshape(-1, SIDE, SIDE)


def auc(curve) -> float:
    """Area under a deletion curve over the deleted fraction 0..1: lower means the probability fell sooner."""
    curve = np.asarray(curve, dtype=np.float64)
    return float(np.trapezoid(curve, dx=1 / (len(curve) - 1)))


@dataclass(frozen=True)
class DeletionCheck:
    """Deletion AUCs of one model, per image: pixels deleted most-salient-first vs in random order."""

    salient: np.ndarray  # (images,)
    random: np.ndarray  # (images,)

    @property
    def mean_salient(self) -> float:
        return float(self.salient.mean())

    @property
    def mean_random(self) -> float:
        return float(self.random.mean())

    @property
    def wins(self) -> float:
        """Share of images where salient-first deletion drops the probability sooner."""
        return float((self.salient < self.random).mean())

    @property
    def holds(self) -> bool:
        return self.mean_salient < self.mean_random


def deletion_check(
    probabilities, images, steps: int = DELETION_STEPS, seed: int = 0, *, patch: int = PATCH, stride: int = STRIDE
) -> dict[str, DeletionCheck]:
    """Run the deletion test on each image for every model ``probabilities`` serves.

    Only ink pixels are deleted, in both orders, so both curves end on the same empty image; the
    random order is the same for every model. Two ``probabilities`` calls per image.
    """
    rng = np.random.default_rng(seed)
    aucs: dict[str, list] = {}
    for x28 in images:
        x = _image(x28)
        maps = saliency_maps(probabilities, x, patch=patch, stride=stride)
        ink = np.flatnonzero(x.ravel() > 0)
        random_order = rng.permutation(ink)
        names = list(maps)
        # Most salient first; ties (a patch's pixels share its drops) go brightest ink first.
        orders = [ink[np.lexsort((-x.ravel()[ink], -maps[n][2].ravel()[ink]))] for n in names]
        stacks = [deletion_images(x, o, steps) for o in (*orders, random_order)]
        probs = probabilities(np.concatenate(stacks))
        n = steps + 1
        for i, name in enumerate(names):
            p = np.asarray(probs[name])[:, maps[name][0]]  # its own target, all its curves
            aucs.setdefault(name, []).append((auc(p[i * n : (i + 1) * n]), auc(p[len(names) * n :])))
    return {name: DeletionCheck(*np.array(pairs).T) for name, pairs in aucs.items()}


# ---- Helpers -----------------------------------------------------------------------------------


def _image(x28) -> np.ndarray:
    x = np.asarray(x28, dtype=np.float32)
    if x.shape != (SIDE, SIDE):
        raise ValueError(f"expected one 28x28 image, got shape {x.shape}; use preprocess() first")
    return x


@cache
def _patch_masks(patch: int, stride: int) -> np.ndarray:
    """float32 (patches, 784): 1 where each patch hides the image. Patches are spread evenly, at most
    ``stride`` apart, from edge to edge of the frame, so every pixel is covered."""
    starts = np.linspace(0, SIDE - patch, -(-(SIDE - patch) // stride) + 1).round().astype(int)
    masks = np.zeros((len(starts) ** 2, SIDE, SIDE), np.float32)
    for i, (r, c) in enumerate((r, c) for r in starts for c in starts):
        masks[i, r : r + patch, c : c + patch] = 1
    masks.setflags(write=False)
    return masks.reshape(len(masks), -1)


def _grid_box(ink) -> list[tuple[float, float]]:
    """(start, length) per axis of the caption's grid: the ink's bounding box, at least MIN_GRID a side."""
    if ink is None or not (np.asarray(ink) >= INK_LEVEL).any():
        return [(0.0, float(SIDE))] * 2
    box = []
    for axis in (1, 0):  # rows, then columns
        where = np.flatnonzero((np.asarray(ink) >= INK_LEVEL).any(axis=axis))
        length = max(where[-1] + 1 - where[0], MIN_GRID)
        box.append(((where[0] + where[-1] + 1 - length) / 2, float(length)))
    return box


def _cells(box) -> tuple[np.ndarray, np.ndarray]:
    """The grid row of each image row and the grid column of each image column (0-2; ink outside the box
    goes to the nearest cell)."""
    return tuple(np.clip(((np.arange(SIDE) + 0.5 - lo) * 3 / length).astype(int), 0, 2) for lo, length in box)


def _region(row: int, col: int, row_spread: float, col_spread: float) -> tuple[str, set]:
    """Plain words for a cell of the 3x3 grid, given how far the evidence spreads (in grid sides), and the
    cells they name."""
    if min(row_spread, col_spread) >= WHOLE_SPREAD:
        return WHOLE, set()
    if row == 1 and row_spread >= STROKE_ELONGATION * col_spread:  # tall, centred top to bottom
        name = "the stroke down the middle" if col == 1 else f"the {COLUMNS[col]} stroke"
        return name, {(r, col) for r in range(3)}
    if col == 1 and col_spread >= STROKE_ELONGATION * row_spread:  # wide, centred left to right
        name = "the stroke across the middle" if row == 1 else f"the {ROWS[row]} stroke"
        return name, {(row, c) for c in range(3)}
    return _cell_name(row, col), {(row, col)}


def _cell_name(row: int, col: int) -> str:
    if row == 1 and col == 1:
        return "the middle"
    if row == 1 or col == 1:
        return f"the {COLUMNS[col] if row == 1 else ROWS[row]} part"
    return f"the {ROWS[row]}-{COLUMNS[col]} part"
