"""Browser: ana shares a creation, ben gives feedback in the group's REVIEW.ipynb, ana reads it.

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

from conftest import RunningHub, open_logged_in
from connected_learning.peer_review import folders, pieces

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


def run_notebook(page: Page, lab_url: str, path: str) -> Locator:
    """Open `path` alone in JupyterLab, wait for its connected, idle kernel, run all cells."""
    page.goto(f"{lab_url}/tree/{path}?reset")
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-Cell").first.wait_for()
    name = path.rsplit("/", 1)[-1]
    expect(page.get_by_title(f"Change kernel for {name}", exact=True)).to_have_text(
        re.compile(r"\| Idle$"), timeout=KERNEL_WAIT
    )
    page.get_by_role("menuitem", name="Run", exact=True).click()
    run_all = page.get_by_role("menuitem", name="Run All Cells", exact=True)
    expect(run_all).to_be_enabled()
    run_all.click()
    return panel


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
                "ShareBox(['my_pet.png'], workbook='pixel-pets')",
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

    # ana sees it, escaped, in her feedback overview.
    panel = run_notebook(page, f"{hub.server_url(ana)}lab", f"peer-review/{folders.INBOX_NOTEBOOK}")
    inbox = panel.locator(".jp-OutputArea-output").filter(has=page.get_by_role("button", name="Refresh"))
    expect(inbox.get_by_text(FEEDBACK, exact=True)).to_be_visible(timeout=KERNEL_WAIT)
    expect(inbox.locator("b", has_text="not bold")).to_have_count(0)
    expect(inbox.get_by_text("Love it")).to_be_visible()
    page.screenshot(path=str(artifacts / "peer-review-3-ana-reads.png"))
    view = pieces.read_one(shared, piece.id)
    assert [(e.reviewer, e.works, e.reaction) for e in view.feedback] == [(ben, FEEDBACK, "love")]
