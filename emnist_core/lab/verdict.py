"""The Draw tab's verdict: one short Markdown text under the two models' guesses, built from those guesses alone.

``verdict(tops)`` takes what ``Predictor.predict_drawing`` returns, {model slot: [(class, probability), ...]}
best first, with the probabilities already temperature-calibrated (``temperature.apply_temperature`` with
the T in each model's card), so that "70%" means right about seven times in ten. It says:

- what the models read, and whether they agree;
- **Not sure:** and the two or three classes in question, when either model's top probability is under
  ``NOT_SURE`` or the models disagree: a wrong answer said with confidence teaches a child the wrong thing;
- a note on look-alike classes (``labels.LOOKALIKE_GROUPS``) when the top guesses fall in one group.

Class names are shown with ``labels.display_name``, so "O / o (letter)" and "0 (zero)" read apart in any font.
A mark too small to be a character never gets here: ``preprocess`` refuses it with "draw it bigger".
Plain text and Markdown only: no Gradio, no model.
"""

from __future__ import annotations

from emnist_core.data.labels import DOUBT_MAX, LESSONS, display_name, doubt_label, lesson_classes, lookalike_note
from emnist_core.models.registry import SLOTS

# A calibrated top probability under this, from either model, makes the verdict "Not sure". Chosen on the
# drawn characters' validation split (UNIPEN writers, 10,802 drawings) with the shipped pair and the T in
# their cards: it is the lowest threshold at which the answers called sure (both models agree, both at or
# above it) are right 95% of the time (95.6%; 68.5% of drawings answered sure, the rest "not sure"; 0.70 gave
# 94.9%). On the drawn test split the same threshold gives 97.4% right on 75.0% answered. Measured by
# ``python tools/verdict_threshold.py``, which prints the whole table.
NOT_SURE = 0.75
NOTE_MIN_PROB = 0.10  # a second guess this likely counts when looking for look-alikes or candidates
MAX_CANDIDATES = DOUBT_MAX  # "Not sure: O, 0 or D?" names at most this many classes
OUTSIDE_MIN_PROB = 0.5  # read among all classes, a drawing this likely outside the lesson gets the hint
NO_MODEL_MESSAGE = "No model could be loaded on this server: see the note at the top of the page."


def is_sure(tops) -> bool:
    """Every model's calibrated top probability reaches ``NOT_SURE``, and they all read the same class."""
    return (
        bool(tops)
        and all(top[0][1] >= NOT_SURE for top in tops.values())
        and len({top[0][0] for top in tops.values()}) == 1
    )


def candidates(tops, limit: int = MAX_CANDIDATES) -> list[str]:
    """The classes the models hesitate between, most likely first (mean probability over the models).

    Each model's best guess always counts; second guesses count from ``NOTE_MIN_PROB`` up, while there is
    room. When that leaves one class, the next most likely joins it: "not sure" needs an alternative.
    """
    score: dict[str, float] = {}
    for top in tops.values():
        for name, p in top:
            score[name] = score.get(name, 0.0) + p / len(tops)
    by_score = lambda names: sorted(names, key=lambda n: -score[n])
    firsts = by_score(dict.fromkeys(top[0][0] for top in tops.values()))
    seconds = by_score(
        dict.fromkeys(
            name for top in tops.values() for name, p in top[1:2] if p >= NOTE_MIN_PROB and name not in firsts
        )
    )
    picked = firsts + seconds[: max(0, limit - len(firsts))]
    if len(picked) < 2:
        picked += [name for name in by_score(score) if name not in picked][:1]
    return by_score(picked)


def not_sure_line(tops) -> str:
    return f"**Not sure:** {doubt_label(candidates(tops))}"


def verdict(tops) -> str:
    """{slot: top-k of calibrated (class, probability), best first} -> the verdict in Markdown."""
    if len(tops) < len(SLOTS):
        return lone_verdict(tops)
    (mlp, p_mlp), (cnn, p_cnn) = tops["mlp"][0], tops["cnn"][0]
    if mlp == cnn:
        text = f"**Both models read {display_name(mlp)}** (MLP {p_mlp:.0%}, CNN {p_cnn:.0%})."
    else:
        text = (
            f"**The models disagree:** the MLP reads **{display_name(mlp)}** ({p_mlp:.0%}), "
            f"the CNN reads **{display_name(cnn)}** ({p_cnn:.0%})."
        )
    if not is_sure(tops):
        text = f"{not_sure_line(tops)}\n\n{text}"
    guesses = dict.fromkeys(
        name for top in tops.values() for rank, (name, p) in enumerate(top[:2]) if rank == 0 or p >= NOTE_MIN_PROB
    )
    note = lookalike_note(list(guesses))
    return f"{text}\n\n{note}" if note else text


def lone_verdict(tops) -> str:
    """The verdict when a shipped model failed to load and its slot is empty."""
    if not tops:
        return NO_MODEL_MESSAGE
    ((slot, top),) = tops.items()
    missing = ", ".join(SLOTS[s] for s in SLOTS if s not in tops)
    text = (
        f"**The {SLOTS[slot]} reads {display_name(top[0][0])}** ({top[0][1]:.0%}); "
        f"no {missing} is available on this server."
    )
    return text if is_sure(tops) else f"{not_sure_line(tops)}\n\n{text}"


def outside_lesson_note(everywhere, lesson: str) -> str | None:
    """A hint for a drawing the models are not sure of within ``lesson``, where, read among all classes, every
    model reads one class outside the lesson (an "A" drawn in the Digits lesson): ``everywhere`` is that reading,
    {slot: top-k among all classes}. None when the drawing may well belong to the lesson."""
    within = set(lesson_classes(lesson))
    firsts = {top[0][0] for top in everywhere.values() if top}
    if len(firsts) != 1 or len(everywhere) < len(SLOTS):
        return None
    (name,) = firsts
    if name in within or any(top[0][1] < OUTSIDE_MIN_PROB for top in everywhere.values()):
        return None
    return (
        f"**Not in this lesson?** Among all characters both models read **{display_name(name)}**; the lesson "
        f"*{LESSONS[lesson]}* reads only its own classes. Draw one of them, or choose *{LESSONS['all']}*."
    )
