"""Browser: a launch from a course page of the test's learning platform, in Debian's Chromium.

The platform's course page posts the log-in initiation to the hub by itself, the hub sends the
browser to the platform's authorization endpoint, whose page posts the signed id_token back:
Ada lands in her JupyterLab, in the workbook the link names. Then the shared computer: she logs
out, and the next person at that browser cannot get into her account, neither through the
hub's pages nor by sending her launch's id_token again (the Back button's form repost).
"""

from __future__ import annotations

from typing import Any

import pytest

from lti_platform import Course, Launch, Person, Platform
from test_login_lti import adopt, lti_hub, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.browser]

COURSE = Course("moodle-course-42", "7B Music", "Music with Mr. Okafor")
ADA = Person("moodle-user-1207", "Ada", "Lovelace", "ada@school.example")


@pytest.fixture
def platform() -> Any:
    p = Platform().start()
    yield p
    p.stop()


def test_a_launch_lands_in_the_workbook_and_log_out_closes_the_account(
    make_hub: Any, platform: Platform, browser: Any, artifacts: Any
) -> None:
    hub = lti_hub(make_hub, platform)
    before = snapshot(hub)
    link = platform.add(Launch(ADA, COURSE, custom={"workbook": "beat-lab"}))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)
    posted: list[dict[str, str]] = []

    def keep_callback(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/hub/lti13/oauth_callback"):
            posted.append(dict(request.post_data_json or {}))

    page.on("request", keep_callback)
    page.goto(f"{platform.url}/course/{link.id}")
    page.wait_for_url("**/lab/tree/workbooks/beat-lab/beat-lab.ipynb**", timeout=180_000)
    (ada,), (group,) = adopt(hub, before)
    assert f"/user/{ada}/" in page.url
    page.locator(".jp-NotebookPanel .jp-RenderedMarkdown h1").first.wait_for(timeout=120_000)
    assert "Beat Lab" in page.locator(".jp-NotebookPanel .jp-RenderedMarkdown h1").first.inner_text()
    page.screenshot(path=str(artifacts / "lti-1-launched-into-workbook.png"))
    assert posted and posted[0].get("id_token"), "the platform's page never posted the id_token"
    assert platform.jwks_fetches == 1

    # Log Out, then the next person at this computer.
    page.goto(f"{hub.url}/hub/logout")
    page.wait_for_selector("#username_input")
    hub.api.wait_for_server(ada, ready=False, timeout=60)
    page.goto(f"{hub.url}/hub/home")
    page.wait_for_selector("#username_input")  # the log-in page, not Ada's home
    assert ada not in page.content()
    assert "click the link to this hub there" in page.inner_text("#login-lti13")
    page.goto(f"{hub.url}/user/{ada}/lab/tree/workbooks/beat-lab/beat-lab.ipynb")
    page.wait_for_selector("#username_input")
    assert "/lab/" not in page.url.split("?")[0], page.url
    page.screenshot(path=str(artifacts / "lti-2-after-logout.png"))

    # Her launch's id_token, posted again from this browser (the Back button's "send the form
    # again"): refused, and still nobody is logged in.
    page.goto(f"{platform.url}/course/none")  # any page of the platform's site, to post from
    page.set_content(_form(f"{hub.url}/hub/lti13/oauth_callback", posted[0]))
    page.wait_for_url("**/hub/lti13/oauth_callback")
    text = page.inner_text("body")
    assert "already used once" in text or "did not keep the hub" in text, text[:500]
    assert platform.jwks_fetches >= 1
    page.screenshot(path=str(artifacts / "lti-3-old-launch-refused.png"))
    page.goto(f"{hub.url}/hub/home")
    page.wait_for_selector("#username_input")
    assert len(snapshot(hub)["users"]) == len(before["users"]) + 1
    page.close()


def _form(action: str, fields: dict[str, str]) -> str:
    import html

    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return (
        f'<form id="f" method="post" action="{html.escape(action)}">{inputs}</form>'
        '<script>document.getElementById("f").submit()</script>'
    )
