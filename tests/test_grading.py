"""Autograding in parallel: nbgrader's scores, one error per broken submission, a sound gradebook.

The planner and the lock are tested directly. The integration tests build a real nbgrader
course (a two-question quiz, released with nbgrader's generate_assignment) and grade it with
real kernels: in parallel with `autograde_all`, and one student after the other with
nbgrader's own `NbGraderAPI.autograde` on a copy, and compare the two gradebooks cell by cell.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from connected_learning.assignments.gradebook_lock import LOCK_FILE, GradebookLock
from connected_learning.assignments.grading import autograde_all, plan_grading, validate_assignment
from connected_learning.assignments.grading_errors import GradeError, GradingError
from connected_learning.assignments.grading_worker import GRADER_USER
from realhub import listener

QUIZ = "quiz"
GOOD = {  # student: (answer cell, double cell, the score they deserve)
    "ana": ("answer = 42", "def double(x):\n    return 2 * x", 3.0),
    "ben": ("answer = 41", "def double(x):\n    return 2 * x", 1.0),
    "cai": ("answer = 1 / 0", "def double(x):\n    return 2 * x", 1.0),
    "dee": (None, None, 0.0),  # the release as it is: both answers raise NotImplementedError
}
CELL_TIMEOUT = 3  # seconds; "fay" loops for ever in her first answer
PY = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def _meta(grade_id: str, *, grade: bool, points: int = 0) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": grade,
        "schema_version": 3,
        "solution": not grade,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _source_notebook() -> nbformat.NotebookNode:
    return new_notebook(
        metadata=PY,
        cells=[
            new_markdown_cell("Two questions."),
            new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", metadata=_meta("answer", grade=False)),
            new_code_cell("assert answer == 42", metadata=_meta("test-answer", grade=True, points=2)),
            new_code_cell(
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                metadata=_meta("double", grade=False),
            ),
            new_code_cell(
                "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(5) == 10\n### END HIDDEN TESTS",
                metadata=_meta("test-double", grade=True, points=1),
            ),
        ],
    )


def _submit(course: Path, student: str, answer: str | None, double: str | None) -> None:
    folder = course / "submitted" / student / QUIZ
    folder.mkdir(parents=True)
    nb = nbformat.read(course / "release" / QUIZ / f"{QUIZ}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "answer" and answer is not None:
            cell.source = answer
        if grade_id == "double" and double is not None:
            cell.source = double
    nbformat.write(nb, folder / f"{QUIZ}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-30 09:00:00.000000 UTC")


def _course(root: Path) -> Path:
    """A released quiz with the GOOD submissions."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    (root / "source" / QUIZ).mkdir(parents=True)
    nbformat.write(_source_notebook(), root / "source" / QUIZ / f"{QUIZ}.ipynb")
    result = NbGraderAPI(coursedir=CourseDirectory(root=str(root))).generate_assignment(QUIZ)
    assert result["success"], result.get("log", "") + result.get("error", "")
    for student, (answer, double, _) in GOOD.items():
        _submit(root, student, answer, double)
    return root


def _grades(course: Path) -> list[tuple]:
    """Every grade row of the gradebook: (student, notebook, cell, auto score, needs manual grading)."""
    with sqlite3.connect(course / "gradebook.db") as db:
        return db.execute("""
            SELECT sa.student_id, n.name, c.name, g.auto_score, g.needs_manual_grade
            FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id
            JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            JOIN notebook n ON sn.notebook_id = n.id JOIN base_cell c ON g.cell_id = c.id
            ORDER BY 1, 2, 3""").fetchall()


def _processes_in(folder: Path) -> list[int]:
    """The live processes working in `folder`, or fenced kernels of this module (their command
    line names their kernel folder in this module's TMPDIR)."""
    found = []
    fences = os.environ.get("TMPDIR", "/nonexistent")
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry.name}/cwd")
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmdline = f.read().decode(errors="replace")
            except OSError:  # gone, or a zombie
                continue
            if cwd.startswith(f"{folder}{os.sep}") or fences in cmdline:
                found.append(int(entry.name))
    return found


def _scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: float(s.score) for s in gb.assignment_submissions(QUIZ)}


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Jupyter folders under a temp path; nbgrader finds `alembic` (it runs it for a new gradebook)."""
    tmp = tmp_path_factory.mktemp("grading-env")
    # Fenced kernels keep their folder in TMPDIR: one for this module, which the grader's
    # user can enter (pytest's own is private to root), so leftovers are this module's own.
    fences = tempfile.mkdtemp(prefix="clhub-grading-test-")
    os.chmod(fences, 0o711)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", fences)
        mp.setenv("JUPYTER_CONFIG_DIR", str(tmp / "config"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(tmp / "runtime"))
        mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        yield tmp
    shutil.rmtree(fences, ignore_errors=True)


@pytest.fixture(scope="module")
def template(environment: Path) -> Path:
    return _course(environment / "template")


@pytest.fixture(scope="module")
def graded(template: Path, environment: Path) -> tuple[Path, Path, dict[str, float | GradeError]]:
    """The quiz with a broken, a looping and a badly named submission more, graded both ways.

    Returns the course graded with autograde_all, the copy graded one by one with nbgrader's
    NbGraderAPI, and autograde_all's results.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    course = environment / "parallel"
    shutil.copytree(template, course)
    _submit(course, "fay", "while True:\n    pass", GOOD["ana"][1])
    (course / "submitted" / "eve" / QUIZ).mkdir(parents=True)
    (course / "submitted" / "eve" / QUIZ / f"{QUIZ}.ipynb").write_text("{this is not a notebook")
    shutil.copytree(course / "submitted" / "ana", course / "submitted" / "Ana Lee")
    sequential = environment / "sequential"
    shutil.copytree(course, sequential)
    shutil.rmtree(sequential / "submitted" / "Ana Lee")

    results = autograde_all(course, QUIZ, workers=2, timeout=CELL_TIMEOUT)

    config = Config()
    config.Execute.timeout = CELL_TIMEOUT
    api = NbGraderAPI(coursedir=CourseDirectory(root=str(sequential)), config=config)
    for student in sorted(p.name for p in (sequential / "submitted").iterdir()):
        api.autograde(QUIZ, student)
    return course, sequential, results


# The planner and the lock: no nbgrader, no kernel.


@pytest.mark.parametrize("name", ["../ana", "ana/../../etc", "Ana", "ana ", "", ".ana", "ana\n", "a" * 32])
def test_a_bad_student_name_is_refused_before_anything_is_graded(tmp_path: Path, name: str) -> None:
    (tmp_path / "gradebook.db").touch()
    (tmp_path / "submitted" / "ana" / QUIZ).mkdir(parents=True)
    with pytest.raises(GradingError, match="valid user name") as refused:
        autograde_all(tmp_path, QUIZ, ["ana", name])
    assert refused.value.code == "bad-name"
    assert not (tmp_path / "autograded").exists() and not (tmp_path / LOCK_FILE).exists()


@pytest.mark.parametrize("name", ["../quiz", "quiz/x", "Quiz", "*", ""])
def test_a_bad_assignment_name_is_refused(name: str) -> None:
    with pytest.raises(GradingError, match="not a valid assignment name"):
        validate_assignment(name)


def test_the_plan_grades_valid_folders_and_refuses_the_others(tmp_path: Path) -> None:
    submitted = tmp_path / "submitted"
    for name in ("ana", "ben", "Ben B", ".hidden", "cai"):
        (submitted / name / QUIZ).mkdir(parents=True)
    (submitted / "dee" / "other-assignment").mkdir(parents=True)  # no quiz: not hers to grade
    (tmp_path / "elsewhere" / QUIZ).mkdir(parents=True)
    (submitted / "eve").symlink_to(tmp_path / "elsewhere")
    (submitted / "not-a-folder").write_text("x")

    plan = plan_grading(tmp_path, QUIZ)

    assert plan.students == ["ana", "ben", "cai"]
    assert {name: e.code for name, e in plan.refused.items()} == {"Ben B": "bad-name", ".hidden": "bad-name"}
    assert "Rename it" in plan.refused["Ben B"].message


def test_named_students_without_a_submission_get_an_error_each(tmp_path: Path) -> None:
    (tmp_path / "submitted" / "ana" / QUIZ).mkdir(parents=True)
    (tmp_path / "elsewhere" / QUIZ).mkdir(parents=True)
    (tmp_path / "submitted" / "eve").symlink_to(tmp_path / "elsewhere")

    plan = plan_grading(tmp_path, QUIZ, ["ana", "ben", "eve", "ana"])

    assert plan.students == ["ana"]
    assert {name: e.code for name, e in plan.refused.items()} == {"ben": "no-submission", "eve": "no-submission"}
    assert "collect it first" in plan.refused["ben"].message


def test_without_a_gradebook_nothing_starts(tmp_path: Path) -> None:
    (tmp_path / "submitted" / "ana" / QUIZ).mkdir(parents=True)
    with pytest.raises(GradingError, match="generate_assignment quiz") as refused:
        autograde_all(tmp_path, QUIZ)
    assert refused.value.code == "no-gradebook"


def test_the_gradebook_lock_excludes_other_holders_and_is_reentrant(tmp_path: Path) -> None:
    first, second = GradebookLock(tmp_path), GradebookLock(tmp_path)
    with first():
        with first():  # the same process, one stage inside another
            assert not second.acquire(timeout=0.2)
        assert not second.acquire(timeout=0.2)
    assert second.acquire(timeout=0.2)
    second.release()
    assert first.held >= 0.4  # both refusals waited their 0.2 s while it was held


# Real nbgrader, real kernels.


@pytest.mark.integration
def test_parallel_scores_are_nbgraders_sequential_scores(graded: tuple) -> None:
    course, sequential, results = graded
    assert {s: results[s] for s in GOOD} == {s: deserved for s, (_, _, deserved) in GOOD.items()}
    assert _scores(course) == _scores(sequential)
    # Not only the totals: every cell's score and flag, for the broken submissions too.
    assert _grades(course) == _grades(sequential)


@pytest.mark.integration
def test_a_broken_submission_gets_its_own_error_and_the_others_are_graded(graded: tuple) -> None:
    course, _, results = graded
    assert sorted(results) == ["Ana Lee", "ana", "ben", "cai", "dee", "eve", "fay"]
    unreadable = results["eve"]
    assert isinstance(unreadable, GradeError) and unreadable.code == "unreadable"
    assert "eve's notebook cannot be read" in unreadable.message and "submit again" in unreadable.message
    assert "NotJSONError" in unreadable.log  # nbgrader's traceback, for the log
    stopped = results["fay"]
    assert isinstance(stopped, GradeError) and stopped.code == "cell-timeout"
    assert stopped.score == 1.0 and "cell 'answer' of quiz.ipynb" in stopped.message
    assert isinstance(results["Ana Lee"], GradeError) and results["Ana Lee"].code == "bad-name"
    for student in GOOD:
        assert (course / "autograded" / student / QUIZ / f"{QUIZ}.ipynb").is_file()
    assert not (course / "autograded" / "eve" / QUIZ).exists()  # as nbgrader leaves a failure
    assert _processes_in(course) == []  # every kernel shut down


@pytest.mark.integration
def test_the_gradebook_holds_every_score_exactly_once(graded: tuple) -> None:
    course, _, results = graded
    with sqlite3.connect(course / "gradebook.db") as db:
        submissions = db.execute("SELECT student_id, count(*) FROM submitted_assignment GROUP BY 1").fetchall()
        students = {row[0] for row in db.execute("SELECT id FROM student")}
    assert dict(submissions) == {s: 1 for s in (*GOOD, "eve", "fay")}
    assert "Ana Lee" not in students
    grades = _grades(course)
    keys = [(student, notebook, cell) for student, notebook, cell, _, _ in grades]
    assert len(keys) == len(set(keys))
    graded_ok = [s for s, outcome in results.items() if isinstance(outcome, float) or s == "fay"]
    assert {k for k in keys if k[0] in graded_ok} == {
        (s, QUIZ, c) for s in graded_ok for c in ("test-answer", "test-double")
    }
    assert _scores(course) == {**{s: d for s, (_, _, d) in GOOD.items()}, "eve": 0.0, "fay": 1.0}
    assert GradebookLock(course).acquire(timeout=0)  # nobody holds it any more


@pytest.mark.integration
def test_a_submission_over_its_time_is_stopped_and_the_others_are_graded(template: Path, environment: Path) -> None:
    course = environment / "deaf"
    shutil.copytree(template, course)
    # A loop that ignores nbgrader's interrupt: only the whole-submission limit stops it.
    _submit(
        course,
        "gus",
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)",
        None,
    )

    results = autograde_all(course, QUIZ, ["gus", "ana", "ben"], workers=2, timeout=120, submission_timeout=15)

    assert results["ana"] == 3.0 and results["ben"] == 1.0
    stopped = results["gus"]
    assert isinstance(stopped, GradeError) and stopped.code == "timeout"
    assert "longer than 15 s" in stopped.message
    assert not (course / "autograded" / "gus" / QUIZ).exists()
    assert GradebookLock(course).acquire(timeout=0)
    assert _processes_in(course) == []  # gus's kernel was killed with its worker


# The fence: a submission's code is an attacker's.

ATTACK = """answer = 42
import json, os, socket
record = {{"uid": os.getuid(), "pids": sorted(p for p in os.listdir("/proc") if p.isdigit())}}
def attempt(name, action):
    try:
        record[name] = "succeeded: " + repr(action())[:80]
    except Exception as e:
        record[name] = "failed: " + type(e).__name__
attempt("home", lambda: os.listdir({home!r}))
attempt("diary", lambda: open({diary!r}).read())
attempt("secret", lambda: open({secret!r}).read())
attempt("public", lambda: open({public!r}).read())
attempt("gradebook", lambda: open({gradebook!r}, "ab").write(b"100"))
attempt("submitted", lambda: open({submitted!r}, "a").write("x"))
attempt("hub", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close())
attempt("other", lambda: socket.create_connection(("127.0.0.2", {other_port}), timeout=3).close())
attempt("mine", lambda: open("mine.txt", "w").write("mine"))
print("ATTACK " + json.dumps(record))
"""


def _attack_record(notebook: Path) -> dict:
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout" and output["text"].startswith("ATTACK "):
                return json.loads(output["text"].split(" ", 1)[1])
    raise AssertionError(f"the attack's record is not in {notebook}: its code did not run")


@pytest.mark.integration
def test_a_submission_runs_fenced_and_still_gets_its_score(template: Path, environment: Path) -> None:
    """An answer cell that attacks the grader: uid, another home, the hub's secrets, the
    gradebook, the original submission, the hub's port. None of it works; the score is right."""
    course = environment / "fenced"
    shutil.copytree(template, course)
    home = environment / "home-zoe"
    home.mkdir(mode=0o700)
    (home / "diary.txt").write_text("zoe's diary")
    hub_dir = environment / "hub"
    hub_dir.mkdir(mode=0o700)
    (hub_dir / "jupyterhub_cookie_secret").write_text("s3cret")
    public = Path(os.environ["TMPDIR"]) / "public.txt"  # readable by anybody, outside the fence
    public.write_text("public")
    public.chmod(0o644)
    # The "hub" and another address of this machine: listeners that accept from outside the fence.
    hub_port, other = listener("127.0.0.1"), listener("127.0.0.2")
    attack = ATTACK.format(
        home=str(home),
        diary=str(home / "diary.txt"),
        secret=str(hub_dir / "jupyterhub_cookie_secret"),
        public=str(public),
        gradebook=str(course / "gradebook.db"),
        submitted=str(course / "submitted" / "mal" / QUIZ / f"{QUIZ}.ipynb"),
        port=hub_port.getsockname()[1],
        other_port=other.getsockname()[1],
    )
    _submit(course, "mal", attack, GOOD["ana"][1])
    before = (course / "submitted" / "mal" / QUIZ / f"{QUIZ}.ipynb").read_bytes()

    results = autograde_all(course, QUIZ, ["mal", "ben"], workers=2, timeout=CELL_TIMEOUT * 3)

    record = _attack_record(course / "autograded" / "mal" / QUIZ / f"{QUIZ}.ipynb")
    assert record["mine"].startswith("succeeded"), record  # control: it ran, and wrote where it may
    for target in ("home", "diary", "secret", "public", "gradebook", "submitted", "hub", "other"):
        assert record[target].startswith("failed"), (target, record)
    for aimed_at in (hub_port, other):
        with pytest.raises(BlockingIOError):  # nothing arrived
            aimed_at.accept()
        aimed_at.close()
    assert str(os.getpid()) not in record["pids"] and len(record["pids"]) <= 3, record["pids"]
    if os.geteuid() == 0:
        import pwd

        assert record["uid"] == pwd.getpwnam(GRADER_USER).pw_uid != 0
    assert (course / "submitted" / "mal" / QUIZ / f"{QUIZ}.ipynb").read_bytes() == before
    assert not (course / "autograded" / "mal" / QUIZ / "mine.txt").exists()  # the copy is gone
    assert results == {"mal": 3.0, "ben": 1.0}
    assert _scores(course) == {"mal": 3.0, "ben": 1.0}
    assert _processes_in(course) == []


# Puzzle checks (widgets.puzzles): Run All goes on for a learner, grading still gives 0 to a blank.

BEAT_LAB = Path(__file__).resolve().parents[1] / "workbooks" / "music" / "beat-lab" / "beat-lab.ipynb"
PUZZLES = "beat-puzzles"
SOLUTION_LINES = ("### BEGIN SOLUTION", "### END SOLUTION")
# The first answer cell of "sly": every check says nothing at all, solved or not.
SILENCE = "import connected_learning.widgets.puzzles as p\np.puzzle.__exit__ = lambda *args: True\n"
# An answer cell of "fox": a result that says "solved", sent from the answer cell.
FORGE = (
    "from IPython.display import display\n"
    "display({'text/plain': 'FORGED', 'application/vnd.clhub.puzzle+json': {'puzzle': 'bonus', 'solved': True}}, "
    "raw=True)\n"
)


def _puzzle_course(root: Path) -> dict[str, str]:
    """A course of Beat Lab's own puzzle cells and one check without hidden tests, released with
    the hub's stub; returns the answer cells' solutions by grade id."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from connected_learning.catalog.release import CODE_STUB

    beat = nbformat.read(BEAT_LAB, as_version=4)
    cells = [new_code_cell("import math\nfrom connected_learning.widgets.puzzles import puzzle")]
    cells += [cell for cell in beat.cells if "nbgrader" in cell.metadata]
    # Without hidden tests, only the grader's reading of the check's result can give a blank 0.
    cells += [
        new_code_cell(
            "bonus = (\n    ### BEGIN SOLUTION\n    7\n    ### END SOLUTION\n)", metadata=_meta("bonus", grade=False)
        ),
        new_code_cell(
            "with puzzle('bonus'):\n    assert bonus == 7, 'Seven.'", metadata=_meta("test-bonus", grade=True, points=1)
        ),
    ]
    (root / "source" / PUZZLES).mkdir(parents=True)
    nbformat.write(new_notebook(cells=cells, metadata=PY), root / "source" / PUZZLES / f"{PUZZLES}.ipynb")
    config = Config()
    config.CourseDirectory.root = str(root)
    config.ClearSolutions.code_stub = {"python": CODE_STUB}
    result = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config).generate_assignment(PUZZLES)
    assert result["success"], result.get("log", "") + result.get("error", "")
    return {
        cell.metadata["nbgrader"]["grade_id"]: "\n".join(
            line for line in cell.source.split("\n") if line.strip() not in SOLUTION_LINES
        )
        for cell in cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def _submit_answers(course: Path, student: str, answers: dict[str, str]) -> None:
    """`student` hands in the released notebook with `answers` (grade id: source) written in."""
    folder = course / "submitted" / student / PUZZLES
    folder.mkdir(parents=True)
    nb = nbformat.read(course / "release" / PUZZLES / f"{PUZZLES}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    nbformat.write(nb, folder / f"{PUZZLES}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-30 09:00:00.000000 UTC")


def _check_cell(course: Path, student: str, grade_id: str) -> nbformat.NotebookNode:
    nb = nbformat.read(course / "autograded" / student / PUZZLES / f"{PUZZLES}.ipynb", as_version=4)
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.mark.integration
def test_puzzle_checks_give_full_marks_to_right_answers_and_0_to_blank_ones(environment: Path) -> None:
    """Beat Lab's puzzle checks, graded by the real workers: the released copy runs to its end
    for a learner, yet a blank or silenced check earns nothing, whatever the notebook does."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from connected_learning.assignments.grading_worker import PUZZLE_NOT_SOLVED
    from connected_learning.widgets.puzzles import results

    course = environment / "puzzles"
    solutions = _puzzle_course(course)
    assert sorted(solutions) == ["bonus", "loop-seconds", "seconds-per-step", "three-quarter-step"]
    blank = "seconds-per-step"
    _submit_answers(course, "ana", solutions)
    _submit_answers(course, "dee", {})  # the release as it is
    _submit_answers(course, "ben", {"bonus": "bonus = 7"})
    _submit_answers(course, "sly", {blank: SILENCE + "def seconds_per_step(tempo):\n    ..."})
    _submit_answers(course, "fox", {"bonus": FORGE + "bonus = 6"})
    # nbgrader alone, on a copy: a blank answer's check without hidden tests raises nothing.
    stock = environment / "puzzles-stock"
    shutil.copytree(course, stock)
    assert NbGraderAPI(coursedir=CourseDirectory(root=str(stock))).autograde(PUZZLES, "dee")["success"]

    results_by_student = autograde_all(course, PUZZLES, workers=2, timeout=CELL_TIMEOUT * 5)

    assert results_by_student == {"ana": 4.0, "dee": 0.0, "ben": 1.0, "sly": 0.0, "fox": 0.0}
    # The blank release ran to its end: each check said "not solved yet", none raised on its own.
    dee = _check_cell(course, "dee", "test-bonus")
    assert results(dee) == [
        {"puzzle": "bonus", "solved": False, "error": "line 2: assert bonus == 7, 'Seven.' (AssertionError: Seven.)"}
    ]
    assert "Puzzle bonus is not solved yet" in dee.outputs[0]["data"]["text/plain"]
    assert [o.get("ename") for o in dee.outputs if o.output_type == "error"] == [PUZZLE_NOT_SOLVED]
    # Stock nbgrader would have given that check its point: the grader's reading is what gives 0.
    assert not any(o.output_type == "error" for o in _check_cell(stock, "dee", "test-bonus").outputs)
    # sly's patch ran (its checks said nothing, not even "not solved"), and still earned nothing.
    sly = _check_cell(course, "sly", "test-bonus")
    assert results(sly) == [] and [o.get("ename") for o in sly.outputs if o.output_type == "error"] == [
        PUZZLE_NOT_SOLVED
    ]
    # fox's forged result is in the answer cell, where no points are given.
    forged = _check_cell(course, "fox", "bonus")
    assert results(forged) == [{"puzzle": "bonus", "solved": True}]
    assert results(_check_cell(course, "fox", "test-bonus"))[0]["solved"] is False
    assert _processes_in(course) == []
