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
    GET    /services/classroom/groups/<g>/showcase                          the group's proposals and published pieces
    GET    /services/classroom/groups/<g>/showcase/<id>/take-down           "take this piece down?" (teacher of g)
    POST   /services/classroom/groups/<g>/showcase/<id>/take-down           {note?}: takes it down, back to the list

A member proposes only a piece whose folder they own (the operating system's word, read by
`pieces.read_one`); only a teacher approves, so a student approving their own piece gets
403 like anybody else. The work happens in `showcase.publish`, as root, in a thread.
Answers that concern a published piece carry its family link, `/services/showcase/p/<token>`.
After every approve, decline and withdraw the group's gallery (`showcase.gallery`) is
rewritten, when the group has one turned on.
A mentor is a member: they propose and follow only pieces of their own.
A teacher takes a published piece down from the group's showcase page, after a confirmation
page (a plain form: it works without scripts); it is `publish.withdraw_proposal`, as the
author's own withdraw, so the family link answers 404 at once and the author sees "Taken
down" (with the teacher's note) in MY-SHOWCASE.
"""

from __future__ import annotations

import pwd
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tornado import web
from tornado.httpclient import HTTPClientError

from ..errors import ClhubError
from ..host.base import Host
from ..paths import DataLayout
from ..peer_review.moderation import Place
from ..settings import validate_username
from ..showcase import gallery, publish
from ..showcase.live_copy import live_code_listing
from .base import APIHandler, BaseHandler, Owned, SandboxedPage, log
from .rules import author_or_teacher, member_of_group, member_or_teacher_of_group, teacher_of_group


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


def mine_json(proposal: dict[str, Any]) -> dict[str, Any]:
    """A proposal as its author sees it: no teacher's user name."""
    answer = proposal_json(proposal)
    answer.pop("decided_by", None)
    return answer


def home_paths(data_dir: Path, names: Collection[str]) -> list[str]:
    """Every home folder of `names`: none may appear on a published page (blocking: asks the user database)."""
    # /home/<name>: one machine's default and every Kubernetes pod's (host/kubernetes.py).
    homes = [str(DataLayout(data_dir).homes / n) for n in names] + [f"/home/{n}" for n in names]
    for name in names:
        try:
            homes.append(pwd.getpwnam(name).pw_dir)
        except KeyError:
            pass
    return [h for h in homes if h not in ("/", "/nonexistent")]


def language(body: dict[str, Any]) -> str:
    """The family page's language the teacher chose: one the showcase has a translation file for
    (`showcase/messages.py`: English, Spanish, and any a site added); English when none is given."""
    from ..showcase.messages import language_name, languages

    lang = body.get("lang", "en")
    if lang not in languages():
        known = ", ".join(f'"{code}" ({language_name(code)})' for code in languages())
        raise web.HTTPError(400, f"The page's language is one of {known}, not {str(lang)[:20]!r}.")
    return str(lang)


def approve(
    place: Place, proposal_id: str, by: str, names: set[str], host: Host, live: bool, lang: str
) -> dict[str, Any]:
    """`publish.approve` with what it must keep off the page and the service users' groups (blocking)."""
    return publish.approve(
        place,
        proposal_id,
        by,
        usernames=names,
        home_paths=home_paths(place.data_dir, names | {by}),
        gid=publish.reader_gid(host),
        live=live,
        live_gid=publish.live_gid(host),
        lang=lang,
    )


def preview(place: Place, proposal_id: str, by: str, names: set[str], live: bool) -> str:
    """The page approving the proposal would publish, with the code a live page would run (blocking)."""
    proposal = publish.get_proposal(place, proposal_id)
    made = publish.render_proposal(
        place, proposal, by, usernames=names, home_paths=home_paths(place.data_dir, names | {by})
    )
    page = made.page
    if live:
        code = live_code_listing(made.snapshot)
        if code:  # a piece without a notebook previews exactly as it publishes
            page = page.replace("</main>", f"{code}\n</main>", 1)
    return page


class ShowcaseAPI(APIHandler):
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
            await self.run(lambda: gallery.refresh(place, usernames=names, gid=publish.reader_gid(self.host)))
        except Exception:
            log.exception("The showcase gallery of %s was not refreshed", group)


class ProposalsAPI(ShowcaseAPI):
    @teacher_of_group
    async def get(self, group: str) -> None:
        found = await self.run(publish.list_proposals, self.place(group))
        self.finish({"proposals": [proposal_json(p) for p in found]})

    @member_of_group
    async def post(self, group: str) -> None:
        body = self.json_body()
        proposal = await self.run(
            publish.propose,
            self.place(group),
            self.me["name"],
            str(body.get("piece", "")),
            body.get("title", ""),
            body.get("description", ""),
        )
        log.info("%s proposed %s of %s for the showcase", self.me["name"], proposal["piece"], group)
        self.set_status(201)
        self.finish(proposal_json(proposal))


class MineAPI(ShowcaseAPI):
    """A member's own proposals in the group, and nobody else's."""

    @member_or_teacher_of_group
    async def get(self, group: str) -> None:
        found = await self.run(publish.list_proposals, self.place(group))
        self.finish({"proposals": [mine_json(p) for p in found if p.get("owner") == self.me["name"]]})


class DecisionAPI(ShowcaseAPI):
    @teacher_of_group
    async def post(self, group: str, proposal_id: str, action: str) -> None:
        me = self.me["name"]
        place = self.place(group)
        if action == "approve":
            lang = language(self.json_body())
            names = await self.names_in(group)
            proposal = await self.run(approve, place, proposal_id, me, names, self.host, self.site.showcase_live, lang)
            log.info("%s approved %s of %s for the showcase", me, proposal["piece"], group)
        else:
            note = self.json_body().get("note", "")
            proposal = await self.run(publish.decline, place, proposal_id, me, note)
            log.info("%s declined proposal %s of %s", me, proposal_id, group)
        await self.refresh_gallery(group)
        self.answer(group, proposal_json(proposal))


class ConsentAPI(ShowcaseAPI):
    @teacher_of_group
    async def post(self, group: str, student: str) -> None:
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
        record = await self.run(publish.record_consent, self.site.data_dir, student, given, self.me["name"])
        log.info("%s recorded family consent %s for %s", self.me["name"], given, student)
        self.answer(group, {"student": student, **record})


async def proposal_owner(handler: BaseHandler, group: str, proposal_id: str) -> Owned:
    """Who proposed `proposal_id` of `group` (404 when there is no such proposal)."""
    proposal = await handler.run(publish.get_proposal, handler.place(group), proposal_id)
    return Owned(str(proposal.get("owner", "")), group)


async def page_owner(handler: BaseHandler, token: str) -> Owned:
    """Whose published piece the link `token` shows, and in which group (404 when none)."""
    meta = await handler.run(publish.published_meta, handler.site.data_dir, token)
    return Owned(str(meta.get("owner", "")), str(meta.get("group", "")))


class ProposalAPI(ShowcaseAPI):
    @author_or_teacher(proposal_owner, "Only the author and their teachers can withdraw this proposal.")
    async def delete(self, group: str, proposal_id: str) -> None:
        """The author or a teacher of the group withdraws a proposal, waiting or published."""
        await self.run(publish.withdraw_proposal, self.place(group), proposal_id, self.me["name"])
        log.info("%s withdrew proposal %s of %s", self.me["name"], proposal_id, group)
        await self.refresh_gallery(group)
        self.set_status(204)
        self.finish()


class WithdrawAPI(ShowcaseAPI):
    @author_or_teacher(page_owner, "Only the author and their teachers can withdraw this piece.")
    async def delete(self, token: str) -> None:
        group = self.owned.group if self.owned else ""
        await self.run(publish.withdraw, self.site.data_dir, token, self.me["name"])
        log.info("%s withdrew showcase page %s… of %s", self.me["name"], token[:6], group)
        await self.refresh_gallery(group)
        self.set_status(204)
        self.finish()


class GalleryAPI(ShowcaseAPI):
    @teacher_of_group
    async def get(self, group: str) -> None:
        self.finish(await self.run(gallery.read_state, self.place(group)))

    @teacher_of_group
    async def post(self, group: str) -> None:
        body = self.json_body()
        enabled = body.get("enabled")
        enabled = {"true": True, "false": False}.get(enabled, enabled) if isinstance(enabled, str) else enabled
        names = await self.names_in(group)
        place, me, lang = self.place(group), self.me["name"], body.get("lang", "en")
        state = await self.run(
            lambda: gallery.set_enabled(
                place, enabled, me, usernames=names, gid=publish.reader_gid(self.host), lang=lang
            )
        )
        log.info("%s turned the showcase gallery of %s %s", me, group, "on" if state["enabled"] else "off")
        self.answer(group, state)


class PreviewPage(SandboxedPage, ShowcaseAPI):
    """What approving a proposal would publish, rendered now and stored nowhere.

    It is student-made content on the classroom's origin, so it is served sandboxed (no
    scripts, no same-origin) like the family page, and never cached. Where the site offers
    "Play with it", the code the live page will run follows the page, so approval is informed.
    """

    @teacher_of_group
    async def get(self, group: str, proposal_id: str) -> None:
        names = await self.names_in(group)
        page = await self.run(preview, self.place(group), proposal_id, self.me["name"], names, self.site.showcase_live)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)


STATUS_WORDS = {
    "proposed": "Waiting for your decision",
    "published": "Published",
    "declined": "Declined",
    "withdrawn": "Taken down",
}


class ShowcasePage(ShowcaseAPI):
    """The group's showcase: every proposal, the family link of each published piece, take-down links."""

    @teacher_of_group
    async def get(self, group: str) -> None:
        found = await self.run(publish.list_proposals, self.place(group))
        done = self.get_argument("taken_down", "")
        taken = next((p for p in found if p.get("id") == done and p.get("status") == "withdrawn"), None)
        self.page(
            "showcase.html",
            group=group,
            proposals=[proposal_json(p) for p in found],
            words=STATUS_WORDS,
            taken=taken,
        )


class TakeDownPage(ShowcaseAPI):
    """Take a published piece down: a confirmation page, then the form's POST does it."""

    async def published(self, group: str, proposal_id: str) -> dict[str, Any]:
        proposal = await self.run(publish.get_proposal, self.place(group), proposal_id)
        if proposal.get("status") != "published":
            raise web.HTTPError(
                409, f"{proposal.get('title', proposal_id)!r} is not on the showcase (it is {proposal.get('status')})."
            )
        return proposal

    @teacher_of_group
    async def get(self, group: str, proposal_id: str) -> None:
        proposal = await self.published(group, proposal_id)
        self.page("take_down.html", group=group, p=proposal_json(proposal))

    @teacher_of_group
    async def post(self, group: str, proposal_id: str) -> None:
        await self.published(group, proposal_id)
        note = self.get_body_argument("note", "")
        await self.run(publish.withdraw_proposal, self.place(group), proposal_id, self.me["name"], note)
        log.info("%s took down showcase proposal %s of %s", self.me["name"], proposal_id, group)
        await self.refresh_gallery(group)
        self.redirect(self.settings["prefix"] + f"groups/{group}/showcase?taken_down={proposal_id}")


default_handlers = [
    (r"groups/([^/]+)/showcase", ShowcasePage),
    (r"groups/([^/]+)/showcase/([^/]+)/take-down", TakeDownPage),
    (r"groups/([^/]+)/showcase/([^/]+)/preview", PreviewPage),
    (r"api/groups/([^/]+)/showcase/mine", MineAPI),
    (r"api/groups/([^/]+)/showcase/gallery", GalleryAPI),
    (r"api/groups/([^/]+)/showcase/proposals", ProposalsAPI),
    (r"api/groups/([^/]+)/showcase/proposals/([^/]+)/(approve|decline)", DecisionAPI),
    (r"api/groups/([^/]+)/showcase/proposals/([^/]+)", ProposalAPI),
    (r"api/groups/([^/]+)/showcase/consent/([^/]+)", ConsentAPI),
    (r"api/showcase/([^/]+)", WithdrawAPI),
]
