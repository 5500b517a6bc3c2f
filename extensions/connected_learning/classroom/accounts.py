"""The classroom service's accounts pages: import a class list, print login slips, reset a password,
rename a learner, remove one (with a window to undo).

    GET  /services/classroom/roster            the upload form
    POST /services/classroom/roster            check the file; on success create and show the slips
    POST /services/classroom/api/roster        the same for scripts (`clhub roster import`): CSV body
    POST /services/classroom/api/groups/<g>/users/<u>/password   a temporary password (teacher of g)
    GET  /services/classroom/groups/<g>/users/<u>/password       "Reset the password?" (teacher of g)
    POST /services/classroom/groups/<g>/users/<u>/password       with confirm=yes: the printable slip
    POST /services/classroom/groups/<g>/users/<u>/name           a new display name, checked as an import's
    GET  /services/classroom/groups/<g>/users/<u>/remove         "Remove from the class?"
    POST /services/classroom/groups/<g>/users/<u>/remove         with confirm=yes: log-in off now, gone later
    POST /services/classroom/groups/<g>/users/<u>/undo           the removal undone (in its window)

Buttons that cannot be taken back ask first on a page of their own, so the question works
without JavaScript: a POST without `confirm=yes` only shows the question again. A removal
can be undone for `removal.UNDO_SECONDS`; a password reset cannot (the old password is
not kept anywhere to restore), so it only asks.

Only an admin or a teacher of some group imports; each row must then be theirs to make
(`enrolment.check_permission`: a teacher adds students and mentors to the groups they teach).

A class list is checked whole (`roster.validate_roster`, then `enrolment.check_permission`)
and applied only when every row is sound and allowed; otherwise the answer lists every
problem with its line number and nothing is created (HTTP 422).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from tornado import web
from tornado.httpclient import HTTPClientError

from ..accounts import enrolment, removal, roster, slips
from ..accounts.store import read_display_names
from ..errors import ClhubError
from ..paths import DataLayout
from ..settings import validate_username
from .base import BaseHandler, Hub, log
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
                db_url=self.site.database_url,
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


class LearnerHandler(BaseHandler):
    """A request about one learner of a group the caller teaches (the method's rule checks the group)."""

    async def learner(self, group: str, name: str, doing: str) -> dict[str, Any]:
        """`name`'s hub model: 404 unless they are in `group`; 403 for a teacher or an admin (an admin's business)."""
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
            any(r.startswith("teacher-") for r in target.get("roles", [])) and not self.me.get("admin")
        ):
            raise web.HTTPError(403, f"Only an administrator can {doing} {name!r}.")
        return target

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.site.data_dir)

    def confirmed(self) -> bool:
        return self.get_body_argument("confirm", "") == "yes"

    def back_to(self, group: str) -> None:
        self.redirect(self.settings["prefix"] + f"#group-{quote(group)}")

    async def ask(self, group: str, name: str, *, action: str, title: str, question: str, button: str) -> None:
        """The confirmation page: what will happen to whom, a red button that does it, a way back."""
        names = await self.run(read_display_names, self.layout)
        self.page(
            "confirm.html",
            group=group,
            name=name,
            display=names.get(name, ""),
            action=action,
            title=title,
            question=question,
            button=button,
        )


class PasswordAPI(LearnerHandler):
    async def reset(self, group: str, name: str) -> tuple[dict[str, Any], str]:
        """A temporary password for `name`, a learner of `group` (the caller teaches it: the method's rule).

        Beyond the rule: only an admin resets the password of a teacher or an admin.
        """
        target = await self.learner(group, name, "reset the password of")
        if await self.run(removal.entry_for, self.layout, name):
            raise web.HTTPError(409, f"{name} is being removed from the class; undo that first.")
        password = await self.run(
            enrolment.reset_password, self.layout, self.site.database_url, name, self.site.min_password_length
        )
        # Whoever was using the account (perhaps not its owner) is out at once: browsers, tokens, server.
        await self.hub.end_sessions(name)
        log.info("%s reset the password of %s and ended their sessions", self.me["name"], name)
        return target, password

    @teacher_of_group
    async def post(self, group: str, name: str) -> None:
        _, password = await self.reset(group, name)
        self.finish({"username": name, "password": password, "must_change": True})


class PasswordForm(PasswordAPI):
    """The teacher page's Reset password: asks first, then shows a slip with the temporary password."""

    @teacher_of_group
    async def get(self, group: str, name: str) -> None:
        await self.learner(group, name, "reset the password of")
        await self.ask(
            group,
            name,
            action="password",
            title="Reset the password?",
            question="They get a new password on a slip and choose their own when they next log in. "
            "The old password stops working at once and they are logged out everywhere. This cannot be undone.",
            button="Yes, reset the password and print a slip",
        )

    @teacher_of_group
    async def post(self, group: str, name: str) -> None:
        if not self.confirmed():
            await self.get(group, name)
            return
        _, password = await self.reset(group, name)
        names = await self.run(read_display_names, self.layout)
        page = await self.run(
            slips.render_slips,
            [(names.get(name, name), name, password)],
            public_url(self),
            site_name=self.site.name,
            title=f"New password for {name}",
        )
        self.finish(page)


class NameForm(LearnerHandler, RosterMixin):
    """A teacher gives a learner of their group a new display name (checked as a class list's)."""

    @teacher_of_group
    async def post(self, group: str, name: str) -> None:
        await self.learner(group, name, "rename")
        given = await self.run(enrolment.rename, self.layout, name, self.get_body_argument("display_name", ""))
        # Peers read the group's copy of the names: write it now, not at the next sweep.
        await self.rename_in_groups({name})
        log.info("%s renamed %s to %r", self.me["name"], name, given)
        self.back_to(group)


class RemoveForm(LearnerHandler):
    """Remove a learner: asks first; then their log-in is off at once and the account goes after the undo window."""

    @teacher_of_group
    async def get(self, group: str, name: str) -> None:
        await self.learner(group, name, "remove")
        minutes = removal.UNDO_SECONDS // 60
        await self.ask(
            group,
            name,
            action="remove",
            title="Remove from the class?",
            question=f"They cannot log in from now on and are logged out everywhere. For {minutes} minutes "
            "you can undo it on the classroom page; after that the account is deleted for good.",
            button="Yes, remove the account",
        )

    @teacher_of_group
    async def post(self, group: str, name: str) -> None:
        if not self.confirmed():
            await self.get(group, name)
            return
        await self.learner(group, name, "remove")
        entry = await self.run(removal.schedule, self.layout, self.site.database_url, name, group, self.me["name"])
        await self.hub.end_sessions(name)
        log.info(
            "%s removed %s from %s: deleted for good at %s unless undone", self.me["name"], name, group, entry["due"]
        )
        self.back_to(group)


class UndoForm(LearnerHandler):
    @teacher_of_group
    async def post(self, group: str, name: str) -> None:
        await self.learner(group, name, "undo the removal of")
        await self.run(removal.undo, self.layout, self.site.database_url, name)
        log.info("%s undid the removal of %s", self.me["name"], name)
        self.back_to(group)


REMOVAL_CHECK_SECONDS = 30.0


async def remove_due(app: web.Application) -> None:
    """Delete from the hub every account whose undo window has ended (the list is on disk: restarts keep it)."""
    hub: Hub = app.settings["hub"]
    layout = DataLayout(app.settings["site"].data_dir)
    loop = asyncio.get_running_loop()
    for name in await loop.run_in_executor(None, removal.due, layout):
        try:
            groups = list((await hub.get(f"/users/{quote(name)}")).get("groups", []))
        except HTTPClientError as e:
            if e.code != 404:
                raise
            groups = []  # already gone from the hub: only the list and the files are left
        else:
            await hub.call("DELETE", f"/users/{quote(name)}")
        hub.forget(name)
        await loop.run_in_executor(None, removal.forget, layout, name, groups)
        log.info("Removed %s for good: the time to undo had ended", name)


async def removal_sweep(app: web.Application) -> None:
    while True:
        try:
            await remove_due(app)
        except (HTTPClientError, OSError, ClhubError) as e:
            log.warning("Accounts waiting for removal not removed this time: %s", e)
        await asyncio.sleep(min(REMOVAL_CHECK_SECONDS, app.settings["sweep_seconds"]))


default_handlers = [
    (r"roster", RosterPage),
    (r"api/roster", RosterAPI),
    (r"api/groups/([^/]+)/users/([^/]+)/password", PasswordAPI),
    (r"groups/([^/]+)/users/([^/]+)/password", PasswordForm),
    (r"groups/([^/]+)/users/([^/]+)/name", NameForm),
    (r"groups/([^/]+)/users/([^/]+)/remove", RemoveForm),
    (r"groups/([^/]+)/users/([^/]+)/undo", UndoForm),
]
