"""Models and their results in words: the Markdown the app shows about a model, from its card and reports.

Plain text, no Gradio: what a card or report holds is ``training``'s, ``evaluation``'s and ``finetune``'s
business; this module only says it to a person, and says what to do when something is missing.
"""

from __future__ import annotations

from pathlib import Path

from emnist_core.models.card import ModelCard
from emnist_core.models.store import card_path


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def card_markdown(title: str, path: Path, card: ModelCard | None, report: dict | None) -> str:
    """A model's card as a Markdown list: what it is, its data, test results, training and command."""
    known = card or ModelCard()
    lines = [f"### {title}", known.description, ""]
    if known.parameters:
        trainable = known.trainable_parameters
        lines.append(f"- **Parameters:** {known.parameters:,}"
                     + (f" ({trainable:,} trained)" if trainable and trainable != known.parameters else ""))
    lines.append(f"- **File:** `{path}`")
    if card is None:
        lines.append(f"- **No model card** (`{card_path(path).name}` is missing or damaged): restore it beside "
                     "the model file, or retrain the model to write a new one.")
    if known.data:
        used = ", ".join(f"{k} {v:,}" for k, v in known.data.get("used", {}).items() if v is not None)
        lines.append(f"- **Data:** {known.dataset or '?'} ({used}). {known.data.get('description', '')}")
    metrics = report or known.test_metrics
    if metrics.get("accuracy") is not None:
        lines.append(f"- **Test:** accuracy {metrics['accuracy']:.1%}, mean per-class accuracy "
                     f"{metrics.get('mean_recall', float('nan')):.1%}, loss {metrics.get('loss', float('nan')):.3f} "
                     f"on {metrics.get('n', 0):,} images")
    drawn = known.drawn_test_metrics or {}
    if drawn.get("accuracy") is not None:
        lines.append(f"- **Drawn characters:** top-1 {drawn['accuracy']:.1%}"
                     + (f", top-3 {drawn['top3']:.1%}" if drawn.get("top3") is not None else "")
                     + f" on {drawn.get('n', 0):,} characters by writers it never saw")
    scaling = known.temperature_section or {}
    if scaling.get("T") is not None:
        held = scaling.get("held_out") or {}
        check = (f"; on {held['n']:,} drawn test characters the calibration error went from {held['ece_before']:.1%} "
                 f"to {held['ece_after']:.1%}" if held.get("ece_before") is not None else "")
        lines.append(f"- **Confidence calibrated:** temperature {scaling['T']:.2f}, fitted on {scaling.get('n', 0):,} "
                     f"{scaling.get('fitted_on', '?')} images{check} (figure below: 80% should mean right 8 times in 10)")
    if known.hyperparameters:
        lines.append("- **Training:** " + ", ".join(f"{k} {v}" for k, v in known.hyperparameters.items()
                                                    if v is not None and not isinstance(v, dict)))
    if known.training_seconds is not None:
        lines.append(f"- **Trained:** {known.date or '?'} in {format_seconds(known.training_seconds)}")
    if known.command:
        lines.append(f"- **Command:** `{known.command}`")
    return "\n".join(lines)


def report_summary(title: str, report: dict, words: str) -> str:
    """One line on a model's report: accuracy, mean per-class accuracy, and each section's (digits ...)."""
    text = (f"**{title}** on {report['n']:,} {words}: accuracy **{report['accuracy']:.1%}**, mean per-class "
            f"accuracy {report['mean_recall']:.1%}.")
    if report.get("sections"):
        text += " By section: " + ", ".join(f"{k} {v:.1%}" for k, v in report["sections"].items()) + "."
    return text


def per_class_rows(report: dict) -> tuple[list[str], list[list]]:
    """(headers, rows) of a report's per-class figures, worst accuracy first."""
    rows = sorted(([name, s["recall"], s["precision"], s["f1"], s["support"]] for name, s in report["per_class"].items()),
                  key=lambda row: row[1])
    return ["class", "accuracy", "precision", "F1", "test images"], [[r[0], *(round(v, 3) for v in r[1:4]), r[4]]
                                                                        for r in rows]


def serving_note(live_models) -> str | None:
    """Which models serve, and how well each reads drawn characters; None when none does."""
    parts = []
    for live in live_models:
        drawn = live.drawn_report or {}
        score = f" (reads {drawn['accuracy']:.0%} of drawn test characters)" if "accuracy" in drawn else ""
        parts.append(f"**{live.title}**{score}")
    return "Serving " + " and ".join(parts) + "." if parts else None


def comparison(report: dict, path, live) -> str:
    """A newly trained model's test accuracy against the live model of its kind (``live``, or None)."""
    mine = f"**Test accuracy: {report['accuracy']:.1%}** on {report['n']:,} images"
    if live is None:
        theirs = "no model of its kind is live to compare with"
    else:
        theirs = f"the live {live.title} has " + (f"{live.report['accuracy']:.1%}" if live.report else "no report")
    return f"{mine}; {theirs}.\n\nSaved to `{path}`. *Use this model* serves it in the Draw and Confusions tabs."


FINE_TUNE_ROWS = (("held_out", "the newest corrections (held out, never trained on)"),
                  ("drawn_test", "drawn test characters (writers no model saw)"), ("test", "EMNIST test images"))


def before_after(title: str, path, before: dict, after: dict) -> str:
    """A fine-tune's figures, before and after, on what it was not trained on (``finetune.FineTuneResult``)."""
    table = ["| accuracy on | before | after |", "| --- | --- | --- |"]
    table += [f"| {words} ({before[key]['n']:,}) | {before[key]['accuracy']:.1%} | {after[key]['accuracy']:.1%} |"
              for key, words in FINE_TUNE_ROWS if key in before and key in after and before[key].get("n")]
    return (f"**Fine-tuned {title}** saved to `{path}`.\n\n" + "\n".join(table) +
            "\n\n*Use the fine-tuned model* serves it; *Restore shipped models* undoes that.")


def corrections_note(count: int) -> str:
    if not count:
        return "No corrections yet: when a model reads a drawing wrong, say what it was under the Draw tab."
    return (f"**{count:,} correction{'s' * (count != 1)}** on this server. Fine-tuning trains on the older ones and "
            "holds out the newest, to show whether it really helped.")
