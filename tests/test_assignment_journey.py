"""An assignment's journey with real learners: it starts from their own work, and the teacher
sees each learner's status and due date, with real nbgrader, a real hub and system users.

ana answered two puzzles in her workbook copy before the teacher assigned it: her assignment
copy starts with them. cai planted a link to ana's workbook copy in his own workbooks
folder: his copy gets nothing of hers. ben never starts his space: "Not opened yet". A due
date in a bad format or in the past is refused and nothing is assigned; a teacher of another
group gets 403. A hand-in after the due date is late; moved later, it is not; marked,
nbgrader's own lateness agrees.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import re
import time
from pathlib import Path
from typing import Any

import pytest

from connected_learning.assignments.course import Course
from realhub import RunningHub
from test_assignments import WORKBOOK, as_student, lab_post, service

pytestmark = pytest.mark.integration
ANSWERS = {
    "scale-factor": "def scale_factor(serves, people):\n    return Fraction(people, serves)",
    "scale": "def scale(amount, serves, people):\n    return amount * Fraction(people, serves)",
}


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    return make_hub(
        {
            "tess": ("teacher", ["g"]),
            "ted": ("teacher", ["h"]),
            "ana": ("student", ["g"]),
            "ben": ("student", ["g"]),
            "cai": ("student", ["g"]),
        }
    )


def home(hub: RunningHub, short: str) -> Path:
    return Path(pwd.getpwnam(hub.name(short)).pw_dir)


def start(hub: RunningHub, short: str) -> Any:
    s = hub.login(short)
    assert s.spawn_with_form(["cooking"]).status_code == 302
    s.wait_ready(hub.name(short))
    return s


def stop(hub: RunningHub, short: str) -> None:
    hub.api.delete(f"/users/{hub.name(short)}/server", timeout=60)
    hub.api.wait_for_server(hub.name(short), ready=False, timeout=60)


def answer_in(path: str, answers: dict[str, str]) -> str:
    """Python that a learner runs to write `answers` into the notebook at `path` (in their home)."""
    return f"""
import json, nbformat
nb = nbformat.read({path!r}, as_version=4)
answers = json.loads({json.dumps(answers)!r})
for cell in nb.cells:
    gid = cell.metadata.get('nbgrader', {{}}).get('grade_id')
    if gid in answers:
        cell.source = answers[gid]
nbformat.write(nb, {path!r})
"""


def datetime_of(text: str) -> str:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).isoformat()


def statuses(hub: RunningHub, g: str) -> dict[str, dict[str, Any]]:
    r = service(hub, "tess", "GET", f"/groups/{g}/assignments")
    assert r.status_code == 200, r.text
    (listed,) = r.json()["assignments"]
    return {s["student"]: s for s in listed["learners"]} | {"": {"due": listed["due"]}}


def test_the_assignment_starts_from_own_work_and_the_teacher_follows_each_learner(hub: RunningHub) -> None:
    g = hub.name("g")
    notebook = f"workbooks/{WORKBOOK}/{WORKBOOK}.ipynb"
    for short in ("ana", "cai"):
        start(hub, short)
    as_student(hub, "ana", answer_in(notebook, ANSWERS))
    answered = (home(hub, "ana") / notebook).read_bytes()
    theirs = home(hub, "ana") / notebook
    mine = home(hub, "cai") / notebook
    mine.unlink()
    os.symlink(theirs, mine)  # cai's "workbook copy" is ana's
    assert "Fraction(people, serves)" in mine.read_text()  # control: through the link, her answers are there
    for short in ("ana", "cai"):
        stop(hub, short)

    # Bad due dates and another group's teacher: refused, and nothing is assigned.
    for due, said in (("friday", "is not a date and time"), ("2020-01-01T10:00", "has already passed")):
        r = service(hub, "tess", "POST", f"/groups/{g}/assignments", json={"workbook": WORKBOOK, "due": due})
        assert r.status_code == 400 and said in r.json()["message"], r.text
    assert service(hub, "ted", "POST", f"/groups/{g}/assignments", json={"workbook": WORKBOOK}).status_code == 403
    assert service(hub, "tess", "GET", f"/groups/{g}/assignments").json()["assignments"] == []
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=8)).strftime("%Y-%m-%dT%H:%M:%S")
    r = service(hub, "tess", "POST", f"/groups/{g}/assignments", json={"workbook": WORKBOOK, "due": soon})
    assert r.status_code == 201, r.text  # control: the same request with a good date

    sessions = {short: start(hub, short) for short in ("ana", "cai")}
    copy = f"assignments/{g}/{WORKBOOK}/{WORKBOOK}.ipynb"
    hers = json.loads((home(hub, "ana") / copy).read_text())
    assert "2 answers from" in "".join(hers["cells"][0]["source"])
    assert "Fraction(people, serves)" in json.dumps(hers)
    his = (home(hub, "cai") / copy).read_text()
    assert "Fraction(people, serves)" not in his and "this is the one you hand in" in his
    # Her workbook copy keeps every cell of hers, under a note that says which copy is handed in.
    kept = json.loads((home(hub, "ana") / notebook).read_text())
    assert kept["cells"][1:] == json.loads(answered)["cells"]
    assert f"`assignments/{g}/{WORKBOOK}/{WORKBOOK}.ipynb`" in "".join(kept["cells"][0]["source"])
    assert (home(hub, "ana") / notebook).stat().st_uid == pwd.getpwnam(hub.name("ana")).pw_uid

    now = statuses(hub, g)
    assert now[hub.name("ana")]["words"] == "Working on it: 2 of 3 answers written"
    assert now[hub.name("cai")]["words"] == "Opened, no answers yet"
    assert now[hub.name("ben")]["words"] == "Not opened yet"

    # cai's copy through JupyterLab's Assignments list (nbgrader's fetch) starts from his own work too.
    as_student(
        hub,
        "cai",
        f"import os, shutil, nbformat\nos.unlink({notebook!r})\n"
        f"shutil.copy({copy!r}, {notebook!r})\nshutil.rmtree('assignments/{g}/{WORKBOOK}')\n"
        + answer_in(notebook, {"scale": ANSWERS["scale"]}),
    )
    r = lab_post(sessions["cai"], hub, "cai", "assignments/fetch", {"course_id": g, "assignment_id": WORKBOOK})
    assert r.status_code == 200 and r.json().get("success", True) is not False, r.text
    fetched = (home(hub, "cai") / copy).read_text()
    assert "Your answer from" in fetched and "Fraction(people, serves)" in fetched
    assert statuses(hub, g)[hub.name("cai")]["words"] == "Working on it: 1 of 3 answers written"

    # ana hands in after the due date: late. Moved to a later date, the same hand-in is on time.
    while dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") <= soon:
        time.sleep(0.5)
    r = lab_post(sessions["ana"], hub, "ana", "assignments/submit", {"course_id": g, "assignment_id": WORKBOOK})
    assert r.status_code == 200 and r.json().get("success", True) is not False, r.text
    assert statuses(hub, g)[hub.name("ana")]["words"] == "Handed in (late)"
    assert service(hub, "tess", "POST", f"/groups/{g}/assignments/{WORKBOOK}/collect").status_code == 200
    r = service(hub, "tess", "POST", f"/groups/{g}/assignments/{WORKBOOK}/autograde")
    assert r.status_code == 200 and r.json()["scores"] == {hub.name("ana"): 2}, r.text
    marked = statuses(hub, g)[hub.name("ana")]
    assert marked["words"] == "Marked (late): 2 of 3 points"  # nbgrader's own lateness
    assert marked["handed_in"], marked  # marking keeps when she handed it in

    # The due date moves (bad dates and another group's teacher refused): nbgrader agrees she was on time.
    for bad in ("2030-02-30T10:00", "2020-01-01"):
        r = service(hub, "tess", "POST", f"/groups/{g}/assignments/{WORKBOOK}/due", json={"due": bad})
        assert r.status_code == 400, r.text
    assert service(hub, "ted", "POST", f"/groups/{g}/assignments/{WORKBOOK}/due", json={"due": ""}).status_code == 403
    assert service(hub, "tess", "POST", f"/groups/{g}/assignments/nope/due", json={"due": ""}).status_code == 404
    assert statuses(hub, g)[""]["due"] == datetime_of(soon)  # unchanged by the refusals
    r = service(
        hub,
        "tess",
        "POST",
        f"/groups/{g}/assignments/{WORKBOOK}/due",
        json={"due": "2030-06-01T17:00", "tz_offset": -60},
    )
    assert r.status_code == 200 and r.json()["due"] == "2030-06-01T16:00:00+00:00", r.text
    now = statuses(hub, g)
    assert now[""]["due"] == "2030-06-01T16:00:00+00:00" and now[hub.name("ana")]["words"] == "Marked: 2 of 3 points"

    # The teacher's page says the same, and the page's own form refuses a bad date in words.
    teacher = hub.login("tess")
    page = teacher.http.get(f"{hub.url}/services/classroom/groups/{g}/assignments", timeout=120)
    assert page.status_code == 200
    for words in (
        "Marked: 2 of 3 points",
        "Working on it: 1 of 3 answers written",
        "Not opened yet",
        "1 Jun 2030, 16:00 UTC",
    ):
        assert words in page.text, words
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"_xsrf": xsrf, "action": "due", "assignment": WORKBOOK, "due": "yesterday"}
    page = teacher.http.post(f"{hub.url}/services/classroom/groups/{g}/assignments", data=form, timeout=120)
    assert page.status_code == 200 and "is not a date and time" in page.text
    assert statuses(hub, g)[""]["due"] == "2030-06-01T16:00:00+00:00"  # unchanged
    outsider = hub.login("ted")
    assert outsider.http.get(f"{hub.url}/services/classroom/groups/{g}/assignments", timeout=60).status_code == 403
    assert Course(hub.data_dir, g).root.is_dir()
