"""Integration: log-in and log-out on shared computers, with the real hub, proxy and spawner.

Guessing brakes the guesser, not the owner; unknown names answer like known ones; personal
pages are never cached; the log-in page forgets the previous person's address; logging out
during a start leaves no server; a teacher's password reset ends every session at once.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import PASSWORD, RunningHub
from connected_learning.settings import load_settings
from hubclient import HubAPI, http_session
from realhub import config_with_admin_token, launch_hub, teardown_hub

pytestmark = pytest.mark.integration

TOO_MANY = re.compile(r"Too many tries\. Wait (\d+) seconds?, then try again\.")


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub(
        {
            "ana": ("student", ["class"]),
            "ben": ("student", ["class"]),
            "cai": ("student", ["class"]),
            "dee": ("student", ["class"]),
            "eve": ("student", ["class"]),
            "fay": ("student", ["class"]),
            "tess": ("teacher", ["class"]),
        }
    )


def _user_token(hub: RunningHub, name: str, scopes: list[str] | None = None) -> str:
    body: dict = {"note": "login safety test", "expires_in": 600}
    if scopes is not None:
        body["scopes"] = scopes
    r = hub.api.post(f"/users/{name}/tokens", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _timed_login(hub: RunningHub, name: str, password: str) -> tuple[float, requests.Response]:
    s = hub.session()
    s.xsrf()  # fetch the log-in page first: only the POST is timed
    started = time.perf_counter()
    r = s.http.post(
        f"{hub.url}/hub/login?next=",
        data={"username": name, "password": password, "_xsrf": s.xsrf()},
        allow_redirects=False,
    )
    return time.perf_counter() - started, r


def test_a_flood_of_guesses_brakes_the_guesser_not_the_owner(hub: RunningHub) -> None:
    ana = hub.name("ana")
    owner = hub.login("ana")  # the owner's own computer: it gets ana's device cookie
    owner.http.get(f"{hub.url}/hub/logout")
    guesser = hub.session()
    answers = [guesser.login(ana, f"guess-{i}") for i in range(20)]
    # realhub's site allows 3 failures; the third already says how long to wait.
    assert [r.status_code for r in answers[:3]] == [403, 403, 429]
    assert all("Invalid username or password" in r.text for r in answers[:2])
    last = answers[-1]
    assert last.status_code == 429, last.status_code
    shown = TOO_MANY.search(last.text)
    assert shown, last.text[:2000]
    assert "Invalid username or password" not in last.text
    assert 1 <= int(shown.group(1)) <= 60 and int(last.headers["Retry-After"]) == int(shown.group(1))
    # The owner, on the computer they used before, gets in at once, with the right password.
    assert owner.login(ana, PASSWORD).status_code == 302
    # On a computer they never used, the owner waits as long as the guesser, a minute at most.
    elsewhere = hub.session()
    braked = elsewhere.login(ana, PASSWORD)
    assert braked.status_code == 429
    wait = int(braked.headers["Retry-After"])
    assert wait <= 60
    time.sleep(wait)
    assert elsewhere.login(ana, PASSWORD).status_code == 302
    # Nobody else was touched.
    assert hub.session().login(hub.name("ben"), PASSWORD).status_code == 302


def test_unknown_names_get_the_same_answer_in_about_the_same_time(hub: RunningHub) -> None:
    known, unknown = [], []
    for i, short in enumerate(["cai", "dee", "cai", "dee"]):  # 2 each, fewer than the 3 free failures
        t, r = _timed_login(hub, hub.name(short), f"wrong-{i}")
        known.append(t)
        assert r.status_code == 403 and "Invalid username or password" in r.text
        t, r = _timed_login(hub, hub.name(f"nobody{i}"), f"wrong-{i}")
        unknown.append(t)
        assert r.status_code == 403 and "Invalid username or password" in r.text
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 < ratio < 2.0, (known, unknown)
    for short in ("cai", "dee"):
        assert hub.session().login(hub.name(short), PASSWORD).status_code == 302  # clears their counts
    # A password longer than bcrypt takes (72 bytes) is a wrong password, not a server error.
    too_long = hub.session().login(hub.name("cai"), "x" * 100)
    assert too_long.status_code == 403 and "Invalid username or password" in too_long.text


def test_personal_pages_are_never_cached(hub: RunningHub) -> None:
    anonymous = hub.session().http.get(f"{hub.url}/hub/login")
    assert anonymous.status_code == 200 and anonymous.headers.get("Cache-Control") == "no-store"
    s = hub.login("dee")
    dee = hub.name("dee")
    for path in ("/hub/home", "/hub/token", "/hub/interests", "/hub/spawn", f"/hub/spawn-pending/{dee}"):
        r = s.http.get(f"{hub.url}{path}", allow_redirects=False)
        assert r.status_code in (200, 302), (path, r.status_code)
        assert r.headers.get("Cache-Control") == "no-store", (path, r.headers)
    assert s.http.get(f"{hub.url}/hub/api/user").headers.get("Cache-Control") == "no-store"
    teacher = hub.login("tess")
    page = teacher.http.get(f"{hub.url}/services/classroom/")
    assert page.status_code == 200 and "/services/classroom/" in page.url
    assert page.headers.get("Cache-Control") == "no-store"
    token = _user_token(hub, hub.name("tess"), ["access:services!service=classroom"])
    api = requests.get(
        f"{hub.url}/services/classroom/api/groups/{hub.name('class')}/reports",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert api.status_code == 200 and api.headers.get("Cache-Control") == "no-store"


def test_the_log_in_page_forgets_the_previous_persons_address(hub: RunningHub) -> None:
    ana, ben = hub.name("ana"), hub.name("ben")
    # Back after ana logged out: her server's address comes back as the log-in page's `next`.
    s = hub.session()
    r = s.http.get(f"{hub.url}/hub/login?next=/hub/user/{ana}/lab", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/hub/login"), r.headers.get("Location")
    # Even a form still carrying it sends ben to his own space.
    s.xsrf()
    r = s.http.post(
        f"{hub.url}/hub/login?next=/hub/user/{ana}/lab",
        data={"username": ben, "password": PASSWORD, "_xsrf": s.xsrf()},
        allow_redirects=False,
    )
    assert r.status_code == 302 and ana not in r.headers["Location"], r.headers["Location"]
    # ben's own address is kept.
    s2 = hub.session()
    s2.xsrf()
    r = s2.http.post(
        f"{hub.url}/hub/login?next=/hub/user/{ben}/lab",
        data={"username": ben, "password": PASSWORD, "_xsrf": s2.xsrf()},
        allow_redirects=False,
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/hub/user/{ben}/lab"), r.headers["Location"]


def _start_in_background(hub: RunningHub, name: str) -> threading.Thread:
    """Start `name`'s server through the API in a thread; return once the start is under way."""
    starter = HubAPI(hub.url, hub.api.http.headers["Authorization"].removeprefix("token "))
    spawn = threading.Thread(target=lambda: starter.post(f"/users/{name}/server", json={"interests": ["music"]}))
    spawn.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        server = hub.api.get(f"/users/{name}").json()["servers"].get("")
        if server and server.get("pending") == "spawn":
            return spawn
        time.sleep(0.05)
    pytest.fail(f"{name}'s server never started")


def _no_processes_of(name: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-u", name], capture_output=True).returncode == 1:
            return True
        time.sleep(0.5)
    return False


def test_logging_out_while_the_server_starts_leaves_no_server(hub: RunningHub) -> None:
    ben = hub.name("ben")
    s = hub.login("ben")
    spawn = _start_in_background(hub, ben)
    assert s.http.get(f"{hub.url}/hub/logout", allow_redirects=False).status_code == 302
    spawn.join(timeout=60)
    hub.api.wait_for_server(ben, ready=False, timeout=90)
    time.sleep(2)  # nothing starts it again
    assert hub.api.get(f"/users/{ben}").json()["servers"] == {}
    assert f"Stopping {ben}'s server, started after they logged out" in hub.log()


def test_a_password_reset_ends_sessions_tokens_and_server_and_lifts_the_brake(hub: RunningHub) -> None:
    dee, group = hub.name("dee"), hub.name("class")
    s = hub.login("dee")
    assert s.spawn_with_form(["music"]).status_code == 302
    s.wait_ready(dee)
    token = _user_token(hub, dee)
    assert requests.get(f"{hub.url}/hub/api/user", headers={"Authorization": f"token {token}"}).status_code == 200
    guesser = hub.session()
    for i in range(6):
        guesser.login(dee, f"guess-{i}")
    assert guesser.login(dee, PASSWORD).status_code == 429
    teacher_token = _user_token(hub, hub.name("tess"), ["access:services!service=classroom"])
    r = requests.post(
        f"{hub.url}/services/classroom/api/groups/{group}/users/{dee}/password",
        headers={"Authorization": f"token {teacher_token}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    temporary = r.json()["password"]
    # The browser that was logged in is logged out, the token is dead, the server is gone.
    home = s.http.get(f"{hub.url}/hub/home", allow_redirects=False)
    assert home.status_code == 302 and "/hub/login" in home.headers["Location"]
    assert requests.get(f"{hub.url}/hub/api/user", headers={"Authorization": f"token {token}"}).status_code == 403
    hub.api.wait_for_server(dee, ready=False, timeout=60)
    lab = s.http.get(f"{s.server_url(dee)}api/contents", allow_redirects=False)
    assert lab.status_code != 200
    # The new password works at once, even from the browser that guessed.
    assert guesser.login(dee, temporary).status_code == 302


def test_an_admin_removing_a_learner_ends_their_sessions_tokens_and_server(hub: RunningHub) -> None:
    eve = hub.name("eve")
    s = hub.login("eve")
    assert s.spawn_with_form(["music"]).status_code == 302
    s.wait_ready(eve)
    token = _user_token(hub, eve)
    assert hub.api.delete(f"/users/{eve}", timeout=120).status_code == 204
    home = s.http.get(f"{hub.url}/hub/home", allow_redirects=False)
    assert home.status_code == 302 and "/hub/login" in home.headers["Location"]
    assert requests.get(f"{hub.url}/hub/api/user", headers={"Authorization": f"token {token}"}).status_code == 403
    assert _no_processes_of(eve)
    assert hub.session().login(eve, PASSWORD).status_code == 403


def test_an_admin_removing_a_learner_whose_server_is_starting_leaves_no_server(hub: RunningHub) -> None:
    fay = hub.name("fay")
    spawn = _start_in_background(hub, fay)
    assert hub.api.delete(f"/users/{fay}", timeout=180).status_code == 204
    spawn.join(timeout=60)
    assert hub.api.get(f"/users/{fay}").status_code == 404
    assert _no_processes_of(fay)
    assert f"Stopping {fay}'s server, started while they were being removed" in hub.log()


def test_an_expired_log_in_form_says_so_plainly(hub: RunningHub) -> None:
    s = hub.session()
    s.xsrf()
    r = s.http.post(
        f"{hub.url}/hub/login?next=",
        data={"username": hub.name("ana"), "password": PASSWORD, "_xsrf": "expired"},
        allow_redirects=False,
    )
    assert r.status_code == 403 and "Login form invalid or expired. Try again." in r.text, (r.status_code, r.text[:500])


def test_behind_an_https_front_every_cookie_of_a_log_in_is_secure(tmp_path: Path) -> None:
    """A real site is reached over https through a front (nginx, Caddy) that the hub's proxy sees
    as plain http: `public_url` says https. Every cookie a log-in sets (JupyterHub's session and
    our device cookie) must then be Secure and HttpOnly, so that no plain-http page on that name
    can carry them off. Browsers send Secure cookies over https only: the test, over plain http,
    sends them back by hand, as the front would."""
    config, token = config_with_admin_token(tmp_path)
    site = launch_hub(
        {"ana": ("student", ["class"])},
        spawner="demo",
        host="hub.localhost",
        https_front=True,
        config=config,
        api_token=token,
    )
    try:
        _log_in_behind_https(site)
    finally:
        teardown_hub(site)


def _log_in_behind_https(site: RunningHub) -> None:
    assert load_settings(site.site_file).public_url.startswith("https://")
    jar: dict[str, str] = {}
    http = http_session()

    def send(method: str, path: str, **kw: object) -> requests.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        headers = {"Cookie": cookie, "X-Forwarded-Proto": "https"}
        r = http.request(method, f"{site.url}{path}", headers=headers, allow_redirects=False, **kw)  # type: ignore[arg-type]
        set_cookies = r.raw.headers.getlist("Set-Cookie")
        for header in set_cookies:
            name, _, value = header.split(";", 1)[0].partition("=")
            jar[name.strip()] = value
        sent.extend(set_cookies)
        return r

    sent: list[str] = []
    page = send("GET", "/hub/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert xsrf, page.text[:500]
    r = send("POST", "/hub/login?next=", data={"username": site.name("ana"), "password": PASSWORD, "_xsrf": xsrf[1]})
    assert r.status_code == 302, r.text[:500]  # the control: a real log-in, which set its cookies
    names = {header.split("=", 1)[0] for header in sent}
    # Over https JupyterHub names its log-in cookie __Host-jupyterhub-hub-login (host-only, path /).
    assert {"__Host-jupyterhub-hub-login", "clhub-device"} <= names, names
    for header in sent:
        attributes = {a.strip().split("=", 1)[0].lower() for a in header.split(";")[1:]}
        assert "secure" in attributes, header
        # The page's scripts read the form token (_xsrf) to send it back; nothing reads the others.
        assert header.startswith("_xsrf=") or "httponly" in attributes, header
