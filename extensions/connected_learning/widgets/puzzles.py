"""Puzzle checks that never stop Run All: a friendly "not yet" for learners, 0 points in grading.

A workbook's check cell (an nbgrader test cell) wraps its asserts in `puzzle`:

    from connected_learning.widgets.puzzles import puzzle

    with puzzle(1):
        assert seconds_per_step(120) == 0.125, "At 120 BPM one step lasts 0.125 seconds."

When every assert holds, the cell says the puzzle is right. When one fails, or the answer
raises (it is still the blank the learner was given), the cell says in one line that the
puzzle is not solved yet, with the assert's message as a hint, and raises nothing, so Run
All goes on to the Share and Look-back steps.

Grading does not depend on anything the notebook could set. Each check also sends a
result (`MIME_TYPE`: `{"puzzle": ..., "solved": ...}`) beside its text; the grading worker
reads the results outside the learner's kernel and gives a check cell its points only when
every check in it said solved (`unsolved`). `clhub catalog check` uses the same results to
make sure the teacher's solutions solve every puzzle. Standard library only at import:
the hub and the grading worker import this module too.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from connected_learning.widgets.i18n import _, t

# What replaces a solution in the learner's copy (nbgrader's ClearSolutions.code_stub for
# Python, used by catalog.release and the courses; nbgrader's own raises NotImplementedError
# and stops Run All). `...` is a no-op wherever a solution may stand: a function's body (it
# then gives back None) or a value in brackets (`answer = (\n    ### BEGIN SOLUTION ...`),
# whose value is then `...`. The YOUR ANSWER it shows is the one `not_yet_message` names.
CODE_STUB = "# YOUR ANSWER: write it here, in place of the three dots.\n..."
MIME_TYPE = "application/vnd.clhub.puzzle+json"
# A check cell that uses this module: the grading worker expects a result from it.
USES_PUZZLE = re.compile(r"^\s*with\s+puzzle\(", re.MULTILINE)
# What Python says when an answer is still the blank: a function whose body is `...`
# gives back None, a blank value is `...` itself (Ellipsis).
_GIVES_NONE = re.compile(r"NoneType")
_IS_DOTS = re.compile(r"ellipsis|Ellipsis")


class puzzle:  # lower case: it reads as a phrase in the workbooks, `with puzzle(1):`
    """Check one puzzle's answer: `with puzzle(1): assert ...`.

    Args:
        number: the puzzle's number or name, as the workbook's text calls it.
        solved: what to say when every check holds (default "Puzzle <number> is right! ✅").
    """

    def __init__(self, number: int | str, solved: str = "") -> None:
        self.number = number
        self.solved = solved or t("Puzzle {number} is right! ✅", number=number)

    def __enter__(self) -> puzzle:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> bool:
        if error is None:
            _show(self.solved, {"puzzle": str(self.number), "solved": True})
            return False
        if not isinstance(error, Exception):  # an interrupt or an exit is not an answer
            return False
        _show(
            not_yet_message(self.number, error),
            {"puzzle": str(self.number), "solved": False, "error": _what_failed(error, tb)},
        )
        return True


def not_yet_message(number: int | str, error: BaseException) -> str:
    """The friendly lines a learner reads when puzzle `number` failed with `error`."""
    lines = [
        t(
            "🧩 Puzzle {number} is not solved yet — write your answer where it says YOUR ANSWER, "
            "run that cell, then run this cell again.",
            number=number,
        )
    ]
    said = str(error).strip()
    if isinstance(error, AssertionError):
        if said:
            lines.append(t("Hint: {hint}", hint=said))
    elif _GIVES_NONE.search(said):
        lines.append(_("Hint: your answer gives back nothing yet. In a function, start the answer line with return."))
    elif _IS_DOTS.search(said):
        lines.append(_("Hint: the three dots are still there. Write your answer in their place."))
    elif said:
        lines.append(t("Python says: {error}", error=f"{type(error).__name__}: {said.splitlines()[0][:200]}"))
    return "\n".join(lines)


def _what_failed(error: BaseException, tb: TracebackType | None) -> str:
    """For the teacher: the check's line that failed and the error, e.g. `line 3: assert x == 2 (AssertionError)`."""
    what = type(error).__name__ + (f": {str(error).splitlines()[0][:200]}" if str(error).strip() else "")
    if tb is None:
        return what
    code = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno).strip()
    return f"line {tb.tb_lineno}: {code} ({what})" if code else what


def _show(text: str, result: dict[str, Any]) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: the text is all there is
        print(text)
        return
    if get_ipython() is None:
        print(text)
        return
    display({"text/plain": text, MIME_TYPE: result}, raw=True)


# --------------------------------------------------------------- reading results (hub side)


def results(cell: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The puzzle results a code cell's outputs hold, in order."""
    found = []
    for output in cell.get("outputs") or []:
        data = output.get("data") or {}
        result = data.get(MIME_TYPE)
        if isinstance(result, dict):
            found.append(result)
    return found


def unsolved(cell: Mapping[str, Any]) -> str | None:
    """Why a check cell that uses `puzzle` earns nothing, or None when it does not use it or all its checks held.

    A check that was swallowed or never reported (no result at all) counts as unsolved:
    points come only from a result that said solved.
    """
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    found = results(cell)
    expected = len(USES_PUZZLE.findall(source))
    if not found and not expected:
        return None
    failed = [r for r in found if not r.get("solved")]
    if failed:
        return "; ".join(
            f"Puzzle {r.get('puzzle')} is not solved: {r.get('error') or 'a check failed'}" for r in failed
        )
    if len(found) < expected:
        return "The puzzle check gave no result: it did not run to its end."
    return None
