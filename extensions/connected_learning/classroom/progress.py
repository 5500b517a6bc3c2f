"""The classroom service's teacher pages for a group: progress and assignments.

    GET  /services/classroom/groups/<g>/progress              sortable table and charts
    GET  /services/classroom/groups/<g>/progress.csv          the same table as CSV
    GET  /services/classroom/groups/<g>/progress/<student>    one learner's workbooks
    GET  /services/classroom/groups/<g>/assignments           assign, collect, grade, feedback
    POST /services/classroom/groups/<g>/assignments           the buttons of that page (assign, due,
                                                              collect, autograde, feedback)

Only a teacher of <g> or an admin. The tables are `progress` (pandas); the assignment
steps are the same functions as the JSON API in `classroom.assignments`.
"""

from __future__ import annotations

import base64
from typing import Any

from tornado import web

from ..accounts.store import read_display_names
from ..assignments import course as assignments
from ..assignments import grading
from ..assignments.status import set_due
from ..catalog.load import load_catalog
from ..errors import ClhubError
from ..paths import DataLayout
from ..peer_review.folders import peer_review_dir
from ..settings import validate_username
from . import progress_table as progress
from .assignments import AssignmentsBase, due_from, listing, submitted
from .base import answer_for, log
from .rules import teacher_of_group


class GroupPages(AssignmentsBase):
    async def table(self, group: str) -> Any:
        return await self.run(self.group_table, group, await self.students(group))

    def group_table(self, group: str, students: list[str]) -> Any:
        """The group's progress table (blocking: reads the course, the homes and the group's folder)."""
        course = self.course(group)
        released = assignments.released(course)
        return progress.group_table(
            students,
            homes={s: h for s in students if (h := self.host.home(s))},
            names=read_display_names(DataLayout(self.site.data_dir)),
            catalog=load_catalog(self.site.catalog_dir),
            peer_folder=peer_review_dir(self.site.data_dir, group),
            scores={aid: assignments.scores(course, aid) for aid in released},
            submitted={aid: set(submitted(course, aid, students)) for aid in released},
        )


class ProgressPage(GroupPages):
    @teacher_of_group
    async def get(self, group: str) -> None:
        column = self.get_argument("sort", "student")
        descending = self.get_argument("order", "asc") == "desc"
        table = await self.run(progress.sort_table, await self.table(group), column, descending)
        charts = []
        if len(table):
            for col, title in (("exercises_done", "Exercises done"), ("score", "Assignment points")):
                png = await self.run(progress.bar_chart_png, table, col, title)
                charts.append({"title": title, "src": "data:image/png;base64," + base64.b64encode(png).decode()})
        self.page(
            "progress.html",
            group=group,
            rows=table.to_dict("records"),
            columns=progress.COLUMNS,
            headings=progress.HEADINGS,
            sort=column,
            descending=descending,
            charts=charts,
        )


class ProgressCSV(GroupPages):
    @teacher_of_group
    async def get(self, group: str) -> None:
        csv = await self.run(progress.to_csv, await self.table(group))
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="progress-{group}.csv"')
        self.finish(csv)


class StudentPage(GroupPages):
    def detail(self, student: str) -> Any:
        """One learner's workbooks, None when they have no home yet (blocking: reads it)."""
        home = self.host.home(student)
        return progress.student_table(home, load_catalog(self.site.catalog_dir)) if home else None

    @teacher_of_group
    async def get(self, group: str, student: str) -> None:
        try:
            validate_username(student)
        except Exception:
            raise web.HTTPError(404, "No such learner.") from None
        if student not in await self.students(group):
            raise web.HTTPError(404, f"{student!r} is not a learner of {group}.")
        table = (await self.table(group)).set_index("student").loc[student]
        detail = await self.run(self.detail, student)
        self.page(
            "student.html",
            group=group,
            student=student,
            summary=table.to_dict(),
            headings=progress.HEADINGS,
            rows=[] if detail is None else detail.to_dict("records"),
        )


class AssignmentsPage(GroupPages):
    def overview(
        self, group: str, students: list[str]
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str]], dict[str, str]]:
        """Each released assignment with its due date and learners' status, the workbooks one may
        assign, and the learners' display names (blocking)."""
        course = self.course(group)
        catalog = load_catalog(self.site.catalog_dir)
        titles = {w.id: w.title for w in catalog.workbooks.values()}
        rows = []
        for row in listing(course, students, self.homes(students), self.host.isolated):
            learners = row["learners"]
            rows.append(
                {
                    **row,
                    "title": titles.get(row["id"], row["id"]),
                    "handed_in": sum(1 for s in learners if s["state"] in ("handed-in", "marked")),
                    "submitted": len(submitted(course, row["id"], students)),
                    "graded": sum(1 for s in learners if s["state"] == "marked"),
                    "students": len(students),
                }
            )
        names = read_display_names(DataLayout(self.site.data_dir))
        assignable = sorted((w.id, w.title) for w in catalog.workbooks.values() if w.assignable)
        return rows, assignable, names

    async def show(self, group: str, message: str = "", error: str = "") -> None:
        rows, assignable, names = await self.run(self.overview, group, await self.students(group))
        self.page(
            "assignments.html",
            group=group,
            rows=rows,
            assignable=assignable,
            names=names,
            message=message,
            error=error,
        )

    @teacher_of_group
    async def get(self, group: str) -> None:
        await self.show(group)

    @teacher_of_group
    async def post(self, group: str) -> None:
        action = self.get_body_argument("action", "")
        try:
            message = await self.act(group, action)
        except ClhubError as e:  # the page shows what went wrong above its buttons, not an error page
            await self.show(group, error=answer_for(e).message)
            return
        log.info("%s: %s in %s", self.me["name"], action, group)
        await self.show(group, message=message)

    def form(self, *names: str) -> dict[str, str]:
        return {n: self.get_body_argument(n, "") for n in names}

    async def act(self, group: str, action: str) -> str:
        """Do what the page's button `action` asks; what to tell the teacher."""
        course = self.course(group)
        students = await self.students(group)
        if action == "assign":
            catalog = await self.run(load_catalog, self.site.catalog_dir)
            workbook = catalog.workbooks.get(self.get_body_argument("workbook", ""))
            if workbook is None:
                raise assignments.AssignmentError("Choose a workbook to assign.")
            due = due_from(self.form("due", "tz_offset"))
            gid = await self.gid(group)
            await self.step(group, assignments.assign, course, workbook, students, due, gid)
            when = " (its due date is below, in your time)" if due else ""
            return (
                f"{workbook.title} is assigned{when}. Learners find it in assignments/{group} at their next start, "
                "starting from the answers they already wrote in the workbook."
            )
        aid = self.get_body_argument("assignment", "")
        if aid not in await self.run(assignments.released, course):
            raise assignments.AssignmentError(f"{aid[:60]!r} has not been assigned to {group}.")
        if action == "due":
            due = due_from(self.form("due", "tz_offset"))
            await self.step(group, set_due, course, aid, due)
            return (
                f"The due date of {aid} is changed: it is below, in your time."
                if due
                else f"{aid} has no due date now."
            )
        if action == "collect":
            done = await self.step(
                group, assignments.collect, course, aid, set(students), check_owner=self.host.isolated
            )
            return f"Collected {len(done)} submission(s) of {aid}."
        if action == "autograde":
            ready = await self.run(submitted, course, aid, students)
            results = await self.step(group, grading.autograde_all, course.root, aid, ready)
            bad = [k for k, v in results.items() if isinstance(v, Exception)]
            return f"Graded {len(results) - len(bad)} submission(s) of {aid}." + (
                f" Could not grade: {', '.join(bad)}." if bad else ""
            )
        if action == "feedback":
            gid = await self.gid(group)
            done = await self.step(group, assignments.release_feedback, course, aid, gid)
            return f"Feedback on {aid} released to {len(done)} learner(s)."
        raise assignments.AssignmentError(f"Unknown action {action[:20]!r}.")


default_handlers = [
    (r"groups/([^/]+)/progress", ProgressPage),
    (r"groups/([^/]+)/progress\.csv", ProgressCSV),
    (r"groups/([^/]+)/progress/([^/]+)", StudentPage),
    (r"groups/([^/]+)/assignments", AssignmentsPage),
]
