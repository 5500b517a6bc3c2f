"""The base of the classroom service at /services/classroom/: what every handler builds on.

A JupyterHub-managed service behind the hub's OAuth. It is where privileged actions happen,
so on a real site it runs as root beside the hub and checks the hub's roles before each
one (`rules`). Students reach its API from their server with their server's token (the hub
gives that token `access:services!service=classroom`), teachers use its pages.

Here: the hub's REST API as this service sees it (`Hub`), the handler bases with the one
XSRF policy (`BaseHandler.prepare`), the one mapping from the package's errors to HTTP
answers (`answer_for`), and `run`, which keeps disk work off the event loop. The feature
modules (`moderation`, `home`, `accounts`, `assignments`, `progress`, `showcase`) build on
this one and `rules`; `app` assembles them. Imports run one way: app -> features -> rules ->
this base -> the domain modules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from markupsafe import Markup, escape
from tornado import web
from tornado.httpclient import AsyncHTTPClient

from ..catalog.load import CatalogError
from ..errors import ClhubError
from ..host.base import Host
from ..host.current import HostError
from ..host.system_users import SystemUserError
from ..peer_review import moderation
from ..sandbox import FenceError
from ..settings import SiteSettings
from ..showcase.snapshot import SnapshotError

log = logging.getLogger("clhub.classroom")
TEMPLATES = Path(__file__).parent / "templates"
USER_CACHE_SECONDS = 10.0
T = TypeVar("T")


class Hub:
    """The hub's REST API, with this service's own token (read users, roles and groups)."""

    def __init__(self) -> None:
        self.api = os.environ["JUPYTERHUB_API_URL"].rstrip("/")
        self.token = os.environ["JUPYTERHUB_API_TOKEN"]
        self.client = AsyncHTTPClient()
        self._users: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, path: str) -> Any:
        return await self.call("GET", path)

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call; the decoded reply (None when empty). Raises HTTPClientError."""
        r = await self.client.fetch(
            self.api + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            body=None if method in ("GET", "DELETE") else json.dumps(body if body is not None else {}),
        )
        return json.loads(r.body) if r.body else None

    def forget(self, name: str) -> None:
        self._users.pop(name, None)

    async def end_sessions(self, name: str) -> None:
        """End `name`'s hub log-ins, tokens and servers (the hub's `hub/sessions.py`)."""
        await self.call("DELETE", f"/clhub/users/{quote(name)}/sessions")

    async def user(self, name: str) -> dict[str, Any]:
        """The user's model with roles and groups, cached for a few seconds."""
        cached = self._users.get(name)
        if cached and time.monotonic() - cached[0] < USER_CACHE_SECONDS:
            return cached[1]
        model = await self.get(f"/users/{quote(name)}")
        self._users[name] = (time.monotonic(), model)
        return model

    async def groups(self) -> list[str]:
        return sorted(g["name"] for g in await self.get("/groups"))

    async def group_members(self) -> dict[str, list[str]]:
        """Every group and its members, in one request."""
        return {g["name"]: sorted(g.get("users", [])) for g in await self.get("/groups")}

    async def memberships(self) -> dict[str, list[str]]:
        """Every user and their groups (for checking a class list)."""
        return {u["name"]: list(u.get("groups", [])) for u in await self.get("/users")}


# ------------------------------------------------------------------ templates


def local_time(value: str | float | dt.datetime | None) -> Markup:
    """A moment as `<time class="clh-local">`: UTC text that base.html's script shows in local time.

    `value` is an ISO 8601 text (with an offset, or UTC when it has none), seconds since the
    epoch, or a datetime; nothing gives an empty string and an unreadable text is shown as it
    is. Any template may use it: `{{ report.created | local_time }}` renders
    `<time class="clh-local" datetime="2026-12-06T12:00:00Z">6 Dec 2026, 12:00 UTC</time>`,
    which a browser without JavaScript shows as it is.
    """
    if value is None or value == "":
        return Markup("")
    try:
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, int | float):
            moment = dt.datetime.fromtimestamp(value, dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return escape(str(value))
    utc = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    return Markup('<time class="clh-local" datetime="{}">{}</time>').format(
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{utc.day} {utc:%b %Y, %H:%M} UTC"
    )


def jinja_environment() -> Environment:
    """The classroom's templates, autoescaped, with the `local_time` filter."""
    jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    jinja.filters["local_time"] = local_time
    return jinja


# ------------------------------------------------------------------ errors -> HTTP answers


class Answer(NamedTuple):
    status: int
    message: str


# The one mapping from the package's errors to HTTP answers. A handler lets a `ClhubError`
# rise; the most specific class of its ancestry found here, or carrying its own `status`
# (moderation's, the showcase's and the assignments' errors do), decides the status.
# `{}` is the error's own message, which is safe to show.
STATUS_OF: dict[type[ClhubError], tuple[int, str]] = {
    SnapshotError: (422, "{}"),  # the piece cannot be published as it is: the message says why
    CatalogError: (503, "The workbook catalog is broken: {}"),  # an administrator must fix the files
    SystemUserError: (500, "{}"),  # the machine refused a system user or group: the site's problem
    HostError: (500, "{}"),
    FenceError: (500, "{}"),
}
DEFAULT_STATUS = 400  # any other ClhubError: the request cannot be done as asked, the message says why


def answer_for(error: ClhubError) -> Answer:
    """The HTTP status and the message a visitor sees for `error`."""
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            status, template = STATUS_OF[cls]
            return Answer(status, template.format(error.message))
        if isinstance(cls.__dict__.get("status"), int):
            return Answer(cls.__dict__["status"], error.message)
    return Answer(DEFAULT_STATUS, error.message)


# ------------------------------------------------------------------ handlers


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Owned:
    """What an ownership rule found: who made the thing a request names, and in which group."""

    owner: str
    group: str


class SandboxedPage(web.RequestHandler):
    """A page of learner-made content on the classroom's origin: no scripts, no same-origin, never cached.

    Put it before the handler class: `class PreviewPage(SandboxedPage, ShowcaseAPI)`.
    """

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", "sandbox")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "SAMEORIGIN")


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Every page and API of the classroom: who is asking, the one XSRF policy, the one error mapping.

    The user is identified once, in `prepare()`, asynchronously: HubAuth asks the hub about
    a token in the request first and, only when the hub confirms it, marks the request
    token-authenticated; otherwise the hub's OAuth cookie counts. Then every request that
    changes something (not GET, HEAD or OPTIONS) must carry the XSRF token of its cookie
    session, unless a valid token authenticated it, as JupyterHub's own handlers decide. A
    request merely carrying an `Authorization` header proves nothing: a browser page on
    another site can add any header to a request that also carries the visitor's cookie.
    Subclasses do not override `check_xsrf_cookie`, `prepare` or `get_current_user`.

    Each handler method declares who may call it with a decorator of `rules`, which checks
    before the method runs and sets `me` (the caller's hub model with roles and groups).
    Domain errors (`ClhubError`) are not caught in handlers: they rise to `send_error`,
    which answers with `answer_for`'s status and message.
    """

    _identifying = False
    _me: dict[str, Any] | None = None
    owned: Owned | None = None  # set by an ownership rule (`rules.author_or_teacher`)

    async def prepare(self) -> None:
        self._identifying = True
        model = await self.hub_auth.get_user(self, sync=False)
        self.current_user = self._allowed(model) if model else None
        if self.request.method not in SAFE_METHODS:
            self.check_xsrf_cookie()

    def _allowed(self, model: dict[str, Any]) -> dict[str, Any] | None:
        """`model` when it has this service's access scopes; None (and 403, not a log-in loop) when not."""
        try:
            return self.check_hub_user(model)
        except UserNotAllowed:

            def refuse(*args: Any, **kwargs: Any) -> None:
                raise web.HTTPError(403, f"{model.get('kind', 'user')} {model.get('name')} may not use the classroom.")

            self.redirect = refuse  # type: ignore[method-assign]
            return None

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # Learners' names, work and grades: never kept by the browser of a shared computer.
        self.set_header("Cache-Control", "no-store")

    def get_current_user(self) -> dict[str, Any] | None:
        # `prepare()` sets the user; HubAuthenticated's own lookup would block the event loop
        # on a call to the hub, so it is never used (before `prepare()` nobody is identified).
        return None

    def check_xsrf_cookie(self) -> None:
        if not self._identifying:
            return  # Tornado asks before prepare(), when nobody knows yet whether a valid token came
        # HubOAuth's check: skipped only for a request the hub confirmed by token.
        super().check_xsrf_cookie()

    @property
    def hub(self) -> Hub:
        return self.settings["hub"]

    @property
    def site(self) -> SiteSettings:
        return self.settings["site"]

    @property
    def host(self) -> Host:
        return self.settings["host"]

    @property
    def me(self) -> dict[str, Any]:
        """The caller's hub model (name, admin, roles, groups), as the method's rule checked it."""
        if self._me is None:
            raise RuntimeError(f"{type(self).__name__}.{self.request.method} declares no rule (see rules.py).")
        return self._me

    async def hub_user(self) -> dict[str, Any]:
        """The caller's model from the hub, with roles and groups; 403 for a service or nobody."""
        user = self.current_user
        if not user or user.get("kind") != "user":
            raise web.HTTPError(403, "Only hub users can use the classroom.")
        return await self.hub.user(user["name"])

    def place(self, group: str) -> moderation.Place:
        return moderation.Place(self.site.data_dir, moderation.validate_group(group))

    async def run(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`action(*args, **kwargs)` in a thread: disk and CPU work never stalls the other requests."""
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(action, *args, **kwargs))

    def render_template(self, template: str, **values: Any) -> str:
        return (
            self.settings["jinja"]
            .get_template(template)
            .render(prefix=self.settings["prefix"], site_name=self.site.name, **values)
        )

    def page(self, template: str, **values: Any) -> None:
        """Finish with a page of the templates folder (with the XSRF token for its forms)."""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.render_template(template, xsrf=self.xsrf_token.decode(), **values))

    # -------------------------------------------------------------- the one error mapping

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if isinstance(value, ClhubError) and (answer := answer_for(value)).status < 500:
            log.warning("%d %s %s: %s", answer.status, self.request.method, self.request.uri, answer.message)
            return
        super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ClhubError):
            status_code = answer_for(error).status
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ClhubError):
            reason = answer_for(error).message
        elif isinstance(error, web.HTTPError) and error.log_message:
            reason = error.log_message
        if self.request.path.startswith(url_path_join(self.settings["prefix"], "api")):
            self.finish({"status": status_code, "message": reason})
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(self.render_template("error.html", status=status_code, message=reason))


class APIHandler(BaseHandler):
    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "The request body is not JSON.") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return body
