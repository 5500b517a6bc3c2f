"""Browser: Run All reaches the end of the puzzle workbooks in the copy a learner really gets.

A learner logs in through the hub, which delivers the released workbooks (solutions
cleared) into their home. In JupyterLab, Run All in Beat Lab, Recipe Scaler and Team Stats
runs to the last cell: each puzzle not solved yet says so in a friendly line, nothing is red.
Then the learner writes Beat Lab's first answer and its check says it is right.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import pwd
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from conftest import RunningHub, open_logged_in
from lab import run_notebook

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# How long the kernel may take to run a workbook, on a busy machine (ms).
KERNEL_WAIT = 120_000
WORKBOOKS = {"beat-lab": "music", "recipe-scaler": "cooking", "team-stats": "sports"}
NOT_YET = "is not solved yet — write your answer where it says YOUR ANSWER"


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub({"ana": ("student", ["class"])})


def open_and_run_all(page: Page, lab_url: str, notebook: str) -> Locator:
    """Open `workbooks/<notebook>` once its kernel is idle and run every cell."""
    return run_notebook(page, lab_url, f"workbooks/{notebook}")


def reached_the_end(page: Page, panel: Locator) -> None:
    """Wait until the last code cell has run (its prompt shows a number, not `[*]` or `[ ]`)."""
    last_prompt = panel.locator(".jp-Cell.jp-CodeCell").last.locator(".jp-InputPrompt")
    expect(last_prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=KERNEL_WAIT)
    kernel_status = page.get_by_title(re.compile(r"^Change kernel for "), exact=False).first
    expect(kernel_status).to_have_text(re.compile(r"\| Idle$"), timeout=KERNEL_WAIT)


def cell_with(panel: Locator, text: str) -> Locator:
    return panel.locator(".jp-Cell.jp-CodeCell").filter(has=panel.page.locator(".jp-InputArea", has_text=text)).first


def test_run_all_reaches_the_end_of_every_puzzle_workbook_and_a_right_answer_is_right(
    hub: RunningHub, browser, artifacts: Path
) -> None:
    name = hub.name("ana")
    s = hub.login("ana")
    assert s.spawn_with_form(sorted(set(WORKBOOKS.values()))).status_code == 302
    s.wait_ready(name)
    home = Path(pwd.getpwnam(name).pw_dir) / "workbooks"
    for workbook in WORKBOOKS:
        delivered = (home / workbook / f"{workbook}.ipynb").read_text()
        # The learner's copy is the release: no solution, the blank that raises nothing.
        assert "BEGIN SOLUTION" not in delivered and "NotImplementedError" not in delivered
        assert "YOUR ANSWER: write it here, in place of the three dots." in delivered

    page = open_logged_in(browser, hub, "ana", 1366, 900)
    page.wait_for_url(f"{hub.server_url(name)}lab**", timeout=120_000)
    lab_url = f"{hub.server_url(name)}lab"
    for workbook in WORKBOOKS:
        panel = open_and_run_all(page, lab_url, f"{workbook}/{workbook}.ipynb")
        reached_the_end(page, panel)
        # Nothing red: no traceback, no stderr, in any cell.
        errors = panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        assert errors.count() == 0, f"{workbook}: {errors.first.text_content()}"
        not_yet = panel.locator(".jp-OutputArea-output", has_text=NOT_YET)
        expect(not_yet).to_have_count(3)
        check = cell_with(panel, "# Check Puzzle 1")
        check.scroll_into_view_if_needed()
        page.mouse.move(0, 0)
        page.screenshot(path=str(artifacts / f"puzzles-{workbook}-not-solved-yet.png"))
        last = panel.locator(".jp-Cell.jp-CodeCell").last
        last.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"puzzles-{workbook}-run-all-end.png"))

    # Beat Lab again: the learner writes the first answer in place of the dots, runs it and its check.
    panel = open_and_run_all(page, lab_url, "beat-lab/beat-lab.ipynb")
    reached_the_end(page, panel)
    answer = cell_with(panel, "def seconds_per_step(tempo):")
    answer.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("def seconds_per_step(tempo):\n")
    page.keyboard.type("return 60 / tempo / 4")
    page.keyboard.press("Shift+Enter")  # runs the answer and moves to its check
    page.keyboard.press("Shift+Enter")
    check = cell_with(panel, "# Check Puzzle 1")
    expect(check.locator(".jp-OutputArea-output")).to_have_text("Puzzle 1 is right! ✅", timeout=KERNEL_WAIT)
    check.scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.screenshot(path=str(artifacts / "puzzles-beat-lab-puzzle-1-right.png"))
