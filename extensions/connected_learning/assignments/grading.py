"""Autograding every submission of one assignment at once, with nbgrader, in parallel.

`autograde_all` grades the submissions in an nbgrader course folder (the standard layout:
`source/`, `release/`, `submitted/<student>/<assignment>/`, `autograded/`, `gradebook.db`)
with nbgrader's own `Autograde` converter, the code `nbgrader autograde` and the formgrader
run, so the scores are nbgrader's. Ours is the scheduling: worker processes (one per CPU by
default), each started once and handed one student at a time, so that while one kernel runs
a notebook another does the next; a submission that fails gets its own `GradeError`.

This module decides whom to grade (`plan_grading`: student names are validated here, once,
with `settings.validate_username`), makes sure the fence can be built, and hands the
students to the rest:

- `grading_pool`: the worker processes, started, fed, timed and replaced from here;
- `grading_worker`: what runs in each of them, nbgrader's `Autograde` with the submission's
  kernel fenced;
- `gradebook_lock`: the lock that lets them all write to the one gradebook;
- `grading_errors`: `GradingError` (nothing graded) and `GradeError` (one submission).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..catalog.load import SLUG
from ..settings import SettingsError, validate_username
from .grading_errors import GradeError, GradingError
from .grading_pool import WorkerPool
from .grading_worker import GRADER_USER

log = logging.getLogger("clhub.grading")

SUBMITTED = "submitted"
GRADEBOOK = "gradebook.db"
# A whole submission, kernel start included. nbgrader has no such limit; ours only catches
# a kernel that ignores nbgrader's per-cell interrupt. 15 minutes: 30 cells at nbgrader's
# 30 s per cell still fit.
DEFAULT_SUBMISSION_TIMEOUT = 900.0


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


def default_workers(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The CPUs this process may use: its CPU affinity, and its cgroup's CPU quota where it has one.

    A pod sees every CPU of its node but may use only its limit (its own cgroup's cpu.max,
    "quota period" or "max"); one machine's root cgroup has no cpu.max.
    """
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path(cpu_max).read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return cpus


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
        pool = WorkerPool(course, assignment, timeout, submission_timeout)
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

    current().ensure_service_user(GRADER_USER)  # made where the host has system users
