"""Browser: two learners, one after the other, at one library computer (Debian's Chromium).

ana logs in, her JupyterLab opens, she logs out; Back brings the log-in page, whose address
would send the next person to ana's server. ben logs in on that page and lands in his own
space, not on a 404 for ana's.
"""

from __future__ import annotations

import pytest

from conftest import PASSWORD, RunningHub, open_logged_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub({"ana": ("student", ["class"]), "ben": ("student", ["class"])})


def test_back_after_logout_then_the_next_learner_lands_in_their_own_space(hub: RunningHub, browser, artifacts) -> None:
    ana, ben = hub.name("ana"), hub.name("ben")
    page = open_logged_in(browser, hub, "ana")
    page.get_by_label("Music").check()
    page.click("button[type=submit]")
    page.wait_for_url(f"**/user/{ana}/lab**", timeout=120_000)
    page.locator(".jp-LabShell").wait_for()

    page.goto(f"{hub.url}/hub/logout")
    page.wait_for_selector("#username_input")
    hub.api.wait_for_server(ana, ready=False, timeout=60)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.go_back()  # to ana's JupyterLab: its server is gone, so the hub asks for a log-in
    page.wait_for_selector("#username_input", timeout=60_000)
    # The hub did ask with ana's address as `next`; the page the next person sees has none.
    assert any("/hub/login?next=" in url and ana in url for url in asked), asked
    assert ana not in page.url, page.url
    page.screenshot(path=str(artifacts / "shared-computer-1-back-after-logout.png"))

    page.fill("#username_input", ben)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_selector("fieldset.clhub-interests")  # ben's first start: his interests form
    assert page.url.startswith(f"{hub.url}/hub/spawn"), page.url
    assert ana not in page.url and ana not in page.content()
    page.screenshot(path=str(artifacts / "shared-computer-2-next-learner.png"))
    page.close()
