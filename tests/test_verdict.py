"""The Draw tab's verdict: the sentence under the two models' top-5, built from their guesses alone.

``emnist_core.lab.verdict.verdict`` takes what ``Predictor.predict_drawing`` returns, {model slot: [(class,
probability), ...]} best first (probabilities calibrated), so each branch is tried here with plain values, no
drawing and no model.
"""

import pytest

from emnist_core.data.labels import LOOKALIKE_GROUPS
from emnist_core.lab import verdict as verdict_module
from emnist_core.lab.verdict import MAX_CANDIDATES, NO_MODEL_MESSAGE, NOT_SURE, NOTE_MIN_PROB, candidates

FILLER = [("K", 0.02), ("X", 0.01), ("M", 0.005)]  # low guesses of classes in no look-alike group


def top(*guesses):
    """A top-5, best first: the guesses given, then low ones of unrelated classes."""
    return [*guesses, *FILLER][:5]


def note_for(a: str, b: str) -> str:
    return next(note for group, note in LOOKALIKE_GROUPS if a in group and b in group)


@pytest.fixture(scope="module")
def verdict():
    return verdict_module.verdict


def test_both_models_agree(verdict):
    text = verdict({"mlp": top(("7", 0.9), ("T", 0.05)), "cnn": top(("7", 0.8), ("Y", 0.15))})
    assert text == "**Both models read 7** (MLP 90%, CNN 80%)."


def test_the_models_disagree(verdict):
    # Disagreeing models are never sure; H leads the candidates on mean probability (0.45 against A's 0.40).
    text = verdict({"mlp": top(("A", 0.6), ("H", 0.2)), "cnn": top(("H", 0.7), ("A", 0.2))})
    assert text == (
        "**Not sure:** H or A?\n\n**The models disagree:** the MLP reads **A** (60%), the CNN reads **H** (70%)."
    )


def test_a_lookalike_second_guess_adds_its_note(verdict):
    text = verdict({"mlp": top(("O", 0.85), ("0", 0.12)), "cnn": top(("O", 0.8), ("C", 0.1))})
    assert text == f"**Both models read O / o (letter)** (MLP 85%, CNN 80%).\n\n{note_for('O', '0')}"


def test_models_that_disagree_on_lookalikes_get_the_note(verdict):
    text = verdict({"mlp": top(("O", 0.55), ("C", 0.3)), "cnn": top(("0", 0.5), ("8", 0.2))})
    assert text == (
        "**Not sure:** O / o (letter), 0 (zero) or C / c?\n\n"
        "**The models disagree:** the MLP reads **O / o (letter)** (55%), the CNN reads **0 (zero)** (50%)."
        f"\n\n{note_for('O', '0')}"
    )


def test_each_models_best_guess_counts_however_unsure(verdict):
    text = verdict({"mlp": top(("S", 0.09), ("E", 0.08)), "cnn": top(("5", 0.07), ("E", 0.06))})
    assert text.endswith(f"\n\n{note_for('S', '5')}")


def test_a_second_guess_counts_from_the_note_threshold_up(verdict):
    at, under = NOTE_MIN_PROB, NOTE_MIN_PROB * 0.99
    counted = verdict({"mlp": top(("Z", 0.8), ("2", at)), "cnn": top(("Z", 0.75), ("7", 0.2))})
    assert counted.endswith(f"\n\n{note_for('Z', '2')}")
    ignored = verdict({"mlp": top(("Z", 0.8), ("2", under)), "cnn": top(("Z", 0.75), ("7", 0.2))})
    assert ignored == "**Both models read Z / z** (MLP 80%, CNN 75%)."


def test_a_third_guess_never_brings_a_note(verdict):
    text = verdict({"mlp": top(("B", 0.75), ("R", 0.13), ("8", 0.12)), "cnn": top(("B", 0.8), ("E", 0.1), ("8", 0.09))})
    assert text == "**Both models read B** (MLP 75%, CNN 80%)."


def test_no_note_for_guesses_of_different_groups(verdict):
    # O and 2 each have look-alikes, but not each other.
    text = verdict({"mlp": top(("O", 0.75), ("2", 0.2)), "cnn": top(("O", 0.8), ("2", 0.15))})
    assert text == "**Both models read O / o (letter)** (MLP 75%, CNN 80%)."


@pytest.mark.parametrize("slot, name, other", [("mlp", "MLP", "CNN"), ("cnn", "CNN", "MLP")])
def test_one_model_alone_says_which_is_missing(verdict, slot, name, other):
    text = verdict({slot: top(("7", 0.9), ("1", 0.05))})
    assert text == f"**The {name} reads 7** (90%); no {other} is available on this server."


def test_no_model_at_all(verdict):
    assert verdict({}) == NO_MODEL_MESSAGE


# ---------------------------------------------------------------- not sure


def test_agreeing_models_that_are_unsure_say_so_first(verdict):
    text = verdict({"mlp": top(("S", 0.5), ("5", 0.4)), "cnn": top(("S", 0.6), ("5", 0.3))})
    assert (
        text == f"**Not sure:** S / s or 5?\n\n**Both models read S / s** (MLP 50%, CNN 60%).\n\n{note_for('S', '5')}"
    )


@pytest.mark.parametrize("unsure", ["mlp", "cnn"])
def test_sure_from_the_threshold_up_for_each_model(verdict, unsure):
    def tops(p):
        return {slot: top(("7", p if slot == unsure else 0.95), ("T", 0.03)) for slot in ("mlp", "cnn")}

    assert not verdict(tops(NOT_SURE)).startswith("**Not sure")
    assert verdict(tops(NOT_SURE - 0.005)).startswith("**Not sure:** 7 or T?\n\n**Both models read 7**")


def test_disagreement_is_never_sure_however_confident(verdict):
    text = verdict({"mlp": top(("4", 0.99)), "cnn": top(("9", 0.99))})
    assert text.startswith("**Not sure:** 4 or 9?\n\n**The models disagree:**")


def test_the_lone_model_says_when_it_is_unsure(verdict):
    text = verdict({"cnn": top(("1", 0.45), ("I", 0.4))})
    assert text == (
        "**Not sure:** 1 (one) or I / i (letter)?\n\n"
        "**The CNN reads 1 (one)** (45%); no MLP is available on this server."
    )


def test_candidates_are_the_best_guesses_and_likely_seconds_most_likely_first():
    # Both best guesses always count, however low; second guesses fill the room that is left, and all are
    # ordered by mean probability over the models (0 0.20, D 0.175, O 0.15; Q 0.125 is left out).
    tops = {"mlp": top(("O", 0.3), ("Q", 0.25)), "cnn": top(("0", 0.4), ("D", 0.35))}
    assert candidates(tops) == ["0", "D", "O"] and len(candidates(tops)) == MAX_CANDIDATES
    assert candidates(tops, limit=2) == ["0", "O"]
    # One best guess and no second guess worth a note: the next most likely class still joins it.
    assert candidates({"mlp": top(("W", 0.5), ("E", 0.05)), "cnn": top(("W", 0.6), ("F", 0.04))}) == ["W", "E"]
