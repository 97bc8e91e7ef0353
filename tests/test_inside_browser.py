"""The Inside tab in a real browser: a person opens it, draws a 7, sees the CNN's stage grids and the MLP's
templates with their captions, presses "What if?" and sees the variants' grid with both models' answers.

Playwright drives Debian's Chromium (no GPU) against the app served in this process, launched as ``python app.py``
launches it. Screenshots go to ``$SKETCH_LAB_ARTIFACTS`` (else a temporary folder).
"""

from __future__ import annotations

import re

import pytest
from browser import BAR, SEVEN, chromium, draw_stroke, launch, new_page, open_tab

from emnist_core.serving.variants import VARIANTS
from ui import inside

from conftest import served

TIMEOUT_MS = 30_000  # the first drawing may wait for the models' layers to load


@pytest.fixture(scope="module")
def page(app_module, demo):
    sync_api = chromium()
    with served(demo, **app_module.LAUNCH_OPTIONS) as url, sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = new_page(browser, url, timeout_ms=TIMEOUT_MS)
        yield page
        browser.close()


def captions(page, gallery: str) -> list[str]:
    return [c.strip() for c in page.locator(f"#{gallery} figcaption").all_inner_texts()]


CAPTIONS_BELOW = """gallery => [...document.querySelectorAll(`#${gallery} figure`)].map(figure => {
    const picture = figure.querySelector("img").getBoundingClientRect(), caption = figure.querySelector("figcaption");
    const box = caption.getBoundingClientRect();
    return box.top >= picture.bottom - 1 && caption.scrollHeight <= caption.clientHeight + 1
        && caption.scrollWidth <= caption.clientWidth + 1;
})"""


def captions_whole_and_below(page, gallery: str) -> None:
    """Every caption sits under its picture (none covers it) and shows all its words (none is cut off)."""
    placed = page.evaluate(CAPTIONS_BELOW, gallery)
    assert placed and all(placed), (gallery, placed)


def test_drawing_on_the_inside_tab_shows_each_models_inside(page, lab, artifacts):
    open_tab(page, "Inside")
    assert page.locator("#cnn-maps img").count() == 0  # nothing drawn, no pictures
    draw_stroke(page, SEVEN, pad=f"#{inside.PAD_ID}")
    page.locator("#inside-note").get_by_text(lab.models.get("cnn").title).wait_for()
    stages = captions(page, "cnn-maps")
    assert len(stages) == 3 and [re.match(r"Stage (\d): (\d+)x\2, (\d+) maps", c).group(2) for c in stages] == [
        "28",
        "14",
        "7",
    ], stages
    units = captions(page, "mlp-units")
    assert len(units) == 8 and all(re.match(r"Unit \d+ of \d+ in the", c) for c in units), units
    for gallery in ("cnn-maps", "mlp-units"):
        captions_whole_and_below(page, gallery)
    page.screenshot(path=str(artifacts / "inside-tab.png"), full_page=True)


def test_what_if_shows_the_variants_with_both_answers(page, artifacts):
    page.get_by_role("button", name="What if?").click()
    page.locator("#whatif-grid img").nth(len(VARIANTS) - 1).wait_for()
    shown = captions(page, "whatif-grid")
    assert [c.split(":")[0] for c in shown] == list(VARIANTS), shown
    assert shown[0].startswith("as drawn: MLP 7 ") and " · CNN 7 " in shown[0], shown[0]
    assert all(re.search(r"MLP .+ \d+% · CNN .+ \d+%$", c) for c in shown), shown
    page.locator("#whatif-table").get_by_text("with noise", exact=True).wait_for()
    table = page.locator("#whatif-table").inner_text()
    assert all(variant in table for variant in VARIANTS) and "MLP sure" in table
    assert "still reads 7" in page.locator("#whatif-note").inner_text()
    captions_whole_and_below(page, "whatif-grid")
    page.screenshot(path=str(artifacts / "inside-whatif.png"), full_page=True)


def test_a_new_stroke_clears_the_variants_of_the_drawing_before(page):
    draw_stroke(page, BAR, pad=f"#{inside.PAD_ID}")  # a bar across the 7
    page.locator("#whatif-note").get_by_text("Press What if?").wait_for()
    assert page.locator("#whatif-grid img").count() == 0
