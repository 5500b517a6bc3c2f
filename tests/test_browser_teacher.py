"""Browser: a teacher's path through the classroom service, in Debian's Chromium.

Log in, import a class list from a file, print the login slips (saved as PDF, the way
Chromium prints), assign a workbook, and look at the group's progress. Screenshots and
the PDF go to tests/artifacts/teacher-*.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from realhub import PASSWORD, RunningHub

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    return make_hub({"tess": ("teacher", ["g"])})


def test_import_print_assign_and_follow_progress(
    hub: RunningHub, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    g = hub.name("g")
    students = [hub.name(s) for s in ("ana", "ben", "cai")]
    hub.users.extend(students)  # the import makes their system users; the teardown removes them
    listing = tmp_path / "class.csv"
    listing.write_text(
        "username,display_name,group,role,password\n"
        + "".join(f"{s},{s[-3:].title()} M.,{g},student,\n" for s in students)
    )

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{hub.url}/hub/login?next=/services/classroom/")
    page.fill("#username_input", hub.name("tess"))
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    expect(page.get_by_role("heading", name="Classroom")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name=f"Group {g}")).to_be_visible()
    page.screenshot(path=str(artifacts / "teacher-1-classroom.png"))

    page.get_by_role("link", name="Import a class list").click()
    page.get_by_label("Class list (CSV)").set_input_files(str(listing))
    page.get_by_role("button", name="Create the accounts and print the slips").click(no_wait_after=True)
    for s in students:
        expect(page.get_by_text(s, exact=True).first).to_be_visible(timeout=120_000)
    assert page.locator("svg").count() >= len(students)
    page.screenshot(path=str(artifacts / "teacher-2-slips.png"), full_page=True)
    page.emulate_media(media="print")
    page.pdf(path=str(artifacts / "teacher-2-slips.pdf"), format="A4")
    page.emulate_media(media="screen")
    assert (artifacts / "teacher-2-slips.pdf").read_bytes()[:4] == b"%PDF"

    page.goto(f"{hub.url}/services/classroom/groups/{g}/assignments")
    page.get_by_label("Workbook").select_option("recipe-scaler")
    page.get_by_label("Due (optional)").fill("2030-06-01T17:00")
    page.get_by_role("button", name="Assign").click(no_wait_after=True)  # nbgrader takes its time
    expect(page.get_by_role("status")).to_contain_text("is assigned", timeout=180_000)
    expect(page.get_by_role("heading", name=re.compile("Recipe Scaler"))).to_be_visible()
    expect(page.get_by_role("cell", name="Not opened yet")).to_have_count(len(students))  # nobody started yet
    due = page.locator("time.clh-local").first  # shown in the browser's time zone
    expect(due).to_have_attribute("datetime", re.compile(r"^2030-06-0[12]T\d\d:\d\d:00Z$"))
    expect(due).to_contain_text("2030")
    page.screenshot(path=str(artifacts / "teacher-3-assigned.png"), full_page=True)

    page.get_by_role("link", name="Progress").click()
    table = page.locator("table#progress")
    for s in students:
        expect(table.get_by_role("link", name=s)).to_be_visible(timeout=60_000)
    page.get_by_role("link", name=re.compile("^Name")).click()
    expect(page.get_by_role("columnheader", name=re.compile("Name"))).to_have_attribute("aria-sort", "ascending")
    expect(page.get_by_role("img", name=re.compile("Exercises done per learner"))).to_be_visible()
    page.screenshot(path=str(artifacts / "teacher-4-progress.png"), full_page=True)

    # The formgrader, inside the teacher's own JupyterLab: its frame must not be blocked.
    page.goto(f"{hub.url}/hub/spawn")
    page.get_by_role("checkbox").first.check()
    page.get_by_role("button", name=re.compile("Start")).click()
    page.wait_for_url(f"{hub.server_url(hub.name('tess'))}lab**", timeout=120_000)
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Formgrader").click()
    grader = page.frame_locator("iframe").first
    expect(grader.get_by_text("recipe-scaler").first).to_be_visible(timeout=120_000)
    page.screenshot(path=str(artifacts / "teacher-5-formgrader.png"))
