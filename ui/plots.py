"""The page's figures, as PNG images inline in HTML: drawn once per content by the Lab's figure cache
(``lab.figures``), from what the caller hands over (never looked up again by a model's path, so a model put live
meanwhile cannot make one fail). No figure object is shared between requests, and no file is written."""

from __future__ import annotations

import base64
import html

EMPTY = ""  # no figure yet: an empty box


def figure_html(lab, kind: str, data, title: str, keep: bool = True) -> str:
    """``lab.figures``' ``kind`` figure of ``data`` as an <img>, captioned by ``title`` for screen readers."""
    encoded = base64.b64encode(lab.figures.png(kind, data, title, keep=keep)).decode("ascii")
    return f'<img class="figure" src="data:image/png;base64,{encoded}" alt="{html.escape(title)}">'


def curves(lab, history, name, keep: bool = False) -> str:
    """Loss and accuracy per epoch, or an empty box without a history. ``keep``: a finished model's curves, drawn
    once; a running job's change with every epoch and are not kept."""
    if not history:
        return EMPTY
    return figure_html(lab, "curves", history, f"{name}: training curves", keep=keep)
