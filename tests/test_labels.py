import numpy as np
import pytest

from emnist_core.data.labels import LOOKALIKE_GROUPS, byclass_to_bymerge, label_map, lookalike_note, to_bymerge


@pytest.mark.parametrize(
    "split, n, first, last",
    [("bymerge", 47, "0", "t"), ("balanced", 47, "0", "t"), ("byclass", 62, "0", "z"),
     ("letters", 26, "Aa", "Zz"), ("digits", 10, "0", "9"), ("mnist", 10, "0", "9")],
)
def test_official_maps(split, n, first, last):
    lm = label_map(split)
    assert lm.num_classes == n
    assert (lm.names[0], lm.names[-1]) == (first, last)


def test_bymerge_classes_and_letters_range():
    assert "".join(label_map("bymerge").names) == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"
    assert (label_map("letters").min_label, label_map("letters").max_label) == (1, 26)


def test_merge_rule_folds_lookalike_lowercase_into_uppercase():
    bc, bm = label_map("byclass"), label_map("bymerge")
    merged = byclass_to_bymerge(np.arange(62))
    names = [bm.names[i] for i in merged]
    assert names[bc.index_of("o")] == "O" and names[bc.index_of("c")] == "C"
    assert names[bc.index_of("a")] == "a" and names[bc.index_of("t")] == "t"
    assert names[:36] == list(bc.names[:36])


def test_to_bymerge_refuses_letters_with_a_reason():
    with pytest.raises(ValueError, match="letters"):
        to_bymerge([1, 2], "letters")


def test_lookalikes_are_real_classes_and_notes_fire():
    names = set(label_map("bymerge").names)
    for group, note in LOOKALIKE_GROUPS:
        assert set(group) <= names, group
        assert note
    assert "O" in lookalike_note(["O", "0", "Q"])
    assert lookalike_note(["A", "K", "x"]) is None


def test_unknown_names_say_what_to_do():
    with pytest.raises(ValueError, match="choose one of"):
        label_map("bymerge").index_of("?")
    with pytest.raises(ValueError, match="unknown EMNIST split"):
        label_map("kanji")


# Characters that many screen fonts draw with one glyph: a name must still read apart with them merged.
SAME_GLYPH = str.maketrans({"0": "O", "o": "O", "1": "I", "l": "I", "|": "I"})


@pytest.mark.parametrize("group", [("O", "0"), ("I", "1", "L")])
def test_lookalike_names_read_apart_in_any_font(group):
    from emnist_core.data.labels import display_name

    shown = [display_name(name) for name in group]
    assert len({text.translate(SAME_GLYPH) for text in shown}) == len(group), shown
    assert display_name("O") == "O (letter o)" and display_name("0") == "0 (zero)"


def test_other_names_are_shown_as_they_are():
    from emnist_core.data.labels import DISPLAY_NAMES, display_name

    names = label_map("bymerge").names
    assert set(DISPLAY_NAMES) <= set(names)
    assert [display_name(n) for n in names if n not in DISPLAY_NAMES] == [n for n in names if n not in DISPLAY_NAMES]
    assert display_name("7") == "7" and display_name("not a class") == "not a class"
