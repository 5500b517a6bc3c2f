"""Where each learner is with an assignment, in plain words, from what is on disk.

The classroom's Assignments page shows, per assigned workbook and learner, one of:

    not opened yet          no copy of the assignment in their home yet (they have not
                            started their space since it was assigned)
    opened, no answers yet  their copy is there, every answer cell as it came
    working on it           their copy has answers ("2 of 3 answers written")
    handed in               a submission in the exchange or collected into the course,
                            "late" when the server saw it after the due date
    marked                  the gradebook has their score (nbgrader's own lateness)

Nothing a learner declares counts: their copy is read without following symlinks (as
progress does), a hand-in's time is when the operating system saw it (`course.submissions`),
scores and lateness are nbgrader's gradebook. The due date lives in the gradebook too
(`Assignment.duedate`, naive UTC), where nbgrader's late-submission logic reads it.

`parse_due` is the one edge check of a due date a teacher types.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .course import AssignmentError, Course, submissions
from .own_work import MAX_NOTEBOOK_BYTES, answer_cells, read_under, released_notebooks, unchanged

LATEST_YEAR = 2099
MAX_OFFSET_MINUTES = 14 * 60  # the widest time-zone offset there is (UTC+14, UTC-12)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_due(text: Any, *, offset_minutes: Any = None, now: dt.datetime) -> dt.datetime | None:
    """The due date a teacher typed, as an aware UTC time; None when left empty.

    Args:
        text: "2030-06-01T17:00" (a date and time), "2030-06-01" (the end of that day), or
            either with an offset ("...+02:00", "...Z").
        offset_minutes: the teacher's browser's `getTimezoneOffset()` for that date (minutes
            to add to local time to get UTC); None or "" takes a time without offset as UTC.
        now: the current time (aware); a due date before it is refused: it would make every
            hand-in late the moment it was set. Extend a date by setting a later one.
    Raises:
        AssignmentError: not a date, an offset out of range, in the past or after 2099.
    """
    value = str(text if text is not None else "").strip()
    if not value:
        return None
    shown = value[:40]
    try:
        due = dt.datetime.fromisoformat(value + ("T23:59" if _DATE_ONLY.match(value) else ""))
    except ValueError:
        raise AssignmentError(
            f"{shown!r} is not a date and time. Write it like 2030-06-01T17:00 (year-month-day, then the time)."
        ) from None
    if due.tzinfo is None:
        offset = 0
        if offset_minutes not in (None, ""):
            try:
                offset = int(str(offset_minutes))
            except ValueError:
                raise AssignmentError(f"{str(offset_minutes)[:10]!r} is not a time-zone offset in minutes.") from None
            if abs(offset) > MAX_OFFSET_MINUTES:
                raise AssignmentError(f"{offset} minutes is not a time-zone offset (at most {MAX_OFFSET_MINUTES}).")
        due = (due + dt.timedelta(minutes=offset)).replace(tzinfo=dt.UTC)
    due = due.astimezone(dt.UTC)
    if due.year > LATEST_YEAR:
        raise AssignmentError(f"{shown!r} is too far away: pick a date before {LATEST_YEAR + 1}.")
    if due <= now:
        raise AssignmentError(
            f"{shown!r} has already passed (it is now {now.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC): "
            "pick a later date, or leave it empty for no due date."
        )
    return due


def set_due(course: Course, aid: str, due: dt.datetime | None) -> None:
    """Record (or clear) the due date of an assigned workbook in the course's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.gradebook_url, course_id=course.group) as gb:
        try:
            gb.find_assignment(aid)
        except MissingEntry:
            raise AssignmentError(f"{aid!r} has not been assigned to {course.group}.") from None
        gb.update_or_create_assignment(aid, duedate=due)


# ------------------------------------------------------------------ the learner's copy


def answers_written(released: Mapping[str, Any], copy: Mapping[str, Any]) -> tuple[int, int]:
    """(answers changed from the blank, answer cells) between a released notebook and a learner's copy."""
    blank = answer_cells(released)
    mine = answer_cells(copy)
    return sum(1 for gid, source in blank.items() if gid in mine and not unchanged(mine[gid], source)), len(blank)


def _notebook(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# ------------------------------------------------------------------ status


@dataclass(frozen=True)
class LearnerStatus:
    student: str
    state: str  # "not-opened", "opened", "working", "handed-in", "marked"
    answers: int = 0
    answer_cells: int = 0
    handed_in: dt.datetime | None = None  # aware UTC
    late: bool = False
    score: float | None = None
    max_score: float | None = None

    @property
    def words(self) -> str:
        """The status as the teacher reads it."""
        late = " (late)" if self.late else ""
        if self.state == "marked":
            return f"Marked{late}: {self.score:g} of {self.max_score:g} points"
        if self.state == "handed-in":
            return f"Handed in{late}"
        if self.state == "working":
            return f"Working on it: {self.answers} of {self.answer_cells} answers written"
        if self.state == "opened":
            return "Opened, no answers yet"
        return "Not opened yet"

    def json(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "state": self.state,
            "words": self.words,
            "answers": self.answers,
            "answer_cells": self.answer_cells,
            "handed_in": self.handed_in.isoformat() if self.handed_in else None,
            "late": self.late,
            "score": self.score,
            "max_score": self.max_score,
        }


@dataclass(frozen=True)
class AssignmentStatus:
    id: str
    due: dt.datetime | None  # aware UTC
    learners: list[LearnerStatus]

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "due": self.due.isoformat() if self.due else None,
            "learners": [s.json() for s in self.learners],
        }


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """nbgrader's naive UTC times, made aware."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _collected_time(course: Course, student: str, aid: str) -> dt.datetime | None:
    """When a collected submission was seen by the server (our own timestamp.txt, written by collect)."""
    try:
        text = (course.root / "submitted" / student / aid / "timestamp.txt").read_text()[:60]
        return dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S.%f %Z").replace(tzinfo=dt.UTC)
    except (OSError, ValueError):
        return None


def _gradebook(course: Course, aid: str) -> tuple[dt.datetime | None, float | None, dict[str, tuple[float, float]]]:
    """(due date, the assignment's points, {student: (score, seconds late)}) from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    marks: dict[str, tuple[float, float]] = {}
    if not (course.root / "gradebook.db").is_file():
        return None, None, marks
    with Gradebook(course.gradebook_url, course_id=course.group) as gb:
        try:
            assignment = gb.find_assignment(aid)
        except MissingEntry:
            return None, None, marks
        due, points = _utc(assignment.duedate), float(assignment.max_score or 0)
        for sub in assignment.submissions:
            marks[sub.student.id] = (float(sub.score), float(sub.total_seconds_late))
    return due, points, marks


def assignment_status(
    course: Course, aid: str, students: Iterable[str], homes: Mapping[str, str], *, check_owner: bool
) -> AssignmentStatus:
    """Each learner's status with the released assignment `aid` (blocking: reads disk as root)."""
    students = sorted(students)
    due, points, marks = _gradebook(course, aid)
    handed = submissions(course, aid, set(students), check_owner=check_owner)
    released = course.exchange / "outbound" / aid
    notebooks = released_notebooks(released)
    blanks = {nb: _notebook(read_under(released, nb.split("/"), MAX_NOTEBOOK_BYTES)) or {} for nb in notebooks}
    learners = []
    for student in students:
        seen = handed[student].seen if student in handed else None
        collected = _collected_time(course, student, aid)
        when = max((t for t in (seen, collected) if t is not None), default=None)
        if student in marks:
            score, late_by = marks[student]
            learners.append(
                LearnerStatus(student, "marked", handed_in=when, late=late_by > 0, score=score, max_score=points)
            )
            continue
        if when is not None:
            learners.append(LearnerStatus(student, "handed-in", handed_in=when, late=due is not None and when > due))
            continue
        home = homes.get(student)
        written = cells = 0
        opened = False
        for nb in notebooks:
            copy = _notebook(
                read_under(home, ["assignments", course.group, aid, *nb.split("/")], MAX_NOTEBOOK_BYTES)
                if home
                else None
            )
            if copy is None:
                continue
            opened = True
            done, total = answers_written(blanks[nb], copy)
            written, cells = written + done, cells + total
        state = "working" if written else "opened" if opened else "not-opened"
        learners.append(LearnerStatus(student, state, answers=written, answer_cells=cells))
    return AssignmentStatus(aid, due, learners)
