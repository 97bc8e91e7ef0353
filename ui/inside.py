"""The Inside tab: what each layer of the live models makes of a drawing (the CNN's feature maps per conv stage,
the MLP's most active first-layer templates), and "What if?": both models' answers on variants of the drawing
(moved, turned, thinner, thicker, smaller, speckled ...); and the endpoints programs call for the same (/inside,
/whatif).

The pictures come from ``emnist_core.serving.inside`` (each live model's exported probe) and
``emnist_core.serving.whatif``.
"""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from emnist_core.data import labels
from emnist_core.data.preprocess import ImageInputError, preprocess
from emnist_core.models.registry import SLOTS
from emnist_core.serving import inside as layers
from emnist_core.serving.variants import VARIANTS
from emnist_core.serving.whatif import what_if
from ui import draw
from ui.checks import missing_model, sketch_part
from ui.page import PREDICT_CONCURRENCY, bind, select_brush_js

PAD_ID = "inside-sketchpad"
EMPTY_MESSAGE = draw.EMPTY_MESSAGE  # the same words as the Draw tab for an empty canvas
WHATIF_PROMPT = "Press **What if?** to see both models read variants of this drawing."
INTRO = (
    "Draw a character: the pictures show what happens inside both models. Each picture shows only what your "
    "drawing *adds* to an empty canvas, so a blank canvas gives blank pictures."
)
LEGEND = {
    "cnn": (
        "**CNN, stage by stage.** Each small square is one feature map: a detector slid over the picture, "
        "black where it finds nothing, yellow where it finds its pattern most. The first stage sees the whole "
        "28x28 picture and fires on small pieces of stroke; each later stage is half the size and fires on "
        "bigger parts."
    ),
    "mlp": (
        "**MLP, first layer.** Each picture is one unit's template: the weight it gives every pixel. Ink on "
        "red pixels switches the unit on, ink on blue pixels switches it off, white pixels do not matter. "
        "Shown: the units your drawing switches on most, strongest first."
    ),
}
TABLE_HEADERS = ["Variant", "MLP reads", "MLP sure", "CNN reads", "CNN sure", "What changed"]
TABLE_WIDTHS = ["17%", "11%", "10%", "11%", "10%", "41%"]
PICTURE_ORDER = ("cnn", "mlp")  # as the tab shows them
WHATIF_COLUMNS = 3  # 3x3: wide enough for each variant's caption


class InsideTab(NamedTuple):
    """What the other tabs wire to: nothing yet, the tab itself."""

    tab: gr.Tab


class Drawing(NamedTuple):
    """A sketch as read: the drawing and the 28x28 the models see, or (None, None, what to do)."""

    image: object
    x28: object
    message: str = ""


def read(sketch, endpoint: str) -> Drawing:
    """A sketch as the page or a program sent it -> the drawing and its 28x28, or why there is nothing to read."""
    image = draw.decoded(sketch_part(sketch, endpoint))
    if image is None:
        return Drawing(None, None, EMPTY_MESSAGE)
    try:
        return Drawing(image, preprocess(image))
    except ImageInputError as exc:  # empty, too small, unreadable: each with its own message
        return Drawing(None, None, str(exc))


# ---------------------------------------------------------------- handlers


def inside_view(lab, x28):
    """The 28x28 the models see -> (CNN panels, MLP panels, note): [(image, caption)] per live model."""
    live = lab.models.pair.models  # the pair of this moment, even if a put-live swaps it meanwhile
    panels = {slot: [tuple(panel) for panel in layers.inside(model.inside, x28)] for slot, model in live.items()}
    note = " ".join(f"{missing_model(slot)}" for slot in SLOTS if slot not in live)
    shown = " and the ".join(live[slot].title for slot in PICTURE_ORDER if slot in live)
    return panels.get("cnn", []), panels.get("mlp", []), f"Inside the {shown}. {note}".strip()


def look_inside(lab, sketch, endpoint: str = "inside"):
    """A sketch -> (CNN panels, MLP panels, note); no pictures and the message when there is nothing drawn."""
    drawing = read(sketch, endpoint)
    if drawing.x28 is None:
        return [], [], drawing.message
    return inside_view(lab, drawing.x28)


def show_inside(lab, sketch):
    """The tab's sketchpad, on every stroke: the pictures."""
    drawing = read(sketch, "inside_drawing")
    if drawing.x28 is None:
        return [], [], drawing.message
    return inside_view(lab, drawing.x28)


def answer_words(row, slot, shown=str) -> str:
    top = row.get(slot)
    return f"{SLOTS[slot]} {shown(top['label'])} {top['confidence']:.0%}" if top else f"{SLOTS[slot]}: none"


def kept_note(rows) -> str:
    """How many variants each model still reads as it reads the drawing itself (the first row, as drawn)."""
    first, changed = rows[0], rows[1:]
    counts = [
        f"the {SLOTS[slot]} still reads {labels.display_name(first[slot]['label'])} on "
        f"{sum(row[slot]['label'] == first[slot]['label'] for row in changed)}"
        for slot in SLOTS
        if slot in first
    ]
    return f"Of the {len(changed)} changed drawings, {' and '.join(counts)}."


def what_if_of(lab, sketch, endpoint: str):
    """A sketch -> (rows, [(variant's 28x28, caption)], note): each model's top-1 on every variant."""
    drawing = read(sketch, endpoint)
    if drawing.image is None:
        return [], [], drawing.message
    result = what_if(lab.models.pair.predictor, drawing.image)
    captions = [
        f"{row['variant']}: " + " · ".join(answer_words(row, slot, labels.display_name) for slot in SLOTS)
        for row in result.rows
    ]
    return result.rows, [(image, text) for (image, _), text in zip(result.images, captions)], kept_note(result.rows)


def table(rows) -> list[list]:
    """The what-if rows as the tab's table, a line per variant."""

    def cells(row, slot):
        top = row.get(slot)
        return [labels.display_name(top["label"]), f"{top['confidence']:.0%}"] if top else ["-", "-"]

    return [[row["variant"], *cells(row, "mlp"), *cells(row, "cnn"), VARIANTS[row["variant"]]] for row in rows]


def show_what_if(lab, sketch):
    """The tab's "What if?" button: (the variants' grid, the table, a note)."""
    rows, pictures, note = what_if_of(lab, sketch, "whatif_drawing")
    return pictures, table(rows) if rows else None, note


def forget_what_if():
    """A changed drawing: the variants shown were of the one before."""
    return [], None, WHATIF_PROMPT


# ---------------------------------------------------------------- the API's endpoints

# Shape the API's pictures as a gallery sends them (a ``gr.api`` endpoint skips postprocess); never rendered.
PANELS = gr.Gallery(format="png", render=False)


def inside_api(lab, sketch: dict | None = None) -> tuple[list, list, str]:
    """Sketchpad value {"composite": image file}, or the image file alone -> (CNN pictures, MLP pictures, note):
    each a list of {"image": file, "caption": ...}: the CNN's feature maps, one grid per conv stage ("14x14, 64
    maps ..."), and the MLP's most active first-layer templates. A blank canvas: no pictures, and a note that
    says to draw first."""
    cnn, mlp, note = look_inside(lab, sketch)
    return *draw.as_api([PANELS, PANELS], [cnn, mlp]), note


def whatif_api(lab, sketch: dict | None = None) -> tuple[list, list, str]:
    """Sketchpad value {"composite": image file}, or the image file alone -> (rows, pictures, note): rows, one
    per variant, {"variant", "mlp": {"label", "confidence"}, "cnn": {...}} with each model's top-1; pictures,
    each variant's 28x28 as the models read it, captioned; a blank canvas: no rows, and a note that says to
    draw first."""
    rows, pictures, note = what_if_of(lab, sketch, "whatif")
    return rows, *draw.as_api([PANELS], [pictures]), note


# ---------------------------------------------------------------- the tab


def build(lab) -> InsideTab:
    """The Inside tab and its events, serving ``lab``."""
    with gr.Tab("Inside", id="inside") as tab:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                pad = draw.drawing_pad(PAD_ID)
                note = gr.Markdown(EMPTY_MESSAGE, elem_id="inside-note", container=True, padding=True)
            with gr.Column(scale=3, min_width=300):
                gr.Markdown(LEGEND["cnn"])
                cnn_maps = gr.Gallery(
                    label="CNN: feature maps at each stage",
                    columns=3,
                    format="png",
                    object_fit="contain",
                    elem_classes="inside-gallery",
                    elem_id="cnn-maps",
                    preview=False,
                )
                gr.Markdown(LEGEND["mlp"])
                mlp_units = gr.Gallery(
                    label="MLP: templates of its most active first-layer units",
                    columns=4,
                    format="png",
                    object_fit="contain",
                    elem_classes="inside-gallery",
                    elem_id="mlp-units",
                    preview=False,
                )
        whatif_button = gr.Button("What if? Both models on variants of this drawing", elem_id="whatif-button")
        whatif_note = gr.Markdown(WHATIF_PROMPT, elem_id="whatif-note")
        with gr.Row(equal_height=False):
            whatif_grid = gr.Gallery(
                label="What if: the variants, as the models see them (28x28)",
                columns=WHATIF_COLUMNS,
                elem_classes="inside-gallery",
                format="png",
                object_fit="contain",
                elem_id="whatif-grid",
                preview=False,
                min_width=300,
            )
            whatif_table = gr.Dataframe(
                headers=TABLE_HEADERS,
                interactive=False,
                wrap=True,
                min_width=300,
                column_widths=TABLE_WIDTHS,
                elem_id="whatif-table",
            )

    tab.select(None, js=select_brush_js(f"#{PAD_ID}"))  # opening the tab picks its brush
    pad.change(
        bind(show_inside, lab),
        pad,
        [cnn_maps, mlp_units, note],
        api_name="inside_drawing",
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="hidden",
        concurrency_limit=PREDICT_CONCURRENCY,
    )
    pad.change(forget_what_if, None, [whatif_grid, whatif_table, whatif_note], api_visibility="private", queue=False)
    whatif_button.click(
        bind(show_what_if, lab),
        pad,
        [whatif_grid, whatif_table, whatif_note],
        api_name="whatif_drawing",
        api_visibility="private",
        concurrency_limit=PREDICT_CONCURRENCY,
    )
    return InsideTab(tab)


def endpoints(lab):
    """The ``gr.api`` endpoints that do what the Inside tab does, for programs; declared outside the page's tabs."""
    for handler, name in ((inside_api, "inside"), (whatif_api, "whatif")):
        gr.api(bind(handler, lab), api_name=name, concurrency_limit=PREDICT_CONCURRENCY)
