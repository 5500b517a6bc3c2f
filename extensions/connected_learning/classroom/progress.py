"""The classroom service's teacher pages for a group: progress and assignments.

    GET  /services/classroom/groups/<g>/progress              sortable table and charts
    GET  /services/classroom/groups/<g>/progress.csv          the same table as CSV
    GET  /services/classroom/groups/<g>/progress/<student>    one learner's workbooks
    GET  /services/classroom/groups/<g>/assignments           assign, collect, grade, feedback
    POST /services/classroom/groups/<g>/assignments           the buttons of that page

Only a teacher of <g> or an admin. The tables are `progress` (pandas); the assignment
steps are the same functions as the JSON API in `classroom.assignments`.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from tornado import web

from ..accounts.store import read_display_names
from ..assignments import course as assignments
from ..assignments import grading
from ..catalog.load import load_catalog
from ..paths import DataLayout
from ..peer_review.folders import peer_review_dir
from ..settings import validate_username
from . import progress_table as progress
from .assignments import AssignmentsBase
from .base import log


class GroupPages(AssignmentsBase):
    async def table(self, group: str) -> Any:
        students = await self.students(group)
        course = self.course(group)
        released = assignments.released(course)
        scores = {aid: assignments.scores(course, aid) for aid in released}
        submitted = {aid: {s for s in students if (course.root / "submitted" / s / aid).is_dir()} for aid in released}
        homes = {s: h for s in students if (h := self.host.home(s))}
        return await self.run(
            progress.group_table,
            students,
            homes=homes,
            names=read_display_names(DataLayout(self.site.data_dir)),
            catalog=load_catalog(self.site.catalog_dir),
            peer_folder=peer_review_dir(self.site.data_dir, group),
            scores=scores,
            submitted=submitted,
        )

    def page(self, template: str, **values: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            self.settings["jinja"]
            .get_template(template)
            .render(prefix=self.settings["prefix"], site_name=self.site.name, xsrf=self.xsrf_token.decode(), **values)
        )


class ProgressPage(GroupPages):
    @web.authenticated
    async def get(self, group: str) -> None:
        await self.require_teacher(group)
        table = await self.table(group)
        column = self.get_argument("sort", "student")
        descending = self.get_argument("order", "asc") == "desc"
        table = progress.sort_table(table, column, descending)
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
    @web.authenticated
    async def get(self, group: str) -> None:
        await self.require_teacher(group)
        table = await self.table(group)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="progress-{group}.csv"')
        self.finish(progress.to_csv(table))


class StudentPage(GroupPages):
    @web.authenticated
    async def get(self, group: str, student: str) -> None:
        await self.require_teacher(group)
        try:
            validate_username(student)
        except Exception:
            raise web.HTTPError(404, "No such learner.") from None
        if student not in await self.students(group):
            raise web.HTTPError(404, f"{student!r} is not a learner of {group}.")
        table = (await self.table(group)).set_index("student").loc[student]
        home = self.host.home(student)
        detail = await self.run(progress.student_table, home, load_catalog(self.site.catalog_dir)) if home else None
        self.page(
            "student.html",
            group=group,
            student=student,
            summary=table.to_dict(),
            headings=progress.HEADINGS,
            rows=[] if detail is None else detail.to_dict("records"),
        )


class AssignmentsPage(GroupPages):
    async def show(self, group: str, message: str = "", error: str = "") -> None:
        course = self.course(group)
        released = assignments.released(course)
        students = await self.students(group)
        rows = []
        for aid in released:
            scores = assignments.scores(course, aid)
            rows.append(
                {
                    "id": aid,
                    "submitted": sum((course.root / "submitted" / s / aid).is_dir() for s in students),
                    "graded": len(scores),
                    "students": len(students),
                }
            )
        catalog = load_catalog(self.site.catalog_dir)
        assignable = sorted((w.id, w.title) for w in catalog.workbooks.values() if w.assignable)
        self.page("assignments.html", group=group, rows=rows, assignable=assignable, message=message, error=error)

    @web.authenticated
    async def get(self, group: str) -> None:
        await self.require_teacher(group)
        await self.show(group)

    @web.authenticated
    async def post(self, group: str) -> None:
        me = await self.require_teacher(group)
        action = self.get_body_argument("action", "")
        course = self.course(group)
        students = await self.students(group)
        try:
            if action == "assign":
                catalog = load_catalog(self.site.catalog_dir)
                workbook = catalog.workbooks.get(self.get_body_argument("workbook", ""))
                if workbook is None:
                    raise assignments.AssignmentError("Choose a workbook to assign.")
                due_text = self.get_body_argument("due", "").strip()
                try:
                    due = dt.datetime.fromisoformat(due_text) if due_text else None
                except ValueError:
                    raise assignments.AssignmentError(f"{due_text[:30]!r} is not a date and time.") from None
                aid = await self.step(group, assignments.assign, course, workbook, students, due, self.gid(group))
                message = f"{workbook.title} is assigned. Learners find it in assignments/{group} at their next start."
            else:
                aid = self.get_body_argument("assignment", "")
                if aid not in assignments.released(course):
                    raise assignments.AssignmentError(f"{aid[:60]!r} has not been assigned to {group}.")
                if action == "collect":
                    done = await self.step(
                        group,
                        assignments.collect,
                        course,
                        aid,
                        set(students),
                        check_owner=self.host.isolated,
                    )
                    message = f"Collected {len(done)} submission(s) of {aid}."
                elif action == "autograde":
                    results = await self.step(
                        group,
                        grading.autograde_all,
                        course.root,
                        aid,
                        [s for s in students if (course.root / "submitted" / s / aid).is_dir()],
                    )
                    bad = [k for k, v in results.items() if isinstance(v, Exception)]
                    message = f"Graded {len(results) - len(bad)} submission(s) of {aid}." + (
                        f" Could not grade: {', '.join(bad)}." if bad else ""
                    )
                elif action == "feedback":
                    done = await self.step(group, assignments.release_feedback, course, aid, self.gid(group))
                    message = f"Feedback on {aid} released to {len(done)} learner(s)."
                else:
                    raise assignments.AssignmentError(f"Unknown action {action[:20]!r}.")
        except web.HTTPError as e:
            await self.show(group, error=e.log_message or "That did not work.")
            return
        except assignments.AssignmentError as e:
            await self.show(group, error=e.message)
            return
        log.info("%s: %s in %s", me["name"], action, group)
        await self.show(group, message=message)


def routes(prefix: str) -> list[tuple[str, type]]:
    group = prefix + r"groups/([^/]+)"
    return [
        (group + "/progress", ProgressPage),
        (group + r"/progress\.csv", ProgressCSV),
        (group + r"/progress/([^/]+)", StudentPage),
        (group + "/assignments", AssignmentsPage),
    ]
