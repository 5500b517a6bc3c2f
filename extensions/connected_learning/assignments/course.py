"""Assignments with nbgrader: one course per hub group, run by the classroom service.

    <data>/courses/<g>/                nbgrader course directory (root only): source/, release/,
                                       submitted/, autograded/, feedback/, gradebook.db
    <data>/exchange/<g>/               root:clhub-<g> 0750: members only
    <data>/exchange/<g>/outbound/      2750: released assignments, readable by members
    <data>/exchange/<g>/inbound/       2730: members add submissions but cannot list them
    <data>/exchange/<g>/feedback/      2710: a member reads only feedback whose name they know

The teacher's steps run here as root through nbgrader's own API (`NbGraderAPI`):
`assign` copies an assignable workbook (nbgrader's source format) into the course,
records the due date and students in the gradebook, generates and releases it;
learners receive released assignments in `~/assignments/<g>/<id>/` at their next start
(`deliver`, run as the learner) and submit with nbgrader (the assignment list or `nbgrader
submit`), through `exchange.ClhubExchangeSubmit`, which keeps a submission private to its
author. `collect` is ours, not nbgrader's: it takes each student's latest submission by
the time the operating system saw it (the newest ctime in it, which a student cannot set
back), never by a name or a file the student wrote, checks that the submission's owner
is the student it claims to be, copies regular files only, and writes that time into
nbgrader's `timestamp.txt`. Grading is `grading.autograde_all`; `release_feedback` is
nbgrader's.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.load import Workbook
from ..errors import ClhubError
from ..peer_review.folders import link_folders
from ..settings import validate_username
from ..widgets.puzzles import CODE_STUB

SUBMISSION_LIMIT = 50 * 1024 * 1024  # bytes of one submission that collect copies at most


class AssignmentError(ClhubError):
    code = "assignment"
    status = 400


@dataclass(frozen=True)
class Course:
    data_dir: Path
    group: str

    @property
    def root(self) -> Path:
        return self.data_dir / "courses" / self.group

    @property
    def exchange_root(self) -> Path:
        return self.data_dir / "exchange"

    @property
    def exchange(self) -> Path:
        return self.exchange_root / self.group

    def config(self) -> Any:
        from traitlets.config import Config

        c = Config()
        c.CourseDirectory.root = str(self.root)
        c.CourseDirectory.course_id = self.group
        c.Exchange.root = str(self.exchange_root)
        c.Exchange.path_includes_course = True
        c.ExchangeReleaseAssignment.force = True
        c.Execute.timeout = 60
        # The same blank answers as the workbooks' releases: Run All reaches the end.
        c.ClearSolutions.code_stub = {"python": CODE_STUB}
        return c

    def api(self) -> Any:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        config = self.config()
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"


def prepare(course: Course, gid: int | None, teachers_gid: int | None = None) -> None:
    """Create or repair the course and exchange folders with the modes above.

    With `teachers_gid` (the group's teachers' system group) the course folder is theirs
    too, setgid and group-writable, so that the formgrader in a teacher's own server
    grades in the same course and gradebook as the service.
    """
    course.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(course.root.parent, 0o755)
    if teachers_gid is None:
        os.chmod(course.root, 0o700)
    else:
        share_with_teachers(course.root, teachers_gid)
    # The same settings for nbgrader run from this folder (grading workers, a formgrader).
    (course.root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course.group!r}\n"
        f"c.Exchange.root = {str(course.exchange_root)!r}\n"
        "c.Exchange.path_includes_course = True\n"
        f"c.ClearSolutions.code_stub = {{'python': {CODE_STUB!r}}}\n"
    )
    course.exchange_root.mkdir(exist_ok=True, mode=0o755)
    for path, mode in (
        (course.exchange, 0o750),
        (course.exchange / "outbound", 0o2750),
        (course.exchange / "inbound", 0o2730),
        (course.exchange / "feedback", 0o2710),
    ):
        path.mkdir(exist_ok=True)
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise AssignmentError(f"{path} is a symbolic link; move it away.")
        if gid is not None:
            os.chown(path, 0, gid)
        os.chmod(path, mode)


def share_with_teachers(root: Path, gid: int) -> None:
    """The course folder and everything in it: group `gid`, folders setgid, group read-write."""
    for base, dirs, files in os.walk(root):
        for path in [base, *(os.path.join(base, f) for f in files)]:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                continue
            os.chown(path, info.st_uid, gid, follow_symlinks=False)
            extra = 0o2070 if stat.S_ISDIR(info.st_mode) else 0o060
            os.chmod(path, (stat.S_IMODE(info.st_mode) | extra) & ~0o007)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(base, d))]


def _share_released(course: Course, gid: int | None) -> None:
    """Make released files readable by the group (nbgrader sets its own, world-readable modes)."""
    for base, dirs, files in os.walk(course.exchange / "outbound"):
        for name in dirs:
            path = os.path.join(base, name)
            if gid is not None:
                os.chown(path, 0, gid, follow_symlinks=False)
            os.chmod(path, 0o2750)
        for name in files:
            path = os.path.join(base, name)
            if gid is not None:
                os.chown(path, 0, gid, follow_symlinks=False)
            os.chmod(path, 0o640)
    for base, _, files in os.walk(course.exchange / "feedback"):
        for name in files:
            os.chmod(os.path.join(base, name), 0o644)  # its folder lets members in by exact name only


def assign(course: Course, workbook: Workbook, students: list[str], due: dt.datetime | None, gid: int | None) -> str:
    """Generate and release `workbook` to the group; return the assignment id.

    Raises:
        AssignmentError: the workbook is not assignable, or nbgrader could not generate or
            release it (its message is passed on).
    """
    if not workbook.assignable:
        raise AssignmentError(f"{workbook.id!r} cannot be assigned: it has no autograded parts.")
    aid = workbook.id
    prepare(course, gid)
    source = course.root / "source" / aid
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    for name in [*workbook.notebooks, *workbook.files]:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(workbook.folder / name, target)
    from nbgrader.api import Gradebook

    with Gradebook(course.gradebook_url, course_id=course.group) as gb:
        gb.update_or_create_assignment(aid, duedate=due)
        for student in students:
            gb.update_or_create_student(validate_username(student))
    api = course.api()
    for step, run in (("generate", api.generate_assignment), ("release", api.release_assignment)):
        result = run(aid)
        if not result.get("success"):
            raise AssignmentError(f"nbgrader could not {step} {aid!r}: {result.get('error') or result.get('log')}")
    _share_released(course, gid)
    return aid


def released(course: Course) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(course.exchange / "outbound") if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


# ------------------------------------------------------------------ collect


@dataclass(frozen=True)
class Submission:
    student: str
    folder: Path
    seen: dt.datetime  # when the operating system saw its newest part


def _newest_change(folder: Path) -> float:
    newest = os.lstat(folder).st_ctime
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            newest = max(newest, os.lstat(os.path.join(base, name)).st_ctime)
    return newest


def submissions(course: Course, aid: str, members: set[str], *, check_owner: bool) -> dict[str, Submission]:
    """Each member's latest submission of `aid` in the inbound folder, by the time the OS saw it."""
    from ..host.current import current  # who owns a uid is the host's word (a pod has no account per learner)

    owners = current()
    latest: dict[str, Submission] = {}
    inbound = course.exchange / "inbound"
    for entry in os.scandir(inbound):
        parts = entry.name.split("+")
        if len(parts) < 3 or parts[1] != aid or parts[0] not in members:
            continue
        info = entry.stat(follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            continue
        student = parts[0]
        if check_owner:
            if owners.owner_name(info.st_uid) != student:
                continue  # somebody submitted in another student's name
        seen = dt.datetime.fromtimestamp(_newest_change(Path(entry.path)), dt.UTC)
        if student not in latest or seen > latest[student].seen:
            latest[student] = Submission(student, Path(entry.path), seen)
    return latest


def _copy_regular_files(src: Path, dest: Path) -> None:
    """Copy a student's submission: regular files and folders only, never through a symlink."""
    total = 0
    dest.mkdir(parents=True)
    for base, dirs, files in os.walk(src):
        rel = os.path.relpath(base, src)
        for name in dirs:
            if not os.path.islink(os.path.join(base, name)):
                (dest / rel / name).mkdir(exist_ok=True)
        for name in files:
            path = os.path.join(base, name)
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # raises on a symlink
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read(SUBMISSION_LIMIT - total + 1)
            total += len(data)
            if total > SUBMISSION_LIMIT:
                raise AssignmentError(f"A submission in {src.name} is larger than {SUBMISSION_LIMIT} bytes.")
            (dest / rel / name).write_bytes(data)


def collect(course: Course, aid: str, members: set[str], *, check_owner: bool = True) -> dict[str, str]:
    """Copy each member's latest submission into the course; return {student: server time}."""
    found = submissions(course, aid, members, check_owner=check_owner)
    collected: dict[str, str] = {}
    for student, sub in sorted(found.items()):
        target = course.root / "submitted" / student / aid
        staging = target.with_name(f".{aid}.collecting")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            _copy_regular_files(sub.folder, staging)
        except (OSError, AssignmentError):
            shutil.rmtree(staging, ignore_errors=True)
            continue  # a broken submission does not stop the others; the teacher sees it missing
        stamp = sub.seen.strftime("%Y-%m-%d %H:%M:%S.%f %Z")
        (staging / "timestamp.txt").write_text(stamp)
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
        collected[student] = stamp
    return collected


def release_feedback(course: Course, aid: str, gid: int | None) -> list[str]:
    """Generate each graded student's feedback and release it into the exchange."""
    api = course.api()
    for step, run in (("generate feedback for", api.generate_feedback), ("release feedback for", api.release_feedback)):
        result = run(aid)
        if not result.get("success"):
            raise AssignmentError(f"nbgrader could not {step} {aid!r}: {result.get('error') or result.get('log')}")
    _share_released(course, gid)
    feedback = course.root / "feedback"
    return sorted(p.name for p in feedback.iterdir() if (p / aid).is_dir()) if feedback.is_dir() else []


def scores(course: Course, aid: str) -> dict[str, float]:
    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, float] = {}
    with Gradebook(course.gradebook_url, course_id=course.group) as gb:
        for student in gb.students:
            try:
                out[student.id] = float(gb.find_submission(aid, student.id).score)
            except MissingEntry:
                continue
    return out


# ------------------------------------------------------------------ learner side


def deliver(home: str | os.PathLike[str], outbound: dict[str, str]) -> dict[str, list[str]]:
    """Copy released assignments not yet in `~/assignments/<group>/<id>/` (as the learner).

    Like nbgrader's fetch: an assignment already there is never touched. A new one starts
    from the learner's own answers in `~/workbooks/<id>/` (`own_work.start_from_own_work`).
    """
    from .own_work import start_from_own_work

    done: dict[str, list[str]] = {}
    base = Path(home) / "assignments"
    for group, folder in sorted(outbound.items()):
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
        for aid in names:
            target = base / group / aid
            if os.path.lexists(target):
                continue
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copytree(os.path.join(folder, aid), target, symlinks=True)
            start_from_own_work(target, home, aid, mark_workbook=True)  # at the start: no server runs
            done.setdefault(group, []).append(aid)
    return done


def link_courses(home: str | os.PathLike[str], courses: dict[str, str]) -> dict[str, str]:
    """A teacher's `~/courses/<group>` links to the course folders they share (as the teacher).

    The formgrader only works on a course inside the server's root folder; the link puts it there.
    """
    return link_folders(home, "courses", courses)
