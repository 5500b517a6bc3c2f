"""How hard a workbook's student-facing text is to read, in English and in Spanish.

The catalog check (check.py) measures the markdown cells of each notebook together with the
workbook.toml summary: English text with the Flesch-Kincaid grade, Spanish text with the
Fernández-Huerta reading ease and Crawford's years of schooling. Pure functions of text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nbformat
from textstat.textstat import textstatistics

# The highest US school grade the student-facing text may read at: the learners are 11 to 16.
MAX_GRADE = 8
# Cells with fewer words give a formula too little to go on to be named as the hardest.
MIN_CELL_WORDS = 30

# Spanish: grade 8 is 13-14 year olds ("2º de secundaria"). Fernández-Huerta's scale
# (Fernández Huerta 1959, as tabled by legible.es/blog/lecturabilidad-fernandez-huerta)
# puts 60-70 at "normal", the reading of 7th and 8th grade; below 60 is "algo difícil",
# secondary school's last years. Crawford (1984) gives the years of schooling a text needs;
# 8 years is the end of grade 8. A text must meet both: Fernández-Huerta weighs long
# words and long sentences apart, Crawford counts sentences per 100 words, and a dense
# legal text can be lucky on one of them.
MIN_FERNANDEZ_HUERTA = 60.0
MAX_CRAWFORD = 8.0

# textstat's module functions share one language setting (textstat.set_lang), global state
# that notebooks checked in threads would race on. Each instance of textstatistics keeps
# its own, set here once and never changed: Spanish syllables are counted with pyphen's
# Spanish rules, English ones with the CMU dictionary.
_ENGLISH = textstatistics()
_ENGLISH.set_lang("en_US")
_SPANISH = textstatistics()
_SPANISH.set_lang("es")


@dataclass(frozen=True)
class Reading:
    """The reading level of a text, in the measure of its language."""

    language: str
    # English: Flesch-Kincaid US grade. Spanish: Crawford's years of schooling.
    grade: float
    # Spanish only: Fernández-Huerta reading ease (0-100, higher is easier).
    ease: float | None = None

    @property
    def ok(self) -> bool:
        if self.language == "es":
            return self.grade <= MAX_CRAWFORD and (self.ease or 0.0) >= MIN_FERNANDEZ_HUERTA
        return self.grade <= MAX_GRADE

    def label(self) -> str:
        """For the catalog's table: `FK 5.2`, or `CR 3.1 FH 82` for Spanish."""
        if self.language == "es":
            return f"CR {self.grade:.1f} FH {self.ease or 0:.0f}"
        return f"FK {self.grade:.1f}"

    def describe(self) -> str:
        """For a problem: the figures and the limits."""
        if self.language == "es":
            return (
                f"Crawford {self.grade:.1f} years of schooling (the most allowed is {MAX_CRAWFORD:g}) and "
                f"Fernández-Huerta reading ease {self.ease or 0:.0f} (the least allowed is {MIN_FERNANDEZ_HUERTA:g})"
            )
        return f"grade {self.grade:.1f} (Flesch-Kincaid); the most allowed is {MAX_GRADE}"


def plain_text(markdown: str) -> str:
    """What a learner reads in `markdown`: no code, URLs or markup; one sentence per line.

    Headings, list items and table cells are read as units, so each ends a sentence;
    otherwise a formula would glue a heading and a list into one 60-word "sentence".
    """
    text = re.sub(r"```.*?```|~~~.*?~~~", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<https?://[^>]*>|https?://\S+|www\.\S+", " ", text)
    text = re.sub(r"<[^>\n]+>|&[a-z]+;", " ", text)
    lines = []
    for raw in text.splitlines():
        if re.fullmatch(r"[\s|:\-=]*", raw):  # blank, table rule, heading underline
            continue
        line = re.sub(r"^\s*(#+|>+|[-*+]|\d+[.)])\s+", "", raw)
        line = re.sub(r"\s*\|\s*", ". ", line.strip().strip("|"))
        line = re.sub(r"[*_~]+", "", line)
        # Emoji and other symbols are not words: textstat would count them as such.
        line = "".join(ch for ch in line if not unicodedata.category(ch).startswith("S"))
        line = line.strip(" .")
        if line:
            lines.append(line if line[-1] in ".!?:;" else line + ".")
    return "\n".join(lines)


# Whole-text Flesch-Kincaid grade, and why: FK is the usual "US school grade" formula and,
# over a whole notebook, its per-sentence noise averages out while a long hard passage
# still counts for its length. textstat's text_standard mixes in Dale-Chall and Linsear
# Write, which mark words like "notebook" or "kernel" as hard and jump by whole grades on
# short texts; a median over cells would let half the cells be as hard as they like.


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade of plain English `text`; 0.0 when it has no words."""
    if word_count(text) == 0:
        return 0.0
    return float(_ENGLISH.flesch_kincaid_grade(text))


def word_count(text: str) -> int:
    return int(_ENGLISH.lexicon_count(text))


def measure(text: str, language: str = "en") -> Reading:
    """The reading level of plain `text` written in `language` ("en" or "es")."""
    if language != "es":
        return Reading(language, reading_grade(text))
    if word_count(text) == 0:
        return Reading(language, 0.0, 100.0)
    return Reading(language, float(_SPANISH.crawford(text)), float(_SPANISH.fernandez_huerta(text)))


def student_text(nb: nbformat.NotebookNode, summary: str = "") -> list[tuple[int | None, str]]:
    """(cell index, plain text) of the summary (index None) and each markdown cell."""
    parts: list[tuple[int | None, str]] = [(None, plain_text(summary))] if summary.strip() else []
    parts += [(i, plain_text(source_of(c))) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]
    return parts


def source_of(cell: nbformat.NotebookNode) -> str:
    # Stored notebooks may keep a cell's source as a list of lines.
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def notebook_reading(nb: nbformat.NotebookNode, summary: str = "", language: str = "en") -> Reading:
    return measure("\n".join(text for _, text in student_text(nb, summary)), language)


def notebook_grade(nb: nbformat.NotebookNode, summary: str = "") -> float:
    return notebook_reading(nb, summary).grade


def check_readability(path: Path, nb: nbformat.NotebookNode, summary: str = "", language: str = "en") -> list[str]:
    """A problem when the notebook's text with the workbook summary reads above grade 8."""
    parts = student_text(nb, summary)
    reading = measure("\n".join(text for _, text in parts), language)
    if reading.ok:
        return []
    measured = [(measure(t, language), i) for i, t in parts if i is not None and word_count(t) >= MIN_CELL_WORDS]
    cells = sorted(((r, i) for r, i in measured if not r.ok), key=lambda ri: ri[0].grade, reverse=True)
    hardest = ", ".join(f"cell {i} ({r.label() if language == 'es' else f'grade {r.grade:.1f}'})" for r, i in cells[:3])
    if language == "es":
        return [
            f"{path}: the student-facing text (markdown cells and the workbook.toml summary) reads at "
            f"{reading.describe()}: harder than grade 8. Use shorter sentences and everyday words (frases "
            "cortas, palabras de todos los días)" + (f", starting with {hardest}." if hardest else ".")
        ]
    return [
        f"{path}: the student-facing text (markdown cells and the workbook.toml summary) reads at "
        f"{reading.describe()}. Use shorter sentences and everyday words"
        + (f", starting with {hardest}." if hardest else ".")
    ]
