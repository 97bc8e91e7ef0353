"""The Inside tab: what each layer of the live models makes of a drawing (the CNN's feature maps per conv stage,
the MLP's most active first-layer templates), and "What if?": both models' answers on variants of the drawing
(moved, turned, thinner, thicker, smaller, speckled ...); and the endpoints programs call for the same (/inside,
/whatif).

The pictures come from ``emnist_core.serving.inside`` (each live model's exported probe) and
``emnist_core.serving.whatif``.
"""

from __future__ import annotations

import base64
import html
import io
from typing import NamedTuple

import gradio as gr
from PIL import Image

from emnist_core.data import labels
from emnist_core.data.preprocess import ImageInputError
from emnist_core.lab.worker import png
from emnist_core.lab.worker import sketch as sketch_image
from emnist_core.models.registry import SLOTS
from emnist_core.serving.variants import VARIANTS
from emnist_core.serving.whatif import what_if
from ui import draw, pad
from ui.checks import missing_model, sketch_part
from ui.page import PREDICT_CONCURRENCY, as_api, bind

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
TABLE_HEADERS = [
    "Variant",
    *(f"{title} {what}" for title in SLOTS.values() for what in ("reads", "sure")),
    "What changed",
]
TABLE_WIDTHS = ["17%", *("11%", "10%") * len(SLOTS), "41%"]
PICTURE_ORDER = ("cnn", "mlp")  # as the tab shows them


class InsideTab(NamedTuple):
    """What the other tabs wire to: nothing yet, the tab itself."""

    tab: gr.Tab


def read(sketch, endpoint: str):
    """A drawing as the page or a program sent it -> (its strokes or image, what to say when there is none)."""
    drawing = draw.decoded(sketch_part(sketch, endpoint))
    return drawing, "" if drawing is not None else EMPTY_MESSAGE


# ---------------------------------------------------------------- handlers


def inside_view(lab, sketch, endpoint: str):
    """A drawing -> (CNN pictures, MLP pictures, note): [(picture as PNG, caption)] per live model, from the
    models' probes (``lab.reader``); no pictures, and what to do, when there is nothing to read."""
    drawing, message = read(sketch, endpoint)
    if drawing is None:
        return [], [], message
    live = lab.models.pair  # the pair of this moment, even if a put-live swaps it meanwhile
    try:
        _, panels = lab.reader.inside(live, drawing)
    except ImageInputError as exc:  # empty, too small, unreadable: each with its own message
        return [], [], str(exc)
    return shown_inside(live, panels)


def shown_inside(live, panels):
    """Each model's pictures -> (CNN pictures, MLP pictures, a note naming the models)."""
    note = " ".join(f"{missing_model(slot)}" for slot in SLOTS if slot not in live.models)
    shown = " and the ".join(live.models[slot].title for slot in PICTURE_ORDER if slot in live.models)
    return panels.get("cnn", []), panels.get("mlp", []), f"Inside the {shown}. {note}".strip()


def figures_html(panels, kind: str) -> str:
    """Pictures (PNG) with their captions below them (never over them), as one block of the page: inline, no
    file."""
    if not panels:
        return ""
    figures = "".join(
        f'<figure class="inside-figure"><img src="data:image/png;base64,{base64.b64encode(picture).decode()}" '
        f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        for picture, caption in panels
    )
    return f'<div class="inside-grid inside-{kind}">{figures}</div>'


async def show_inside(lab, drawing):
    """The tab's pad, each time the pen is lifted: the pictures, and the what-if of the drawing before cleared (a
    coroutine: the event loop serves other pages while the worker draws them)."""
    found, message = read(drawing, "inside_drawing")
    if found is None:
        return "", "", message, *forget_what_if()
    live = lab.models.pair
    try:
        _, panels = await lab.reader.ainside(live, found)
    except ImageInputError as exc:
        return "", "", str(exc), *forget_what_if()
    cnn, mlp, note = shown_inside(live, panels)
    return figures_html(cnn, "cnn"), figures_html(mlp, "mlp"), note, *forget_what_if()


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
    """A sketch -> (rows, [(variant's 28x28 as PNG, caption)], note): each model's top-1 on every variant."""
    drawing, message = read(sketch, endpoint)
    if drawing is None:
        return [], [], message
    try:
        result = what_if(lab.models.pair.predictor, sketch_image(drawing))
    except ImageInputError as exc:
        return [], [], str(exc)
    captions = [
        f"{row['variant']}: " + " · ".join(answer_words(row, slot, labels.display_name) for slot in SLOTS)
        for row in result.rows
    ]
    pictures = [(png(image), text) for (image, _), text in zip(result.images, captions)]
    return result.rows, pictures, kept_note(result.rows)


def table(rows) -> list[list]:
    """The what-if rows as the tab's table, a line per variant."""

    def cells(row, slot):
        top = row.get(slot)
        return [labels.display_name(top["label"]), f"{top['confidence']:.0%}"] if top else ["-", "-"]

    return [
        [row["variant"], *(c for slot in SLOTS for c in cells(row, slot)), VARIANTS[row["variant"]]] for row in rows
    ]


def show_what_if(lab, drawing):
    """The tab's "What if?" button: (the variants' grid, the table, a note)."""
    rows, pictures, note = what_if_of(lab, drawing, "whatif_drawing")
    return figures_html(pictures, "whatif"), table(rows) if rows else None, note


def forget_what_if():
    """A changed drawing: the variants shown were of the one before."""
    return "", None, WHATIF_PROMPT


# ---------------------------------------------------------------- the API's endpoints

# Shape the API's pictures as a gallery sends them (a ``gr.api`` endpoint skips postprocess); never rendered.
PANELS = gr.Gallery(format="png", render=False)


def pictures(panels) -> list:
    """[(PNG, caption)] -> [(image, caption)], as a gallery takes them."""
    return [(Image.open(io.BytesIO(picture)), caption) for picture, caption in panels]


def inside_api(lab, sketch: dict | None = None) -> tuple[list, list, str]:
    """A drawing (strokes {"strokes": [[xs, ys], ...]}, a sketch {"composite": image file} or the image file
    alone) -> (CNN pictures, MLP pictures, note):
    each a list of {"image": file, "caption": ...}: the CNN's feature maps, one grid per conv stage ("14x14, 64
    maps ..."), and the MLP's most active first-layer templates. A blank canvas: no pictures, and a note that
    says to draw first."""
    cnn, mlp, note = inside_view(lab, sketch, "inside")
    return *as_api([PANELS, PANELS], [pictures(cnn), pictures(mlp)]), note


def whatif_api(lab, sketch: dict | None = None) -> tuple[list, list, str]:
    """A drawing (strokes, a sketch or an image file, as /inside takes it) -> (rows, pictures, note): rows, one
    per variant, {"variant", "mlp": {"label", "confidence"}, "cnn": {...}} with each model's top-1; pictures,
    each variant's 28x28 as the models read it, captioned; a blank canvas: no rows, and a note that says to
    draw first."""
    rows, shown, note = what_if_of(lab, sketch, "whatif")
    return rows, *as_api([PANELS], [pictures(shown)]), note


# ---------------------------------------------------------------- the tab


def build(lab) -> InsideTab:
    """The Inside tab and its events, serving ``lab``."""
    with gr.Tab("Inside", id="inside") as tab:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                drawing = pad.stroke_pad(PAD_ID)
                note = gr.Markdown(EMPTY_MESSAGE, elem_id="inside-note", container=True, padding=True)
            with gr.Column(scale=3, min_width=300):
                gr.Markdown(LEGEND["cnn"])
                cnn_maps = gr.HTML(
                    label="CNN: feature maps at each stage", show_label=True, elem_id="cnn-maps", container=True
                )
                gr.Markdown(LEGEND["mlp"])
                mlp_units = gr.HTML(
                    label="MLP: templates of its most active first-layer units",
                    show_label=True,
                    elem_id="mlp-units",
                    container=True,
                )
        whatif_button = gr.Button("What if? Both models on variants of this drawing", elem_id="whatif-button")
        whatif_note = gr.Markdown(WHATIF_PROMPT, elem_id="whatif-note")
        with gr.Row(equal_height=False):
            whatif_grid = gr.HTML(
                label="What if: the variants, as the models see them (28x28)",
                show_label=True,
                elem_id="whatif-grid",
                container=True,
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

    # One event per lifted pen: the pictures of the new drawing, and the variants of the one before cleared.
    drawing.change(
        bind(show_inside, lab),
        drawing,
        [cnn_maps, mlp_units, note, whatif_grid, whatif_table, whatif_note],
        api_name="inside_drawing",
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="hidden",
        concurrency_limit=PREDICT_CONCURRENCY,
    )
    whatif_button.click(
        bind(show_what_if, lab),
        drawing,
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
