"""Assignments with real nbgrader, a real hub and real system users, end to end.

A teacher assigns an assignable workbook through the classroom service; two students
find it in their home at their next start, submit through nbgrader's assignment-list
API of their own server; the teacher collects, autogrades and releases feedback, and the
students fetch it. Along the way: a student cannot list or read another's submission, a
forged submission in another student's name is ignored, submission times are the
server's, and a teacher of another group gets 403.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from jupyterhub.spawner import set_user_setuid

from connected_learning.assignments.course import Course
from realhub import REPO, RunningHub

pytestmark = pytest.mark.integration
WORKBOOK = "recipe-scaler"


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    return make_hub(
        {"tess": ("teacher", ["g"]), "ted": ("teacher", ["h"]), "ana": ("student", ["g"]), "ben": ("student", ["g"])}
    )


def service(hub: RunningHub, short: str, method: str, path: str, **kw: Any) -> requests.Response:
    r = hub.api.post(
        f"/users/{hub.name(short)}/tokens",
        json={"note": "t", "expires_in": 600, "scopes": ["access:services!service=classroom"]},
    )
    return requests.request(
        method,
        f"{hub.url}/services/classroom/api{path}",
        timeout=600,
        headers={"Authorization": f"token {r.json()['token']}"},
        **kw,
    )


def as_student(hub: RunningHub, short: str, code: str) -> str:
    name = hub.name(short)
    home = pwd.getpwnam(name).pw_dir
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=home,
        env={"HOME": home},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=set_user_setuid(name),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def solutions() -> dict[str, str]:
    """The source notebook's solution cells, by grade_id, without nbgrader's markers."""
    nb = nbformat.read(REPO / "workbooks" / "cooking" / WORKBOOK / f"{WORKBOOK}.ipynb", as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n?", "", cell.source, flags=re.M)
    return out


def lab_post(session: Any, hub: RunningHub, short: str, path: str, data: dict[str, str]) -> requests.Response:
    name = hub.name(short)
    xsrf = next(c.value for c in session.http.cookies if c.name == "_xsrf" and c.path.rstrip("/") == f"/user/{name}")
    return session.http.post(f"{hub.server_url(name)}{path}", data=data, headers={"X-XSRFToken": xsrf}, timeout=300)


XSS_MARKDOWN = 'xss-markdown-shown <img src=x onerror="window.pwnedmd=1"><iframe src="/hub/token"></iframe>'
XSS_CODE = (
    "from IPython.display import HTML, Javascript, display\n"
    "display(HTML('<b>xss-html-shown</b><script>window.pwnedhtml=1</script>'))\n"
    "display(Javascript('window.pwnedjs=1'))"
)


def test_assign_submit_collect_grade_and_feedback(hub: RunningHub) -> None:
    g = hub.name("g")
    assert service(hub, "ted", "POST", f"/groups/{g}/assignments", json={"workbook": WORKBOOK}).status_code == 403
    assert service(hub, "ana", "POST", f"/groups/{g}/assignments", json={"workbook": WORKBOOK}).status_code == 403
    bad = service(hub, "tess", "POST", f"/groups/{g}/assignments", json={"workbook": "start-here"})
    assert bad.status_code == 400 and "cannot be assigned" in bad.json()["message"]
    # As for a group a log-in made (a course launched from the platform): no system group yet.
    system_group = f"clhub-{g}"
    if any(group.gr_name == system_group for group in grp.getgrall()):
        subprocess.run(["groupdel", system_group], check=True)
    with pytest.raises(KeyError):
        grp.getgrnam(system_group)
    r = service(hub, "tess", "POST", f"/groups/{g}/assignments", json={"workbook": WORKBOOK, "due": "2030-06-01T17:00"})
    assert r.status_code == 201, r.text
    assert r.json()["students"] == sorted([hub.name("ana"), hub.name("ben")])
    # Given out before any learner started, the release is still the group's to read, not root's alone.
    outbound = Course(hub.data_dir, g).exchange / "outbound"
    assert outbound.stat().st_gid == grp.getgrnam(system_group).gr_gid

    sessions = {}
    for short in ("ana", "ben"):
        s = hub.login(short)
        assert s.spawn_with_form(["cooking"]).status_code == 302
        s.wait_ready(hub.name(short))
        sessions[short] = s
        home = Path(pwd.getpwnam(hub.name(short)).pw_dir)
        assert (home / "assignments" / g / WORKBOOK / f"{WORKBOOK}.ipynb").is_file()
        listed = (
            sessions[short]
            .http.get(f"{hub.server_url(hub.name(short))}assignments", params={"course_id": g}, timeout=60)
            .json()
        )
        assert listed["success"] and [a["assignment_id"] for a in listed["value"]] == [WORKBOOK]

    # ben answers every puzzle; ana hands in the notebook as it came.
    answers = json.dumps(solutions())
    as_student(
        hub,
        "ben",
        f"""
import json, nbformat
path = 'assignments/{g}/{WORKBOOK}/{WORKBOOK}.ipynb'
nb = nbformat.read(path, as_version=4)
answers = json.loads({answers!r})
for cell in nb.cells:
    gid = cell.metadata.get('nbgrader', {{}}).get('grade_id')
    if gid in answers:
        cell.source = answers[gid]
nbformat.write(nb, path)
""",
    )
    # ana adds a Markdown cell and a code cell whose outputs are script: aimed at the teacher
    # who opens her submission in the formgrader (test_the_formgrader_shows_a_submission_without_running_it).
    as_student(
        hub,
        "ana",
        f"""
import nbformat
path = 'assignments/{g}/{WORKBOOK}/{WORKBOOK}.ipynb'
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_markdown_cell({XSS_MARKDOWN!r}))
nb.cells.append(nbformat.v4.new_code_cell({XSS_CODE!r}))
nbformat.write(nb, path)
""",
    )
    for short in ("ana", "ben"):
        r = lab_post(sessions[short], hub, short, "assignments/submit", {"course_id": g, "assignment_id": WORKBOOK})
        assert r.status_code == 200, r.text
        assert r.json().get("success", True) is not False, r.text

    inbound = Course(hub.data_dir, g).exchange / "inbound"
    anas = next(p for p in inbound.iterdir() if p.name.startswith(hub.name("ana") + "+"))
    assert (
        as_student(
            hub,
            "ben",
            f"""
import os
for attempt in (lambda: os.listdir({str(inbound)!r}), lambda: os.listdir({str(anas)!r}),
                lambda: open({str(anas / f"{WORKBOOK}.ipynb")!r}).read()):
    try:
        attempt()
        print('READ')
    except PermissionError:
        print('denied')
""",
        ).split()
        == ["denied"] * 3
    )
    # ana tries to hand in work as ben, and to date her own submission in the past.
    as_student(
        hub,
        "ana",
        f"""
import os, shutil
fake = os.path.join({str(inbound)!r}, {hub.name("ben")!r} + '+{WORKBOOK}+2099-01-01 00:00:00.000000 UTC+x')
shutil.copytree({str(anas)!r}, fake)
open(os.path.join({str(anas)!r}, 'timestamp.txt'), 'w').write('2000-01-01 00:00:00.000000 UTC')
""",
    )

    r = service(hub, "tess", "POST", f"/groups/{g}/assignments/{WORKBOOK}/collect")
    assert r.status_code == 200, r.text
    collected = r.json()["collected"]
    assert sorted(collected) == sorted([hub.name("ana"), hub.name("ben")])
    assert all(stamp.startswith("20") and not stamp.startswith(("2000", "2099")) for stamp in collected.values())
    course = Course(hub.data_dir, g).root
    assert (course / "submitted" / hub.name("ana") / WORKBOOK / "timestamp.txt").read_text() == collected[
        hub.name("ana")
    ]

    r = service(hub, "tess", "POST", f"/groups/{g}/assignments/{WORKBOOK}/autograde")
    assert r.status_code == 200, r.text
    scores = r.json()["scores"]
    assert scores[hub.name("ben")] == 3 and scores[hub.name("ana")] == 0, r.json()
    listed = service(hub, "tess", "GET", f"/groups/{g}/assignments").json()["assignments"]
    assert [(a["id"], a["scores"], a["due"]) for a in listed] == [(WORKBOOK, scores, "2030-06-01T17:00:00+00:00")]
    assert {s["student"]: s["words"] for s in listed[0]["learners"]} == {
        hub.name("ben"): "Marked: 3 of 3 points",
        hub.name("ana"): "Marked: 0 of 3 points",
    }

    r = service(hub, "tess", "POST", f"/groups/{g}/assignments/{WORKBOOK}/feedback")
    assert r.status_code == 200, r.text
    for short, score in (("ben", "3"), ("ana", "0")):
        r = lab_post(
            sessions[short], hub, short, "assignments/fetch_feedback", {"course_id": g, "assignment_id": WORKBOOK}
        )
        assert r.status_code == 200, r.text
        home = Path(pwd.getpwnam(hub.name(short)).pw_dir)
        pages = list((home / "assignments" / g / WORKBOOK / "feedback").glob(f"*/{WORKBOOK}.html"))
        assert len(pages) == 1, pages
        assert re.search(rf"Score: {score}(\.0)? / 3", pages[0].read_text()), short
    assert os.stat(course).st_mode & 0o007 == 0  # the group's teachers share it, nobody else

    # The teacher's progress view now shows both learners, their submissions and points.
    teacher = hub.login("tess")
    page = teacher.http.get(f"{hub.url}/services/classroom/groups/{g}/progress?sort=score&order=desc", timeout=120)
    assert page.status_code == 200, page.text[:300]
    assert page.text.index(hub.name("ben")) < page.text.index(hub.name("ana"))  # 3 points before 0
    csv_text = teacher.http.get(f"{hub.url}/services/classroom/groups/{g}/progress.csv", timeout=120).text
    assert csv_text.splitlines()[0].startswith("User name,Name,Workbooks started")
    ben_row = next(line for line in csv_text.splitlines() if line.startswith(hub.name("ben") + ","))
    assert ben_row.endswith(",1,3.0")
    one = teacher.http.get(f"{hub.url}/services/classroom/groups/{g}/progress/{hub.name('ben')}", timeout=120)
    assert one.status_code == 200 and WORKBOOK in one.text
    outsider = hub.login("ted")
    assert outsider.http.get(f"{hub.url}/services/classroom/groups/{g}/progress", timeout=60).status_code == 403
    assert outsider.http.get(f"{hub.url}/services/classroom/groups/{g}/progress.csv", timeout=60).status_code == 403
    assert (
        teacher.http.get(f"{hub.url}/services/classroom/groups/{g}/progress/{hub.name('ted')}", timeout=60).status_code
        == 404
    )


def test_the_teacher_reviews_in_formgrader_inside_jupyterhub(hub: RunningHub) -> None:
    """Runs after the end-to-end test: tess's own server runs nbgrader's formgrader on her course."""
    g, tess = hub.name("g"), hub.name("tess")
    s = hub.login("tess")
    assert s.spawn_with_form(["cooking"]).status_code == 302
    s.wait_ready(tess)
    page = s.http.get(f"{hub.server_url(tess)}formgrader", timeout=120)
    assert page.status_code == 200, page.text[:300]
    # JupyterLab shows the formgrader in a frame of the same server: the page may be framed by it.
    assert page.headers["Content-Security-Policy"].startswith("frame-ancestors 'self'")
    listed = s.http.get(f"{hub.server_url(tess)}formgrader/api/assignments", timeout=120)
    assert listed.status_code == 200, listed.text[:300]  # JSON (which nbgrader labels text/html)
    mine = [a for a in listed.json() if a["name"] == WORKBOOK]
    assert mine and mine[0]["num_submissions"] == 2, listed.json()
    # The learners' own servers have no formgrader.
    ana = hub.login("ana")
    assert ana.http.get(f"{hub.server_url(hub.name('ana'))}formgrader", timeout=60).status_code == 404
    course = Course(hub.data_dir, g).root
    assert os.stat(course).st_mode & 0o007 == 0


def test_the_formgrader_shows_a_submission_without_running_it(hub: RunningHub) -> None:
    """Runs after the formgrader test (tess's server runs): ana's submission carries script in
    Markdown and in her code's outputs; the teacher's formgrader page shows her work with none
    of it active."""
    tess, ana = hub.name("tess"), hub.name("ana")
    course = Course(hub.data_dir, hub.name("g")).root
    graded = (course / "autograded" / ana / WORKBOOK / f"{WORKBOOK}.ipynb").read_text()
    assert "window.pwnedhtml" in graded and "window.pwnedjs" in graded  # control: her code ran, outputs kept
    s = hub.login("tess")
    s.wait_ready(tess)  # started by the formgrader test before this one
    listed = s.http.get(f"{hub.server_url(tess)}formgrader/api/submitted_notebooks/{WORKBOOK}/{WORKBOOK}", timeout=120)
    assert listed.status_code == 200, listed.text[:300]
    hers = next(n for n in listed.json() if n["student"] == ana)
    page = s.http.get(f"{hub.server_url(tess)}formgrader/submissions/{hers['id']}", timeout=120)
    assert page.status_code == 200, page.text[:300]
    assert "xss-html-shown" in page.text and "xss-markdown-shown" in page.text  # her work is on the page
    # Her code's source is on the page as text; nothing of hers may be live HTML.
    assert _active_payloads(page.text) == []
    without_sanitizing = "<b>xss-html-shown</b><script>window.pwnedhtml=1</script>"
    assert _active_payloads(without_sanitizing) == ["script: window.pwnedhtml=1"]  # the check can fail


def _active_payloads(page: str) -> list[str]:
    """Script elements, event-handler attributes and frames in `page` that carry ana's payloads."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Finder(HTMLParser):
        in_script = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.in_script = tag == "script"
            if tag == "iframe":
                found.append(f"iframe: {attrs}")
            found.extend(
                f"{name}: {value}" for name, value in attrs if name.startswith("on") and "pwned" in (value or "")
            )

        def handle_data(self, data: str) -> None:
            if self.in_script and "pwned" in data:
                found.append(f"script: {data.strip()}")

        def handle_endtag(self, tag: str) -> None:
            self.in_script = False

    Finder().feed(page)
    return found


def test_under_the_demo_spawner_each_account_submits_as_itself(make_hub: Any) -> None:
    """Every demo account is the same system user: nbgrader must still name the hub user."""
    demo = make_hub({"tess": ("teacher", ["d"]), "ana": ("student", ["d"]), "ben": ("student", ["d"])}, spawner="demo")
    d = demo.name("d")
    assert service(demo, "tess", "POST", f"/groups/{d}/assignments", json={"workbook": WORKBOOK}).status_code == 201
    for short in ("ana", "ben"):
        s = demo.login(short)
        assert s.spawn_with_form(["cooking"]).status_code == 302
        s.wait_ready(demo.name(short))
        r = lab_post(s, demo, short, "assignments/submit", {"course_id": d, "assignment_id": WORKBOOK})
        assert r.status_code == 200 and r.json().get("success", True) is not False, r.text
    r = service(demo, "tess", "POST", f"/groups/{d}/assignments/{WORKBOOK}/collect")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["collected"]) == sorted([demo.name("ana"), demo.name("ben")])
    (listed,) = service(demo, "tess", "GET", f"/groups/{d}/assignments").json()["assignments"]
    assert {s["student"]: s["words"] for s in listed["learners"]} == {
        demo.name("ana"): "Handed in",
        demo.name("ben"): "Handed in",
    }
