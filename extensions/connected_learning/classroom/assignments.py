"""The classroom service's assignment API: assign, collect, autograde, release feedback, scores.

    POST /services/classroom/api/groups/<g>/assignments            {"workbook": id, "due": ISO date?}
    GET  /services/classroom/api/groups/<g>/assignments            released ids and each student's score
    POST /services/classroom/api/groups/<g>/assignments/<id>/collect
    POST /services/classroom/api/groups/<g>/assignments/<id>/autograde
    POST /services/classroom/api/groups/<g>/assignments/<id>/feedback

Only a teacher of <g> (or an admin) may call them. The work is `assignments` (nbgrader,
as root) and `grading.autograde_all`, in a thread so the service keeps answering.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tornado import web

from ..assignments import course as assignments
from ..assignments import grading
from ..catalog.load import load_catalog
from ..host import system_users
from .base import APIHandler, log
from .rules import teacher_of_group


def submitted(course: assignments.Course, aid: str, students: list[str]) -> list[str]:
    """The students whose submission of `aid` was collected (blocking: looks on disk)."""
    return [s for s in students if (course.root / "submitted" / s / aid).is_dir()]


def listing(course: assignments.Course) -> list[dict[str, Any]]:
    """Every assignment released in the course and each student's score (blocking)."""
    return [{"id": aid, "scores": assignments.scores(course, aid)} for aid in assignments.released(course)]


class AssignmentsBase(APIHandler):
    def course(self, group: str) -> assignments.Course:
        return assignments.Course(self.site.data_dir, self.place(group).group)

    def gid(self, group: str) -> int | None:
        """The group's system group id (blocking: asks the system's group database)."""
        try:
            name = system_users.system_group_name(self.settings["group_prefix"], self.place(group).group)
        except system_users.SystemUserError:
            return None
        return self.host.group_gid(name)

    async def teachers_gid(self, group: str) -> int | None:
        """The system group of the group's teachers (made if missing); None in demo mode."""
        try:
            name = system_users.system_group_name(system_users.TEACH_PREFIX, group)
        except system_users.SystemUserError:
            return None  # too long a name for a second system group: the course stays root's
        return await self.host.ensure_group(name)

    async def step(self, group: str, action: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one nbgrader step in a thread, then give the course back to the group's teachers."""
        try:
            return await self.run(action, *args, **kwargs)
        finally:
            teachers = await self.teachers_gid(group)
            await self.run(lambda: assignments.prepare(self.course(group), self.gid(group), teachers))

    async def students(self, group: str) -> list[str]:
        """The group's learners: members who are neither admins nor its teachers or mentors.

        One request for every user's model (with roles), not one per member.
        """
        return sorted(
            u["name"]
            for u in await self.hub.get("/users")
            if group in u.get("groups", [])
            and not u.get("admin")
            and not any(r.startswith(("teacher-", "mentor-")) for r in u.get("roles", []))
        )


class AssignmentsAPI(AssignmentsBase):
    @teacher_of_group
    async def get(self, group: str) -> None:
        self.finish({"assignments": await self.run(listing, self.course(group))})

    @teacher_of_group
    async def post(self, group: str) -> None:
        body = self.json_body()
        catalog = await self.run(load_catalog, self.site.catalog_dir)
        workbook = catalog.workbooks.get(str(body.get("workbook", "")))
        if workbook is None:
            raise web.HTTPError(400, f"{str(body.get('workbook'))[:60]!r} is not a workbook of the catalog.")
        due = None
        if body.get("due"):
            try:
                due = dt.datetime.fromisoformat(str(body["due"]))
            except ValueError:
                raise web.HTTPError(400, f"{str(body['due'])[:40]!r} is not a date like 2026-12-01T17:00.") from None
        students = await self.students(group)
        gid = await self.run(self.gid, group)
        aid = await self.step(group, assignments.assign, self.course(group), workbook, students, due, gid)
        log.info("%s assigned %s to %s (due %s)", self.me["name"], aid, group, due)
        self.set_status(201)
        self.finish({"id": aid, "students": students, "due": due.isoformat() if due else None})


class AssignmentStepAPI(AssignmentsBase):
    @teacher_of_group
    async def post(self, group: str, aid: str, step: str) -> None:
        course = self.course(group)
        if aid not in await self.run(assignments.released, course):
            raise web.HTTPError(404, f"{aid[:60]!r} has not been assigned to {group}.")
        students = await self.students(group)
        if step == "collect":
            done = await self.step(
                group, assignments.collect, course, aid, set(students), check_owner=self.host.isolated
            )
            reply: dict[str, Any] = {"collected": done}
        elif step == "autograde":
            ready = await self.run(submitted, course, aid, students)
            results = await self.step(group, grading.autograde_all, course.root, aid, ready)
            reply = {
                "scores": {k: v for k, v in results.items() if not isinstance(v, Exception)},
                "errors": {k: str(v) for k, v in results.items() if isinstance(v, Exception)},
            }
        elif step == "feedback":
            gid = await self.run(self.gid, group)
            reply = {"released": await self.step(group, assignments.release_feedback, course, aid, gid)}
        else:
            raise web.HTTPError(404, f"Unknown step {step[:20]!r}; use collect, autograde or feedback.")
        log.info("%s: %s %s of %s", self.me["name"], step, aid, group)
        self.finish(reply)


default_handlers = [
    (r"api/groups/([^/]+)/assignments", AssignmentsAPI),
    (r"api/groups/([^/]+)/assignments/([^/]+)/(collect|autograde|feedback)", AssignmentStepAPI),
]
