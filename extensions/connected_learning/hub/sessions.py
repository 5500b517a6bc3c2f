"""Ending a person's sessions on a shared computer: logout, a password reset, a removal.

- `ClhubLogoutHandler` (/hub/logout): JupyterHub's logout stops only servers that are
  ready; a server still starting is left running for the next person at that computer.
  Here a starting server is stopped as soon as its start ends, unless its owner has
  logged in again meanwhile.
- `EndSessionsAPIHandler` (DELETE /hub/api/clhub/users/<name>/sessions, scope
  `admin:users`): the classroom service calls it after a teacher resets a password. It
  gives the user a new `cookie_id` (every browser's hub log-in cookie stops matching),
  deletes every API and OAuth token of the user (the sessions of their server and of the
  services end with them) and stops their servers, a starting one as soon as it exists.
- `names_other_server`: whether a `next` address leads to somebody's server, so that the
  log-in page never sends the next person at a computer to the previous one's space.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jupyterhub import orm
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.login import LogoutHandler
from jupyterhub.scopes import needs_scope
from tornado import web

STOP_WAIT_MARGIN_SECONDS = 30.0  # beyond the spawner's start_timeout, before giving up on a start
USER_PATH = re.compile(r"^(?:hub/)?(?:user|spawn|spawn-pending)/([^/]+)")
SERVER_CLIENT_PREFIX = "jupyterhub-user-"
_background: set[asyncio.Future[Any]] = set()


def names_other_server(next_url: str, base_url: str, name: str | None = None) -> bool:
    """Whether `next_url` leads to the server (or its start, or its log-in) of someone not `name`.

    With `name` None: of anyone at all (the log-in page does not know yet who logs in).
    """
    parts = urlsplit(next_url)
    path = unquote(parts.path)
    base = base_url if base_url.endswith("/") else base_url + "/"
    if not path.startswith(base):
        return False
    path = path[len(base) :]
    match = USER_PATH.match(path)
    if match:
        return name is None or match.group(1) != name
    if path.rstrip("/") == "hub/api/oauth2/authorize":
        client = parse_qs(parts.query).get("client_id", [""])[0]
        if client.startswith(SERVER_CLIENT_PREFIX):
            return name is None or client[len(SERVER_CLIENT_PREFIX) :] != name
    return False


class SharedComputerLogin:
    """For a log-in page's handler (a tornado RequestHandler with JupyterHub's LoginHandler after it).

    A `next` left by the previous person at this computer (Back after log-out) gives a clean
    log-in page, and is dropped once someone else logs in, who lands on their own things.
    """

    async def get(self) -> None:
        next_url = self.get_argument("next", "")  # type: ignore[attr-defined]
        if next_url and self.current_user is None and names_other_server(next_url, self.base_url):  # type: ignore[attr-defined]
            self.redirect(self.settings["login_url"])  # type: ignore[attr-defined]
            return
        await super().get()  # type: ignore[misc]

    def drop_next_of_others(self, user: Any) -> None:
        """Forget a `next` that leads to the server of somebody other than `user`."""
        next_url = self.get_argument("next", "")  # type: ignore[attr-defined]
        if user is not None and next_url and names_other_server(next_url, self.base_url, user.name):  # type: ignore[attr-defined]
            request = self.request  # type: ignore[attr-defined]
            for arguments in (request.query_arguments, request.body_arguments, request.arguments):
                arguments.pop("next", None)


def _keep(task: asyncio.Future[Any]) -> None:
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _stop_when_started(handler: Any, user: Any, server_name: str, unless_login_after: float | None) -> None:
    """Wait for `user`'s starting server, then stop it (not if they logged in again since)."""
    spawner = user.spawners[server_name]
    deadline = time.monotonic() + float(spawner.start_timeout) + STOP_WAIT_MARGIN_SECONDS
    while spawner.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    if spawner.pending or not spawner.active:
        return
    logged_in_since = getattr(handler.authenticator, "logged_in_since", None)
    if unless_login_after is not None and logged_in_since and logged_in_since(user.name, unless_login_after):
        handler.log.info("Not stopping %s's server: they logged in again after logging out", user.name)
        return
    handler.log.info("Stopping %s's server, started after they logged out or lost their sessions", user.name)
    try:
        await handler.stop_single_user(user, server_name)
    except Exception:
        handler.log.exception("Could not stop %s's server after its start", user.name)


def stop_servers_when_started(handler: Any, user: Any, unless_login_after: float | None = None) -> int:
    """Stop each of `user`'s starting servers when its start ends, in the background; how many."""
    starting = [name for name, spawner in user.spawners.items() if spawner.pending == "spawn"]
    for server_name in starting:
        _keep(asyncio.ensure_future(_stop_when_started(handler, user, server_name, unless_login_after)))
    return len(starting)


class ClhubLogoutHandler(LogoutHandler):
    """JupyterHub's logout, which also stops a server that is still starting."""

    async def _shutdown_servers(self, user: Any) -> None:
        stop_servers_when_started(self, user, unless_login_after=time.monotonic())
        await super()._shutdown_servers(user)


class EndSessionsAPIHandler(APIHandler):
    """End every session of a user: hub log-ins, API and OAuth tokens, servers."""

    @needs_scope("admin:users")
    async def delete(self, user_name: str) -> None:
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, f"No user {user_name!r}.")
        user.orm_user.cookie_id = orm.new_token()
        tokens = list(user.orm_user.api_tokens)
        for token in tokens:
            self.db.delete(token)
        self.db.commit()
        self.log.info("Ended the sessions of %s: new cookie id, %d tokens deleted", user.name, len(tokens))
        stop_servers_when_started(self, user)
        ready = [name for name, spawner in user.spawners.items() if spawner.active and not spawner.pending]
        await asyncio.gather(*(self.stop_single_user(user, name) for name in ready))
        self.set_status(204)
        self.finish()


default_handlers = [(r"/api/clhub/users/([^/]+)/sessions", EndSessionsAPIHandler)]
