"""The worker processes that autograde in parallel, seen from the process that starts them.

`WorkerPool` starts `count` grading processes (`grading_worker`), each a fresh interpreter
that imports nbgrader once and is then handed one student at a time over a socket, so that
while one kernel runs a notebook another does the next. It hands out the students, collects
each score or `GradeError`, and watches the clock: a worker past `submission_timeout`, or
dead, is killed (under the gradebook lock, so never in the middle of a gradebook write,
together with the kernels it started) and replaced while students are left. nbgrader is
never imported here.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from .gradebook_lock import GradebookLock
from .grading_errors import GradeError, GradingError

log = logging.getLogger("clhub.grading")

AUTOGRADED = "autograded"
# What each grading process runs (`python -c`), with its arguments after it.
WORKER_COMMAND = "from connected_learning.assignments.grading_worker import worker_main; worker_main()"
# How long a grading process may take to start (importing nbgrader alone takes 2-6 s).
WORKER_START_TIMEOUT = 120.0
# How long to wait for the gradebook lock before killing a worker that is over time.
KILL_LOCK_TIMEOUT = 30.0


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    deadline: float  # to start, or to finish `student`; inf while idle
    ready: bool = False
    student: str | None = None


class WorkerPool:
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
        """Grade `students` with `count` workers: each student's score, or a GradeError.

        Raises:
            GradingError: a worker could not start and none is left, or one found the
                course unusable (no assignment of that name in the gradebook).
        """
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
