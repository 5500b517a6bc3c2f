"""Publishing releases: learners get student versions, never solutions or hidden tests."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from connected_learning.catalog import release
from connected_learning.catalog.load import load_catalog
from connected_learning.learner.provision import provision_home

SOLUTION = "answer = 6 * 7  # THE SECRET SOLUTION"
HIDDEN = "assert answer == 42  # A HIDDEN TEST"


def _catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    folder = root / "sports" / "goal-maths"
    folder.mkdir(parents=True)
    (root / "interests.toml").write_text('[interests.sports]\ntitle = "Sports"\ndescription = "Play."\n')
    nb = new_notebook(
        cells=[
            new_markdown_cell("How many goals?"),
            new_code_cell(
                f"### BEGIN SOLUTION\n{SOLUTION}\n### END SOLUTION",
                metadata={
                    "nbgrader": {
                        "grade": False,
                        "grade_id": "answer",
                        "locked": False,
                        "schema_version": 3,
                        "solution": True,
                        "task": False,
                    }
                },
            ),
            new_code_cell(
                f"assert isinstance(answer, int)\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS",
                metadata={
                    "nbgrader": {
                        "grade": True,
                        "grade_id": "test-answer",
                        "locked": True,
                        "points": 1,
                        "schema_version": 3,
                        "solution": False,
                        "task": False,
                    }
                },
            ),
        ]
    )
    nbformat.write(nb, folder / "goal-maths.ipynb")
    (folder / "plain.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (folder / "workbook.toml").write_text("""
id = "goal-maths"
title = "Goal maths"
version = "1.0"
interests = ["sports"]
subjects = ["maths"]
level = "beginner"
minutes = 30
summary = "Count goals."
notebooks = ["goal-maths.ipynb", "plain.ipynb"]
licence = "CC-BY-4.0"
""")
    return root


def test_the_student_version_has_no_solution_and_no_hidden_test(tmp_path: Path) -> None:
    workbook = load_catalog(_catalog(tmp_path)).workbooks["goal-maths"]
    folder = release.publish(workbook, tmp_path / "releases")
    text = (folder / "goal-maths.ipynb").read_text()
    assert "THE SECRET SOLUTION" not in text and "A HIDDEN TEST" not in text
    # The blank answer raises nothing (nbgrader's own stub raises NotImplementedError and stops Run All).
    assert "NotImplementedError" not in text
    assert nbformat.reads(text, as_version=4).cells[1].source == release.CODE_STUB
    assert "assert isinstance(answer, int)" in text  # the visible test stays
    nbformat.validate(nbformat.reads(text, as_version=4))
    # A notebook without nbgrader metadata is delivered byte for byte.
    assert (folder / "plain.ipynb").read_bytes() == (workbook.folder / "plain.ipynb").read_bytes()


def test_a_release_is_published_once_per_content_and_readable_by_all(tmp_path: Path) -> None:
    root = _catalog(tmp_path)
    workbook = load_catalog(root).workbooks["goal-maths"]
    first = release.publish(workbook, tmp_path / "releases")
    assert release.publish(workbook, tmp_path / "releases") == first
    assert first.name.startswith("1.0+")
    for path in [first, *first.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o004, f"{path} is not readable by learners"
    # Same version, changed content: a new release folder, so nobody keeps the stale copy.
    (workbook.folder / "plain.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {"x": 1}, "nbformat": 4, "nbformat_minor": 5})
    )
    second = release.publish(load_catalog(root).workbooks["goal-maths"], tmp_path / "releases")
    assert second != first and second.name.startswith("1.0+")
    assert not list((tmp_path / "releases" / "goal-maths").glob(".building-*"))


def test_a_learner_provisioned_from_a_release_never_gets_the_solution(tmp_path: Path) -> None:
    workbook = load_catalog(_catalog(tmp_path)).workbooks["goal-maths"]
    folder = release.publish(workbook, tmp_path / "releases")
    home = tmp_path / "home"
    home.mkdir()
    summary = provision_home(home, {"goal-maths": folder})
    assert summary["copied"] == 2
    delivered = (home / "workbooks" / "goal-maths" / "goal-maths.ipynb").read_text()
    assert "THE SECRET SOLUTION" not in delivered
    assert not (home / "workbooks" / "goal-maths" / ".complete").exists()


def test_an_assignable_workbook_needs_autograded_cells(tmp_path: Path) -> None:
    from connected_learning.catalog.load import scan_catalog

    root = _catalog(tmp_path)
    meta = root / "sports" / "goal-maths" / "workbook.toml"
    meta.write_text(meta.read_text() + "assignable = true\n")
    catalog, problems = scan_catalog(root)
    assert problems == [] and catalog.workbooks["goal-maths"].assignable
    # Without the graded test cell it is refused, naming the key.
    nb = nbformat.read(root / "sports" / "goal-maths" / "goal-maths.ipynb", as_version=4)
    nb.cells = nb.cells[:2]
    nbformat.write(nb, root / "sports" / "goal-maths" / "goal-maths.ipynb")
    _, problems = scan_catalog(root)
    assert len(problems) == 1 and f"{meta}: assignable is true, but no notebook" in problems[0]


def test_every_place_that_clears_solutions_uses_the_stub_that_raises_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Releases, the classroom's courses, nbgrader run in a course folder and a teacher's formgrader."""
    from traitlets.config import PyFileConfigLoader

    from connected_learning.assignments.course import Course, prepare
    from connected_learning.learner import nbgrader_learner

    stub = {"python": release.CODE_STUB}
    course = Course(tmp_path / "data", "g")
    assert course.config().ClearSolutions.code_stub == stub
    prepare(course, gid=None)
    in_course = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    assert in_course.ClearSolutions.code_stub == stub
    monkeypatch.setenv("CLHUB_COURSE_ROOT", str(course.root))
    teacher = PyFileConfigLoader("nbgrader_config.py", path=nbgrader_learner.__path__[0]).load_config()
    assert teacher.ClearSolutions.code_stub == stub
    monkeypatch.delenv("CLHUB_COURSE_ROOT")
    learner = PyFileConfigLoader("nbgrader_config.py", path=nbgrader_learner.__path__[0]).load_config()
    assert "ClearSolutions" not in learner  # control: a learner's server generates nothing
    # The stub runs: as a function's body and as a value in brackets.
    scope: dict = {}
    exec(f"def f():\n    {release.CODE_STUB.replace(chr(10), chr(10) + '    ')}\nx = (\n{release.CODE_STUB}\n)", scope)
    assert scope["f"]() is None and scope["x"] is Ellipsis
