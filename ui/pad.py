"""The drawing pad: a canvas of our own (``gr.HTML`` with a script, no build step) that records pen strokes and sends
them, a few hundred bytes, once per lifted pen; and the checks its value gets on the server.

It records pointer events (mouse, touch, pen) in the server's canvas pixels (``sketchpad.CANVAS``) and shows them
with the server's brush (``sketchpad.BRUSH_RADIUS``), so what a pupil sees is what the server draws with
``sketchpad.draw_strokes``, the renderer that drew every training character. *Undo* takes the last stroke back,
*Clear* empties the pad; both tell the server. The server may clear the pad by setting its value to ``EMPTY``.
A page with pads calls ``on_load``: strokes lifted before the page has loaded (Gradio hears no event then) are kept
and sent once it has.

Its value: ``{"strokes": [[xs, ys, ts], ...]}``, one entry per stroke, as Quick, Draw! records a drawing: x and y
in canvas pixels (y down), t in milliseconds since the drawing's first point.
"""

from __future__ import annotations

import json

import gradio as gr
import numpy as np

from emnist_core.data import strokes
from emnist_core.data.sketchpad import BRUSH_RADIUS, CANVAS, draw_strokes

PAD_PX = 340  # the pad's largest side on the page; it shrinks to fit a phone
EMPTY = {"strokes": []}
LOADED = "sketch-lab-loaded"  # the window's flag and event: the page has loaded, Gradio hears the pads' events

HTML = """
<div class="pad-frame">
  <canvas class="pad-canvas" aria-label="Drawing pad: draw one character here" role="img"></canvas>
  <div class="pad-tools">
    <button type="button" class="pad-undo" aria-label="Undo the last stroke">Undo</button>
    <button type="button" class="pad-clear" aria-label="Clear the pad">Clear</button>
  </div>
</div>
"""
CSS = f"""
.pad-frame {{ display: flex; flex-direction: column; align-items: center; gap: 8px; }}
.pad-canvas {{ width: min({PAD_PX}px, 100%); aspect-ratio: 1; background: #fff; border: 2px solid #d0d0d0;
  border-radius: 8px; touch-action: none; cursor: crosshair; display: block; }}
.pad-tools {{ display: flex; gap: 12px; }}
.pad-tools button {{ min-width: 96px; min-height: 44px; padding: 6px 16px; border-radius: 8px; font-size: 1rem;
  border: 1px solid #bbb; background: #f4f4f5; color: #111; cursor: pointer; touch-action: manipulation; }}
.pad-tools button:disabled {{ opacity: 0.45; cursor: default; }}
"""
# Runs once per pad, in the page (Gradio's js_on_load: ``element``, ``props``, ``watch``).
JS = """
const SIDE = __CANVAS__, RADIUS = __RADIUS__;
const LOADED = __LOADED__;  // the window's flag and event once the page has loaded
const canvas = element.querySelector('.pad-canvas');
const undo = element.querySelector('.pad-undo'), clear = element.querySelector('.pad-clear');
const ctx = canvas.getContext('2d');
let strokes = [], current = null, start = null, sent = 0;
// Gradio drops the events of a page that has not finished loading (a slow phone, a busy server): a stroke lifted
// before then is sent again once the page has loaded (``on_load``), so no first stroke goes unanswered.
let heard = false;

const round = (v) => Math.round(v * 10) / 10;
function fit() {  // the canvas's own pixels follow its size on the screen: sharp on any screen
  const box = canvas.getBoundingClientRect(), ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(box.width * ratio));
  canvas.height = Math.max(1, Math.round(box.height * ratio));
  redraw();
}
function brush() {
  ctx.setTransform(canvas.width / SIDE, 0, 0, canvas.height / SIDE, 0, 0);
  ctx.strokeStyle = '#000'; ctx.lineWidth = 2 * RADIUS; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
}
function line(stroke, from) {
  const [xs, ys] = stroke, first = Math.max(0, from);
  ctx.beginPath();
  ctx.moveTo(xs[first], ys[first]);
  if (xs.length === 1) ctx.lineTo(xs[0] + 0.01, ys[0]);  // a tap is a dot
  for (let i = first + 1; i < xs.length; i++) ctx.lineTo(xs[i], ys[i]);
  ctx.stroke();
}
function redraw() {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  brush();
  for (const stroke of strokes) line(stroke, 0);
  if (current) line(current, 0);
  undo.disabled = clear.disabled = strokes.length === 0;
}
function at(event) {
  const box = canvas.getBoundingClientRect();
  const x = Math.min(SIDE, Math.max(0, (event.clientX - box.left) / box.width * SIDE));
  const y = Math.min(SIDE, Math.max(0, (event.clientY - box.top) / box.height * SIDE));
  return [round(x), round(y), Math.round(performance.now() - start)];
}
function add(point) { for (let k = 0; k < 3; k++) current[k].push(point[k]); }
function send() {  // a new value is sent to the server by Gradio itself, as one "change" event
  props.value = {strokes: strokes.map((s) => s.map((v) => v.slice())), sent: ++sent};
}
canvas.addEventListener('pointerdown', (event) => {
  if (event.button > 0) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  if (start === null) start = performance.now();
  current = [[], [], []];
  add(at(event));
  brush();
  line(current, 0);
});
canvas.addEventListener('pointermove', (event) => {
  if (!current) return;
  event.preventDefault();
  const from = current[0].length - 1;
  const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : [];  // empty for a script's events
  for (const e of (coalesced.length ? coalesced : [event])) add(at(e));
  brush();
  line(current, from);
});
function lift(event) {
  if (!current) return;
  if (event.type === 'pointerup') add(at(event));
  strokes.push(current);
  current = null;
  redraw();
  send();
}
canvas.addEventListener('pointerup', lift);
canvas.addEventListener('pointercancel', lift);
// A finger's lift acts at once: a phone may drop the click of a tap that comes right after a stroke.
function onPress(button, act) {
  let touched = -1e9;
  button.addEventListener('pointerup', (event) => {
    if (event.pointerType === 'mouse' || button.disabled) return;
    touched = performance.now();
    act();
  });
  button.addEventListener('click', () => { if (performance.now() - touched > 800) act(); });  // mouse, keyboard
}
onPress(undo, () => { strokes.pop(); if (!strokes.length) start = null; redraw(); send(); });
onPress(clear, () => { strokes = []; start = null; redraw(); send(); });
// The server set the pad's value (a new Challenge prompt clears it): show what it holds. (Before the page has
// loaded, the value Gradio sets is the pad's first, empty one: the strokes drawn meanwhile stay, to be sent.)
watch('value', () => {
  const value = props.value;
  if (!heard) return;
  if (!value || !Array.isArray(value.strokes) || value.strokes.length === 0) {
    strokes = []; current = null; start = null; redraw();
  }
});
new ResizeObserver(fit).observe(canvas);
fit();
function loaded() {
  if (heard) return;
  heard = true;
  canvas.dataset.ready = '1';  // drawing is heard from now on (tests wait for it)
  if (strokes.length) send();
}
if (window[LOADED]) loaded(); else window.addEventListener(LOADED, loaded, {once: true});
"""
JS = JS.replace("__CANVAS__", str(CANVAS)).replace("__RADIUS__", json.dumps(BRUSH_RADIUS))
JS = JS.replace("__LOADED__", json.dumps(LOADED))
# The page's load event, in the page: from then on Gradio hears the pads (and a pad made later hears at once).
LOADED_JS = f"() => {{ window[{json.dumps(LOADED)}] = true; window.dispatchEvent(new Event({json.dumps(LOADED)})); }}"


def stroke_pad(elem_id: str, label: str = "Draw here") -> gr.HTML:
    """A drawing pad (see the module doc), empty, whose ``change`` event fires once per lifted pen."""
    return gr.HTML(
        value=EMPTY,
        label=label,
        show_label=True,
        html_template=HTML,
        css_template=CSS,
        js_on_load=JS,
        elem_id=elem_id,
        elem_classes="stroke-pad",
        container=True,
        padding=False,
    )


def on_load(page: gr.Blocks) -> None:
    """Tell ``page``'s pads when it has loaded (in the page, no request): a page with pads calls this once."""
    page.load(None, js=LOADED_JS)


def is_strokes(value) -> bool:
    """Whether a payload is a pad's value (strokes), not an image."""
    return isinstance(value, dict) and "strokes" in value


def checked_strokes(value) -> strokes.Strokes:
    """A pad's value as sent -> its strokes, checked and rounded (``strokes.checked``); ValueError saying what to
    send for anything else."""
    return strokes.checked(value.get("strokes") if isinstance(value, dict) else None)


def drawing(value) -> np.ndarray | None:
    """A pad's value -> the sketch the server draws of it (``sketchpad.draw_strokes``), or None for an empty pad;
    ValueError for a value that is not strokes."""
    found = checked_strokes(value)
    return draw_strokes(strokes.points(found)) if found else None
