import numpy as np
import pytest

from emnist_core.data.labels import LOOKALIKE_GROUPS, byclass_to_bymerge, label_map, lookalike_note, to_bymerge


@pytest.mark.parametrize(
    "split, n, first, last",
    [
        ("bymerge", 47, "0", "t"),
        ("balanced", 47, "0", "t"),
        ("byclass", 62, "0", "z"),
        ("letters", 26, "Aa", "Zz"),
        ("digits", 10, "0", "9"),
        ("mnist", 10, "0", "9"),
    ],
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
    assert display_name("O") == "O / o (letter)" and display_name("0") == "0 (zero)"
    assert display_name("1") == "1 (one)" and display_name("L") == "L / l (letter)"


def test_merged_classes_show_both_cases_and_the_rest_as_they_are():
    from emnist_core.data.labels import MERGED_LOWERCASE, display_name

    names = label_map("bymerge").names
    merged = [n for n in names if n.lower() in MERGED_LOWERCASE]
    assert len(merged) == 15
    assert all(display_name(n).startswith(f"{n} / {n.lower()}") for n in merged)
    assert display_name("C") == "C / c" and display_name("I") == "I / i (letter)"
    plain = [n for n in names if n not in merged and n not in "01"]
    assert [display_name(n) for n in plain] == plain  # "a", "b", "A", "7" ...
    assert display_name("not a class") == "not a class"
    assert len({display_name(n) for n in names}) == len(names)


def test_doubt_label_asks_between_the_classes_most_likely_first():
    from emnist_core.data.labels import doubt_label

    assert doubt_label(["0", "O"]) == "0 (zero) or O / o (letter)?"
    assert doubt_label(["1", "L", "1"]) == "1 (one) or L / l (letter)?"
    assert doubt_label(["O", "0", "D", "Q"]) == "O / o (letter), 0 (zero) or D?"  # three at most
    with pytest.raises(ValueError):
        doubt_label([])


@pytest.mark.parametrize(
    "typed, name",
    [
        ("q", "q"),
        ("Q", "Q"),
        ("c", "C"),
        ("C", "C"),
        (" o ", "O"),
        ("C / c", "C"),
        ("0 (zero)", "0"),
        ("L / l (letter)", "L"),
        ("a", "a"),
    ],
)
def test_typed_classes_match_case_exactly_where_both_cases_are_classes(typed, name):
    from emnist_core.data.labels import class_from_text

    assert class_from_text(typed, label_map("bymerge").names) == name


@pytest.mark.parametrize("typed", ["", "?", "qq", "zero", "c / C"])
def test_typed_text_that_is_no_class_is_none(typed):
    from emnist_core.data.labels import class_from_text

    assert class_from_text(typed, label_map("bymerge").names) is None


def test_lessons_and_their_classes():
    from emnist_core.data.labels import LESSONS, check_lesson, lesson_classes, lesson_indices

    assert list(LESSONS) == ["all", "digits", "letters", "upper"]
    assert "".join(lesson_classes("digits")) == "0123456789"
    assert "".join(lesson_classes("upper")) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # a capital C is class C
    assert "".join(lesson_classes("letters")) == "ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"
    assert lesson_classes("all") == label_map("bymerge").names
    assert lesson_indices("digits") == tuple(range(10))
    assert check_lesson(None) == check_lesson("") == check_lesson("all") == "all"
    assert check_lesson(" Digits ") == "digits"
    with pytest.raises(ValueError, match="choose one of all, digits, letters, upper"):
        check_lesson("kanji")


def test_class_sections():
    from emnist_core.data.labels import class_section

    assert [class_section(n) for n in ("7", "C", "A", "a", "t")] == ["digits", "upper", "upper", "lower", "lower"]


def test_one_merge_rule_for_byclass_files_unipen_labels_and_typed_classes():
    from emnist_core.data.labels import merged_name
    from emnist_core.data.unipen import bymerge_class
    from emnist_core.models.evaluation import class_name

    byclass, bymerge = label_map("byclass"), label_map("bymerge")
    merged = byclass_to_bymerge(np.arange(byclass.num_classes))
    for label, name in zip(byclass.indices, byclass.names):
        expected = bymerge.names[merged[label]]
        assert merged_name(name) == expected == bymerge.names[bymerge_class(name)] == class_name(name, bymerge.names)
    assert sum(merged_name(n) != n for n in byclass.names) == byclass.num_classes - bymerge.num_classes  # 15 fold
    assert [merged_name(text) for text in ("ij", "", "O", "7")] == ["ij", "", "O", "7"]  # single letters only
