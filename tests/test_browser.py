"""A real browser draws on the page: Playwright driving Debian's Chromium against the app in this process."""

from __future__ import annotations

import re
import time

import pytest
from browser import SEVEN, chromium, draw_stroke, launch, new_page, open_tab, screenshot, settle

from emnist_core.data.labels import display_name
from emnist_core.lab.classroom import Classroom
from emnist_core.models.evaluation import EMNIST

from conftest import served

TIMEOUT_MS = 20_000
TICKS_WAITED_MS = 3_000  # three ticks of the Retrain tab's 1-second timer
FIRST_SCORING_MS = 90_000  # the Confusions tab's first lesson on a test set: both models read all of it
SLOW_REPORT_S = 3.0  # a first report on a busy machine, slower than the one asked for after it


@pytest.fixture(scope="module")
def url(request):
    chromium()
    demo = request.getfixturevalue("demo")  # only once a browser is there to use it
    with served(demo) as url:
        yield url


@pytest.fixture(scope="module")
def page(url):
    with chromium().sync_playwright() as playwright:
        browser = launch(playwright)
        page = new_page(browser, url, timeout_ms=TIMEOUT_MS)
        yield page
        browser.close()


def test_a_drawn_stroke_gets_both_predictions(page, artifacts):
    draw_stroke(page, SEVEN)
    answer = page.locator("#verdict h2")  # the one big answer
    answer.wait_for()
    assert answer.inner_text().strip() == "7"
    for side in ("#mlp-label", "#cnn-label"):
        assert page.locator(f"{side} .confidence-set").count() == 5
        assert page.locator(f"{side} .confidence-set .text").first.inner_text().strip() == "7"
        assert page.locator(f"{side} [data-testid='label-output-value']").count() == 0  # no big label of its own
    sentence = page.locator("#verdict")
    assert "read" in sentence.inner_text()
    assert page.locator("img[alt='the 28x28 image the models see']").count() == 1
    screenshot(page, artifacts / "draw-tab.png")


def test_clear_says_empty_and_the_pad_stays_ready(page):
    page.get_by_role("button", name="Clear the pad").click()
    page.get_by_text("The canvas is empty").wait_for()
    draw_stroke(page, SEVEN)
    page.locator("#verdict h2").wait_for()
    page.get_by_text("The canvas is empty").wait_for(state="detached")


def test_confusions_tab_shows_the_report(page, artifacts):
    open_tab(page, "Confusions")
    page.get_by_text("test images: accuracy").wait_for()
    page.get_by_role("button", name=f"{display_name('O')} -> {display_name('0')}", exact=True).click()
    page.get_by_text("read as").first.wait_for()  # images when the data is here, else where to get them
    screenshot(page, artifacts / "confusions-tab.png")


def test_the_confusions_tab_follows_the_draw_tabs_lesson(page, url, artifacts):
    """A teacher in the digits lesson sees the digits' matrix: each drawn digit read among the ten digits. On a
    page of its own, so the lesson it sets is not left to the tests after it."""
    digits = "Digits 0-9"
    page = new_page(page.context.browser, url, timeout_ms=TIMEOUT_MS)
    # The drawn characters first, in all classes (their saved report), so that only they are read in the lesson.
    open_tab(page, "Confusions")
    page.get_by_role("radio", name="Drawn characters (UNIPEN)").check()
    page.get_by_text(re.compile(r"drawn test characters \(UNIPEN writers never trained on\): accuracy")).wait_for()
    open_tab(page, "Draw")
    page.locator("#lesson").get_by_role("radio", name=digits).check()
    open_tab(page, "Confusions")
    chromium().expect(page.locator("#confusions-lesson").get_by_role("radio", name=digits)).to_be_checked()
    # The first lesson on a test set reads all of it with both models: seconds, more on a busy machine.
    page.get_by_text(re.compile(r"drawn test characters .* of the lesson Digits 0-9")).wait_for(
        timeout=FIRST_SCORING_MS
    )
    # The per-class table (its rows drawn as the box scrolls): the ten digits, and no other class.
    first_column = "#per-class [role=gridcell][data-col='0']"
    page.wait_for_function(f'() => document.querySelectorAll("{first_column}").length === 10')
    shown = page.locator(first_column).all_inner_texts()
    assert sorted(cell.strip() for cell in shown) == [str(d) for d in range(10)], shown
    ranked = page.get_by_role("radio", name=re.compile(r"^\d( \(\w+\))? -> \d( \(\w+\))?: \d+$"))
    ranked.first.check()
    page.locator("#mistakes-note").get_by_text("lesson: Digits 0-9").wait_for()
    page.locator("#mistakes img").first.wait_for()
    screenshot(page, artifacts / "confusions-digits-lesson.png")
    # In Digits the letter shortcuts (O -> 0, Z -> 2) are not offered: they would only be refused.
    o_to_zero = page.get_by_role("button", name=f"{display_name('O')} -> {display_name('0')}", exact=True)
    chromium().expect(o_to_zero).to_be_hidden()
    # Another lesson: the digit pair picked before is let go, with no refusal about it and no stale images.
    page.locator("#confusions-lesson").get_by_role("radio", name="Letters", exact=True).check()
    page.get_by_text(re.compile(r"drawn test characters .* of the lesson Letters")).wait_for(timeout=FIRST_SCORING_MS)
    chromium().expect(page.locator("#mistakes img")).to_have_count(0)
    assert "not in the lesson" not in page.locator("#mistakes-note").inner_text()
    # Changed here, it stays here: all classes again, the shortcuts with them.
    page.locator("#confusions-lesson").get_by_role("radio", name="All characters").check()
    page.get_by_text(re.compile(r"drawn test characters \(UNIPEN writers never trained on\): accuracy")).wait_for()
    chromium().expect(o_to_zero).to_be_visible()
    page.context.close()


def test_a_test_set_chosen_while_the_first_report_is_worked_out_is_the_one_shown(page, url, lab, monkeypatch):
    """The tab opens on EMNIST's report; a teacher picks another test set before it is ready. The slow report
    must not land last and paint over the one asked for."""
    report = lab.tests.report

    def slow_on_emnist(*args, **kwargs):
        if EMNIST in args or kwargs.get("test_set") == EMNIST:
            time.sleep(SLOW_REPORT_S)
        return report(*args, **kwargs)

    monkeypatch.setattr(lab.tests, "report", slow_on_emnist)
    page = new_page(page.context.browser, url, timeout_ms=TIMEOUT_MS)
    open_tab(page, "Confusions")
    page.get_by_role("radio", name="Drawn characters (UNIPEN)").check()
    asked = re.compile(r"drawn test characters \(UNIPEN writers never trained on\): accuracy")
    page.get_by_text(asked).wait_for(timeout=FIRST_SCORING_MS)
    time.sleep(SLOW_REPORT_S + 1)  # past the moment the slow report would land
    settle(page)
    summary = page.locator("#confusions-summary").inner_text()
    assert asked.search(summary) and "EMNIST" not in summary, summary
    page.context.close()


def test_teach_it_keeps_the_drawing_as_a_correction(page, lab, tmp_path, monkeypatch):
    """A teacher draws a 7 the models read, says it was a 1 and presses *Teach it*: the drawing is kept."""
    from emnist_core.lab.corrections import CorrectionStore

    folder = tmp_path / "corrections"
    monkeypatch.setattr(lab, "classroom", Classroom(lab.guard, CorrectionStore(folder)))
    open_tab(page, "Draw")
    page.get_by_role("button", name="Clear the pad").click()
    page.get_by_text("The canvas is empty").wait_for()
    draw_stroke(page, SEVEN)
    page.locator("#verdict h2").wait_for()
    page.get_by_label("Read wrong? It was...").click()
    page.get_by_role("option", name=display_name("1"), exact=True).click()
    page.get_by_role("button", name="Teach it").dblclick()  # an impatient double-click keeps it once
    note = page.locator("#correct-note")
    # The answer: the note holds more than the timer ("0.4s") shown while the request runs.
    page.locator("#correct-note [data-testid='markdown']").get_by_text(re.compile(r"\w")).first.wait_for()
    settle(page)  # a second press's answer, if one went out, is in by now
    said = note.inner_text()
    assert re.match(rf"(Already kept|Kept) as {re.escape(display_name('1'))}: 1 correction ", said), said
    kept = CorrectionStore(folder).load()  # what the server wrote, read as a restarted server would
    assert kept.names == ["1"] and kept.x[0].max() > 0  # the drawing's 28x28, not an empty image


def test_start_while_another_job_runs_says_busy_and_keeps_saying_it(page, lab, with_data, monkeypatch):
    """Start pressed while another teacher's job runs: "Busy" stays on this page, never replaced by the other
    job's progress."""
    from emnist_core.training import train as training
    from emnist_core.training.config import TrainConfig, TrainingCancelled

    def train_until_cancelled(config, dataset, listener=None, cancel=None, **kwargs):
        cancel.wait(120)
        raise TrainingCancelled()

    monkeypatch.setattr(training, "train", train_until_cancelled)
    other = lab.jobs.start_training(TrainConfig("seed-mlp", epochs=1))  # another teacher's job
    assert other is not None
    try:
        open_tab(page, "Retrain")
        page.get_by_text("training images available").wait_for()
        page.get_by_role("button", name="Start").click()
        busy = page.get_by_text("Busy: another training job")
        busy.wait_for()
        page.wait_for_timeout(TICKS_WAITED_MS)
        assert busy.is_visible()
        assert page.get_by_text(re.compile(r"^Training seed-mlp: ")).count() == 0
    finally:
        other.cancel.set()
        other.done.wait(30)
    assert other.cancelled and not lab.jobs.busy


def test_a_job_that_would_take_long_starts_only_on_start_anyway(page, url, lab, with_data, monkeypatch):
    """A teacher picks wide-resnet and presses Start: the page says how long it would hold the server and starts
    nothing; the button now reads Start anyway. Changing a setting makes it read Start again (the warning was about
    the old settings), and Start then warns afresh; pressing Start anyway starts the job with the settings shown.
    On a page of its own, so the architecture it picks is not left to the tests after it."""
    from emnist_core.training import train as training
    from emnist_core.training.config import TrainingCancelled
    from ui import retrain

    def train_until_cancelled(config, dataset, listener=None, cancel=None, **kwargs):
        cancel.wait(120)
        raise TrainingCancelled()

    monkeypatch.setattr(training, "train", train_until_cancelled)
    expect = chromium().expect
    expect.set_options(timeout=TIMEOUT_MS)
    page = new_page(page.context.browser, url, timeout_ms=TIMEOUT_MS)
    epochs = page.locator("input[aria-label='number input for Epochs']")
    status = page.locator("#train-status")
    start = page.get_by_role("button", name=retrain.START_LABEL, exact=True)
    start_anyway = page.get_by_role("button", name=retrain.START_ANYWAY)
    try:
        open_tab(page, "Retrain")
        page.get_by_text("training images available").wait_for()
        page.get_by_label("Architecture").click()
        page.get_by_role("option", name="wide-resnet").click()
        expect(epochs).to_have_value("20")  # wide-resnet's own settings, as the teacher sees them
        start.click()
        expect(status).to_contain_text("This job would take about")
        expect(status).to_contain_text("20 epochs")
        start_anyway.wait_for()
        assert lab.jobs.current is None or lab.jobs.current.done.is_set()  # nothing started

        epochs.fill("19")
        epochs.press("Tab")
        start.wait_for()  # the warning was about 20 epochs
        start.click()
        expect(status).to_contain_text("19 epochs")
        assert lab.jobs.current is None or lab.jobs.current.done.is_set()
        start_anyway.click()
        expect(status).to_contain_text("Training wide-resnet: epoch 1 of 19")
        assert lab.jobs.busy and lab.jobs.current.config.model == "wide-resnet"
    finally:
        if lab.jobs.current is not None:
            lab.jobs.current.cancel.set()
            lab.jobs.current.done.wait(30)
        page.context.close()
    assert not lab.jobs.busy


def test_a_worse_model_goes_live_only_once_the_teacher_confirms(page, lab, with_data, artifacts):
    """A teacher trains a tiny model and presses *Use this model*: the page says it reads worse than the live MLP,
    with both figures, and puts it live only when *Use it anyway* is pressed."""
    from emnist_core.models import store
    from emnist_core.models.evaluation import DRAWN
    from ui import retrain

    shipped = lab.models.get("mlp")
    open_tab(page, "Retrain")
    page.get_by_text("training images available").wait_for()
    for setting, value in (("Epochs", "1"), ("Training images", "500")):
        box = page.locator(f"input[aria-label='number input for {setting}']")
        box.fill(value)
        box.press("Tab")
    status = page.locator("#train-status")
    before = status.inner_text()  # this page's last job's words (an earlier test's "Busy", say)
    page.get_by_role("button", name="Start").click()
    try:  # how this job ended: its Done message, or why not
        page.wait_for_function(
            "([old, ends]) => { const now = document.querySelector('#train-status').innerText;"
            " return now !== old && new RegExp(ends).test(now); }",
            arg=[before, r"^(Done\.|Training failed|Busy|Check the settings)"],
            timeout=240_000,
        )
    except chromium().TimeoutError:
        pass  # the assertion says what the page showed instead
    shown = status.inner_text()
    assert "It reads worse than the live model" in shown, shown  # the Done message
    trained = lab.jobs.current.path
    try:
        page.get_by_role("button", name=retrain.USE_LABEL, exact=True).click()
        warning = page.get_by_text("Careful: this model reads worse")
        warning.wait_for()
        text = page.locator("p", has=warning).first.inner_text()
        for report in (store.read_report(store.report_path(trained, DRAWN)), shipped.drawn_report):
            assert f"{report['mean_recall']:.1%} mean per-class accuracy ({report['accuracy']:.1%} of all" in text
        assert lab.models.get("mlp") is shipped  # not yet
        screenshot(page, artifacts / "use-model-warning.png")
        page.get_by_role("button", name=retrain.CONFIRM_LABEL).click()
        page.get_by_text(f"MLP · {trained.stem} is live").wait_for()
        assert lab.models.get("mlp").path == trained
        page.get_by_role("button", name=retrain.USE_LABEL, exact=True).wait_for()  # the button says Use again
    finally:
        lab.models.restore()


def test_typing_q_and_enter_in_the_correction_list_picks_q(page, lab, tmp_path, monkeypatch):
    """Gradio's list filters without regard to case; typed "q" must still be q (and "Q" Q, "o" the letter O)."""
    from emnist_core.lab.corrections import CorrectionStore

    folder = tmp_path / "corrections"
    monkeypatch.setattr(lab, "classroom", Classroom(lab.guard, CorrectionStore(folder)))
    open_tab(page, "Draw")
    draw_stroke(page, SEVEN)
    page.locator("#verdict h2").wait_for()
    pick = page.get_by_label("Read wrong? It was...")
    for typed, picked in (("Q", "Q"), ("o", display_name("O")), ("c", display_name("C")), ("q", "q")):
        pick.click()
        pick.fill(typed)
        pick.press("Enter")
        assert pick.input_value() == picked, f"typed {typed!r}"
    page.get_by_role("button", name="Teach it").click()
    # This page's earlier tests left their own note ("Kept as 1 (one) ..."): wait for this one's.
    page.locator("#correct-note").get_by_text(f"Kept as {display_name('q')}:").wait_for()
    assert CorrectionStore(folder).load().names == ["q"]
