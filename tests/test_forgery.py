"""Forged requests and forged names, tried the way a hostile page or a learner would: refused, never believed.

A real hub with real system users. XSRF: a logged-in teacher's browser sends the request a
hostile page could make it send, with the teacher's cookies, an `Authorization: token
forged` header and no `_xsrf`: every state-changing endpoint of the classroom service,
the hub's own interests page and a learner's server refuse it and nothing changes. The
controls prove each attack request was sound: the same request with the session's real
`_xsrf` goes through, and so does a request with a real API token and no cookie (where
tokens are taken at all: the hub's pages take none).

Authors: a learner shares a piece whose piece.json names another learner as its author
and "Teacher Smith" as the name to show, and reviews with the same name in her process's
environment. Peers (reading as their own system users), the classroom service's API and
the published showcase page all show the name the class list gave the piece's owner.
"""

from __future__ import annotations

import json
import pwd
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from jupyterhub.spawner import set_user_setuid
from tornado import web

from connected_learning.classroom import app as classroom_app
from connected_learning.peer_review import folders
from connected_learning.showcase import gallery as showcase_gallery
from connected_learning.showcase import publish as showcase_publish
from hubclient import HubSession
from realhub import PASSWORD, RunningHub

pytestmark = pytest.mark.integration
CLHUB = str(Path(sys.executable).parent / "clhub")
PREFIX = "/services/classroom/"
FORGED = {"Authorization": "token forged"}
HEADER = "username,display_name,group,role,password\n"
UNSAFE = ("post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub(
        {"ana": ("student", ["g"]), "ben": ("student", ["g"]), "cai": ("student", ["g"]), "tess": ("teacher", ["g"])}
    )
    for short, interests in (("ana", ["art"]), ("ben", ["music"])):
        s = hub.login(short)
        assert s.spawn_with_form(interests).status_code == 302
        s.wait_ready(hub.name(short))
    return hub


class Teacher:
    """A logged-in browser on the classroom's pages: its cookies, and the XSRF token of its session."""

    def __init__(self, hub: RunningHub, short: str) -> None:
        self.hub = hub
        self.session = hub.login(short)
        page = self.session.http.get(hub.url + PREFIX, timeout=30)
        assert page.status_code == 200, page.text[:300]
        self.xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)

    def send(
        self,
        method: str,
        path: str,
        *,
        xsrf: bool,
        form: dict[str, str] | None = None,
        files: Any = None,
        json_body: Any = None,
        data: bytes | None = None,
    ) -> requests.Response:
        """`method` on `path` with this browser's cookies and a forged Authorization header."""
        headers = dict(FORGED)
        body = dict(form) if form is not None else None
        if xsrf:
            if body is not None:
                body["_xsrf"] = self.xsrf
            else:
                headers["X-XSRFToken"] = self.xsrf
        return self.session.http.request(
            method,
            self.hub.url + path,
            headers=headers,
            data=body if body is not None else data,
            files=files,
            json=json_body,
            allow_redirects=False,
            timeout=120,
        )


def refused_for_xsrf(r: requests.Response) -> bool:
    """Refused by the XSRF check (JupyterHub's words for it), not by the handler."""
    return r.status_code == 403 and any(
        why in r.text for why in ("argument missing", "argument invalid", "XSRF cookie does not match")
    )


def token(hub: RunningHub, short: str, scopes: list[str] | None = None) -> dict[str, str]:
    body: dict[str, Any] = {"note": "forgery test", "expires_in": 600}
    if scopes is not None:
        body["scopes"] = scopes
    r = hub.api.post(f"/users/{hub.name(short)}/tokens", json=body)
    assert r.status_code == 201, r.text
    return {"Authorization": f"token {r.json()['token']}"}


def classroom_token(hub: RunningHub, short: str) -> dict[str, str]:
    return token(hub, short, ["access:services!service=classroom"])


def logs_in(hub: RunningHub, name: str, password: str) -> bool:
    return hub.session().login(name, password).status_code == 302


def as_learner(hub: RunningHub, short: str, *cmd: str, display: str) -> subprocess.CompletedProcess[str]:
    """Run `cmd` as the learner's system user; `display` is the name their process claims."""
    name = hub.name(short)
    home = pwd.getpwnam(name).pw_dir
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "JUPYTERHUB_USER": name, "CLHUB_DISPLAY_NAME": display}
    return subprocess.run(
        list(cmd), env=env, cwd=home, capture_output=True, text=True, timeout=60, preexec_fn=set_user_setuid(name)
    )


def share(hub: RunningHub, short: str, file: str, text: str, title: str, display: str) -> str:
    made = as_learner(hub, short, sys.executable, "-c", f"open({file!r}, 'w').write({text!r})", display=display)
    assert made.returncode == 0, made.stderr
    done = as_learner(hub, short, CLHUB, "share", file, "--title", title, display=display)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(" as ")[1].split(" ")[0]


def remember(hub: RunningHub, *users: str) -> None:
    """Let the teardown remove the accounts (and system users) an import made."""
    hub.users.extend(u for u in users if u not in hub.users)


# ------------------------------------------------------------------ XSRF: the classroom service


def every_unsafe_request(hub: RunningHub) -> list[tuple[str, str, dict[str, Any]]]:
    """One request to each state-changing endpoint of the classroom (made-up ids: the XSRF check comes first)."""
    g, cai = hub.name("g"), hub.name("cai")
    api = PREFIX + "api"
    return [
        ("POST", f"{PREFIX}groups/{g}/act", {"form": {"action": "hide", "piece": "no-such-piece"}}),
        ("POST", f"{PREFIX}roster", {"form": {}, "files": {"classlist": ("c.csv", b"user,name\nx,y\n", "text/csv")}}),
        ("POST", f"{PREFIX}groups/{g}/users/no-such-user/password", {"form": {"confirm": "yes"}}),
        ("POST", f"{PREFIX}groups/{g}/users/no-such-user/name", {"form": {"display_name": "X Y."}}),
        ("POST", f"{PREFIX}groups/{g}/users/no-such-user/remove", {"form": {"confirm": "yes"}}),
        ("POST", f"{PREFIX}groups/{g}/users/no-such-user/undo", {"form": {}}),
        ("POST", f"{PREFIX}groups/{g}/assignments", {"form": {"action": "assign", "workbook": "no-such-workbook"}}),
        ("POST", f"{api}/groups/{g}/pieces/no-such-piece/hide", {}),
        ("DELETE", f"{api}/groups/{g}/pieces/no-such-piece", {}),
        ("POST", f"{api}/groups/{g}/pieces/no-such-piece/feedback/{cai}.json/hide", {}),
        ("DELETE", f"{api}/groups/{g}/pieces/no-such-piece/feedback/{cai}.json", {}),
        ("POST", f"{api}/groups/{g}/reports", {"json_body": {"piece": "no-such-piece", "reason": "x"}}),
        ("POST", f"{api}/groups/{g}/reports/no-such-report/dismiss", {}),
        ("POST", f"{api}/roster", {"data": b"user,name\nx,y\n"}),
        ("POST", f"{api}/groups/{g}/users/no-such-user/password", {}),
        ("POST", f"{api}/groups/{g}/assignments", {"json_body": {"workbook": "no-such-workbook"}}),
        ("POST", f"{api}/groups/{g}/assignments/no-such-assignment/collect", {}),
        ("POST", f"{api}/groups/{g}/showcase/proposals", {"json_body": {"piece": "no-such-piece", "title": "t"}}),
        ("POST", f"{api}/groups/{g}/showcase/proposals/no-such-proposal/decline", {"json_body": {"note": "x"}}),
        ("POST", f"{api}/groups/{g}/showcase/consent/no-such-user", {"json_body": {"given": True}}),
        ("DELETE", f"{api}/groups/{g}/showcase/proposals/no-such-proposal", {}),
        ("DELETE", f"{api}/showcase/no-such-token", {}),
        ("POST", f"{api}/groups/{g}/showcase/gallery", {"json_body": {"enabled": False}}),
        ("POST", f"{api}/groups/{g}/assignments/no-such-assignment/due", {"json_body": {"due": ""}}),
        ("POST", f"{PREFIX}groups/{g}/showcase/no-such-proposal/take-down", {"form": {"confirm": "yes"}}),
    ]


def handler_of(path: str) -> type:
    """The classroom's handler for `path`, found the way tornado finds it (the first route that matches)."""
    return next(cls for pattern, cls in classroom_app.routes(PREFIX) if re.fullmatch(pattern, path))


def test_every_state_changing_endpoint_of_the_classroom_wants_the_xsrf_token(hub: RunningHub) -> None:
    requests_ = every_unsafe_request(hub)
    # The list reaches every handler that changes something: a new one must join it.
    changing = {
        cls
        for _, cls in classroom_app.routes(PREFIX)
        if any(getattr(cls, m) is not getattr(web.RequestHandler, m) for m in UNSAFE)
    }
    assert changing <= {handler_of(path) for _, path, _ in requests_}
    teacher = Teacher(hub, "tess")
    for method, path, kw in requests_:
        attack = teacher.send(method, path, xsrf=False, **kw)
        assert refused_for_xsrf(attack), (method, path, attack.status_code, attack.text[:200])
        # Control: the same request with the session's XSRF token passes the check and reaches the handler.
        control = teacher.send(method, path, xsrf=True, **kw)
        assert not refused_for_xsrf(control), (method, path, control.status_code, control.text[:200])


def test_a_forged_header_resets_no_password_and_creates_no_account(hub: RunningHub) -> None:
    g, cai = hub.name("g"), hub.name("cai")
    teacher = Teacher(hub, "tess")
    reset_api = f"{PREFIX}api/groups/{g}/users/{cai}/password"
    reset_form = f"{PREFIX}groups/{g}/users/{cai}/password"
    assert refused_for_xsrf(teacher.send("POST", reset_api, xsrf=False))
    assert refused_for_xsrf(teacher.send("POST", reset_form, xsrf=False, form={"confirm": "yes"}))
    assert logs_in(hub, cai, PASSWORD)  # the password is unchanged
    forged = [hub.name(f"forged{i}") for i in range(3)]
    remember(hub, *forged)
    csv_of = {name: (HEADER + f"{name},Forged F.,{g},student,\n").encode() for name in forged}
    assert refused_for_xsrf(teacher.send("POST", f"{PREFIX}api/roster", xsrf=False, data=csv_of[forged[0]]))
    assert refused_for_xsrf(
        teacher.send(
            "POST",
            f"{PREFIX}roster",
            xsrf=False,
            form={},
            files={"classlist": ("c.csv", csv_of[forged[1]], "text/csv")},
        )
    )
    for name in forged[:2]:
        assert hub.api.get(f"/users/{name}").status_code == 404, name
    assert hub.api.get(f"/groups/{g}").json()["users"] == sorted(hub.name(s) for s in ("ana", "ben", "cai", "tess"))

    # Controls: the teacher's own page (the session's XSRF token) and a script (a real token, no cookie).
    made = teacher.send(
        "POST", f"{PREFIX}roster", xsrf=True, form={}, files={"classlist": ("c.csv", csv_of[forged[1]], "text/csv")}
    )
    assert made.status_code == 200 and forged[1] in made.text, made.text[:300]
    script = requests.post(
        hub.url + f"{PREFIX}api/roster",
        data=csv_of[forged[2]],
        timeout=300,
        headers={**classroom_token(hub, "tess"), "Content-Type": "text/csv"},
    )
    assert script.status_code == 201, script.text
    assert {forged[1], forged[2]} <= set(hub.api.get(f"/groups/{g}").json()["users"])
    reset = teacher.send("POST", reset_api, xsrf=True)
    assert reset.status_code == 200, reset.text
    assert logs_in(hub, cai, reset.json()["password"]) and not logs_in(hub, cai, PASSWORD)
    again = requests.post(hub.url + reset_api, headers=classroom_token(hub, "tess"), timeout=30)
    assert again.status_code == 200 and logs_in(hub, cai, again.json()["password"])


def test_a_forged_header_changes_nothing_in_peer_review_or_the_showcase(hub: RunningHub) -> None:
    g, ana = hub.name("g"), hub.name("ana")
    piece = share(hub, "ana", "kite.md", "# My kite", "Kite", display="Ana")
    shared = folders.peer_review_dir(hub.data_dir, g)
    teacher = Teacher(hub, "tess")
    api = f"{PREFIX}api/groups/{g}"
    attacks = [
        ("POST", f"{api}/pieces/{piece}/hide", {}),
        ("DELETE", f"{api}/pieces/{piece}", {}),
        ("POST", f"{PREFIX}groups/{g}/act", {"form": {"action": "delete", "piece": piece}}),
        ("POST", f"{api}/reports", {"json_body": {"piece": piece, "reason": "forged"}}),
        ("POST", f"{api}/showcase/consent/{ana}", {"json_body": {"given": True}}),
        ("POST", f"{api}/showcase/gallery", {"json_body": {"enabled": True}}),
    ]
    for method, path, kw in attacks:
        assert refused_for_xsrf(teacher.send(method, path, xsrf=False, **kw)), path
    place = showcase_publish.Place(hub.data_dir, g)
    assert (shared / piece / "piece.json").is_file()
    reports = requests.get(hub.url + f"{api}/reports", headers=classroom_token(hub, "tess"), timeout=30)
    assert [r for r in reports.json()["reports"] if r["piece"] == piece] == []
    assert not showcase_publish.has_consent(hub.data_dir, ana)
    assert showcase_gallery.read_state(place) == {"enabled": False}
    # Control: with the session's XSRF token the same hide works, and undoes.
    assert teacher.send("POST", f"{api}/pieces/{piece}/hide", xsrf=True).status_code == 200
    assert not (shared / piece).exists()
    assert teacher.send("POST", f"{api}/pieces/{piece}/unhide", xsrf=True).status_code == 200
    assert (shared / piece / "piece.json").is_file()


# ------------------------------------------------------------------ XSRF: the hub's page, a learner's server


def test_the_hubs_interests_page_wants_the_xsrf_token(hub: RunningHub) -> None:
    from connected_learning.hub import interests as interests_store

    ana = hub.name("ana")
    interests = hub.data_dir / "hub" / "interests"
    s = hub.login("ana")
    url = f"{hub.url}/hub/interests"
    attack = s.http.post(url, data={"interests": ["music"]}, headers=FORGED, allow_redirects=False, timeout=30)
    assert attack.status_code == 403, attack.text[:300]
    assert interests_store.read(str(interests), ana) == ["art"]
    control = s.http.post(
        url, data={"interests": ["nature"], "_xsrf": s.xsrf()}, headers=FORGED, allow_redirects=False, timeout=30
    )
    assert control.status_code == 200 and "Saved" in control.text, control.text[:300]
    assert interests_store.read(str(interests), ana) == ["nature"]
    # The hub's pages take no token at all (only its API does): a real one, without the cookie, gets nothing.
    script = requests.post(
        url, data={"interests": ["art"]}, headers=token(hub, "ana"), allow_redirects=False, timeout=30
    )
    assert script.status_code in (302, 403), script.text[:300]
    assert interests_store.read(str(interests), ana) == ["nature"]


def test_a_learners_server_wants_the_xsrf_token(hub: RunningHub) -> None:
    # Our own server extension (nbgrader's assignment list, loaded lazily) keeps jupyter-server's policy,
    # which JupyterHub's identity provider serves: token-authenticated only when the hub confirmed the token.
    from jupyter_server.base.handlers import JupyterHandler

    from connected_learning.learner import lazy_assignments

    assert all(handler.check_xsrf_cookie is JupyterHandler.check_xsrf_cookie for _, handler in lazy_assignments.ROUTES)
    ana = hub.name("ana")
    home = Path(pwd.getpwnam(ana).pw_dir)
    s = hub.login("ana")
    s.wait_ready(ana)
    # The same browser's cookies without its XSRF cookie: what a hostile page's request carries.
    hostile = HubSession(hub.url)
    for cookie in s.http.cookies:
        if cookie.name != "_xsrf":
            hostile.http.cookies.set_cookie(cookie)
    body = {"type": "file", "format": "text", "content": "written by a forged request"}
    attack = hostile.lab_api("PUT", ana, "contents/forged.txt", json=body, headers=dict(FORGED))
    assert attack.status_code == 403, attack.text[:300]
    assert not (home / "forged.txt").exists()
    control = s.lab_api("PUT", ana, "contents/control.txt", json=body, headers=dict(FORGED))
    assert control.status_code == 201, control.text[:300]
    script = HubSession(hub.url).lab_api("PUT", ana, "contents/script.txt", json=body, headers=token(hub, "ana"))
    assert script.status_code == 201, script.text[:300]
    assert (home / "control.txt").is_file() and (home / "script.txt").is_file()


def test_the_showcase_services_change_nothing_for_a_cookie(hub: RunningHub) -> None:
    # They serve families without a log-in: no cookie of theirs grants anything, and no page accepts a change.
    teacher = Teacher(hub, "tess")
    for path in ("/services/showcase/p/" + "x" * 32, "/services/showcase-live/p/" + "x" * 32):
        for method in ("POST", "PUT", "DELETE"):
            r = teacher.send(method, path, xsrf=False)
            assert r.status_code in (403, 404, 405), (method, path, r.status_code)


# ------------------------------------------------------------------ authors come from the hub


def test_a_piece_with_a_forged_author_shows_the_class_lists_name_everywhere(hub: RunningHub) -> None:
    g = hub.name("g")
    dot, eve = hub.name("dot"), hub.name("eve")  # learners made from a class list, by their teacher
    remember(hub, dot, eve)
    teacher = classroom_token(hub, "tess")
    names = (HEADER + f"{dot},Dot M.,{g},student,\n{eve},Eve K.,{g},student,\n").encode()
    r = requests.post(
        hub.url + f"{PREFIX}api/roster", data=names, headers={**teacher, "Content-Type": "text/csv"}, timeout=300
    )
    assert r.status_code == 201, r.text
    for slip in r.json()["slips"]:
        s = hub.session()
        assert s.login(slip["username"], slip["password"]).status_code == 302
        assert s.spawn_with_form(["art"]).status_code == 302
        s.wait_ready(slip["username"])
    # dot's process calls her "Teacher Smith"; then she rewrites her piece.json to say it is eve's.
    piece = share(hub, "dot", "street.md", "# Our street\n\nBirds and buses.\n", "Our street", display="Teacher Smith")
    meta_file = folders.peer_review_dir(hub.data_dir, g) / piece / "piece.json"
    forge = (
        f"import json, os; p = {str(meta_file)!r}; m = json.load(open(p)); "
        f"m.update(author={eve!r}, author_display='Teacher Smith'); "
        "json.dump(m, open(p + '.x', 'w')); os.replace(p + '.x', p)"
    )
    assert as_learner(hub, "dot", sys.executable, "-c", forge, display="Teacher Smith").returncode == 0
    given = as_learner(hub, "eve", CLHUB, "feedback", piece, "--works", "I like the buses", display="Teacher Smith")
    assert given.returncode == 0, given.stderr
    # Control: the forgery really is on disk, in the piece dot owns.
    meta = json.loads(meta_file.read_text())
    assert (meta["author"], meta["author_display"]) == (eve, "Teacher Smith")
    assert meta_file.parent.stat().st_uid == pwd.getpwnam(dot).pw_uid

    # Peers, through the learner's own reading code, as their own system users.
    listing = as_learner(hub, "eve", CLHUB, "pieces", display="Eve K.")
    assert listing.returncode == 0, listing.stderr
    line = next(x for x in listing.stdout.splitlines() if x.startswith(piece))
    assert "by Dot M." in line and "Teacher Smith" not in listing.stdout
    mine = as_learner(hub, "dot", CLHUB, "feedback", "--mine", display="Teacher Smith")
    assert "Eve K." in mine.stdout and "Teacher Smith" not in mine.stdout, mine.stdout
    # The teacher: the classroom service's API and page.
    listed = requests.get(hub.url + f"{PREFIX}api/groups/{g}/pieces", headers=teacher, timeout=30).json()["pieces"]
    found = next(p for p in listed if p["id"] == piece)
    assert (found["owner"], found["author_display"]) == (dot, "Dot M.")
    page = Teacher(hub, "tess").session.http.get(hub.url + PREFIX, timeout=30).text
    assert "Dot M." in page and "Eve K." in page and "Teacher Smith" not in page

    # Families: dot proposes it, the teacher approves; the page and the group's gallery name her truly.
    api = f"{hub.url}{PREFIX}api/groups/{g}/showcase"
    proposed = requests.post(
        f"{api}/proposals",
        headers=classroom_token(hub, "dot"),
        timeout=60,
        json={"piece": piece, "title": "Our street", "description": "Birds and buses."},
    )
    assert proposed.status_code == 201 and proposed.json()["author_display"] == "Dot M.", proposed.text
    assert requests.post(f"{api}/consent/{dot}", json={"given": True}, headers=teacher, timeout=60).status_code == 200
    approved = requests.post(
        f"{api}/proposals/{proposed.json()['id']}/approve", json={"lang": "en"}, headers=teacher, timeout=120
    )
    assert approved.status_code == 200, approved.text
    family = requests.get(hub.url + approved.json()["link"], timeout=30)
    assert family.status_code == 200 and "Dot M." in family.text and "Teacher Smith" not in family.text
    snapshot = hub.data_dir / "showcase" / "snapshots" / approved.json()["token"]
    assert not [f for f in snapshot.rglob("*") if f.is_file() and b"Teacher Smith" in f.read_bytes()]
    gallery = requests.post(f"{api}/gallery", json={"enabled": True}, headers=teacher, timeout=120)
    assert gallery.status_code == 200, gallery.text
    shown = requests.get(hub.url + gallery.json()["link"], timeout=30)
    assert shown.status_code == 200 and "Dot M." in shown.text and "Teacher Smith" not in shown.text
