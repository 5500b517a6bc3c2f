"""Integration: `clhub backup` of a running site, `clhub restore` on a clean machine.

A real hub with real system users. Learners' work, a shared piece, a waiting proposal, a
published page and a grade are made the way the product makes them; the archive is
written while the hub runs. Then the site is taken away (hub stopped, its system users,
groups and homes removed), restored into an empty data folder, and started: every file
is back with its owner and mode, the piece, the proposal, the page and the grade too, and
learners log in.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import requests

from connected_learning.assignments.course import Course
from realhub import RunningHub, _remove_system_group, _remove_system_user
from test_showcase import anonymous, api, as_learner, consent, decide, propose, share_story

pytestmark = pytest.mark.integration
CLHUB = str(Path(sys.executable).parent / "clhub")
# Files the running hub rewrites or that restore changes on purpose (the hub's database
# forgets the old machine's servers); SQLite files are compared by what they hold; learners'
# disk images are not kept (their homes are, file by file, without the image's lost+found).
VOLATILE = ("proxy.pid",)


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub({"ana": ("student", ["g"]), "tess": ("teacher", ["g"])})
    s = hub.login("ana")
    assert s.spawn_with_form(["art"]).status_code == 302
    s.wait_ready(hub.name("ana"))
    return hub


def tree(root: Path) -> dict[str, tuple[str, str, int, str]]:
    """Every entry under `root`: owner, group (by name), mode and content digest."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if (
                rel.startswith(("disks", "lost+found", "hub/template"))
                or name in VOLATILE
                or name.endswith((".sqlite", ".db", "-journal"))
            ):
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
            if path.is_symlink():
                digest = os.readlink(path)
            found[rel] = (pwd.getpwuid(st.st_uid).pw_name, _group(st.st_gid), st.st_mode, digest)
    return found


def _group(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def give_a_grade(hub: RunningHub, group: str, student: str) -> None:
    """A graded submission in the group's nbgrader gradebook, as the formgrader records one."""
    from nbgrader.api import Gradebook

    course = Course(hub.data_dir, group)
    course.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with Gradebook(course.gradebook_url, course_id=group) as gb:
        gb.add_assignment("poems")
        gb.update_or_create_notebook("poems", "poems")
        gb.add_grade_cell("q1", "poems", "poems", max_score=3, cell_type="code")
        gb.update_or_create_student(student)
        gb.add_submission("poems", student)
        grade = gb.find_grade("q1", "poems", "poems", student)
        grade.manual_score = 2.5
        gb.db.commit()


def grade_of(data_dir: Path, group: str, student: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(Course(data_dir, group).gradebook_url, course_id=group) as gb:
        return float(gb.find_submission("poems", student).score)


def clhub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLHUB, *args], capture_output=True, text=True, timeout=600)


def test_a_backup_of_a_running_site_restores_on_a_clean_machine(hub: RunningHub, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # nbgrader runs alembic
    g, ana = hub.name("g"), hub.name("ana")
    home = Path(pwd.getpwnam(ana).pw_dir)
    made = as_learner(
        hub, "ana", sys.executable, "-c", "open('poem.txt', 'w').write('roses'); import os; os.chmod('poem.txt', 0o600)"
    )
    assert made.returncode == 0, made.stderr
    waiting_piece = share_story(hub, "ana", "Street story")
    waiting = propose(hub, "ana", waiting_piece)
    assert waiting.status_code == 201, waiting.text
    published_piece = share_story(hub, "ana", "Bird song")
    to_publish = propose(hub, "ana", published_piece, title="Bird song").json()["id"]
    assert consent(hub, "tess", "ana", True).status_code == 200
    published = decide(hub, "tess", to_publish, "approve")
    assert published.status_code == 200, published.text
    link = published.json()["link"]
    give_a_grade(hub, g, ana)

    data_before, home_before = tree(hub.data_dir), tree(home)
    assert any(k.startswith(f"groups/{g}/peer-review/") for k in data_before)
    archive = hub.workdir / "backup.tar.gz"
    done = clhub("backup", str(archive), "--site", str(hub.site_file))
    assert done.returncode == 0, done.stderr
    assert archive.stat().st_mode & 0o077 == 0  # it holds the site's secrets
    if (hub.data_dir / "hub" / "template").exists():  # the start-up template's socket, pid and log: not data
        with tarfile.open(archive) as tar:
            assert not [m for m in tar.getnames() if m.startswith("data/hub/template")]

    # A clean machine: no hub, no site users, groups or homes.
    hub.stop_all_servers()
    hub.stop()
    for user in hub.users:
        _remove_system_user(user)
    for group in (f"clhub-{g}", f"clhubt-{g}"):
        _remove_system_group(group)
    assert not home.exists()

    target, site = hub.workdir / "restored", hub.workdir / "restored-site.toml"
    target.mkdir()
    (target / "something").write_text("in the way")
    refused = clhub("restore", str(archive), "--data-dir", str(target), "--site", str(site))
    assert refused.returncode == 2 and "is not empty" in refused.stderr, refused.stderr
    (target / "something").unlink()
    done = clhub("restore", str(archive), "--data-dir", str(target), "--site", str(site))
    assert done.returncode == 0, done.stderr
    assert ana in done.stdout  # its system account was made again

    assert tree(target) == data_before
    assert tree(home) == home_before
    assert grade_of(target, g, ana) == 2.5

    hub.site_file, hub.data_dir = site, target
    hub.start()
    assert anonymous(hub, link).status_code == 200
    proposals = api(hub, "tess", "GET", f"/groups/{g}/showcase/proposals").json()["proposals"]
    assert {p["id"]: p["status"] for p in proposals} == {waiting.json()["id"]: "proposed", to_publish: "published"}
    s = hub.login("ana")
    started = s.spawn_with_form(["art"])
    assert started.status_code == 302, hub.log()[-4000:]
    s.wait_ready(ana)
    r = s.lab_api("GET", ana, "contents/poem.txt")
    assert r.status_code == 200 and r.json()["content"] == "roses"
    pieces = s.lab_api("GET", ana, f"contents/peer-review/{g}").json()["content"]
    assert {waiting_piece, published_piece} <= {p["name"] for p in pieces}
    assert requests.get(f"{hub.url}/hub/api/", timeout=10).status_code == 200
