"""The Draw tab's verdict: the sentence under the two models' top-5, built from their guesses alone.

``app.verdict`` takes what ``Predictor.predict_drawing`` returns, {model slot: [(class, probability), ...]}
best first, so each branch is tried here with plain values, no drawing and no model.
"""

import pytest

from emnist_core.labels import LOOKALIKE_GROUPS

FILLER = [("K", 0.02), ("X", 0.01), ("M", 0.005)]  # low guesses of classes in no look-alike group


def top(*guesses):
    """A top-5, best first: the guesses given, then low ones of unrelated classes."""
    return [*guesses, *FILLER][:5]


def note_for(a: str, b: str) -> str:
    return next(note for group, note in LOOKALIKE_GROUPS if a in group and b in group)


@pytest.fixture(scope="module")
def verdict(app_module):
    return app_module.verdict


def test_both_models_agree(verdict):
    text = verdict({"mlp": top(("7", 0.9), ("T", 0.05)), "cnn": top(("7", 0.8), ("Y", 0.15))})
    assert text == "**Both models read 7** (MLP 90%, CNN 80%)."


def test_the_models_disagree(verdict):
    text = verdict({"mlp": top(("A", 0.6), ("H", 0.2)), "cnn": top(("H", 0.7), ("A", 0.2))})
    assert text == "**The models disagree:** the MLP reads **A** (60%), the CNN reads **H** (70%)."


def test_a_lookalike_second_guess_adds_its_note(verdict):
    text = verdict({"mlp": top(("O", 0.7), ("0", 0.25)), "cnn": top(("O", 0.8), ("C", 0.1))})
    assert text == f"**Both models read O** (MLP 70%, CNN 80%).\n\n{note_for('O', '0')}"


def test_models_that_disagree_on_lookalikes_get_the_note(verdict):
    text = verdict({"mlp": top(("O", 0.55), ("C", 0.3)), "cnn": top(("0", 0.5), ("8", 0.2))})
    assert text == (f"**The models disagree:** the MLP reads **O** (55%), the CNN reads **0** (50%).\n\n"
                    f"{note_for('O', '0')}")


def test_each_models_best_guess_counts_however_unsure(verdict):
    text = verdict({"mlp": top(("S", 0.09), ("E", 0.08)), "cnn": top(("5", 0.07), ("E", 0.06))})
    assert text.endswith(f"\n\n{note_for('S', '5')}")


def test_a_second_guess_counts_from_the_note_threshold_up(app_module, verdict):
    at, under = app_module.NOTE_MIN_PROB, app_module.NOTE_MIN_PROB * 0.99
    counted = verdict({"mlp": top(("Z", 0.6), ("2", at)), "cnn": top(("Z", 0.7), ("7", 0.2))})
    assert counted.endswith(f"\n\n{note_for('Z', '2')}")
    ignored = verdict({"mlp": top(("Z", 0.6), ("2", under)), "cnn": top(("Z", 0.7), ("7", 0.2))})
    assert ignored == "**Both models read Z** (MLP 60%, CNN 70%)."


def test_a_third_guess_never_brings_a_note(verdict):
    text = verdict({"mlp": top(("B", 0.4), ("R", 0.3), ("8", 0.29)), "cnn": top(("B", 0.5), ("E", 0.3), ("8", 0.2))})
    assert text == "**Both models read B** (MLP 40%, CNN 50%)."


def test_no_note_for_guesses_of_different_groups(verdict):
    # O and 2 each have look-alikes, but not each other.
    text = verdict({"mlp": top(("O", 0.5), ("2", 0.4)), "cnn": top(("O", 0.6), ("2", 0.3))})
    assert text == "**Both models read O** (MLP 50%, CNN 60%)."


@pytest.mark.parametrize("slot, name, other", [("mlp", "MLP", "CNN"), ("cnn", "CNN", "MLP")])
def test_one_model_alone_says_which_is_missing(verdict, slot, name, other):
    text = verdict({slot: top(("7", 0.9), ("1", 0.05))})
    assert text == f"**The {name} reads 7** (90%); no {other} is available on this server."


def test_no_model_at_all(app_module, verdict):
    assert verdict({}) == app_module.NO_MODEL_MESSAGE
