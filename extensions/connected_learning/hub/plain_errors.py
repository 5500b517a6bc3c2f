"""Errors written for learners: the hub's pages show their message as is.

JupyterHub shows a failed start on the interest form as "Error: HTTP 400: Bad Request
(...)" unless the exception carries a `jupyterhub_message`; the error page
(templates/error.html) shows such a message and folds every other one away for the adult
who helps. Raise `PlainError` wherever the message is meant for the person in front of
the screen; the status code stays exact for API clients.
"""

from __future__ import annotations

from tornado import web


class PlainError(web.HTTPError):
    """An HTTP error whose message is written for learners (no jargon, says what to do next)."""

    def __init__(self, status_code: int, message: str) -> None:
        # The message is the log message without %-arguments: tornado formats it only with args.
        super().__init__(status_code, message)
        self.jupyterhub_message = message
