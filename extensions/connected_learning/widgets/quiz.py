"""QuizBuilder makes a quiz game; QuizGame plays one, the learner's own or a peer's shared copy.

    QuizBuilder(sidecar="my_quiz.json")          # write questions, see the quiz and its cover
    QuizGame.load_from("my_quiz.json")           # play it: one question at a time, a score at the end

A quiz is a title, 1 to 20 multiple-choice questions (2 to 4 answers each, one of them
right, named by its letter, never by colour alone), an optional hint and a "well done"
line per question, and a pass mark in percent. It lives in the builder's JSON sidecar:

    {"kind": "quiz", "version": 1, "title": "...", "pass_mark": 60,
     "questions": [{"question": "...", "answers": ["...", "..."], "right": 0,
                    "hint": "...", "well_done": "..."}]}

A quiz file is something anyone could edit and pass around (peer review shares it), so
every quiz goes through `quiz_data.check_quiz` (and `read_quiz`, for a file's bytes)
before it is shown. Text a quiz holds reaches the page only as widget text (button
labels) or through `html.escape`.

The builder shows the quiz's cover as a PNG in an `ipywidgets.Image`, redrawn after each
change, so the notebook's saved widget state (and the showcase's static page) holds a
picture of it; "Save quiz card" exports a bigger card that lists the questions. Pillow is
imported only when a picture is drawn.
"""

from __future__ import annotations

import copy
import html
import os
from pathlib import Path
from typing import Any, Self

import ipywidgets as widgets

from connected_learning.widgets.base import WIDE, CreationState, TitledImage, close_all, export_row, make_status
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import _, t
from connected_learning.widgets.quiz_data import (
    KIND,
    LETTERS,
    MAX_ANSWER,
    MAX_ANSWERS,
    MAX_HINT,
    MAX_QUESTION,
    MAX_QUESTIONS,
    MAX_TITLE,
    MAX_WELL_DONE,
    NotAQuiz,
    card_png,
    check_quiz,
    new_question,
    new_quiz,
    one_line,
    quiz_html,
    read_quiz,
    read_quiz_file,
)

__all__ = ["QuizBuilder", "QuizGame", "quiz_player"]

_FULL = widgets.Layout(width="95%")
_FIT = widgets.Layout(width="auto")
_CHOICES = {"description_width": "initial", "button_width": "3em"}

# ------------------------------------------------------------------ the game


def _status_html(message: str) -> str:
    return f'<div role="status" aria-live="polite">{html.escape(message)}</div>'


class QuizGame(CreationState, widgets.VBox):
    """Play a quiz: one question at a time, answer buttons, feedback in words, a score at the end.

    The game never writes anything: the quiz it plays (maybe a peer's file) is only read.

    Args:
        quiz: the quiz to play (as saved by QuizBuilder); `QuizGame.load_from(path)` reads a file.
    """

    kind = KIND

    def __init__(self, quiz: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.status = make_status()
        self.quiz = new_quiz()
        self.index = 0
        self.score = 0
        self.answered = False
        self.finished = False
        self.heading = widgets.HTML()
        self.question_view = widgets.HTML(layout=_FULL)
        self.answers_box = widgets.VBox()
        self.answer_buttons: list[widgets.Button] = []
        self.hint_button = widgets.Button(
            description=_("Show a hint"), icon="lightbulb-o", layout=_FIT, tooltip=_("Show a hint for this question")
        )
        self.hint_view = widgets.HTML()
        self.feedback = widgets.HTML()
        self.next_button = widgets.Button(
            description=_("Next question"), icon="arrow-right", layout=_FIT, button_style="primary"
        )
        self.again_button = widgets.Button(
            description=_("Play again"), icon="repeat", layout=_FIT, tooltip=_("Start the quiz again from question 1")
        )
        self.hint_button.on_click(lambda _b: self.show_hint())
        self.next_button.on_click(lambda _b: self.next())
        self.again_button.on_click(lambda _b: self.restart())
        super().__init__(
            [
                self.heading,
                self.question_view,
                self.answers_box,
                self.hint_button,
                self.hint_view,
                self.feedback,
                widgets.HBox([self.next_button, self.again_button]),
                self.status,
            ],
            **kwargs,
        )
        if quiz is None:
            self.heading.value = html.escape(_("No quiz loaded yet."))
            self._show_buttons()
        else:
            self.load_state(quiz)

    @classmethod
    def load_from(cls, path: str | os.PathLike[str], **kwargs: Any) -> Self:
        """A game of the quiz saved in `path` (yours or a peer's); a damaged or huge file gives StateError."""
        return cls(read_quiz_file(path), **kwargs)

    @classmethod
    def from_bytes(cls, data: bytes, **kwargs: Any) -> Self:
        """A game of the quiz in `data`, the bytes of a quiz file (such as a peer's shared copy)."""
        return cls(read_quiz(data), **kwargs)

    def _dump(self) -> dict[str, Any]:
        return copy.deepcopy(self.quiz)

    def _restore(self, state: dict[str, Any]) -> None:
        self.quiz = check_quiz(state)
        self.restart()

    @property
    def question(self) -> dict[str, Any]:
        return self.quiz["questions"][self.index]

    def restart(self) -> None:
        """Start again from question 1 with a score of 0."""
        self.index = self.score = 0
        self.finished = False
        self._ask()

    def _ask(self) -> None:
        total = len(self.quiz["questions"])
        question = self.question
        self.answered = False
        title = html.escape(one_line(self.quiz["title"]) or _("My quiz"))
        where = html.escape(t("Question {number} of {total}", number=self.index + 1, total=total))
        self.heading.value = f"<h4>{title}</h4><p>{where}</p>"
        self.question_view.value = f"<p><b>{html.escape(question['question']) or '…'}</b></p>"
        buttons = []
        for i, answer in enumerate(question["answers"]):
            words = one_line(answer) or "…"
            button = widgets.Button(
                description=f"{LETTERS[i]}: {words}"[:90],
                layout=_FIT,
                tooltip=t("Answer {letter}: {answer}", letter=LETTERS[i], answer=words[:80]),
            )
            button.on_click(lambda _b, choice=i: self.answer(choice))
            buttons.append(button)
        close_all(self.answer_buttons)
        self.answer_buttons = buttons
        self.answers_box.children = buttons
        self.hint_view.value = ""
        self.feedback.value = ""
        self.status.value = ""
        self._show_buttons()

    def _show_buttons(self) -> None:
        has_quiz = bool(self.answer_buttons) or self.finished
        self.hint_button.disabled = self.finished or not has_quiz or not self.question["hint"] or self.answered
        self.next_button.disabled = not self.answered or self.finished
        last = self.index + 1 == len(self.quiz["questions"])
        self.next_button.description = _("See my score") if last else _("Next question")
        self.again_button.disabled = not has_quiz

    def show_hint(self) -> None:
        hint = self.question["hint"]
        if hint and not self.answered:
            self.hint_view.value = f"<p><i>{html.escape(_('Hint'))}: {html.escape(hint)}</i></p>"

    def answer(self, choice: int) -> None:
        """Pick answer `choice` (0 is A) for the question on screen."""
        if self.answered or self.finished or not 0 <= choice < len(self.answer_buttons):
            return
        question = self.question
        right = question["right"]
        self.answered = True
        for i, button in enumerate(self.answer_buttons):
            button.disabled = True
            if i == right:
                button.description = "✔ " + button.description
                button.button_style = "success"
            elif i == choice:
                button.description = "✘ " + button.description
                button.button_style = "danger"
        if choice == right:
            self.score += 1
            message = _("Right!") + " " + (one_line(question["well_done"]) or _("Well done."))
        else:
            words = one_line(question["answers"][right]) or "…"
            message = t("Not quite. The right answer is {letter}: {answer}", letter=LETTERS[right], answer=words)
        self.feedback.value = _status_html(message)
        self._show_buttons()

    def next(self) -> None:
        """Go on to the next question, or to the score after the last one."""
        if not self.answered or self.finished:
            return
        if self.index + 1 < len(self.quiz["questions"]):
            self.index += 1
            self._ask()
            return
        self.finished = True
        total = len(self.quiz["questions"])
        percent = round(100 * self.score / total)
        passed = percent >= self.quiz["pass_mark"]
        verdict = _("You passed! 🎉") if passed else _("Not passed yet. Play again to beat your score!")
        score = t("You got {score} out of {total} ({percent}%).", score=self.score, total=total, percent=percent)
        mark = t("The pass mark is {mark}%.", mark=self.quiz["pass_mark"])
        self.heading.value = f"<h4>{html.escape(one_line(self.quiz['title']) or _('My quiz'))}</h4>"
        self.question_view.value = f"<p><b>{html.escape(score)}</b> {html.escape(mark)}</p>"
        close_all(self.answer_buttons)
        self.answer_buttons = []
        self.answers_box.children = ()
        self.hint_view.value = ""
        self.feedback.value = _status_html(verdict)
        self._show_buttons()

    @property
    def percent(self) -> int:
        """The score so far as a percentage of the quiz's questions."""
        return round(100 * self.score / len(self.quiz["questions"]))


def quiz_player(name: str, data: bytes) -> list[widgets.Widget]:
    """For peer review: a "Play this quiz" button for a shared quiz file, or nothing for other JSON files.

    The game plays the bytes already read from the shared copy: it writes nothing, and the
    quiz is checked first (`quiz_data.read_quiz`), since its author could have edited it.
    """
    try:
        quiz = read_quiz(data)
    except NotAQuiz:
        return []
    except ValueError as error:
        why = t("{name} is a quiz that cannot be played: {error}", name=name, error=str(error))
        return [widgets.HTML(f"<p>{html.escape(why)}</p>")]
    area = widgets.VBox()
    button = widgets.Button(
        description=t("Play this quiz: {title}", title=" ".join(quiz["title"].split())[:40] or name),
        icon="play",
        layout=widgets.Layout(width="auto", align_self="flex-start"),
        tooltip=_("Play your peer's quiz here. Your answers are not saved or sent."),
    )

    def play(_button: widgets.Button) -> None:
        close_all(area.children)
        area.children = (QuizGame(quiz),)

    button.on_click(play)
    return [button, area]


# ------------------------------------------------------------------ the builder


class QuizBuilder(CreationState, widgets.VBox):
    """Make a quiz game: a title, questions with 2 to 4 answers, hints, a pass mark; try it and save its card.

    Args:
        sidecar: a JSON file in the learner's folder that keeps the quiz (like "my_quiz.json");
            QuizGame.load_from plays it, and it can be shared for peers to play.
    """

    kind = KIND

    def __init__(self, *, sidecar: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        self.status = make_status()
        self.quiz = new_quiz()
        self.editing = 0
        self._quiet = False
        self.title = widgets.Text(
            description=_("Quiz title:"),
            style=WIDE,
            layout=_FULL,
            continuous_update=False,
            placeholder=_("Name your quiz"),
        )
        # A number box, not a slider: ipywidgets' slider handle has no name a screen reader can say.
        self.pass_mark = widgets.BoundedIntText(
            value=60, min=0, max=100, step=5, description=_("Pass mark (%):"), style=WIDE, continuous_update=False
        )
        self.picker = widgets.Dropdown(description=_("Question to edit:"), style=WIDE)
        # With the keyboard in JupyterLab, buttons are easier than the drop-down (see how_many below).
        self.before_button = widgets.Button(description=_("Question before"), icon="arrow-left", layout=_FIT)
        self.after_button = widgets.Button(description=_("Question after"), icon="arrow-right", layout=_FIT)
        self.question_text = widgets.Textarea(
            description=_("Question:"),
            style=WIDE,
            continuous_update=False,
            placeholder=_("Write your question"),
            layout=widgets.Layout(width="95%", height="4em"),
        )
        # Buttons, not drop-downs: in JupyterLab the arrow keys on a focused drop-down move to another
        # cell, while Tab and Space or Enter reach and press each of these buttons.
        self.how_many = widgets.ToggleButtons(
            options=[("2", 2), ("3", 3), ("4", 4)], value=2, description=_("How many answers:"), style=_CHOICES
        )
        self.answer_texts = [
            widgets.Text(
                description=t("Answer {letter}:", letter=letter),
                style=WIDE,
                continuous_update=False,
                placeholder=_("An answer"),
                layout=widgets.Layout(width="95%"),
            )
            for letter in LETTERS
        ]
        self.right = widgets.ToggleButtons(description=_("Right answer:"), style=_CHOICES)
        self.hint = widgets.Text(
            description=_("Hint (optional):"),
            style=WIDE,
            layout=_FULL,
            continuous_update=False,
            placeholder=_("A clue that helps without giving the answer away"),
        )
        self.well_done = widgets.Text(
            description=_("Well done line (optional):"),
            style=WIDE,
            layout=_FULL,
            continuous_update=False,
            placeholder=_("What a player sees after a right answer"),
        )
        self.add_button = widgets.Button(
            description=_("Add a question"), icon="plus", layout=_FIT, tooltip=_("Add a new question at the end")
        )
        self.delete_button = widgets.Button(
            description=_("Delete this question"), icon="trash", layout=_FIT, tooltip=_("Delete the question shown")
        )
        self.play_button = widgets.Button(
            description=_("Play my quiz"),
            icon="play",
            layout=_FIT,
            button_style="primary",
            tooltip=_("Try your quiz as a player would"),
        )
        self.cover = TitledImage(format="png", tooltip=_("Your quiz cover"), layout=widgets.Layout(max_width="480px"))
        self.cover_words = widgets.HTML()
        self.preview = widgets.HTML(layout=_FULL)
        self.play_area = widgets.VBox()
        self.game: QuizGame | None = None
        self.file_name, self.export_button, export = export_row(
            "my_quiz_card.png", _("Save quiz card"), self.export_card, self.status
        )
        self.title.observe(lambda c: self._edit_quiz("title", c["new"][:MAX_TITLE]), "value")
        self.pass_mark.observe(lambda c: self._edit_quiz("pass_mark", int(c["new"])), "value")
        self.picker.observe(self._on_pick, "value")
        self.before_button.on_click(lambda _b: self.edit(max(self.editing - 1, 0)))
        self.after_button.on_click(lambda _b: self.edit(min(self.editing + 1, len(self.quiz["questions"]) - 1)))
        self.question_text.observe(lambda c: self._edit("question", c["new"][:MAX_QUESTION]), "value")
        self.how_many.observe(self._on_how_many, "value")
        for i, box in enumerate(self.answer_texts):
            box.observe(lambda c, i=i: self._edit_answer(i, c["new"]), "value")
        self.right.observe(lambda c: self._edit("right", c["new"]), "value")
        self.hint.observe(lambda c: self._edit("hint", c["new"][:MAX_HINT]), "value")
        self.well_done.observe(lambda c: self._edit("well_done", c["new"][:MAX_WELL_DONE]), "value")
        self.add_button.on_click(lambda _b: self.add_question())
        self.delete_button.on_click(lambda _b: self.delete_question())
        self.play_button.on_click(lambda _b: self.play())
        super().__init__(
            [
                widgets.HTML(
                    html.escape(_("Quiz builder: write questions, mark the right answer, then play your quiz."))
                ),
                self.title,
                self.pass_mark,
                widgets.HBox([self.picker, self.before_button, self.after_button]),
                self.question_text,
                self.how_many,
                *self.answer_texts,
                self.right,
                self.hint,
                self.well_done,
                widgets.HBox([self.add_button, self.delete_button, self.play_button]),
                self.status,
                widgets.HTML(f"<b>{html.escape(_('Your quiz cover'))}</b>"),
                self.cover,
                self.cover_words,
                self.preview,
                self.play_area,
                export,
            ],
            **kwargs,
        )
        self._show()
        self._start_sidecar(sidecar)
        if not self.cover.value:
            self._draw()  # nothing was saved (no sidecar, or a damaged one kept): draw the cover anyway

    @property
    def question(self) -> dict[str, Any]:
        return self.quiz["questions"][self.editing]

    def _options(self) -> list[tuple[str, int]]:
        return [
            (f"{n}. {one_line(q['question'])[:40] or _('(no question yet)')}", n - 1)
            for n, q in enumerate(self.quiz["questions"], 1)
        ]

    def _show(self) -> None:
        """Show the quiz and the question being edited, without the controls' observers writing back."""
        self._quiet = True
        try:
            question = self.question
            self.title.value = self.quiz["title"]
            self.pass_mark.value = self.quiz["pass_mark"]
            self.picker.options = self._options()
            self.picker.value = self.editing
            self.question_text.value = question["question"]
            count = len(question["answers"])
            self.how_many.value = count
            for i, box in enumerate(self.answer_texts):
                box.value = question["answers"][i] if i < count else ""
                box.layout.display = None if i < count else "none"
            self.right.options = [(LETTERS[i], i) for i in range(count)]
            self.right.tooltips = [t("Answer {letter} is the right one", letter=LETTERS[i]) for i in range(count)]
            self.right.value = question["right"]
            self._tick_choices()
            self.hint.value = question["hint"]
            self.well_done.value = question["well_done"]
            self.add_button.disabled = len(self.quiz["questions"]) >= MAX_QUESTIONS
            self.delete_button.disabled = len(self.quiz["questions"]) == 1
            self.before_button.disabled = self.editing == 0
            self.after_button.disabled = self.editing == len(self.quiz["questions"]) - 1
        finally:
            self._quiet = False

    def _draw(self) -> None:
        self.cover.value = card_png(self.quiz)
        # ipywidgets' Image has no alt text (and a tooltip on it breaks its view): the words under
        # the picture say what it shows.
        words = t(
            "Quiz cover: {title}, {count} questions, pass mark {mark}%",
            title=one_line(self.quiz["title"]) or _("My quiz"),
            count=len(self.quiz["questions"]),
            mark=self.quiz["pass_mark"],
        )
        self.cover_words.value = f"<i>{html.escape(words)}</i>"
        self.preview.value = quiz_html(self.quiz)

    def _changed(self) -> None:
        self._draw()
        super()._changed()

    def _edit_quiz(self, key: str, value: Any) -> None:
        if not self._quiet:
            self.quiz[key] = value
            self._changed()

    def _edit(self, key: str, value: Any) -> None:
        if self._quiet or value is None:
            return
        self.question[key] = value
        if key == "question":
            self._show()  # the picker names each question by its words
        if key == "right":
            self._tick_choices()
        self._changed()

    def _tick_choices(self) -> None:
        """A tick on the chosen button of each choice: its shade alone would be colour alone."""
        for choice in (self.how_many, self.right):
            choice.icons = ["check" if value == choice.value else "" for _label, value in choice.options]

    def _edit_answer(self, index: int, value: str) -> None:
        if not self._quiet and index < len(self.question["answers"]):
            self.question["answers"][index] = value[:MAX_ANSWER]
            self._changed()

    def _on_how_many(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        answers = self.question["answers"]
        count = int(change["new"])
        self.question["answers"] = (answers + [""] * MAX_ANSWERS)[:count]
        self.question["right"] = min(self.question["right"], count - 1)
        self._show()
        self._changed()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self.edit(change["new"])

    def edit(self, index: int) -> None:
        """Show question `index` (0 is the first) in the editor."""
        self.quiz["questions"][index]  # an IndexError for a question that is not there
        self.editing = index
        self._show()

    def add_question(self) -> None:
        """Add a blank question at the end and show it."""
        if len(self.quiz["questions"]) >= MAX_QUESTIONS:
            self._say(t("A quiz can have {count} questions at most.", count=MAX_QUESTIONS))
            return
        self.quiz["questions"].append(new_question())
        self.editing = len(self.quiz["questions"]) - 1
        self._show()
        self._changed()
        self._say(t("Question {number} added. Write it above.", number=self.editing + 1))

    def delete_question(self) -> None:
        """Delete the question shown (a quiz keeps at least one)."""
        if len(self.quiz["questions"]) == 1:
            self._say(_("A quiz needs at least one question."))
            return
        del self.quiz["questions"][self.editing]
        self.editing = min(self.editing, len(self.quiz["questions"]) - 1)
        self._show()
        self._changed()
        self._say(_("Question deleted."))

    def play(self) -> QuizGame:
        """Play the quiz as it is now, below the builder."""
        close_all(self.play_area.children)
        self.game = QuizGame(self.state)
        self.play_area.children = [self.game]
        return self.game

    def to_png(self) -> bytes:
        """The quiz card: the cover and the list of questions, as PNG bytes."""
        return card_png(self.quiz, questions=True)

    def export_card(self, path: str | os.PathLike[str]) -> Path:
        """Save the quiz card as a PNG in the learner's folder (atomically); returns the path written."""
        return export(path, self.to_png, suffix=".png")

    def _dump(self) -> dict[str, Any]:
        return copy.deepcopy(self.quiz)

    def _restore(self, state: dict[str, Any]) -> None:
        self.quiz = check_quiz(state)
        self.editing = 0
        self._show()
