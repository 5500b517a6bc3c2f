"""Grading benchmark: autograding 30 submissions in parallel against nbgrader's sequential autograde.

One nbgrader course is built in a temporary folder from the assignable workbook Beat Lab:
its notebook as the source, the release made with nbgrader's own generate_assignment, and
30 submissions, copies of the release with the three answers filled in differently (every
mix of right and wrong, one left blank so that its answers raise NotImplementedError, one
whose answer raises ZeroDivisionError). After one warm-up autograde (page cache, kernel
imports), each of the two is timed twice, in the order A B B A, each time on a fresh copy
of that course, from the call until every score is in the gradebook:

- ours: `grading.autograde_all(course, "beat-lab")` with the default workers (one per CPU);
- baseline: `nbgrader autograde beat-lab`, the command line, run in the course folder: one
  process grading the submissions one after the other, as a teacher runs it.

Both start fresh interpreters that import nbgrader (our workers, the command). Ours skip
the IRI grammar nbgrader's validation never uses and kill each kernel once its notebook has
run rather than wait for it to shut down (see `grading_worker`'s docstring). After every
run the per-student total scores are read from its gradebook with nbgrader's Gradebook and
must be the scores the answers deserve, so all four runs agree. The figure is the mean of
the two runs of each. Target (issue 6): at least 1.7x faster on 2 CPUs, i.e. ours at most
0.59 of the baseline's time. A note on stderr gives each run's time, CPU seconds (kernels
and workers included) and the load average before it: work by others on the machine takes
CPUs from the parallel run first. About 3 minutes.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "extensions"))

from connected_learning.assignments.grading import autograde_all, default_workers  # noqa: E402
from connected_learning.catalog.load import load_catalog  # noqa: E402

WORKBOOK = "beat-lab"
SUBMISSIONS = 30
TARGET = 1 / 1.7
# Each twice, A B B A, each time on a fresh copy: load that drifts during the run hits both alike.
ORDER = ("ours", "nbgrader", "nbgrader", "ours")
# Each answer cell's grade id: (right answer, wrong answer). The test cell after it gives
# one point for the right one.
ANSWERS = {
    "seconds-per-step": (
        "def seconds_per_step(tempo):\n    return 60 / tempo / 4",
        "def seconds_per_step(tempo):\n    return 60 / tempo",
    ),
    "loop-seconds": ("loop_seconds = 60 / 90 / 4 * 16", "loop_seconds = 12"),
    "three-quarter-step": ("three_quarter_step = 13", "three_quarter_step = 12"),
}
RAISES = {"loop-seconds": "loop_seconds = 16 / 0"}
BIN = Path(sys.executable).parent


def student_name(index: int) -> str:
    return f"learner{index:02d}"


def answers_for(index: int) -> tuple[dict[str, str] | None, int]:
    """The answers of submission `index` (None: the release as it is) and the points they earn."""
    if index == 0:
        return None, 0
    if index == 1:
        chosen = {gid: right for gid, (right, _) in ANSWERS.items()} | RAISES
        return chosen, len(ANSWERS) - len(RAISES)
    chosen, points = {}, 0
    for bit, (gid, (right, wrong)) in enumerate(ANSWERS.items()):
        is_right = bool((index >> bit) & 1)
        chosen[gid] = right if is_right else wrong
        points += is_right
    return chosen, points


def build_course(root: Path) -> dict[str, float]:
    """An nbgrader course with the workbook released and SUBMISSIONS filled in; the deserved scores."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    workbook = load_catalog(REPO / "workbooks").workbooks[WORKBOOK]
    source = root / "source" / WORKBOOK
    for rel in workbook.delivered:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(workbook.folder / rel, source / rel)
    api = NbGraderAPI(coursedir=CourseDirectory(root=str(root)))
    result = api.generate_assignment(WORKBOOK)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{result.get('log', '')}{result['error']}")
    release = root / "release" / WORKBOOK
    deserved: dict[str, float] = {}
    for index in range(SUBMISSIONS):
        answers, points = answers_for(index)
        folder = root / "submitted" / student_name(index) / WORKBOOK
        shutil.copytree(release, folder)
        for notebook in workbook.notebooks:
            nb = nbformat.read(folder / notebook, as_version=4)
            for cell in nb.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                if answers and gid in answers:
                    cell.source = answers[gid]
            nbformat.write(nb, folder / notebook)
        # As `nbgrader collect` leaves it.
        (folder / "timestamp.txt").write_text(f"2026-11-30 09:{index:02d}:00.000000 UTC")
        deserved[student_name(index)] = float(points)
    return deserved


def gradebook_scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: float(s.score) for s in gb.assignment_submissions(WORKBOOK)}


def nbgrader_autograde(course: Path) -> None:
    done = subprocess.run([str(BIN / "nbgrader"), "autograde", WORKBOOK], cwd=course, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"nbgrader autograde failed ({done.returncode}):\n{done.stderr[-3000:]}")


def ours(course: Path) -> None:
    # Its summary (time, workers, how long the gradebook lock was held and waited for) goes
    # to the report's notes.
    summary = logging.getLogger("clhub.grading")
    summary.setLevel(logging.INFO)
    summary.addHandler(handler := logging.StreamHandler(sys.stderr))
    try:
        results = autograde_all(course, WORKBOOK)
    finally:
        summary.removeHandler(handler)
    failed = {name: outcome for name, outcome in results.items() if not isinstance(outcome, float)}
    if failed:
        raise RuntimeError(f"autograde_all could not grade: {failed}")


def cpu_seconds() -> float:
    """User + system CPU of this process and of every child process it has waited for."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def timed(run: Callable[[Path], None], course: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of `run(course)` (kernels and workers included)."""
    started, cpu = time.monotonic(), cpu_seconds()
    run(course)
    return time.monotonic() - started, cpu_seconds() - cpu


def main() -> list[tuple[str, float, float, float]]:
    with tempfile.TemporaryDirectory(prefix="clhub-bench-grading-") as tmp:
        tmp_path = Path(tmp)
        # nbgrader runs `alembic` from PATH when it makes a gradebook, and reads the
        # user's Jupyter config: the venv's tools first, an empty config folder.
        os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        os.environ["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
        template = tmp_path / "course"
        deserved = build_course(template)
        warm_up = tmp_path / "warm-up"
        shutil.copytree(template, warm_up)
        for extra in sorted((warm_up / "submitted").iterdir())[1:]:
            shutil.rmtree(extra)
        nbgrader_autograde(warm_up)
        runs: dict[str, list[tuple[float, float]]] = {"ours": [], "nbgrader": []}
        for index, name in enumerate(ORDER):
            course = tmp_path / f"{index}-{name}"
            shutil.copytree(template, course)
            load = os.getloadavg()[0]
            wall, cpu = timed(ours if name == "ours" else nbgrader_autograde, course)
            runs[name].append((wall, cpu))
            print(
                f"grading: {name:8} {wall:6.1f} s, {cpu:5.1f} CPU s (kernels and workers included); "
                f"load average {load:.1f} before",
                file=sys.stderr,
            )
            scores = gradebook_scores(course)
            if scores != deserved:
                raise RuntimeError(f"{name} scores differ:\n {scores}\n deserved {deserved}")
    ours_s, base_s = (statistics.mean(wall for wall, _ in runs[name]) for name in ("ours", "nbgrader"))
    return [(f"autograde {SUBMISSIONS} submissions, {default_workers()} workers, s", ours_s, base_s, TARGET)]


if __name__ == "__main__":
    from run import report

    report("grading (autograde_all vs nbgrader autograde, sequential)", main())
