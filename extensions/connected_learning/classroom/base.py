"""The classroom service at /services/classroom/: teachers' pages and API, and its base.

A JupyterHub-managed service behind the hub's OAuth. It is where privileged actions
happen, so it runs as root beside the hub and checks the hub's roles before each one:
a user may moderate group G when the hub says they are an admin or hold the role
`teacher-G`; a member of G (the hub's groups) may report a piece of G. Anything else
gets 403. Students reach its API from their server with their server's token (the hub
gives that token `access:services!service=classroom`), teachers use its pages.

It also keeps the group folders in shape: at start and every `sweep_seconds` it creates
or repairs the peer-review folder of every hub group (`folders.apply_group`).

The feature modules (`classroom_accounts`, `classroom.assignments`, `classroom_progress`,
`classroom_showcase`) import this one; `classroom_app` assembles them all into the service.
Imports run one way: app -> features -> this base -> the domain modules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ..accounts.store import read_display_names
from ..errors import ClhubError
from ..host import system_users
from ..host.base import Host
from ..paths import DataLayout
from ..peer_review import folders, moderation
from ..settings import SiteSettings
from ..showcase import gallery as showcase_gallery
from ..showcase import publish as showcase_publish

log = logging.getLogger("clhub.classroom")
TEMPLATES = Path(__file__).parent / "templates"
USER_CACHE_SECONDS = 10.0


# ------------------------------------------------------------------ who may do what


def teaches(user: dict[str, Any], group: str) -> bool:
    """May `user` (a hub user model with roles) moderate `group`?"""
    return bool(user.get("admin")) or f"teacher-{group}" in user.get("roles", [])


def member_of(user: dict[str, Any], group: str) -> bool:
    return group in user.get("groups", [])


def groups_taught(user: dict[str, Any], all_groups: list[str]) -> list[str]:
    return [g for g in all_groups if teaches(user, g)]


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


# ------------------------------------------------------------------ handlers


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Every page and API of the classroom: who is asking, and the one XSRF policy.

    The user is identified once, in `prepare()`, asynchronously: HubAuth asks the hub about
    a token in the request first and, only when the hub confirms it, marks the request
    token-authenticated; otherwise the hub's OAuth cookie counts. Then every request that
    changes something (not GET, HEAD or OPTIONS) must carry the XSRF token of its cookie
    session, unless a valid token authenticated it, as JupyterHub's own handlers decide. A
    request merely carrying an `Authorization` header proves nothing: a browser page on
    another site can add any header to a request that also carries the visitor's cookie.
    Subclasses do not override `check_xsrf_cookie`, `prepare` or `get_current_user`.
    """

    _identifying = False

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

    def place(self, group: str) -> moderation.Place:
        return moderation.Place(self.site.data_dir, moderation.validate_group(group))

    async def me(self) -> dict[str, Any]:
        user = self.current_user
        if not user or user.get("kind") != "user":
            raise web.HTTPError(403, "Only hub users can use the classroom.")
        return await self.hub.user(user["name"])

    async def require_teacher(self, group: str) -> dict[str, Any]:
        me = await self.me()
        if not teaches(me, group):
            raise web.HTTPError(403, f"You do not teach the group {group!r}.")
        return me

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        if self.request.path.startswith(url_path_join(self.settings["prefix"], "api")):
            self.finish({"status": status_code, "message": reason})
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(
                self.settings["jinja"]
                .get_template("error.html")
                .render(status=status_code, message=reason, prefix=self.settings["prefix"])
            )

    async def _act(self, action: Any, *args: Any) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, action, *args)
        except moderation.ModerationError as e:
            raise web.HTTPError(e.status, e.message) from None


class APIHandler(BaseHandler):
    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "The request body is not JSON.") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return body


class GroupsAPI(APIHandler):
    @web.authenticated
    async def get(self) -> None:
        me = await self.me()
        self.finish({"teaches": groups_taught(me, await self.hub.groups()), "member_of": me.get("groups", [])})


def piece_json(view: Any, hidden: bool) -> dict[str, Any]:
    return {
        "id": view.id,
        "owner": view.owner,
        "title": view.title,
        "author_display": view.author_display,
        "version": view.version,
        "hidden": hidden,
        "problem": view.problem,
        "files": view.files,
        "remix_of": view.remix_of,
        "feedback": [
            {
                "file": f.file,
                "reviewer": f.reviewer,
                "works": f.works,
                "idea": f.idea,
                "question": f.question,
                "reaction": f.reaction,
                "created": f.created,
            }
            for f in view.feedback
        ],
    }


class PiecesAPI(APIHandler):
    @web.authenticated
    async def get(self, group: str) -> None:
        await self.require_teacher(group)
        found = moderation.list_pieces(self.place(group))
        self.finish({"pieces": [piece_json(view, hidden) for view, hidden in found]})


class PieceAPI(APIHandler):
    @web.authenticated
    async def post(self, group: str, piece: str, action: str) -> None:
        await self.require_teacher(group)
        actions = {"hide": moderation.hide_piece, "unhide": moderation.unhide_piece}
        if action not in actions:
            raise web.HTTPError(404, f"Unknown action {action!r}; use hide or unhide.")
        await self._act(actions[action], self.place(group), piece)
        self.finish({"piece": piece, "done": action})

    @web.authenticated
    async def delete(self, group: str, piece: str, action: str = "") -> None:
        await self.require_teacher(group)
        await self._act(moderation.delete_piece, self.place(group), piece)
        self.set_status(204)
        self.finish()


class FeedbackAPI(APIHandler):
    @web.authenticated
    async def post(self, group: str, piece: str, file: str, action: str) -> None:
        await self.require_teacher(group)
        if action != "hide":
            raise web.HTTPError(404, f"Unknown action {action!r}; use hide.")
        await self._act(moderation.hide_feedback, self.place(group), piece, file)
        self.finish({"piece": piece, "feedback": file, "done": "hide"})

    @web.authenticated
    async def delete(self, group: str, piece: str, file: str, action: str = "") -> None:
        await self.require_teacher(group)
        await self._act(moderation.delete_feedback, self.place(group), piece, file)
        self.set_status(204)
        self.finish()


class ReportsAPI(APIHandler):
    @web.authenticated
    async def get(self, group: str) -> None:
        await self.require_teacher(group)
        self.finish({"reports": moderation.list_reports(self.place(group))})

    @web.authenticated
    async def post(self, group: str) -> None:
        me = await self.me()
        if not (member_of(me, group) or teaches(me, group)):
            raise web.HTTPError(403, f"You are not a member of the group {group!r}.")
        body = self.json_body()
        try:
            report = moderation.add_report(
                self.place(group),
                me["name"],
                str(body.get("piece", "")),
                str(body.get("reason", "")),
                str(body.get("feedback", "") or ""),
            )
        except moderation.ModerationError as e:
            raise web.HTTPError(e.status, e.message) from None
        self.set_status(201)
        self.finish({"id": report["id"], "status": report["status"]})


class ReportAPI(APIHandler):
    @web.authenticated
    async def post(self, group: str, report_id: str) -> None:
        me = await self.require_teacher(group)
        await self._act(moderation.close_report, self.place(group), report_id, "dismissed", me["name"])
        self.finish({"id": report_id, "status": "dismissed"})


class HomePage(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        me = await self.me()
        groups = []
        names = read_display_names(DataLayout(self.site.data_dir))
        for group in groups_taught(me, await self.hub.groups()):
            place = self.place(group)
            members = (await self.hub.get(f"/groups/{quote(group)}")).get("users", [])
            groups.append(
                {
                    "name": group,
                    "members": [{"name": m, "display": names.get(m, "")} for m in sorted(members)],
                    "pieces": moderation.list_pieces(place),
                    "reports": [r for r in moderation.list_reports(place) if r["status"] == "open"],
                    "proposals": showcase_publish.list_proposals(place),
                    "gallery": showcase_gallery.read_state(place),
                }
            )
        page = (
            self.settings["jinja"]
            .get_template("home.html")
            .render(
                me=me,
                groups=groups,
                prefix=self.settings["prefix"],
                xsrf=self.xsrf_token.decode(),
                site_name=self.site.name,
            )
        )
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)


class ActionForm(BaseHandler):
    """The teacher page's buttons: POST forms that call the same moderation functions."""

    @web.authenticated
    async def post(self, group: str) -> None:
        me = await self.require_teacher(group)
        action = self.get_body_argument("action", "")
        piece = self.get_body_argument("piece", "")
        place = self.place(group)
        forms = {
            "hide": lambda: moderation.hide_piece(place, piece),
            "unhide": lambda: moderation.unhide_piece(place, piece),
            "delete": lambda: moderation.delete_piece(place, piece),
            "hide-feedback": lambda: moderation.hide_feedback(place, piece, self.get_body_argument("file", "")),
            "delete-feedback": lambda: moderation.delete_feedback(place, piece, self.get_body_argument("file", "")),
            "dismiss": lambda: moderation.close_report(
                place, self.get_body_argument("report", ""), "dismissed", me["name"]
            ),
        }
        if action not in forms:
            raise web.HTTPError(400, f"Unknown action {action[:30]!r}.")
        await self._act(forms[action])
        self.redirect(self.settings["prefix"] + f"#group-{group}")


# ------------------------------------------------------------------ folders


async def repair_folders(site: SiteSettings, host: Host, members: Mapping[str, Iterable[str]], prefix: str) -> None:
    """Create or repair the folders of the groups `members` ({group: users}), their system groups
    first (as root), and write each group's display names there for its members to read."""
    names = read_display_names(DataLayout(site.data_dir))
    for group, users in members.items():
        try:
            moderation.validate_group(group)
            gid = await host.ensure_group(system_users.system_group_name(prefix, group))
            folders.apply_group(site.data_dir, folders.policy_for(site, group), gid)
            folders.write_members(site.data_dir, group, {u: names[u] for u in users if u in names}, gid)
        except (ClhubError, OSError) as e:
            log.error("Cannot prepare the folder of group %s: %s", group, e)


async def sweep(app: web.Application) -> None:
    site: SiteSettings = app.settings["site"]
    hub: Hub = app.settings["hub"]
    while True:
        try:
            await repair_folders(site, app.settings["host"], await hub.group_members(), app.settings["group_prefix"])
        except (HTTPClientError, OSError) as e:
            log.warning("Group folders not checked this time: %s", e)
        await asyncio.sleep(app.settings["sweep_seconds"])
