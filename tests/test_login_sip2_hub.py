"""The library card in a real hub: `[login] method = ["native", "sip2"]`, the card form at /hub/card-login.

The hub reaches the test's SIP2 server (tests/sip2_server.py) over TCP; the server's record
is the control that each log-in reached the catalogue. A card holder's first log-in makes a
hub user (c-..., never the card number) in the walk-in group with the display name "Ada L.";
the second is the same user; a wrong PIN makes nothing. The card number and PIN appear on no
page and in no line of the hub's log.
"""

from __future__ import annotations

import pwd
import re
from collections.abc import Iterator

import pytest

from conftest import PASSWORD, RunningHub, needs_root
from connected_learning.accounts.store import read_display_names
from connected_learning.hub.login_sip2 import CARD_BLOCKED, WRONG_CARD
from connected_learning.paths import DataLayout
from connected_learning.settings import load_settings
from hubclient import HubSession
from kernelclient import run_code
from realhub import config_with_admin_token, launch_hub, teardown_hub
from sip2_server import BLOCKED, PATRONS, STAFF, VALID, Sip2Site, card_settings, running_sip2

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def sip2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sip2Site]:
    with running_sip2(tmp_path_factory.mktemp("sip2-certs")) as site:
        yield site


@pytest.fixture(scope="module")
def hub(make_hub, sip2: Sip2Site, tmp_path_factory: pytest.TempPathFactory) -> RunningHub:
    return make_hub({"ana": ("student", ["class"])}, extra_settings=card_settings(sip2, tmp_path_factory.mktemp("s")))


def card_log_in(hub: RunningHub, card: str, pin: str) -> tuple[HubSession, object]:
    s = HubSession(hub.url)
    page = s.http.get(f"{hub.url}/hub/login")
    assert page.status_code == 200 and 'name="card"' in page.text  # the card form is on the log-in page
    r = s.http.post(
        f"{hub.url}/hub/card-login?next=",
        data={"card": card, "pin": pin, "_xsrf": s.xsrf()},
        allow_redirects=False,
    )
    return s, r


def users(hub: RunningHub) -> dict[str, dict]:
    return {u["name"]: u for u in hub.api.get("/users").json()}


def test_a_card_logs_in_and_comes_back_as_the_same_learner(hub: RunningHub, sip2: Sip2Site) -> None:
    before = set(users(hub))
    asked = len(sip2.got("63", sip2.tls_port))
    s, r = card_log_in(hub, VALID, PATRONS[VALID].pin)
    assert r.status_code == 302, r.text[:500]
    assert sip2.cards_asked(sip2.tls_port)[asked:] == [VALID]  # the control: over TLS, to the catalogue
    new = set(users(hub)) - before
    assert len(new) == 1
    (name,) = new
    hub.users.append(name)  # the teardown removes its system user
    assert re.fullmatch(r"c-[a-z2-7]{10,}", name)
    assert users(hub)[name]["groups"] == ["walk-in"]
    assert read_display_names(DataLayout(hub.data_dir))[name] == "Ada L."
    home = s.http.get(f"{hub.url}/hub/home")
    assert VALID not in home.text
    # The second log-in, from another computer: the same learner.
    _, again = card_log_in(hub, VALID, PATRONS[VALID].pin)
    assert again.status_code == 302
    assert set(users(hub)) - before == {name}
    assert VALID not in hub.log() and PATRONS[VALID].pin not in hub.log()
    assert name in hub.log()


def test_a_staff_card_teaches_the_walk_in_group(hub: RunningHub) -> None:
    before = set(users(hub))
    _, r = card_log_in(hub, STAFF, PATRONS[STAFF].pin)
    assert r.status_code == 302
    (name,) = set(users(hub)) - before
    hub.users.append(name)
    roles = {role for role in users(hub)[name]["roles"]}
    assert "teacher-walk-in" in roles, roles


@pytest.mark.parametrize(("card", "pin", "words"), [(VALID, "0000", WRONG_CARD), (BLOCKED, "1111", CARD_BLOCKED)])
def test_a_refused_card_gets_plain_words_and_nothing_is_made(
    hub: RunningHub, sip2: Sip2Site, card: str, pin: str, words: str
) -> None:
    before = set(users(hub))
    asked = len(sip2.got("63", sip2.tls_port))
    _, r = card_log_in(hub, card, pin)
    assert r.status_code == 403
    assert words in r.text.replace("&#39;", "'")
    assert card not in r.text and pin not in r.text  # the form is not refilled
    assert sip2.cards_asked(sip2.tls_port)[asked:] == [card]  # the control: the catalogue said no
    assert set(users(hub)) == before
    assert card not in hub.log()


def test_a_silent_catalogue_gets_plain_words_and_the_hub_keeps_answering(
    make_hub, sip2: Sip2Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The card check waits on the catalogue without holding up the hub: while one patron's log-in
    waits for a catalogue that never answers, the hub answers another request."""
    import threading

    quiet = make_hub({}, extra_settings=card_settings(sip2, tmp_path_factory.mktemp("s"), silent=True))
    before = set(users(quiet))
    heard = len(sip2.silent_connections)
    done: list[object] = []
    waiting = threading.Thread(target=lambda: done.append(card_log_in(quiet, VALID, PATRONS[VALID].pin)[1]))
    waiting.start()
    while len(sip2.silent_connections) == heard:  # the hub has asked the catalogue, which stays silent
        waiting.join(0.05)
        assert waiting.is_alive(), "the card log-in ended before it reached the catalogue"
    other = HubSession(quiet.url).http.get(f"{quiet.url}/hub/login")
    assert other.status_code == 200
    assert not done, "the hub answered only after the card check ended"  # the control: it was still waiting
    waiting.join(60)
    (r,) = done
    assert r.status_code == 503  # type: ignore[attr-defined]
    assert "We cannot check library cards right now" in r.text  # type: ignore[attr-defined]
    assert set(users(quiet)) == before
    assert VALID not in quiet.log() and "did not answer within 5 s" in quiet.log()


def test_one_pin_or_password_tried_on_many_cards_or_names_brakes_that_address(
    make_hub, sip2: Sip2Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The attack no card's or name's own brake sees: one guess each over many cards, then many
    names, from one computer. After `failed_logins_from_one_address` failures that computer's
    address waits, and a right PIN or password from it is not even checked; the owners, on the
    browsers they used before, still get in. Claiming other addresses in X-Real-IP and
    X-Forwarded-For headers does not escape it."""
    spread = make_hub(
        {"ana": ("student", ["class"])},
        extra_settings="failed_logins_from_one_address = 6\n" + card_settings(sip2, tmp_path_factory.mktemp("s")),
    )
    owner, r = card_log_in(spread, VALID, PATRONS[VALID].pin)  # the card holder's own computer
    assert r.status_code == 302
    spread.users.extend(set(users(spread)) - set(spread.users))
    owner.http.get(f"{spread.url}/hub/logout")  # the browser keeps its device cookie, as at home
    asked = len(sip2.got("63", sip2.tls_port))
    tries = [card_log_in(spread, f"2123400000{i:04d}", "1234")[1] for i in range(6)]
    assert [t.status_code for t in tries] == [403] * 5 + [429]  # type: ignore[attr-defined]
    # The control: the catalogue was asked about each of the six cards.
    assert sip2.cards_asked(sip2.tls_port)[asked:] == [f"2123400000{i:04d}" for i in range(6)]
    _, right = card_log_in(spread, VALID, PATRONS[VALID].pin)
    assert right.status_code == 429 and "Too many tries" in right.text  # type: ignore[attr-defined]
    assert len(sip2.got("63", sip2.tls_port)) == asked + 6  # that right PIN never reached the catalogue
    again = owner.http.post(
        f"{spread.url}/hub/card-login?next=",
        data={"card": VALID, "pin": PATRONS[VALID].pin, "_xsrf": owner.xsrf()},
        allow_redirects=False,
    )
    assert again.status_code == 302  # the owner's browser is not braked by the address
    assert sip2.cards_asked(sip2.tls_port)[asked + 6 :] == [VALID]  # and its PIN was checked

    ana = spread.name("ana")
    ana_browser = spread.login("ana")
    ana_browser.http.get(f"{spread.url}/hub/logout")
    guesses = []
    for i, name in enumerate((ana, "bo", "cy", "di", "ed", "flo")):
        guesser = spread.session()  # a new browser each time, claiming another address each time
        guesser.http.headers.update({"X-Real-IP": f"198.51.100.{i}", "X-Forwarded-For": f"203.0.113.{i}"})
        guesses.append(guesser.login(name, "Summer2026!"))
    assert [g.status_code for g in guesses] == [403] * 5 + [429]
    assert all("Invalid username or password" in g.text for g in guesses[:5])  # the control: each was checked
    assert "@198.51.100.3)" in spread.log()  # and the claims reached the hub, whose request log believed one
    assert spread.session().login(ana, PASSWORD).status_code == 429  # the right password, braked
    assert ana_browser.login(ana, PASSWORD).status_code == 302  # ana's own browser gets in


def test_a_learners_own_code_going_around_the_proxy_cannot_claim_other_addresses(make_hub) -> None:
    """In her own kernel, a learner posts straight to the hub's port on 127.0.0.1, around the
    proxy, claiming a new X-Forwarded-For and X-Real-IP each time: the hub counts her by her
    uid. The control: the kernel prints each answer it got, so every try reached the hub."""
    needs_root()
    hub = make_hub({"ana": ("student", ["class"])}, extra_settings="failed_logins_from_one_address = 6\n")
    name = hub.name("ana")
    ana = hub.login("ana")
    assert ana.spawn_with_form(["art"]).status_code == 302
    ana.wait_ready(name)
    token = hub.api.post(f"/users/{name}/tokens", json={"note": "attack test", "expires_in": 600})
    assert token.status_code == 201, token.text
    hub_port = load_settings(hub.site_file).hub_port
    # The hub's cookies name its public host, not 127.0.0.1: the attacker sends them back by hand.
    code = f"""
import http.client, re, urllib.parse
for i, name in enumerate(["bo", "cy", "di", "ed", "flo", "gus"]):
    # The log-in form's token is bound to the address the hub believes: claim it from the start.
    forged = {{"X-Forwarded-For": f"203.0.113.{{i}}", "X-Real-IP": f"198.51.100.{{i}}"}}
    hub = http.client.HTTPConnection("127.0.0.1", {hub_port}, timeout=30)
    hub.request("GET", "/hub/login", headers=forged)
    page = hub.getresponse()
    form = page.read().decode()
    cookies = "; ".join(v.split(";")[0] for k, v in page.getheaders() if k.lower() == "set-cookie")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode({{"username": name, "password": "Summer2026!", "_xsrf": xsrf}})
    headers = {{"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies, **forged}}
    hub.request("POST", "/hub/login?next=", body, headers)
    print(hub.getresponse().status)
"""
    out = run_code(hub.url, name, token.json()["token"], code, timeout=120)
    assert out.split() == ["403"] * 5 + ["429"], out
    assert f"from uid {pwd.getpwnam(name).pw_uid} on this machine" in hub.log()
    # Browsers through the proxy are another count: the next one is checked, not braked.
    assert hub.session().login(hub.name("ben"), "Summer2026!").status_code == 403


def test_a_card_only_site_offers_the_card_form_alone(sip2: Sip2Site, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`method = "sip2"`: the log-in page is the card form, a name and password open nothing (not
    even the site admin's), and a card logs in through that form. The tests reach the
    hub's API with a service token the configuration grants, since no password logs in."""
    folder = tmp_path_factory.mktemp("card-only")
    config, token = config_with_admin_token(folder)
    settings = card_settings(sip2, folder)
    assert settings.startswith('method = ["native", "sip2"]\n')
    site = launch_hub(
        {},
        spawner="demo",
        extra_settings='method = "sip2"\n' + settings.split("\n", 1)[1],
        config=config,
        api_token=token,
    )
    try:
        s = HubSession(site.url)
        page = s.http.get(f"{site.url}/hub/login")
        assert page.status_code == 200
        assert 'name="card"' in page.text and 'name="pin"' in page.text
        assert 'name="username"' not in page.text and 'name="password"' not in page.text
        assert page.text.count("<form") == 1
        # The site admin's own name and password, as a native site takes them: refused, no session.
        r = s.http.post(
            f"{site.url}/hub/login?next=",
            data={"username": site.admin, "password": PASSWORD, "_xsrf": s.xsrf()},
            allow_redirects=False,
        )
        assert r.status_code == 403
        assert "This site does not use user names and passwords" in r.text
        assert s.http.get(f"{site.url}/hub/home", allow_redirects=False).status_code == 302  # to the log-in page
        # A card, where the page's one form sends it.
        (action,) = re.findall(r'<form id="card-login" action="([^"]+)" method="post"', page.text)
        before = set(users(site))
        asked = len(sip2.got("63", sip2.tls_port))
        r = s.http.post(
            f"{site.url}{action}",
            data={"card": VALID, "pin": PATRONS[VALID].pin, "_xsrf": s.xsrf()},
            allow_redirects=False,
        )
        assert r.status_code == 302
        assert sip2.cards_asked(sip2.tls_port)[asked:] == [VALID]  # the control: the catalogue was asked
        (name,) = set(users(site)) - before
        site.users.append(name)
        assert re.fullmatch(r"c-[a-z2-7]{10,}", name)
        assert s.http.get(f"{site.url}/hub/home", allow_redirects=False).status_code == 200
    finally:
        teardown_hub(site)
