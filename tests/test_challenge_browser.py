"""The Challenge tab in a real browser on a phone (390x844): a pupil reads what to draw, draws it, presses Done, sees
who read it and the scores move; the teacher then finds the drawing in the Confusions tab's third test set.

Playwright drives Debian's Chromium (no GPU) against the app served in this process, with the page's CSS. A
screenshot goes to ``$SKETCH_LAB_ARTIFACTS`` (else a temporary folder) as ``challenge-phone.png``.
"""

from __future__ import annotations

import re

import pytest
from browser import SEVEN, chromium, launch, new_page, no_sideways_scroll, open_tab, settle, touch_stroke

from emnist_core.lab.challenge import prompt_text
from emnist_core.lab.classroom import Classroom
from emnist_core.lab.corrections import CHALLENGE, CorrectionStore

from conftest import served

TIMEOUT_MS = 30_000
PAD = "#challenge-pad"


@pytest.fixture(scope="module")
def url(request, app_module):
    chromium()
    demo = request.getfixturevalue("demo")  # only once a browser is there to use it
    with served(demo, **app_module.LAUNCH_OPTIONS) as url:
        yield url


@pytest.fixture
def phone(url):
    with chromium().sync_playwright() as playwright:
        browser = launch(playwright)
        yield new_page(browser, url, "phone", timeout_ms=TIMEOUT_MS)
        browser.close()


def test_a_pupil_plays_one_round_step_on_a_phone(phone, lab, tmp_path, monkeypatch, artifacts):
    folder = tmp_path / "corrections"
    monkeypatch.setattr(lab, "classroom", Classroom(lab.guard, CorrectionStore(folder)))
    page = phone
    open_tab(page, "Challenge")
    prompt = page.locator("#challenge-prompt")
    prompt.get_by_text("Draw: ").wait_for()
    asked = prompt.inner_text().strip()
    page.locator("#round-score").get_by_text("0 of 47 drawn").wait_for()
    page.locator("#class-scores-summary").get_by_text("has not drawn anything").wait_for()
    touch_stroke(page, SEVEN, pad=PAD)  # with a finger
    page.locator("#challenge-cnn [data-testid='label-output-value']").wait_for()  # both models answer live
    page.locator("#challenge-mlp [data-testid='label-output-value']").wait_for()
    done = page.locator("#challenge-done")
    done.scroll_into_view_if_needed()
    assert done.bounding_box()["width"] >= 100
    done.tap()
    done.tap()  # a double tap: the second press answers nothing, and must not hide the verdict

    verdict = page.locator("#challenge-verdict")
    verdict.get_by_text(re.compile(r"read it")).wait_for()
    settle(page)
    assert "read it" in verdict.inner_text() and "first" not in verdict.inner_text(), verdict.inner_text()
    page.locator("#round-score").get_by_text(
        re.compile(r"^Your round: 1 of 47 drawn: CNN [01], MLP [01]\.$")
    ).wait_for()
    page.locator("#class-scores-summary").get_by_text("The class drew 1 character").wait_for()
    page.locator("#challenge-cnn [data-testid='label-output-value']").wait_for(state="detached")  # the pad cleared
    assert prompt.inner_text().strip() != asked  # on to the next class
    kept = CorrectionStore(folder).load(CHALLENGE)
    assert [f"Draw: {prompt_text(name)}" for name in kept.names] == [asked] and kept.x[0].max() > 0
    assert lab.classroom.scores()["drawings"] == 1
    # The verdict says who read it, with the class asked in words.
    assert verdict.inner_text().startswith(asked.removeprefix("Draw: ")), verdict.inner_text()
    no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / "challenge-phone.png"), full_page=True)

    # The teacher finds the drawing among the class's drawings in the Confusions tab.
    open_tab(page, "Confusions")
    page.get_by_role("radio", name="This class's drawings").check()
    page.get_by_text(re.compile(r"on 1 drawings by this class \(Challenge\): accuracy")).first.wait_for()
