"""Autograding every submission of one assignment at once, with nbgrader, in parallel.

`autograde_all` grades the submissions in an nbgrader course folder (the standard layout:
`source/`, `release/`, `submitted/<student>/<assignment>/`, `autograded/`, `gradebook.db`)
with nbgrader's own `Autograde` converter, the code `nbgrader autograde` and the formgrader
run, so the scores are nbgrader's. Ours is the scheduling: worker processes (one per CPU by
default), each started once and handed one student at a time, so that while one kernel runs
a notebook another does the next; a submission that fails gets its own `GradeError`.

The gradebook. nbgrader writes to `gradebook.db` (SQLite) all through autograding: student
and submission rows before the notebook runs, each cell's score after, the late penalty
last, every stage on a connection of its own (which adds the course row if it is missing).
SQLite keeps the file whole and lets readers read beside one writer, but writers wait for
each other only up to its 5 s busy timeout ("database is locked", and nbgrader drops the
submission), and two processes adding the course row race to a duplicate key. So every
stage of nbgrader that may write to the gradebook runs under one lock, an `flock` on
`<course>/.autograde.lock` (a file of its own: SQLite has its locks on the database); the
stages known not to write, above all the kernel running the notebook, run outside it. Each
worker first opens the gradebook under the lock, adding any missing course row. So
nbgrader writes every score once, into the one gradebook, as a sequential run does;
nothing is copied or merged. Measured with 30 submissions on 2 CPUs:
a worker holds the lock 0.15-0.3 s of each submission's 1.5-2 s, and waits for it
under 0.03 s. Grading into a copy of the gradebook per worker and merging afterwards was
set aside: the merge would write rows only nbgrader should write (scores, comments, flags,
penalties) and could overwrite what a teacher changed in the formgrader meanwhile.

Speed. Besides running in parallel, a worker imports nbgrader without an IRI grammar it
never uses (see `worker_main`) and kills each kernel once its notebook has run instead of
waiting for it to shut down; together these make a submission cost less CPU than in
`nbgrader autograde`, which matters most when others load the machine.

The fence. A submission's code is the learner's, so its kernel never runs with the
grader's power: nbgrader's `Execute` starts it through `sandbox.FencedKernel`, inside
bubblewrap (private /proc, no network, the machine's system folders and the Python
environment read-only, nothing of the course, the homes or the hub), as the unprivileged
system user `clhub-grader` when grading runs as root, with limits on memory, processes,
CPU seconds and file size. It works on a copy of the submission's autograded folder, so
nothing it writes reaches a file nbgrader (as root) reads or writes afterwards; the scores
are computed outside the fence, by nbgrader, from the outputs the kernel sent.

Limits. A cell that runs past `timeout` is interrupted by nbgrader, which counts it as
failed and goes on: that student gets a GradeError "cell-timeout" carrying nbgrader's score.
A worker past `submission_timeout`, or dead, is killed (holding the lock, so never in the
middle of a gradebook write) and replaced. Student names are validated here, once
(`settings.validate_username`). The course's `nbgrader_config.py` is read, as
`nbgrader autograde` reads it there, but the folder names must be nbgrader's defaults.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ..catalog.load import SLUG
from ..errors import ClhubError
from ..settings import SettingsError, validate_username

log = logging.getLogger("clhub.grading")

SUBMITTED = "submitted"
AUTOGRADED = "autograded"
GRADEBOOK = "gradebook.db"
LOCK_FILE = ".autograde.lock"
NBGRADER_CONFIG = "nbgrader_config.py"
# nbgrader's Execute.error_on_timeout names the error it puts in a cell it had to stop.
CELL_TIMEOUT_ENAME = "CellTimeoutError"
# A whole submission, kernel start included. nbgrader has no such limit; ours only catches
# a kernel that ignores nbgrader's per-cell interrupt. 15 minutes: 30 cells at nbgrader's
# 30 s per cell still fit.
DEFAULT_SUBMISSION_TIMEOUT = 900.0
# How long a grading process may take to start (importing nbgrader alone takes 2-6 s).
WORKER_START_TIMEOUT = 120.0
# The system user a submission's kernel runs as when grading runs as root: owns nothing.
GRADER_USER = "clhub-grader"
# Where the submission's copy appears inside the fence.
FENCE_FOLDER = "/submission"
# A submission's kernel: address space, and processes (threads included) in its fence.
KERNEL_MEMORY_MB = 1536
KERNEL_PROCESSES = 128
# How long to wait for the gradebook lock before killing a worker that is over time.
KILL_LOCK_TIMEOUT = 30.0


class GradingError(ClhubError):
    """Grading cannot start at all: the course folder, the assignment or a name is wrong."""

    code = "grading"


class GradeError(ClhubError):
    """One student's submission was not (fully) graded; the others were.

    Attributes:
        student: whose submission it is.
        code: "bad-name", "no-submission", "unreadable", "cell-timeout", "timeout",
            "kernel", "crashed" or "failed".
        message: what went wrong and what to do, safe to show to the teacher.
        log: nbgrader's log of this submission (for the log, not for people).
        score: the score nbgrader recorded despite the problem ("cell-timeout" only), or None.
    """

    code = "grade"

    def __init__(self, student: str, message: str, *, code: str, log: str = "", score: float | None = None) -> None:
        super().__init__(message, code=code)
        self.student = student
        self.log = log
        self.score = score

    def __repr__(self) -> str:
        return f"GradeError({self.student!r}, code={self.code!r}, score={self.score!r})"


def validate_assignment(name: str) -> str:
    """Return `name` if it is a safe assignment (workbook) id, else raise GradingError."""
    if not isinstance(name, str) or not SLUG.match(name):
        raise GradingError(
            f"{name!r} is not a valid assignment name: use the workbook's id, "
            "lowercase letters and digits joined by '-' (like \"beat-lab\")."
        )
    return name


@dataclass(frozen=True)
class Plan:
    """Whom to grade: `students` in order, and the folders refused before any grading."""

    students: list[str]
    refused: dict[str, GradeError]


def plan_grading(course_dir: Path, assignment: str, students: Iterable[str] | None = None) -> Plan:
    """Decide whose submissions of `assignment` to grade in `course_dir`.

    Args:
        students: names to grade; None for every folder in `submitted/` that holds this
            assignment.
    Raises:
        GradingError: a name in `students` is not a valid user name (nothing is graded).
    """
    submitted = course_dir / SUBMITTED
    if students is None:
        names = sorted(e.name for e in _scandir(submitted) if (Path(e.path) / assignment).exists())
    else:
        names = list(dict.fromkeys(students))
    chosen: list[str] = []
    refused: dict[str, GradeError] = {}
    for name in names:
        try:
            validate_username(name)
        except SettingsError as e:
            if students is not None:
                raise GradingError(f"Cannot grade student {name!r}: {e}", code="bad-name") from None
            refused[name] = GradeError(
                name,
                f"The folder {SUBMITTED}/{name!r} was not graded: {e} "
                "Rename it to the student's user name, then grade again.",
                code="bad-name",
            )
            continue
        folder = submitted / name / assignment
        if folder.is_symlink() or (submitted / name).is_symlink() or not folder.is_dir():
            refused[name] = GradeError(
                name,
                f"{name} has no submission of {assignment!r} (no folder "
                f"{SUBMITTED}/{name}/{assignment}): collect it first.",
                code="no-submission",
            )
            continue
        chosen.append(name)
    return Plan(chosen, refused)


def _scandir(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return [e for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def default_workers() -> int:
    """The CPUs this process may use."""
    return len(os.sched_getaffinity(0))


def autograde_all(
    course_dir: Path | str,
    assignment: str,
    students: Iterable[str] | None = None,
    *,
    workers: int | None = None,
    timeout: int | None = None,
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
) -> dict[str, float | GradeError]:
    """Autograde every submission of `assignment` in the nbgrader course at `course_dir`.

    Each submission is graded by nbgrader's `Autograde` (as `nbgrader autograde --force`),
    several at a time in `workers` processes; the scores land in the course's gradebook.

    Args:
        course_dir: the course folder (with `gradebook.db`, `source/`, `submitted/`).
        assignment: the assignment id, as generated with `nbgrader generate_assignment`.
        students: whom to grade; None for every submission in `submitted/`.
        workers: processes grading at once; None for one per CPU (`default_workers()`).
        timeout: seconds one cell may run before nbgrader interrupts it; None keeps
            nbgrader's `Execute.timeout` (30 s unless the course's nbgrader_config.py
            says otherwise).
        submission_timeout: seconds one whole submission may take, kernel start
            included, before its worker is killed. Default 900.
    Returns:
        Each student's total score as nbgrader recorded it, or a GradeError that says
        what went wrong with that submission, in the order of the student names.
    Raises:
        GradingError: nothing could be graded (no gradebook, an unknown assignment, a
            bad name in `students`, a worker that cannot start).
    """
    course = Path(course_dir).resolve()
    validate_assignment(assignment)
    if not (course / GRADEBOOK).is_file():
        raise GradingError(
            f"{course} has no {GRADEBOOK}: generate the assignment first "
            f"(nbgrader generate_assignment {assignment}, in that folder).",
            code="no-gradebook",
        )
    if workers is not None and workers < 1:
        raise GradingError(f"workers must be at least 1, not {workers}.", code="bad-workers")
    plan = plan_grading(course, assignment, students)
    results: dict[str, float | GradeError] = dict(plan.refused)
    if plan.students:
        prepare_fence()
        count = min(workers or default_workers(), len(plan.students))
        started = time.monotonic()
        pool = _Pool(course, assignment, timeout, submission_timeout)
        try:
            results.update(pool.run(plan.students, count))
        finally:
            pool.close()
        log.info(
            "Autograded %d submissions of %s in %.1f s with %d workers (gradebook lock: held %.2f s, "
            "waited %.2f s in all)",
            len(plan.students),
            assignment,
            time.monotonic() - started,
            count,
            pool.lock_held,
            pool.lock_waited,
        )
    for name, outcome in results.items():
        if isinstance(outcome, GradeError):
            log.warning("%s: %s: %s\n%s", assignment, name, outcome.message, outcome.log)
    return {name: results[name] for name in sorted(results)}


def prepare_fence() -> None:
    """Make sure submissions can be fenced: bubblewrap installed, and as root the grader's user.

    Raises:
        GradingError: the fence cannot be built (nothing is graded unfenced).
    """
    from ..sandbox import FenceError, require_tools

    try:
        require_tools()
    except FenceError as e:
        raise GradingError(e.message, code=e.code) from None
    from ..host.current import current

    current().service_user(GRADER_USER)  # made where the host has system users


class GradebookLock:
    """An exclusive `flock` on `<course>/.autograde.lock`, re-entrant within a process.

    It records how long it was waited for and held, for the log and the benchmark.
    """

    def __init__(self, course: Path) -> None:
        self.path = course / LOCK_FILE
        self._fd: int | None = None
        self._depth = 0
        self._since = 0.0
        self.waited = 0.0
        self.held = 0.0

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock; False if `timeout` seconds passed first."""
        if self._depth:
            self._depth += 1
            return True
        # Read-only is enough for flock, so a fellow teacher can lock a file another created.
        fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        begun = time.monotonic()
        try:
            if timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() - begun > timeout:
                            os.close(fd)
                            return False
                        time.sleep(0.05)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._depth = fd, 1
        self._since = time.monotonic()
        self.waited += self._since - begun
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            self.held += time.monotonic() - self._since
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    deadline: float  # to start, or to finish `student`; inf while idle
    ready: bool = False
    student: str | None = None


class _Pool:
    """Worker processes that each grade one student at a time, replaced if they die."""

    def __init__(self, course: Path, assignment: str, timeout: int | None, submission_timeout: float) -> None:
        self.course, self.assignment = course, assignment
        self.timeout, self.submission_timeout = timeout, submission_timeout
        self.workers: list[_Worker] = []
        self.lock_held = self.lock_waited = 0.0

    def start_worker(self) -> None:
        # A fresh interpreter, not a fork: the caller (a tornado service) may have threads
        # and database connections that a forked child must not inherit; and not
        # multiprocessing's spawn either, which re-runs the caller's main script.
        ours, theirs = socket.socketpair()
        with theirs:
            env = dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(
                    filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")])
                ),
            )
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WORKER_COMMAND,
                    str(theirs.fileno()),
                    str(self.course),
                    self.assignment,
                    "" if self.timeout is None else str(self.timeout),
                    str(self.submission_timeout),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
            )
        self.workers.append(
            _Worker(process, Connection(ours.detach()), deadline=time.monotonic() + WORKER_START_TIMEOUT)
        )

    def run(self, students: list[str], count: int) -> dict[str, float | GradeError]:
        queue = deque(students)
        results: dict[str, float | GradeError] = {}
        for _ in range(count):
            self.start_worker()
        while len(results) < len(students):
            for w in self.workers:
                if w.ready and w.student is None and queue:
                    w.student = queue.popleft()
                    w.deadline = time.monotonic() + self.submission_timeout
                    w.conn.send(("grade", w.student))
            soonest = min(w.deadline for w in self.workers)
            # A worker that dies closes its end of the socket, which wakes this wait too.
            wait(
                [w.conn for w in self.workers],
                timeout=None if soonest == math.inf else max(0.0, soonest - time.monotonic()) + 0.01,
            )
            for w in list(self.workers):
                self._check(w, results, queue)
        return results

    def _check(self, w: _Worker, results: dict[str, float | GradeError], queue: deque[str]) -> None:
        """Take `w`'s answer if it sent one; replace it if it died or ran over time."""
        try:
            message = w.conn.recv() if w.conn.poll() else None
        except (EOFError, OSError):
            message = None
        if message is not None:
            self._receive(w, message, results)
            return
        alive = w.process.poll() is None
        if alive and time.monotonic() <= w.deadline:
            return
        if not w.ready:  # died or hung while starting: go on with the others, if any
            self._kill(w)
            why = (
                f"A grading process could not start (exit code {w.process.returncode}); the hub's log says "
                "why. Try again; if it fails again, check that nbgrader works: nbgrader --version."
            )
            if not self.workers and not results:
                raise GradingError(why, code="worker-failed")
            log.error("%s Going on with %d.", why, len(self.workers))
            while not self.workers and queue:
                student = queue.popleft()
                results[student] = GradeError(student, f"{student} was not graded. {why}", code="crashed")
            return
        if w.student is not None and alive:
            results[w.student] = GradeError(
                w.student,
                f"Grading {w.student}'s submission took longer than {self.submission_timeout:.0f} s "
                "and was stopped. Look for an endless loop in the notebook, or grade it again with a longer "
                "submission_timeout if it is only slow.",
                code="timeout",
            )
        elif w.student is not None:
            results[w.student] = GradeError(
                w.student,
                f"The process grading {w.student}'s submission stopped unexpectedly (exit code "
                f"{w.process.returncode}), perhaps out of memory. Grade {w.student} again; if it happens again, "
                "look in the notebook for code that uses a lot of memory.",
                code="crashed",
            )
        self._kill(w)
        if queue:
            self.start_worker()

    def _receive(self, w: _Worker, message: tuple, results: dict[str, float | GradeError]) -> None:
        if message[0] == "ready":
            w.ready, w.deadline = True, math.inf
        elif message[0] == "fatal":
            raise GradingError(message[1], code=message[2])
        elif message[0] == "done":
            _, student, outcome, held, waited = message
            self.lock_held += held
            self.lock_waited += waited
            results[student] = outcome if isinstance(outcome, float) else GradeError(student, **outcome)
            w.student, w.deadline = None, math.inf

    def _kill(self, w: _Worker) -> None:
        """Stop `w` and forget it; a student it was grading is left as nbgrader leaves a failure."""
        if w.process.poll() is None:
            # Under the lock, so never in the middle of a gradebook write; and its kernel
            # too, which may be stuck where ipykernel's parent poller cannot end it.
            lock = GradebookLock(self.course)
            locked = lock.acquire(timeout=KILL_LOCK_TIMEOUT)
            try:
                kernels = _child_pids(w.process.pid)
                w.process.kill()
                w.process.wait()
                for pid in kernels:
                    try:  # a kernel leads a process group of its own, with whatever it started
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
            finally:
                if locked:
                    lock.release()
        w.conn.close()
        self.workers.remove(w)
        if w.student:
            # nbgrader removes a failed submission's autograded folder: no half-graded notebook.
            shutil.rmtree(self.course / AUTOGRADED / w.student / self.assignment, ignore_errors=True)

    def close(self) -> None:
        """Stop every worker: idle ones when asked, busy ones (after an error) killed."""
        idle = [w for w in self.workers if w.ready and w.student is None]
        for w in idle:
            with contextlib.suppress(OSError):
                w.conn.send(("stop",))
        for w in list(self.workers):
            if w in idle:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    w.process.wait(timeout=10)
            self._kill(w)


def _child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a worker's kernels), from Linux's /proc."""
    children = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    state_ppid = f.read().rsplit(b")", 1)[1].split()[:2]  # after "pid (command)"
            except (OSError, IndexError):
                continue
            if int(state_ppid[1]) == pid:
                children.append(int(entry.name))
    return children


# The worker side. nbgrader is imported here only: importing it takes seconds.

WORKER_COMMAND = "from connected_learning.assignments.grading import worker_main; worker_main()"


def worker_main() -> None:
    """A worker's entry point: `python -c WORKER_COMMAND <socket fd> <course> <assignment> <timeout>
    <submission timeout>`."""
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
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
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

    def __init__(
        self, course: Path, assignment: str, timeout: int | None, submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT
    ) -> None:
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
