"""Browser: a learner's world and a teacher's landing, in Debian's Chromium driven by Playwright.

ana logs in (no https warning), meets the interest form, ticks nothing and gets a plain
message on the form, starts, watches her space get ready, lands in JupyterLab: no request
answers 4xx/5xx while the lab loads and a workbook opens, and nbgrader's staff panels
(Formgrader, Create Assignment, Course List) are nowhere in its menus; /formgrader is not
served to her. Her hub pages have no Token, Services, "server" or "Stop My Server"; she
closes her space from Home; error pages speak plainly. tess, a teacher, lands on the
classroom and keeps the formgrader in her JupyterLab (the control). axe-core checks every
hub page a learner sees. Screenshots: tests/artifacts/learner-world-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from axe import assert_accessible
from conftest import PASSWORD, RunningHub
from spawn_page import hold_progress, steps_shown

pytestmark = [pytest.mark.integration, pytest.mark.browser]

JARGON = ("Token", "Services", "Stop My Server", "server", "Server", "HTTP", "Bad Request", "HTTPS")
STAFF_PANELS = ("formgrader", "create assignment", "course list")


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    return make_hub({"ana": ("student", ["g"]), "tess": ("teacher", ["g"])})


def log_in(browser: Browser, hub: RunningHub, short: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", hub.name(short))
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    return page


def words(page: Page) -> str:
    return page.locator("body").inner_text()


def no_jargon(page: Page) -> None:
    text = words(page)
    assert [w for w in JARGON if w in text] == [], (page.url, text)


def look(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"learner-world-{name}.png"), full_page=True)
    assert_accessible(page, f"learner-world-{name}")


def menu_items(page: Page, menu: str) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    items = page.locator(".lm-Menu:visible .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return [i.strip() for i in items if i.strip()]


def status_of(page: Page, url: str) -> int:
    """The status of the page at `url`, opened in `page` (the person's cookies, redirects followed)."""
    response = page.goto(url)
    assert response is not None
    return response.status


def test_a_learners_world(hub: RunningHub, browser: Browser, artifacts: Path) -> None:
    ana = hub.name("ana")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login")
    page.locator("#username_input").wait_for()
    assert page.locator("#insecure-login-warning").count() == 0
    no_jargon(page)
    look(page, artifacts, "1-login")
    page.fill("#username_input", ana)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")

    # The interest form; nothing ticked: the form comes back with a plain message.
    page.wait_for_selector("fieldset.clhub-interests")
    nav = page.locator("nav").inner_text()
    assert "Change my password" in nav and "Token" not in nav and "Services" not in nav, nav
    look(page, artifacts, "2-interests")
    page.click("button[type=submit]")
    page.wait_for_selector(".spawn-error-msg")
    assert "Choose at least one interest" in page.inner_text(".spawn-error-msg")
    no_jargon(page)
    look(page, artifacts, "3-interests-nothing-ticked")

    # From here on, every answer of 400 or more is noted: the pending page, the lab, the workbook.
    bad: list[str] = []
    page.on("response", lambda r: bad.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)

    # The pending page, held before its last "ready" event so that it can be looked at.
    hold_progress(page, ana)
    page.get_by_label("Music").check()
    page.click("button[type=submit]")
    steps, on_page = steps_shown(page, hub.log, ana)
    assert "Getting your space ready" in steps and "Your workbooks are ready" in steps
    if on_page:  # the start-up template may have her space ready before this page is shown
        assert "Getting your space ready" in words(page)
        no_jargon(page)
        look(page, artifacts, "4-getting-ready")
    page.unroute(f"**/hub/api/users/{ana}/server/progress*")

    # JupyterLab, and a workbook opened in it with its kernel ready.
    page.goto(f"{hub.url}/hub/spawn-pending/{ana}")
    page.wait_for_url(f"**/user/{ana}/lab/tree/workbooks*", timeout=120_000)
    listing = page.locator(".jp-DirListing-content")
    listing.get_by_text("start-here", exact=True).dblclick()
    listing.get_by_text("start-here.ipynb", exact=True).dblclick()
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.wait_for_timeout(3000)  # the lab's periodic requests (sessions, kernels, terminals) come round
    page.screenshot(path=str(artifacts / "learner-world-5-jupyterlab.png"))
    assert bad == [], bad

    # No staff panel of nbgrader anywhere in her menus; her own Assignments are kept.
    seen = [item for menu in ("File", "View", "Nbgrader") for item in menu_items(page, menu)]
    assert "Assignment List" in seen, seen  # control: the menus were read
    assert [item for item in seen if any(p in item.lower() for p in STAFF_PANELS)] == [], seen
    assert page.get_by_text(re.compile("create assignment", re.I)).count() == 0
    # ... nor their server side: a learner's request to the formgrader finds nothing.
    assert status_of(page, f"{hub.server_url(ana)}formgrader") == 404
    assert status_of(page, f"{hub.server_url(ana)}tree") == 404  # Notebook 7's pages are off too
    assert status_of(page, f"{hub.server_url(ana)}lab") == 200  # control: a page of hers
    assert any(b.startswith("404 GET") and b.endswith("/formgrader") for b in bad), bad  # control: bad is noted

    # Her hub pages: Home in plain words; she closes her space there.
    page.goto(f"{hub.url}/hub/home")
    no_jargon(page)
    look(page, artifacts, "6-home")
    page.click("#stop")
    page.wait_for_selector("text=Open my space", timeout=120_000)
    assert hub.api.get(f"/users/{ana}").json()["servers"] == {}
    no_jargon(page)
    look(page, artifacts, "7-home-closed")
    # An old link into her closed space (a bookmark, a tab left open) says so plainly.
    page.goto(f"{hub.url}/hub/user/{ana}/lab")
    assert "Your space is closed" in words(page) and page.locator("#start").inner_text().strip() == "Open my space"
    no_jargon(page)
    look(page, artifacts, "7b-space-closed-link")

    # Errors in plain words.
    page.goto(f"{hub.url}/hub/no-such-page")
    assert "We could not find this page" in words(page)
    no_jargon(page)
    look(page, artifacts, "8-error-404")
    page.goto(f"{hub.url}/hub/admin")
    assert "You cannot open this page" in words(page)
    no_jargon(page)
    look(page, artifacts, "9-error-403")
    page.close()


def test_a_teacher_lands_on_the_classroom_and_keeps_the_formgrader(
    hub: RunningHub, browser: Browser, artifacts: Path
) -> None:
    tess = hub.name("tess")
    page = log_in(browser, hub, "tess")
    page.wait_for_url(re.compile(r".*/services/classroom/.*"))
    page.screenshot(path=str(artifacts / "learner-world-10-teacher-lands-on-classroom.png"))
    page.goto(f"{hub.url}/hub/home")
    assert page.locator("#clhub-classroom-link").get_attribute("href") == "/services/classroom/"
    nav = page.locator("nav").inner_text()
    assert "Token" in nav and "Services" not in nav and "Admin" not in nav, nav  # tokens for clhub roster import
    # Her own JupyterLab keeps nbgrader's staff panels, with their server side, and nothing 404s.
    bad: list[str] = []
    page.on("response", lambda r: bad.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)
    page.goto(f"{hub.url}/hub/spawn")
    page.get_by_label("Music").check()
    page.click("button[type=submit]")
    page.wait_for_url(f"**/user/{tess}/lab/tree/workbooks*", timeout=120_000)
    page.locator(".jp-DirListing-content").get_by_text("start-here", exact=True).wait_for()
    seen = menu_items(page, "Nbgrader")
    assert [p for p in STAFF_PANELS if not any(p in item.lower() for item in seen)] == [], seen
    assert bad == [], bad
    assert status_of(page, f"{hub.server_url(tess)}formgrader") == 200
    page.close()


def test_a_learner_cannot_reach_a_teachers_formgrader(hub: RunningHub) -> None:
    """Cross-user: ana's log-in opens nothing of tess's server, formgrader included."""
    tess = hub.name("tess")
    assert hub.api.get(f"/users/{tess}").json()["servers"], "runs after the teacher's test, which starts her server"
    r = hub.login("ana").http.get(f"{hub.server_url(tess)}formgrader", allow_redirects=True)
    assert r.status_code == 403, (r.status_code, r.url)
    control = hub.login("tess").http.get(f"{hub.server_url(tess)}formgrader", allow_redirects=True)
    assert control.status_code == 200 and "formgrader" in control.text.lower(), control.status_code
