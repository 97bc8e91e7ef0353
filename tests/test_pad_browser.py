"""The drawing pad in a real browser, as a person uses it: a mouse on a desktop, a finger on a phone; Undo and Clear;
one small request per lifted pen and no file upload; the page holds still while a finger draws."""

from __future__ import annotations

import json

import pytest
from browser import (
    BAR,
    SCALE_TO,
    SEVEN,
    STROKE_STEPS,
    chromium,
    draw_stroke,
    launch,
    new_page,
    settle,
    touch_stroke,
)

from conftest import served

TIMEOUT_MS = 20_000
QUIET_MS = 1_000  # after the answer: anything the stroke still sends would go out by then
MAX_REQUESTS = 3  # per stroke: the event, and its answer's stream
MAX_STROKE_BYTES = 4_000  # a stroke's points, as the page sends them


@pytest.fixture(scope="module")
def browser(app_module, demo):
    sync_api = chromium()
    with served(demo, **app_module.LAUNCH_OPTIONS) as url, sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        browser.app_url = url
        yield browser
        browser.close()


@pytest.fixture
def desktop(browser):
    page = new_page(browser, browser.app_url, "desktop", TIMEOUT_MS)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser):
    page = new_page(browser, browser.app_url, "phone", TIMEOUT_MS)
    yield page
    page.context.close()


PREVIEW = "img[alt='the 28x28 image the models see']"
PREVIEW_IS = "([selector, src, same]) => (document.querySelector(selector)?.src === src) === same"


def answer(page) -> str:
    """The big answer once the page shows one."""
    big = page.locator("#verdict h2")
    big.wait_for()
    return big.inner_text().strip()


def test_a_stroke_is_one_small_request_and_no_upload(desktop):
    page = desktop
    settle(page)  # the page's own events on load are done
    sent = []
    page.on("request", lambda r: sent.append((r.method, r.url, r.post_data or "")))
    draw_stroke(page, SEVEN)
    assert answer(page) == "7"
    page.wait_for_timeout(QUIET_MS)
    assert not [url for _, url, _ in sent if "/upload" in url], sent
    assert len(sent) <= MAX_REQUESTS, [f"{m} {u}" for m, u, _ in sent]
    joins = [body for method, url, body in sent if method == "POST" and "/queue/join" in url]
    assert len(joins) == 1 and len(joins[0]) <= MAX_STROKE_BYTES, joins
    strokes = json.loads(joins[0])["data"][0]["strokes"]
    assert len(strokes) == 1 and len(strokes[0]) == 3  # one stroke: its xs, ys and times


# In the page before it loads: as soon as the pad's script has run (it sizes the canvas), a mouse draws the points
# (offsets from the pad's centre, in pixels of a pad SCALE_TO wide) on it, and notes whether the page had loaded.
EARLY_STROKE = """([points, scaleTo, steps]) => new MutationObserver((changes, observer) => {
  const canvas = document.querySelector('#sketchpad canvas.pad-canvas');
  if (!canvas || !canvas.hasAttribute('width')) return;
  observer.disconnect();
  const draw = () => {
  const box = canvas.getBoundingClientRect(), scale = box.width / scaleTo;
  if (!box.width || Math.abs(box.width - box.height) > 1) return requestAnimationFrame(draw);  // laid out yet?
  const at = (type, [x, y]) => canvas.dispatchEvent(new PointerEvent(type, {pointerId: 1, pointerType: 'mouse',
    isPrimary: true, button: 0, buttons: type === 'pointerup' ? 0 : 1, bubbles: true,
    clientX: box.left + box.width / 2 + scale * x, clientY: box.top + box.height / 2 + scale * y}));
  at('pointerdown', points[0]);
  for (let i = 1; i < points.length; i++) {
    const [[x0, y0], [x1, y1]] = [points[i - 1], points[i]];
    for (let k = 1; k <= steps; k++) at('pointermove', [x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps]);
  }
  at('pointerup', points[points.length - 1]);
  window.earlyStroke = {pageLoaded: Boolean(window[LOADED])};
  };
  draw();
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['width']})"""


def test_a_stroke_lifted_while_the_page_loads_is_answered_once_it_has(browser):
    """A pupil on a slow phone draws before the page has finished loading: Gradio hears no event then, and sets the
    pad's first value as it finishes. The stroke stays on the pad and is answered once the page has loaded."""
    from ui.pad import LOADED

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    script = EARLY_STROKE.replace("LOADED", json.dumps(LOADED))
    page.add_init_script(f"({script})({json.dumps([SEVEN, SCALE_TO, STROKE_STEPS])})")
    try:
        page.goto(browser.app_url)
        page.wait_for_function("() => window.earlyStroke")
        assert page.evaluate("() => window.earlyStroke") == {"pageLoaded": False}  # drawn before the page loaded
        assert answer(page) == "7"
        assert page.get_by_role("button", name="Undo the last stroke").is_enabled()  # the stroke is still there
    finally:
        context.close()


def test_undo_takes_the_last_stroke_back_and_clear_empties_the_pad(desktop):
    page = desktop
    undo, clear = (
        page.get_by_role("button", name="Undo the last stroke"),
        page.get_by_role("button", name="Clear the pad"),
    )
    assert undo.is_disabled() and clear.is_disabled()  # nothing to undo on an empty pad
    draw_stroke(page, SEVEN)
    assert answer(page) == "7"
    seven = page.locator(PREVIEW).get_attribute("src")
    draw_stroke(page, BAR)  # a bar across it: the models see another drawing
    page.wait_for_function(PREVIEW_IS, arg=[PREVIEW, seven, False])
    undo.click()  # the bar taken back: the 7 again, exactly
    page.wait_for_function(PREVIEW_IS, arg=[PREVIEW, seven, True])
    assert answer(page) == "7"
    undo.click()  # and the 7: nothing left
    page.get_by_text("The canvas is empty").wait_for()
    assert undo.is_disabled()
    draw_stroke(page, SEVEN)
    assert answer(page) == "7"
    clear.click()
    page.get_by_text("The canvas is empty").wait_for()
    ink = page.evaluate(
        """() => { const c = document.querySelector('#sketchpad canvas.pad-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let dark = 0; for (let i = 0; i < d.length; i += 4) dark += d[i] < 128; return dark; }"""
    )
    assert ink == 0  # the pad shows nothing either


def test_a_finger_draws_on_a_phone_and_the_page_holds_still(phone):
    page = phone
    pad = page.locator("#sketchpad canvas.pad-canvas")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 250  # whole, and big enough
    before = page.evaluate("() => window.scrollY")
    touch_stroke(page, SEVEN)
    assert answer(page) == "7"
    assert page.evaluate("() => window.scrollY") == before  # the finger drew; the page did not move
    seven = page.locator(PREVIEW).get_attribute("src")
    touch_stroke(page, BAR)
    page.wait_for_function(PREVIEW_IS, arg=[PREVIEW, seven, False])
    page.get_by_role("button", name="Undo the last stroke").tap()
    page.wait_for_function(PREVIEW_IS, arg=[PREVIEW, seven, True])
    assert answer(page) == "7"


def test_a_letter_drawn_in_the_digits_lesson_gets_a_hint(desktop):
    """An A drawn in the Digits lesson is only a doubtful digit there: the page says that it reads as a letter."""
    page = desktop
    page.locator("#lesson").get_by_role("radio", name="Digits 0-9").check()
    draw_stroke(page, [(-90, 120), (0, -120), (90, 120)])
    answer(page)
    draw_stroke(page, [(-50, 35), (50, 35)])
    page.locator("#verdict").get_by_text("Not in this lesson?").wait_for()
    assert "read A" in page.locator("#verdict").inner_text()
