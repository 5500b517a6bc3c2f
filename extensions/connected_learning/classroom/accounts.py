"""The classroom service's accounts pages: import a class list, print login slips, reset a password.

    GET  /services/classroom/roster            the upload form
    POST /services/classroom/roster            check the file; on success create and show the slips
    POST /services/classroom/api/roster        the same for scripts (`clhub roster import`): CSV body
    POST /services/classroom/api/groups/<g>/users/<u>/password   a temporary password (teacher of g)
    POST /services/classroom/groups/<g>/users/<u>/password       the same as a printable slip

Only an admin or a teacher of some group imports; each row must then be theirs to make
(`enrolment.check_permission`: a teacher adds students and mentors to the groups they teach).

A class list is checked whole (`roster.validate_roster`, then `enrolment.check_permission`)
and applied only when every row is sound and allowed; otherwise the answer lists every
problem with its line number and nothing is created (HTTP 422).
"""

from __future__ import annotations

from typing import Any

from tornado import web
from tornado.httpclient import HTTPClientError

from ..accounts import enrolment, roster, slips
from ..accounts.store import read_display_names
from ..errors import ClhubError
from ..paths import DataLayout
from ..settings import validate_username
from .base import BaseHandler, log
from .folders import repair_folders
from .rules import groups_taught, teacher_of_any_group, teacher_of_group


def public_url(handler: BaseHandler) -> str:
    """The hub's address for the slips: the site's, else the one this request came to."""
    return handler.site.public_url or f"{handler.request.protocol}://{handler.request.host}"


class RosterMixin(BaseHandler):
    async def actor(self) -> enrolment.Actor:
        me = self.me
        taught = frozenset(groups_taught(me, await self.hub.groups()))
        return enrolment.Actor(me["name"], bool(me.get("admin")), taught)

    async def import_roster(self, data: bytes) -> tuple[list[roster.RosterProblem], enrolment.Outcome | None]:
        """Check `data` whole; apply it only when every row is sound and allowed."""
        actor = await self.actor()
        memberships = await self.hub.memberships()
        groups = await self.hub.groups()
        try:
            result = await self.run(
                roster.validate_roster,
                data,
                min_password_length=self.site.min_password_length,
                existing_users=memberships,
            )
        except roster.RosterError as e:
            return [roster.RosterProblem(1, "", "", e.message)], None
        if not result.ok:
            return list(result.problems), None
        denied = enrolment.check_permission(result.rows, actor, groups, memberships)
        if denied:
            return denied, None
        try:
            # The hub's API on this loop; the few files it writes (passwords, names, roles) are
            # enrolment's to move off the loop.
            outcome = await enrolment.apply(
                result.rows,
                layout=DataLayout(self.site.data_dir),
                hub=self.hub.call,
                existing_groups=groups,
                memberships=memberships,
                host=self.host,
                group_prefix=self.settings["group_prefix"],
            )
        except (HTTPClientError, ClhubError, OSError) as e:
            # Not the usual answer for the error: the list was applied in part, and the way on is to send it again.
            log.exception("Class list import by %s failed part-way", actor.name)
            raise web.HTTPError(
                500,
                f"The class list was checked but creating the accounts failed part-way: {e}. "
                "Import the same file again: accounts already made are kept.",
            ) from e
        imported = {r.username for r in result.rows}
        for name in imported:
            self.hub.forget(name)
        await self.rename_in_groups(imported)
        log.info(
            "%s imported a class list: %d new accounts, groups %s",
            actor.name,
            len(outcome.created),
            sorted({g for _, g in outcome.joined}),
        )
        return [], outcome

    async def rename_in_groups(self, users: set[str]) -> None:
        """Give every group of `users` their names from the class list at once (the sweep would, later)."""
        try:
            members = await self.hub.group_members()
        except HTTPClientError as e:
            log.warning("Display names reach the groups' folders at the next sweep: %s", e)
            return
        await repair_folders(
            self.site, self.host, {g: u for g, u in members.items() if users & set(u)}, self.settings["group_prefix"]
        )

    async def slips_page(self, outcome: enrolment.Outcome) -> str:
        return await self.run(
            slips.render_slips, outcome.slips, public_url(self), site_name=self.site.name, title="Login slips"
        )


class RosterPage(RosterMixin):
    def render_form(self, problems: list[roster.RosterProblem] | None = None) -> str:
        return self.render_template(
            "roster.html", xsrf=self.xsrf_token.decode(), problems=problems or [], header=",".join(roster.HEADER)
        )

    @teacher_of_any_group
    async def get(self) -> None:
        self.finish(self.render_form())

    @teacher_of_any_group
    async def post(self) -> None:
        files = self.request.files.get("classlist")
        data = files[0]["body"] if files else self.get_body_argument("text", "").encode()
        problems, outcome = await self.import_roster(data)
        if outcome is None:
            self.set_status(422)
            self.finish(self.render_form(problems))
            return
        self.finish(await self.slips_page(outcome))


class RosterAPI(RosterMixin):
    @teacher_of_any_group
    async def post(self) -> None:
        problems, outcome = await self.import_roster(self.request.body)
        if outcome is None:
            self.set_status(422)
            self.finish(
                {
                    "status": 422,
                    "message": f"{len(problems)} problem(s); nothing was created.",
                    "problems": [
                        {"line": p.line, "column": p.column, "value": p.value, "reason": p.reason} for p in problems
                    ],
                }
            )
            return
        self.set_status(201)
        self.finish(
            {
                "created": outcome.created,
                "groups_created": outcome.groups_created,
                "joined": [list(j) for j in outcome.joined],
                "slips": [{"display_name": d, "username": u, "password": p} for d, u, p in outcome.slips],
            }
        )


class PasswordAPI(BaseHandler):
    async def reset(self, group: str, name: str) -> tuple[dict[str, Any], str]:
        """A temporary password for `name`, a learner of `group` (the caller teaches it: the method's rule).

        Beyond the rule: only an admin resets the password of a teacher or an admin.
        """
        me = self.me
        try:
            validate_username(name)
        except ClhubError:
            raise web.HTTPError(404, f"There is no user {name[:40]!r} in {group}.") from None
        try:
            target = await self.hub.user(name)
        except HTTPClientError:
            raise web.HTTPError(404, f"There is no user {name!r} in {group}.") from None
        if group not in target.get("groups", []):
            raise web.HTTPError(404, f"There is no user {name!r} in {group}.")
        if target.get("admin") or (
            any(r.startswith("teacher-") for r in target.get("roles", [])) and not me.get("admin")
        ):
            raise web.HTTPError(403, f"Only an administrator can reset the password of {name!r}.")
        password = await self.run(
            enrolment.reset_password, DataLayout(self.site.data_dir), name, self.site.min_password_length
        )
        # Whoever was using the account (perhaps not its owner) is out at once: browsers, tokens, server.
        await self.hub.end_sessions(name)
        log.info("%s reset the password of %s and ended their sessions", me["name"], name)
        return target, password

    @teacher_of_group
    async def post(self, group: str, name: str) -> None:
        _, password = await self.reset(group, name)
        self.finish({"username": name, "password": password, "must_change": True})


class PasswordForm(PasswordAPI):
    """The teacher page's Reset password button: shows a slip with the temporary password."""

    @teacher_of_group
    async def post(self, group: str, name: str) -> None:
        _, password = await self.reset(group, name)
        names = await self.run(read_display_names, DataLayout(self.site.data_dir))
        page = await self.run(
            slips.render_slips,
            [(names.get(name, name), name, password)],
            public_url(self),
            site_name=self.site.name,
            title=f"New password for {name}",
        )
        self.finish(page)


default_handlers = [
    (r"roster", RosterPage),
    (r"api/roster", RosterAPI),
    (r"api/groups/([^/]+)/users/([^/]+)/password", PasswordAPI),
    (r"groups/([^/]+)/users/([^/]+)/password", PasswordForm),
]
