"""The classroom service's showcase API: propose, record consent, approve, decline, withdraw.

    POST   /services/classroom/api/groups/<g>/showcase/proposals            {piece, title, description}
    GET    /services/classroom/api/groups/<g>/showcase/mine                 the caller's own proposals (member of g)
    GET    /services/classroom/api/groups/<g>/showcase/proposals            (teacher of g)
    POST   /services/classroom/api/groups/<g>/showcase/proposals/<id>/approve   {lang: en|es} (teacher of g)
    POST   /services/classroom/api/groups/<g>/showcase/proposals/<id>/decline   {note} (teacher of g)
    POST   /services/classroom/api/groups/<g>/showcase/consent/<student>    {given: true|false} (teacher of g)
    DELETE /services/classroom/api/groups/<g>/showcase/proposals/<id>      waiting or published (author, teacher of g)
    DELETE /services/classroom/api/showcase/<token>                          (the author, or a teacher of g)
    GET    /services/classroom/api/groups/<g>/showcase/gallery              its state (teacher of g)
    POST   /services/classroom/api/groups/<g>/showcase/gallery              {enabled: true|false, lang} (teacher of g)
    GET    /services/classroom/groups/<g>/showcase/<id>/preview             what approval would publish (teacher of g)

A member proposes only a piece whose folder they own (the operating system's word, read by
`pieces.read_one`); only a teacher approves, so a student approving their own piece gets
403 like anybody else. The work happens in `showcase_publish`, as root, off the event loop.
Answers that concern a published piece carry its family link, `/services/showcase/p/<token>`.
After every approve, decline and withdraw the group's gallery (`showcase_gallery`) is
rewritten, when the group has one turned on.
"""

from __future__ import annotations

import asyncio
import pwd
from typing import Any
from urllib.parse import quote

from tornado import web
from tornado.httpclient import HTTPClientError

from ..errors import ClhubError
from ..paths import DataLayout
from ..settings import validate_username
from ..showcase import gallery, publish
from ..showcase.snapshot import SnapshotError
from .base import APIHandler, log, member_of, teaches


def proposal_json(proposal: dict[str, Any]) -> dict[str, Any]:
    answer = {
        k: proposal.get(k)
        for k in (
            "id",
            "group",
            "piece",
            "version",
            "owner",
            "author_display",
            "title",
            "description",
            "status",
            "created",
            "decided_by",
            "decided",
            "note",
        )
    }
    if "consent" in proposal:
        answer["consent"] = proposal["consent"]
    if proposal.get("status") == "published" and proposal.get("token"):
        answer["token"] = proposal["token"]
        answer["link"] = publish.family_link(proposal["token"])
    return answer


class ShowcaseAPI(APIHandler):
    async def run(self, action: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking publishing step off the event loop; its errors become HTTP answers."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, lambda: action(*args, **kwargs))
        except publish.ShowcaseError as e:
            raise web.HTTPError(e.status, e.message) from None
        except SnapshotError as e:  # the piece cannot be published as it is: the message says why
            raise web.HTTPError(422, e.message) from None
        except ClhubError as e:
            raise web.HTTPError(400, e.message) from None

    def json_body(self) -> dict[str, Any]:
        # The teacher's page posts plain forms; scripts post JSON.
        if self.request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return {k: self.get_body_argument(k) for k in self.request.body_arguments if k != "_xsrf"}
        return super().json_body()

    def answer(self, group: str, reply: dict[str, Any]) -> None:
        """JSON for scripts; back to the classroom page for the page's buttons."""
        if self.get_body_argument("from_page", "") == "1":
            self.redirect(self.settings["prefix"] + f"#showcase-{group}")
        else:
            self.finish(reply)

    def group_place(self, group: str) -> Any:
        try:
            return self.place(group)
        except ClhubError as e:
            raise web.HTTPError(404, e.message) from None

    async def names_in(self, group: str) -> set[str]:
        """Every user name of the group: none of them may appear on a published page."""
        try:
            model = await self.hub.get(f"/groups/{quote(group)}")
        except HTTPClientError:
            return set()
        return set(model.get("users", []))

    async def refresh_gallery(self, group: str) -> None:
        """Rewrite the group's gallery after a change; the change itself stands whatever happens here."""
        try:
            place = self.place(group)
            names = await self.names_in(group)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: gallery.refresh(place, usernames=names, gid=publish.reader_gid(self.host))
            )
        except Exception:
            log.exception("The showcase gallery of %s was not refreshed", group)


def mine_json(proposal: dict[str, Any]) -> dict[str, Any]:
    """A proposal as its author sees it: no teacher's user name."""
    answer = proposal_json(proposal)
    answer.pop("decided_by", None)
    return answer


def home_paths(data_dir: Any, names: set[str]) -> list[str]:
    homes = [str(DataLayout(data_dir).homes / n) for n in names]
    for name in names:
        try:
            homes.append(pwd.getpwnam(name).pw_dir)
        except KeyError:
            pass
    return [h for h in homes if h not in ("/", "/nonexistent")]


def language(body: dict[str, Any]) -> str:
    """The family page's language the teacher chose ("en" or "es"); English otherwise."""
    lang = body.get("lang", "en")
    if lang not in ("en", "es"):
        raise web.HTTPError(400, 'The page\'s language is "en" (English) or "es" (Spanish).')
    return lang


class ProposalsAPI(ShowcaseAPI):
    @web.authenticated
    async def get(self, group: str) -> None:
        place = self.group_place(group)
        await self.require_teacher(group)
        found = await self.run(publish.list_proposals, place)
        self.finish({"proposals": [proposal_json(p) for p in found]})

    @web.authenticated
    async def post(self, group: str) -> None:
        place = self.group_place(group)
        me = await self.me()
        if not member_of(me, group):
            raise web.HTTPError(403, f"You are not a member of the group {group!r}.")
        body = self.json_body()
        proposal = await self.run(
            publish.propose,
            place,
            me["name"],
            str(body.get("piece", "")),
            body.get("title", ""),
            body.get("description", ""),
        )
        log.info("%s proposed %s of %s for the showcase", me["name"], proposal["piece"], group)
        self.set_status(201)
        self.finish(proposal_json(proposal))


class MineAPI(ShowcaseAPI):
    """A member's own proposals in the group, and nobody else's."""

    @web.authenticated
    async def get(self, group: str) -> None:
        place = self.group_place(group)
        me = await self.me()
        if not (member_of(me, group) or teaches(me, group)):
            raise web.HTTPError(403, f"You are not a member of the group {group!r}.")
        found = await self.run(publish.list_proposals, place)
        self.finish({"proposals": [mine_json(p) for p in found if p.get("owner") == me["name"]]})


class DecisionAPI(ShowcaseAPI):
    @web.authenticated
    async def post(self, group: str, proposal_id: str, action: str) -> None:
        place = self.group_place(group)
        me = await self.require_teacher(group)
        if action == "approve":
            names = await self.names_in(group)
            proposal = await self.run(
                publish.approve,
                place,
                proposal_id,
                me["name"],
                usernames=names,
                home_paths=home_paths(self.site.data_dir, names | {me["name"]}),
                gid=publish.reader_gid(self.host),
                live=self.site.showcase_live,
                live_gid=publish.live_gid(self.host),
                lang=language(self.json_body()),
            )
            log.info("%s approved %s of %s for the showcase", me["name"], proposal["piece"], group)
        else:
            note = self.json_body().get("note", "")
            proposal = await self.run(publish.decline, place, proposal_id, me["name"], note)
            log.info("%s declined proposal %s of %s", me["name"], proposal_id, group)
        await self.refresh_gallery(group)
        self.answer(group, proposal_json(proposal))


class ConsentAPI(ShowcaseAPI):
    @web.authenticated
    async def post(self, group: str, student: str) -> None:
        self.group_place(group)
        me = await self.require_teacher(group)
        try:
            validate_username(student)
            target = await self.hub.user(student)
        except (ClhubError, HTTPClientError):
            raise web.HTTPError(404, f"There is no student {student[:40]!r} in {group}.") from None
        if group not in target.get("groups", []):
            raise web.HTTPError(404, f"There is no student {student!r} in {group}.")
        given = self.json_body().get("given")
        given = {"true": True, "false": False}.get(given, given) if isinstance(given, str) else given
        if not isinstance(given, bool):
            raise web.HTTPError(400, 'Say "given": true when the family agreed, "given": false when not.')
        record = await self.run(publish.record_consent, self.site.data_dir, student, given, me["name"])
        log.info("%s recorded family consent %s for %s", me["name"], given, student)
        self.answer(group, {"student": student, **record})


class ProposalAPI(ShowcaseAPI):
    @web.authenticated
    async def delete(self, group: str, proposal_id: str) -> None:
        """The author or a teacher of the group withdraws a proposal, waiting or published."""
        place = self.group_place(group)
        me = await self.me()
        proposal = await self.run(publish.get_proposal, place, proposal_id)
        if me["name"] != proposal.get("owner") and not teaches(me, group):
            raise web.HTTPError(403, "Only the author and their teachers can withdraw this proposal.")
        proposal = await self.run(publish.withdraw_proposal, place, proposal_id, me["name"])
        log.info("%s withdrew proposal %s of %s", me["name"], proposal_id, group)
        await self.refresh_gallery(group)
        self.set_status(204)
        self.finish()


class WithdrawAPI(ShowcaseAPI):
    @web.authenticated
    async def delete(self, token: str) -> None:
        me = await self.me()
        meta = await self.run(publish.published_meta, self.site.data_dir, token)
        if me["name"] != meta.get("owner") and not teaches(me, str(meta.get("group", ""))):
            raise web.HTTPError(403, "Only the author and their teachers can withdraw this piece.")
        await self.run(publish.withdraw, self.site.data_dir, token, me["name"])
        log.info("%s withdrew showcase page %s… of %s", me["name"], token[:6], meta.get("group"))
        await self.refresh_gallery(str(meta.get("group", "")))
        self.set_status(204)
        self.finish()


class GalleryAPI(ShowcaseAPI):
    @web.authenticated
    async def get(self, group: str) -> None:
        place = self.group_place(group)
        await self.require_teacher(group)
        self.finish(await self.run(gallery.read_state, place))

    @web.authenticated
    async def post(self, group: str) -> None:
        place = self.group_place(group)
        me = await self.require_teacher(group)
        body = self.json_body()
        enabled = body.get("enabled")
        enabled = {"true": True, "false": False}.get(enabled, enabled) if isinstance(enabled, str) else enabled
        names = await self.names_in(group)
        state = await self.run(
            gallery.set_enabled,
            place,
            enabled,
            me["name"],
            usernames=names,
            gid=publish.reader_gid(self.host),
            lang=body.get("lang", "en"),
        )
        log.info("%s turned the showcase gallery of %s %s", me["name"], group, "on" if state["enabled"] else "off")
        self.answer(group, state)


class PreviewPage(ShowcaseAPI):
    """What approving a proposal would publish, rendered now and stored nowhere.

    It is student-made content on the classroom's origin, so it is served sandboxed (no
    scripts, no same-origin) like the family page, and never cached. Where the site offers
    "Play with it", the code the live page will run follows the page, so approval is informed.
    """

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", "sandbox")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "SAMEORIGIN")

    @web.authenticated
    async def get(self, group: str, proposal_id: str) -> None:
        place = self.group_place(group)
        me = await self.require_teacher(group)
        proposal = await self.run(publish.get_proposal, place, proposal_id)
        names = await self.names_in(group)
        made = await self.run(
            publish.render_proposal,
            place,
            proposal,
            me["name"],
            usernames=names,
            home_paths=home_paths(self.site.data_dir, names | {me["name"]}),
        )
        page = made.page
        if self.site.showcase_live:
            code = await self.run(publish.live_code_listing, made.snapshot)
            if code:  # a piece without a notebook previews exactly as it publishes
                page = page.replace("</main>", f"{code}\n</main>", 1)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)


def routes(prefix: str, api: str) -> list[tuple[str, type]]:
    group = api + r"/groups/([^/]+)/showcase"
    return [
        (prefix + r"groups/([^/]+)/showcase/([^/]+)/preview", PreviewPage),
        (group + "/mine", MineAPI),
        (group + "/gallery", GalleryAPI),
        (group + "/proposals", ProposalsAPI),
        (group + r"/proposals/([^/]+)/(approve|decline)", DecisionAPI),
        (group + r"/proposals/([^/]+)", ProposalAPI),
        (group + r"/consent/([^/]+)", ConsentAPI),
        (api + r"/showcase/([^/]+)", WithdrawAPI),
    ]
