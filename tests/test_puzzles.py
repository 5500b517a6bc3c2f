"""Puzzle checks: a friendly "not yet" that never raises, and results the grader reads outside the kernel.

The checks run in a real kernel (nbclient), as in a learner's JupyterLab; reading the results
(`unsolved`) is a pure function of the executed cell.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from connected_learning.widgets.puzzles import MIME_TYPE, not_yet_message, puzzle, results, unsolved

KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


@pytest.fixture(autouse=True)
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))


def run(*sources: str) -> list[nbformat.NotebookNode]:
    """Run the cells in one kernel, as Run All does (stopping at an error); the executed cells."""
    nb = new_notebook(cells=[new_code_cell(s) for s in sources], metadata=KERNELSPEC)
    NotebookClient(nb, kernel_name="python3", timeout=30).execute()
    return nb.cells


def text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def test_an_unsolved_puzzle_says_so_in_a_friendly_line_and_run_all_goes_on() -> None:
    cells = run(
        "from connected_learning.widgets.puzzles import puzzle\n"
        "def seconds_per_step(tempo):\n    # YOUR ANSWER: write it here, in place of the three dots.\n    ...",
        "with puzzle(1):\n    assert seconds_per_step(120) == 0.125, 'At 120 BPM one step lasts 0.125 seconds.'",
        "loop_seconds = (\n    ...\n)",
        "with puzzle(2):\n    assert isinstance(loop_seconds, (int, float)), 'Type a number, like 3.5'",
        "with puzzle(3):\n    assert nope == 1",
        "print('the last cell ran')",
    )
    assert not any(o.output_type == "error" for c in cells for o in c.outputs)
    assert text(cells[1]).splitlines() == [
        "🧩 Puzzle 1 is not solved yet — write your answer where it says YOUR ANSWER, run that cell, "
        "then run this cell again.",
        "Hint: At 120 BPM one step lasts 0.125 seconds.",
    ]
    assert text(cells[3]).endswith("Hint: Type a number, like 3.5")
    assert "Python says: NameError: name 'nope' is not defined" in text(cells[4])
    assert text(cells[5]) == "the last cell ran\n"
    assert results(cells[1]) == [
        {
            "puzzle": "1",
            "solved": False,
            "error": "line 2: assert seconds_per_step(120) == 0.125, "
            "'At 120 BPM one step lasts 0.125 seconds.' (AssertionError: At 120 BPM one step lasts 0.125 seconds.)",
        }
    ]
    for cell in cells[1], cells[3], cells[4]:
        assert unsolved(cell) and unsolved(cell).startswith("Puzzle ")


def test_a_solved_puzzle_says_its_message_and_counts() -> None:
    cells = run(
        "from connected_learning.widgets.puzzles import puzzle\ndef double(x):\n    return 2 * x",
        "with puzzle(1):\n    assert double(2) == 4",
        "with puzzle('bonus', solved='Your answer is saved. ✅'):\n    assert double(0) == 0",
    )
    assert text(cells[1]) == "Puzzle 1 is right! ✅" and text(cells[2]) == "Your answer is saved. ✅"
    assert results(cells[1]) == [{"puzzle": "1", "solved": True}]
    assert unsolved(cells[1]) is None and unsolved(cells[2]) is None


def test_a_check_that_sends_no_result_counts_as_unsolved() -> None:
    """A learner who makes the check swallow everything silently gets no points for it."""
    cells = run(
        "import connected_learning.widgets.puzzles as p\np.puzzle.__exit__ = lambda *args: True",
        "from connected_learning.widgets.puzzles import puzzle\nwith puzzle(1):\n    assert False",
    )
    assert cells[1].outputs == []  # control: the patch ran, the check said nothing
    assert unsolved(cells[1]) == "The puzzle check gave no result: it did not run to its end."
    # Two checks in one cell need two results; a cell without `puzzle` is not ours to judge.
    one = {"puzzle": "1", "solved": True}
    two_checks = {"source": "with puzzle(1):\n    pass\nwith puzzle(2):\n    pass", "outputs": [_output(one)]}
    assert unsolved(two_checks) == "The puzzle check gave no result: it did not run to its end."
    assert unsolved({"source": "assert True", "outputs": []}) is None


def _output(result: dict) -> dict:
    return {"output_type": "display_data", "data": {"text/plain": "", MIME_TYPE: result}, "metadata": {}}


def test_an_interrupt_is_not_swallowed_and_plain_python_gets_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(KeyboardInterrupt):
        with puzzle(1):
            raise KeyboardInterrupt
    with puzzle(2):
        assert 1 + 1 == 3, "One and one make two."
    assert capsys.readouterr().out.splitlines()[1] == "Hint: One and one make two."
    # An answer that gives back nothing: a hint about `return`, not Python's words for None.
    blank = not_yet_message(1, TypeError("must be real number, not NoneType"))
    assert "start the answer line with return" in blank and "NoneType" not in blank
    dots = not_yet_message(2, TypeError("must be real number, not ellipsis"))
    assert dots.endswith("Hint: the three dots are still there. Write your answer in their place.")
