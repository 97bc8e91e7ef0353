"""The classroom issue (11) in a real browser, on a desktop screen (1280x900) and a phone (390x844): the 28x28
preview stays square and uncovered, a Confusions shortcut scrolls to its test images, the confusion matrix can
be seen whole, "Use this model" renames the Draw tab's models, and every tab is screenshotted for a person to
look at.

Playwright drives Debian's Chromium (no GPU) against the app served in this process, with the page's CSS
(``app.LAUNCH_OPTIONS``, as ``python app.py`` launches it). Screenshots go to ``$SKETCH_LAB_ARTIFACTS``
(else a temporary folder), named ``<tab>-<size>.png``.
"""

from __future__ import annotations

import math
import re

import pytest
from browser import (
    SEVEN,
    SIZES,
    chromium,
    draw_stroke,
    launch,
    new_page,
    no_sideways_scroll,
    open_tab,
    pad_ready,
    screenshot,
)

from emnist_core.data.labels import LESSONS, display_name
from emnist_core.models.evaluation import EMNIST

from conftest import served

TIMEOUT_MS = 20_000
TRAIN_TIMEOUT_MS = 120_000
SCROLL_TIMEOUT_MS = 5_000
MIN_PREVIEW_PX = 100
MIN_MATRIX_PX = 600  # the confusion matrix's image, 47 classes a side
# Where the preview is probed for whatever covers it: fractions of the image's box, corners and middle.
PROBES = [(fx, fy) for fy in (0.05, 0.5, 0.95) for fx in (0.05, 0.5, 0.95)]
SHORTCUT = f"{display_name('O')} -> {display_name('0')}"
# (selector, probes) -> [x, y fraction, what is on top there] wherever the element is not the topmost one.
# Gradio's floating block labels take no pointer events (elementFromPoint looks through them), so every
# element is made hit-testable while probing.
COVERED_AT = """([selector, probes]) => {
  const target = document.querySelector(selector), r = target.getBoundingClientRect();
  const style = document.createElement('style');
  style.textContent = '* { pointer-events: auto !important; }';
  document.head.appendChild(style);
  try {
    return probes.map(([fx, fy]) => {
      const hit = document.elementFromPoint(r.left + fx * r.width, r.top + fy * r.height);
      if (hit === target) return null;
      return [fx, fy, hit ? `${hit.tagName.toLowerCase()}${hit.id ? '#' + hit.id : ''}.${hit.className}: `
                            + (hit.textContent || '').trim().slice(0, 40) : 'nothing (off screen)'];
    }).filter(x => x);
  } finally {
    style.remove();
  }
}"""


@pytest.fixture(scope="module")
def launch_options(app_module) -> dict:
    """How the page is launched: with the app's own CSS."""
    return app_module.LAUNCH_OPTIONS


@pytest.fixture(scope="module")
def url(request, launch_options):
    chromium()
    demo = request.getfixturevalue("demo")  # only once a browser is there to use it
    with served(demo, **launch_options) as url:
        yield url


@pytest.fixture(scope="module")
def browser(url):
    with chromium().sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(params=list(SIZES))
def size(request) -> str:
    return request.param


@pytest.fixture
def page(browser, url, size):
    page = new_page(browser, url, size)
    yield page
    page.context.close()


def test_the_preview_is_square_and_nothing_covers_it(page, size, artifacts):
    draw_stroke(page, SEVEN)
    big_answer(page)
    image = page.locator("#preview img")
    image.wait_for()
    image.scroll_into_view_if_needed()
    page.wait_for_timeout(200)  # let the layout settle after the scroll
    box = image.bounding_box()
    assert abs(box["width"] - box["height"]) <= 2, f"the 28x28 preview is not square on the {size}: {box}"
    assert min(box["width"], box["height"]) >= MIN_PREVIEW_PX, f"the preview is too small on the {size}: {box}"
    hits = page.evaluate(COVERED_AT, ["#preview img", PROBES])
    assert not hits, f"on the {size}, something covers the preview image at (x, y fraction, element): {hits}"
    screenshot(page, artifacts / f"draw-{size}.png")


def test_a_confusions_shortcut_scrolls_to_its_test_images(page, size, artifacts, with_data):
    open_tab(page, "Confusions")
    page.get_by_text("test images: accuracy").wait_for()
    page.get_by_role("button", name=SHORTCUT, exact=True).click()
    note = page.locator("#mistakes-note")
    note.get_by_text("read as").wait_for()
    page.locator("#mistakes img").first.wait_for()
    # Clicking scrolls the button into view, which leaves the gallery below it half off the screen; the
    # shortcut must bring the note and the whole gallery box into view.
    where = """() => {
      const note = document.querySelector('#mistakes-note').getBoundingClientRect();
      const gallery = document.querySelector('#mistakes').getBoundingClientRect();
      return {note_top: note.top, gallery_top: gallery.top, gallery_bottom: gallery.bottom, height: innerHeight};
    }"""
    try:  # the scroll is smooth: give it time to arrive
        page.wait_for_function(
            f"() => {{ const w = ({where})(); return w.note_top >= -2 && w.gallery_bottom <= w.height + 2; }}",
            timeout=SCROLL_TIMEOUT_MS,
        )
    except chromium().TimeoutError:
        pass  # the assertions below say where things are
    found = page.evaluate(where)
    assert -2 <= found["note_top"] < found["height"], f"on the {size}, the gallery note is out of view: {found}"
    assert found["gallery_bottom"] <= found["height"] + 2, f"on the {size}, the gallery is cut off below: {found}"
    # "/" escaped too: Playwright sends the pattern as a JavaScript /regex/ ("O / o (letter)" has one).
    ranked = re.compile(rf"^{re.escape(SHORTCUT)}: \d+$".replace("/", r"\/"))
    assert page.get_by_role("radio", name=ranked).is_checked()
    no_sideways_scroll(page)
    screenshot(page, artifacts / f"confusions-{size}.png")


def test_the_whole_confusion_matrix_can_be_seen(page, size, with_data):
    """Its 47 rows and columns of labels need room: drawn at least MIN_MATRIX_PX wide, and where the screen is
    narrower its box scrolls sideways to both of its edges."""
    open_tab(page, "Confusions")
    page.get_by_text("test images: accuracy").wait_for()
    page.wait_for_function("() => document.querySelector('#matrix img')?.naturalWidth > 0")
    found = page.evaluate("""() => {
      const box = document.querySelector('#matrix'), img = box.querySelector('img');
      const edges = () => { const b = box.getBoundingClientRect(), i = img.getBoundingClientRect();
                            return [i.left - b.left, b.right - i.right]; };
      box.scrollLeft = 0;
      const [left] = edges();
      box.scrollLeft = box.scrollWidth;
      const [, right] = edges();
      box.scrollLeft = 0;
      return {left, right, width: img.getBoundingClientRect().width, box: box.clientWidth};
    }""")
    assert found["width"] >= MIN_MATRIX_PX, f"on the {size}, the confusion matrix is too small to read: {found}"
    assert found["left"] >= -1 and found["right"] >= -1, (
        f"on the {size}, part of the confusion matrix cannot be scrolled to (px outside its box): {found}"
    )


TABS = ["Draw", "Inside", "Challenge", "Confusions", "Retrain", "Models"]


def test_the_tab_bar_names_each_tab_once_after_every_tab_was_visited(page, size):
    for name in reversed(TABS):
        open_tab(page, name)
        page.wait_for_timeout(300)
    shown = page.get_by_role("tab").locator("visible=true").all_inner_texts()
    if size == "phone":  # the tabs that do not fit are in the bar's overflow menu
        page.locator(".overflow-menu > button").first.click()
        shown += page.locator(".overflow-dropdown button").locator("visible=true").all_inner_texts()
    assert sorted(name.strip() for name in shown) == sorted(TABS), shown


def test_retrain_and_models_tabs(page, size, artifacts, lab):
    open_tab(page, "Retrain")
    page.get_by_role("button", name="Start").wait_for()
    lab.tests.dataset(EMNIST, wait=120)
    if lab.tests.dataset(EMNIST) is not None:
        page.get_by_text("training images available").wait_for()
    no_sideways_scroll(page)
    screenshot(page, artifacts / f"retrain-{size}.png")
    open_tab(page, "Models")
    for live in lab.models.pair.models.values():
        page.get_by_role("heading", name=live.title).wait_for()
    page.locator("text=Parameters:").first.wait_for()
    page.wait_for_timeout(500)  # the training-curve figures are drawn after the text
    no_sideways_scroll(page)
    screenshot(page, artifacts / f"models-{size}.png")


def test_use_this_model_names_it_on_the_draw_tab(browser, url, lab, with_data, artifacts):
    """Train a tiny MLP through the Retrain tab, put it live, and see the Draw tabs (this page's, a pupil's phone
    open all along, and a phone opened afterwards) name it. The shipped pair is live again afterwards."""
    page, pupil = new_page(browser, url, "desktop"), new_page(browser, url, "phone")
    try:
        open_tab(page, "Retrain")
        page.get_by_text("training images available").wait_for()
        assert page.get_by_role("combobox", name="Architecture").input_value() == "seed-mlp"
        for label, value in (("Epochs", "1"), ("Training images", "500")):
            field = page.get_by_label(f"number input for {label}")
            field.fill(value)
            field.press("Enter")
        page.get_by_role("button", name="Start").click()
        page.locator("p", has_text=re.compile(r"^Done\. ")).wait_for(timeout=TRAIN_TIMEOUT_MS)
        page.reload()  # a page reloaded after training can still put the model live
        pad_ready(page)
        open_tab(page, "Retrain")
        chromium().expect(page.get_by_role("button", name="Use this model")).to_be_enabled()
        page.get_by_role("button", name="Use this model").click()
        page.get_by_text("Careful: this model reads worse").wait_for()  # 500 images: it does
        page.get_by_role("button", name="Use it anyway").click()
        page.get_by_text("is live in the Draw and Confusions tabs").wait_for()
        new = lab.models.get("mlp")
        assert new.name.startswith("seed-mlp-"), new.name
        screenshot(page, artifacts / "retrain-done-desktop.png")

        open_tab(page, "Draw")
        serving, mlp_box = page.locator("#serving"), page.locator("#mlp-label [data-testid='block-label']")
        try:
            page.wait_for_function(
                "name => document.querySelector('#serving').innerText.includes(name)", arg=new.name, timeout=5_000
            )
        except chromium().TimeoutError:
            pass  # the assertion says what it shows instead
        assert new.title in serving.inner_text(), f"the Draw tab still says: {serving.inner_text()}"
        assert mlp_box.inner_text().strip() == new.title
        assert "cnn-pen-prior" in page.locator("#cnn-label [data-testid='block-label']").inner_text()

        # The pupil's page, open all along, names it without a reload, in its boxes and its serving line.
        pupil.wait_for_function(
            "name => document.querySelector('#mlp-label').innerText.includes(name)", arg=new.name, timeout=5_000
        )
        assert new.name in pupil.locator("#serving").inner_text()
        phone = new_page(browser, url, "phone")  # a page opened later is told on load
        try:
            for names in ("#serving", "#mlp-label"):
                phone.wait_for_function(
                    "([where, name]) => document.querySelector(where).innerText.includes(name)",
                    arg=[names, new.name],
                    timeout=5_000,
                )
        finally:
            phone.context.close()
    finally:
        page.context.close()
        pupil.context.close()
        lab.models.restore()
    assert lab.models.get("mlp").name == "mlp-pen-prior"


# ---------------------------------------------------------------- lessons and the one big answer (issue 19)

BAR = [(0, -110), (0, 110)]  # a bare bar: 1, l or I until a lesson says which
# A tall oval, as a pupil draws a zero: the round loop of a 0 and of an O alike.
ROUND = [(45 * math.sin(2 * math.pi * i / 24), -110 * math.cos(2 * math.pi * i / 24)) for i in range(25)]
# (selector) -> whether the element is wholly inside the screen as it is now (no scrolling).
ON_SCREEN = (
    "(s) => { const r = document.querySelector(s).getBoundingClientRect(); "
    "return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; }"
)


def big_answer(page) -> str:
    answer = page.locator("#verdict h2")
    try:
        answer.wait_for()
    except chromium().TimeoutError:  # say what the page shows instead: a lost stroke, an error, a message
        raise AssertionError(f"no answer shown; the verdict says {page.locator('#verdict').inner_text()!r}") from None
    return answer.inner_text().strip()


def assert_answer_beside_the_pad(page, size):
    """The pad and the big answer are both on the screen at once: a pupil who draws sees the answer."""
    for selector in ("#sketchpad canvas", "#verdict h2"):
        assert page.evaluate(ON_SCREEN, selector), f"on the {size}, {selector} is not on the screen"


def test_a_digits_lesson_reads_a_bar_as_1(page, size):
    page.get_by_role("radio", name=LESSONS["digits"]).check()
    page.evaluate("() => scrollTo(0, 0)")  # back up to the pad, as a person does after choosing
    draw_stroke(page, BAR)
    assert big_answer(page) == display_name("1")
    for side in ("#mlp-label", "#cnn-label"):
        shown = page.locator(f"{side} .confidence-set .text").all_inner_texts()
        assert len(shown) == 5 and all(name.strip()[0].isdigit() for name in shown), shown  # no letter at all
    assert_answer_beside_the_pad(page, size)


def test_a_round_shape_gets_the_doubt_as_its_big_answer(page, size, artifacts):
    draw_stroke(page, ROUND, steps=1)  # its 24 points are close enough together
    answer = big_answer(page)
    assert answer.endswith("?") and display_name("0") in answer and display_name("O") in answer, answer
    assert "Not sure" not in page.locator("#verdict").inner_text()  # the question says it: no second line
    assert_answer_beside_the_pad(page, size)
    if size == "desktop":
        page.screenshot(path=str(artifacts / "app-draw.png"), clip={"x": 0, "y": 140, "width": 1280, "height": 660})
