"""Fast tests: due dates a teacher types, learners' status words, and assignments that start
from the learner's own answers (carried by nbgrader cell id, never through a symlink).

The same as real learners and a real hub: tests/test_assignment_journey.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from connected_learning.assignments.course import AssignmentError
from connected_learning.assignments.own_work import BANNER_KEY, carry_answers, start_from_own_work
from connected_learning.assignments.status import LearnerStatus, answers_written, parse_due
from connected_learning.catalog.release import student_version
from realhub import REPO

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
SOURCE = REPO / "workbooks" / "cooking" / "recipe-scaler" / "recipe-scaler.ipynb"


# ------------------------------------------------------------------ due dates


def test_a_due_date_is_read_in_the_teachers_own_time() -> None:
    assert parse_due("2030-06-01T17:00", now=NOW) == dt.datetime(2030, 6, 1, 17, 0, tzinfo=dt.UTC)
    # A browser in UTC+2 reports getTimezoneOffset() = -120: 17:00 there is 15:00 UTC.
    assert parse_due("2030-06-01T17:00", offset_minutes="-120", now=NOW) == dt.datetime(2030, 6, 1, 15, tzinfo=dt.UTC)
    assert parse_due("2030-06-01T17:00+02:00", offset_minutes="300", now=NOW).hour == 15  # its own offset wins
    assert parse_due("2030-06-01", now=NOW) == dt.datetime(2030, 6, 1, 23, 59, tzinfo=dt.UTC)  # the end of that day
    assert parse_due("", now=NOW) is None and parse_due(None, now=NOW) is None and parse_due("  ", now=NOW) is None


@pytest.mark.parametrize(
    ("text", "offset", "said"),
    [
        ("next friday", None, "is not a date and time"),
        ("2030-13-01T10:00", None, "is not a date and time"),
        ("2030-06-01T17:00", "abc", "is not a time-zone offset"),
        ("2030-06-01T17:00", "9999", "is not a time-zone offset"),
        ("2026-12-06T11:59", None, "has already passed"),
        ("2020-01-01", None, "has already passed"),
        ("2150-01-01T00:00", None, "too far away"),
        ("<script>alert(1)</script>" * 5, None, "is not a date and time"),
    ],
)
def test_a_bad_due_date_is_refused_in_plain_words(text: str, offset: str | None, said: str) -> None:
    with pytest.raises(AssignmentError) as caught:
        parse_due(text, offset_minutes=offset, now=NOW)
    assert said in caught.value.message
    assert len(caught.value.message) < 250  # the bad value is cut short, not echoed whole


def test_the_status_words() -> None:
    assert LearnerStatus("a", "not-opened").words == "Not opened yet"
    assert LearnerStatus("a", "opened", answer_cells=3).words == "Opened, no answers yet"
    assert LearnerStatus("a", "working", answers=2, answer_cells=3).words == "Working on it: 2 of 3 answers written"
    assert LearnerStatus("a", "handed-in", late=True).words == "Handed in (late)"
    assert LearnerStatus("a", "handed-in").words == "Handed in"
    assert LearnerStatus("a", "marked", score=2.0, max_score=3.0).words == "Marked: 2 of 3 points"
    assert LearnerStatus("a", "marked", score=3.0, max_score=3.0, late=True).words == "Marked (late): 3 of 3 points"


# ------------------------------------------------------------------ the learner's own work


def blank() -> dict:
    """The learner's version of the catalog's assignable notebook (solutions cleared)."""
    data = student_version(SOURCE)
    assert data is not None
    return json.loads(data)


def answer(nb: dict, grade_id: str, source: str) -> None:
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    cell["source"] = source


def source_of(nb: dict, grade_id: str) -> str:
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_changed_answers_are_carried_by_cell_id_and_nothing_else() -> None:
    own = blank()
    answer(own, "scale-factor", "def scale_factor(serves, people):\n    return Fraction(people, serves)")
    answer(own, "test-scale-factor", "assert True  # the learner 'fixed' the check")  # locked: never carried
    own["cells"][0]["source"] = "My own notes"  # instructions stay the teacher's
    assignment = blank()
    assert answers_written(blank(), own) == (1, 3)
    assert carry_answers(assignment, own) == 1
    assert "Fraction(people, serves)" in source_of(assignment, "scale-factor")
    assert source_of(assignment, "test-scale-factor") == source_of(blank(), "test-scale-factor")
    assert source_of(assignment, "scale") == source_of(blank(), "scale")  # untouched there: stays blank
    assert assignment["cells"][0]["source"] == blank()["cells"][0]["source"]
    assert carry_answers(blank(), None) == 0 and carry_answers(blank(), {"cells": "junk"}) == 0


def lay_out(home: Path, own: dict | None) -> Path:
    """A home with the workbook copy `own` and a freshly delivered assignment copy."""
    folder = home / "assignments" / "g" / "recipe-scaler"
    folder.mkdir(parents=True)
    (folder / "recipe-scaler.ipynb").write_text(json.dumps(blank()))
    if own is not None:
        (home / "workbooks" / "recipe-scaler").mkdir(parents=True)
        (home / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb").write_text(json.dumps(own))
    return folder


def test_an_assignment_starts_from_the_workbook_copy_and_says_which_copy_counts(tmp_path: Path) -> None:
    own = blank()
    answer(own, "scale", "def scale(amount, serves, people):\n    return amount * Fraction(people, serves)")
    answer(own, "sugar-for-10", "sugar_for_10 = Fraction(15, 4)\nprint(sugar_for_10)")
    folder = lay_out(tmp_path, own)
    mine = (tmp_path / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb").read_bytes()
    assert start_from_own_work(folder, tmp_path, "recipe-scaler") == {"recipe-scaler.ipynb": 2}
    got = nbformat.read(folder / "recipe-scaler.ipynb", as_version=4)
    nbformat.validate(got)  # still a valid notebook, banner and all
    assert got.cells[0].metadata[BANNER_KEY] and "this is the one you hand in" in got.cells[0].source
    assert "2 answers from `workbooks/recipe-scaler/recipe-scaler.ipynb` were copied in" in got.cells[0].source
    assert "Fraction(15, 4)" in source_of(got, "sugar-for-10")
    assert (tmp_path / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb").read_bytes() == mine  # only read
    # A second pass (nbgrader fetching into the same folder) changes nothing.
    before = (folder / "recipe-scaler.ipynb").read_bytes()
    assert start_from_own_work(folder, tmp_path, "recipe-scaler") == {}
    assert (folder / "recipe-scaler.ipynb").read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["recipe-scaler.ipynb"]  # no temporary file left


def test_without_a_workbook_copy_the_banner_still_says_which_copy_counts(tmp_path: Path) -> None:
    folder = lay_out(tmp_path, None)
    assert start_from_own_work(folder, tmp_path, "recipe-scaler") == {"recipe-scaler.ipynb": 0}
    got = json.loads((folder / "recipe-scaler.ipynb").read_text())
    assert "stays as it is" in got["cells"][0]["source"]
    assert source_of(got, "scale") == source_of(blank(), "scale")


def test_a_symlink_to_somebody_elses_work_is_not_followed(tmp_path: Path) -> None:
    """The workbook copy, or its folder, is a link to another learner's answers: not read."""
    other = tmp_path / "other" / "recipe-scaler.ipynb"
    other.parent.mkdir()
    theirs = blank()
    answer(theirs, "scale", "return 'THEIR ANSWER'")
    other.write_text(json.dumps(theirs))
    for case in ("file", "folder"):
        home = tmp_path / case
        folder = lay_out(home, None)
        if case == "file":
            (home / "workbooks" / "recipe-scaler").mkdir(parents=True)
            os.symlink(other, home / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb")
        else:
            (home / "workbooks").mkdir()
            os.symlink(other.parent, home / "workbooks" / "recipe-scaler")
        # Control: through the link, the other learner's answer is there to be taken.
        assert "THEIR ANSWER" in (home / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb").read_text()
        assert start_from_own_work(folder, home, "recipe-scaler") == {"recipe-scaler.ipynb": 0}, case
        assert "THEIR ANSWER" not in (folder / "recipe-scaler.ipynb").read_text(), case


def test_a_damaged_workbook_copy_leaves_the_blank_assignment(tmp_path: Path) -> None:
    folder = lay_out(tmp_path, None)
    (tmp_path / "workbooks" / "recipe-scaler").mkdir(parents=True)
    (tmp_path / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb").write_text("{not json")
    assert start_from_own_work(folder, tmp_path, "recipe-scaler") == {"recipe-scaler.ipynb": 0}
    (folder / "broken.ipynb").write_text("{not json either")
    (folder / "recipe-scaler.ipynb").write_text(json.dumps(blank()))
    assert start_from_own_work(folder, tmp_path, "recipe-scaler") == {"recipe-scaler.ipynb": 0}
    assert (folder / "broken.ipynb").read_text() == "{not json either"  # left as it came


def test_a_blank_cleared_with_another_stub_is_not_an_answer() -> None:
    """The workbook copy came from a release cleared with nbgrader's old stub, the assignment
    with the catalog's new one: the untouched answer is not carried, nor counted as written."""
    old = "def scale(amount, serves, people):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    new = "def scale(amount, serves, people):\n    # YOUR ANSWER: write it here, in place of the three dots.\n    ..."
    own, assignment = blank(), blank()
    answer(own, "scale", old)
    answer(assignment, "scale", new)
    assert carry_answers(assignment, own) == 0 and source_of(assignment, "scale") == new
    assert answers_written(assignment, own) == (0, 3)
    answer(own, "scale", old.replace("raise NotImplementedError()", "return amount * people / serves"))
    assert carry_answers(assignment, own) == 1 and "return amount * people / serves" in source_of(assignment, "scale")


def test_at_the_start_the_workbook_copy_says_where_its_answers_went(tmp_path: Path) -> None:
    own = blank()
    answer(own, "scale", "def scale(amount, serves, people):\n    return amount * Fraction(people, serves)")
    folder = lay_out(tmp_path, own)
    workbook = tmp_path / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb"
    os.chmod(workbook, 0o600)
    assert start_from_own_work(folder, tmp_path, "recipe-scaler", mark_workbook=True) == {"recipe-scaler.ipynb": 1}
    got = json.loads(workbook.read_text())
    assert got["cells"][0]["metadata"][BANNER_KEY]
    assert "`assignments/g/recipe-scaler/recipe-scaler.ipynb`" in got["cells"][0]["source"]
    assert got["cells"][1:] == own["cells"]  # the learner's own cells, every one, as they were
    assert os.stat(workbook).st_mode & 0o777 == 0o600
    nbformat.validate(nbformat.reads(workbook.read_text(), as_version=4))
    assert sorted(p.name for p in workbook.parent.iterdir()) == ["recipe-scaler.ipynb"]
    # Untouched workbook copies (nothing carried) are left exactly as they are.
    other = tmp_path / "second"
    folder = lay_out(other, blank())
    before = (other / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb").read_bytes()
    assert start_from_own_work(folder, other, "recipe-scaler", mark_workbook=True) == {"recipe-scaler.ipynb": 0}
    assert (other / "workbooks" / "recipe-scaler" / "recipe-scaler.ipynb").read_bytes() == before


# ------------------------------------------------------------------ status from disk


def test_each_learners_status_comes_from_the_disk_and_the_gradebook(tmp_path: Path, monkeypatch: Any) -> None:
    """A course laid out as nbgrader and `course.deliver` leave it: nobody's word counts."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")  # nbgrader's alembic
    from nbgrader.api import Gradebook

    from connected_learning.assignments.course import Course
    from connected_learning.assignments.status import assignment_status, set_due

    course = Course(tmp_path / "data", "g")
    released = course.exchange / "outbound" / "recipe-scaler"
    released.mkdir(parents=True)
    (released / "recipe-scaler.ipynb").write_text(json.dumps(blank()))
    (course.exchange / "inbound").mkdir()
    course.root.mkdir(parents=True)
    with Gradebook(course.gradebook_url, course_id="g") as gb:
        gb.update_or_create_assignment("recipe-scaler")
    homes = {s: str(tmp_path / s) for s in ("ana", "ben", "cai", "dan", "eve")}
    copy = Path("assignments") / "g" / "recipe-scaler" / "recipe-scaler.ipynb"
    for student, answers in (("ben", {}), ("cai", {"scale": "return 1"}), ("dan", {"scale": "x"})):
        nb = blank()
        for gid, source in answers.items():
            answer(nb, gid, source)
        (Path(homes[student]) / copy).parent.mkdir(parents=True)
        (Path(homes[student]) / copy).write_text(json.dumps(nb))
    # eve's copy is a link to cai's answers: not read, so eve has not opened hers.
    (Path(homes["eve"]) / copy).parent.mkdir(parents=True)
    os.symlink(Path(homes["cai"]) / copy, Path(homes["eve"]) / copy)
    assert "return 1" in (Path(homes["eve"]) / copy).read_text()  # control: the link leads to answers
    # dan handed in (nbgrader's submit: user+assignment+time in inbound).
    (course.exchange / "inbound" / "dan+recipe-scaler+2026-12-06 10:00:00.000000 UTC+abc").mkdir()
    set_due(course, "recipe-scaler", dt.datetime(2030, 6, 1, 17, tzinfo=dt.UTC))

    def words() -> dict[str, str]:
        found = assignment_status(course, "recipe-scaler", list(homes), homes, check_owner=False)
        return {s.student: s.words for s in found.learners}

    assert words() == {
        "ana": "Not opened yet",
        "ben": "Opened, no answers yet",
        "cai": "Working on it: 1 of 3 answers written",
        "dan": "Handed in",
        "eve": "Not opened yet",
    }
    set_due(course, "recipe-scaler", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))  # as nbgrader would keep it
    assert words()["dan"] == "Handed in (late)"
    set_due(course, "recipe-scaler", None)
    status = assignment_status(course, "recipe-scaler", ["dan"], homes, check_owner=False)
    assert status.due is None and status.learners[0].words == "Handed in"
    with pytest.raises(AssignmentError):
        set_due(course, "not-assigned", None)
