"""The model card: what a saved model is, how it was made and how well it did, as one typed record.

``ModelCard`` is built in one place: ``ModelCard.trained`` makes the card of a training run, and every other way
a model is made derives its card from its source's (``scored``, ``fine_tuned``, ``prior_corrected``,
``with_temperature``), so the card's fields are spelled here and nowhere else. ``store`` is its one writer
(``save_model``, ``save_card``) and ``store.load_card`` its one reader; everyone else reads its attributes.

On disk a card is ``NAME.card.json``, in the format it always had: ``from_json`` and ``to_json`` keep every key,
those this version does not know included (``extra``), so the shipped cards load and write back unchanged.
Plain data, no Keras: the server reads cards without starting a backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emnist_core.models.evaluation import CARD_METRICS, DRAWN, DRAWN_CARD_METRICS

# Sections a card always writes (null or empty when unknown); the optional ones are written only when set.
_ALWAYS = (
    "name",
    "architecture",
    "data",
    "hyperparameters",
    "history",
    "test_metrics",
    "training_seconds",
    "versions",
    "date",
    "command",
    "file",
)


class CardError(ValueError):
    """A card's JSON is not a model card (a section of the wrong type): read as no card at all."""


@dataclass(frozen=True)
class ModelCard:
    """A saved model's card. The sections are the JSON's, in its order; each dict keeps the JSON's keys."""

    name: str = ""
    architecture: dict = field(default_factory=dict)  # name, kind, description, parameters, summary
    data: dict = field(default_factory=dict)  # dataset, description, sources, partition, used, classes
    hyperparameters: dict = field(default_factory=dict)  # epochs, batch_size ... and the recipe
    history: dict = field(default_factory=dict)  # {"loss": [per epoch], "val_accuracy": [...] ...}
    test_metrics: dict = field(default_factory=dict)  # CARD_METRICS on its own test part
    training_seconds: float | None = None
    versions: dict = field(default_factory=dict)  # python, keras, backend, numpy
    date: str | None = None  # ISO 8601, UTC
    command: str | None = None  # the command line that reproduces it; None for a model made in the app
    drawn_test_metrics: dict | None = None  # DRAWN_CARD_METRICS on the drawn test set
    file: str | None = None  # its .keras file's name; None for a derived model (``derived_from``)
    calibration: dict | None = None  # the class-prior correction's fit, and ``temperature`` (Guo et al.)
    uncalibrated_test_metrics: dict | None = None
    uncalibrated_drawn_test_metrics: dict | None = None
    derived_from: dict | None = None  # {"weights": "NAME.keras", "prior_correction": {"tau", "log_prior"}}
    fine_tuned_from: dict | None = None  # {"model", "file", "date", "test_metrics", "drawn_test_metrics"}
    fine_tuning: dict | None = None  # {"settings", "corrections", "before", "after"}
    drawn_test_note: str | None = None  # why the drawn figures were scored again later (the test part changed)
    extra: dict = field(default_factory=dict)  # keys this version does not know (a tool's "trained_on" ...)

    # ---------------------------------------------------------------- what readers ask

    @property
    def kind(self) -> str | None:
        """``"mlp"`` or ``"cnn"``: the app's slot it serves in; None when the card does not say."""
        return self.architecture.get("kind")

    @property
    def architecture_name(self) -> str | None:
        """The registry's architecture it was built as (``seed-cnn``, ``cnn-bn`` ...)."""
        return self.architecture.get("name")

    @property
    def description(self) -> str:
        return self.architecture.get("description") or ""

    @property
    def parameters(self) -> int | None:
        return self.architecture.get("parameters")

    @property
    def trainable_parameters(self) -> int | None:
        return self.architecture.get("trainable_parameters")

    @property
    def summary(self) -> str:
        """Keras' layer-by-layer summary, as text ("" when the card has none)."""
        return self.architecture.get("summary") or ""

    @property
    def dataset(self) -> str | None:
        """The dataset it was trained on (``datasets.DATASETS``)."""
        return self.data.get("dataset")

    @property
    def temperature_section(self) -> dict | None:
        """``calibration.temperature``: T and its fit (``temperature.temperature_section``), or None."""
        section = (self.calibration or {}).get("temperature")
        return section if isinstance(section, dict) else None

    # ---------------------------------------------------------------- the one builder, and what derives from it

    @classmethod
    def trained(
        cls,
        spec,
        data,
        *,
        parameters: int,
        summary: str,
        hyperparameters: dict,
        history: dict,
        seconds: float,
        n_train: int,
        n_val: int,
        versions: dict,
    ) -> ModelCard:
        """The card of a training run of ``spec`` (``registry.ModelSpec``) on ``data`` (``datasets.Dataset``),
        before it is scored (``scored``): no test metrics and no command yet."""
        return cls(
            name=spec.name,
            architecture={
                "name": spec.name,
                "kind": spec.kind,
                "description": spec.description,
                "parameters": int(parameters),
                "summary": summary,
            },
            data={
                "dataset": data.name,
                "description": data.description,
                "sources": [Path(s).name for s in data.sources],
                "partition": data.counts(),
                "used": {"train": int(n_train), "validation": int(n_val), "test": len(data.y_test)},
                "classes": list(data.label_map.names),
            },
            hyperparameters=dict(hyperparameters),
            history=dict(history),
            training_seconds=round(seconds, 1),
            versions=dict(versions),
            date=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def scored(self, reports: Mapping[str, dict], **fields) -> ModelCard:
        """This card with the headline numbers of ``reports`` (``evaluation.model_reports``: ``""`` its test part,
        ``DRAWN`` drawn input), the one way a card's metrics are made; ``fields``: more to set (``updated``)."""
        metrics = {"test_metrics": _pick(reports[""], CARD_METRICS)}
        if DRAWN in reports:
            metrics["drawn_test_metrics"] = _pick(reports[DRAWN], DRAWN_CARD_METRICS)
        return self.updated(**metrics, **fields)

    def fine_tuned(
        self,
        name: str,
        parameters: int,
        source: tuple[str, str],
        source_card: ModelCard,
        reports,
        fine_tuning: dict,
        keeps_correction: bool,
        temperature: dict | None = None,
    ) -> ModelCard:
        """The card of a fine-tune (this card: its training run's) of a saved model, ``source`` = (its name, its
        file's name): scored on ``reports``, no command (made in the app: ``fine_tuning`` says how), where it came
        from, the source's class-prior correction's fit when that correction was put back (``keeps_correction``),
        and ``temperature``, the section fitted for the new weights. Never the source's temperature: a T fits the
        weights it was fitted on, and its reliability figures describe those."""
        calibration = {}
        if keeps_correction and source_card.calibration is not None:
            calibration = {
                **{k: v for k, v in source_card.calibration.items() if k != "temperature"},
                "note": "the source model's class-prior correction, put back unchanged over the fine-tuned weights",
            }
        if temperature is not None:
            calibration["temperature"] = temperature
        return self.scored(
            reports,
            name=name,
            architecture={**self.architecture, "parameters": int(parameters)},
            command=None,
            fine_tuned_from={
                "model": source[0],
                "file": source[1],
                "date": source_card.date,
                "test_metrics": source_card.test_metrics,
                "drawn_test_metrics": source_card.drawn_test_metrics,
            },
            fine_tuning=fine_tuning,
            calibration=calibration or None,
        )

    def prior_corrected(
        self, name: str, calibration: dict, parameters: int, reports, command: str, derived_from: dict | None = None
    ) -> ModelCard:
        """The card of this model with a class-prior correction (``calibrate``): its fit (``calibration``), the
        scores before (``uncalibrated_*``) and after (``reports``), and the command chained to this card's own
        (alone when this card has none: a model made in the app). ``derived_from``: set for a card that reuses
        this model's weights; None for a full copy."""
        uncalibrated = {"uncalibrated_test_metrics": self.test_metrics}
        if DRAWN in reports:
            uncalibrated["uncalibrated_drawn_test_metrics"] = self.drawn_test_metrics
        return self.scored(
            reports,
            name=name,
            calibration=calibration,
            **uncalibrated,
            command=" && ".join(c for c in (self.command, command) if c),
            architecture={**self.architecture, "parameters": int(parameters)},
            derived_from=derived_from,
        )

    def with_temperature(self, section: dict) -> ModelCard:
        """This card with a temperature fit (``temperature.temperature_section``) beside its other calibration."""
        return self.updated(calibration={**(self.calibration or {}), "temperature": section})

    def updated(self, **fields) -> ModelCard:
        """A copy with ``fields`` set: a card's own sections by name, any other key into ``extra``."""
        known = {f.name for f in dataclasses.fields(self)} - {"extra"}
        extra = {k: v for k, v in fields.items() if k not in known}
        mine = {k: v for k, v in fields.items() if k in known}
        return dataclasses.replace(self, **mine, extra={**self.extra, **extra})

    # ---------------------------------------------------------------- JSON

    @classmethod
    def from_json(cls, data) -> ModelCard:
        """A card from its JSON object; CardError when it is not one (a section of the wrong type)."""
        if not isinstance(data, Mapping):
            raise CardError(f"a model card is a JSON object, not {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
        values, extra = {}, {}
        for key, value in data.items():
            if key not in fields:
                extra[key] = value
            elif value is not None:
                values[key] = _checked(key, value, fields[key].type)
        return cls(**values, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """The card as its JSON object: the sections in their usual order, optional ones only when set, then
        ``extra``'s keys."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "extra" and (value is not None or f.name in _ALWAYS):
                out[f.name] = value
        return {**out, **self.extra}


def _pick(report: dict, keys) -> dict:
    return {k: report[k] for k in keys if k in report}


# JSON types each section may hold (the dataclass annotations, as strings under ``from __future__``).
_JSON_TYPES = {"dict": dict, "str": str, "float": (int, float)}


def _checked(key: str, value, annotation: str):
    wanted = _JSON_TYPES[annotation.split(" |")[0]]
    if not isinstance(value, wanted) or isinstance(value, bool):
        raise CardError(f"the card's {key!r} is a {type(value).__name__}, not a {annotation.split(' |')[0]}")
    return value
