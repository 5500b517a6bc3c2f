"""A quiz as data: the one check every quiz file goes through, and its pictures (cover and card).

A quiz file is something anyone could edit and pass around (peer review shares it), so
`check_quiz` refuses unknown keys, wrong types, counts and lengths out of range, and
`read_quiz` refuses a file bigger than `MAX_QUIZ_BYTES`, each with a StateError in plain
words. `quiz.py` holds the widgets that make and play a quiz. Pillow is imported only
when a picture is drawn.
"""

from __future__ import annotations

import html
import io
import json
import os
import stat
from typing import Any

from connected_learning.widgets.base import StateError
from connected_learning.widgets.fonts import text_font
from connected_learning.widgets.i18n import _, t

__all__ = [
    "MAX_QUESTIONS",
    "MAX_QUIZ_BYTES",
    "card_png",
    "check_quiz",
    "quiz_html",
    "NotAQuiz",
    "read_quiz",
    "read_quiz_file",
]

MAX_QUESTIONS = 20
MIN_ANSWERS, MAX_ANSWERS = 2, 4
MAX_TITLE = 80
MAX_QUESTION = 200
MAX_ANSWER = 80
MAX_HINT = 200
MAX_WELL_DONE = 120
#: A real quiz of 20 long questions is about 15 KB; anything far bigger is not a quiz.
MAX_QUIZ_BYTES = 64 * 1024
LETTERS = "ABCD"
KIND = "quiz"
QUESTION_KEYS = {"question", "answers", "right", "hint", "well_done"}
QUIZ_KEYS = {"kind", "version", "title", "pass_mark", "questions"}


# The cover's colours (a scoreboard at night); the picture says everything in words too.
_BOARD = (22, 33, 62)
_GOLD = (255, 202, 40)
_WHITE = (255, 255, 255)
_BOX = (67, 160, 71)
_WIDTH, _COVER_HEIGHT = 480, 270
_BOX_SIZE, _BOX_GAP, _BOX_TOP = 36, 8, 150


# ------------------------------------------------------------------ the quiz as data


def new_question() -> dict[str, Any]:
    """A question with two blank answers, the first one right."""
    return {"question": "", "answers": ["", ""], "right": 0, "hint": "", "well_done": ""}


def new_quiz() -> dict[str, Any]:
    return {"title": "", "pass_mark": 60, "questions": [new_question()]}


def _text(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str):
        raise StateError(f"{what} must be text, not {type(value).__name__}.")
    if len(value) > limit:
        raise StateError(f"{what} is {len(value)} letters long; the most is {limit}.")
    return value


def _whole(value: Any, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise StateError(f"{what} must be a whole number from {low} to {high}, not {value!r}.")
    return value


def check_quiz(state: Any) -> dict[str, Any]:
    """A checked copy of the quiz in `state` (title, pass_mark, questions). Raises StateError."""
    if not isinstance(state, dict):
        raise StateError(f"A quiz must be a JSON object, not {type(state).__name__}.")
    unknown = set(state) - QUIZ_KEYS
    if unknown:
        raise StateError(f"A quiz has no {', '.join(sorted(map(str, unknown)))[:80]!r}; this file was edited.")
    questions = state.get("questions")
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        count = len(questions) if isinstance(questions, list) else "no list of"
        raise StateError(f"A quiz has 1 to {MAX_QUESTIONS} questions; this one has {count} questions.")
    checked = []
    for number, question in enumerate(questions, 1):
        if not isinstance(question, dict) or not set(question) <= QUESTION_KEYS:
            raise StateError(f"Question {number} is not a question (it has other parts than a quiz question).")
        answers = question.get("answers")
        if not isinstance(answers, list) or not MIN_ANSWERS <= len(answers) <= MAX_ANSWERS:
            raise StateError(f"Question {number} must have {MIN_ANSWERS} to {MAX_ANSWERS} answers.")
        checked.append(
            {
                "question": _text(question.get("question", ""), MAX_QUESTION, f"Question {number}"),
                "answers": [
                    _text(answer, MAX_ANSWER, f"Answer {LETTERS[i]} of question {number}")
                    for i, answer in enumerate(answers)
                ],
                "right": _whole(question.get("right"), 0, len(answers) - 1, f"The right answer of question {number}"),
                "hint": _text(question.get("hint", ""), MAX_HINT, f"The hint of question {number}"),
                "well_done": _text(question.get("well_done", ""), MAX_WELL_DONE, f"The well done line of {number}"),
            }
        )
    return {
        "title": _text(state.get("title", ""), MAX_TITLE, "The quiz title"),
        "pass_mark": _whole(state.get("pass_mark", 60), 0, 100, "The pass mark"),
        "questions": checked,
    }


class NotAQuiz(StateError):
    """A file that does not say it is a quiz (peer review then shows it as any other file)."""


def _too_big(size: int) -> StateError:
    return StateError(f"This quiz file is {size // 1024} KB; a quiz is never more than {MAX_QUIZ_BYTES // 1024} KB.")


def read_quiz(data: bytes) -> dict[str, Any]:
    """The quiz (with its kind and version) in the bytes of a quiz file, checked.

    Raises:
        NotAQuiz: the bytes are not a JSON object that says it is a quiz.
        StateError: it says it is a quiz, but it is too big, damaged or edited.
    """
    try:
        state = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotAQuiz(f"This is not a quiz file (bad JSON: {error}).") from None
    except RecursionError:  # thousands of nested brackets: not a quiz, and not worth a crash
        raise NotAQuiz("This is not a quiz file (it is nested too deep).") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise NotAQuiz("This file does not hold a quiz.")
    if len(data) > MAX_QUIZ_BYTES:
        raise _too_big(len(data))
    if state.get("version") != 1:
        raise StateError(f"This quiz was saved by version {state.get('version')!r}; this game reads version 1.")
    return {"kind": KIND, "version": 1, **check_quiz(state)}


def read_quiz_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`read_quiz` of a file; a file bigger than `MAX_QUIZ_BYTES` is refused before it is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a pipe must not keep us waiting
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StateError(f"{os.fspath(path)!r} is not a quiz file.")
        data = handle.read(MAX_QUIZ_BYTES + 1)
    if len(data) > MAX_QUIZ_BYTES:
        raise _too_big(info.st_size)
    return read_quiz(data)


def one_line(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ pictures


def _fit(draw: Any, text: str, font: Any, width: int) -> str:
    """`text` on one line, cut with '…' so it fits `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def box_position(index: int) -> tuple[int, int]:
    """Top-left corner of the scoreboard box of question `index` (0-based): two rows of ten."""
    row, column = divmod(index, 10)
    return 24 + column * (_BOX_SIZE + _BOX_GAP), _BOX_TOP + row * (_BOX_SIZE + _BOX_GAP)


def card_png(quiz: dict[str, Any], *, questions: bool = False) -> bytes:
    """The quiz's cover as PNG bytes: title, question count, pass mark, one scoreboard box per question.

    With `questions`, the card also lists every question (not the answers) below the board.
    """
    from PIL import Image, ImageDraw

    asked = quiz["questions"]
    lines = [f"{n}. {one_line(q['question']) or _('(no question yet)')}" for n, q in enumerate(asked, 1)]
    height = _COVER_HEIGHT + (len(lines) * 22 + 16 if questions else 0)
    image = Image.new("RGB", (_WIDTH, height), _BOARD)
    draw = ImageDraw.Draw(image)
    draw.rectangle((6, 6, _WIDTH - 7, height - 7), outline=_GOLD, width=3)
    draw.text((24, 20), _("QUIZ TIME"), font=text_font(16), fill=_GOLD)
    title = one_line(quiz["title"]) or _("My quiz")
    draw.text((24, 44), _fit(draw, title, text_font(30), _WIDTH - 48), font=text_font(30), fill=_WHITE)
    count = t("{count} questions", count=len(asked)) if len(asked) != 1 else _("1 question")
    draw.text((24, 90), count, font=text_font(20), fill=_WHITE)
    draw.text((24, 116), t("Pass mark: {mark}%", mark=quiz["pass_mark"]), font=text_font(18), fill=_GOLD)
    number = text_font(16)
    for index in range(len(asked)):
        x, y = box_position(index)
        draw.rectangle((x, y, x + _BOX_SIZE, y + _BOX_SIZE), fill=_BOX, outline=_WHITE, width=2)
        draw.text((x + _BOX_SIZE / 2, y + _BOX_SIZE / 2), str(index + 1), font=number, fill=_WHITE, anchor="mm")
    if questions:
        small = text_font(16)
        for n, line in enumerate(lines):
            draw.text((24, _COVER_HEIGHT + n * 22), _fit(draw, line, small, _WIDTH - 48), font=small, fill=_WHITE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def quiz_html(quiz: dict[str, Any]) -> str:
    """The whole quiz as escaped HTML, the right answers marked in words (for the builder's preview)."""
    rows = []
    for question in quiz["questions"]:
        answers = "".join(
            f"<li>{LETTERS[i]}: {html.escape(answer) or '…'}"
            + (f" <b>✔ {html.escape(_('right answer'))}</b>" if i == question["right"] else "")
            + "</li>"
            for i, answer in enumerate(question["answers"])
        )
        extra = ""
        if question["hint"]:
            extra += f"<br><i>{html.escape(_('Hint'))}: {html.escape(question['hint'])}</i>"
        if question["well_done"]:
            extra += f"<br><i>{html.escape(_('Well done line'))}: {html.escape(question['well_done'])}</i>"
        text = html.escape(question["question"]) or f"<i>{html.escape(_('(no question yet)'))}</i>"
        rows.append(f"<li><b>{text}</b><ul style='list-style: none'>{answers}</ul>{extra}</li>")
    title = html.escape(quiz["title"]) or html.escape(_("My quiz"))
    mark = html.escape(t("Pass mark: {mark}%", mark=quiz["pass_mark"]))
    return f"<h4>{title}</h4><p>{mark}</p><ol>{''.join(rows)}</ol>"
