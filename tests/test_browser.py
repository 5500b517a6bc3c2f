"""Browser: a learner's first visit, in Debian's Chromium driven by Playwright.

ana logs in, picks interests in the form, sees the progress messages on the spawn page,
lands in JupyterLab with her workbooks in the file browser, types into a workbook and
logs out from JupyterLab at once (the edit is saved first), and the Back button then
shows the login page, not her workbook. Screenshots go to
tests/artifacts/.
"""

from __future__ import annotations

import pwd
import re
from pathlib import Path

import pytest

from conftest import RunningHub, open_logged_in
from spawn_page import hold_progress, steps_shown

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub({"ana": ("student", ["class"])})


def test_first_visit_form_progress_lab_and_logout(hub: RunningHub, browser, artifacts) -> None:
    name = hub.name("ana")
    page = open_logged_in(browser, hub, "ana")

    # The interest form: real labelled checkboxes.
    page.wait_for_selector("fieldset.clhub-interests")
    assert "What are you into?" in page.inner_text("fieldset.clhub-interests legend")
    page.get_by_label("Music").check()
    page.screenshot(path=str(artifacts / "first-visit-1-interests.png"), full_page=True)

    # Hold back the final "ready" event of the progress stream, so that the page shows every
    # message the spawner sent and stays long enough to be looked at.
    held = hold_progress(page, name)
    page.click("button[type=submit]")
    log_text, on_page = steps_shown(page, hub.log, name)
    if on_page:  # else the start-up template had her space ready before the page was shown
        page.evaluate("document.querySelector('#progress-details').open = true")
    assert "Getting your space ready" in log_text
    assert "Copying your workbooks" in log_text
    assert re.search(r"Your workbooks are ready: \d+ new files", log_text)
    print(f"progress steps {'on the page' if on_page else 'done before the page asked (start-up template)'}")
    page.screenshot(path=str(artifacts / "first-visit-2-progress.png"), full_page=True)
    if on_page:
        assert '"ready": true' in held["all"]  # the hub did send it; the test held it back
    page.unroute(f"**/hub/api/users/{name}/server/progress*")

    # The server is ready: the spawn page now sends her on to JupyterLab's workbooks folder.
    page.goto(f"{hub.url}/hub/spawn-pending/{name}")
    page.wait_for_url(f"**/user/{name}/lab/tree/workbooks*", timeout=120_000)
    assert page.url.startswith(hub.server_url(name)), page.url  # her own host: <name>.localhost
    listing = page.locator(".jp-DirListing-content")
    listing.get_by_text("beat-lab", exact=True).wait_for()
    listing.get_by_text("start-here", exact=True).wait_for()
    assert page.locator("text=Would you like to get notified about official Jupyter news?").count() == 0
    page.screenshot(path=str(artifacts / "first-visit-3-jupyterlab.png"))

    # She types into her workbook and logs out straight away, long before the autosave:
    # the plug-in saves every open file first.
    page.locator(".jp-DirListing-content").get_by_text("start-here", exact=True).dblclick()
    page.locator(".jp-DirListing-content").get_by_text("start-here.ipynb", exact=True).dblclick()
    cell = page.locator(".jp-Notebook .jp-Cell").first
    cell.wait_for()
    cell.click()
    page.keyboard.press("Enter")  # edit mode
    page.keyboard.press("Control+Home")
    page.keyboard.type("MY LAST WORDS BEFORE LOGGING OUT ")
    page.wait_for_timeout(300)
    notebook = Path(pwd.getpwnam(name).pw_dir) / "workbooks" / "start-here" / "start-here.ipynb"
    assert "MY LAST WORDS" not in notebook.read_text()

    # Log out from JupyterLab's File menu, as a learner on a library computer would.
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-item:visible", has_text="Log Out").first.click()
    page.wait_for_url("**/hub/**", timeout=60_000)
    hub.api.wait_for_server(name, ready=False, timeout=60)
    assert "MY LAST WORDS BEFORE LOGGING OUT" in notebook.read_text()

    page.go_back()
    page.wait_for_selector("#username_input", timeout=60_000)
    assert page.locator(".jp-LabShell").count() == 0
    assert "/hub/login" in page.url
    page.screenshot(path=str(artifacts / "first-visit-4-back-after-logout.png"))
    page.close()
