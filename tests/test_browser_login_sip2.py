"""Browser: library cards at one shared library computer (Debian's Chromium, a real hub, a real SIP2 server).

A patron types a wrong PIN (plain words, the card number not shown back), then the right one
and lands on their first page (choosing interests); they log out. The next patron at the
same browser finds an empty form, cannot get into the previous account with a wrong PIN
(nor through the hub's pages or Back), and gets into their own account with their own card.
The control: the previous card with its own PIN does get in, so only the PIN stood in the way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import RunningHub
from connected_learning.accounts.store import read_display_names
from connected_learning.hub.login_sip2 import WRONG_CARD
from connected_learning.paths import DataLayout
from sip2_server import INSTITUTION, PATRONS, STAFF, VALID, Sip2Site, card_settings, running_sip2

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def sip2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sip2Site]:
    with running_sip2(tmp_path_factory.mktemp("sip2-certs")) as site:
        yield site


@pytest.fixture(scope="module")
def hub(make_hub, sip2: Sip2Site, tmp_path_factory: pytest.TempPathFactory) -> RunningHub:
    return make_hub({"ana": ("student", ["class"])}, extra_settings=card_settings(sip2, tmp_path_factory.mktemp("s")))


def users(hub: RunningHub) -> set[str]:
    return {u["name"] for u in hub.api.get("/users").json()}


def type_card(page, card: str, pin: str) -> None:  # noqa: ANN001
    page.fill("#card_input", card)
    page.fill("#pin_input", pin)
    page.click("#card_submit")


def test_card_log_in_then_the_next_patron_cannot_get_into_the_previous_account(
    hub: RunningHub, sip2: Sip2Site, browser, artifacts
) -> None:
    assert INSTITUTION
    before = set(users(hub))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login")
    page.wait_for_selector("#card_input")
    page.screenshot(path=str(artifacts / "sip2-1-login-page.png"))

    type_card(page, VALID, "0000")
    page.wait_for_selector(".login_error")
    assert WRONG_CARD in page.inner_text(".login_error")
    assert VALID not in page.content() and page.input_value("#card_input") == ""
    page.screenshot(path=str(artifacts / "sip2-2-wrong-pin.png"))

    type_card(page, VALID, PATRONS[VALID].pin)
    page.wait_for_selector("fieldset.clhub-interests")  # the first log-in: choosing interests
    (first,) = set(users(hub)) - before
    hub.users.append(first)
    assert VALID not in page.content() and VALID not in page.url
    page.screenshot(path=str(artifacts / "sip2-3-first-log-in.png"))

    page.goto(f"{hub.url}/hub/logout")
    page.wait_for_selector("#card_input")
    # The next patron, at the same browser: an empty form, and the previous account is closed.
    assert page.input_value("#card_input") == "" and page.input_value("#pin_input") == ""
    page.goto(f"{hub.url}/hub/home")
    page.wait_for_selector("#card_input")  # sent to log in, not into the previous account
    page.go_back()
    page.wait_for_selector("#card_input")
    asked = len(sip2.got("63"))
    type_card(page, VALID, "1234")  # the previous card, without its PIN
    page.wait_for_selector(".login_error")
    assert WRONG_CARD in page.inner_text(".login_error")
    assert len(sip2.got("63")) == asked + 1  # the control: that try did reach the catalogue, which said no
    page.goto(f"{hub.url}/hub/home")
    page.wait_for_selector("#card_input")
    page.screenshot(path=str(artifacts / "sip2-4-next-patron-refused.png"))

    # The next patron's own card (a librarian's): they land where they asked to go, as themselves.
    type_card(page, STAFF, PATRONS[STAFF].pin)
    page.wait_for_url("**/hub/home")
    (second,) = set(users(hub)) - before - {first}
    hub.users.append(second)
    shown = read_display_names(DataLayout(hub.data_dir))
    assert shown[second] != second and f"Hello, {shown[second]}" in page.inner_text("body")  # "Ada L.", not c-...
    assert page.inner_text("#clhub-shown-name") == shown[second]
    assert first not in page.content() and first not in page.url and STAFF not in page.content()
    page.screenshot(path=str(artifacts / "sip2-5-next-patron.png"))
    page.goto(f"{hub.url}/hub/logout")
    page.wait_for_selector("#card_input")

    # The control: the previous card with its own PIN gets back in, to the same account.
    type_card(page, VALID, PATRONS[VALID].pin)
    page.wait_for_selector("fieldset.clhub-interests")
    assert set(users(hub)) - before == {first, second}
    page.goto(f"{hub.url}/hub/home")
    assert f"Hello, {shown[first]}" in page.inner_text("body")
    page.close()
    assert VALID not in hub.log() and STAFF not in hub.log()
