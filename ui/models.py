"""The Models tab: each live model's card (plain words first, then its technical details), its reliability diagram,
and under "More details" its robustness table, training curves and architecture."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from emnist_core.lab import cards
from emnist_core.models.registry import SLOTS
from emnist_core.serving.robustness import REPORT_KEY, format_table
from ui import plots
from ui.checks import missing_model
from ui.page import bind

# Keras' summary counts the optimizer's variables as parameters too: the card's count is the model's.
SUMMARY_COUNTS = ("Total params", "Trainable params", "Non-trainable params", "Optimizer params")


class ModelsTab(NamedTuple):
    """What the other tabs wire to: nothing yet, the tab itself."""

    tab: gr.Tab


def model_card(lab, slot):
    """Slot -> (card text, training curves, architecture summary)."""
    live = lab.models.get(slot)
    if live is None:
        return f"### {SLOTS[slot]}\n{missing_model(slot)}", plots.EMPTY, ""
    card = live.card
    text = cards.card_markdown(live.title, live.path, card, live.report, live.drawn_report)
    summary = "\n".join(
        line
        for line in (card.summary if card else "").splitlines()
        if line.strip() and not line.lstrip().startswith(SUMMARY_COUNTS)
    )
    return text, plots.curves(lab, card.history if card else None, live.name, keep=True), summary


def model_cards(lab):
    return [value for slot in SLOTS for value in model_card(lab, slot)]


def robustness_note(live) -> str:
    """A live model's accuracy on drawn test under each what-if variant (its drawn report's robustness section),
    or how to make one."""
    section = (live.drawn_report or {}).get(REPORT_KEY)
    if not section:
        return (
            f"**Robustness:** no table for {live.name} yet: the server's owner makes one with the command "
            "line's `robustness` (see the README), which scores it on the drawn test set under each what-if "
            "variant."
        )
    return (
        f"**Robustness: {live.name} on drawn test, under each what-if variant** (natural: each class as often "
        f"as the test set has it; balanced: each class counts once; change: points from as drawn)\n\n"
        f"```text\n{format_table(section)}\n```"
    )


def robustness_notes(lab):
    """Each live model's robustness table, or what to run to make one."""
    live = lab.models.pair.models  # the pair of this moment, even if a put-live swaps it meanwhile
    return [robustness_note(live[slot]) if slot in live else "" for slot in SLOTS]


def reliability_plot(lab, live):
    """A live model's reliability diagram (stated confidence against accuracy), when its card has one."""
    scaling = live.card.temperature_section if live.card else None
    return plots.figure_html(lab, "reliability", scaling, f"{live.name}: how sure vs how right") if scaling else ""


def reliability_plots(lab):
    """Each live model's reliability diagram, or None."""
    live = lab.models.pair.models  # the pair of this moment, even if a put-live swaps it meanwhile
    return [reliability_plot(lab, live[slot]) if slot in live else "" for slot in SLOTS]


def build(lab) -> ModelsTab:
    """The Models tab and its events, serving ``lab``."""
    with gr.Tab("Models", id="models", visible=not lab.guard.locked) as tab:  # the teacher's
        card_outputs, reliability_outputs, robustness_outputs = [], [], []
        with gr.Row(equal_height=False):
            for slot in SLOTS:
                with gr.Column():
                    card_outputs.append(gr.Markdown())
                    # Under the card, whose "how sure it is" it draws. Its own title says what it is; a label
                    # would cover it.
                    reliability_outputs.append(gr.HTML(elem_classes="reliability"))
                    # For the curious, closed: a teacher reads the card first.
                    with gr.Accordion("More details: robustness, training curves and layers", open=False):
                        robustness_outputs.append(gr.Markdown(elem_id=f"{slot}-robustness"))
                        card_outputs += [
                            gr.HTML(label="Training curves", show_label=True, container=True),
                            gr.Code(label="Architecture", language=None, interactive=False, show_line_numbers=False),
                        ]
    tab.select(bind(model_cards, lab), None, card_outputs, api_name="model_cards")
    tab.select(
        bind(reliability_plots, lab), None, reliability_outputs, api_name="reliability", api_visibility="private"
    )
    tab.select(bind(robustness_notes, lab), None, robustness_outputs, api_name="robustness", api_visibility="private")
    return ModelsTab(tab)
