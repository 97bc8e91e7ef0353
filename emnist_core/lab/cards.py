"""Models and their results in words: the Markdown the app shows about a model, from its card and reports.

Plain text, no Gradio: what a card or report holds is ``training``'s, ``evaluation``'s and ``finetune``'s
business; this module only says it to a person, and says what to do when something is missing. What it says
names models, never a path on the server or a shell command: a teacher on the page can use neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emnist_core.data import pack
from emnist_core.lab import plain_card
from emnist_core.models.card import ModelCard
from emnist_core.models.evaluation import DRAWN, EMNIST
from emnist_core.models.registry import SLOTS
from emnist_core.models.store import ASSETS_DIR, card_path
from emnist_core.models.temperature import ece_change

REPORT_WORDS = {EMNIST: "EMNIST test images", DRAWN: "drawn test characters"}
# An absolute path, or one from the home folder: two or more "/name" parts not inside a word ("C / c" has none).
SERVER_PATH = re.compile(r"(?<![\w.~])~?(?:/[^\s/`'\"<>|:;,()]+){2,}")


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


TECHNICAL = "#### Technical details"  # the heading the card's plain opening ends at


def card_markdown(title: str, path: Path, card: ModelCard | None, report: dict | None, drawn_report=None) -> str:
    """A model's card as Markdown: first, in plain words, what a teacher can use (``plain_card``); then, under
    ``TECHNICAL``, what it is, its data, test results, calibration and training. ``report``: its report on the
    EMNIST test set; ``drawn_report``: on drawn characters."""
    known = card or ModelCard()
    shipped = Path(path).parent == ASSETS_DIR
    lines = [f"### {title}"]
    if card is None:
        lines.append(
            f"- **No model card** (`{card_path(path).name}` is missing or damaged): restore it beside "
            "the model file, or retrain the model to write a new one."
        )
    lines += plain_card.plain_lines(known, shipped, report, drawn_report)
    return "\n".join([*lines, "", TECHNICAL, *technical_lines(known, path, shipped, report)])


def technical_lines(known: ModelCard, path: Path, shipped: bool, report: dict | None) -> list[str]:
    """The card's technical details, as a Markdown list after its description."""
    lines = [known.description, ""]
    if known.parameters:
        trainable = known.trainable_parameters
        lines.append(
            f"- **Parameters:** {known.parameters:,}"
            + (f" ({trainable:,} trained)" if trainable and trainable != known.parameters else "")
        )
    lines.append(f"- **File:** {Path(path).name} ({'shipped with the app' if shipped else 'trained on this server'})")
    if known.data:
        used = ", ".join(f"{k} {v:,}" for k, v in known.data.get("used", {}).items() if v is not None)
        lines.append(f"- **Data:** {known.dataset or '?'} ({used}). {known.data.get('description', '')}")
    metrics = report or known.test_metrics
    if metrics.get("accuracy") is not None:
        lines.append(
            f"- **Test:** accuracy {metrics['accuracy']:.1%}, mean per-class accuracy "
            f"{metrics.get('mean_recall', float('nan')):.1%}, loss {metrics.get('loss', float('nan')):.3f} "
            f"on {metrics.get('n', 0):,} images"
        )
    drawn = known.drawn_test_metrics or {}
    if drawn.get("accuracy") is not None:
        lines.append(
            f"- **Drawn characters:** top-1 {drawn['accuracy']:.1%}"
            + (f", top-3 {drawn['top3']:.1%}" if drawn.get("top3") is not None else "")
            + f" on {drawn.get('n', 0):,} characters by writers it never saw"
        )
    lines += calibration_lines(known.temperature_section or {})
    if known.hyperparameters:
        lines.append(
            "- **Training:** "
            + ", ".join(
                f"{k} {v}" for k, v in known.hyperparameters.items() if v is not None and not isinstance(v, dict)
            )
        )
    if known.training_seconds is not None:
        lines.append(f"- **Trained:** {known.date or '?'} in {format_seconds(known.training_seconds)}")
    return lines


def calibration_lines(scaling: dict) -> list[str]:
    """A temperature section in figures: T, what it was fitted on and its calibration error before and after (the
    figure's, ``temperature.ece_change``), the check on images the fit never saw, and the "not sure" threshold."""
    if scaling.get("T") is None:
        return []
    before, after = ece_change(scaling)
    held = scaling.get("held_out") or {}
    check = (
        f"; checked on {held['n']:,} {held.get('on') or 'drawn test'} images the fit never saw: "
        f"{held['ece_before']:.1%} to {held['ece_after']:.1%}"
        if held.get("ece_before") is not None
        else ""
    )
    lines = [
        f"- **Confidence calibrated:** temperature {scaling['T']:.2f}, fitted on {scaling.get('n', 0):,} "
        f"{scaling.get('fitted_on', '?')} images; calibration error (ECE) {before:.1%} to {after:.1%} there, as "
        f"in the figure{check}"
    ]
    sure = scaling.get("not_sure")
    if sure:
        kept = "" if sure.get("accuracy") is None else f", {sure['accuracy']:.1%} of them right"
        lines.append(
            f"- **Not sure below:** {sure['threshold']:.0%}, measured for {sure['measured_for']}. On its "
            f"{sure.get('on', 'fit')} images this model alone reaches it on {sure['coverage']:.1%}{kept}"
        )
    return lines


def report_summary(title: str, report: dict, words: str) -> str:
    """One line on a model's report: accuracy, mean per-class accuracy, and each section's (digits ...)."""
    text = (
        f"**{title}** on {report['n']:,} {words}: accuracy **{report['accuracy']:.1%}**, mean per-class "
        f"accuracy {report['mean_recall']:.1%}."
    )
    if report.get("sections"):
        text += " By section: " + ", ".join(f"{k} {v:.1%}" for k, v in report["sections"].items()) + "."
    return text


def per_class_rows(report: dict) -> tuple[list[str], list[list]]:
    """(headers, rows) of a report's per-class figures, worst accuracy first; a class with no test image (one the
    class never drew) has no accuracy and no row, rather than a row of zeros at the top."""
    rows = sorted(
        (
            [name, s["recall"], s["precision"], s["f1"], s["support"]]
            for name, s in report["per_class"].items()
            if s["support"]
        ),
        key=lambda row: row[1],
    )
    return ["class", "accuracy", "precision", "F1", "test images"], [
        [r[0], *(round(v, 3) for v in r[1:4]), r[4]] for r in rows
    ]


def serving_note(live_models) -> str | None:
    """Which models serve, and how well each reads drawn characters; None when none does."""
    parts = []
    for live in live_models:
        drawn = live.drawn_report or {}
        score = f" (reads {drawn['accuracy']:.0%} of drawn test characters)" if "accuracy" in drawn else ""
        parts.append(f"**{live.title}**{score}")
    return "Serving " + " and ".join(parts) + "." if parts else None


def no_paths(text) -> str:
    """``text`` (an error's message, say) with each server path cut to its last part: a file's name means something
    to a teacher, the folders it sits in only show the server's insides."""
    return SERVER_PATH.sub(lambda found: found.group().rstrip("/").rsplit("/", 1)[-1], str(text))


def data_in_use(dataset) -> str:
    """Which data ``dataset`` (a ``datasets.Dataset``) came from, as the page says it: "from the demo data pack",
    "from the full EMNIST files", "from the UNIPEN files"."""
    if str(pack.pack_file(dataset.name)) in map(str, getattr(dataset, "sources", ())):
        return "from the demo data pack"
    return "from the UNIPEN files" if dataset.name == DRAWN else "from the full EMNIST files"


def figure(report: dict) -> str:
    """A report's figure for comparing models: the mean per-class accuracy (each class counts alike, as when a
    class draws every character), with the plain accuracy beside it."""
    balanced = report.get("mean_recall", report["accuracy"])  # reports older than mean_recall: the accuracy
    return f"**{balanced:.1%}** mean per-class accuracy ({report['accuracy']:.1%} of all read right)"


@dataclass(frozen=True)
class Standing:
    """How a candidate model reads against the live model it would replace."""

    confirm: bool  # it reads worse (or cannot be compared): ask before putting it live
    text: str  # both figures, on the test set they share


def standing(candidate, live) -> Standing:
    """``candidate`` (a ``LiveModel`` not yet served) against ``live``, the live model of its kind (or None): on
    drawn characters when both have that report (what the app is used for), else on the EMNIST test images; by
    the mean per-class accuracy."""
    if live is None:
        return Standing(False, f"No {SLOTS[candidate.slot]} is live: nothing to compare it with.")
    test_set = DRAWN if candidate.drawn_report and live.drawn_report else EMNIST
    mine, theirs = candidate.report_on(test_set), live.report_on(test_set)
    if not mine or not theirs:
        return Standing(
            True,
            f"The new **{candidate.name}** and the live **{live.title}** have no report on the "
            "same test set, so there is no saying which reads better.",
        )
    worse = mine.get("mean_recall", mine["accuracy"]) < theirs.get("mean_recall", theirs["accuracy"])
    return Standing(
        worse,
        f"On {mine['n']:,} {REPORT_WORDS[test_set]} the new **{candidate.name}** reads "
        f"{figure(mine)}; the live **{live.title}** reads {figure(theirs)}.",
    )


def put_live_warning(found: Standing, confirm_label: str) -> str:
    """What *Use this model* says before it puts live a model that reads worse, and how to go on."""
    return (
        f"**Careful: this model reads worse than the one it would replace.** {found.text} Put live, it is what "
        f"everyone on this server draws to. Press **{confirm_label}** to put it live anyway, or keep the live "
        "model."
    )


def trained(name: str, reports: dict, live, drawn_note: str = "") -> str:
    """A newly trained (or fine-tuned) model's figures on both test sets against the live model of its kind
    (``live``, or None); ``drawn_note``: why there is no drawn report, when there is none."""
    keys = {EMNIST: "", DRAWN: DRAWN}  # each test set's key in ``reports``
    sets = [key for key in (EMNIST, DRAWN) if reports.get(keys[key])]
    header = " | ".join(f"{REPORT_WORDS[key]} ({reports[keys[key]]['n']:,})" for key in sets)
    rows = [f"| | {header} |", "|---" * (len(sets) + 1) + "|"]

    def row(who, report_on):
        cells = [report_on(key) for key in sets]
        return (
            f"| {who} | "
            + " | ".join(
                f"{c.get('mean_recall', c['accuracy']):.1%} ({c['accuracy']:.1%})" if c else "no report" for c in cells
            )
            + " |"
        )

    rows.append(row(f"**{name}** (new)", lambda key: reports.get(keys[key])))
    against = " (no model of its kind is live to compare with)"
    if live is not None:
        rows.append(row(f"{live.name} (live)", live.report_on))
        against = f" against the live **{live.title}**"
    text = (
        f"**{name}**, scored on the test sets{against}:\n\n"
        + "\n".join(rows)
        + "\n\nMean per-class accuracy (each class counts alike); in brackets, the share of all images read right."
    )
    if DRAWN not in reports:
        text += f" No report on drawn characters: {no_paths(drawn_note) or 'they are not on this server.'}"
    return text


FINE_TUNE_ROWS = (
    ("held_out", "the newest corrections (held out, never trained on)"),
    ("drawn_test", "drawn test characters (writers no model saw)"),
    ("test", "EMNIST test images"),
)


def before_after(title: str, name: str, before: dict, after: dict) -> str:
    """A fine-tune's figures, before and after, on what it was not trained on (``finetune.FineTuneResult``);
    ``name``: the fine-tuned model's."""
    table = ["| accuracy on | before | after |", "| --- | --- | --- |"]
    table += [
        f"| {words} ({before[key]['n']:,}) | {before[key]['accuracy']:.1%} | {after[key]['accuracy']:.1%} |"
        for key, words in FINE_TUNE_ROWS
        if key in before and key in after and before[key].get("n")
    ]
    return f"**Fine-tuned {title}**, saved as **{name}**.\n\n" + "\n".join(table)


def corrections_note(count: int) -> str:
    if not count:
        return "No corrections yet: when a model reads a drawing wrong, say what it was under the Draw tab."
    return (
        f"**{count:,} correction{'s' * (count != 1)}** on this server. Fine-tuning trains on the older ones and "
        "holds out the newest, to show whether it really helped."
    )
