"""The opening of a model's card on the Models tab: what a teacher can use, in plain words, before any detail.

How it was made (one sentence), how often it is right, which characters it reads best and finds hardest, and how
sure it is (what its percentages mean, and when the Draw tab says "not sure"). Dataset names, optimizers, layer
tables and the like come after, in the card's technical details (``cards.card_markdown``). Plain text, no Gradio.
"""

from __future__ import annotations

from emnist_core.data.labels import display_name
from emnist_core.lab.verdict import NOT_SURE
from emnist_core.models.card import ModelCard
from emnist_core.models.evaluation import DRAWN
from emnist_core.models.temperature import ece_change

KIND_WORDS = {
    "mlp": "a multilayer perceptron, a network that weighs all 784 pixels of a drawing at once",
    "cnn": "a convolutional network, which looks for strokes and shapes through small windows slid across a drawing",
}
EXAMPLES = 3  # classes named as read best, hardest, and pairs most mixed up
MIN_SUPPORT = 20  # a class with fewer test images says little about how well it is read


def data_words(name: str | None) -> str:
    """A dataset's (or "NAME validation"'s) name as a teacher reads it: where its characters come from."""
    parts = [part for part in (name or "").split(" ")[0].split("+") if part]  # "pool47+unipen validation"
    drawn, scanned = DRAWN in parts, any(part != DRAWN for part in parts)
    if drawn and scanned:
        return "scanned handwritten characters and characters drawn with a pen"
    return "characters drawn with a pen" if drawn else "scanned handwritten characters (EMNIST)"


def made_line(card: ModelCard, shipped: bool) -> str:
    """How it was made, in one sentence."""
    kind = KIND_WORDS.get(card.kind or "", "a neural network")
    text = f"**How it was made:** {kind}, trained on {data_words(card.dataset)}"
    origin = card.fine_tuned_from or {}
    if origin.get("model"):
        n = ((card.fine_tuning or {}).get("corrections", {}).get("trained_on") or {}).get("n")
        return f"{text}, then fine-tuned on this server from {origin['model']} on {f'{n:,} ' if n else ''}corrections."
    return text + (", and shipped with the app." if shipped else ", on this server.")


def right_line(card: ModelCard, report: dict | None, drawn_report: dict | None) -> str | None:
    """How often it is right, on drawn characters first (what the app reads), then on scanned ones."""
    drawn, scanned = drawn_report or card.drawn_test_metrics or {}, report or card.test_metrics or {}
    parts = []
    if drawn.get("accuracy") is not None:
        parts.append(f"{drawn['accuracy']:.0%} of {drawn.get('n', 0):,} drawn characters by people it never saw")
    if scanned.get("accuracy") is not None:
        parts.append(f"{scanned['accuracy']:.0%} of {scanned.get('n', 0):,} scanned test characters")
    return "**How often it is right:** " + "; ".join(parts) + "." if parts else None


def reads_lines(report: dict | None) -> list[str]:
    """The classes it reads best and finds hardest, and the pairs it mixes up most, from a report's per-class
    figures (a drawn report's, when there is one); none without them."""
    per_class = {
        name: s["recall"]
        for name, s in ((report or {}).get("per_class") or {}).items()
        if s.get("support", 0) >= MIN_SUPPORT
    }
    if not per_class:
        return []
    ranked = sorted(per_class, key=lambda name: (-per_class[name], name))
    best, worst = ranked[:EXAMPLES], ranked[::-1][:EXAMPLES]
    lines = [
        "**Reads best:** " + ", ".join(f"{display_name(n)} ({per_class[n]:.0%} right)" for n in best) + ".",
        "**Finds hardest:** " + ", ".join(f"{display_name(n)} ({per_class[n]:.0%} right)" for n in worst) + ".",
    ]
    pairs = (report.get("confused_pairs") or [])[:EXAMPLES]
    if pairs:
        lines.append(
            "**Mixes up most:** "
            + ", ".join(
                f"{display_name(p['true'])} read as {display_name(p['predicted'])} ({p['count']:,} times)"
                for p in pairs
            )
            + "."
        )
    return lines


def sure_line(card: ModelCard) -> str:
    """How sure it is: what its percentages mean (its calibration, as the figure under the card draws it) and
    the "not sure" threshold the Draw tab applies to it."""
    section = card.temperature_section or {}
    threshold = (section.get("not_sure") or {}).get("threshold", NOT_SURE)
    not_sure = f'The Draw tab says "not sure" when it is under {threshold:.0%} sure'
    if section.get("not_sure"):
        not_sure += ", a threshold measured for the shipped pair of models, not for this one"
    if section.get("T") is None:
        return (
            "**How sure it is:** its percentages are not calibrated, so a 90% may be right less often than 9 times "
            f"in 10. {not_sure}."
        )
    before, after = ece_change(section)
    return (
        "**How sure it is:** calibrated, so that when it says 80% it is right about 8 times in 10. On "
        f"{section.get('n', 0):,} {data_words(section.get('fitted_on'))} it was not trained on, the gap between how "
        f"sure it says it is and how often it is right went from {before:.1%} to {after:.1%} (the figure under "
        f"this card). {not_sure}."
    )


def plain_lines(card: ModelCard, shipped: bool, report: dict | None, drawn_report: dict | None) -> list[str]:
    """The card's opening lines (Markdown), in plain words."""
    lines = [made_line(card, shipped), right_line(card, report, drawn_report)]
    lines += reads_lines(drawn_report if (drawn_report or {}).get("per_class") else report)
    lines.append(sure_line(card))
    return [f"- {line}" for line in lines if line]
