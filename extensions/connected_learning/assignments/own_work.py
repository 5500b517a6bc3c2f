"""An assignment starts from the learner's own work: their answers carried into the new copy.

A teacher assigns a workbook the learner often already has in `~/workbooks/<id>/`, half
done. When the assignment arrives in `~/assignments/<group>/<id>/` (at the next start,
`course.deliver`, or when fetched from JupyterLab's Assignments list,
`exchange.ClhubExchangeFetchAssignment`), each of its answer cells (nbgrader `solution`
cells, matched by their `grade_id`) takes the learner's answer from the workbook copy of
the same notebook, when the learner changed it there. Nothing else is carried: the
instructions and the checks stay the teacher's. A banner cell at the top says that this
copy is the one handed in, and how many answers came from the workbook copy.

Safety: it runs as the learner (the start's delivery step and their own server do), so it
can read nothing the learner could not; and every step of the path under the home is
opened without following a symlink, so a link the learner planted (to another learner's
file, in the demo where all accounts are one system user) is not read. The workbook copy is
only read, never changed; a new copy is written beside and renamed over the blank one; any
problem leaves the blank copy as it came.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..peer_review import pieces
from ..widgets.files import replace_in

log = logging.getLogger("clhub.assignments")
WORKBOOKS = "workbooks"
BANNER_KEY = "clhub_banner"
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


def answer_cells(notebook: Mapping[str, Any]) -> dict[str, str]:
    """Each answer cell (nbgrader `solution`, not locked) of a notebook: {grade_id: source}."""
    found: dict[str, str] = {}
    cells = notebook.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata", {})
        grader = meta.get("nbgrader") if isinstance(meta, dict) else None
        if not isinstance(grader, dict) or not grader.get("solution") or grader.get("locked"):
            continue
        gid = grader.get("grade_id")
        source = cell.get("source", "")
        if isinstance(gid, str) and gid:
            found[gid] = "".join(source) if isinstance(source, list) else str(source)
    return found


def read_under(root: str | os.PathLike[str], parts: list[str], limit: int) -> bytes | None:
    """A file under `root`, no step through a symlink; None when it cannot be read that way."""
    try:
        fd = pieces.open_dir(root)
    except OSError:
        return None
    try:
        return pieces.read_below(fd, parts, limit)
    finally:
        os.close(fd)


def released_notebooks(folder: Path) -> list[str]:
    """The notebooks of a released assignment folder, relative, no symlinks."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.ipynb") if p.is_file() and not p.is_symlink())


# What nbgrader's ClearSolutions puts where an answer goes, in any of its versions (its default
# stubs, and the catalog's `release.CODE_STUB`): an answer that is only these is not an answer.
STUB_LINES = re.compile(
    r"^\s*(# YOUR CODE HERE|raise NotImplementedError\(\)|YOUR ANSWER HERE|# YOUR ANSWER\b.*|\.\.\.)\s*$"
)


def unchanged(answer: str, blank: str) -> bool:
    """Is `answer` still the blank, whichever stub the copy it came from was cleared with?"""

    def substance(text: str) -> list[str]:
        return [line.rstrip() for line in text.splitlines() if line.strip() and not STUB_LINES.match(line)]

    return substance(answer) == substance(blank)


def banner_cell(workbook_id: str, notebook: str, carried: int) -> dict[str, Any]:
    """The Markdown cell that says which copy counts (no nbgrader metadata: nbgrader ignores it)."""
    where = f"`workbooks/{workbook_id}/{notebook}`"
    if carried == 1:
        said = f"Your answer from {where} was copied in here, so you do not type it again."
    elif carried:
        said = f"Your {carried} answers from {where} were copied in here, so you do not type them again."
    else:
        said = f"Your workbook copy, {where}, stays as it is."
    return {
        "cell_type": "markdown",
        "id": "clhub-banner",
        "metadata": {BANNER_KEY: True},
        "source": f"**This is your assignment copy: this is the one you hand in.** {said} "
        "Keep working here; changes you make in the workbook copy from now on are not handed in.",
    }


def workbook_banner_cell(assignment_copy: str) -> dict[str, Any]:
    """The Markdown cell put at the top of a workbook copy whose answers went into an assignment."""
    return {
        "cell_type": "markdown",
        "id": "clhub-assigned",
        "metadata": {BANNER_KEY: True},
        "source": "**Your teacher assigned this workbook.** Your answers from here were copied into "
        f"`{assignment_copy}`: keep working there and hand in that one. Changes made here from now on "
        "are not handed in.",
    }


def carry_answers(assignment: dict[str, Any], own: dict[str, Any] | None) -> int:
    """Put the learner's changed answers from `own` into `assignment`'s answer cells; how many.

    An answer is carried when `own` has an answer cell of the same grade_id and cell type
    whose text differs from the assignment's blank. Outputs are not carried (they are run
    again). Changes `assignment` in place.
    """
    if not own:
        return 0
    mine = answer_cells(own)
    kinds = {
        c["metadata"]["nbgrader"]["grade_id"]: c.get("cell_type")
        for c in own.get("cells", [])
        if isinstance(c, dict)
        and isinstance(c.get("metadata"), dict)
        and isinstance(c["metadata"].get("nbgrader"), dict)
        and isinstance(c["metadata"]["nbgrader"].get("grade_id"), str)
    }
    blank = answer_cells(assignment)
    carried = 0
    for cell in assignment.get("cells", []):
        grader = cell.get("metadata", {}).get("nbgrader", {})
        gid = grader.get("grade_id") if isinstance(grader, dict) else None
        if gid not in blank or gid not in mine or kinds.get(gid) != cell.get("cell_type"):
            continue
        if unchanged(mine[gid], blank[gid]):
            continue  # untouched in the workbook copy too
        cell["source"] = mine[gid]
        carried += 1
    return carried


def _write_over(path: Path, notebook: dict[str, Any]) -> None:
    """Replace `path` whole: a temporary file beside it, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(notebook, f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def mark_workbook_copy(home: str | os.PathLike[str], parts: list[str], assignment_copy: str) -> bool:
    """Put `workbook_banner_cell` at the top of the learner's workbook copy `home`/`parts`.

    Every step is opened without following a symlink and the new file replaces the old one
    inside the folder's descriptor, with the old one's mode: nothing outside the learner's own
    workbooks folder is written, even if a folder is swapped for a link meanwhile. False (and
    the copy as it was) when it cannot be done, or when it carries the banner already.
    """
    fds: list[int] = []
    try:
        fd = pieces.open_dir(home)
        fds.append(fd)
        for part in parts[:-1]:
            fd = pieces.open_dir(part, dir_fd=fd)
            fds.append(fd)
        name = parts[-1]
        notebook = json.loads(pieces.read_bytes(fd, name, MAX_NOTEBOOK_BYTES))
        cells = notebook.get("cells") if isinstance(notebook, dict) else None
        if not isinstance(cells, list) or any(
            isinstance(c, dict) and c.get("metadata", {}).get(BANNER_KEY) for c in cells
        ):
            return False
        cells.insert(0, workbook_banner_cell(assignment_copy))
        text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        replace_in(fd, name, text.encode("utf-8"), "/".join(parts))
        return True
    except (OSError, ValueError, AttributeError) as e:
        log.warning("The workbook copy %s keeps no note about the assignment: %s", "/".join(parts), e)
        return False
    finally:
        for opened in fds:
            os.close(opened)


def start_from_own_work(
    folder: str | os.PathLike[str], home: str | os.PathLike[str], workbook_id: str, *, mark_workbook: bool = False
) -> dict[str, int]:
    """Carry the learner's answers from `home`/workbooks/<id>/ into the fresh assignment `folder`.

    Run as the learner, on a folder just fetched or delivered. Returns {notebook: answers
    carried}; a notebook that cannot be read or written keeps its blank copy (logged).
    `mark_workbook`: also put a note at the top of each workbook copy whose answers were
    carried, saying which copy is handed in. Only while the learner's server is not running
    (at the start): an open notebook changed under JupyterLab would ask the learner to choose
    between their unsaved changes and the file.
    """
    done: dict[str, int] = {}
    target = Path(folder)
    for name in released_notebooks(target):
        path = target / name
        try:
            with open(path, "rb") as f:
                assignment = json.loads(f.read(MAX_NOTEBOOK_BYTES + 1))
            if not isinstance(assignment, dict) or not isinstance(assignment.get("cells"), list):
                continue
            if any(isinstance(c, dict) and c.get("metadata", {}).get(BANNER_KEY) for c in assignment["cells"]):
                continue  # started already (a second fetch into the same folder)
            raw = read_under(home, [WORKBOOKS, workbook_id, *name.split("/")], MAX_NOTEBOOK_BYTES)
            try:
                own = json.loads(raw) if raw is not None else None
            except ValueError:
                own = None
            carried = carry_answers(assignment, own if isinstance(own, dict) else None)
            assignment["cells"].insert(0, banner_cell(workbook_id, name, carried))
            _write_over(path, assignment)
            done[name] = carried
            if mark_workbook and carried:
                mark_workbook_copy(home, [WORKBOOKS, workbook_id, *name.split("/")], os.path.relpath(path, home))
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as e:
            log.warning("The assignment copy %s keeps its blank answers: %s", path, e)
    return done
