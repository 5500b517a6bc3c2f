"""The classroom service's assignment API: assign, collect, autograde, release feedback, scores.

    POST /services/classroom/api/groups/<g>/assignments            {"workbook": id, "due": ISO date?, "tz_offset": min?}
    GET  /services/classroom/api/groups/<g>/assignments            released ids, due dates, each student's score
                                                                   and status (`assignments.status`)
    POST /services/classroom/api/groups/<g>/assignments/<id>/due   {"due": ISO date or "" for none, "tz_offset": min?}
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
from ..assignments.status import assignment_status, parse_due, set_due
from ..catalog.load import load_catalog
from ..host import system_users
from .base import APIHandler, log
from .rules import teacher_of_group


def submitted(course: assignments.Course, aid: str, students: list[str]) -> list[str]:
    """The students whose submission of `aid` was collected (blocking: looks on disk)."""
    return [s for s in students if (course.root / "submitted" / s / aid).is_dir()]


def listing(
    course: assignments.Course, students: list[str], homes: dict[str, str], check_owner: bool
) -> list[dict[str, Any]]:
    """Every assignment released in the course: due date, scores, each student's status (blocking)."""
    return [
        {
            "scores": assignments.scores(course, aid),
            **assignment_status(course, aid, students, homes, check_owner=check_owner).json(),
        }
        for aid in assignments.released(course)
    ]


def due_from(body: dict[str, Any]) -> dt.datetime | None:
    """The due date a request carries (`due`, `tz_offset`), checked against the time now."""
    return parse_due(body.get("due"), offset_minutes=body.get("tz_offset"), now=dt.datetime.now(dt.UTC))


class AssignmentsBase(APIHandler):
    def course(self, group: str) -> assignments.Course:
        return assignments.Course(self.site.data_dir, self.place(group).group)

    async def gid(self, group: str) -> int | None:
        """The group's system group (made if missing, as a learner's first start would make it); None in demo mode.

        A group a log-in made (a course launched from the learning platform, a school account's
        groups) may have no system group yet when its teacher gives out an assignment: made here,
        the release is the group's to read, not root's alone.
        """
        try:
            name = system_users.system_group_name(self.settings["group_prefix"], self.place(group).group)
        except system_users.SystemUserError:
            return None
        return await self.host.ensure_group(name)

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
            learners, teachers = await self.gid(group), await self.teachers_gid(group)
            await self.run(lambda: assignments.prepare(self.course(group), learners, teachers))

    def homes(self, students: list[str]) -> dict[str, str]:
        """Each student's home folder, where the host has one (blocking)."""
        return {s: h for s in students if (h := self.host.home(s))}

    async def statuses(self, group: str) -> list[dict[str, Any]]:
        students = await self.students(group)
        homes = await self.run(self.homes, students)
        return await self.run(listing, self.course(group), students, homes, self.host.isolated)

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
        self.finish({"assignments": await self.statuses(group)})

    @teacher_of_group
    async def post(self, group: str) -> None:
        body = self.json_body()
        catalog = await self.run(load_catalog, self.site.catalog_dir)
        workbook = catalog.workbooks.get(str(body.get("workbook", "")))
        if workbook is None:
            raise web.HTTPError(400, f"{str(body.get('workbook'))[:60]!r} is not a workbook of the catalog.")
        due = due_from(body)
        students = await self.students(group)
        gid = await self.gid(group)
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
            gid = await self.gid(group)
            reply = {"released": await self.step(group, assignments.release_feedback, course, aid, gid)}
        else:
            raise web.HTTPError(404, f"Unknown step {step[:20]!r}; use collect, autograde or feedback.")
        log.info("%s: %s %s of %s", self.me["name"], step, aid, group)
        self.finish(reply)


class DueAPI(AssignmentsBase):
    @teacher_of_group
    async def post(self, group: str, aid: str) -> None:
        course = self.course(group)
        if aid not in await self.run(assignments.released, course):
            raise web.HTTPError(404, f"{aid[:60]!r} has not been assigned to {group}.")
        due = due_from(self.json_body())
        await self.step(group, set_due, course, aid, due)
        log.info("%s set the due date of %s in %s to %s", self.me["name"], aid, group, due)
        self.finish({"id": aid, "due": due.isoformat() if due else None})


default_handlers = [
    (r"api/groups/([^/]+)/assignments", AssignmentsAPI),
    (r"api/groups/([^/]+)/assignments/([^/]+)/(collect|autograde|feedback)", AssignmentStepAPI),
    (r"api/groups/([^/]+)/assignments/([^/]+)/due", DueAPI),
]
