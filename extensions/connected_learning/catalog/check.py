"""The deep checks of the workbook catalog, run by `clhub catalog check` after load.py's.

load.py reads and validates the workbook.toml files; this module looks inside the
workbooks: every notebook runs top to bottom headless in the copy a learner gets (for a
notebook in nbgrader's source format, both the teacher's version, whose solutions must
solve every puzzle, and the released one, solutions cleared, which must run to its end
without solving them), each making exercise (a cell tagged `make`, see cells.py) leaves a
file, the student-facing text reads at grade 8 or below (readability.py), the parts every
workbook has are tagged (making exercises, "Connect it to school", a Share step), the
teacher guide has its headings, licences and data sources are present, and the notebooks
are stored clean with complete metadata. `inspect_catalog` returns every problem found,
each naming the file (and the copy and cell, or the key) and saying what to do, with what
it measured for the catalog's table (table.py). The checks are pure functions of the
files, except the runs, which start a kernel in a temporary copy of the workbook.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import json
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.warnings import MissingIDFieldWarning
from traitlets.config import Config

from ..widgets.puzzles import results as puzzle_results
from .cells import JUNK, check_tags, check_teacher_headings, folder_files, make_cells, new_or_changed, where
from .load import Catalog, Workbook
from .readability import Reading, check_readability, notebook_reading
from .release import is_nbgrader_source, student_version

# Seconds the cells of one notebook may take in all, from the moment its kernel is ready.
NOTEBOOK_TIMEOUT = 60
# Notebooks run at the same time, each with its own kernel: the machines have 2 cores.
JOBS = 2
KERNEL = "python3"
LICENCE_FILES = ("LICENSE.md", "LICENSE")
SOURCE_FILES = ("SOURCE.md", "SOURCE.txt")
# Words that show a SOURCE file says under which terms the data may be used.
LICENCE_WORDS = re.compile(r"licen|\bCC\b|CC0|CC-|public domain", re.IGNORECASE)


# ----------------------------------------------------------------------- licences and files


def check_licences(wb: Workbook) -> list[str]:
    """The workbook's licence file and licence key, and a SOURCE file beside every data file."""
    problems = []
    if not any((wb.folder / name).is_file() for name in LICENCE_FILES):
        problems.append(
            f"{wb.folder}: LICENSE.md is missing; add one that states the licence of the "
            f"content ({wb.licence or 'e.g. CC-BY-4.0'}) and how to credit it."
        )
    if not wb.licence.strip():
        problems.append(f'{wb.folder / "workbook.toml"}: licence is empty; set it, e.g. licence = "CC-BY-4.0".')
    for data_file in _data_files(wb.folder):
        problems.extend(_check_source(data_file))
    return problems


def _data_files(folder: Path) -> list[Path]:
    """Every file inside a folder called `data` (at any depth), SOURCE files excepted."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if (
            path.is_file()
            and "data" in rel[:-1]
            and path.name not in SOURCE_FILES
            and not any(part.startswith(".") or part in JUNK for part in rel)
        ):
            found.append(path)
    return found


def _check_source(data_file: Path) -> list[str]:
    source = next((data_file.parent / n for n in SOURCE_FILES if (data_file.parent / n).is_file()), None)
    if source is None:
        return [
            f"{data_file}: no SOURCE.md beside it; add {data_file.parent / 'SOURCE.md'} saying where "
            f"{data_file.name} comes from and its licence (or that the project made it up, e.g. CC0-1.0)."
        ]
    text = source.read_text(encoding="utf-8", errors="replace")
    problems = []
    if data_file.name not in text:
        problems.append(f"{source}: does not name {data_file.name}; say where that file comes from.")
    if not LICENCE_WORDS.search(text):
        problems.append(f'{source}: names no licence; add one, e.g. "Licence: CC0-1.0 (public domain)".')
    return problems


def check_teacher_guide(wb: Workbook) -> list[str]:
    guide = wb.folder / "TEACHER.md"
    text = guide.read_text(encoding="utf-8", errors="replace") if guide.is_file() else ""
    if not text.strip():
        return [
            f"{guide}: missing or empty; write the teacher guide (goals, time needed, how to run it "
            "with a group, what good work looks like)."
        ]
    return check_teacher_headings(guide, text, wb.language)


# ------------------------------------------------------------------------ notebook metadata


def read_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """The notebook at `path` as stored (no cell ids added), or None with the reason it cannot be used."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.get("nbformat") != 4:
            raise ValueError("not a notebook in format 4")
        nb = nbformat.from_dict(raw)
        # Validate a copy: nbformat quietly adds missing cell ids to what it validates.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            nbformat.validate(copy.deepcopy(nb))
    except (OSError, ValueError, nbformat.ValidationError) as e:  # ValueError covers bad JSON and UTF-8
        return None, [
            f"{path}: is not a valid notebook ({_first_line(str(e))}); open and save it again in JupyterLab 4."
        ]
    return nb, []


def check_clean(path: Path, nb: nbformat.NotebookNode) -> list[str]:
    """Kernelspec present, no saved outputs, execution counts or widget state, a cell id each."""
    problems = []
    spec = nb.metadata.get("kernelspec") or {}
    if spec.get("name") != KERNEL or not spec.get("display_name"):
        problems.append(
            f"{path}: metadata.kernelspec must name the {KERNEL!r} kernel (with a display_name); "
            "open it in JupyterLab, pick the Python 3 kernel and save."
        )
    if "widgets" in nb.metadata:
        problems.append(
            f"{path}: metadata.widgets holds saved widget state; clear it "
            "(Edit > Clear Outputs of All Cells, then save) before adding the workbook."
        )
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    if dirty:
        problems.append(
            f"{path}: cells {_list(dirty)} have saved outputs or execution counts; clear them, e.g. "
            f"jupyter nbconvert --clear-output --inplace {path.name}"
        )
    missing = [i for i, c in enumerate(nb.cells) if not c.get("id")]
    if missing:
        problems.append(
            f"{path}: cells {_list(missing)} have no id; save it with JupyterLab 4 "
            "(notebook format 4.5) so every cell gets one."
        )
    return problems


def _list(indexes: Iterable[int]) -> str:
    return ", ".join(str(i) for i in indexes) + " (counting from 0)"


# -------------------------------------------------------------------------------- execution

# Which copy of a notebook a run executes (see `runs_of`).
AS_IS = "as-is"  # a notebook without nbgrader metadata: learners get it byte for byte
TEACHER = "teacher"  # nbgrader's source format: solutions and hidden tests in place
RELEASED = "released"  # what learners get of it: solutions and hidden tests cleared
# How a problem names the copy it was found in, after the notebook's path.
COPY_NAMES = {AS_IS: "", TEACHER: " (the teacher's version)", RELEASED: " (the learner's copy, answers blank)"}


def runs_of(nb: nbformat.NotebookNode) -> tuple[str, ...]:
    """The copies of notebook `nb` to run: the learner's copy is always among them."""
    return (TEACHER, RELEASED) if is_nbgrader_source(nb) else (AS_IS,)


@dataclass
class NotebookRun:
    """What running one copy of a notebook found."""

    problems: list[str] = field(default_factory=list)
    # Cells tagged `make` that left a new or changed file; None where that is not measured
    # (the teacher's version: a workbook's exercises count once, in the learner's copy).
    made: int | None = None


def run_notebook(folder: Path, rel: str, timeout: int = NOTEBOOK_TIMEOUT, copy: str = AS_IS) -> list[str]:
    """Run notebook `rel` of the workbook in `folder` top to bottom, in a temporary copy; its problems.

    The kernel's working folder is the notebook's folder in the copy, as in a learner's
    home, so files the notebook writes never land in the repository. With `copy` RELEASED
    the notebook run is the student version learners get (release.student_version).
    """
    return run_copy(folder, rel, timeout, copy).problems


def run_copy(folder: Path, rel: str, timeout: int = NOTEBOOK_TIMEOUT, copy: str = AS_IS) -> NotebookRun:
    """`run_notebook`, with the count of making exercises that left a file."""
    path = folder / rel
    name = f"{path}{COPY_NAMES[copy]}"
    with tempfile.TemporaryDirectory(prefix="clhub-check-") as tmp:
        work = Path(tmp) / folder.name
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns(*JUNK))
        try:
            if copy == RELEASED:
                (work / rel).write_bytes(student_version(work / rel) or (work / rel).read_bytes())
            nb = nbformat.read(work / rel, as_version=4)
            return asyncio.run(_run_cells(nb, (work / rel).parent, Path(tmp), name, timeout, copy))
        except Exception as e:  # the kernel would not start, or died: still one problem, not a crash
            return NotebookRun([f"{name}: could not be run ({type(e).__name__}: {_first_line(str(e))})."])


def check_puzzles(name: str, index: int, cell: nbformat.NotebookNode, copy: str) -> list[str]:
    """Problems with the puzzle results a cell just gave (widgets.puzzles).

    In the teacher's version the solutions must solve every puzzle, or grading would give
    0 to a right answer; in the learner's copy, where every answer is blank, a check must
    not say the puzzle is right.
    """
    where = f"{name}: cell {index} (counting from 0; id {cell.get('id')!r})"
    problems = []
    for result in puzzle_results(cell):
        if copy == TEACHER and not result.get("solved"):
            problems.append(
                f"{where}: puzzle {result.get('puzzle')} is not solved by the solution "
                f"({result.get('error')}); fix the solution or the check."
            )
        if copy == RELEASED and result.get("solved"):
            problems.append(
                f"{where}: says puzzle {result.get('puzzle')} is right while the answer is still blank; "
                "make the check's visible asserts fail on a blank answer (`...`)."
            )
    return problems


async def _run_cells(
    nb: nbformat.NotebookNode, cwd: Path, sockets: Path, path: str, timeout: int, copy: str = AS_IS
) -> NotebookRun:
    # Unix sockets in the temporary folder, not TCP ports: nothing else on a shared lab
    # computer can reach the kernel (and ipykernel does not warn about plain-text TCP).
    ipc = Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})
    client = NotebookClient(
        nb, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}, shutdown_kernel="immediate", config=ipc
    )
    measured = set(make_cells(nb)) if copy != TEACHER else set()
    run = NotebookRun(made=0 if copy != TEACHER else None)
    try:
        async with client.async_setup_kernel():
            deadline = time.monotonic() + timeout
            # nbclient's timeout is per cell; giving each cell only what is left makes it per notebook.
            # nbclient annotates int seconds but takes any number (it calls float() on it).
            client.timeout_func = lambda cell: max(0.01, deadline - time.monotonic())  # type: ignore[assignment]
            for index, cell in enumerate(nb.cells):
                here = where(path, index, cell)
                before = folder_files(cwd) if index in measured else {}
                try:
                    await client.async_execute_cell(cell, index)
                except CellTimeoutError:
                    run.problems.append(
                        f"{here} was still running when the notebook's {timeout} s were up; make it run faster "
                        "(smaller data, fewer steps): the whole notebook must run top to bottom within that time."
                    )
                    return run
                except DeadKernelError:
                    run.problems.append(
                        f"{path}: the kernel died in cell {index} (counting from 0; id {cell.get('id')!r}); "
                        "it may use too much memory."
                    )
                    return run
                except CellExecutionError as e:
                    run.problems.append(
                        f"{here} raised {e.ename}: {_first_line(e.evalue)}; fix the cell so the notebook runs "
                        "top to bottom."
                    )
                    return run
                run.problems += check_puzzles(path, index, cell, copy)
                if index in measured:
                    if new_or_changed(before, folder_files(cwd)):
                        run.made = (run.made or 0) + 1
                    else:
                        run.problems.append(
                            f"{here}: is a making exercise (tagged 'make'), but running it left no new or changed "
                            f"file in the notebook's folder; save the creation (a widget made with "
                            f'sidecar="my_x.json" saves at once, or save a picture), or remove the tag.'
                        )
    finally:
        # When the kernel fails to start, nbclient leaves an exit hook behind (that would
        # print a traceback at exit) and may leave the kernel process: end both here.
        atexit.unregister(client._cleanup_kernel)
        if client.km is not None and client.km.has_kernel:
            await ensure_async(client.km.shutdown_kernel(now=True))
    return run


def _first_line(text: str, limit: int = 200) -> str:
    line = next((s for s in text.strip().splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[:limit] + "..."


def run_notebooks(
    notebooks: list[tuple[Path, str]] | list[tuple[Path, str, str]], jobs: int = JOBS, timeout: int = NOTEBOOK_TIMEOUT
) -> list[str]:
    """Run (workbook folder, notebook[, copy]) items, `jobs` at a time; problems in the given order."""
    return [problem for run in run_copies(notebooks, jobs, timeout) for problem in run.problems]


def run_copies(
    notebooks: list[tuple[Path, str]] | list[tuple[Path, str, str]], jobs: int = JOBS, timeout: int = NOTEBOOK_TIMEOUT
) -> list[NotebookRun]:
    """`run_notebooks`, with what each run measured, in the given order."""
    if not notebooks:
        return []
    # Threads are enough: each run waits on its own kernel process and event loop.
    with ThreadPoolExecutor(max(1, min(jobs, len(notebooks))), thread_name_prefix="clhub-check") as pool:
        return list(pool.map(lambda item: run_copy(item[0], item[1], timeout, *item[2:]), notebooks))


# -------------------------------------------------------------------------------- all of it


@dataclass
class Inspection:
    """What `inspect_catalog` found: the problems, and per workbook id what the table shows."""

    problems: list[str] = field(default_factory=list)
    # Making exercises that left a file, over the workbook's notebooks (learner's copies);
    # absent when the notebooks were not run.
    made: dict[str, int] = field(default_factory=dict)
    # The hardest-reading notebook of each workbook.
    readings: dict[str, Reading] = field(default_factory=dict)


def inspect_catalog(
    catalog: Catalog, execute: bool = True, jobs: int = JOBS, timeout: int = NOTEBOOK_TIMEOUT
) -> Inspection:
    """Every problem inside the catalog's workbooks, with what was measured of each.

    Args:
        catalog: a catalog that passed `scan_catalog` (or a part of one).
        execute: also run every notebook headless (the slow part; False for metadata only).
        jobs: notebooks run at the same time.
        timeout: seconds the cells of one notebook may take in all.
    """
    found = Inspection()
    runnable: list[tuple[Path, str, str]] = []
    owners: list[str] = []
    for wb in sorted(catalog.workbooks.values(), key=lambda w: w.id):
        found.problems += check_licences(wb)
        found.problems += check_teacher_guide(wb)
        readable = []
        for rel in wb.notebooks:
            nb, unreadable = read_notebook(wb.folder / rel)
            found.problems += unreadable
            if nb is None:
                continue
            readable.append((wb.folder / rel, nb))
            found.problems += check_clean(wb.folder / rel, nb)
            found.problems += check_readability(wb.folder / rel, nb, wb.summary, wb.language)
            reading = notebook_reading(nb, wb.summary, wb.language)
            known = found.readings.get(wb.id)
            if known is None or (known.ok, -known.grade) > (reading.ok, -reading.grade):
                found.readings[wb.id] = reading
            for version in runs_of(nb):
                runnable.append((wb.folder, rel, version))
                owners.append(wb.id)
        found.problems += check_tags(wb, readable)
    if execute:
        found.made = {wb_id: 0 for wb_id in catalog.workbooks}
        for wb_id, run in zip(owners, run_copies(runnable, jobs, timeout), strict=True):
            found.problems += run.problems
            found.made[wb_id] += run.made or 0
    return found


def deep_check(catalog: Catalog, execute: bool = True, jobs: int = JOBS, timeout: int = NOTEBOOK_TIMEOUT) -> list[str]:
    """Every problem inside the catalog's workbooks (empty when clean); see `inspect_catalog`."""
    return inspect_catalog(catalog, execute, jobs, timeout).problems


def reading_grades(catalog: Catalog) -> dict[Path, float]:
    """The reading grade of each notebook of the catalog (for reports)."""
    grades = {}
    for wb in catalog.workbooks.values():
        for rel in wb.notebooks:
            nb, _ = read_notebook(wb.folder / rel)
            if nb is not None:
                grades[wb.folder / rel] = notebook_reading(nb, wb.summary, wb.language).grade
    return grades
