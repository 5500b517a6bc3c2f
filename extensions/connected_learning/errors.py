"""Errors that are safe to show to people.

Every error the package raises on purpose is a `ClhubError`: a stable `code` for logs and
tests, and a message that says what went wrong, names the bad value and what to do next.
Tracebacks go to the log only.
"""

from __future__ import annotations


class ClhubError(Exception):
    """An error whose message is safe to show to a student, teacher or administrator."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message
