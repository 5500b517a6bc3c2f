"""Browser: a teacher opens a reported piece, takes a published piece down, follows an assignment.

ana shares a notebook and an HTML file full of script (a <script>, an <img onerror>, script
in a code cell's output, in her feedback's words and in a report's reason), plants a symlink
to a root-only file inside her piece and a symlink piece in the group folder. The teacher
opens the piece from the moderation list in Debian's Chromium: her work is shown (the markers
are on the page) and none of the payloads runs (the same markup set into a plain page does run:
the control). A teacher of another group gets 403; path tricks in the piece's name get 404.
Then the teacher takes the published piece down through a confirmation page, in a browser
with scripts off: the family link answers 404 in plain words and ana's showcase list says
"Taken down" with the teacher's note. axe-core checks every page; screenshots go to
tests/artifacts/teacher-pages-*.png.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from axe import assert_accessible
from connected_learning.showcase.widgets import proposal_html
from realhub import PASSWORD, RunningHub
from test_browser_showcase import CLHUB, api, as_learner, write_as

pytestmark = [pytest.mark.integration, pytest.mark.browser]
SECRET = "root-only-secret-7f3a"
MADRID = "Europe/Madrid"  # UTC+2 in June and July
MD_PAYLOAD = (
    "md-marker: my street\n\n<script>window.top.pwned = 'md-script'</script>\n\n"
    '<img src="x" onerror="window.top.pwned = \'md-img\'" alt="broken">'
)
OUTPUT_PAYLOAD = "<b>output-marker</b><script>window.top.pwned = 'output'</script>"
HTML_FILE = (
    "<p>html-file-marker</p><script>window.top.pwned = 'html-file'</script><svg onload=\"window.top.pwned='svg'\">"
)


def evil_notebook() -> bytes:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"id": "a1", "cell_type": "markdown", "metadata": {}, "source": MD_PAYLOAD},
                {
                    "id": "a2",
                    "cell_type": "code",
                    "metadata": {},
                    "execution_count": 1,
                    "source": "print('code-marker')",
                    "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"text/html": OUTPUT_PAYLOAD}}],
                },
            ],
        }
    ).encode()


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub(
        {"ana": ("student", ["g"]), "ben": ("student", ["g"]), "tess": ("teacher", ["g"]), "ted": ("teacher", ["h"])}
    )
    for short in ("ana", "ben"):
        s = hub.login(short)
        assert s.spawn_with_form(["art"]).status_code == 302
        s.wait_ready(hub.name(short))
    return hub


def login(browser: Browser, hub: RunningHub, short: str, *, scripts: bool = True) -> Page:
    # A teacher in Madrid: times on the pages, and times typed into them, are Madrid's.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=scripts, timezone_id=MADRID, locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login?next=/services/classroom/")
    page.fill("#username_input", hub.name(short))
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/services/classroom/.*"))
    return page


def check_axe(page: Page, name: str, artifacts: Path) -> None:
    assert_accessible(page, f"teacher-pages-{name}")


def test_moderation_opens_the_piece_safely_and_a_teacher_takes_a_piece_down(
    hub: RunningHub, browser: Browser, artifacts: Path
) -> None:
    g = hub.name("g")
    classroom = f"{hub.url}/services/classroom"
    write_as(hub, "ana", {"street.ipynb": evil_notebook(), "street.html": HTML_FILE.encode()})
    out = as_learner(hub, "ana", CLHUB, "share", "street.ipynb", "street.html", "--title", "My <b>street</b>")
    piece = out.split(" as ")[1].split(" ")[0]
    folder = hub.data_dir / "groups" / g / "peer-review"
    # A root-only secret, a link to it inside ana's piece, and a piece that is itself a link.
    secret = hub.data_dir / "secret.txt"
    secret.write_text(SECRET)
    os.chmod(secret, 0o600)
    as_learner(
        hub,
        "ana",
        "/bin/sh",
        "-c",
        f"chmod u+w {folder / piece / 'v1'} && ln -s {secret} {folder / piece / 'v1' / 'leak.txt'} && "
        f"ln -s {folder / piece} {folder / 'zz-link'}",
    )
    assert SECRET in (folder / piece / "v1" / "leak.txt").read_text()  # control: as root the link leads there
    assert (folder / "zz-link" / "piece.json").is_file()  # control: the link piece leads to a real piece
    as_learner(hub, "ben", CLHUB, "feedback", piece, "--works", "fb-marker <script>window.top.pwned='fb'</script>")
    r = api(
        hub,
        "ben",
        "POST",
        f"/groups/{g}/reports",
        json={"piece": piece, "reason": "report-marker <img src=x onerror=\"window.top.pwned='rep'\">"},
    )
    assert r.status_code == 201, r.text
    r = api(hub, "ana", "POST", f"/groups/{g}/showcase/proposals", json={"piece": piece, "title": "My street"})
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]
    assert api(hub, "tess", "POST", f"/groups/{g}/showcase/consent/{hub.name('ana')}", json={"given": True}).ok
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/proposals/{proposal}/approve", json={"lang": "en"})
    assert r.status_code == 200, r.text
    family = f"{hub.url}{r.json()['link']}"
    assert requests.get(family, timeout=60).status_code == 200
    r = api(
        hub, "tess", "POST", f"/groups/{g}/assignments", json={"workbook": "recipe-scaler", "due": "2030-06-01T17:00"}
    )
    assert r.status_code == 201, r.text

    # Control: the very same markup in a page of its own runs.
    control = browser.new_page()
    control.set_content(f"<div>{MD_PAYLOAD}{OUTPUT_PAYLOAD}</div>")
    control.wait_for_function("window.pwned !== undefined")
    control.close()

    page = login(browser, hub, "tess")
    page.goto(f"{classroom}/groups/{g}/moderation")
    expect(page.get_by_role("heading", name=f"Reports and pieces of {g}")).to_be_visible()
    expect(page.get_by_text("report-marker")).to_be_visible()
    page.screenshot(path=str(artifacts / "teacher-pages-1-moderation.png"), full_page=True)
    check_axe(page, "moderation", artifacts)
    page.get_by_role("link", name=re.compile("Open the reported piece")).click()
    expect(page.get_by_role("heading", name="My <b>street</b>")).to_be_visible()
    expect(page.get_by_text("fb-marker")).to_be_visible()
    frame = page.frame_locator("iframe")
    for marker in ("md-marker", "output-marker", "html-file-marker", "code-marker"):
        expect(frame.get_by_text(marker).first).to_be_visible()
    page.wait_for_timeout(1000)  # time for a payload to fire, had it been let in
    assert page.evaluate("window.pwned") is None
    inner = page.frames[1]
    assert inner.evaluate("document.querySelectorAll('script, [onerror], [onload]').length") == 0
    assert SECRET not in inner.content() and "leak.txt" not in inner.content()
    page.screenshot(path=str(artifacts / "teacher-pages-2-piece.png"), full_page=True)
    page.locator("iframe").screenshot(path=str(artifacts / "teacher-pages-2-piece-files.png"))
    check_axe(page, "piece", artifacts)
    # From the piece itself: hide it, show it again, dismiss the report; each time back on its page.
    page.get_by_role("button", name="Hide it from the group").click()
    expect(page.get_by_text("hidden from the group")).to_be_visible()
    assert not (folder / piece).exists()  # out of the members' folder
    expect(page.frame_locator("iframe").get_by_text("md-marker")).to_be_visible()  # still opens, hidden
    page.get_by_role("button", name="Show it to the group again").click()
    expect(page.get_by_role("button", name="Hide it from the group")).to_be_visible()
    assert (folder / piece / "piece.json").is_file()
    page.get_by_role("button", name="Dismiss this report").click()
    expect(page.get_by_text("dismissed)")).to_be_visible()
    expect(page.get_by_role("heading", name="My <b>street</b>")).to_be_visible()
    view = page.request.get(f"{classroom}/groups/{g}/pieces/{piece}/view")
    assert view.headers.get("content-security-policy") == "sandbox", view.headers

    # Path tricks in the piece's name, and the link piece: nothing there.
    for trick in ("..%2F..%2Fhub", "%2e%2e", "..", "zz-link", f"{piece}%2Fv1", "ZZ"):
        for tail in ("", "/view"):
            r = page.request.get(f"{classroom}/groups/{g}/pieces/{trick}{tail}")
            assert r.status in (403, 404), (trick, tail, r.status)
            assert SECRET not in r.text() and "md-marker" not in r.text(), (trick, tail)

    # A teacher of another group: 403 on the list, the piece and its files (control: tess gets 200).
    other = login(browser, hub, "ted")
    for path in (
        f"groups/{g}/moderation",
        f"groups/{g}/pieces/{piece}",
        f"groups/{g}/pieces/{piece}/view",
        f"groups/{g}/showcase",
        f"groups/{g}/showcase/{proposal}/take-down",
    ):
        assert other.request.get(f"{classroom}/{path}").status == 403, path
        assert page.request.get(f"{classroom}/{path}").status == 200, path
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', other.request.get(f"{classroom}/").text())
    assert xsrf, "ted's own classroom page carries his form token"
    r = other.request.post(f"{classroom}/groups/{g}/showcase/{proposal}/take-down", form={"_xsrf": xsrf.group(1)})
    assert r.status == 403
    assert requests.get(family, timeout=60).status_code == 200  # still published

    page.goto(f"{classroom}/groups/{g}/showcase")
    page.screenshot(path=str(artifacts / "teacher-pages-3-showcase.png"), full_page=True)
    check_axe(page, "showcase", artifacts)
    page.goto(f"{classroom}/groups/{g}/showcase/{proposal}/take-down")
    page.screenshot(path=str(artifacts / "teacher-pages-4-take-down.png"), full_page=True)
    check_axe(page, "take-down", artifacts)
    page.goto(f"{classroom}/groups/{g}/assignments")
    expect(page.get_by_role("cell", name="Not opened yet").first).to_be_visible()
    due = page.locator("time.clh-local").first
    expect(due).to_have_attribute("datetime", "2030-06-01T17:00:00Z")
    expect(due).to_contain_text("19:00")  # 17:00 UTC, in Madrid's summer time
    page.get_by_label("New due date (empty: none)").fill("2030-07-01T09:00")  # Madrid's 9 o'clock
    page.get_by_role("button", name="Change the due date").click()
    expect(page.get_by_role("status")).to_contain_text("The due date of recipe-scaler is changed")
    expect(page.locator("time.clh-local").first).to_have_attribute("datetime", "2030-07-01T07:00:00Z")
    expect(page.locator("time.clh-local").first).to_contain_text("09:00")
    page.screenshot(path=str(artifacts / "teacher-pages-5-assignments.png"), full_page=True)
    check_axe(page, "assignments", artifacts)

    # The take-down itself, with scripts off: a plain confirmation form.
    plain = login(browser, hub, "tess", scripts=False)
    plain.goto(f"{classroom}/groups/{g}/showcase")
    plain.get_by_role("link", name=re.compile("Take down")).click()
    expect(plain.get_by_role("heading", name=re.compile("Take down"))).to_be_visible()
    assert requests.get(family, timeout=60).status_code == 200  # opening the confirmation changes nothing
    plain.get_by_label(re.compile("A note to")).fill("Please ask me before sharing pages with code.")
    plain.get_by_role("button", name="Yes, take it down").click()
    expect(plain.get_by_role("status")).to_contain_text("is taken down")
    expect(plain.get_by_role("cell", name="Taken down", exact=False).first).to_be_visible()
    plain.screenshot(path=str(artifacts / "teacher-pages-6-taken-down.png"), full_page=True)
    gone = requests.get(family, timeout=60)
    assert gone.status_code == 404 and "This page is not here" in gone.text
    mine = api(hub, "ana", "GET", f"/groups/{g}/showcase/mine").json()["proposals"]
    (it,) = [p for p in mine if p["id"] == proposal]
    shown = proposal_html(it)  # what MY-SHOWCASE shows her
    assert "Taken down" in shown and "Please ask me before sharing pages with code." in shown
    again = plain.request.get(f"{classroom}/groups/{g}/showcase/{proposal}/take-down")
    assert again.status == 409  # nothing left to take down
