"""The framework's floor: a Gradio page with the app's drawing pad and events of the same names, whose handlers do
nothing. ``bench_class.py`` drives it exactly as it drives the app, in the same run, so the app's figures can be
given as a ratio to what Gradio itself costs on this machine.

    python bench/floor_app.py --port 7861
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import gradio as gr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ui.pad import on_load, stroke_pad
from ui.page import PREDICT_CONCURRENCY

answered = iter(range(1, 10**12))


def nothing(*values):
    """An answer that differs each time (a counter), so that a page shows each one as the app's page does."""
    return f"ok {next(answered)}"


def build() -> gr.Blocks:
    """One pad per tab the bench drives, each with the app's event names and concurrency, answering at once."""
    with gr.Blocks() as demo:
        answer = gr.Markdown(elem_id="verdict")
        settings = {"show_progress": "hidden", "concurrency_limit": PREDICT_CONCURRENCY, "api_visibility": "private"}
        for tab, events in (("draw", ["draw"]), ("inside", ["inside_drawing"]), ("challenge", ["challenge_live"])):
            with gr.Tab(tab):
                pad = stroke_pad(f"{tab}-pad")
            for name in events:
                pad.change(nothing, pad, answer, api_name=name, trigger_mode="always_last", **settings)
        # The Challenge's Done takes the round, the prompt shown, the drawing and the time limit, as the app's does.
        current, shown, limit, done = gr.State(None), gr.State(None), gr.Radio(["No time limit"]), gr.Button("Done")
        done.click(nothing, [current, shown, pad, limit], answer, api_name="challenge_done", **settings)
        gr.Button("New").click(nothing, None, answer, api_name="challenge_new", **settings)
        on_load(demo)
    demo.queue(default_concurrency_limit=PREDICT_CONCURRENCY)
    return demo


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7861)))
    args = parser.parse_args()
    build().launch(server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, quiet=True)
    while True:
        time.sleep(3600)
