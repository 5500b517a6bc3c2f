"""The catalog as a whole: the figures it must reach, and the table `clhub catalog check` prints.

The figures are the catalog's promise to a learner who comes every week (issue 15): enough
workbooks that they do not run out in a month, every interest with a second workbook,
enough that a teacher can assign, and enough in Spanish. They hold for the whole catalog
only; checking one workbook skips them. Pure functions of a loaded catalog and of what
check.py measured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from .load import LANGUAGES, Catalog, Workbook
from .readability import MAX_CRAWFORD, MAX_GRADE, MIN_FERNANDEZ_HUERTA, Reading

# The interest of the workbook everyone gets (how the hub works): not counted as a theme.
GETTING_STARTED = "getting-started"
# English workbooks, getting started aside: a learner coming weekly has half a year of them.
MIN_WORKBOOKS = 24
# Interests (getting started aside) with at least MIN_PER_INTEREST English workbooks each.
MIN_INTERESTS = 11
MIN_PER_INTEREST = 2
# English workbooks a teacher can assign through nbgrader (Spanish editions of them are
# the same exercises, so they do not add to this figure).
MIN_ASSIGNABLE = 6
# Workbooks written in Spanish.
MIN_SPANISH = 6


def _themed_english(catalog: Catalog) -> list[Workbook]:
    return [w for w in catalog.workbooks.values() if w.language == "en" and set(w.interests) - {GETTING_STARTED}]


def check_targets(catalog: Catalog) -> list[str]:
    """The figures of the whole catalog it falls short of, each a problem naming the catalog."""
    root = catalog.root
    english = _themed_english(catalog)
    problems = []
    if len(english) < MIN_WORKBOOKS:
        problems.append(
            f"{root}: has {len(english)} English workbooks besides {GETTING_STARTED}; the catalog needs at "
            f"least {MIN_WORKBOOKS}. Add {MIN_WORKBOOKS - len(english)} more."
        )
    per_interest = Counter(i for w in english for i in w.interests if i != GETTING_STARTED)
    full = [i for i, n in per_interest.items() if n >= MIN_PER_INTEREST]
    if len(full) < MIN_INTERESTS:
        problems.append(
            f"{root / 'interests.toml'}: {len(full)} interests have {MIN_PER_INTEREST} or more English workbooks; "
            f"the catalog needs at least {MIN_INTERESTS}. Add workbooks to the interests that have fewer."
        )
    for interest in catalog.interests:
        if 0 < per_interest[interest] < MIN_PER_INTEREST:
            problems.append(
                f"{root / interest}: the interest {interest!r} has {per_interest[interest]} English workbook(s); "
                f"every interest needs at least {MIN_PER_INTEREST}. Add one more."
            )
    assignable = sum(1 for w in catalog.workbooks.values() if w.assignable and w.language == "en")
    if assignable < MIN_ASSIGNABLE:
        problems.append(
            f"{root}: has {assignable} assignable English workbooks (assignable = true); the catalog needs at "
            f"least {MIN_ASSIGNABLE}. Turn parts with one right answer into nbgrader puzzles in "
            f"{MIN_ASSIGNABLE - assignable} more."
        )
    spanish = sum(1 for w in catalog.workbooks.values() if w.language == "es")
    if spanish < MIN_SPANISH:
        problems.append(
            f'{root}: has {spanish} workbooks in Spanish (language = "es"); the catalog needs at least '
            f"{MIN_SPANISH}. Write {MIN_SPANISH - spanish} more Spanish editions."
        )
    return problems


COLUMNS = ("interest", "workbook", "language", "minutes", "subjects", "exercises", "grade level", "assignable")
NOT_MEASURED = "not run"


def table_rows(
    catalog: Catalog, made: Mapping[str, int] | None, readings: Mapping[str, Reading]
) -> list[tuple[str, ...]]:
    """One row per workbook, sorted by interest (its folder's) then id.

    Args:
        made: making exercises that left a file, by workbook id; None when the notebooks were not run.
        readings: the hardest-reading notebook of each workbook.
    """
    rows = []
    for wb in catalog.workbooks.values():
        reading = readings.get(wb.id)
        rows.append(
            (
                wb.folder.parent.name,
                wb.id,
                wb.language,
                str(wb.minutes),
                ", ".join(wb.subjects),
                NOT_MEASURED if made is None else str(made.get(wb.id, 0)),
                reading.label() if reading else "-",
                "yes" if wb.assignable else "no",
            )
        )
    return sorted(rows, key=lambda row: (row[0], row[1]))


def totals(catalog: Catalog) -> str:
    workbooks = catalog.workbooks.values()
    interests = {w.folder.parent.name for w in workbooks} - {GETTING_STARTED}
    return (
        f"Total: {len(workbooks)} workbooks ({len(_themed_english(catalog))} English besides {GETTING_STARTED}), "
        f"{len(interests)} interests, {sum(1 for w in workbooks if w.assignable)} assignable "
        f"({sum(1 for w in workbooks if w.assignable and w.language == 'en')} English), "
        f"{sum(1 for w in workbooks if w.language == 'es')} in {LANGUAGES['es']}."
    )


def format_table(catalog: Catalog, made: Mapping[str, int] | None, readings: Mapping[str, Reading]) -> str:
    """The catalog's table, a legend of the measures and the totals line, for a terminal."""
    rows = [COLUMNS, *table_rows(catalog, made, readings)]
    widths = [max(len(row[c]) for row in rows) for c in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    exercises = (
        "exercises: cells tagged 'make' that left a file when run"
        if made is not None
        else f"exercises: {NOT_MEASURED} (--no-execute), so not measured"
    )
    lines += [
        "",
        f"{exercises}. Grade level: FK = Flesch-Kincaid US grade (at most {MAX_GRADE}); Spanish: "
        f"CR = Crawford years of schooling (at most {MAX_CRAWFORD:g}), FH = Fernández-Huerta ease "
        f"(at least {MIN_FERNANDEZ_HUERTA:g}).",
        totals(catalog),
    ]
    return "\n".join(lines)
