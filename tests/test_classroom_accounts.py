"""Class lists through the classroom service: import, slips, roles, password resets, with a real hub.

Accounts made by an import are real hub users with NativeAuthenticator passwords and real
system users; the test logs in with the passwords printed on the slips.
"""

from __future__ import annotations

import html
import json
import pwd
import re
from typing import Any

import pytest
import requests

from connected_learning.hub.authenticator import site_roles
from realhub import PASSWORD, RunningHub

pytestmark = pytest.mark.integration
HEADER = "username,display_name,group,role,password\n"


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    return make_hub(
        {
            "tess": ("teacher", ["g"]),
            "ted": ("teacher", ["h"]),
            "ana": ("student", ["g"]),
            "zed": ("student", ["h"]),
            "bea": ("student", ["g"]),
            "cy": ("student", ["g"]),
        }
    )


def token(hub: RunningHub, name: str) -> dict[str, str]:
    r = hub.api.post(
        f"/users/{name}/tokens",
        json={"note": "roster test", "expires_in": 600, "scopes": ["access:services!service=classroom"]},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"token {r.json()['token']}"}


def upload(hub: RunningHub, name: str, csv_text: str) -> requests.Response:
    return requests.post(
        f"{hub.url}/services/classroom/api/roster",
        data=csv_text.encode(),
        headers={**token(hub, name), "Content-Type": "text/csv"},
        timeout=300,
    )


def remember(hub: RunningHub, users: list[str], groups: list[str]) -> None:
    """Let the teardown remove the system users and groups an import made."""
    hub.users.extend(u for u in users if u not in hub.users)
    hub.groups.extend(g for g in groups if g not in hub.groups)


def test_a_class_of_thirty_imports_and_logs_in_with_the_slips(hub: RunningHub) -> None:
    k, teacher = hub.name("k"), hub.name("kteach")
    students = [hub.name(f"s{i:02d}") for i in range(30)]
    rows = [f"{s},Student {i} M.,{k},student," for i, s in enumerate(students)]
    rows.append(f"{teacher},Ms K.,{k},teacher,a-long-teacher-pw")
    remember(hub, [*students, teacher], [k])
    r = upload(hub, hub.admin, HEADER + "\n".join(rows) + "\n")
    assert r.status_code == 201, r.text
    reply = r.json()
    assert sorted(reply["created"]) == sorted([*students, teacher]) and reply["groups_created"] == [k]
    passwords = {s["username"]: s["password"] for s in reply["slips"]}
    assert set(passwords) == {*students, teacher} and len(set(passwords.values())) == 31
    group = hub.api.get(f"/groups/{k}").json()
    assert sorted(group["users"]) == sorted([*students, teacher])
    for name in (students[0], students[29], teacher):
        assert pwd.getpwnam(name).pw_dir.endswith(f"/{name}")
    names = json.loads((hub.data_dir / "hub" / "display-names.json").read_text())
    assert names[students[3]] == "Student 3 M."
    assert [
        r["users"] for r in site_roles(hub.data_dir / "hub" / "site-roles.json") if r["name"] == f"teacher-{k}"
    ] == [[teacher]]
    s = hub.session()
    assert s.login(students[7], passwords[students[7]]).status_code == 302
    assert hub.session().login(students[7], "not-the-password").status_code != 302
    # The new teacher teaches the new group at once, without a hub restart.
    reports = requests.get(
        f"{hub.url}/services/classroom/api/groups/{k}/reports", headers=token(hub, teacher), timeout=30
    )
    assert reports.status_code == 200, reports.text


def test_three_bad_rows_create_nothing_and_each_is_named(hub: RunningHub) -> None:
    m = hub.name("m")
    good = [f"{hub.name(f'm{i}')},M {i},{m},student," for i in range(5)]
    lines = [
        HEADER.strip(),
        *good[:2],
        f"Bad Name,X,{m},student,",
        good[2],
        f"{hub.name('m9')},,{m},student,",
        good[3],
        f"{hub.name('m8')},Y,{m},wizard,",
        good[4],
    ]
    before = sorted(u["name"] for u in hub.api.get("/users").json())
    r = upload(hub, hub.admin, "\n".join(lines) + "\n")
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert [p["line"] for p in problems] == [4, 6, 8]
    assert "Bad Name" in problems[0]["reason"] and "wizard" in problems[2]["reason"]
    assert sorted(u["name"] for u in hub.api.get("/users").json()) == before
    assert hub.api.get(f"/groups/{m}").status_code == 404


def test_a_teacher_imports_into_their_own_group_only(hub: RunningHub) -> None:
    g, h = hub.name("g"), hub.name("h")
    newcomer = hub.name("newkid")
    remember(hub, [newcomer, hub.name("intruder")], [])
    r = upload(hub, hub.name("tess"), HEADER + f"{hub.name('intruder')},I,{h},student,\n")
    assert r.status_code == 422 and "do not teach" in r.json()["problems"][0]["reason"]
    r = upload(hub, hub.name("tess"), HEADER + f"{hub.name('zed')},Z,{g},student,\n")
    assert r.status_code == 422 and "outside your groups" in r.json()["problems"][0]["reason"]
    r = upload(hub, hub.name("tess"), HEADER + f"{hub.name('boss')},B,{g},teacher,\n")
    assert r.status_code == 422 and "administrator" in r.json()["problems"][0]["reason"]
    r = upload(hub, hub.name("ana"), HEADER + f"{newcomer},N,{g},student,\n")
    assert r.status_code == 403
    r = upload(hub, hub.name("tess"), HEADER + f"{newcomer},New K.,{g},student,\n")
    assert r.status_code == 201, r.text
    assert newcomer in hub.api.get(f"/groups/{g}").json()["users"]
    assert not hub.api.get(f"/users/{newcomer}").json()["admin"]


def test_a_reset_password_is_temporary_until_the_learner_chooses_one(hub: RunningHub) -> None:
    g, ana = hub.name("g"), hub.name("ana")
    url = f"{hub.url}/services/classroom/api/groups/{g}/users/{ana}/password"
    assert requests.post(url, headers=token(hub, hub.name("ted")), timeout=30).status_code == 403
    assert requests.post(url, headers=token(hub, ana), timeout=30).status_code == 403
    other = f"{hub.url}/services/classroom/api/groups/{g}/users/{hub.name('zed')}/password"
    assert requests.post(other, headers=token(hub, hub.name("tess")), timeout=30).status_code == 404
    r = requests.post(url, headers=token(hub, hub.name("tess")), timeout=30)
    assert r.status_code == 200, r.text
    temporary = r.json()["password"]
    assert hub.session().login(ana, PASSWORD).status_code != 302
    s = hub.session()
    r = s.login(ana, temporary)
    assert r.status_code == 302 and r.headers["Location"].endswith("/hub/change-password")
    assert s.spawn_with_form(["art"]).status_code == 403
    page = s.http.get(f"{hub.url}/hub/change-password")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    mine = "my-own-secret-9"
    form = {
        "old_password": temporary,
        "new_password": mine,
        "new_password_confirmation": mine,
        "_xsrf": xsrf.group(1) if xsrf else s.xsrf(),
    }
    r = s.http.post(f"{hub.url}/hub/change-password", data=form, allow_redirects=False)
    assert r.status_code == 200 and "changed successfully" in r.text
    fresh = hub.session()
    r = fresh.login(ana, "my-own-secret-9")
    assert r.status_code == 302 and not r.headers["Location"].endswith("/hub/change-password")
    assert fresh.spawn_with_form(["art"]).status_code == 302


def test_the_teachers_page_shows_the_upload_form_and_prints_slips(hub: RunningHub) -> None:
    s = hub.login("tess")
    page = s.http.get(f"{hub.url}/services/classroom/roster", timeout=30)
    assert page.status_code == 200 and 'type="file"' in page.text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    pupil = hub.name("pupil")
    remember(hub, [pupil], [])
    refused = s.http.post(
        f"{hub.url}/services/classroom/roster",
        data={"_xsrf": xsrf},
        files={
            "classlist": ("c.csv", (HEADER + f"{pupil},<script>alert(1)</script>,{hub.name('g')},student,\n").encode())
        },
        timeout=60,
    )
    assert refused.status_code == 422 and "&lt;script&gt;" in refused.text and "<script>alert" not in refused.text
    csv_text = HEADER + f'{pupil},"Pip & ""Co"" O\'N.",{hub.name("g")},student,\n'
    r = s.http.post(
        f"{hub.url}/services/classroom/roster",
        data={"_xsrf": xsrf},
        files={"classlist": ("class.csv", csv_text.encode(), "text/csv")},
        timeout=300,
    )
    assert r.status_code == 200, r.text[:500]
    assert pupil in r.text and "<svg" in r.text and "Pip &amp; " in r.text
    bad = s.http.post(
        f"{hub.url}/services/classroom/roster",
        data={"_xsrf": xsrf},
        files={"classlist": ("c.csv", b"user,name\nx,y\n", "text/csv")},
        timeout=60,
    )
    assert bad.status_code == 422 and "Nothing was created" in bad.text


def test_clhub_roster_import_uses_the_same_service(hub: RunningHub, tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    clhub = str(Path(sys.executable).parent / "clhub")
    cli = hub.name("cli")
    remember(hub, [cli], [])
    listing = tmp_path / "class.csv"
    listing.write_text(HEADER + f"{cli},Cli M.,{hub.name('g')},student,\n")
    r = hub.api.post(f"/users/{hub.admin}/tokens", json={"note": "cli", "expires_in": 600})
    env = {**os.environ, "CLHUB_SITE": str(hub.site_file), "CLHUB_TOKEN": r.json()["token"]}
    slips_file = tmp_path / "slips.html"
    done = subprocess.run(
        [clhub, "roster", "import", str(listing), "--slips", str(slips_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "1 new account(s)" in done.stdout and cli in slips_file.read_text()
    assert oct(slips_file.stat().st_mode & 0o777) == "0o600"
    listing.write_text(HEADER + "Not Valid,X,g,student,\n")
    done = subprocess.run(
        [clhub, "roster", "import", str(listing)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2 and "line 2:" in done.stderr and "nothing was created" in done.stderr


# ------------------------------------------------------------------ rename, reset, remove (the roster's buttons)


CLASSROOM = "/services/classroom/"


def page_xsrf(s: Any, hub: RunningHub) -> str:
    page = s.http.get(f"{hub.url}{CLASSROOM}", timeout=30)
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def form(s: Any, hub: RunningHub, path: str, data: dict[str, str], xsrf: str | None) -> requests.Response:
    body = {**data, **({"_xsrf": xsrf} if xsrf else {})}
    return s.http.post(f"{hub.url}{CLASSROOM}{path}", data=body, allow_redirects=False, timeout=60)


def names_file(hub: RunningHub) -> dict[str, str]:
    return json.loads((hub.data_dir / "hub" / "display-names.json").read_text())


def test_a_teacher_renames_a_learner_of_their_group_and_everyone_sees_the_new_name(hub: RunningHub) -> None:
    from connected_learning.hub.config import display_name
    from connected_learning.paths import DataLayout
    from connected_learning.peer_review.folders import MEMBERS_FILE, group_root

    g, h, cy = hub.name("g"), hub.name("h"), hub.name("cy")
    tess, ted = hub.login("tess"), hub.login("ted")
    path = f"groups/{g}/users/{cy}/name"
    # Another group's teacher: refused, the same request as the control below.
    assert form(ted, hub, path, {"display_name": "Cy W."}, page_xsrf(ted, hub)).status_code == 403
    assert (
        form(ted, hub, f"groups/{h}/users/{cy}/name", {"display_name": "Cy W."}, page_xsrf(ted, hub)).status_code == 404
    )
    # The learner themself (their page has no form: a token of theirs, which needs no XSRF token).
    r = requests.post(f"{hub.url}{CLASSROOM}{path}", data={"display_name": "Cy W."}, headers=token(hub, cy), timeout=30)
    assert r.status_code == 403, r.text[:300]
    # A forged request (no XSRF token, the teacher's cookies): refused.
    assert form(tess, hub, path, {"display_name": "Cy W."}, None).status_code == 403
    assert names_file(hub)[cy] == "Cy"
    xsrf = page_xsrf(tess, hub)
    r = form(tess, hub, path, {"display_name": "  Cy W.  "}, xsrf)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"#group-{g}"), r.text[:300]
    assert names_file(hub)[cy] == "Cy W."
    # What peers read (the group's copy), what the spawner gives the next server, what the teacher sees.
    members = json.loads((group_root(hub.data_dir, g) / MEMBERS_FILE).read_text())
    assert members["names"][cy] == "Cy W."
    assert display_name(DataLayout(hub.data_dir), cy) == "Cy W."
    assert 'value="Cy W."' in tess.http.get(f"{hub.url}{CLASSROOM}", timeout=30).text


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("C" * 61, "at most 60"),
        ("<b>Cy</b>", "'<' or '>'"),
        ("Cy\tW.", "control character"),
        ("Cy\u202eW.", "control character"),
        ("=HYPERLINK(1)", "formula"),
        ("cy.w@example.org", "e-mail"),
    ],
)
def test_a_rename_is_checked_like_a_class_list(hub: RunningHub, given: str, words: str) -> None:
    g, ana = hub.name("g"), hub.name("ana")
    tess = hub.login("tess")
    before = names_file(hub)[ana]
    r = form(tess, hub, f"groups/{g}/users/{ana}/name", {"display_name": given}, page_xsrf(tess, hub))
    assert r.status_code == 400 and words in html.unescape(r.text), r.text[:500]
    assert "<b>Cy</b>" not in r.text  # shown escaped
    assert names_file(hub)[ana] == before


def test_reset_password_asks_first_and_only_a_confirmed_request_resets(hub: RunningHub) -> None:
    g, bea = hub.name("g"), hub.name("bea")
    tess, ted = hub.login("tess"), hub.login("ted")
    path = f"groups/{g}/users/{bea}/password"
    page = tess.http.get(f"{hub.url}{CLASSROOM}{path}", timeout=30)
    assert page.status_code == 200 and "Reset the password?" in page.text and 'name="confirm" value="yes"' in page.text
    xsrf = page_xsrf(tess, hub)
    unconfirmed = form(tess, hub, path, {}, xsrf)
    assert unconfirmed.status_code == 200 and "Reset the password?" in unconfirmed.text
    assert form(tess, hub, path, {"confirm": "yes"}, None).status_code == 403  # forged: no XSRF token
    assert form(ted, hub, path, {"confirm": "yes"}, page_xsrf(ted, hub)).status_code == 403
    assert ted.http.get(f"{hub.url}{CLASSROOM}{path}", timeout=30).status_code == 403
    assert hub.session().login(bea, PASSWORD).status_code == 302  # nothing above reset it
    slip = form(tess, hub, path, {"confirm": "yes"}, xsrf)
    assert slip.status_code == 200 and bea in slip.text and "<svg" in slip.text
    assert hub.session().login(bea, PASSWORD).status_code != 302


def test_remove_asks_turns_the_log_in_off_at_once_and_can_be_undone(hub: RunningHub) -> None:
    g, zed = hub.name("g"), hub.name("zed")
    ana = hub.name("ana")
    learner = hub.session()
    assert learner.login(ana, "my-own-secret-9").status_code == 302  # the password test chose it
    assert learner.http.get(f"{hub.url}/hub/api/user", timeout=30).status_code == 200
    tess, ted = hub.login("tess"), hub.login("ted")
    path = f"groups/{g}/users/{ana}/remove"
    page = tess.http.get(f"{hub.url}{CLASSROOM}{path}", timeout=30)
    assert page.status_code == 200 and "Remove from the class?" in page.text and "10 minutes" in page.text
    xsrf = page_xsrf(tess, hub)
    assert form(tess, hub, path, {}, xsrf).status_code == 200  # the question again, nothing done
    assert form(tess, hub, path, {"confirm": "yes"}, None).status_code == 403
    assert form(ted, hub, path, {"confirm": "yes"}, page_xsrf(ted, hub)).status_code == 403
    assert form(tess, hub, f"groups/{g}/users/{zed}/remove", {"confirm": "yes"}, xsrf).status_code == 404
    teacher = f"groups/{g}/users/{hub.name('tess')}/remove"
    assert form(tess, hub, teacher, {"confirm": "yes"}, xsrf).status_code == 403
    assert hub.session().login(ana, "my-own-secret-9").status_code == 302  # still in
    r = form(tess, hub, path, {"confirm": "yes"}, xsrf)
    assert r.status_code == 302, r.text[:300]
    refused = hub.session().login(ana, "my-own-secret-9")
    assert refused.status_code == 403 and "being removed from its class" in refused.text
    # Not even an admin's start (the hub's API) gives the account its space back meanwhile.
    assert hub.api.post(f"/users/{ana}/server").status_code >= 400
    assert learner.http.get(f"{hub.url}/hub/api/user", timeout=30).status_code == 403  # logged out everywhere
    home = tess.http.get(f"{hub.url}{CLASSROOM}", timeout=30).text
    assert "Being removed" in home and f"users/{ana}/undo" in home and 'class="clh-local"' in home
    # No password reset may turn the log-in back on meanwhile.
    assert form(tess, hub, f"groups/{g}/users/{ana}/password", {"confirm": "yes"}, xsrf).status_code == 409
    assert form(ted, hub, f"groups/{g}/users/{ana}/undo", {}, page_xsrf(ted, hub)).status_code == 403
    assert form(tess, hub, f"groups/{g}/users/{ana}/undo", {}, None).status_code == 403
    assert form(tess, hub, f"groups/{g}/users/{ana}/undo", {}, xsrf).status_code == 302
    assert hub.session().login(ana, "my-own-secret-9").status_code == 302
    assert hub.api.get(f"/users/{ana}").status_code == 200
    started = hub.api.post(f"/users/{ana}/server")  # control: the same start works after the undo
    assert started.status_code in (201, 202), started.text[:300]
    assert form(tess, hub, f"groups/{g}/users/{ana}/undo", {}, xsrf).status_code == 400  # nothing left to undo


def test_a_removal_happens_for_good_after_its_window_even_across_a_restart(hub: RunningHub) -> None:
    import time

    g, bea = hub.name("g"), hub.name("bea")
    tess = hub.login("tess")
    xsrf = page_xsrf(tess, hub)
    assert form(tess, hub, f"groups/{g}/users/{bea}/remove", {"confirm": "yes"}, xsrf).status_code == 302
    pending_file = hub.data_dir / "hub" / "pending-removals.json"
    pending = json.loads(pending_file.read_text())
    assert set(pending) == {bea} and pending[bea]["by"] == hub.name("tess")
    hub.stop()
    # The ten minutes pass while the hub is down (the file says when the window ends).
    pending[bea]["due"] = "2000-01-01T00:00:00+00:00"
    pending_file.write_text(json.dumps(pending))
    hub.start()
    deadline = time.monotonic() + 90
    while hub.api.get(f"/users/{bea}").status_code != 404 and time.monotonic() < deadline:
        time.sleep(1)
    assert hub.api.get(f"/users/{bea}").status_code == 404
    assert bea not in hub.api.get(f"/groups/{g}").json()["users"]
    assert json.loads(pending_file.read_text()) == {}
    assert bea not in names_file(hub)
    assert hub.session().login(bea, PASSWORD).status_code != 302
