"""A grading process: nbgrader's own `Autograde`, fenced and with its gradebook writes locked.

`grading_pool` starts each worker as `python -c WORKER_COMMAND ...`; `worker_main` opens the
course's gradebook and then grades the students the pool sends, one at a time, with
nbgrader's `Autograde` converter (the code `nbgrader autograde --force` and the formgrader
run, so the scores are nbgrader's), and sends back each score or the fields of a
`GradeError`. nbgrader is imported here only, and only inside functions: importing it takes
seconds. The course's `nbgrader_config.py` is read, as `nbgrader autograde` reads it there,
but the folder names must be nbgrader's defaults.

Speed. A worker imports nbgrader without an IRI grammar it never uses (see `worker_main`)
and kills each kernel once its notebook has run instead of waiting for it to shut down;
together these make a submission cost less CPU than in `nbgrader autograde`, which matters
most when others load the machine.

The fence. A submission's code is the learner's, so its kernel never runs with the
grader's power: nbgrader's `Execute` starts it through `sandbox.FencedKernel`, inside
bubblewrap (private /proc, no network, the machine's system folders and the Python
environment read-only, nothing of the course, the homes or the hub), as the unprivileged
system user `clhub-grader` when grading runs as root, with limits on memory, processes,
CPU seconds and file size. It works on a copy of the submission's autograded folder, so
nothing it writes reaches a file nbgrader (as root) reads or writes afterwards; the scores
are computed outside the fence, by nbgrader, from the outputs the kernel sent.

Puzzles. A check cell written with `widgets.puzzles.puzzle` raises nothing when its puzzle
is not solved (Run All must reach the end for a learner); `fail_unsolved_puzzles` gives it
the error output nbgrader scores as 0, after the kernel has run, from the results it sent.

Limits. A cell that runs past the `timeout` is interrupted by nbgrader, which counts it as
failed and goes on: that student gets a GradeError "cell-timeout" carrying nbgrader's score.
Every stage of nbgrader that may write to the gradebook runs under `GradebookLock`; the
kernel running the notebook runs outside it.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .gradebook_lock import GradebookLock
from .grading_errors import GradingError

log = logging.getLogger("clhub.grading")

NBGRADER_CONFIG = "nbgrader_config.py"
# nbgrader's Execute.error_on_timeout names the error it puts in a cell it had to stop.
CELL_TIMEOUT_ENAME = "CellTimeoutError"
# The error a check cell gets when its puzzle is not solved (see `fail_unsolved_puzzles`).
PUZZLE_NOT_SOLVED = "PuzzleNotSolved"
# The system user a submission's kernel runs as when grading runs as root: owns nothing.
GRADER_USER = "clhub-grader"
# Where the submission's copy appears inside the fence.
FENCE_FOLDER = "/submission"
# A submission's kernel: address space, and processes (threads included) in its fence.
KERNEL_MEMORY_MB = 1536
KERNEL_PROCESSES = 128


def worker_main() -> None:
    """A worker's entry point: `python -c WORKER_COMMAND <socket fd> <course> <assignment> <timeout>
    <submission timeout>` (`grading_pool.WORKER_COMMAND`)."""
    fd, course, assignment, timeout, submission_timeout = sys.argv[1:6]
    # jsonschema builds an IRI grammar when it finds rfc3987_syntax: 2.2 of the 4.4 CPU
    # seconds importing nbgrader takes here. Only its FormatChecker uses it, which
    # nbformat's validation never does, so a worker goes without.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    _worker_main(Connection(int(fd)), course, assignment, int(timeout) if timeout else None, float(submission_timeout))


def _worker_main(
    conn: Connection,
    course: str,
    assignment: str,
    timeout: int | None,
    submission_timeout: float,
) -> None:
    """Grade the students the parent sends over `conn`, one at a time, until told to stop."""
    try:
        grader = _Grader(Path(course), assignment, timeout, submission_timeout)
        grader.check()
    except GradingError as e:
        conn.send(("fatal", e.message, e.code))
        return
    except Exception as e:  # the parent turns this into a GradingError for the teacher
        log.exception("A grading process could not start")
        conn.send(("fatal", f"Grading could not start: {type(e).__name__}: {e}", "cannot-grade"))
        return
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the parent is gone
            return
        if request[0] != "grade":
            return
        student = request[1]
        held, waited = grader.lock.held, grader.lock.waited
        try:
            outcome = grader.grade(student)
        except Exception as e:  # ours, not nbgrader's: this student fails, the worker goes on
            outcome = {
                "code": "failed",
                "log": traceback.format_exc(),
                "message": (
                    f"{student}'s submission could not be graded ({type(e).__name__}: {e}). The hub's log has "
                    f"the details; grade {student} again."
                ),
            }
        conn.send(("done", student, outcome, grader.lock.held - held, grader.lock.waited - waited))


class _Grader:
    """nbgrader's Autograde for one course and assignment, with its gradebook writes locked."""

    def __init__(self, course: Path, assignment: str, timeout: int | None, submission_timeout: float) -> None:
        from traitlets.config import Config, PyFileConfigLoader

        from ..sandbox import fenced_kernel_manager

        self.course, self.assignment = course, assignment
        self.lock = GradebookLock(course)
        self.config = Config()
        # Once its last cell has run, a kernel has given nbgrader all it grades; killing it
        # rather than asking it to shut down saves 0.2 CPU s a submission (16 % in all).
        self.config.Execute.shutdown_kernel = "immediate"
        if (course / NBGRADER_CONFIG).is_file():
            self.config.merge(PyFileConfigLoader(NBGRADER_CONFIG, path=str(course)).load_config())
        self.config.CourseDirectory.root = str(course)
        # Set after the course's config: a course cannot take the fence away.
        self.config.Execute.kernel_manager_class = fenced_kernel_manager()
        self.config.FencedKernel.fence_user = GRADER_USER
        self.config.FencedKernel.copy_work = True
        self.config.FencedKernel.inside = FENCE_FOLDER
        self.config.FencedKernel.memory_mb = KERNEL_MEMORY_MB
        self.config.FencedKernel.processes = KERNEL_PROCESSES
        self.config.FencedKernel.cpu_seconds = max(int(min(submission_timeout, 1e6)), 1)
        if timeout is not None:
            self.config.Execute.timeout = timeout
        self.timed_out: list[str] = []  # the cells nbgrader stopped in the current submission
        self.autograde_class = _locked_autograde(self.lock, self.timed_out)
        self.log = logging.getLogger("clhub.grading.nbgrader")
        self.log.setLevel(logging.INFO)
        self.log.propagate = False  # each submission's log goes back to the parent
        # nbgrader's warnings (SQLAlchemy's among them) belong in that log, not on stderr.
        warnings.showwarning = lambda message, category, *_: self.log.warning("%s: %s", category.__name__, message)
        self.gradebook: Any = None

    def coursedir(self, student: str = "*") -> Any:
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config, assignment_id=self.assignment, student_id=student)

    def check(self) -> None:
        """Open the gradebook (creating any missing course row) and find the assignment in it."""
        from nbgrader.api import Gradebook, MissingEntry

        coursedir = self.coursedir()
        with self.lock():
            with Gradebook(coursedir.db_url):  # the course row SaveAutoGrades's connection wants
                pass
            # Kept open to read each score: one engine, not one per student.
            self.gradebook = Gradebook(coursedir.db_url, coursedir.course_id)
            try:
                self.gradebook.find_assignment(self.assignment)
            except MissingEntry:
                raise GradingError(
                    f"The gradebook of {self.course} has no assignment {self.assignment!r}: generate it "
                    f"first (nbgrader generate_assignment {self.assignment}).",
                    code="no-assignment",
                ) from None
            finally:
                self.gradebook.db.remove()

    def grade(self, student: str) -> float | dict[str, Any]:
        """Autograde `student` as `nbgrader autograde --force` does: the score, or a GradeError's fields."""
        from nbgrader.utils import capture_log

        self.timed_out.clear()
        app = self.autograde_class(coursedir=self.coursedir(student), config=self.config, log=self.log)
        app.force = True
        app.create_student = True
        result = capture_log(app)
        nbgrader_log = result.get("log", "")
        if not result["success"]:
            return _failure(student, app.failure, nbgrader_log)
        try:
            submission = self.gradebook.find_submission(self.assignment, student)
            score, max_score = float(submission.score), float(submission.max_score)
        finally:
            self.gradebook.db.remove()  # a fresh session next time: nothing read stays cached
        if self.timed_out:
            return {
                "code": "cell-timeout",
                "score": score,
                "log": nbgrader_log,
                "message": (
                    f"nbgrader stopped {', '.join(self.timed_out)} in {student}'s submission for running too "
                    f"long and counted {'it' if len(self.timed_out) == 1 else 'them'} as failed: {score:g} of "
                    f"{max_score:g}. Look for an endless loop; to allow more time, grade again with a longer "
                    "timeout."
                ),
            }
        return score


def _failure(student: str, error: BaseException | None, nbgrader_log: str) -> dict[str, Any]:
    """The fields of the GradeError for a submission nbgrader could not grade."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbgrader.preprocessors.execute import UnresponsiveKernelError

    what = f"{type(error).__name__}: {error}".splitlines()[0][:300] if error else "see the log"
    if isinstance(
        error, (nbformat.reader.NotJSONError, nbformat.ValidationError, json.JSONDecodeError, UnicodeDecodeError)
    ):
        code, message = (
            "unreadable",
            (
                f"{student}'s notebook cannot be read ({what}): it may be damaged. Ask {student} to open it, "
                "repair it or start from a fresh copy, and submit again."
            ),
        )
    elif isinstance(error, (UnresponsiveKernelError, DeadKernelError, CellTimeoutError)):
        code, message = (
            "kernel",
            (
                f"The kernel running {student}'s notebook died or did not stop when nbgrader interrupted a cell "
                f"that ran too long ({what}). Look for an endless loop or code that uses up memory in {student}'s "
                f"submission, then grade {student} again."
            ),
        )
    else:
        code, message = (
            "failed",
            (
                f"nbgrader could not autograde {student}'s submission ({what}). The hub's log has nbgrader's "
                f"report; fix the cause, then grade {student} again."
            ),
        )
    return {"code": code, "message": message, "log": nbgrader_log}


def fail_unsolved_puzzles(nb: Any) -> None:
    """Give every check cell whose puzzle is not solved an error output, so nbgrader scores it 0.

    A check written with `widgets.puzzles.puzzle` tells a learner "not solved yet" and
    raises nothing, so that Run All goes on. Whether it earns its points is decided here,
    outside the learner's kernel, from the results the check sent: nothing the notebook
    sets (a variable, an environment variable) changes it, and a check cell that sent no
    result, or fewer than it has checks, earns nothing either.
    """
    import nbformat

    from ..widgets.puzzles import unsolved

    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        reason = unsolved(cell)
        if reason:
            cell.outputs.append(
                nbformat.v4.new_output("error", ename=PUZZLE_NOT_SOLVED, evalue=reason, traceback=[reason])
            )


def _locked_autograde(lock: GradebookLock, timed_out: list[str]) -> type:
    """nbgrader's Autograde with every stage that may write to the gradebook under `lock`.

    The preprocessors known not to write to it run outside the lock: the notebook's
    execution above all, and two that only read it (once `_Grader.check` has added the
    course row), which SQLite's own locking lets read beside one writer. The cells
    nbgrader stops for running too long are added to `timed_out`, and the failure nbgrader
    catches and logs is kept in `failure`, so that the teacher is told which kind it was.
    """
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        Execute,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
    )

    unlocked = (
        ClearOutput,
        DeduplicateIds,
        CheckCellMetadata,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
    )
    made: dict[type[Any], type[Any]] = {}

    def locked(preprocessor: type[Any]) -> type[Any]:
        if issubclass(preprocessor, unlocked):
            return preprocessor
        if preprocessor in made:
            return made[preprocessor]
        if issubclass(preprocessor, Execute):

            def preprocess(self: Any, nb: Any, resources: Any) -> Any:
                nb, resources = preprocessor.preprocess(self, nb, resources)
                fail_unsolved_puzzles(nb)
                for index, cell in enumerate(nb.cells):
                    if any(o.get("ename") == CELL_TIMEOUT_ENAME for o in cell.get("outputs", [])):
                        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"{index + 1}"
                        timed_out.append(f"cell {name!r} of {resources['nbgrader']['notebook']}.ipynb")
                return nb, resources
        else:

            def preprocess(self: Any, nb: Any, resources: Any) -> Any:
                with lock():
                    return preprocessor.preprocess(self, nb, resources)

        # The same name, so that the course's config and nbgrader's log still apply.
        made[preprocessor] = type(preprocessor.__name__, (preprocessor,), {"preprocess": preprocess})
        return made[preprocessor]

    class LockedAutograde(Autograde):
        failure: BaseException | None = None

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.sanitize_preprocessors: list[type[Any]] = [locked(p) for p in self.sanitize_preprocessors]
            self.autograde_preprocessors: list[type[Any]] = [locked(p) for p in self.autograde_preprocessors]

        def init_assignment(self, assignment_id: str, student_id: str) -> None:
            try:
                with lock():
                    super().init_assignment(assignment_id, student_id)
            except Exception as e:
                self.failure = e
                raise

        def convert_single_notebook(self, notebook_filename: str) -> None:
            try:
                super().convert_single_notebook(notebook_filename)
            except Exception as e:
                self.failure = e
                raise

    return LockedAutograde
