"""The classroom service's moderation: a group's pieces, feedback and reports.

    GET    /services/classroom/api/groups/<g>/pieces                         every piece, hidden ones too
    POST   /services/classroom/api/groups/<g>/pieces/<p>/hide|unhide
    DELETE /services/classroom/api/groups/<g>/pieces/<p>
    POST   /services/classroom/api/groups/<g>/pieces/<p>/feedback/<f>/hide
    DELETE /services/classroom/api/groups/<g>/pieces/<p>/feedback/<f>
    GET    /services/classroom/api/groups/<g>/reports
    POST   /services/classroom/api/groups/<g>/reports                        {piece, reason, feedback?} (member)
    POST   /services/classroom/api/groups/<g>/reports/<id>/dismiss
    POST   /services/classroom/groups/<g>/act                                the teacher page's buttons
    GET    /services/classroom/groups/<g>/moderation                         reports and pieces, each one to open
    GET    /services/classroom/groups/<g>/pieces/<p>                         one piece, read-only: its files,
                                                                             feedback and the reports about it
    GET    /services/classroom/groups/<g>/pieces/<p>/view                    the piece's files rendered, sandboxed

A teacher of <g> or an admin moderates; a member (or teacher) of <g> reports. The work is
`peer_review.moderation`, in a thread: it renames and removes entries of the group's folder
without following anything a learner could have turned into a symlink.

A teacher opens a reported piece read-only. Its files are a learner's: they are read without
following symlinks (`pieces.version_files`), rendered like a showcase page (`showcase.render`:
code shown as text, never run, everything through `showcase.sanitize`), and served on a URL of
their own with `Content-Security-Policy: sandbox`, inside a sandboxed frame of the teacher's
page, as the showcase preview is; the page around it escapes every word a learner wrote.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tornado import web

from ..peer_review import moderation, pieces
from ..showcase.render import render_page
from ..showcase.sanitize import esc
from ..showcase.snapshot import SnapshotError
from .base import APIHandler, BaseHandler, SandboxedPage
from .rules import member_or_teacher_of_group, teacher_of_group


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
    @teacher_of_group
    async def get(self, group: str) -> None:
        found = await self.run(moderation.list_pieces, self.place(group))
        self.finish({"pieces": [piece_json(view, hidden) for view, hidden in found]})


class PieceAPI(APIHandler):
    @teacher_of_group
    async def post(self, group: str, piece: str, action: str) -> None:
        actions = {"hide": moderation.hide_piece, "unhide": moderation.unhide_piece}
        if action not in actions:
            raise web.HTTPError(404, f"Unknown action {action!r}; use hide or unhide.")
        await self.run(actions[action], self.place(group), piece)
        self.finish({"piece": piece, "done": action})

    @teacher_of_group
    async def delete(self, group: str, piece: str, action: str = "") -> None:
        await self.run(moderation.delete_piece, self.place(group), piece)
        self.set_status(204)
        self.finish()


class FeedbackAPI(APIHandler):
    @teacher_of_group
    async def post(self, group: str, piece: str, file: str, action: str) -> None:
        if action != "hide":
            raise web.HTTPError(404, f"Unknown action {action!r}; use hide.")
        await self.run(moderation.hide_feedback, self.place(group), piece, file)
        self.finish({"piece": piece, "feedback": file, "done": "hide"})

    @teacher_of_group
    async def delete(self, group: str, piece: str, file: str, action: str = "") -> None:
        await self.run(moderation.delete_feedback, self.place(group), piece, file)
        self.set_status(204)
        self.finish()


class ReportsAPI(APIHandler):
    @teacher_of_group
    async def get(self, group: str) -> None:
        self.finish({"reports": await self.run(moderation.list_reports, self.place(group))})

    @member_or_teacher_of_group
    async def post(self, group: str) -> None:
        body = self.json_body()
        report = await self.run(
            moderation.add_report,
            self.place(group),
            self.me["name"],
            str(body.get("piece", "")),
            str(body.get("reason", "")),
            str(body.get("feedback", "") or ""),
        )
        self.set_status(201)
        self.finish({"id": report["id"], "status": report["status"]})


class ReportAPI(APIHandler):
    @teacher_of_group
    async def post(self, group: str, report_id: str) -> None:
        await self.run(moderation.close_report, self.place(group), report_id, "dismissed", self.me["name"])
        self.finish({"id": report_id, "status": "dismissed"})


class ActionForm(BaseHandler):
    """The teacher page's buttons: POST forms that call the same moderation functions."""

    @teacher_of_group
    async def post(self, group: str) -> None:
        action = self.get_body_argument("action", "")
        piece = self.get_body_argument("piece", "")
        file = self.get_body_argument("file", "")
        report = self.get_body_argument("report", "")
        place = self.place(group)
        forms = {
            "hide": lambda: moderation.hide_piece(place, piece),
            "unhide": lambda: moderation.unhide_piece(place, piece),
            "delete": lambda: moderation.delete_piece(place, piece),
            "hide-feedback": lambda: moderation.hide_feedback(place, piece, file),
            "delete-feedback": lambda: moderation.delete_feedback(place, piece, file),
            "dismiss": lambda: moderation.close_report(place, report, "dismissed", self.me["name"]),
        }
        if action not in forms:
            raise web.HTTPError(400, f"Unknown action {action[:30]!r}.")
        await self.run(forms[action])
        back = self.get_body_argument("back", "")
        if back == "piece" and action in ("hide", "unhide", "dismiss", "hide-feedback"):
            self.redirect(self.settings["prefix"] + f"groups/{group}/pieces/{moderation.validate_piece_id(piece)}")
        elif back == "moderation":
            self.redirect(self.settings["prefix"] + f"groups/{group}/moderation")
        else:
            self.redirect(self.settings["prefix"] + f"#group-{group}")


MAX_PIECE_BYTES = 20_000_000
SHOWN_TO_TEACHER = "Shown to a teacher as it was shared, read-only. Not published."


def find_piece(place: moderation.Place, piece_id: str) -> tuple[pieces.PieceView, bool, Path]:
    """A piece of the group, visible or hidden: (view, hidden, its folder); NotFound otherwise (blocking)."""
    moderation.validate_piece_id(piece_id)
    for folder, hidden in ((place.shared, False), (place.hidden, True)):
        try:
            view = pieces.read_one(folder, piece_id)
        except OSError:
            continue
        if view.ok:
            return view, hidden, folder
    raise moderation.NotFound(f"There is no piece called {piece_id!r} in {place.group}.")


def piece_page(place: moderation.Place, piece_id: str) -> dict[str, Any]:
    """What the teacher's page of one piece shows (blocking)."""
    view, hidden, _ = find_piece(place, piece_id)
    reports = [r for r in moderation.list_reports(place) if r.get("piece") == piece_id]
    return {"view": view, "hidden": hidden, "reports": reports}


def rendered_piece(place: moderation.Place, piece_id: str) -> str:
    """The piece's files as one sanitized page, code shown and never run (blocking)."""
    view, _, folder = find_piece(place, piece_id)
    try:
        files = pieces.version_files(folder, piece_id, view.version, MAX_PIECE_BYTES)
    except OSError as e:
        return _note_page(view.title, f"The files of version {view.version} cannot be read: {e}.")
    try:
        page = render_page(files, title=view.title, author_display=view.author_display, show_code=True)
    except SnapshotError as e:
        return _note_page(view.title, e.message)
    # The showcase's footer says "published"; this copy is shown to a teacher only.
    return re.sub(r"<footer>.*?</footer>", f"<footer>{esc(SHOWN_TO_TEACHER)}</footer>", page, count=1, flags=re.S)


def _note_page(title: str, note: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title></head>'
        f"<body><main><h1>{esc(title)}</h1><p>{esc(note)}</p></main></body></html>"
    )


class ModerationPage(BaseHandler):
    """The group's open reports and every piece, each with a link that opens it."""

    @teacher_of_group
    async def get(self, group: str) -> None:
        place = self.place(group)
        found = await self.run(moderation.list_pieces, place)
        reports = await self.run(moderation.list_reports, place)
        self.page(
            "moderation.html",
            group=group,
            pieces=found,
            reports=[r for r in reports if r.get("status") == "open"],
            closed=[r for r in reports if r.get("status") != "open"],
        )


class PiecePage(BaseHandler):
    """One piece, read-only, with its feedback and the reports about it."""

    @teacher_of_group
    async def get(self, group: str, piece: str) -> None:
        found = await self.run(piece_page, self.place(group), piece)
        self.page("moderation_piece.html", group=group, **found)


class PieceFiles(SandboxedPage, BaseHandler):
    """The piece's files, rendered: learner-made content on the classroom's origin, so sandboxed."""

    @teacher_of_group
    async def get(self, group: str, piece: str) -> None:
        page = await self.run(rendered_piece, self.place(group), piece)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)


default_handlers = [
    (r"groups/([^/]+)/moderation", ModerationPage),
    (r"groups/([^/]+)/pieces/([^/]+)", PiecePage),
    (r"groups/([^/]+)/pieces/([^/]+)/view", PieceFiles),
    (r"groups/([^/]+)/act", ActionForm),
    (r"api/groups/([^/]+)/pieces", PiecesAPI),
    (r"api/groups/([^/]+)/pieces/([^/]+)/?(hide|unhide)?", PieceAPI),
    (r"api/groups/([^/]+)/pieces/([^/]+)/feedback/([^/]+)/?(hide)?", FeedbackAPI),
    (r"api/groups/([^/]+)/reports", ReportsAPI),
    (r"api/groups/([^/]+)/reports/([^/]+)/dismiss", ReportAPI),
]
