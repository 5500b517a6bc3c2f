"""The hub's side of peer review: folders made by the hub, moderation through the classroom service.

A real hub with real system users: the spawner links each learner's group folder, a
learner shares from their own server, and the classroom service (behind the hub's
OAuth, through the proxy) lets the group's teacher hide and delete while a student, a
mentor or another group's teacher gets 403.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from jupyterhub.spawner import set_user_setuid

from connected_learning.peer_review import folders, pieces
from kernelclient import run_code
from realhub import RunningHub

pytestmark = pytest.mark.integration
CLHUB = str(Path(sys.executable).parent / "clhub")


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub(
        {
            "ana": ("student", ["g"]),
            "ben": ("student", ["g"]),
            "cai": ("student", ["g"]),
            "zed": ("student", ["h"]),
            "tess": ("teacher", ["g"]),
            "ted": ("teacher", ["h"]),
            "milo": ("mentor", ["g"]),
        }
    )
    for short, interests in (("ana", ["art"]), ("ben", ["music"])):
        s = hub.login(short)
        assert s.spawn_with_form(interests).status_code == 302
        s.wait_ready(hub.name(short))
    return hub


def token(hub: RunningHub, short: str) -> dict[str, str]:
    r = hub.api.post(
        f"/users/{hub.name(short)}/tokens",
        json={"note": "classroom test", "expires_in": 600, "scopes": ["access:services!service=classroom"]},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"token {r.json()['token']}"}


def api(hub: RunningHub, short: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(
        method, f"{hub.url}/services/classroom/api{path}", headers=token(hub, short), timeout=30, **kw
    )


def shared_dir(hub: RunningHub) -> Path:
    return folders.peer_review_dir(hub.data_dir, hub.name("g"))


def as_learner(hub: RunningHub, short: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    name = hub.name(short)
    home = pwd.getpwnam(name).pw_dir
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "JUPYTERHUB_USER": name, "CLHUB_DISPLAY_NAME": short.title()}
    return subprocess.run(
        list(cmd), env=env, cwd=home, capture_output=True, text=True, timeout=60, preexec_fn=set_user_setuid(name)
    )


def share(hub: RunningHub, short: str, title: str) -> str:
    made = as_learner(hub, short, sys.executable, "-c", "open('art.png', 'w').write('pixels')")
    assert made.returncode == 0, made.stderr
    done = as_learner(hub, short, CLHUB, "share", "art.png", "--title", title)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(" as ")[1].split(" ")[0]


def test_the_spawner_makes_and_links_the_group_folder(hub: RunningHub) -> None:
    shared = shared_dir(hub)
    info = os.stat(shared)
    assert stat.S_IMODE(info.st_mode) == 0o3770 and info.st_gid == os.stat(shared).st_gid
    assert Path(pwd.getpwnam(hub.name("ana")).pw_dir, "peer-review", hub.name("g")).resolve() == shared
    assert (shared / folders.REVIEW_NOTEBOOK).is_file()
    # The service made the folder of a group none of whose members has started yet.
    deadline = time.monotonic() + 30
    while not folders.peer_review_dir(hub.data_dir, hub.name("h")).is_dir() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert folders.peer_review_dir(hub.data_dir, hub.name("h")).is_dir()


def test_a_report_from_the_learners_own_server_reaches_the_teacher(hub: RunningHub) -> None:
    piece = share(hub, "ben", "Drum solo")
    r = hub.api.post(f"/users/{hub.name('ana')}/tokens", json={"note": "kernel", "expires_in": 600})
    code = (
        "import subprocess\n"
        f"done = subprocess.run(['clhub', 'report', {piece!r}, '--reason', 'it has a rude word'], "
        "capture_output=True, text=True)\n"
        "print(done.returncode, done.stdout, done.stderr)\n"
    )
    out = run_code(hub.url, hub.name("ana"), r.json()["token"], code)
    assert out.startswith("0 Reported"), out
    reports = api(hub, "tess", "GET", f"/groups/{hub.name('g')}/reports")
    assert reports.status_code == 200, reports.text
    mine = [x for x in reports.json()["reports"] if x["piece"] == piece]
    assert mine and mine[0]["reporter"] == hub.name("ana") and mine[0]["reason"] == "it has a rude word"


def test_only_members_report_and_only_the_groups_teacher_reads_reports(hub: RunningHub) -> None:
    piece = share(hub, "ana", "Sunset")
    g = hub.name("g")
    assert api(hub, "ben", "POST", f"/groups/{g}/reports", json={"piece": piece, "reason": "mean"}).status_code == 201
    assert api(hub, "zed", "POST", f"/groups/{g}/reports", json={"piece": piece, "reason": "x"}).status_code == 403
    bad = api(hub, "ben", "POST", f"/groups/{g}/reports", json={"piece": piece, "reason": ""})
    assert bad.status_code == 400 and "what is wrong" in bad.json()["message"]
    assert api(hub, "ben", "POST", f"/groups/{g}/reports", data=b"not json").status_code == 400
    for who in ("ana", "ben", "milo", "ted", "zed"):
        assert api(hub, who, "GET", f"/groups/{g}/reports").status_code == 403, who
    assert api(hub, "tess", "GET", f"/groups/{g}/reports").status_code == 200
    # Without a token: the service sends a browser to log in, never shows data.
    anonymous = requests.get(f"{hub.url}/services/classroom/api/groups/{g}/reports", allow_redirects=False, timeout=30)
    assert anonymous.status_code in (302, 403)


def test_the_teacher_hides_unhides_and_deletes_while_others_get_403(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share(hub, "ana", "Pixel cat")
    assert as_learner(hub, "ben", CLHUB, "feedback", piece, "--works", "mean words").returncode == 0
    feedback_file = f"{hub.name('ben')}.json"
    for who in ("ana", "ben", "milo", "ted"):
        assert api(hub, who, "POST", f"/groups/{g}/pieces/{piece}/hide").status_code == 403, who
        assert api(hub, who, "DELETE", f"/groups/{g}/pieces/{piece}").status_code == 403, who
        assert api(hub, who, "DELETE", f"/groups/{g}/pieces/{piece}/feedback/{feedback_file}").status_code == 403
    assert (shared_dir(hub) / piece).is_dir()

    r = api(hub, "tess", "POST", f"/groups/{g}/pieces/{piece}/feedback/{feedback_file}/hide")
    assert r.status_code == 200, r.text
    assert pieces.read_one(shared_dir(hub), piece).feedback == []
    assert api(hub, "tess", "POST", f"/groups/{g}/pieces/{piece}/hide").status_code == 200
    listing = as_learner(hub, "ben", CLHUB, "pieces")
    assert piece not in listing.stdout
    listed = api(hub, "tess", "GET", f"/groups/{g}/pieces").json()["pieces"]
    assert [p["hidden"] for p in listed if p["id"] == piece] == [True]
    assert api(hub, "tess", "POST", f"/groups/{g}/pieces/{piece}/unhide").status_code == 200
    assert piece in as_learner(hub, "ben", CLHUB, "pieces").stdout
    assert api(hub, "tess", "DELETE", f"/groups/{g}/pieces/{piece}").status_code == 204
    assert not (shared_dir(hub) / piece).exists()
    assert api(hub, "tess", "DELETE", f"/groups/{g}/pieces/{piece}").status_code == 404


def test_the_service_refuses_path_tricks(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share(hub, "ana", "Safe")
    for path in (
        f"/groups/{g}/pieces/..%2f..%2f..%2fetc/hide",
        f"/groups/{g}/pieces/%2e%2e/hide",
        f"/groups/{g}/pieces/{piece}/feedback/..%2fpiece.json/hide",
        f"/groups/{g}/pieces/{piece}/feedback/piece.json/hide",
        "/groups/..%2f..%2fhub/pieces",
        "/groups/%2e%2e/reports",
    ):
        r = api(hub, "tess", "POST" if path.endswith("hide") else "GET", path)
        assert r.status_code in (403, 404), (path, r.status_code)
    assert (shared_dir(hub) / piece / "piece.json").is_file()
    assert (hub.data_dir / "hub" / "jupyterhub.sqlite").is_file()


def test_the_teachers_page_escapes_what_students_wrote(hub: RunningHub) -> None:
    piece = share(hub, "ana", "<script>alert(1)</script> mine")
    s = hub.login("tess")
    page = s.http.get(f"{hub.url}/services/classroom/", timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert hub.name("g") in page.text and piece in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert hub.name("h") not in page.text  # tess does not teach h
    student = hub.login("zed").http.get(f"{hub.url}/services/classroom/", timeout=30)
    assert student.status_code == 200 and hub.name("g") not in student.text


def test_the_teachers_buttons_hide_and_delete(hub: RunningHub) -> None:
    import re

    g = hub.name("g")
    piece = share(hub, "ana", "Button test")
    s = hub.login("tess")
    page = s.http.get(f"{hub.url}/services/classroom/", timeout=30).text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    act = f"{hub.url}/services/classroom/groups/{g}/act"
    r = s.http.post(act, data={"_xsrf": xsrf, "action": "hide", "piece": piece}, allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text[:300]
    assert not (shared_dir(hub) / piece).exists()
    r = s.http.post(act, data={"action": "delete", "piece": piece}, allow_redirects=False, timeout=30)
    assert r.status_code == 403  # no XSRF token: a forged form from another site does nothing
    r = s.http.post(act, data={"_xsrf": xsrf, "action": "delete", "piece": piece}, allow_redirects=False, timeout=30)
    assert r.status_code == 302
    assert piece not in [p["id"] for p in api(hub, "tess", "GET", f"/groups/{g}/pieces").json()["pieces"]]
    # A student with a valid XSRF token of their own is still refused: the role decides.
    student = hub.login("ben")
    student.http.get(f"{hub.url}/services/classroom/", timeout=30)
    own_xsrf = next(c.value for c in student.http.cookies if c.name == "_xsrf" and "classroom" in c.path)
    r = student.http.post(
        act, data={"_xsrf": own_xsrf, "action": "delete", "piece": "x"}, allow_redirects=False, timeout=30
    )
    assert r.status_code == 403 and "do not teach" in r.text


def test_a_reported_feedback_entry_is_deleted_by_the_teacher(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share(hub, "ana", "Comic")
    assert as_learner(hub, "ben", CLHUB, "feedback", piece, "--works", "unkind words").returncode == 0
    file = f"{hub.name('ben')}.json"
    r = api(hub, "ana", "POST", f"/groups/{g}/reports", json={"piece": piece, "feedback": file, "reason": "unkind"})
    assert r.status_code == 201, r.text
    bad = api(hub, "ana", "POST", f"/groups/{g}/reports", json={"piece": piece, "feedback": "../x", "reason": "x"})
    assert bad.status_code == 404
    reports = api(hub, "tess", "GET", f"/groups/{g}/reports").json()["reports"]
    assert any(x["piece"] == piece and x["feedback"] == file for x in reports)
    assert api(hub, "tess", "DELETE", f"/groups/{g}/pieces/{piece}/feedback/{file}").status_code == 204
    assert pieces.read_one(shared_dir(hub), piece).feedback == []
    report_id = next(x["id"] for x in reports if x["piece"] == piece)
    assert api(hub, "ana", "POST", f"/groups/{g}/reports/{report_id}/dismiss").status_code == 403
    assert api(hub, "tess", "POST", f"/groups/{g}/reports/{report_id}/dismiss").status_code == 200
    closed = api(hub, "tess", "GET", f"/groups/{g}/reports").json()["reports"]
    assert [x["status"] for x in closed if x["id"] == report_id] == ["dismissed"]


def test_a_start_repairs_the_group_folder(hub: RunningHub) -> None:
    shared = shared_dir(hub)
    os.chmod(shared, 0o777)
    name = hub.name("ben")
    assert hub.api.delete(f"/users/{name}/server").status_code in (202, 204)
    hub.api.wait_for_server(name, ready=False)
    assert hub.api.post(f"/users/{name}/server").status_code in (201, 202)
    hub.api.wait_for_server(name)
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o3770


def hub_api(hub: RunningHub, short: str, method: str, path: str, **kw: Any) -> requests.Response:
    """The hub's REST API with a token that has all of `short`'s permissions."""
    r = hub.api.post(f"/users/{hub.name(short)}/tokens", json={"note": "rbac test", "expires_in": 600})
    assert r.status_code == 201, r.text
    return requests.request(
        method, f"{hub.url}/hub/api{path}", timeout=60, headers={"Authorization": f"token {r.json()['token']}"}, **kw
    )


def test_a_teacher_manages_their_group_only_and_makes_nobody_admin(hub: RunningHub) -> None:
    cai, zed = hub.name("cai"), hub.name("zed")
    listed = hub_api(hub, "tess", "GET", "/users")
    assert listed.status_code == 200
    group_g = sorted(hub.name(s) for s in ("ana", "ben", "cai", "tess", "milo"))
    assert sorted(u["name"] for u in listed.json()) == group_g
    assert hub_api(hub, "tess", "GET", f"/users/{zed}").status_code == 404
    assert hub_api(hub, "tess", "POST", f"/users/{zed}/server").status_code == 404
    assert hub_api(hub, "tess", "PATCH", f"/users/{cai}", json={"admin": True}).status_code in (403, 404)
    assert hub_api(hub, "tess", "PATCH", f"/users/{hub.name('tess')}", json={"admin": True}).status_code in (403, 404)
    assert hub_api(hub, "tess", "POST", "/users/newkid").status_code in (403, 404)
    assert hub_api(hub, "tess", "POST", f"/groups/{hub.name('g')}/users", json={"users": [zed]}).status_code == 403
    assert hub_api(hub, "tess", "DELETE", f"/groups/{hub.name('g')}").status_code == 403
    assert not hub.api.get(f"/users/{cai}").json()["admin"]
    # Starting and stopping a learner's server in their group is what a teacher may do.
    assert hub_api(hub, "tess", "POST", f"/users/{cai}/server").status_code in (201, 202)
    hub.api.wait_for_server(cai)
    assert hub_api(hub, "tess", "DELETE", f"/users/{cai}/server").status_code in (202, 204)
    hub.api.wait_for_server(cai, ready=False)
    assert hub_api(hub, "ted", "POST", f"/users/{cai}/server").status_code == 404
    assert hub_api(hub, "ana", "GET", f"/users/{hub.name('ben')}").status_code == 404
