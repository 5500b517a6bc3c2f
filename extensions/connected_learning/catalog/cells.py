"""The parts every workbook has, found by cell tags and teacher-guide headings.

A notebook marks its parts with cell tags (`metadata.tags`), which check.py enforces:
`make` on each code cell that is a making exercise (a workbook has at least MIN_MAKE; when
the check runs the notebook, each must leave a new or changed file in the notebook's
folder), `school` plus one `subject:<subject>` per subject of workbook.toml on the
"Connect it to school" markdown cell, and `share` on the code cell that shows a ShareBox.
The teacher guide has the headings of TEACHER_HEADINGS. Pure functions of the files, and
the folder snapshots the check takes around a `make` cell.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Sequence
from pathlib import Path

import nbformat

from .load import Workbook
from .readability import source_of

MAKE = "make"
SCHOOL = "school"
SHARE = "share"
SUBJECT = "subject:"
# A workbook makes at least this many things that are saved as files: making, not only
# reading, is what brings a learner back.
MIN_MAKE = 3
# How the "Connect it to school" part's first heading starts, in each workbook language.
SCHOOL_HEADINGS = {"en": "Connect it to school", "es": "Conecta con la escuela"}
# The `##` headings of TEACHER.md: each entry lists the spellings that count.
TEACHER_HEADINGS = {
    "en": (
        ("Goals",),
        ("Time needed",),
        ("Running it with a group", "Running it in a one-hour library session"),
        ("What good work looks like",),
    ),
    "es": (
        ("Objetivos",),
        ("Tiempo",),
        ("Cómo llevarlo con un grupo",),
        ("Cómo es un buen trabajo",),
    ),
}
# Folders in a notebook's folder that are never a learner's creation (left by Jupyter or Python).
JUNK = (".ipynb_checkpoints", "__pycache__")

Notebooks = Sequence[tuple[Path, nbformat.NotebookNode]]


def tags_of(cell: nbformat.NotebookNode) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def where(path: Path | str, index: int, cell: nbformat.NotebookNode) -> str:
    return f"{path}: cell {index} (counting from 0; id {cell.get('id')!r})"


def make_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indexes of the code cells tagged `make`."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and MAKE in tags_of(c)]


def _about(wb: Workbook) -> Path:
    """What a workbook-wide problem names: its notebook, or its folder when it has several."""
    return wb.folder / wb.notebooks[0] if len(wb.notebooks) == 1 else wb.folder


def check_tags(wb: Workbook, notebooks: Notebooks) -> list[str]:
    """The `make`, `school` and `share` parts of the workbook, over its readable notebooks."""
    if not notebooks:
        return []
    problems: list[str] = []
    makes = 0
    school = share = False
    for path, nb in notebooks:
        makes += len(make_cells(nb))
        for index, cell in enumerate(nb.cells):
            tags = tags_of(cell)
            if MAKE in tags and cell.cell_type != "code":
                problems.append(
                    f"{where(path, index, cell)}: is tagged {MAKE!r} but is not a code cell; "
                    "tag the code cell of the exercise instead."
                )
            if SCHOOL in tags:
                school = True
                problems += _check_school(wb, path, index, cell)
            if SHARE in tags:
                share = True
                problems += _check_share(path, index, cell)
    if makes < MIN_MAKE:
        problems.append(
            f"{_about(wb)}: has {makes} making exercise(s) (code cells tagged {MAKE!r}); a workbook needs "
            f"at least {MIN_MAKE}. Tag each code cell that makes something and saves it as a file (a widget "
            f'with sidecar="my_x.json", or a picture it saves) with {MAKE!r}, or add making exercises.'
        )
    if not school:
        heading = SCHOOL_HEADINGS.get(wb.language, SCHOOL_HEADINGS["en"])
        problems.append(
            f'{_about(wb)}: no markdown cell is tagged {SCHOOL!r}; tag the "{heading}: ..." cell with '
            f"{SCHOOL!r} and {_subject_tags(wb.subjects)}."
        )
    if not share:
        problems.append(
            f"{_about(wb)}: no code cell is tagged {SHARE!r}; tag the cell that shows "
            f'ShareBox([...files...], title=..., workbook="{wb.id}") with {SHARE!r}.'
        )
    return problems


def _subject_tags(subjects: Sequence[str]) -> str:
    return ", ".join(f"{SUBJECT}{s}" for s in subjects)


def first_heading(markdown: str) -> str | None:
    """The text of the first markdown heading (`#` to `######`), or None."""
    match = re.search(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", markdown, flags=re.M)
    return match.group(1) if match else None


def _check_school(wb: Workbook, path: Path, index: int, cell: nbformat.NotebookNode) -> list[str]:
    here = where(path, index, cell)
    if cell.cell_type != "markdown":
        return [f"{here}: is tagged {SCHOOL!r} but is not a markdown cell; tag the part's heading cell."]
    problems = []
    start = SCHOOL_HEADINGS.get(wb.language, SCHOOL_HEADINGS["en"])
    heading = first_heading(source_of(cell))
    if heading is None or not heading.casefold().startswith(start.casefold()):
        problems.append(
            f'{here}: is tagged {SCHOOL!r}, so its first heading must start with "{start}" '
            f"(it is {heading!r}); e.g. ## {start}: {' and '.join(wb.subjects)}."
        )
    tagged = {t[len(SUBJECT) :] for t in tags_of(cell) if t.startswith(SUBJECT)}
    if tagged != set(wb.subjects):
        missing = [s for s in wb.subjects if s not in tagged]
        extra = sorted(tagged - set(wb.subjects))
        what = ([f"add {_subject_tags(missing)}"] if missing else []) + (
            [f"remove {_subject_tags(extra)}"] if extra else []
        )
        problems.append(
            f"{here}: its subject tags must be exactly the subjects of workbook.toml "
            f"({_subject_tags(wb.subjects)}); {' and '.join(what)}."
        )
    return problems


def calls_sharebox(code: str) -> bool | None:
    """Whether `code` calls ShareBox(...) (as a name or an attribute); None when it is not Python."""
    # IPython lines (%magic, !shell) are not Python; they never show a ShareBox.
    lines = ["" if re.match(r"\s*[%!]", line) else line for line in code.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "ShareBox":
                return True
    return False


def _check_share(path: Path, index: int, cell: nbformat.NotebookNode) -> list[str]:
    here = where(path, index, cell)
    if cell.cell_type != "code":
        return [f"{here}: is tagged {SHARE!r} but is not a code cell; tag the cell that shows the ShareBox."]
    calls = calls_sharebox(source_of(cell))
    if calls is None:
        return [f"{here}: is tagged {SHARE!r} but its code is not valid Python; fix it so it shows the ShareBox."]
    if not calls:
        return [
            f"{here}: is tagged {SHARE!r} but its code never calls ShareBox(...) (a mention in a comment "
            "does not count); show ShareBox([...files...], title=..., workbook=...) there."
        ]
    return []


def check_teacher_headings(guide: Path, text: str, language: str) -> list[str]:
    """A problem naming the `##` headings TEACHER.md lacks, in the workbook's language."""
    found = [" ".join(m.group(1).split()).casefold() for m in re.finditer(r"^##\s+(.+?)\s*#*\s*$", text, flags=re.M)]
    wanted = TEACHER_HEADINGS.get(language, TEACHER_HEADINGS["en"])
    missing = [
        spellings for spellings in wanted if not any(h.startswith(s.casefold()) for h in found for s in spellings)
    ]
    if not missing:
        return []
    names = ", ".join(" or ".join(f'"## {s}"' for s in spellings) for spellings in missing)
    every = "; ".join(f"## {spellings[0]}" for spellings in wanted)
    return [f"{guide}: lacks the heading(s) {names}; a teacher guide has these four: {every}."]


# ------------------------------------------------------------------ what a `make` cell leaves


def folder_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` (Jupyter's and Python's own folders aside): relative path -> (mtime ns, size)."""
    found = {}
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in JUNK]
        for name in files:
            path = os.path.join(top, name)
            try:
                info = os.stat(path, follow_symlinks=False)
            except OSError:  # removed while we looked
                continue
            found[os.path.relpath(path, folder)] = (info.st_mtime_ns, info.st_size)
    return found


def new_or_changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(name for name, seen in after.items() if before.get(name) != seen)
