"""The deep catalog check: notebooks run, text is readable, licences and metadata are there.

One test runs every notebook of the repository's catalog (the slow one; nothing else in
the suite runs them through the check). The others build a small catalog under tmp_path,
broken in one place, and look for the problem naming the file and the cell or key. Those
that run a kernel use tiny notebooks, so each takes a second or two.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from connected_learning.catalog.check import (
    MAX_GRADE,
    check_readability,
    deep_check,
    plain_text,
    reading_grade,
    reading_grades,
)
from connected_learning.catalog.load import load_catalog
from connected_learning.cli import main

REPO = Path(__file__).resolve().parents[1]
WORKBOOKS = REPO / "workbooks"

EASY = (
    "## Step 1: Make a song\n\nRun the cell below. Pick a drum you like. Then press the big "
    "green button. You will hear your beat. Try it again with a new drum. Which one do you like best?"
)
# Long sentences full of long words: what a grant report reads like, not a workbook.
HARD = (
    "The pedagogical infrastructure underpinning constructionist methodologies necessitates "
    "comprehensive institutional commitment to interdisciplinary collaboration, whereby educators "
    "systematically operationalize epistemological frameworks emphasizing autonomous knowledge "
    "construction through computationally mediated artefacts. Consequently, administrative "
    "stakeholders must reconceptualize assessment paradigms to accommodate heterogeneous "
    "demonstrations of conceptual understanding."
)
SOURCE = "`numbers.csv` was made up by the project for practice. Licence: CC0-1.0 (public domain).\n"


@pytest.fixture(autouse=True)
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernel connection files go under this test's temporary folder, not the user's."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))


def write_notebook(path: Path, cells: list[nbformat.NotebookNode]) -> Path:
    nb = new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def make_catalog(
    root: Path,
    notebooks: dict[str, list[nbformat.NotebookNode]] | None = None,
    summary: str = "Make a beat and share it with a friend.",
) -> Path:
    """A one-workbook catalog at `root` (workbook `music/tiny`) that passes every check."""
    notebooks = notebooks or {"tiny.ipynb": [new_markdown_cell(EASY), new_code_cell("x = 6 * 7")]}
    root.mkdir(parents=True)
    (root / "interests.toml").write_text('[interests.music]\ntitle = "Music"\ndescription = "Beats."\n')
    folder = root / "music" / "tiny"
    for name, cells in notebooks.items():
        write_notebook(folder / name, cells)
    (folder / "workbook.toml").write_text(
        'id = "tiny"\ntitle = "Tiny"\nversion = "1.0"\ninterests = ["music"]\nsubjects = ["maths"]\n'
        f'level = "beginner"\nminutes = 10\nsummary = "{summary}"\nnotebooks = {json.dumps(list(notebooks))}\n'
        'licence = "CC-BY-4.0"\n'
    )
    (folder / "LICENSE.md").write_text("CC-BY-4.0, by the Connected Learning Hub project.\n")
    (folder / "TEACHER.md").write_text("# Tiny\n\nGoals, time, how to run it, what good work looks like.\n")
    return root


def folder_of(root: Path) -> Path:
    return root / "music" / "tiny"


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}


# ------------------------------------------------------------------ the shipped catalog


def test_every_notebook_of_the_repository_catalog_runs_and_passes_the_deep_check() -> None:
    catalog = load_catalog(WORKBOOKS)
    before = files_under(WORKBOOKS)
    assert deep_check(catalog, execute=True, jobs=2) == []
    # The notebooks save a beat and a chart: into the temporary copy, never into the repository.
    assert files_under(WORKBOOKS) == before
    grades = reading_grades(catalog)
    assert len(grades) == sum(len(w.notebooks) for w in catalog.workbooks.values())
    assert all(0 < grade <= MAX_GRADE for grade in grades.values()), grades


# ------------------------------------------------------------------ running the notebooks


def test_a_small_clean_catalog_runs_in_a_temporary_copy(tmp_path: Path) -> None:
    root = make_catalog(tmp_path / "workbooks")
    folder = folder_of(root)
    (folder / "data").mkdir()
    (folder / "data" / "numbers.csv").write_text("n\n1\n2\n")
    (folder / "data" / "SOURCE.md").write_text(SOURCE)
    write_notebook(
        folder / "tiny.ipynb",
        [
            new_markdown_cell(EASY),
            new_code_cell(
                "from pathlib import Path\n"
                f"assert Path.cwd() != Path({str(folder)!r}), 'runs in the repository folder'\n"
                "rows = Path('data/numbers.csv').read_text().split()\n"
                "assert rows == ['n', '1', '2'], rows\n"
                "Path('made-by-the-check.txt').write_text('hello')"
            ),
        ],
    )
    before = files_under(folder)
    assert deep_check(load_catalog(root)) == []
    assert files_under(folder) == before


def test_a_cell_that_raises_is_named_with_its_notebook_cell_and_error(tmp_path: Path) -> None:
    root = make_catalog(
        tmp_path / "workbooks",
        {
            "a.ipynb": [
                new_markdown_cell(EASY),
                new_code_cell("x = 1"),
                new_code_cell("x / 0"),
                new_code_cell("never = 'run'"),
            ],
            "b.ipynb": [new_markdown_cell(EASY), new_code_cell("print(nope)")],
        },
    )
    a, b = folder_of(root) / "a.ipynb", folder_of(root) / "b.ipynb"
    a_id = nbformat.read(a, as_version=4).cells[2].id
    problems = deep_check(load_catalog(root), jobs=2)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{a}: cell 2 ") and f"id {a_id!r}" in problems[0]
    assert "ZeroDivisionError: division by zero" in problems[0]
    assert problems[1].startswith(f"{b}: cell 1 ") and "NameError: name 'nope' is not defined" in problems[1]


# ---------------------------------------------------- the learner's copy of an nbgrader notebook


def graded(source: str, grade_id: str, *, check: bool) -> nbformat.NotebookNode:
    """An nbgrader answer cell, or (`check`) a test cell worth 1 point."""
    meta = {"grade": check, "grade_id": grade_id, "locked": check, "schema_version": 3}
    meta |= {"solution": not check, "task": False} | ({"points": 1} if check else {})
    return new_code_cell(source, metadata={"nbgrader": meta})


DOUBLE = graded("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "double", check=False)
PUZZLE = "from connected_learning.widgets.puzzles import puzzle"


def test_a_learners_copy_that_raises_fails_the_check_naming_the_copy_notebook_and_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The teacher's versions run clean; the copies learners get stop Run All, and the check says where."""
    root = make_catalog(
        tmp_path / "workbooks",
        {
            # A visible test that raises while the answer is blank.
            "a.ipynb": [
                new_markdown_cell(EASY),
                DOUBLE,
                graded("assert double(2) == 4, 'Two times 2 is 4.'", "test-double", check=True),
                new_code_cell("print('the end')"),
            ],
            # An answer cell that uses its own answer: raises in the learner's copy.
            "b.ipynb": [
                new_markdown_cell(EASY),
                graded("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\nprint(answer + 1)", "answer", check=False),
                graded("assert answer", "test-answer", check=True),
            ],
        },
    )
    a, b = folder_of(root) / "a.ipynb", folder_of(root) / "b.ipynb"
    a_id = nbformat.read(a, as_version=4).cells[2].id
    assert main(["catalog", "check", str(root)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3, err
    assert err[0].startswith(f"{a} (the learner's copy, answers blank): cell 2 (counting from 0; id {a_id!r}) raised")
    assert "AssertionError: Two times 2 is 4." in err[0]
    assert err[1].startswith(f"{b} (the learner's copy, answers blank): cell 1 ")
    assert "NameError: name 'answer' is not defined" in err[1]
    assert err[2] == f"2 problem(s) in the catalog at {root}."


def test_puzzle_checks_run_to_the_end_in_the_learners_copy_and_are_solved_in_the_teachers(tmp_path: Path) -> None:
    good = [
        new_markdown_cell(EASY),
        new_code_cell(PUZZLE),
        DOUBLE,
        graded("with puzzle(1):\n    assert double(2) == 4, 'Two times 2 is 4.'", "test-double", check=True),
        new_code_cell("print('the end')"),
    ]
    root = make_catalog(tmp_path / "workbooks", {"good.ipynb": good})
    assert deep_check(load_catalog(root)) == []


def test_a_solution_that_fails_its_puzzle_or_a_check_that_passes_a_blank_answer_is_a_problem(tmp_path: Path) -> None:
    wrong = graded(
        "def double(x):\n    ### BEGIN SOLUTION\n    return 3 * x\n    ### END SOLUTION", "double", check=False
    )
    root = make_catalog(
        tmp_path / "workbooks",
        {
            "wrong.ipynb": [
                new_markdown_cell(EASY),
                new_code_cell(PUZZLE),
                wrong,
                graded("with puzzle(1):\n    assert double(2) == 4, 'Two times 2 is 4.'", "test-double", check=True),
            ],
            "lax.ipynb": [
                new_markdown_cell(EASY),
                new_code_cell(PUZZLE),
                DOUBLE,
                graded("with puzzle(2):\n    assert callable(double)", "test-double", check=True),
            ],
        },
    )
    wrong_nb, lax_nb = folder_of(root) / "wrong.ipynb", folder_of(root) / "lax.ipynb"
    problems = deep_check(load_catalog(root), jobs=2)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{wrong_nb} (the teacher's version): cell 3 ")
    assert "puzzle 1 is not solved by the solution (line 2: assert double(2) == 4" in problems[0]
    assert "fix the solution or the check" in problems[0]
    assert problems[1].startswith(f"{lax_nb} (the learner's copy, answers blank): cell 3 ")
    assert "says puzzle 2 is right while the answer is still blank" in problems[1]


@pytest.mark.parametrize(
    "cells",
    [
        ["import time\ntime.sleep(60)"],
        # Each cell is quick; together they take longer than the notebook may.
        ["import time\ntime.sleep(0.8)"] * 4,
    ],
    ids=["one-slow-cell", "many-cells-add-up"],
)
def test_a_notebook_that_runs_longer_than_the_timeout_is_a_problem(tmp_path: Path, cells: list[str]) -> None:
    root = make_catalog(tmp_path / "workbooks", {"slow.ipynb": [new_code_cell(c) for c in cells]})
    started = time.monotonic()
    problems = deep_check(load_catalog(root), timeout=2)
    assert time.monotonic() - started < 30
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{folder_of(root) / 'slow.ipynb'}: cell ")
    assert "still running when the notebook's 2 s were up" in problems[0]


# --------------------------------------------------------------------------- readability


def test_text_at_college_level_is_a_readability_problem(tmp_path: Path) -> None:
    root = make_catalog(
        tmp_path / "workbooks",
        {"hard.ipynb": [new_markdown_cell(EASY), new_markdown_cell(HARD), new_code_cell("x = 1")]},
    )
    problems = deep_check(load_catalog(root), execute=False)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{folder_of(root) / 'hard.ipynb'}: the student-facing text")
    assert f"the most allowed is {MAX_GRADE}" in problems[0] and "cell 1 (grade" in problems[0]
    grade = float(problems[0].split("reads at grade ")[1].split(" ")[0])
    assert grade > 12


def test_the_workbook_summary_counts_as_student_facing_text(tmp_path: Path) -> None:
    hard_summary = HARD.split(". ")[0].replace(",", "") + "."
    root = make_catalog(tmp_path / "workbooks", {"short.ipynb": [new_markdown_cell("Have fun.")]}, summary=hard_summary)
    problems = deep_check(load_catalog(root), execute=False)
    assert len(problems) == 1 and "short.ipynb: the student-facing text" in problems[0], problems


def test_code_urls_and_markup_are_not_measured() -> None:
    markdown = (
        EASY + "\n\n```python\nconfigure_interdisciplinary_assessment_infrastructure(heterogeneous_"
        "demonstrations=True, epistemological_frameworks=institutional_commitment)\n```\n\n"
        "Type `administrative_stakeholders.reconceptualize_assessment_paradigms()` and see.\n\n"
        "Read more at <https://example.org/pedagogical-infrastructure/constructionist-methodologies>.\n\n"
        "| drum | pattern |\n| --- | --- |\n| kick | `x...x...` |\n"
    )
    text = plain_text(markdown)
    assert "infrastructure" not in text and "https" not in text and "|" not in text and "#" not in text
    assert "Run the cell below." in text and "Make a song." in text
    # Measured as written, the code and the URL would push it far above the limit.
    assert reading_grade(markdown) > MAX_GRADE >= reading_grade(text)
    nb = new_notebook(cells=[new_markdown_cell(markdown)])
    assert check_readability(Path("x.ipynb"), nb) == []


# ------------------------------------------------------------------------------ licences


def test_a_workbook_without_license_md_is_a_problem(tmp_path: Path) -> None:
    root = make_catalog(tmp_path / "workbooks")
    (folder_of(root) / "LICENSE.md").unlink()
    problems = deep_check(load_catalog(root), execute=False)
    assert problems == [
        f"{folder_of(root)}: LICENSE.md is missing; add one that states the licence of the "
        "content (CC-BY-4.0) and how to credit it."
    ]
    (folder_of(root) / "LICENSE").write_text("CC-BY-4.0\n")
    assert deep_check(load_catalog(root), execute=False) == []


def test_an_empty_licence_key_is_a_problem(tmp_path: Path) -> None:
    catalog = load_catalog(make_catalog(tmp_path / "workbooks"))
    tiny = dataclasses.replace(catalog.workbooks["tiny"], licence=" ")
    problems = deep_check(dataclasses.replace(catalog, workbooks={"tiny": tiny}), execute=False)
    assert problems == [
        f'{folder_of(catalog.root) / "workbook.toml"}: licence is empty; set it, e.g. licence = "CC-BY-4.0".'
    ]


def test_data_without_a_source_file_naming_it_and_its_licence_is_a_problem(tmp_path: Path) -> None:
    root = make_catalog(tmp_path / "workbooks")
    data = folder_of(root) / "part-2" / "data"
    data.mkdir(parents=True)
    (data / "numbers.csv").write_text("n\n1\n")
    problems = deep_check(load_catalog(root), execute=False)
    assert len(problems) == 1 and problems[0].startswith(f"{data / 'numbers.csv'}: no SOURCE.md beside it")
    (data / "SOURCE.md").write_text("We counted these ourselves.\n")
    problems = deep_check(load_catalog(root), execute=False)
    assert problems == [
        f"{data / 'SOURCE.md'}: does not name numbers.csv; say where that file comes from.",
        f'{data / "SOURCE.md"}: names no licence; add one, e.g. "Licence: CC0-1.0 (public domain)".',
    ]
    (data / "SOURCE.md").write_text(SOURCE)
    assert deep_check(load_catalog(root), execute=False) == []


# ------------------------------------------------------------------------------ metadata


def test_a_notebook_with_saved_outputs_or_execution_counts_is_a_problem(tmp_path: Path) -> None:
    root = make_catalog(tmp_path / "workbooks")
    path = folder_of(root) / "tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(
        new_code_cell(
            "print('hi')", execution_count=3, outputs=[nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
        )
    )
    nbformat.write(nb, path)
    problems = deep_check(load_catalog(root), execute=False)
    assert len(problems) == 1 and problems[0].startswith(
        f"{path}: cells 2 (counting from 0) have saved outputs or execution counts; clear them"
    ), problems


def test_missing_teacher_guide_kernelspec_cell_ids_and_saved_widget_state_are_problems(tmp_path: Path) -> None:
    root = make_catalog(tmp_path / "workbooks")
    folder = folder_of(root)
    (folder / "TEACHER.md").unlink()
    raw = json.loads((folder / "tiny.ipynb").read_text())
    del raw["metadata"]["kernelspec"]
    raw["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    del raw["cells"][1]["id"]
    (folder / "tiny.ipynb").write_text(json.dumps(raw))
    problems = deep_check(load_catalog(root), execute=False)
    assert [p.split(":")[0] for p in problems] == [str(folder / "TEACHER.md")] + [str(folder / "tiny.ipynb")] * 3
    assert "missing or empty; write the teacher guide" in problems[0]
    assert "metadata.kernelspec must name the 'python3' kernel" in problems[1]
    assert "metadata.widgets holds saved widget state" in problems[2]
    assert "cells 1 (counting from 0) have no id" in problems[3]


@pytest.mark.parametrize(
    "content",
    [
        "{ not json",
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [{"cell_type": "banana", "id": "x", "metadata": {}, "source": ""}],
            }
        ),
    ],
    ids=["not-json", "not-a-valid-notebook"],
)
def test_a_file_that_is_not_a_notebook_is_a_problem(tmp_path: Path, content: str) -> None:
    root = make_catalog(tmp_path / "workbooks")
    (folder_of(root) / "tiny.ipynb").write_text(content)
    problems = deep_check(load_catalog(root))  # nothing to run: no kernel is started
    assert len(problems) == 1 and problems[0].startswith(f"{folder_of(root) / 'tiny.ipynb'}: is not a valid notebook")


# ----------------------------------------------------------------------- clhub catalog check


def test_clhub_catalog_check_runs_the_notebooks_and_exits_0_when_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_catalog(tmp_path / "workbooks")
    assert main(["catalog", "check", str(root)]) == 0
    out = capsys.readouterr()
    assert "Running 1 notebooks headless" in out.out and "is fine: 1 workbooks, 1 interests." in out.out
    assert out.err == ""


def test_clhub_catalog_check_lists_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_catalog(tmp_path / "workbooks", {"hard.ipynb": [new_markdown_cell(HARD)]})
    (folder_of(root) / "LICENSE.md").unlink()
    assert main(["catalog", "check", "--no-execute", str(root)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{folder_of(root)}: LICENSE.md is missing")
    assert err[1].startswith(f"{folder_of(root) / 'hard.ipynb'}: the student-facing text")
    assert err[2] == f"2 problem(s) in the catalog at {root}."


def test_clhub_catalog_check_no_execute_does_not_run_the_notebooks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_catalog(tmp_path / "workbooks", {"boom.ipynb": [new_code_cell("1 / 0")]})
    assert main(["catalog", "check", "--no-execute", str(root)]) == 0
    assert "(notebooks not run)" in capsys.readouterr().out


def test_clhub_catalog_check_reports_workbook_toml_problems_before_looking_inside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_catalog(tmp_path / "workbooks")
    (folder_of(root) / "LICENSE.md").unlink()
    toml = folder_of(root) / "workbook.toml"
    toml.write_text(toml.read_text().replace('level = "beginner"', 'level = "expert"'))
    assert main(["catalog", "check", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{toml}: level = 'expert'" in err and "LICENSE.md" not in err
    assert main(["catalog", "check", str(tmp_path / "nowhere")]) == 2
