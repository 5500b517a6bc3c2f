"""School accounts against a real OpenID Connect provider (oidc-provider-mock) and real hubs.

One hub per provider kind, shared by the module: a "generic" provider found by discovery
(through `Front`, which can tamper with its tokens or close its port), a Google Workspace
school (hd claim) and a Microsoft Entra school (tid claim). Each log-in is the whole
round trip a browser makes: the school button, the provider's sign-in page, the callback.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from connected_learning.hub.login_oidc import (
    EXPIRED,
    GOOGLE_ISSUER,
    NOT_FRESH,
    NOT_SCHOOL,
    REFUSED,
    UNREACHABLE,
    OidcAuthenticator,
    OidcRefused,
)
from hubclient import HubSession
from oidc_provider import Front, Provider, message_of, provider, sign_in
from realhub import PASSWORD, RunningHub, launch_hub, teardown_hub, unique_prefix

pytestmark = pytest.mark.integration
TENANT = "0b5f9a1c-2d3e-4f50-8a9b-0c1d2e3f4a5b"
EMAIL = "ada.lovelace@riverside.example"


def oidc_settings(workdir: Path, table: str) -> str:
    secret = workdir / "oidc-secret"
    secret.write_text("a-test-client-secret\n")
    os.chmod(secret, 0o600)
    head = 'method = ["native", "oidc"]\n\n[login.oidc]\nclient_id = "clhub-tests"\n'
    return f'{head}client_secret_file = "{secret}"\n{table}'


def start_hub(tmp: Path, table: str) -> RunningHub:
    prefix = unique_prefix()
    return launch_hub({}, spawner="demo", extra_settings=oidc_settings(tmp, table.format(p=prefix)), prefix=prefix)


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with provider() as p:
        yield p


@pytest.fixture(scope="module")
def front(idp: Provider) -> Iterator[Front]:
    f = Front(idp).start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def hub(front: Front, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    table = (
        f'issuer = "{front.url}"\ngroups_claim = "groups"\n'
        'learner_groups = {{ "year7-art" = "{p}art" }}\nteacher_groups = {{ "staff-art" = "{p}art" }}\n'
    )
    h = start_hub(tmp_path_factory.mktemp("oidc"), table)
    yield h
    teardown_hub(h)


def hub_state(hub: RunningHub) -> dict[str, Any]:
    """Every account, group and external id the hub holds now."""
    db = sqlite3.connect(hub.data_dir / "hub" / "jupyterhub.sqlite")
    try:
        users = sorted(r[0] for r in db.execute("SELECT name FROM users"))
        groups = sorted(r[0] for r in db.execute("SELECT name FROM groups"))
        try:
            rows = db.execute("SELECT COUNT(*) FROM clhub_external_ids").fetchone()[0]
        except sqlite3.OperationalError:
            rows = 0
    finally:
        db.close()
    return {"users": users, "groups": groups, "rows": rows}


def names_file(hub: RunningHub) -> dict[str, str]:
    path = hub.data_dir / "hub" / "display-names.json"
    return json.loads(path.read_text()) if path.exists() else {}


def whoami(s: HubSession, hub: RunningHub) -> str:
    r = s.http.get(f"{hub.url}/hub/api/user", headers={"X-XSRFToken": s.xsrf()}, timeout=30)
    assert r.status_code == 200, r.text
    name: str = r.json()["name"]
    hub.users.append(name)  # its system user and folders go with the teardown
    return name


def test_first_log_in_makes_a_learner_with_a_safe_name_and_second_is_the_same_person(
    hub: RunningHub, idp: Provider
) -> None:
    idp.set_user("pupil-1", given_name="Ada", family_name="Lovelace", email=EMAIL, groups=["year7-art"])
    before = hub_state(hub)
    s = hub.session()
    attempt = sign_in(s, hub.url, "pupil-1")
    # A fresh sign-in every time, a nonce, and no e-mail asked for.
    assert attempt.params["prompt"] == "login" and attempt.params["max_age"] == "0"
    assert attempt.params["nonce"] and attempt.params["scope"] == "openid profile"
    assert attempt.answer.status_code == 302, message_of(attempt.answer.text)
    name = whoami(s, hub)
    assert name.startswith("s-") and len(name) == 12 and "ada" not in name and "pupil" not in name
    assert names_file(hub)[name] == "Ada L."
    model = hub.api.get(f"/users/{name}").json()
    assert model["groups"] == [f"{hub.prefix}art"]
    assert not any(r.startswith("teacher-") for r in model["roles"])
    after = hub_state(hub)
    assert set(after["users"]) - set(before["users"]) == {name}
    # Nothing about the person but the short name: no e-mail, no family name, no subject.
    for text in (hub.log(), json.dumps(model), (hub.data_dir / "hub" / "display-names.json").read_text()):
        assert EMAIL not in text and "Lovelace" not in text and "pupil-1" not in text
    # The same person again, on another computer: the same account, nothing new.
    again = hub.session()
    assert sign_in(again, hub.url, "pupil-1").answer.status_code == 302
    assert whoami(again, hub) == name
    assert hub_state(hub)["users"] == after["users"] and hub_state(hub)["rows"] == after["rows"]


def test_a_teacher_group_makes_a_teacher_and_no_groups_claim_joins_no_group(hub: RunningHub, idp: Provider) -> None:
    idp.set_user("staff-1", given_name="Tess", family_name="King", groups=["staff-art"])
    idp.set_user("pupil-2", given_name="Ben", family_name="T")  # the school sends no groups
    s = hub.session()
    assert sign_in(s, hub.url, "staff-1").answer.status_code == 302
    teacher = whoami(s, hub)
    model = hub.api.get(f"/users/{teacher}").json()
    assert model["groups"] == [f"{hub.prefix}art"] and f"teacher-{hub.prefix}art" in model["roles"]
    roles = json.loads((hub.data_dir / "hub" / "site-roles.json").read_text())
    assert teacher in roles["teacher"][f"{hub.prefix}art"]
    s2 = hub.session()
    assert sign_in(s2, hub.url, "pupil-2").answer.status_code == 302
    assert hub.api.get(f"/users/{whoami(s2, hub)}").json()["groups"] == []


@pytest.mark.parametrize(
    ("mode", "message"),
    [("expired", EXPIRED), ("forged", REFUSED), ("stale", NOT_FRESH), ("wrong-audience", REFUSED)],
)
def test_a_bad_token_is_refused_in_plain_words_and_creates_nothing(
    hub: RunningHub, idp: Provider, front: Front, mode: str, message: str
) -> None:
    sub = f"victim-{mode}"
    idp.set_user(sub, given_name="Cai", family_name="L")
    before = hub_state(hub)
    with front.doing(mode):
        attempt = sign_in(hub.session(), hub.url, sub)
    assert attempt.answer.status_code in (403, 400), attempt.answer.status_code
    assert message_of(attempt.answer.text) == message
    assert 'id="school-login"' in attempt.answer.text  # the way in is offered again
    assert hub_state(hub) == before
    # Control: the same person, the token untouched (re-signed by the front as always), gets in.
    control = hub.session()
    assert sign_in(control, hub.url, sub).answer.status_code == 302
    assert whoami(control, hub) not in before["users"]


def test_a_replayed_callback_is_refused(hub: RunningHub, idp: Provider) -> None:
    idp.set_user("pupil-3", given_name="Dee", family_name="R")
    s = hub.session()
    attempt = sign_in(s, hub.url, "pupil-3")
    assert attempt.answer.status_code == 302
    name = whoami(s, hub)
    before = hub_state(hub)
    # Someone with the address of that callback (history, a shoulder) in another browser.
    other = hub.session()
    r = other.http.get(attempt.callback_url, allow_redirects=False, timeout=30)
    assert r.status_code == 400 and message_of(r.text) == EXPIRED
    assert other.http.get(f"{hub.url}/hub/api/user", timeout=30).status_code == 403
    # The same browser again: its state cookie was spent, and the code is used up.
    r = s.http.get(attempt.callback_url, allow_redirects=False, timeout=30)
    assert r.status_code in (400, 403)
    assert hub_state(hub) == before and name in before["users"]


def test_a_provider_that_does_not_answer_gets_a_clear_message(hub: RunningHub, idp: Provider, front: Front) -> None:
    idp.set_user("pupil-4", given_name="Eve", family_name="S")
    before = hub_state(hub)
    with front.closed():
        attempt = sign_in(hub.session(), hub.url, "pupil-4")
    assert attempt.answer.status_code == 503
    assert message_of(attempt.answer.text) == UNREACHABLE
    assert hub_state(hub) == before
    assert "Traceback" not in attempt.answer.text


def test_the_password_form_still_works_beside_the_school_button(hub: RunningHub, idp: Provider) -> None:
    page = hub.session().http.get(f"{hub.url}/hub/login", timeout=30).text
    assert 'id="school-login"' in page and 'id="username_input"' in page
    assert page.index('name="username"') < page.index('id="school-login"')  # the setting's order
    admin = hub.session()
    assert admin.login(hub.admin, PASSWORD).status_code == 302
    # "Change my password" is for those with a password here, not for a school account.
    assert "Change my password" in admin.http.get(f"{hub.url}/hub/home", timeout=30).text
    idp.set_user("pupil-5", given_name="Fay", family_name="T")
    pupil = hub.session()
    assert sign_in(pupil, hub.url, "pupil-5").answer.status_code == 302
    whoami(pupil, hub)
    home = pupil.http.get(f"{hub.url}/hub/home", timeout=30).text
    assert "Log out" in home and "Change my password" not in home


# ---------------------------------------------------------------- the presets' own checks


@pytest.fixture(scope="module")
def google_hub(front: Front, idp: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    table = (
        'preset = "google"\nallowed_domains = ["riverside.example"]\n'
        f'authorize_url = "{idp.url}/oauth2/authorize"\n'
        f'token_url = "{front.url}/token?iss={GOOGLE_ISSUER}"\njwks_url = "{front.url}/jwks"\n'
    )
    h = start_hub(tmp_path_factory.mktemp("google"), table)
    yield h
    teardown_hub(h)


def test_google_lets_in_the_schools_domain_only(google_hub: RunningHub, idp: Provider) -> None:
    idp.set_user("g-1", given_name="Gus", family_name="P", hd="gmail-lookalike.example")
    idp.set_user("g-2", given_name="Hana", family_name="Q", hd="riverside.example")
    before = hub_state(google_hub)
    attempt = sign_in(google_hub.session(), google_hub.url, "g-1")
    assert attempt.params["prompt"] == "select_account"  # Google knows no prompt=login
    assert attempt.answer.status_code == 403 and message_of(attempt.answer.text) == NOT_SCHOOL
    assert hub_state(google_hub) == before
    s = google_hub.session()
    assert sign_in(s, google_hub.url, "g-2").answer.status_code == 302
    assert names_file(google_hub)[whoami(s, google_hub)] == "Hana Q."


@pytest.fixture(scope="module")
def microsoft_hub(front: Front, idp: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    issuer = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    table = (
        f'preset = "microsoft"\ntenant = "{TENANT}"\n'
        f'authorize_url = "{idp.url}/oauth2/authorize"\n'
        f'token_url = "{front.url}/token?iss={issuer}"\njwks_url = "{front.url}/jwks"\n'
    )
    h = start_hub(tmp_path_factory.mktemp("microsoft"), table)
    yield h
    teardown_hub(h)


def test_microsoft_lets_in_the_schools_tenant_only(microsoft_hub: RunningHub, idp: Provider) -> None:
    idp.set_user("m-1", given_name="Ivo", family_name="R", tid="11111111-2222-3333-4444-555555555555")
    idp.set_user("m-2", given_name="Jo", family_name="S", tid=TENANT)
    before = hub_state(microsoft_hub)
    attempt = sign_in(microsoft_hub.session(), microsoft_hub.url, "m-1")
    assert attempt.answer.status_code == 403 and message_of(attempt.answer.text) == NOT_SCHOOL
    assert hub_state(microsoft_hub) == before
    s = microsoft_hub.session()
    assert sign_in(s, microsoft_hub.url, "m-2").answer.status_code == 302
    assert whoami(s, microsoft_hub).startswith("s-")


# ---------------------------------------------------------------- a provider that does not answer, at discovery


def discovery_of(issuer: str) -> str:
    """What the first sign-in's discovery of `issuer` tells the learner (no hub needed: the authenticator alone)."""
    c = Config()
    c.OidcAuthenticator.issuer = issuer
    c.OidcAuthenticator.client_id = "hub"
    c.OidcAuthenticator.timeout_seconds = 1.0
    authenticator = OidcAuthenticator(config=c)
    try:
        asyncio.run(authenticator.discover())
    except OidcRefused as refused:
        return refused.message
    return "discovered " + authenticator.token_url


def test_discovery_of_a_closed_port_or_a_silent_provider_says_so(idp: Provider) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: the port is closed
        assert discovery_of(f"http://127.0.0.1:{port}") == UNREACHABLE
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # takes the connection, never answers: the hub gives up after timeout_seconds
        assert discovery_of(f"http://127.0.0.1:{silent.getsockname()[1]}") == UNREACHABLE
    # Control: the real provider is discovered.
    assert discovery_of(idp.url) == f"discovered {idp.url}/oauth2/token"
