"""Browser: school accounts at one shared computer, through the real log-in page (Debian's Chromium).

A real OpenID Connect provider (oidc-provider-mock) is the school's. Ada signs in with the school
button, lands in her own space, logs out: the hub sends the browser on to the provider to end her
session there (with her ID token as id_token_hint) and back to the log-in page. Then the next person
at that computer presses the same button: the provider asks for a sign-in again (the hub asked for
prompt=login and max_age=0), nothing lets them into Ada's account, and whoever signs in lands in
their own space.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from oidc_provider import Provider, provider
from realhub import RunningHub, launch_hub, teardown_hub, unique_prefix

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with provider() as p:
        yield p


@pytest.fixture(scope="module")
def hub(idp: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    secret = tmp_path_factory.mktemp("secret") / "oidc-secret"
    secret.write_text("browser-test-secret\n")
    os.chmod(secret, 0o600)
    settings = (
        'method = ["oidc", "native"]\n\n[login.oidc]\nclient_id = "clhub-browser"\n'
        f'client_secret_file = "{secret}"\nissuer = "{idp.url}"\nbutton_label = "Sign in with Riverside School"\n'
    )
    h = launch_hub({}, spawner="demo", extra_settings=settings, prefix=unique_prefix())
    yield h
    teardown_hub(h)


def sign_in_at_provider(page, idp: Provider, sub: str) -> dict[str, list[str]]:  # noqa: ANN001
    """On the provider's sign-in page: check it is the provider's and what the hub asked for; sign in as `sub`."""
    page.wait_for_url(f"{idp.url}/oauth2/authorize**")
    asked = parse_qs(urlsplit(page.url).query)
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    return asked


def test_log_out_on_a_shared_computer_ends_the_school_session_and_the_next_person_must_sign_in(
    hub: RunningHub, idp: Provider, browser, artifacts
) -> None:
    idp.set_user("ada-sub", given_name="Ada", family_name="Lovelace", email="ada@riverside.example")
    idp.set_user("ben-sub", given_name="Ben", family_name="Okafor")
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login")
    button = page.locator("#school-login")
    assert button.inner_text() == "Sign in with Riverside School"
    assert page.locator("#username_input").is_visible()  # "native" is on too, after the button
    page.screenshot(path=str(artifacts / "oidc-1-login-page.png"))

    button.click()
    asked = sign_in_at_provider(page, idp, "ada-sub")
    assert asked["prompt"] == ["login"] and asked["max_age"] == ["0"] and asked["scope"] == ["openid profile"]
    page.wait_for_selector("fieldset.clhub-interests")  # Ada's first start: her interests form
    assert page.url.startswith(f"{hub.url}/hub/spawn")
    content = page.content()
    assert "Lovelace" not in content and "ada@riverside.example" not in content
    page.screenshot(path=str(artifacts / "oidc-2-first-log-in.png"))
    assert page.get_by_text("Change my password").count() == 0  # no password here to change
    names = [u["name"] for u in hub.api.get("/users").json() if u["name"].startswith("s-")]
    assert len(names) == 1
    ada_name = names[0]
    hub.users.append(ada_name)

    # Log Out: the hub's session ends, then the provider's, and the browser comes back to the log-in page.
    page.goto(f"{hub.url}/hub/logout")
    page.wait_for_url(f"{idp.url}/oauth2/end_session**")
    ending = parse_qs(urlsplit(page.url).query)
    assert ending["id_token_hint"][0].count(".") == 2  # Ada's ID token, so the provider knows whose session
    assert ending["post_logout_redirect_uri"] == [f"{hub.url}/hub/login"]
    page.screenshot(path=str(artifacts / "oidc-3-provider-log-out.png"))
    page.get_by_role("button", name="End session").click()
    page.wait_for_selector("#school-login")
    assert page.url.startswith(f"{hub.url}/hub/login")

    # The next person: Back, then Ada's own addresses, then the button. Never Ada's space without a sign-in.
    page.go_back()
    assert "clhub-interests" not in page.content()
    page.goto(f"{hub.url}/hub/spawn/{ada_name}")
    page.wait_for_selector("#school-login")
    assert ada_name not in page.url
    page.locator("#school-login").click()
    asked = sign_in_at_provider(page, idp, "ben-sub")  # the provider asks again: no session carried over
    assert asked["prompt"] == ["login"] and asked["nonce"] != []
    page.wait_for_selector("fieldset.clhub-interests")
    users = [u["name"] for u in hub.api.get("/users").json() if u["name"].startswith("s-")]
    ben_name = next(n for n in users if n != ada_name)
    hub.users.append(ben_name)
    assert ada_name not in page.url and ada_name not in page.content()
    assert page.url.startswith(f"{hub.url}/hub/spawn")
    page.screenshot(path=str(artifacts / "oidc-4-next-person.png"))
    who = page.request.get(f"{hub.url}/hub/api/user", headers={"X-XSRFToken": xsrf(page)}).json()
    assert who["name"] == ben_name
    page.close()


def xsrf(page) -> str:  # noqa: ANN001
    return next((c["value"] for c in page.context.cookies() if c["name"] == "_xsrf"), "")
