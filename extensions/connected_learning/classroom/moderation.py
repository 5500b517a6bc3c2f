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

A teacher of <g> or an admin moderates; a member (or teacher) of <g> reports. The work is
`peer_review.moderation`, in a thread: it renames and removes entries of the group's folder
without following anything a learner could have turned into a symlink.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ..peer_review import moderation
from .base import APIHandler, BaseHandler
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
        self.redirect(self.settings["prefix"] + f"#group-{group}")


default_handlers = [
    (r"groups/([^/]+)/act", ActionForm),
    (r"api/groups/([^/]+)/pieces", PiecesAPI),
    (r"api/groups/([^/]+)/pieces/([^/]+)/?(hide|unhide)?", PieceAPI),
    (r"api/groups/([^/]+)/pieces/([^/]+)/feedback/([^/]+)/?(hide)?", FeedbackAPI),
    (r"api/groups/([^/]+)/reports", ReportsAPI),
    (r"api/groups/([^/]+)/reports/([^/]+)/dismiss", ReportAPI),
]
