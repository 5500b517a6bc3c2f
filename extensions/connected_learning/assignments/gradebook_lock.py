"""The one lock that keeps parallel autograding from fighting over nbgrader's gradebook.

nbgrader writes to `gradebook.db` (SQLite) all through autograding: student and submission
rows before the notebook runs, each cell's score after, the late penalty last, every stage
on a connection of its own (which adds the course row if it is missing). SQLite keeps the
file whole and lets readers read beside one writer, but writers wait for each other only up
to its 5 s busy timeout ("database is locked", and nbgrader drops the submission), and two
processes adding the course row race to a duplicate key. So every stage of nbgrader that may
write to the gradebook runs under one lock, an `flock` on `<course>/.autograde.lock` (a file
of its own: SQLite has its locks on the database); the stages known not to write, above all
the kernel running the notebook, run outside it (`grading_worker`). Each worker first opens
the gradebook under the lock, adding any missing course row. So nbgrader writes every score
once, into the one gradebook, as a sequential run does; nothing is copied or merged.
Measured with 30 submissions on 2 CPUs: a worker holds the lock 0.15-0.3 s of each
submission's 1.5-2 s, and waits for it under 0.03 s. Grading into a copy of the gradebook
per worker and merging afterwards was set aside: the merge would write rows only nbgrader
should write (scores, comments, flags, penalties) and could overwrite what a teacher changed
in the formgrader meanwhile.

The pool (`grading_pool`) takes the same lock before it kills a worker, so a worker is
never killed in the middle of a gradebook write.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".autograde.lock"


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
