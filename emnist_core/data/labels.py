"""EMNIST label maps: the one place that knows which index means which character.

The official mapping files ship inside the package (``emnist_core/mappings``), so a label
map is always available, even on a machine with no dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

SPLITS = ("balanced", "bymerge", "byclass", "letters", "digits", "mnist")

# ByMerge folds these lower-case letters into their upper-case class because the two cases
# look alike when handwritten (Cohen et al. 2017).
MERGED_LOWERCASE = "cijklmopsuvwxyz"


def merged_name(name: str) -> str:
    """The merge rule, the one place it is written: a lower-case letter that ByMerge folds into its capital
    ("o") is named as that capital ("O"); any other name ("a", "O", "7", "ab") stays as it is."""
    return name.upper() if len(name) == 1 and name in MERGED_LOWERCASE else name


# Classes that handwriting makes hard to tell apart. The app uses these notes to explain a
# prediction whose top guesses fall in one group.
LOOKALIKE_GROUPS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("O", "0", "D", "Q"),
        "The letter O, the digit 0 (zero), D and Q are often confused: a round loop is "
        "drawn for all of them; a zero is usually narrower, a D has a straight left side, a Q a tail.",
    ),
    (("Z", "2"), "Z and 2 are often confused: a 2 has a curved top, a Z a straight one."),
    (("S", "5"), "S and 5 are often confused: a 5 has a flat top stroke and a corner."),
    (
        ("I", "1", "L", "T"),
        "The letter I (i), the digit 1 (one), L and T are often confused: a single "
        "vertical stroke fits all of them; serifs, a foot or a top bar tell them apart.",
    ),
    (
        ("g", "9", "q"),
        "g, 9 and q are often confused: all are a loop with a descender; a g's tail "
        "curls left, a q's goes straight down.",
    ),
    (("B", "8"), "B and 8 are often confused: a B has a straight left side."),
    (("G", "6"), "G and 6 are often confused: a 6 closes its loop at the bottom."),
    (("U", "V"), "U and V are often confused: a V has a sharp bottom point."),
    (("Y", "4"), "Y and 4 are often confused when the 4 is drawn open."),
    (("b", "6"), "b and 6 are often confused: a b has a straight tall stem."),
    (("a", "d"), "a and d are often confused: a d's stem rises above the bowl."),
    (("F", "f"), "F and f are often confused: an f's top is curved."),
    (("n", "h"), "n and h are often confused: an h's left stem is tall."),
    (("r", "t"), "r and t are often confused when the t's cross bar is short."),
    (("A", "4"), "A and 4 are often confused when the A is drawn with an open top."),
)

# How the page names a class. ByMerge's 15 merged classes hold a capital and its lower-case letter, so they are
# shown with both ("C / c"): a pupil who drew a small c sees it named. Names that many screen fonts draw alike
# (O and 0 are one round glyph in most sans-serif fonts; I, 1 and l one vertical bar) get a plain word, so that
# each reads apart in any font ("0 (zero)", "O / o (letter)"). Every other class keeps its bare name ("a", "A");
# handwriting look-alikes (2/Z, 5/S ...) are explained by LOOKALIKE_GROUPS' notes instead.
LOOKALIKE_WORDS = {"0": "zero", "1": "one", "O": "letter", "I": "letter", "L": "letter"}


def _shown_name(name: str) -> str:
    both = f"{name} / {name.lower()}" if name.lower() in MERGED_LOWERCASE else name
    return f"{both} ({LOOKALIKE_WORDS[name]})" if name in LOOKALIKE_WORDS else both


DISPLAY_NAMES = {name: _shown_name(name) for name in (*MERGED_LOWERCASE.upper(), *LOOKALIKE_WORDS)}
DOUBT_MAX = 3  # the "not sure" answer names at most this many classes: more is no answer at all


def display_name(name: str) -> str:
    """A class name as shown to people: "C / c" for a merged class, "0 (zero)" and "O / o (letter)" for the
    look-alikes on screen, else ``name``."""
    return DISPLAY_NAMES.get(name, name)


def spoken_list(names) -> str:
    """["O", "0", "D"] -> "O / o (letter), 0 (zero) or D"."""
    shown = [display_name(n) for n in names]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def doubt_label(names) -> str:
    """The big answer when the models are not sure: the classes in question as a question, most likely first
    (["0", "O"] -> "0 (zero) or O / o (letter)?"); at most ``DOUBT_MAX`` of them."""
    names = list(dict.fromkeys(names))[:DOUBT_MAX]
    if not names:
        raise ValueError("doubt_label needs at least one class name")
    return f"{spoken_list(names)}?"


# Lessons: what a teacher says is being drawn. Both models' probabilities are restricted to the lesson's
# classes (``serving.predictor``), which removes the ambiguity a lesson rules out (a bar in a digits lesson
# is a 1, never an l). "upper" holds the 26 capital classes, merged ones included: a capital C is class C.
LESSONS = {"all": "All characters", "digits": "Digits 0-9", "letters": "Letters", "upper": "Capital letters"}
DEFAULT_LESSON = "all"
LESSON_TESTS = {"all": lambda name: True, "digits": str.isdigit, "letters": str.isalpha, "upper": str.isupper}
# Sections of a report: digits, capital letters, lower-case letters (as UNIPEN files its drawn characters).
SECTIONS = ("digits", "upper", "lower")


def check_lesson(lesson) -> str:
    """A lesson as given by a caller (None or "" mean ``DEFAULT_LESSON``) -> its key; ValueError saying what
    the lessons are for anything else."""
    key = DEFAULT_LESSON if lesson is None or str(lesson).strip() == "" else str(lesson).strip().lower()
    if key not in LESSONS:
        raise ValueError(f"unknown lesson {str(lesson)[:20]!r}; choose one of {', '.join(LESSONS)}")
    return key


@cache
def lesson_indices(lesson: str = DEFAULT_LESSON, split: str = "bymerge") -> tuple[int, ...]:
    """Positions (0-based, as in a model's output) of the classes of ``split`` that ``lesson`` allows."""
    test = LESSON_TESTS[check_lesson(lesson)]
    picked = tuple(i for i, name in enumerate(label_map(split).names) if test(name))
    if not picked:
        raise ValueError(f"EMNIST {split} has no class in the {lesson} lesson; choose one of {', '.join(LESSONS)}")
    return picked


def lesson_classes(lesson: str = DEFAULT_LESSON, split: str = "bymerge") -> tuple[str, ...]:
    """The class names ``lesson`` allows, in label order ("digits" -> "0" ... "9")."""
    names = label_map(split).names
    return tuple(names[i] for i in lesson_indices(lesson, split))


def class_section(name: str) -> str:
    """The section a class belongs to: "digits", "upper" (the capital classes, merged ones included) or "lower"."""
    return "digits" if name.isdigit() else "upper" if name.isupper() else "lower"


def class_from_text(text, names) -> str | None:
    """A typed class -> its name in ``names``, or None. Case counts where both cases are classes ("q" is q, "Q"
    is Q); a merged lower-case letter means its class ("c" -> "C"); a shown name means its class ("C / c",
    "0 (zero)")."""
    text = str(text or "").strip()
    if text in names:
        return text
    if merged_name(text) in names:
        return merged_name(text)
    shown = {display_name(name): name for name in names}
    return shown.get(text)


@dataclass(frozen=True)
class LabelMap:
    """Index <-> display name for one EMNIST split."""

    split: str
    indices: tuple[int, ...]  # the label values as stored in the files
    names: tuple[str, ...]  # display name per label, same order as ``indices``

    @property
    def num_classes(self) -> int:
        return len(self.indices)

    @property
    def min_label(self) -> int:
        return self.indices[0]

    @property
    def max_label(self) -> int:
        return self.indices[-1]

    def name(self, label: int) -> str:
        return self.names[self.indices.index(int(label))]

    def index_of(self, name: str) -> int:
        """The label value for a display name ("O" -> 24 in ByMerge)."""
        try:
            return self.indices[self.names.index(name)]
        except ValueError:
            raise ValueError(
                f"{name!r} is not a class of EMNIST {self.split}; choose one of {' '.join(self.names)}"
            ) from None


def parse_mapping(text: str, split: str) -> LabelMap:
    """Parse an official mapping file: ``index char-code`` per line.

    The letters map has a third column (``index upper lower``): each class holds both cases,
    shown as "Aa".
    """
    indices, names = [], []
    for line_no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"mapping for {split}, line {line_no}: expected integers, got {line!r}") from None
        if len(numbers) < 2:
            raise ValueError(f"mapping for {split}, line {line_no}: expected 'index char-code', got {line!r}")
        indices.append(numbers[0])
        names.append("".join(chr(c) for c in numbers[1:]))
    if indices != sorted(indices) or len(set(indices)) != len(indices):
        raise ValueError(f"mapping for {split}: indices are not unique and increasing")
    return LabelMap(split=split, indices=tuple(indices), names=tuple(names))


@cache
def label_map(split: str = "bymerge") -> LabelMap:
    """The official label map of ``split`` (one of ``SPLITS``)."""
    if split not in SPLITS:
        raise ValueError(f"unknown EMNIST split {split!r}; choose one of {', '.join(SPLITS)}")
    text = resources.files("emnist_core").joinpath("mappings", f"emnist-{split}-mapping.txt").read_text()
    return parse_mapping(text, split)


def byclass_to_bymerge(labels):
    """Map ByClass labels (62 classes) to ByMerge labels (47) with the official merge rule."""
    import numpy as np

    byclass, bymerge = label_map("byclass"), label_map("bymerge")
    table = np.empty(byclass.num_classes, dtype=np.int64)
    for label, name in zip(byclass.indices, byclass.names):
        table[label] = bymerge.index_of(merged_name(name))
    return table[np.asarray(labels)]


def lookalike_note(names) -> str | None:
    """A note on the first look-alike group that holds two of ``names`` (top guesses)."""
    names = list(names)
    for group, note in LOOKALIKE_GROUPS:
        if sum(n in group for n in names) >= 2:
            return note
    return None


def to_bymerge(labels, split: str):
    """Labels of ``split`` -> ByMerge class indices (what the shipped models predict)."""
    import numpy as np

    labels = np.asarray(labels)
    if split in ("bymerge", "balanced", "digits", "mnist"):
        return labels.astype(np.int64)  # same indices: digits are 0-9 everywhere
    if split == "byclass":
        return byclass_to_bymerge(labels)
    raise ValueError(
        f"EMNIST {split} labels cannot be scored against the 47 ByMerge classes "
        "(each letters class mixes both cases); use bymerge, balanced, byclass, digits or mnist files"
    )
