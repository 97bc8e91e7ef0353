"""A model made by a job (trained or fine-tuned) is served with a temperature fitted for its own weights on images it
was not trained on, and its card's calibration figures and "not sure" threshold are its own; the Models tab's card
quotes the same calibration error as its figure, and opens in plain words before any technical detail."""

import multiprocessing
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emnist_core.data.datasets import Dataset
from emnist_core.data.labels import label_map
from emnist_core.lab import cards, job_process, live
from emnist_core.lab.corrections import CorrectionStore
from emnist_core.lab.figures import reliability_figure
from emnist_core.lab.own_temperature import MEASURED_FOR
from emnist_core.lab.verdict import NOT_SURE
from emnist_core.models import store
from emnist_core.models.evaluation import DRAWN, predict_probabilities
from emnist_core.models.temperature import apply_temperature, fit_temperature, reliability, temperature_section
from emnist_core.training.config import TrainConfig

from conftest import l_shapes, synthetic

SOURCE_T = 3.0  # the source model's T: far from any fit of these tiny models
TAU = 0.5  # the source's class-prior correction
NOISE = 0.2  # share of the synthetic labels swapped for the other class's
NOISE_SEED = 1  # a stream of its own: l_shapes' seed would tie the swaps to what the images look like
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TOPS = {"mlp": [("2", 0.61), ("Z", 0.3)], "cnn": [("Z", 0.52), ("2", 0.4)]}
JOB_SECONDS = 120
# What a teacher cannot use, and the card's technical details hold: none of it may open a card.
JARGON = ("pool47", "unipen", "AdamW", "label smoothing", "Dense", "Conv2D", "Param #", "batch norm", "optimizer")
JARGON_CASED = ("BAD",)  # as the UNIPEN data's description writes it ("bad" is a plain word)
PERCENT = r"(\d+\.\d)%"


def two_shapes(name: str, seed: int, n_train: int, n_other: int) -> Dataset:
    """``conftest.synthetic``'s two classes, each part drawn with its own seed (no image in two parts), a share
    ``NOISE`` of each part's labels swapped: no model reads them all, so each has a temperature of its own to fit."""
    parts = []
    for i, n in enumerate((n_train, n_other, n_other)):
        x, y = synthetic(n, seed + i)
        swapped = np.random.default_rng([NOISE_SEED, seed + i]).random(n) < NOISE
        parts += [x, np.where(swapped, np.where(y == y[0], y[-1], y[0]), y)]
    return Dataset(name, label_map("bymerge"), *parts, "two shapes", [])


@pytest.fixture(scope="module")
def base():
    return two_shapes("pool47", 10, 1200, 200)


@pytest.fixture(scope="module")
def drawn():
    return two_shapes(DRAWN, 20, 600, 300)


@pytest.fixture(scope="module")
def source(base, tmp_path_factory):
    """A tiny seed-mlp with a class-prior correction, as the shipped models have (fine-tuning puts it back), whose
    card holds the correction's fit and a temperature of its own (``SOURCE_T``) with its reliability figures."""
    from emnist_core.models.calibration import training_log_prior, with_prior_correction
    from emnist_core.training.train import train

    result = train(TrainConfig(model="seed-mlp", epochs=2, batch_size=64), base)
    model = with_prior_correction(result.model, training_log_prior(base.y_train, base.num_classes), TAU)
    probs = predict_probabilities(model, base.x_val)
    section = {**temperature_section(probs, base.y_val, fitted_on="pool47 validation"), "T": SOURCE_T}
    card = result.card.updated(calibration={"tau": TAU, "temperature": section})
    return store.save_model(model, tmp_path_factory.mktemp("source") / "source.keras", card)


@pytest.fixture(scope="module")
def fine_tuned(source, base, drawn, tmp_path_factory):
    """``source`` fine-tuned on 12 corrections and saved, as a fine-tuning job saves it."""
    from emnist_core.lab.finetune import fine_tune

    folder = tmp_path_factory.mktemp("fine-tuned")
    corrections = CorrectionStore(folder / "corrections")
    for i, x in enumerate(l_shapes(12, 99)):
        corrections.add(x, "Z", TOPS, when=START + timedelta(minutes=i))
    result = fine_tune(source, corrections.load(), base, drawn, epochs=1, base_slice=1000, batch_size=64)
    return store.save_model(result.model, folder / "fine-tuned.keras", result.card("fine-tuned"), result.reports)


@pytest.fixture(scope="module")
def trained(base, drawn, tmp_path_factory):
    """A tiny seed-mlp trained by a training job (``job_process.main``, in a thread as the tests run it), with the
    drawn test set sent as the server sends it; its LiteRT export left out (it changes no card)."""
    path = tmp_path_factory.mktemp("trained") / "trained.keras"
    spec = job_process.JobSpec(
        job_process.TRAINING, path, base, config=TrainConfig(model="seed-mlp", epochs=2, batch_size=64).resolved()
    )
    ours, theirs = multiprocessing.Pipe()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(job_process, "_export", lambda path: None)
        job = threading.Thread(target=job_process.main, args=(theirs, spec), daemon=True)
        job.start()
        ours.send(("drawn", (drawn.x_test, drawn.y_test, None)))
        message = ("none",)
        while message[0] not in ("done", "error", "cancelled") and ours.poll(JOB_SECONDS):
            message = ours.recv()
        job.join(JOB_SECONDS)
    ours.close()
    assert message[0] == "done", message
    return path


def own_fit(path, x, y):
    """(T, probabilities) of the saved model at ``path`` on (x, y), fitted here from its own predictions."""
    probs = predict_probabilities(store.load_model(path), x)
    return fit_temperature(probs, y), probs


def served_temperature(path) -> float:
    """The T the server serves the model at ``path`` with: a live pair's, read from its card."""
    model = live.LiveModel("mlp", path.stem, path, store.load_model(path), store.load_card(path), None)
    return live.Pair.serving({"mlp": model}).predictor.temperatures["mlp"]


def assert_own_reliability(section, probs, y):
    """The section's figures (before and after scaling by its T) are those of ``probs``, its model's own."""
    for key, p in (("before", probs), ("after", apply_temperature(probs, section["T"]))):
        mine = reliability(p, y)
        assert section[key]["ece"] == pytest.approx(mine["ece"], abs=1e-4), key
        assert [b["count"] for b in section[key]["bins"]] == [b["count"] for b in mine["bins"]], key


def test_a_fine_tuned_model_is_served_with_a_temperature_fitted_on_drawn_characters_it_never_trained_on(
    fine_tuned, drawn
):
    card = store.load_card(fine_tuned)
    section = card.temperature_section
    temperature, _ = own_fit(fine_tuned, drawn.x_val, drawn.y_val)
    assert section["T"] != pytest.approx(SOURCE_T)
    assert section["T"] == pytest.approx(temperature, rel=1e-3)
    assert (section["fitted_on"], section["n"]) == (f"{DRAWN} validation", len(drawn.y_val))
    assert section["held_out"]["on"] == f"{DRAWN} test" and section["held_out"]["n"] == len(drawn.y_test)
    assert served_temperature(fine_tuned) == section["T"]


def test_a_fine_tuned_cards_reliability_figures_come_from_its_own_predictions(fine_tuned, source, drawn):
    section = store.load_card(fine_tuned).temperature_section
    _, probs = own_fit(fine_tuned, drawn.x_val, drawn.y_val)
    assert_own_reliability(section, probs, drawn.y_val)
    theirs = store.load_card(source).temperature_section
    assert section["before"] != theirs["before"] and section["fitted_on"] != theirs["fitted_on"]
    assert store.load_card(fine_tuned).calibration["tau"] == TAU  # the correction's own fit is kept with it


def test_a_trained_model_is_served_with_a_temperature_fitted_on_its_validation_part(trained, base, drawn):
    section = store.load_card(trained).temperature_section
    assert section is not None, "the training job saved no temperature in the card"
    temperature, probs = own_fit(trained, base.x_val, base.y_val)
    assert section["T"] == pytest.approx(temperature, rel=1e-3)
    assert (section["fitted_on"], section["n"]) == ("pool47 validation", len(base.y_val))
    assert_own_reliability(section, probs, base.y_val)
    assert section["held_out"]["on"] == f"{DRAWN} test" and section["held_out"]["n"] == len(drawn.y_test)
    assert served_temperature(trained) == section["T"]


@pytest.mark.parametrize("made", ["trained", "fine_tuned"])
def test_the_card_says_the_shipped_pairs_not_sure_threshold_is_used(made, request):
    path = request.getfixturevalue(made)
    card = store.load_card(path)
    sure = card.temperature_section["not_sure"]
    assert sure["threshold"] == NOT_SURE and sure["measured_for"] == MEASURED_FOR
    assert "shipped pair" in sure["measured_for"] and 0 <= sure["coverage"] <= 1
    text = cards.card_markdown(path.stem, path, card, None)
    assert f'"not sure" when it is under {NOT_SURE:.0%} sure, a threshold measured for the shipped pair' in text
    assert f"**Not sure below:** {NOT_SURE:.0%}, measured for {MEASURED_FOR}" in text


# ---------------------------------------------------------------- the Models tab's card


def shipped_and_made(fine_tuned, trained) -> list[Path]:
    return [store.resolve_model_path(n) for n in (*store.ALIASES.values(), "seed-mlp", "seed-cnn")] + [
        fine_tuned,
        trained,
    ]


def test_the_cards_words_quote_the_calibration_error_its_figure_shows(fine_tuned, trained):
    calibrated = 0
    for path in shipped_and_made(fine_tuned, trained):
        card = store.load_card(path)
        if card.temperature_section is None:
            continue
        calibrated += 1
        text = cards.card_markdown(path.stem, path, card, None)
        legend = [line.get_label() for line in reliability_figure(card.calibration).axes[0].get_lines()[1:]]
        shown = [re.search(rf"ECE {PERCENT}", label)[1] for label in legend]  # before, after
        plain = re.search(rf"went from {PERCENT} to {PERCENT} \(the figure", text)
        technical = re.search(rf"calibration error \(ECE\) {PERCENT} to {PERCENT} there, as in the figure", text)
        assert plain and list(plain.groups()) == shown, (path.name, text, legend)
        assert technical and list(technical.groups()) == shown, (path.name, text, legend)
    assert calibrated >= 4  # the shipped pair and both made here


def test_a_shown_card_opens_in_plain_words_and_keeps_the_details_after(fine_tuned, trained):
    from ui import models

    for path in shipped_and_made(fine_tuned, trained):
        reports = [store.read_report(store.report_path(path, key)) for key in ("", DRAWN)]
        shown = SimpleNamespace(
            title=f"MLP · {path.stem}", name=path.stem, path=path, card=store.load_card(path), report=reports[0]
        )
        lab = SimpleNamespace(
            models=SimpleNamespace(get=lambda slot, shown=shown: shown),
            figures=SimpleNamespace(png=lambda *a, **k: b""),
        )
        shown.drawn_report = reports[1]
        text, _, _ = models.model_card(lab, "mlp")
        opening, technical = text.split(cards.TECHNICAL)
        words = [w for w in JARGON if w.lower() in opening.lower()] + [w for w in JARGON_CASED if w in opening]
        assert not words, f"{path.name}: the card opens with {words}:\n{opening}"
        assert "**How it was made:**" in opening and "**How sure it is:**" in opening, opening
        assert "**How often it is right:**" in opening, opening
        assert "Parameters:" in technical and "**Data:**" in technical
