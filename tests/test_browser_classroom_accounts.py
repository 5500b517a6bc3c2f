"""The teacher's account pages in Chromium: local times, confirmation pages, contrast (axe-core).

`local_time` is the classroom's one way to show a moment: UTC text in a `<time class="clh-local">`
that base.html's script rewrites in the viewer's time zone; the browser test opens the pages
in a context whose time zone is America/Chicago and reads what a teacher there sees.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from axe import assert_accessible
from connected_learning.classroom.base import jinja_environment, local_time
from realhub import PASSWORD, RunningHub
from test_browser_showcase import CLHUB, api, as_learner, write_as


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-06T12:00:00Z",
        "2026-12-06T12:00:00.123+00:00",
        "2026-12-06T07:00:00-05:00",
        "2026-12-06T12:00:00",  # no offset: the package writes UTC
        dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp(),
    ],
)
def test_local_time_marks_up_one_utc_moment_with_a_readable_fallback(value: object) -> None:
    assert str(local_time(value)) == (  # type: ignore[arg-type]
        '<time class="clh-local" datetime="2026-12-06T12:00:00Z">6 Dec 2026, 12:00 UTC</time>'
    )


def test_local_time_leaves_nothing_empty_and_escapes_what_it_cannot_read() -> None:
    assert str(local_time(None)) == "" and str(local_time("")) == ""
    assert str(local_time('<script>x</script>"')) == "&lt;script&gt;x&lt;/script&gt;&#34;"
    page = jinja_environment().from_string("{{ t | local_time }}").render(t="<b>soon</b>")
    assert page == "&lt;b&gt;soon&lt;/b&gt;"


# ------------------------------------------------------------------ in Chromium, as a teacher in Chicago

CHICAGO = "America/Chicago"  # UTC-6 in December


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    return make_hub({"tess": ("teacher", ["g"]), "cy": ("student", ["g"]), "dot": ("student", ["g"])})


def teacher_page(browser: Browser, hub: RunningHub, *, scripts: bool = True) -> Page:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=scripts, timezone_id=CHICAGO, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login?next=/services/classroom/")
    page.fill("#username_input", hub.name("tess"))
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/services/classroom/.*"))
    return page


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"classroom-accounts-{name}.png"), full_page=True)


@pytest.mark.integration
@pytest.mark.browser
def test_a_teacher_renames_removes_and_undoes_in_local_time_with_no_serious_axe_violation(
    hub: RunningHub, browser: Browser, artifacts: Path
) -> None:
    g, cy = hub.name("g"), hub.name("cy")
    classroom = f"{hub.url}/services/classroom/"
    page = teacher_page(browser, hub)
    row = page.locator(f"#member-{cy}")
    expect(row.locator("input[name=display_name]")).to_have_value("Cy")
    teacher_row = page.locator(f"#member-{hub.name('tess')}")
    expect(teacher_row).to_contain_text("an administrator manages this account")
    expect(teacher_row.get_by_role("link")).to_have_count(0)
    assert_accessible(page, "classroom-accounts/home")
    shot(page, artifacts, "home")

    row.locator("input[name=display_name]").fill("Cy the Comet")
    row.get_by_role("button", name="Save name").click()
    page.wait_for_url(re.compile(r".*/services/classroom/#group-.*"))
    expect(page.locator(f"#member-{cy} input[name=display_name]")).to_have_value("Cy the Comet")

    page.locator(f"#member-{cy} input[name=display_name]").fill("<b>Cy</b>")
    page.locator(f"#member-{cy}").get_by_role("button", name="Save name").click()
    expect(page.get_by_role("alert")).to_contain_text("'<' or '>'")
    assert_accessible(page, "classroom-accounts/error")
    shot(page, artifacts, "error")
    page.goto(classroom)

    page.locator(f"#member-{cy}").get_by_role("link", name="Reset password…").click()
    expect(page.get_by_role("heading", name="Reset the password?")).to_be_visible()
    expect(page.locator(".lead")).to_contain_text("Cy the Comet")
    assert_accessible(page, "classroom-accounts/confirm-reset")
    shot(page, artifacts, "confirm-reset")
    page.get_by_role("link", name="No, go back").click()

    page.locator(f"#member-{cy}").get_by_role("link", name="Remove from the class…").click()
    expect(page.get_by_role("heading", name="Remove from the class?")).to_be_visible()
    assert_accessible(page, "classroom-accounts/confirm-remove")
    shot(page, artifacts, "confirm-remove")
    page.get_by_role("button", name="Yes, remove the account").click()
    page.wait_for_url(re.compile(r".*/services/classroom/#group-.*"))
    due = json.loads((hub.data_dir / "hub" / "pending-removals.json").read_text())[cy]["due"]
    local = dt.datetime.fromisoformat(due).astimezone(ZoneInfo(CHICAGO))
    shown = page.locator(f"#member-{cy} time.clh-local")
    expect(shown).to_contain_text(f"{local:%I:%M}")
    expect(shown).to_contain_text("CST")
    assert "UTC" not in shown.inner_text() and shown.get_attribute("title", timeout=5000).endswith("UTC")
    assert_accessible(page, "classroom-accounts/home-removing")
    shot(page, artifacts, "home-removing")

    # Without JavaScript the same time reads in UTC, and the confirmation still works.
    plain = teacher_page(browser, hub, scripts=False)
    utc = dt.datetime.fromisoformat(due).astimezone(dt.UTC)
    expect(plain.locator(f"#member-{cy} time.clh-local")).to_have_text(f"{utc.day} {utc:%b %Y, %H:%M} UTC")
    plain.locator(f"#member-{cy}").get_by_role("button", name="Undo").click()
    plain.wait_for_url(re.compile(r".*/services/classroom/#group-.*"))
    expect(plain.locator(f"#member-{cy}").get_by_role("link", name="Remove from the class…")).to_be_visible()
    plain.context.close()

    page.goto(f"{classroom}groups/{g}/progress/{cy}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cy the Comet")
    assert_accessible(page, "classroom-accounts/student")
    page.goto(f"{classroom}roster")
    assert_accessible(page, "classroom-accounts/roster")
    shot(page, artifacts, "roster")
    page.context.close()


@pytest.mark.integration
@pytest.mark.browser
def test_a_piece_is_deleted_only_after_a_second_click_and_hide_is_readable(
    hub: RunningHub, browser: Browser, artifacts: Path
) -> None:
    g = hub.name("g")
    s = hub.login("dot")
    assert s.spawn_with_form(["art"]).status_code == 302
    s.wait_ready(hub.name("dot"))
    write_as(hub, "dot", {"my-cat.txt": b"a purple cat"})
    out = as_learner(hub, "dot", CLHUB, "share", "my-cat.txt", "--title", "My cat")
    piece = out.split(" as ")[1].split(" ")[0]
    r = api(hub, "cy", "POST", f"/groups/{g}/reports", json={"piece": piece, "reason": "not nice"})
    assert r.status_code == 201, r.text
    created = [x for x in api(hub, "tess", "GET", f"/groups/{g}/reports").json()["reports"] if x["piece"] == piece]
    local = dt.datetime.fromisoformat(created[0]["created"]).astimezone(ZoneInfo(CHICAGO))

    page = teacher_page(browser, hub)
    report_time = page.locator(f"#group-{g} li time.clh-local")
    expect(report_time).to_contain_text(f"{local:%I:%M}")
    expect(report_time).to_contain_text("CST")
    card = page.locator(f"#piece-{piece}")
    expect(card.get_by_role("button", name="Hide")).to_be_visible()
    assert_accessible(page, "classroom-accounts/home-pieces")
    card.get_by_text("Delete for good…").click()
    sure = card.get_by_role("button", name="Yes, delete for good")
    expect(sure).to_be_visible()
    assert_accessible(page, "classroom-accounts/home-delete-asks")
    shot(page, artifacts, "home-delete-asks")
    page.reload()
    expect(page.locator(f"#piece-{piece}")).to_have_count(1)  # opening the question deleted nothing
    page.locator(f"#piece-{piece}").get_by_text("Delete for good…").click()
    page.locator(f"#piece-{piece}").get_by_role("button", name="Yes, delete for good").click()
    page.wait_for_url(re.compile(r".*/services/classroom/#group-.*"))
    expect(page.locator(f"#piece-{piece}")).to_have_count(0)
    page.context.close()
