"""Fine-tuning a saved model on people's corrections, scored before and after so that a class sees what changed.

``fine_tune(source, corrections, base, drawn)`` starts from the weights of the saved model ``source``, trains
on the older corrections (repeated, so that a few dozen weigh enough) mixed with a slice of ``base``'s (and
``drawn``'s) training images (so that the other classes are not forgotten), at a low learning rate and for a
few epochs, and scores the model before and after on:

- the newest corrections, held out (``holdout``): held out by time, not by person, because no person is
  recorded (corrections keep no personal data); the newest are also the nearest to what comes next;
- the drawn-character test split (``drawn``'s test part: UNIPEN writers no model trained on);
- ``base``'s test part (EMNIST's scanned characters).

The training itself is ``training.train``, the one training path: the architecture's own recipe
(augmentation and all) with ``init`` = ``source``. A source with a class-prior correction gets the same
correction back over the fine-tuned weights, so the result serves like the model it replaces; its temperature is
fitted again for the new weights (``own_temperature.for_fine_tune``: on drawn validation characters). Nothing is
saved here: ``store.save_model(result.model, path, result.card(name), result.reports)`` does that.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emnist_core.data import datasets as ds
from emnist_core.data.labels import label_map
from emnist_core.lab import own_temperature
from emnist_core.lab.corrections import CorrectionError, Corrections
from emnist_core.models import evaluation, store
from emnist_core.models.calibration import PriorCorrection, with_prior_correction
from emnist_core.models.card import ModelCard
from emnist_core.models.registry import REGISTRY, model_spec
from emnist_core.training import train as training
from emnist_core.training.augment import augment_batch, batch_rng
from emnist_core.training.config import FINE_TUNING, SCORING_AFTER, SCORING_BEFORE, announce

HOLDOUT = 0.2  # newest share of the corrections held out to score on, never trained on
MIN_CORRECTIONS = 10  # fewer say nothing, and fine-tuning on them would only add noise
BASE_SLICE = 6000  # training images of the base (and drawn) data mixed in, so nothing else is forgotten
CORRECTION_SHARE = 0.15  # of each epoch's images, the corrections' share once repeated
MAX_COPIES = 50  # never repeat a correction more often than this in an epoch
EPOCHS = 3
LEARNING_RATE = 1e-4  # a twentieth of a run from scratch: move the model towards the corrections, do not retrain it
MIN_BASE_SLICE = 1000  # fewer, and the other classes are forgotten (and batch norm has nothing to go by)
RECALIBRATION_BATCH = 256
RECALIBRATION_EPOCH = 10**6  # keys its warps apart from every training batch's (seed, epoch, batch)
VALIDATION = 500  # base (and drawn) validation images for the history's val_* curves


@dataclass
class FineTuneResult:
    """The fine-tuned model, its reports for saving, and the before/after figures.

    ``before`` / ``after``: ``{"held_out": {"n", "accuracy", "per_class"}, "drawn_test": {"n", "accuracy"},
    "test": {"n", "accuracy"}}``, each part present when its data was (``held_out`` with at least one held-out
    correction, ``drawn_test`` with ``drawn``). ``per_class``: {class: [right, held out]}.
    """

    model: object
    source: Path
    source_card: ModelCard
    before: dict
    after: dict
    reports: dict  # {"": report on base's test part, evaluation.DRAWN: on drawn input}: what store.save_model takes
    training: training.TrainResult
    settings: dict
    corrections: dict  # counts and time span of what was trained on and held out
    temperature: dict | None = None  # its own T and reliability figures (``own_temperature``), not the source's

    def card(self, name: str) -> ModelCard:
        """The model card for ``store.save_model``: the training card, plus where it came from and the figures."""
        return self.training.card.fine_tuned(
            name,
            self.model.count_params(),
            (store.model_name(self.source), self.source.name),
            self.source_card,
            self.reports,
            {"settings": self.settings, "corrections": self.corrections, "before": self.before, "after": self.after},
            keeps_correction=_prior_of(self.model) is not None,
            temperature=self.temperature,
        )


def fine_tune(
    source,
    corrections: Corrections,
    base: ds.Dataset,
    drawn: ds.Dataset | None = None,
    *,
    holdout: float = HOLDOUT,
    base_slice: int = BASE_SLICE,
    epochs: int = EPOCHS,
    learning_rate: float = LEARNING_RATE,
    batch_size: int | None = None,
    seed: int = 0,
    listener=None,
    cancel: threading.Event | None = None,
) -> FineTuneResult:
    """Fine-tune the saved model ``source`` (a .keras path or shipped name, with its card) on ``corrections``
    mixed with ``base_slice`` training images of ``base`` (half of them from ``drawn`` when given); see the
    module doc. ``listener`` and ``cancel`` work as in ``training.train``: a cancel raises TrainingCancelled.
    """
    if len(corrections) < MIN_CORRECTIONS:
        raise CorrectionError(
            f"Fine-tuning needs at least {MIN_CORRECTIONS} corrections; there are "
            f"{len(corrections)}. Correct more drawings first."
        )
    path = store.resolve_model_path(source)
    source_card = store.load_card(path) or ModelCard()
    arch = source_card.architecture_name
    if arch not in REGISTRY:
        raise ValueError(
            f"{path.name}: its card does not name an architecture of emnist_core ({arch!r}); "
            "fine-tune a model trained here, whose card says how it was built"
        )
    for data in (base, drawn):
        if data is not None and data.label_map.names != label_map("bymerge").names:
            raise ValueError(f"{data.name}: corrections use the 47 ByMerge classes; give a dataset of those classes")
    if not 0 <= holdout <= 0.5:
        raise ValueError(f"holdout is the share of corrections held out, 0 to 0.5; got {holdout}")
    if base_slice < MIN_BASE_SLICE:
        raise ValueError(
            f"base_slice: mix in at least {MIN_BASE_SLICE} training images, or the model forgets the "
            f"other classes; got {base_slice}"
        )

    trained_on, held = corrections.split_by_time(holdout)
    drawn_test = _drawn_test(drawn)
    announce(listener, SCORING_BEFORE)
    before_model = store.load_model(path)
    before = _figures(before_model, held, base, drawn_test)
    _check(cancel)

    # The class the model mistook each correction for: as many true images of it go in, so the model learns
    # the border between the two classes, not that the corrected class became common.
    rivals = evaluation.predict_probabilities(before_model, trained_on.x).argmax(1)
    mix, copies, n_slice = _mixed(trained_on, rivals, base, drawn, base_slice, seed)
    config = training.TrainConfig(
        model=arch,
        dataset=mix.name,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        init=str(path),
    )
    announce(listener, FINE_TUNING)
    result = training.train(config, mix, listener=listener, cancel=cancel)
    model = result.model
    _recalibrate_batch_norm(model, arch, mix.x_train[:n_slice], seed)
    prior = _prior_of(before_model)
    if prior is not None:  # the same correction over the new weights: it serves like the model it replaces
        model = with_prior_correction(model, *prior)

    announce(listener, SCORING_AFTER)
    reports = evaluation.model_reports(model, base, drawn_test)
    after = _figures(model, held, base, None, reports)
    _check(cancel)
    temperature = own_temperature.for_fine_tune(model, base, drawn)  # the source's T does not fit new weights
    _check(cancel)
    settings = {
        "holdout": holdout,
        "base_slice": base_slice,
        "copies": copies,
        "epochs": result.config.epochs,
        "learning_rate": result.config.learning_rate,
        "batch_size": result.config.batch_size,
        "seed": seed,
        "held_out_by": "time (the newest)",
    }
    return FineTuneResult(
        model,
        path,
        source_card,
        before,
        after,
        reports,
        result,
        settings,
        {"trained_on": _summary(trained_on), "held_out": _summary(held)},
        temperature,
    )


def _mixed(corrections: Corrections, rivals, base: ds.Dataset, drawn, base_slice: int, seed: int):
    """The training set: the corrections, repeated; for each copy of a correction the model got wrong, a true
    image of the class it was taken for (``rivals``), from the drawn data when given; and a random slice of the
    base (and drawn) training images. -> (Dataset, copies, n): its first ``n`` images are the base slice."""
    rng = np.random.default_rng(seed)
    parts = [base] if drawn is None else [base, drawn]
    share = [base_slice // len(parts) + (i < base_slice % len(parts)) for i in range(len(parts))]

    def sample(x, y, n):
        idx = np.sort(rng.choice(len(y), min(n, len(y)), replace=False))
        return x[idx], np.asarray(y)[idx]

    train = [sample(d.x_train, d.labels_as_classes(d.y_train), n) for d, n in zip(parts, share)]
    val = [sample(d.x_val, d.labels_as_classes(d.y_val), VALIDATION // len(parts)) for d in parts]
    n_slice = sum(len(y) for _, y in train)
    # Repeated so that they make up CORRECTION_SHARE of each epoch; with the architecture's augmentation
    # each copy is warped afresh.
    wanted = CORRECTION_SHARE / (1 - CORRECTION_SHARE) * n_slice / max(1, len(corrections))
    copies = int(min(MAX_COPIES, max(1, math.ceil(wanted))))
    train.append((np.tile(corrections.x, (copies, 1, 1)), np.tile(corrections.y, copies)))
    like = parts[-1]  # rivals look like the corrections: drawn, when there are drawn images
    y_like = like.labels_as_classes(like.y_train)
    for rival, count in zip(*np.unique(rivals[rivals != corrections.y], return_counts=True)):
        pool = np.flatnonzero(y_like == rival)
        if len(pool):
            idx = rng.choice(pool, count * copies)
            train.append((like.x_train[idx], y_like[idx]))
    name = "+".join(d.name for d in parts)
    mix = ds.Dataset(
        name if name in ds.DATASETS else base.name,
        base.label_map,
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]).astype(np.int64),
        np.concatenate([x for x, _ in val]),
        np.concatenate([y for _, y in val]).astype(np.int64),
        base.x_test,
        base.y_test,
        f"{len(corrections)} corrections x{copies} mixed with {n_slice} training images of {name}. " + base.description,
        list(base.sources) + (list(drawn.sources) if drawn is not None else []),
    )
    return mix, copies, n_slice


def _recalibrate_batch_norm(model, arch: str, x, seed: int) -> None:
    """Batch-norm statistics estimated again on the base slice, drawn as the architecture's recipe draws its
    training batches (warped, when it augments: its statistics were made on warped images).

    The fine-tuning batches over-represent the corrected classes and their rivals, and batch norm's moving
    statistics follow them within a few dozen steps; left so, they cost the other classes about a point of
    drawn-test accuracy (cnn-pen-prior, 50 corrections). Estimated on unwarped images instead, they cost
    mlp-pen-prior most of a point too. Forward passes in training mode only: no weight moves.
    """
    import keras

    if not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers):
        return
    opts = model_spec(arch).hyperparameters
    order = np.random.default_rng(seed).permutation(len(x))
    for i, start in enumerate(range(0, len(x), RECALIBRATION_BATCH)):
        images = np.asarray(x[order[start : start + RECALIBRATION_BATCH]], np.float32)
        if opts.get("augment"):
            images = augment_batch(images, batch_rng(seed, RECALIBRATION_EPOCH, i), opts.get("hard_ink_rate", 0.0))
        model(images, training=True)


def _drawn_test(drawn):
    """(images, classes, sections) of ``drawn``'s test part, as ``evaluation.model_reports`` takes."""
    if drawn is None:
        return None
    return drawn.x_test, drawn.labels_as_classes(drawn.y_test), drawn.test_sections


def _figures(model, held: Corrections, base: ds.Dataset, drawn_test, reports=None) -> dict:
    """Accuracy on the held-out corrections, the drawn test split and the base test part (from ``reports``
    when given, which hold the last two already)."""
    out = {}
    if len(held):
        right = evaluation.predict_probabilities(model, held.x).argmax(1) == held.y
        names = label_map("bymerge").names
        per_class = {names[c]: [int(right[held.y == c].sum()), int((held.y == c).sum())] for c in np.unique(held.y)}
        out["held_out"] = {"n": len(held), "accuracy": float(right.mean()), "per_class": per_class}
    if reports is None:
        reports = {
            "": evaluation.evaluate_arrays(
                model, base.x_test, base.labels_as_classes(base.y_test), base.label_map, with_details=False
            )
        }
        if drawn_test is not None:
            x, y, sections = drawn_test
            reports[evaluation.DRAWN] = evaluation.evaluate_arrays(
                model, x, y, base.label_map, with_details=False, sections=sections
            )
    if evaluation.DRAWN in reports:
        out["drawn_test"] = {k: reports[evaluation.DRAWN][k] for k in ("n", "accuracy")}
    out["test"] = {k: reports[""][k] for k in ("n", "accuracy")}
    return out


def _prior_of(model):
    """(log_prior, tau) of a model whose last layer is a class-prior correction, else None."""
    last = model.layers[-1]
    return (last.log_prior, last.tau) if isinstance(last, PriorCorrection) else None


def _summary(part: Corrections) -> dict:
    if not len(part):
        return {"n": 0}
    classes = dict(zip(*np.unique(part.names, return_counts=True)))
    return {
        "n": len(part),
        "first": part.times[0].isoformat(timespec="seconds"),
        "last": part.times[-1].isoformat(timespec="seconds"),
        "classes": {str(k): int(v) for k, v in classes.items()},
    }


def _check(cancel) -> None:
    if cancel is not None and cancel.is_set():
        raise training.TrainingCancelled("fine-tuning was cancelled; no model was made")
