"""The classroom's authorization matrix: every endpoint x every kind of caller, in seconds.

The real service (`classroom.app.make_app`) runs in-process against a stand-in for the hub's
REST API (`fakehub`), with a temporary data folder and the same-user host, so it needs no
root and no hub. Each caller is a token the fake hub knows:

    student        ana, a student of g (and the author of g's proposal and published piece)
    mentor         milo, a mentor of g (a member of g with the role mentor-g)
    teacher        tess, a teacher of g
    other teacher  ted, a teacher of h
    admin          ada, an admin (in no group)
    service        a hub service's token
    anonymous      no token

The expectations are written here, apart from the rules the handlers declare, and every
route of the app must have one: a new endpoint without a line in ENDPOINTS fails
`test_every_endpoint_has_an_expectation`. An allowed caller may still get 400 or 404 (a
piece that is not there): it must be past the rule, never 401 or 403, never a crash. A
refused one gets 403; nobody at all is sent to log in (GET) or gets 403 (anything else).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyterhub.services.auth import HubOAuth
from tornado import web

from conftest import REPO
from connected_learning.assignments.course import AssignmentError
from connected_learning.assignments.grading_errors import GradingError
from connected_learning.catalog.load import CatalogError
from connected_learning.classroom import app as classroom_app
from connected_learning.classroom import rules
from connected_learning.classroom.base import answer_for
from connected_learning.classroom.folders import repair_folders
from connected_learning.errors import ClhubError
from connected_learning.host.same_user import SameUserHost
from connected_learning.host.system_users import SystemUserError
from connected_learning.paths import DataLayout
from connected_learning.peer_review import moderation, sharing
from connected_learning.settings import load_settings
from connected_learning.showcase import publish
from connected_learning.showcase.snapshot import SnapshotError
from fakehub import FakeHub, Person, Servers

PREFIX = "/services/classroom/"
SERVICE_TOKEN = "classroom-service-token"
PROPOSAL = "a1b2c3d4e5f6"  # ana's proposal in g
MISSING_PROPOSAL = "0123456789ab"
TOKEN = "published-piece-of-ana-012345678"  # the link of ana's published piece (32 characters)

PEOPLE = {
    "student": Person("ana", groups=("g",)),
    "mentor": Person("milo", groups=("g",), roles=("mentor-g",)),
    "teacher": Person("tess", groups=("g",), roles=("teacher-g",)),
    "other teacher": Person("ted", groups=("h",), roles=("teacher-h",)),
    "admin": Person("ada", admin=True),
    "service": Person("announcer", kind="service", roles=("service",)),
    # Not callers of the matrix: other people the requests name.
    "student ben": Person("ben", groups=("g",)),
    "student of h": Person("zed", groups=("h",)),
    "co-teacher": Person("tina", groups=("g",), roles=("teacher-g",)),
    "no access": Person("nia", groups=("g",), scopes=()),
}
ACTORS = ("student", "mentor", "teacher", "other teacher", "admin", "service", "anonymous")

# Who passes each rule (the others get 403; anonymous is sent to log in).
HUB_USER = frozenset({"student", "mentor", "teacher", "other teacher", "admin"})
TEACHER = frozenset({"teacher", "admin"})
MEMBER = frozenset({"student", "mentor", "teacher"})
MEMBER_OR_TEACHER = frozenset({"student", "mentor", "teacher", "admin"})
ANY_TEACHER = frozenset({"teacher", "other teacher", "admin"})
AUTHOR_OR_TEACHER = frozenset({"student", "teacher", "admin"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below the service's prefix
    allowed: frozenset[str]
    json: Any = None
    form: dict[str, str] | None = None
    prepare: Callable[[Path], None] | None = None  # puts back what an allowed caller changed

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def ana_proposes(data: Path, status: str = "proposed", token: str = "") -> None:
    folder = publish.proposals_dir(moderation.Place(data, "g"))
    folder.mkdir(parents=True, exist_ok=True)
    proposal = {"id": PROPOSAL, "group": "g", "piece": "sunset", "owner": "ana", "status": status, "token": token}
    (folder / f"{PROPOSAL}.json").write_text(json.dumps(proposal))


def ana_publishes(data: Path) -> None:
    ana_proposes(data, "published", TOKEN)
    snapshot = publish.Showcase(data).snapshots / TOKEN
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / publish.META).write_text(json.dumps({"group": "g", "proposal": PROPOSAL, "owner": "ana"}))


G = "api/groups/g"
ENDPOINTS = [
    # home
    Endpoint("GET", "", HUB_USER),
    Endpoint("GET", "api/groups", HUB_USER),
    # moderation
    Endpoint("POST", "groups/g/act", TEACHER, form={"action": "none-such"}),
    Endpoint("GET", f"{G}/pieces", TEACHER),
    Endpoint("POST", f"{G}/pieces/no-such-piece/hide", TEACHER),
    Endpoint("DELETE", f"{G}/pieces/no-such-piece", TEACHER),
    Endpoint("POST", f"{G}/pieces/no-such-piece/feedback/ben.json/hide", TEACHER),
    Endpoint("DELETE", f"{G}/pieces/no-such-piece/feedback/ben.json", TEACHER),
    Endpoint("GET", f"{G}/reports", TEACHER),
    Endpoint("POST", f"{G}/reports", MEMBER_OR_TEACHER, json={"piece": "no-such-piece", "reason": "mean"}),
    Endpoint("POST", f"{G}/reports/no-such-report/dismiss", TEACHER),
    Endpoint("GET", "groups/g/moderation", TEACHER),
    Endpoint("GET", "groups/g/pieces/no-such-piece", TEACHER),
    Endpoint("GET", "groups/g/pieces/no-such-piece/view", TEACHER),
    # accounts
    Endpoint("GET", "roster", ANY_TEACHER),
    Endpoint("POST", "roster", ANY_TEACHER, form={"text": ""}),
    Endpoint("POST", "api/roster", ANY_TEACHER, json=""),
    Endpoint("POST", f"{G}/users/ben/password", TEACHER),
    Endpoint("POST", "groups/g/users/ben/password", TEACHER, form={}),
    Endpoint("GET", "groups/g/users/ben/password", TEACHER),
    Endpoint("POST", "groups/g/users/ben/name", TEACHER, form={"display_name": ""}),
    Endpoint("GET", "groups/g/users/ben/remove", TEACHER),
    Endpoint("POST", "groups/g/users/ben/remove", TEACHER, form={}),
    Endpoint("POST", "groups/g/users/ben/undo", TEACHER, form={}),
    # assignments
    Endpoint("GET", f"{G}/assignments", TEACHER),
    Endpoint("POST", f"{G}/assignments", TEACHER, json={"workbook": "no-such-workbook"}),
    Endpoint("POST", f"{G}/assignments/no-such/collect", TEACHER),
    Endpoint("POST", f"{G}/assignments/no-such/due", TEACHER, json={"due": ""}),
    # progress
    Endpoint("GET", "groups/g/progress", TEACHER),
    Endpoint("GET", "groups/g/progress.csv", TEACHER),
    Endpoint("GET", "groups/g/progress/ana", TEACHER),
    Endpoint("GET", "groups/g/assignments", TEACHER),
    Endpoint("POST", "groups/g/assignments", TEACHER, form={"action": "none-such"}),
    # showcase
    Endpoint("GET", f"groups/g/showcase/{PROPOSAL}/preview", TEACHER, prepare=ana_proposes),
    Endpoint("GET", f"{G}/showcase/mine", MEMBER_OR_TEACHER),
    Endpoint("GET", "groups/g/showcase", TEACHER),
    Endpoint("GET", f"groups/g/showcase/{PROPOSAL}/take-down", TEACHER, prepare=ana_publishes),
    Endpoint("POST", f"groups/g/showcase/{MISSING_PROPOSAL}/take-down", TEACHER, form={}),
    Endpoint("GET", f"{G}/showcase/gallery", TEACHER),
    Endpoint("POST", f"{G}/showcase/gallery", TEACHER, json={"enabled": "maybe"}),
    Endpoint("GET", f"{G}/showcase/proposals", TEACHER),
    Endpoint("POST", f"{G}/showcase/proposals", MEMBER, json={"piece": "no-such-piece", "title": "Mine"}),
    Endpoint("POST", f"{G}/showcase/proposals/{MISSING_PROPOSAL}/approve", TEACHER),
    Endpoint("POST", f"{G}/showcase/proposals/{MISSING_PROPOSAL}/decline", TEACHER),
    Endpoint("DELETE", f"{G}/showcase/proposals/{PROPOSAL}", AUTHOR_OR_TEACHER, prepare=ana_proposes),
    Endpoint("POST", f"{G}/showcase/consent/ana", TEACHER, json={"given": False}),
    Endpoint("DELETE", f"api/showcase/{TOKEN}", AUTHOR_OR_TEACHER, prepare=ana_publishes),
]
# Not ours to guard: JupyterHub's handler that finishes the OAuth log-in.
UNGUARDED = {"HubOAuthCallbackHandler"}


# ------------------------------------------------------------------ the service under test


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def sends_to_login(self) -> bool:
        return self.status == 302 and "/hub/api/oauth2/authorize" in self.headers.get("Location", "")


@dataclass
class Classroom:
    servers: Servers
    data: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def call(
        self, method: str, path: str, actor: str = "anonymous", *, json_body: Any = None, form: Any = None
    ) -> Reply:
        """One request, the path sent exactly as written (no client tidies `..` away)."""
        headers = {}
        if actor != "anonymous":
            headers["Authorization"] = f"token {self.tokens[actor]}"
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body) if not isinstance(json_body, str) else json_body
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.servers.classroom_port, timeout=60)
        try:
            connection.request(method, PREFIX + path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            return Reply(response.status, {k: v for k, v in response.getheaders()}, text)
        finally:
            connection.close()

    def ask(self, endpoint: Endpoint, actor: str) -> Reply:
        if endpoint.prepare:
            endpoint.prepare(self.data)
        return self.call(endpoint.method, endpoint.path, actor, json_body=endpoint.json, form=endpoint.form)


def share_a_piece(data: Path, group: str, author: str, title: str) -> str:
    """A piece in the group's folder, shared the way a learner shares (as this process's user)."""
    home = data / "homes" / author
    home.mkdir(parents=True, exist_ok=True)
    (home / "art.png").write_bytes(b"\x89PNG\r\n\x1a\npixels")
    identity = sharing.Identity(author, author.title(), os.getuid(), home)
    return sharing.share(moderation.Place(data, group).shared, ["art.png"], title, identity=identity).id


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    root = tmp_path_factory.mktemp("classroom")
    data = root / "data"
    (root / "site.toml").write_text(
        f'[site]\ndata_dir = "{data}"\n\n[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n'
    )
    site = load_settings(root / "site.toml")
    DataLayout(data).create()  # what the hub makes before it starts its services
    host = SameUserHost(data)
    asyncio.run(repair_folders(site, host, {"g": ["ana", "ben", "milo", "tess"], "h": ["ted", "zed"]}, "clhub-"))
    tokens = {actor: f"token-of-{person.name}" for actor, person in PEOPLE.items()}
    hub = FakeHub({tokens[actor]: person for actor, person in PEOPLE.items()}, SERVICE_TOKEN)
    servers = Servers(hub, lambda: classroom_app.make_app(site, PREFIX, host=host))
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{servers.hub_port}/hub/api",
            "JUPYTERHUB_API_TOKEN": SERVICE_TOKEN,
            "JUPYTERHUB_SERVICE_PREFIX": PREFIX,
            "JUPYTERHUB_SERVICE_NAME": "classroom",
            "JUPYTERHUB_CLIENT_ID": "service-classroom",
            "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_HOST": "",
        }.items():
            env.setenv(name, value)
        env.delenv("JUPYTERHUB_OAUTH_ACCESS_SCOPES", raising=False)
        HubOAuth.clear_instance()  # HubOAuth is a singleton that reads the environment once
        servers.start()
        try:
            yield Classroom(servers, data, tokens)
        finally:
            servers.stop()
            HubOAuth.clear_instance()


# ------------------------------------------------------------------ the matrix


def verdict(endpoint: Endpoint, actor: str, reply: Reply) -> str | None:
    """What is wrong with `reply` for `actor` at `endpoint`; None when it is as the rules say."""
    if actor in endpoint.allowed:
        if reply.status in (401, 403) or reply.sends_to_login():
            return f"refused ({reply.status}) but the rule allows {actor}"
        if reply.status >= 500:
            return f"{reply.status} for an allowed {actor}: {reply.text[:200]}"
        return None
    if actor == "anonymous" and endpoint.method == "GET":
        return None if reply.sends_to_login() else f"{reply.status}, not sent to log in"
    return None if reply.status == 403 else f"{reply.status}, not 403: {reply.text[:200]}"


def mismatches(classroom: Classroom, endpoints: list[Endpoint]) -> list[str]:
    found = []
    for endpoint in endpoints:
        for actor in ACTORS:
            wrong = verdict(endpoint, actor, classroom.ask(endpoint, actor))
            if wrong:
                found.append(f"{endpoint} as {actor}: {wrong}")
    return found


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_endpoint_answers_each_caller_as_its_rule_says(classroom: Classroom, endpoint: Endpoint) -> None:
    assert mismatches(classroom, [endpoint]) == []


def test_the_matrix_catches_a_broken_rule(classroom: Classroom, monkeypatch: pytest.MonkeyPatch) -> None:
    # The classic slip: "a teacher" instead of "a teacher of this group".
    monkeypatch.setattr(
        rules,
        "teaches",
        lambda user, group: bool(user.get("admin")) or any(r.startswith("teacher-") for r in user["roles"]),
    )
    guarded = [e for e in ENDPOINTS if e.allowed == TEACHER]
    caught = mismatches(classroom, guarded)
    # Every endpoint of a group's teacher now lets h's teacher into g, and the matrix says so.
    assert len(caught) == len(guarded), caught
    assert all(" as other teacher: " in c for c in caught), caught


# ------------------------------------------------------------------ every route has an expectation


def handler_of(path: str) -> type:
    """The classroom's handler for `path`, found the way tornado finds it (the first route that matches)."""
    return next(cls for pattern, cls in classroom_app.routes(PREFIX) if re.fullmatch(pattern, path))


def guarded_methods() -> set[tuple[type, str]]:
    """Every (handler, method) the app serves, but JupyterHub's own OAuth callback."""
    return {
        (cls, method)
        for _, cls in classroom_app.routes(PREFIX)
        for method in ("get", "post", "put", "patch", "delete")
        if getattr(cls, method) is not getattr(web.RequestHandler, method) and cls.__name__ not in UNGUARDED
    }


def test_every_endpoint_has_an_expectation() -> None:
    covered = {(handler_of(PREFIX + e.path), e.method.lower()) for e in ENDPOINTS}
    missing = guarded_methods() - covered
    assert not missing, "add these to ENDPOINTS: " + ", ".join(f"{c.__name__}.{m}" for c, m in sorted(missing, key=str))


def test_every_handler_method_declares_its_rule() -> None:
    undeclared = [f"{cls.__name__}.{m}" for cls, m in guarded_methods() if not getattr(getattr(cls, m), "rule", None)]
    assert undeclared == []


# ------------------------------------------------------------------ across groups, and paths that climb


def test_a_teacher_of_g_cannot_reach_the_pieces_of_h(classroom: Classroom) -> None:
    zeds = share_a_piece(classroom.data, "h", "zed", "Zed's drawing")
    shared_h = moderation.Place(classroom.data, "h").shared
    for method, path in (
        ("GET", "api/groups/h/pieces"),
        ("POST", f"api/groups/h/pieces/{zeds}/hide"),
        ("DELETE", f"api/groups/h/pieces/{zeds}"),
        ("GET", "api/groups/h/reports"),
        ("GET", "groups/h/progress"),
    ):
        assert classroom.call(method, path, "teacher").status == 403, path
    # Under her own group, h's piece is not there to find.
    assert classroom.call("POST", f"api/groups/g/pieces/{zeds}/hide", "teacher").status == 404
    assert classroom.call("DELETE", f"api/groups/g/pieces/{zeds}", "teacher").status == 404
    assert (shared_h / zeds).is_dir()
    # h's own teacher may.
    assert classroom.call("GET", "api/groups/h/pieces", "other teacher").status == 200


@pytest.mark.parametrize("group", ["..", "%2e%2e", "%2E%2E", "g%2f..%2fh", "..%2fh", "G", "g%00", "-g", "a.b"])
def test_a_group_name_that_climbs_or_cannot_be_a_group_reaches_nothing(classroom: Classroom, group: str) -> None:
    for actor in ("teacher", "admin", "student"):
        for method, path in (
            ("GET", f"api/groups/{group}/pieces"),
            ("GET", f"api/groups/{group}/reports"),
            ("POST", f"api/groups/{group}/reports"),
            ("GET", f"api/groups/{group}/showcase/mine"),
            ("GET", f"groups/{group}/progress"),
        ):
            reply = classroom.call(method, path, actor, json_body={"piece": "x", "reason": "y"})
            assert reply.status == 404, (actor, method, path, reply.status, reply.text[:200])


def test_a_path_with_dot_segments_matches_no_route(classroom: Classroom) -> None:
    for path in ("api/groups/g/../h/pieces", "api/groups/h/../g/pieces", "api/groups//pieces"):
        assert classroom.call("GET", path, "admin").status == 404, path


def test_only_an_admin_resets_a_teachers_password_and_only_in_the_group(classroom: Classroom) -> None:
    ended = classroom.servers.hub.sessions_ended
    before = len(ended)
    assert classroom.call("POST", "api/groups/g/users/tina/password", "teacher").status == 403
    assert len(ended) == before  # a refused reset ends nobody's sessions
    assert classroom.call("POST", "api/groups/g/users/tina/password", "admin").status == 200
    assert ended[before:] == ["tina"]  # a reset ends the learner's sessions, tokens and server
    assert classroom.call("POST", "api/groups/g/users/zed/password", "teacher").status == 404
    assert classroom.call("POST", "api/groups/h/users/zed/password", "teacher").status == 403
    assert classroom.call("POST", "api/groups/g/users/..%2fada/password", "teacher").status == 404


def test_only_the_author_or_their_teachers_withdraw(classroom: Classroom) -> None:
    ana_publishes(classroom.data)
    for actor in ("mentor", "other teacher"):
        assert classroom.call("DELETE", f"api/showcase/{TOKEN}", actor).status == 403, actor
        assert classroom.call("DELETE", f"api/groups/g/showcase/proposals/{PROPOSAL}", actor).status == 403
    # ted asking under his own group finds no such proposal there.
    assert classroom.call("DELETE", f"api/groups/h/showcase/proposals/{PROPOSAL}", "other teacher").status == 404
    assert classroom.call("DELETE", f"api/showcase/{TOKEN}", "student").status == 204
    assert not (publish.Showcase(classroom.data).snapshots / TOKEN).exists()


def test_a_token_without_the_services_access_gets_403_not_a_login_loop(classroom: Classroom) -> None:
    for method, path in (("GET", ""), ("GET", "api/groups"), ("POST", "api/groups/g/reports")):
        assert classroom.call(method, path, "no access").status == 403, path


def test_a_slow_disk_read_does_not_stall_other_requests(classroom: Classroom, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = threading.Event()
    real = moderation.list_pieces

    def slow_listing(place: moderation.Place) -> Any:
        slow.wait(5)
        return real(place)

    monkeypatch.setattr(moderation, "list_pieces", slow_listing)
    listing = threading.Thread(target=classroom.call, args=("GET", "api/groups/g/pieces", "teacher"))
    listing.start()
    try:
        started = time.monotonic()
        assert classroom.call("GET", "api/groups", "student").status == 200
        assert time.monotonic() - started < 2
        assert listing.is_alive()  # still waiting on its "disk"
    finally:
        slow.set()
        listing.join(10)


# ------------------------------------------------------------------ the one error mapping


def test_each_domain_error_answers_with_its_status_and_its_own_message() -> None:
    for error, status in (
        (moderation.NotFound("There is no piece called 'x'."), 404),
        (moderation.ModerationError("Say what is wrong."), 400),
        (publish.Refused("Only your own pieces."), 403),
        (publish.Conflict("Proposed already."), 409),
        (AssignmentError("Not assigned."), 400),
        (GradingError("No such course."), 400),
        (SnapshotError("Too big to publish."), 422),
        (SystemUserError("groupadd failed."), 500),
        (ClhubError("Anything else."), 400),
    ):
        assert answer_for(error) == (status, error.message), error
    assert answer_for(CatalogError("No catalog.")) == (503, "The workbook catalog is broken: No catalog.")
