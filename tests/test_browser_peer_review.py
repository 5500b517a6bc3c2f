"""Browser: ana shares a creation, ben gives feedback in the group's REVIEW.ipynb, ana reads it, withdraws, undoes.

The Share box offers only the files that exist and names the missing one in plain words,
its labels are not cut off; the group's REVIEW.ipynb stays as the system wrote it, whatever
ben does in it; Withdraw asks first and can be undone. axe-core checks each widget's output.

Real hub, real system users, real JupyterLab in Debian's Chromium. Each notebook runs
only once the status bar shows its kernel "Idle" (see test_browser_widgets.py for why).
Screenshots go to tests/artifacts/peer-review-*.png.
"""

from __future__ import annotations

import json
import pwd
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jupyterhub.spawner import set_user_setuid
from playwright.sync_api import Locator, Page, expect

from axe import AXE, serious_violations
from conftest import RunningHub, open_logged_in
from connected_learning.peer_review import folders, pieces
from lab import run_notebook

pytestmark = [pytest.mark.integration, pytest.mark.browser]
KERNEL_WAIT = 120_000  # ms the kernel may take on a busy machine
FEEDBACK = "The ears are great! <b>not bold</b>"


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub({"ana": ("student", ["crew"]), "ben": ("student", ["crew"])})
    for short in ("ana", "ben"):
        s = hub.login(short)
        assert s.spawn_with_form(["art"]).status_code == 302
        s.wait_ready(hub.name(short))
    return hub


def write_as(hub: RunningHub, short: str, rel: str, data: bytes) -> None:
    """Write a file into the learner's home as the learner (so it is theirs)."""
    name = hub.name(short)
    home = pwd.getpwnam(name).pw_dir
    code = f"import pathlib; pathlib.Path({rel!r}).write_bytes({data!r})"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=home,
        capture_output=True,
        text=True,
        preexec_fn=set_user_setuid(name),
        env={"HOME": home},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_share_review_and_read_feedback_in_jupyterlab(hub: RunningHub, browser: Any, artifacts: Path) -> None:
    from PIL import Image

    ana, ben, group = hub.name("ana"), hub.name("ben"), hub.name("crew")
    image = Path(artifacts) / "peer-review-pet-source.png"
    Image.new("RGB", (64, 64), (200, 60, 160)).save(image)
    write_as(hub, "ana", "my_pet.png", image.read_bytes())
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "share",
                "metadata": {},
                "outputs": [],
                "source": "from connected_learning.peer_review.widgets import ShareBox\n"
                "ShareBox(['my_pet.png', 'my_pet_feelings.png'], workbook='pixel-pets')",
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write_as(hub, "ana", "share-my-pet.ipynb", json.dumps(notebook).encode())

    # ana shares her creation with the button.
    page = open_logged_in(browser, hub, "ana", 1280, 900)
    page.wait_for_url(f"{hub.server_url(ana)}lab**", timeout=120_000)
    panel = run_notebook(page, f"{hub.server_url(ana)}lab", "share-my-pet.ipynb")
    share_button = page.get_by_role("button", name="Share with my group")
    share_box = panel.locator(".jp-OutputArea-output").filter(has=share_button)
    # What is there is offered, what is not is named in plain words; no label is cut off.
    expect(share_box.get_by_role("checkbox", name="my_pet.png")).to_be_checked()
    expect(share_box.get_by_role("checkbox", name="my_pet_feelings.png")).to_have_count(0)
    expect(share_box.get_by_text("You have not saved my_pet_feelings.png yet — it will not be shared.")).to_be_visible()
    for button in share_box.get_by_role("button").all():
        fits = button.evaluate("b => b.scrollWidth <= b.clientWidth")
        assert fits, f"the label of {button.inner_text()!r} is cut off"
    for label in share_box.locator("label").all():
        assert label.evaluate("l => l.scrollWidth <= l.clientWidth"), f"{label.inner_text()!r} is cut off"
    assert_widget_accessible(page, share_box, "peer-review-share-box")
    share_box.get_by_role("textbox", name="Title").fill("My pixel pet")
    share_box.get_by_role("button", name="Share with my group").click()
    expect(share_box.get_by_text(re.compile(r"Shared 'My pixel pet' with"))).to_be_visible(timeout=KERNEL_WAIT)
    page.screenshot(path=str(artifacts / "peer-review-1-ana-shares.png"))
    shared = folders.peer_review_dir(hub.data_dir, group)
    piece = next(v for v in pieces.read_group(shared) if v.owner == ana)
    assert piece.title == "My pixel pet" and piece.files == ["my_pet.png"]

    # ben opens the group folder's review notebook and leaves feedback through the widget.
    page_ben = open_logged_in(browser, hub, "ben", 1280, 900)
    page_ben.wait_for_url(f"{hub.server_url(ben)}lab**", timeout=120_000)
    review_file = shared / folders.REVIEW_NOTEBOOK
    as_written = review_file.read_bytes()
    panel = run_notebook(page_ben, f"{hub.server_url(ben)}lab", f"peer-review/{group}/{folders.REVIEW_NOTEBOOK}")
    review = panel.locator(".jp-OutputArea-output").filter(has=page_ben.get_by_role("button", name="Send feedback"))
    expect(review.get_by_role("combobox", name="Piece")).to_contain_text("My pixel pet", timeout=KERNEL_WAIT)
    expect(review.get_by_role("img")).to_be_visible()
    review.get_by_role("textbox", name="What works").fill(FEEDBACK)
    review.get_by_role("combobox", name="Reaction").select_option(label="Love it")
    review.get_by_role("button", name="Send feedback").click()
    expect(review.get_by_text("Thank you!")).to_be_visible(timeout=KERNEL_WAIT)
    expect(review.get_by_role("img")).to_be_visible()  # the piece is still shown, redrawn with its feedback
    expect(review.get_by_text("javascript error")).to_have_count(0)
    page_ben.screenshot(path=str(artifacts / "peer-review-2-ben-reviews.png"))
    assert_widget_accessible(page_ben, review, "peer-review-review-panel")
    # ben tries to save the group's copy, with ana's picture in its outputs: JupyterLab knows it is
    # read-only (the contents manager says so), offers no Save, and neither Ctrl+S nor autosave writes it.
    page_ben.get_by_role("menuitem", name="File", exact=True).click()
    save = page_ben.get_by_role("menuitem", name=re.compile(r"^Save Notebook")).first
    expect(save).to_have_attribute("aria-disabled", "true")
    page_ben.screenshot(path=str(artifacts / "peer-review-2b-ben-cannot-save-the-groups-copy.png"))
    page_ben.keyboard.press("Escape")
    panel.locator(".jp-Cell").first.click()
    page_ben.keyboard.press("Control+s")
    page_ben.wait_for_timeout(1500)
    assert review_file.read_bytes() == as_written

    # ana sees it, escaped, in her feedback overview.
    panel = run_notebook(page, f"{hub.server_url(ana)}lab", f"peer-review/{folders.INBOX_NOTEBOOK}")
    inbox = panel.locator(".jp-OutputArea-output").filter(has=page.get_by_role("button", name="Refresh"))
    expect(inbox.get_by_text(FEEDBACK, exact=True)).to_be_visible(timeout=KERNEL_WAIT)
    expect(inbox.locator("b", has_text="not bold")).to_have_count(0)
    expect(inbox.get_by_text("Love it")).to_be_visible()
    page.screenshot(path=str(artifacts / "peer-review-3-ana-reads.png"))
    view = pieces.read_one(shared, piece.id)
    assert [(e.reviewer, e.works, e.reaction) for e in view.feedback] == [(ben, FEEDBACK, "love")]

    # ana withdraws it: she is asked first; then she changes her mind and undoes it.
    inbox.get_by_role("button", name="Withdraw").click()
    expect(inbox.get_by_text(re.compile(r"Take My pixel pet back from"))).to_be_visible(timeout=KERNEL_WAIT)
    assert [v.id for v in pieces.read_group(shared)] == [piece.id]  # asking changed nothing
    page.screenshot(path=str(artifacts / "peer-review-4-ana-is-asked.png"))
    assert_widget_accessible(page, inbox, "peer-review-withdraw-question")
    inbox.get_by_role("button", name="Yes, take it back").click()
    undo = inbox.get_by_role("button", name="Undo: share My pixel pet again")
    expect(undo).to_be_visible(timeout=KERNEL_WAIT)
    expect(inbox.get_by_text(re.compile(r"You can still undo this for \d+ more minutes"))).to_be_visible()
    assert pieces.read_group(shared) == []  # the group no longer sees it
    page.screenshot(path=str(artifacts / "peer-review-5-ana-withdrew.png"))
    assert_widget_accessible(page, inbox, "peer-review-undo")
    undo.click()
    expect(inbox.get_by_text(re.compile(r"is shared with .* again, with its feedback"))).to_be_visible(
        timeout=KERNEL_WAIT
    )
    expect(inbox.get_by_text(FEEDBACK, exact=True)).to_be_visible()
    page.screenshot(path=str(artifacts / "peer-review-6-ana-undid.png"))
    view = pieces.read_one(shared, piece.id)
    assert [(e.reviewer, e.works) for e in view.feedback] == [(ben, FEEDBACK)]


def assert_widget_accessible(page: Page, output: Locator, name: str) -> None:
    """axe-core on one widget's output (JupyterLab's own chrome is not ours): no serious or critical violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    report = output.evaluate("node => axe.run(node, {resultTypes: ['violations']})")
    (Path(__file__).parent / "artifacts" / f"axe-{name}.json").write_text(json.dumps(report["violations"], indent=1))
    assert serious_violations(report) == [], serious_violations(report)
