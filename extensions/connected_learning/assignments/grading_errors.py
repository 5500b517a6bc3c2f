"""What autograding reports when it goes wrong: for the whole run, or for one submission.

`grading.autograde_all` returns a score or a `GradeError` per student and raises
`GradingError` when nothing can be graded at all. Both are raised or built by every part of
autograding (the planner, the worker pool, the worker processes), so they live here, below
all of them.
"""

from __future__ import annotations

from ..errors import ClhubError


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
