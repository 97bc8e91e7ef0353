"""The Draw tab's "Read wrong? It was..." picker: a class found by what a person types, case and all.

Gradio's dropdown filters its choices without regard to case and takes the first match on Enter: "q" would pick Q,
"o" would pick "0 (zero)". ``EXACT_CASE_JS`` makes Enter pick the choice the typed text names exactly, when one
does (``typed_names``); anything else is left to the dropdown.
"""

from __future__ import annotations

import json

from emnist_core.data import labels
from ui.checks import CLASSES


def typed_names(names) -> dict[str, str]:
    """What a person may type for each class -> the class's name in the correction list: the class ("q", "Q"),
    a merged class's lower case ("c"), its shown name ("C / c"); by ``labels.class_from_text``'s rule."""
    typed = {}
    for name in names:
        for text in (name, name.lower(), labels.display_name(name)):
            if labels.class_from_text(text, names) == name:
                typed[text] = labels.display_name(name)
    return typed


# On Enter: the option the typed text names exactly, pressed as a mouse would press it.
EXACT_CASE_JS = """
() => {
  const box = document.querySelector('#correct-pick');
  if (!box || box.dataset.exactCase) return;
  box.dataset.exactCase = '1';
  const named = new Map(Object.entries(TYPED));
  box.addEventListener('keydown', (event) => {
    const input = box.querySelector('input');
    const want = event.key === 'Enter' && input && named.get(input.value.trim());
    const option = want && [...box.querySelectorAll('li[data-index]')].find(li => li.innerText.trim() === want);
    if (!option) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    option.dispatchEvent(new MouseEvent('mousedown', {bubbles: true, cancelable: true}));
  }, true);
}
""".replace("TYPED", json.dumps(typed_names(CLASSES)))
