"""The class view: one page for the projector (``/class``) that follows the class's Challenge live.

How many drawings each class has, how often each model read them right, the hardest classes now, and the latest
drawings of each class with what each model read (as Quick, Draw! shows what others drew). Nothing about a pupil:
drawings are kept without a name. Large type, high contrast, readable from the back of a room; the page refreshes
itself every few seconds, without a reload, and redraws only when a drawing came.
"""

from __future__ import annotations

import html

import gradio as gr
import numpy as np

from emnist_core.data import labels
from emnist_core.lab.scores import DRAWN, RIGHT
from emnist_core.models.registry import SLOTS
from ui.page import bind, inline_png

REFRESH_SECONDS = 3.0
NEWEST_READ = 300  # the newest drawings read for the mosaic: a few per class for a busy class
PER_CLASS = 6  # drawings shown per class, newest first
HARDEST_SHOWN = 5
HARDEST_MIN_DRAWN = 2  # a class read wrong once is not yet "hard"
NOTHING_YET = "Nobody has drawn yet. Pupils: open the **Challenge** tab and draw what it asks."
CSS = """
#class-view { --cv-ink: #111; --cv-paper: #fff; --cv-right: #0a6b2b; --cv-wrong: #b3261e; color: var(--cv-ink); }
#class-view h1 { font-size: clamp(1.8rem, 4vw, 3.2rem); margin: 0 0 0.3em; }
#class-view h2 { font-size: clamp(1.3rem, 2.6vw, 2.2rem); margin: 0.6em 0 0.3em; }
.cv-head { font-size: clamp(1.3rem, 3vw, 2.6rem); line-height: 1.3; }
.cv-head b { font-size: 1.25em; }
.cv-hardest { display: flex; flex-wrap: wrap; gap: 12px; }
.cv-hard { border: 3px solid var(--cv-wrong); border-radius: 12px; padding: 8px 16px;
  font-size: clamp(1.1rem, 2.2vw, 1.8rem); }
.cv-classes { display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(min(100%, 300px), 1fr)); }
.cv-class { border: 2px solid #888; border-radius: 12px; padding: 10px 12px; background: var(--cv-paper); }
.cv-title { display: flex; align-items: baseline; gap: 12px; font-size: clamp(1.1rem, 2vw, 1.6rem); }
.cv-char { font-size: 2.4em; font-weight: 700; line-height: 1; min-width: 1.2em; }
.cv-bar { display: grid; grid-template-columns: 3.2em 1fr 3.2em; align-items: center; gap: 8px; margin: 4px 0;
  font-size: clamp(1rem, 1.6vw, 1.3rem); font-weight: 600; }
.cv-track { background: #ddd; height: 0.9em; border-radius: 6px; overflow: hidden; }
.cv-fill { background: #1f4e9c; height: 100%; }
.cv-tiles { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
.cv-tile { margin: 0; text-align: center; font-size: 0.95rem; font-weight: 600; }
.cv-tile img { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #999; border-radius: 6px;
  display: block; background: #fff; }
.cv-right { color: var(--cv-right); } .cv-wrong { color: var(--cv-wrong); }
"""


def _rate(counts: dict, slot: str) -> float:
    return counts[RIGHT[slot]] / max(counts[DRAWN], 1)


def headline(scores: dict) -> str:
    drawn = scores["drawings"]
    if not drawn:
        return f'<div class="cv-head">{html.escape(NOTHING_YET).replace("**", "")}</div>'
    rates = " · ".join(f"{SLOTS[slot]} read <b>{scores[RIGHT[slot]] / drawn:.0%}</b>" for slot in reversed(SLOTS))
    return f'<div class="cv-head"><b>{drawn:,}</b> drawing{"s" * (drawn != 1)} · {rates}</div>'


def hardest(per_class: dict) -> str:
    """The classes the models read worst (both models' share right, averaged), among those drawn a few times."""
    enough = [name for name, c in per_class.items() if c[DRAWN] >= HARDEST_MIN_DRAWN]
    ranked = sorted(
        enough, key=lambda name: (np.mean([_rate(per_class[name], slot) for slot in SLOTS]), -per_class[name][DRAWN])
    )
    worst = [name for name in ranked if min(_rate(per_class[name], slot) for slot in SLOTS) < 1][:HARDEST_SHOWN]
    if not worst:
        # Not "no class is hard" while the classes read wrong were drawn too seldom to tell.
        said = (
            f"No class is hard yet: every class drawn {HARDEST_MIN_DRAWN} times or more was read right."
            if enough
            else f"Too soon to say: no class has been drawn {HARDEST_MIN_DRAWN} times yet."
        )
        return f'<p class="cv-head">{said}</p>'
    items = "".join(
        f'<div class="cv-hard"><span class="cv-char">{html.escape(labels.display_name(name))}</span> '
        + " · ".join(f"{SLOTS[slot]} {_rate(per_class[name], slot):.0%}" for slot in reversed(SLOTS))
        + f" of {per_class[name][DRAWN]}</div>"
        for name in worst
    )
    return f'<div class="cv-hardest">{items}</div>'


def tile(x28: np.ndarray, asked: str, tops: dict) -> str:
    """One drawing as the models saw it (dark ink on white here) and what each read: right in green with a tick,
    wrong in red with a cross (not by colour alone)."""
    readings = []
    for slot, title in SLOTS.items():
        top = tops.get(slot) or [["?", 0.0]]
        name = str(top[0][0])
        right = name == asked
        mark = "✓" if right else "✗"
        readings.append(
            f'<span class="{"cv-right" if right else "cv-wrong"}">{title[0]}: {html.escape(name)} {mark}</span>'
        )
    return (
        f'<figure class="cv-tile"><img src="{inline_png(255 - x28)}" alt="a drawing of {html.escape(asked)}">'
        f"<figcaption>{' '.join(readings)}</figcaption></figure>"
    )


def mosaic(per_class: dict, latest) -> str:
    """A card per class drawn, in label order: its count, each model's share read right, its newest drawings."""
    newest: dict[str, list[str]] = {}
    for i in range(len(latest) - 1, -1, -1):  # newest first
        name = latest.names[i]
        if len(newest.setdefault(name, [])) < PER_CLASS:
            newest[name].append(tile(latest.x[i], name, latest.tops[i]))
    cards = []
    for name, counts in per_class.items():
        bars = "".join(
            f'<div class="cv-bar"><span>{title}</span><span class="cv-track"><span class="cv-fill" '
            f'style="display:block;width:{100 * _rate(counts, slot):.0f}%"></span></span>'
            f"<span>{_rate(counts, slot):.0%}</span></div>"
            for slot, title in reversed(SLOTS.items())
        )
        cards.append(
            f'<div class="cv-class"><div class="cv-title"><span class="cv-char">'
            f"{html.escape(labels.display_name(name))}</span><span>{counts[DRAWN]:,} drawn</span></div>{bars}"
            f'<div class="cv-tiles">{"".join(newest.get(name, []))}</div></div>'
        )
    return f'<div class="cv-classes">{"".join(cards)}</div>'


def board(lab) -> str:
    """The whole view now: the headline, the hardest classes, a card per class."""
    scores = lab.classroom.scores()
    per_class = scores["per_class"]
    parts = ["<h1>The class, live</h1>", headline(scores)]
    if per_class:
        latest = lab.classroom.latest_drawings(NEWEST_READ)
        parts += ["<h2>Hardest now</h2>", hardest(per_class)]
        parts += ["<h2>Each class: what the class drew, and what each model read</h2>", mosaic(per_class, latest)]
    return "".join(parts)


def refresh(lab, shown):
    """Each tick and on load: (the view, what it shows), or skips while no drawing came."""
    ids = lab.classroom.drawing_ids()
    now = (lab.classroom.scores()["drawings"], ids[-1] if ids else None)
    if now == shown:
        return gr.skip(), shown
    return board(lab), now


def build(lab, page: gr.Blocks) -> None:
    """The class view on ``page`` (its route, made by ``app.py``), refreshed on load and every few seconds."""
    view = gr.HTML(elem_id="class-view", css_template=CSS, padding=True)
    shown = gr.State(None)
    timer = gr.Timer(REFRESH_SECONDS)
    private = {"api_visibility": "private", "show_progress": "hidden"}
    page.load(bind(refresh, lab), shown, [view, shown], **private)
    timer.tick(bind(refresh, lab), shown, [view, shown], **private)
