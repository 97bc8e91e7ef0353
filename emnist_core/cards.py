"""Model cards in words: the Markdown the Models tab shows for a model, from its card and report.

Plain text, no Gradio: what a card holds is ``training.model_card``'s (and ``calibration``'s) business;
this module only says it to a person, and says what to do when a card is missing.
"""

from __future__ import annotations

from pathlib import Path

from .store import card_path


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def card_markdown(title: str, path: Path, card: dict | None, report: dict | None) -> str:
    """A model's card as a Markdown list: what it is, its data, test results, training and command."""
    known = card or {}
    arch, data = known.get("architecture", {}), known.get("data", {})
    lines = [f"### {title}", arch.get("description", ""), ""]
    if arch.get("parameters"):
        trainable = arch.get("trainable_parameters")
        lines.append(f"- **Parameters:** {arch['parameters']:,}"
                     + (f" ({trainable:,} trained)" if trainable and trainable != arch["parameters"] else ""))
    lines.append(f"- **File:** `{path}`")
    if card is None:
        lines.append(f"- **No model card** (`{card_path(path).name}` is missing or damaged): restore it beside "
                     "the model file, or retrain the model to write a new one.")
    if data:
        used = ", ".join(f"{k} {v:,}" for k, v in data.get("used", {}).items() if v is not None)
        lines.append(f"- **Data:** {data.get('dataset', '?')} ({used}). {data.get('description', '')}")
    metrics = report or known.get("test_metrics") or {}
    if metrics.get("accuracy") is not None:
        lines.append(f"- **Test:** accuracy {metrics['accuracy']:.1%}, mean per-class accuracy "
                     f"{metrics.get('mean_recall', float('nan')):.1%}, loss {metrics.get('loss', float('nan')):.3f} "
                     f"on {metrics.get('n', 0):,} images")
    drawn = known.get("drawn_test_metrics") or {}
    if drawn.get("accuracy") is not None:
        lines.append(f"- **Drawn characters:** top-1 {drawn['accuracy']:.1%}"
                     + (f", top-3 {drawn['top3']:.1%}" if drawn.get("top3") is not None else "")
                     + f" on {drawn.get('n', 0):,} characters by writers it never saw")
    scaling = (known.get("calibration") or {}).get("temperature") or {}
    if scaling.get("T") is not None:
        held = scaling.get("held_out") or {}
        check = (f"; on {held['n']:,} drawn test characters the calibration error went from {held['ece_before']:.1%} "
                 f"to {held['ece_after']:.1%}" if held.get("ece_before") is not None else "")
        lines.append(f"- **Confidence calibrated:** temperature {scaling['T']:.2f}, fitted on {scaling.get('n', 0):,} "
                     f"{scaling.get('fitted_on', '?')} images{check} (figure below: 80% should mean right 8 times in 10)")
    hp = known.get("hyperparameters", {})
    if hp:
        lines.append("- **Training:** " + ", ".join(f"{k} {v}" for k, v in hp.items()
                                                    if v is not None and not isinstance(v, dict)))
    if known.get("training_seconds") is not None:
        lines.append(f"- **Trained:** {known.get('date', '?')} in {format_seconds(known['training_seconds'])}")
    if known.get("command"):
        lines.append(f"- **Command:** `{known['command']}`")
    return "\n".join(lines)
