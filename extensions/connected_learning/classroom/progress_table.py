"""Progress of a group, as pandas tables: who started which workbook, what they made and shared.

The classroom service (root) builds it for a teacher from what is on disk, never from
anything a learner declares:

- a workbook is *started* when one of its notebooks in `~/workbooks/<id>/` differs from the
  copy that was delivered (the delivery manifest keeps each delivered file's digest);
- an *exercise* is a section of a workbook notebook whose heading's text says "Exercise";
  it is *done* when one of its code cells has output in the learner's saved notebook;
- pieces shared, feedback given and received come from the group's peer-review folder
  (`pieces.read_group`, which names people by file owner);
- assignments submitted and their scores come from the group's nbgrader course.

Learners' homes are read without following any symlink (a learner could plant one to
make root read somebody else's file) and with a size cap per notebook.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..catalog.load import Catalog
from ..learner.provision import MANIFEST, WORKBOOKS_DIR
from ..peer_review import pieces

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
EXERCISE = re.compile(r"\bExercise\b", re.IGNORECASE)
COLUMNS = [
    "student",
    "name",
    "workbooks_started",
    "exercises_done",
    "exercises",
    "pieces_shared",
    "feedback_given",
    "feedback_received",
    "assignments_submitted",
    "score",
]
HEADINGS = {
    "student": "User name",
    "name": "Name",
    "workbooks_started": "Workbooks started",
    "exercises_done": "Exercises done",
    "exercises": "Exercises in their workbooks",
    "pieces_shared": "Pieces shared",
    "feedback_given": "Feedback given",
    "feedback_received": "Feedback received",
    "assignments_submitted": "Assignments submitted",
    "score": "Assignment points",
}


@dataclass(frozen=True)
class NotebookProgress:
    workbook: str
    notebook: str
    started: bool
    exercises: int
    exercises_done: int


def exercise_counts(notebook: dict[str, Any]) -> tuple[int, int]:
    """(exercises, done) of a notebook: sections whose heading says Exercise; done if run."""
    total = done = 0
    in_exercise = ran = False
    for cell in notebook.get("cells", []) if isinstance(notebook.get("cells"), list) else []:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown" and source.lstrip().startswith("#"):
            if in_exercise:
                done += ran
            in_exercise, ran = bool(EXERCISE.search(source)), False
            total += in_exercise
        elif cell.get("cell_type") == "code" and in_exercise and cell.get("outputs"):
            ran = True
    if in_exercise:
        done += ran
    return total, done


def home_progress(home: str | os.PathLike[str], catalog: Catalog) -> list[NotebookProgress]:
    """Each delivered workbook notebook in a learner's home, with its exercises."""
    try:
        home_fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return []
    try:
        raw = pieces.read_below(home_fd, [WORKBOOKS_DIR, MANIFEST], 1024 * 1024)
        try:
            manifest = json.loads(raw or b"{}").get("files", {})
        except (ValueError, AttributeError):
            manifest = {}
        out = []
        for workbook in sorted(catalog.workbooks.values(), key=lambda w: w.id):
            for notebook in workbook.notebooks:
                rel = f"{workbook.id}/{notebook}"
                data = pieces.read_below(
                    home_fd, [WORKBOOKS_DIR, workbook.id, *notebook.split("/")], MAX_NOTEBOOK_BYTES
                )
                if data is None:
                    continue
                started = hashlib.sha256(data).hexdigest() != manifest.get(rel)
                try:
                    total, done = exercise_counts(json.loads(data))
                except ValueError:
                    total, done = 0, 0
                out.append(NotebookProgress(workbook.id, notebook, started, total, done))
        return out
    finally:
        os.close(home_fd)


def group_table(
    students: Iterable[str],
    *,
    homes: Mapping[str, str],
    names: Mapping[str, str],
    catalog: Catalog,
    peer_folder: str | os.PathLike[str] | None,
    scores: Mapping[str, Mapping[str, float]],
    submitted: Mapping[str, set[str]],
) -> pd.DataFrame:
    """One row per student of the group, with the columns of COLUMNS.

    Args:
        homes: each student's home folder.
        names: display names.
        peer_folder: the group's peer-review folder (None: no peer review).
        scores: {assignment: {student: points}} from the gradebook.
        submitted: {assignment: students whose submission was collected}.
    """
    views = []
    if peer_folder is not None:
        try:
            views = pieces.read_group(peer_folder)
        except OSError:
            views = []
    rows = []
    for student in sorted(students):
        notebooks = home_progress(homes[student], catalog) if student in homes else []
        given = sum(1 for v in views for e in v.feedback if e.reviewer == student)
        received = sum(len(v.feedback) for v in views if v.owner == student)
        rows.append(
            {
                "student": student,
                "name": names.get(student, ""),
                "workbooks_started": len({n.workbook for n in notebooks if n.started}),
                "exercises_done": sum(n.exercises_done for n in notebooks),
                "exercises": sum(n.exercises for n in notebooks),
                "pieces_shared": sum(1 for v in views if v.ok and v.owner == student),
                "feedback_given": given,
                "feedback_received": received,
                "assignments_submitted": sum(1 for s in submitted.values() if student in s),
                "score": float(sum(per.get(student, 0.0) for per in scores.values())),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def student_table(home: str | os.PathLike[str], catalog: Catalog) -> pd.DataFrame:
    """One learner's workbooks: started, exercises and exercises done, per notebook."""
    rows = [n.__dict__ for n in home_progress(home, catalog)]
    return pd.DataFrame(rows, columns=["workbook", "notebook", "started", "exercises", "exercises_done"])


def sort_table(table: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Sorted by a known column (unknown names leave the order alone: they come from a URL)."""
    if column not in table.columns:
        return table
    return table.sort_values(column, ascending=not descending, kind="stable")


def to_csv(table: pd.DataFrame) -> str:
    """CSV for a spreadsheet: a cell that would start a formula is prefixed with an apostrophe."""
    safe = table.copy()
    for column in safe.columns:
        if pd.api.types.is_object_dtype(safe[column]) or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v
            )
    return safe.rename(columns=HEADINGS).to_csv(index=False)


def bar_chart_png(table: pd.DataFrame, column: str, title: str) -> bytes:
    """A plain bar chart of one column per student, as PNG bytes (labels in text, no colour code)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(table), 3) + 1), dpi=90)
    try:
        labels = [n or s for s, n in zip(table["student"], table["name"], strict=True)]
        values = list(table[column])
        ax.barh(labels, values, color="#1f5fa8")
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:g}", va="center")
        ax.set_xlim(0, max(1.0, *values) * 1.15)  # from zero, room for the labels
        ax.set_title(title)
        ax.invert_yaxis()
        ax.set_xlabel(HEADINGS.get(column, column))
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
