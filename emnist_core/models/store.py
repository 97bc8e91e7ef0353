"""Saved models: how one is named, found, written, loaded, listed and removed. The one module that knows.

A saved model ``NAME`` is a set of files in one folder, all starting with its name:

- ``NAME.keras``: architecture and weights, without optimizer state (a third of the size);
- ``NAME.card.json``: the model card (``card.ModelCard``: data, hyperparameters, history, test metrics,
  versions, command), written here and nowhere else;
- ``NAME.report.json``: the full evaluation report on its test part, what the app's Confusions tab shows;
- ``NAME.DATASET.report.json``: optional reports on other test sets (``unipen``: drawn input).

A *derived* model has no ``.keras`` of its own: its card's ``derived_from`` names another model's weights
in the same folder and a class-prior correction to put over them (one copy of the weights, not two). It
is still called by its ``NAME.keras`` path, which ``model_exists`` accepts and ``load_model`` loads.

``save_model`` writes a model's files as one unit: every file is first written under a hidden temporary
name, and only when all are written do they replace the old ones, so a failed save (a full disk, a bad
report) leaves the previous model of that name as it was and no part of the new one.
Loading is always in Keras' safe mode: a model file cannot run code on loading.
Importing this module does not start Keras; loading and saving a model do.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import zipfile
from pathlib import Path

from emnist_core.data.cache import PROJECT_ROOT, atomic_write, cache_dir, temp_path
from emnist_core.data.datasets import DATASETS
from emnist_core.models.card import ModelCard

MODEL_SUFFIX = ".keras"
CARD_SUFFIX = ".card.json"
REPORT_SUFFIX = ".report.json"
# The models that ship in the repository's assets/ folder, found by name from anywhere.
ASSETS_DIR = PROJECT_ROOT / "assets"
SHIPPED = ("seed-mlp", "seed-cnn", "mlp-bn", "cnn-bn", "mlp-bn-prior", "cnn-bn-prior", "mlp-pen-prior", "cnn-pen-prior")
# The app's live pair: the MLP and the CNN trained for drawn input (EMNIST + pen strokes drawn with the
# sketchpad's brush), with a class-prior correction fitted on drawn characters, because people draw
# letters as often as digits (see README's results).
ALIASES = {"mlp": "mlp-pen-prior", "cnn": "cnn-pen-prior"}
# What the app and the figures read from a full report (written with with_details=True).
REPORT_KEYS = frozenset(
    {"n", "accuracy", "mean_recall", "classes", "per_class", "confusion_matrix", "confused_pairs", "misclassified"}
)

log = logging.getLogger(__name__)


class ModelFileError(ValueError):
    """A model file is missing, corrupt or not a model we can run."""


# ---------------------------------------------------------------- names and paths


def models_dir() -> Path:
    """Writable folder for retrained models (``EMNIST_MODELS_DIR``); never ``assets/``."""
    return Path(os.environ.get("EMNIST_MODELS_DIR") or cache_dir() / "models")


def model_name(path) -> str:
    """``folder/NAME.keras`` -> ``NAME``: the stem that all of a model's files share."""
    return Path(path).name.removesuffix(MODEL_SUFFIX)


def card_path(model_path) -> Path:
    """``NAME.card.json`` beside the model."""
    p = Path(model_path)
    return p.with_name(model_name(p) + CARD_SUFFIX)


def report_path(model_path, dataset: str = "") -> Path:
    """``NAME.report.json`` (its own test part) or ``NAME.DATASET.report.json`` beside the model."""
    p = Path(model_path)
    return p.with_name(model_name(p) + (f".{dataset}" if dataset else "") + REPORT_SUFFIX)


def model_files(model_path) -> list[Path]:
    """Every file of the model at ``model_path`` that is on disk: model, card, reports (none: [])."""
    p = Path(model_path)
    candidates = [p, card_path(p), *(report_path(p, d) for d in ("", *DATASETS))]
    return [c for c in candidates if c.is_file()]


def resolve_model_path(name_or_path, models_dir=None) -> Path:
    """A shipped model name (``cnn``, ``seed-mlp`` ...) or a path to a ``.keras`` file -> its path.

    A bare name is looked up in ``models_dir`` first, then in ``ASSETS_DIR``; an alias names a shipped model.
    """
    text = str(name_or_path)
    name = ALIASES.get(text, text)
    for folder in (models_dir, ASSETS_DIR):
        if folder is not None and "/" not in name and not name.endswith(MODEL_SUFFIX):
            candidate = Path(folder) / f"{name}{MODEL_SUFFIX}"
            if model_exists(candidate):
                return candidate
    path = Path(text)
    if path.suffix == MODEL_SUFFIX:
        if not model_exists(path):
            raise ModelFileError(f"{path}: model file not found")
        return path
    known = ", ".join([*ALIASES, *SHIPPED])
    raise ModelFileError(f"unknown model {text!r}: give a shipped name ({known}) or a path to a .keras file")


def model_exists(path) -> bool:
    """A ``.keras`` file, or a derived model: a card beside it that names the weights it reuses."""
    path = Path(path)
    return path.is_file() or _derived_from(path) is not None


def _is_weights_name(weights) -> bool:
    """A derived model's ``derived_from.weights``: a plain ``NAME.keras`` in the same folder, never a path."""
    return isinstance(weights, str) and Path(weights).name == weights and weights.endswith(MODEL_SUFFIX)


def _derived_from(path) -> dict | None:
    card = load_card(path)
    return None if card is None else card.derived_from


def list_models(folder) -> list[Path]:
    """The ``NAME.keras`` path of every model saved in ``folder``, derived ones included, by name.

    Hidden files (a killed save's temporaries) are not models.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = {p for p in folder.glob(f"*{MODEL_SUFFIX}") if p.is_file()}
    for card in folder.glob(f"*{CARD_SUFFIX}"):
        path = card.with_name(card.name.removesuffix(CARD_SUFFIX) + MODEL_SUFFIX)
        if path not in found and model_exists(path):
            found.add(path)
    return sorted((p for p in found if not p.name.startswith(".")), key=lambda p: p.name)


# ---------------------------------------------------------------- loading


def load_model(path):
    """Load a ``.keras`` file (or a derived model, see ``model_exists``) for inference, in Keras' safe mode."""
    import keras

    from emnist_core.models import calibration  # noqa: F401  registers PriorCorrection, a layer of the shipped models

    path = Path(path)
    if not path.is_file():
        derived = _derived_from(path)
        if derived is not None:
            return _load_derived(path, derived)
        raise ModelFileError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):  # Keras would report this as "file not found"
        raise ModelFileError(
            f"{path}: not a loadable Keras model (a .keras file is a zip archive; this one is "
            "cut short or another kind of file); retrain it or restore the shipped file"
        )
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive; one clear message for all
        if "arbitrary code execution" in str(exc):  # the words of Keras' safe-mode refusal
            raise ModelFileError(
                f"{path}: refused by Keras' safe mode: the model holds Python code (such as a "
                "Lambda layer) that would run on loading; rebuild it from standard layers"
            ) from None
        raise ModelFileError(
            f"{path}: not a loadable Keras model ({type(exc).__name__}: {str(exc)[:200]}); "
            "retrain it or restore the shipped file"
        ) from None


def _load_derived(path: Path, derived: dict):
    """A class-prior correction over another model's weights in the same folder: one copy of the weights.

    The card holds ``derived_from = {"weights": "NAME.keras", "prior_correction": {"tau", "log_prior"}}``.
    """
    from emnist_core.models.calibration import with_prior_correction, without_prior_correction

    weights, correction = derived.get("weights"), derived.get("prior_correction") or {}
    if not _is_weights_name(weights):
        raise ModelFileError(f"{path}: its card's derived_from.weights must name a .keras file in the same folder")
    base_path = path.with_name(weights)
    if not base_path.is_file():
        raise ModelFileError(f"{path}: reuses the weights of {weights}, which is missing; restore it or retrain")
    base = without_prior_correction(load_model(base_path))  # start from the uncorrected probabilities
    try:
        tau, log_prior = float(correction["tau"]), [float(v) for v in correction["log_prior"]]
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(f"{path}: its card's prior_correction needs a number tau and a list log_prior") from None
    if len(log_prior) != base.output_shape[-1]:
        raise ModelFileError(f"{path}: log_prior has {len(log_prior)} classes, {weights} gives {base.output_shape[-1]}")
    return with_prior_correction(base, log_prior, tau)


def load_card(path) -> ModelCard | None:
    """The model card beside a model file, or None when there is none (a damaged card counts as none)."""
    try:
        return ModelCard.from_json(json.loads(card_path(path).read_text()))
    except (OSError, ValueError):  # unreadable, not JSON, not a card (card.CardError is a ValueError)
        return None


def load_report(path) -> dict:
    """A saved full report; ValueError naming the file when it is not one (damaged, or a summary)."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except ValueError:
        raise ValueError(f"{path}: not a JSON evaluation report; run evaluate --save-report again") from None
    if not (isinstance(report, dict) and report.keys() >= REPORT_KEYS):
        raise ValueError(f"{path}: not a full evaluation report; run evaluate --save-report again")
    return report


def read_report(path) -> dict | None:
    """A report for showing, or None when it is missing or damaged (logged): whoever shows it then says how to
    make one, and everything else works without it."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return load_report(path)
    except (OSError, ValueError) as exc:  # unreadable, not JSON, not a full report
        log.warning("report not used: %s", exc)
        return None


# ---------------------------------------------------------------- writing and removing


def save_model(model, path, card: ModelCard, reports: dict[str, dict] | None = None) -> Path:
    """Write a model's files as one unit: all of them, or (on any error) none, the old model left whole.

    ``model``: a Keras model, saved without optimizer state; None for a derived model, whose ``card``
    then names the weights it reuses (``derived_from``). ``reports``: ``{dataset: report}``, ``""`` for
    its own test part (``report_path``). The card gets ``file``, each report ``model``: the file's name.
    Files of an older model of that name that the new one lacks (a full copy where a derived card now
    stands, a report on another test set) are removed with the rest, so nothing stale stays beside it.
    """
    path = Path(path)
    if path.suffix != MODEL_SUFFIX:
        raise ValueError(f"model files end in .keras, got {path.name}")
    if not isinstance(card, ModelCard):
        raise TypeError(f"a model's card is a ModelCard, got {type(card).__name__}")
    if model is None:
        weights = (card.derived_from or {}).get("weights")
        if not _is_weights_name(weights):
            raise ValueError(
                f"{path.name}: give a model, or a card whose derived_from names a .keras file in the same folder"
            )
        if weights == path.name:
            raise ValueError(f"{path.name}: a derived model cannot reuse its own weights; give it another name")
        if not path.with_name(weights).is_file():
            raise ModelFileError(f"{path}: reuses the weights of {weights}, which is missing; restore it or retrain")
    path.parent.mkdir(parents=True, exist_ok=True)
    card = card.updated(file=path.name if model is not None else None)
    files = {card_path(path): lambda tmp: _write_card(tmp, card)}
    if model is not None:
        files = {path: lambda tmp: _write_keras(tmp, model), **files}  # the weights first, then what describes them
    for dataset, report in (reports or {}).items():
        files[report_path(path, dataset)] = lambda tmp, r={**report, "model": path.name}: _write_json(tmp, r)
    staged: dict[Path, Path] = {}
    try:
        for target, write in files.items():
            staged[target] = temp_path(target)
            write(staged[target])
        _replace_together(staged, stale=[p for p in model_files(path) if p not in files])
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    return path


def save_card(model_path, card: ModelCard) -> Path:
    """Write the card of a model that is already saved (``model_exists``), in place of its old one; atomically.
    What changes a card alone (a temperature fit) writes it here."""
    model_path = Path(model_path)
    if not model_exists(model_path):
        raise ModelFileError(f"{model_path}: model file not found; save the model with its card (save_model)")
    path = card_path(model_path)
    atomic_write(path, lambda tmp: _write_card(tmp, card))
    return path


def save_report(report: dict, path) -> Path:
    """Write one report (``report_path``) beside a model that is already saved; atomically."""
    path = Path(path)
    atomic_write(path, lambda tmp: _write_json(tmp, report))
    return path


def remove_model(path) -> list[Path]:
    """Remove every file of the model at ``path`` (see ``model_files``); return those removed.

    Refused (ValueError) while a derived model in the same folder reuses its weights: that one would break.
    """
    path = Path(path)
    users = [
        other.name
        for other in list_models(path.parent)
        if other != path and not other.is_file() and (_derived_from(other) or {}).get("weights") == path.name
    ]
    if users:
        raise ValueError(f"{path}: {', '.join(users)} reuse its weights; remove them first")
    removed = model_files(path)
    for p in removed:
        p.unlink(missing_ok=True)
    return removed


LEFTOVER_SECONDS = 600  # a hidden temporary older than this is a killed save's, not one in progress


def prune(folder, keep: int, protect=()) -> list[Path]:
    """Remove every model in ``folder`` but the newest ``keep`` (by the time of its files) and those at ``protect``
    (the live ones, say), and any killed save's leftovers; return the files removed. A model another one still reuses
    the weights of is kept (``remove_model``)."""
    protected = {Path(p).resolve() for p in protect}
    models = sorted(list_models(folder), key=lambda p: max(f.stat().st_mtime for f in model_files(p)), reverse=True)
    removed = []
    for path in models[keep:]:
        if path.resolve() in protected:
            continue
        try:
            removed += remove_model(path)
        except (ValueError, OSError):  # reused by another model, or gone meanwhile
            continue
    stale = time.time() - LEFTOVER_SECONDS
    for leftover in Path(folder).glob(".*.tmp*"):  # a save killed mid-write (cache.temp_path), long ago
        if leftover.is_file() and leftover.stat().st_mtime < stale:
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def _write_keras(tmp: Path, model) -> None:
    if getattr(model, "optimizer", None) is not None:
        # A copy rebuilt from its config is never compiled: it carries the weights but no optimizer.
        bare = model.__class__.from_config(model.get_config())
        bare.set_weights(model.get_weights())
        model = bare
    model.save(tmp)


def _write_card(tmp: Path, card: ModelCard) -> None:
    _write_json(tmp, card.to_json(), indent=1)  # indented: a card is read by people too


def _write_json(tmp: Path, data: dict, indent: int | None = None) -> None:
    text = json.dumps(data, indent=indent) if indent else json.dumps(data, separators=(",", ":"))
    tmp.write_text(text)


def _replace_together(staged: dict[Path, Path], stale: list[Path]) -> None:
    """Move each staged temporary over its target and remove ``stale``; on any error, put the old files back.

    Each step is an atomic rename (a reader sees the old file or the new, never half of one); the old files
    are first kept under hidden names (hard links, else copies), which are what an error restores.
    """
    backups: dict[Path, Path] = {}
    try:
        for old in [*staged, *stale]:
            if old.is_file():
                backups[old] = temp_path(old, "tmp-old")
                try:
                    os.link(old, backups[old])
                except OSError:  # a file system without hard links
                    shutil.copy2(old, backups[old])
        done: list[Path] = []
        try:
            for target, tmp in staged.items():
                os.replace(tmp, target)
                done.append(target)
            for old in stale:
                old.unlink()
                done.append(old)
        except BaseException:
            for p in done:
                if p in backups:
                    os.replace(backups.pop(p), p)
                else:
                    p.unlink(missing_ok=True)
            raise
    finally:
        for backup in backups.values():
            backup.unlink(missing_ok=True)
