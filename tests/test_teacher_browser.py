"""A class's pages and the teacher's, in a real browser, on a server with a teacher key: a pupil's page (phone and
desktop) shows the pupil's tabs and cannot reset, train or put live; the teacher signs in once, and that browser's
page can, across a reload; the class view follows the class for the projector. Screenshots go to
``$SKETCH_LAB_ARTIFACTS`` (else a temporary folder)."""

from __future__ import annotations

import re
import time

import pytest
from browser import (
    SEVEN,
    chromium,
    draw_stroke,
    launch,
    new_page,
    no_sideways_scroll,
    open_tab,
    screenshot,
    settle,
)

from emnist_core.lab.guard import TeacherKey

from conftest import drawn_from_pack, served

KEY = "a-teacher-key-for-the-tests"
PUPIL_TABS = ["Draw", "Inside", "Challenge", "Confusions"]
TEACHER_TABS = ["Retrain", "Models"]
TIMEOUT_MS = 30_000
TRAIN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def locked(app_module, tmp_path_factory):
    """A server with a teacher key (its own lab: the class's drawings in a folder of its own), and a browser."""
    from emnist_core.lab.corrections import CorrectionStore

    sync_api = chromium()
    lab = app_module.Lab(
        drawn_loader=drawn_from_pack,
        corrections=CorrectionStore(tmp_path_factory.mktemp("corrections")),
        teacher_key=TeacherKey(KEY),
        own_processes=False,
    )
    with served(app_module.build_demo(lab), **app_module.LAUNCH_OPTIONS) as url, sync_api.sync_playwright() as pw:
        browser = launch(pw)
        yield lab, url, browser
        browser.close()


def tabs_shown(page) -> list[str]:
    """The tab bar's tabs, those folded into its overflow menu on a narrow screen too."""
    names = page.get_by_role("tab").locator("visible=true").all_inner_texts()
    more = page.locator(".overflow-menu > button").locator("visible=true")
    if more.count():
        more.first.click()
        names += page.locator(".overflow-dropdown button").locator("visible=true").all_inner_texts()
        page.keyboard.press("Escape")
    return sorted(name.strip() for name in names)


def wait_for_tabs(page, expected: list[str], timeout_ms: int = TIMEOUT_MS):
    """Wait until the tab bar shows ``expected``: the tabs follow a sign-in or sign-out in an event of their own,
    after its note."""
    deadline = time.monotonic() + timeout_ms / 1000
    while (shown := tabs_shown(page)) != sorted(expected):
        assert time.monotonic() < deadline, f"the page shows the tabs {shown}, not {sorted(expected)}"
        page.wait_for_timeout(200)


def teacher_area(page):
    """Open the Teacher area at the foot of the page (closed on a page where a key is set)."""
    if not page.locator("#teacher-note").is_visible():
        page.locator("#teacher-area").get_by_text("Teacher", exact=True).first.click()
    page.locator("#teacher-note").wait_for()


def sign_in(page, key: str):
    teacher_area(page)
    box = page.locator("#teacher-key input")
    box.fill(key)
    page.locator("#teacher-sign-in").click()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_pupils_page_cannot_reset_train_or_put_live(locked, size, artifacts):
    _lab, url, browser = locked
    page = new_page(browser, url, size, TIMEOUT_MS)
    try:
        settle(page)
        assert tabs_shown(page) == sorted(PUPIL_TABS)
        open_tab(page, "Challenge")
        page.locator("#challenge-prompt").get_by_text("Draw: ").wait_for()
        assert page.get_by_role("button", name=re.compile("Reset")).locator("visible=true").count() == 0
        for control in ("Start", "Use this model", "Restore shipped models", "Fine-tune on the corrections"):
            assert page.get_by_role("button", name=control).locator("visible=true").count() == 0, control
        no_sideways_scroll(page)
        screenshot(page, artifacts / f"pupil-{size}.png")
        # A wrong key is told, and changes nothing.
        sign_in(page, "not the key")
        page.locator("#teacher-note").get_by_text("not the teacher key").wait_for()
        assert tabs_shown(page) == sorted(PUPIL_TABS)
        assert not page.locator("#teacher-sign-out").is_visible()  # nobody signed in to sign out
    finally:
        page.context.close()


def test_the_teacher_signs_in_once_and_can_reset_train_and_put_live(locked, artifacts):
    lab, url, browser = locked
    page = new_page(browser, url, "desktop", TIMEOUT_MS)
    try:
        settle(page)
        sign_in(page, KEY)
        page.locator("#teacher-note").get_by_text("Signed in as the teacher").wait_for()
        wait_for_tabs(page, PUPIL_TABS + TEACHER_TABS)
        assert "a-teacher-key" not in page.content()  # the key is not on the page, only the pass
        # Signed in, the foot offers Sign out, not the key's box again.
        page.locator("#teacher-sign-out").wait_for()
        page.locator("#teacher-key").wait_for(state="hidden")
        # The browser keeps the pass: a reload is still the teacher's page.
        page.reload()
        settle(page)
        wait_for_tabs(page, PUPIL_TABS + TEACHER_TABS)
        # Reset asks first, then resets.
        open_tab(page, "Challenge")
        page.get_by_role("button", name="Reset the class scores").click()
        page.get_by_text("Press Reset now to clear them").wait_for()
        page.get_by_role("button", name="Reset now").click()
        page.get_by_text(re.compile(r"The class scores were reset")).wait_for()
        # Train a tiny model and put it live.
        open_tab(page, "Retrain")
        page.get_by_text("training images available").wait_for(timeout=TRAIN_TIMEOUT_MS)
        for label, value in (("Epochs", "1"), ("Training images", "500")):
            field = page.get_by_label(f"number input for {label}")
            field.fill(value)
            field.press("Enter")
        page.get_by_role("button", name="Start").click()
        page.locator("p", has_text=re.compile(r"^Done\. ")).wait_for(timeout=TRAIN_TIMEOUT_MS)
        page.get_by_role("button", name="Use this model").click()
        page.get_by_text("Careful: this model reads worse").wait_for()
        page.get_by_role("button", name="Use it anyway").click()
        page.get_by_text("is live in the Draw and Confusions tabs").wait_for()
        assert lab.models.get("mlp").name.startswith("seed-mlp-")
        screenshot(page, artifacts / "teacher-desktop.png")
        # Signed out, the page is a pupil's again.
        teacher_area(page)
        page.locator("#teacher-sign-out").click()
        page.locator("#teacher-note").get_by_text("Signed out").wait_for()
        page.locator("#teacher-key").wait_for()
        wait_for_tabs(page, PUPIL_TABS)
        assert not page.locator("#teacher-sign-out").is_visible()
    finally:
        page.context.close()
        lab.models.restore(lab.guard.sign_in(KEY, "test"))


def test_a_teacher_on_a_phone_gets_the_teachers_controls(locked, artifacts):
    _lab, url, browser = locked
    page = new_page(browser, url, "phone", TIMEOUT_MS)
    try:
        settle(page)
        sign_in(page, KEY)
        page.locator("#teacher-note").get_by_text("Signed in as the teacher").wait_for()
        wait_for_tabs(page, PUPIL_TABS + TEACHER_TABS)
        open_tab(page, "Challenge")
        page.get_by_role("button", name="Reset the class scores").wait_for()
        no_sideways_scroll(page)
        screenshot(page, artifacts / "teacher-phone.png")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_class_view_follows_the_class_without_a_reload(locked, size, artifacts):
    lab, url, browser = locked
    board = new_page(browser, url, "desktop", TIMEOUT_MS)  # a pupil's page draws ...
    view = browser.new_context(
        viewport={"width": 1280, "height": 900} if size == "desktop" else {"width": 390, "height": 844}
    ).new_page()
    view.set_default_timeout(TIMEOUT_MS)
    try:
        view.goto(f"{url}class")  # ... while the projector shows the class view
        view.locator("#class-view").get_by_text("The class, live").wait_for()
        before = lab.classroom.scores()["drawings"]
        open_tab(board, "Challenge")
        board.locator("#challenge-prompt").get_by_text("Draw: ").wait_for()
        draw_stroke(board, SEVEN, pad="#challenge-pad")
        board.locator("#challenge-cnn [data-testid='label-output-value']").wait_for()
        board.locator("#challenge-done").click()
        board.locator("#challenge-verdict").get_by_text(re.compile("read it")).wait_for()
        count = lab.classroom.scores()["drawings"]
        assert count == before + 1
        view.locator("#class-view").get_by_text(re.compile(rf"{count:,} drawings?")).wait_for()
        tiles = view.locator("#class-view .cv-tile img")
        tiles.first.wait_for()
        assert view.locator("#class-view .cv-class").count() >= 1
        assert "The class, live" in view.locator("#class-view h1").inner_text()
        no_sideways_scroll(view)
        screenshot(view, artifacts / f"class-view-{size}.png")
    finally:
        board.context.close()
        view.context.close()
