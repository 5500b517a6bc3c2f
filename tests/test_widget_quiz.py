"""QuizBuilder and QuizGame, driven as a learner drives them, checked by the files they leave.

A learner types in the builder's boxes and presses its buttons; the sidecar holds the quiz,
the exported card is opened with Pillow, and QuizGame plays the saved file. A quiz is a file
anyone can edit and share, so damaged, edited, huge and hostile quizzes are tried too. A peer
plays a shared quiz from the review panel as a real other system user, and the showcase's
static page shows the quiz's cover with JavaScript off.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pwd
import re
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from PIL import Image
from playwright.sync_api import expect

from axe import AXE, serious_violations
from conftest import needs_root, open_logged_in
from connected_learning.peer_review import folders
from connected_learning.showcase.render import render_page
from connected_learning.widgets import ExportPathError, QuizBuilder, QuizGame, StateError, set_language
from connected_learning.widgets.quiz import quiz_player
from connected_learning.widgets.quiz_data import MAX_QUIZ_BYTES, box_position, read_quiz
from lab import KERNEL_WAIT, run_notebook
from learners import Learners
from pieces import executed_piece, write_notebook
from widget_tree import descendants

BOARD = (22, 33, 62)
BOX = (67, 160, 71)
HOSTILE = "<script>document.title='PWNED'</script><img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in a fresh learner folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    return home


def write_question(builder: QuizBuilder, question: str, answers: list[str], right: int, hint: str = "") -> None:
    """Fill the question shown in the builder, as a learner types it."""
    builder.question_text.value = question
    builder.how_many.value = len(answers)
    for box, answer in zip(builder.answer_texts, answers, strict=False):
        box.value = answer
    builder.right.value = right
    builder.hint.value = hint


def planets(sidecar: str | None = "my_quiz.json") -> QuizBuilder:
    """A two-question quiz made the way a learner makes it."""
    builder = QuizBuilder(sidecar=sidecar)
    builder.title.value = "Planet party"
    write_question(builder, "Which planet is red?", ["Venus", "Mars"], 1, hint="Think of rust.")
    builder.well_done.value = "Yes! Rusty Mars."
    builder.add_button.click()
    write_question(builder, "How many moons does Earth have?", ["None", "Two", "One"], 2)
    builder.pass_mark.value = 50
    return builder


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def box_colour(image: Image.Image, index: int) -> tuple[int, ...]:
    x, y = box_position(index)
    return image.getpixel((x + 5, y + 5))  # type: ignore[return-value]


# ------------------------------------------------------------------ making and playing


def test_a_learner_builds_a_quiz_and_the_sidecar_holds_it(workdir: Path) -> None:
    builder = QuizBuilder(sidecar="my_quiz.json")
    assert (workdir / "my_quiz.json").is_file()  # saved from the first run: the cell makes a file
    first_cover = builder.cover.value
    builder = planets()
    saved = json.loads((workdir / "my_quiz.json").read_text())
    assert saved["kind"] == "quiz" and saved["title"] == "Planet party" and saved["pass_mark"] == 50
    assert [q["question"] for q in saved["questions"]] == ["Which planet is red?", "How many moons does Earth have?"]
    assert saved["questions"][0] == {
        "question": "Which planet is red?",
        "answers": ["Venus", "Mars"],
        "right": 1,
        "hint": "Think of rust.",
        "well_done": "Yes! Rusty Mars.",
    }
    assert saved["questions"][1]["answers"] == ["None", "Two", "One"] and saved["questions"][1]["right"] == 2
    # The picker names each question; the right answer is named by its letter, in words.
    assert [label for label, _ in builder.picker.options] == [
        "1. Which planet is red?",
        "2. How many moons does Earth have?",
    ]
    assert [label for label, _ in builder.right.options] == ["A", "B", "C"]
    assert builder.right.icons == ("", "", "check") and builder.how_many.icons == ("", "check", "")  # not shade alone
    assert "C: One <b>✔ right answer</b>" in builder.preview.value
    # Fewer answers hides the extra boxes; the cover shows the two questions.
    builder.how_many.value = 2
    assert builder.answer_texts[2].layout.display == "none" and builder.quiz["questions"][1]["right"] == 1
    cover = png(builder.cover.value)
    assert builder.cover.value != first_cover and cover.size == (480, 270)
    assert box_colour(cover, 0) == BOX and box_colour(cover, 1) == BOX and box_colour(cover, 2) == BOARD
    assert builder.cover_words.value == "<i>Quiz cover: Planet party, 2 questions, pass mark 50%</i>"  # in words
    # Running the cell again brings the quiz back.
    again = QuizBuilder(sidecar="my_quiz.json")
    assert again.title.value == "Planet party" and len(again.quiz["questions"]) == 2
    assert again.status.value.startswith("Welcome back")


def test_adding_editing_and_deleting_questions(workdir: Path) -> None:
    builder = planets()
    assert builder.after_button.disabled and not builder.before_button.disabled  # on the last question
    builder.before_button.click()
    assert builder.picker.value == 0 and builder.question_text.value == "Which planet is red?"
    assert builder.before_button.disabled
    builder.after_button.click()
    assert builder.question_text.value == "How many moons does Earth have?"
    builder.picker.value = 0
    assert builder.question_text.value == "Which planet is red?"
    builder.delete_button.click()
    assert [q["question"] for q in builder.quiz["questions"]] == ["How many moons does Earth have?"]
    assert builder.delete_button.disabled
    builder.delete_question()
    assert "at least one question" in builder.status.value
    for _ in range(25):
        builder.add_question()
    assert len(builder.quiz["questions"]) == 20 and builder.add_button.disabled
    assert "20 questions at most" in builder.status.value
    cover = png(builder.cover.value)
    assert all(box_colour(cover, i) == BOX for i in range(20))  # two rows of ten boxes
    assert len(json.loads((workdir / "my_quiz.json").read_text())["questions"]) == 20


def test_the_game_plays_one_question_at_a_time_with_feedback_and_a_score(workdir: Path) -> None:
    planets()
    game = QuizGame.load_from("my_quiz.json")
    assert "Question 1 of 2" in game.heading.value and "Which planet is red?" in game.question_view.value
    assert [b.description for b in game.answer_buttons] == ["A: Venus", "B: Mars"]
    assert game.next_button.disabled  # answer first
    game.hint_button.click()
    assert "Think of rust." in game.hint_view.value
    game.answer_buttons[1].click()  # right
    assert game.score == 1 and "Right! Yes! Rusty Mars." in game.feedback.value
    assert game.answer_buttons[1].description == "✔ B: Mars"  # the mark is words, not only green
    assert all(b.disabled for b in game.answer_buttons)
    game.answer_buttons[0].click()  # a second press changes nothing
    assert game.score == 1
    game.next_button.click()
    assert "Question 2 of 2" in game.heading.value and game.hint_button.disabled  # no hint here
    assert game.next_button.description == "See my score"
    game.answer_buttons[0].click()  # wrong
    assert game.score == 1 and "Not quite. The right answer is C: One" in game.feedback.value
    assert game.answer_buttons[0].description == "✘ A: None" and game.answer_buttons[2].description == "✔ C: One"
    game.next_button.click()
    assert game.finished and "You got 1 out of 2 (50%)." in game.question_view.value
    assert "You passed!" in game.feedback.value  # the pass mark is 50%
    game.again_button.click()
    assert not game.finished and game.score == 0 and "Question 1 of 2" in game.heading.value
    game.answer_buttons[0].click()
    game.next_button.click()
    game.answer_buttons[0].click()
    game.next_button.click()
    assert "You got 0 out of 2 (0%)." in game.question_view.value and "Not passed yet" in game.feedback.value
    assert json.loads((workdir / "my_quiz.json").read_text())["title"] == "Planet party"  # the game wrote nothing


def test_play_my_quiz_tries_it_below_the_builder(workdir: Path) -> None:
    builder = planets()
    builder.play_button.click()
    game = builder.game
    assert game is not None and builder.play_area.children == (game,)
    game.answer_buttons[1].click()
    assert game.score == 1
    builder.play_button.click()  # a new try replaces the old one
    assert builder.game is not game and len(builder.play_area.children) == 1


def test_the_exported_card_lists_the_questions(workdir: Path) -> None:
    builder = planets()
    builder.file_name.value = "cards/planet_card.png"
    builder.export_button.click()
    assert "Saved" in builder.status.value
    card = Image.open(workdir / "cards" / "planet_card.png")
    assert card.format == "PNG" and card.mode == "RGB"
    assert card.width == 480 and card.height == 270 + 2 * 22 + 16  # the cover and a line per question
    assert box_colour(card, 1) == BOX and box_colour(card, 2) == BOARD
    lines = card.crop((24, 270, 456, card.height - 10)).convert("L")
    assert max(lines.getdata()) > 200  # white words on the dark board
    builder.add_question()
    builder.export_button.click()
    assert Image.open(workdir / "cards" / "planet_card.png").height == card.height + 22


def test_state_round_trip(workdir: Path) -> None:
    builder = planets(sidecar=None)
    again = QuizBuilder.from_state(builder.state)
    assert again.state == builder.state and again.title.value == "Planet party"
    game = QuizGame.from_state(builder.state)
    assert game.state == builder.state
    assert json.loads(json.dumps(builder.state)) == builder.state
    builder.save_to("copy.json")
    assert QuizGame.load_from("copy.json").state == builder.state
    assert QuizBuilder.load_from("copy.json").state == builder.state


# ------------------------------------------------------------------ files anyone could edit


def edited(**changes: Any) -> dict[str, Any]:
    quiz = planets(sidecar=None).state
    first = quiz["questions"][0]
    for key, value in changes.items():
        if key in first:
            first[key] = value
        else:
            quiz[key] = value
    return quiz


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"answers": ["only one"]}, "2 to 4 answers"),
        ({"answers": ["a", "b", "c", "d", "e"]}, "2 to 4 answers"),
        ({"answers": ["a", 7]}, "must be text"),
        ({"right": 5}, "whole number from 0 to 1"),
        ({"right": True}, "whole number"),
        ({"right": "1"}, "whole number"),
        ({"question": "x" * 5000}, "the most is 200"),
        ({"title": "x" * 81}, "the most is 80"),
        ({"pass_mark": 150}, "from 0 to 100"),
        ({"questions": []}, "1 to 20 questions"),
        ({"questions": [{"question": "q", "answers": ["a", "b"], "right": 0}] * 21}, "1 to 20 questions"),
        ({"questions": "lots"}, "1 to 20 questions"),
        ({"secret": "x"}, "this file was edited"),
        ({"hint": ["not", "text"]}, "must be text"),
        ({"kind": "story_builder"}, "does not hold a quiz"),
        ({"version": 9}, "version 9"),
    ],
)
def test_an_edited_quiz_file_is_refused_in_plain_words(workdir: Path, changes: dict[str, Any], says: str) -> None:
    (workdir / "edited.json").write_text(json.dumps(edited(**changes)))
    with pytest.raises(StateError, match=re.escape(says)):
        QuizGame.load_from("edited.json")
    with pytest.raises(StateError):
        QuizBuilder.load_from("edited.json")
    (workdir / "control.json").write_text(json.dumps(edited()))  # the control: the same file unedited plays
    assert QuizGame.load_from("control.json").quiz["title"] == "Planet party"


def test_a_damaged_or_edited_sidecar_is_kept_and_said_so(workdir: Path) -> None:
    sidecar = workdir / "my_quiz.json"
    for bad in ('{"kind": "quiz", "version": 1, "questions": [', json.dumps(edited(right=9))):
        sidecar.write_text(bad)
        builder = QuizBuilder(sidecar="my_quiz.json")
        assert "Could not open your saved work in my_quiz.json" in builder.status.value
        assert sidecar.read_text() == bad  # never overwritten with an empty quiz
        builder.title.value = "new"
        assert sidecar.read_text() == bad
        assert png(builder.cover.value).size == (480, 270)  # the cover is there all the same


def test_a_huge_a_deep_or_an_odd_quiz_file_is_refused(workdir: Path) -> None:
    good = json.dumps(edited())
    (workdir / "huge.json").write_text(good[:-1] + ', "padding": "' + "x" * MAX_QUIZ_BYTES + '"}')
    with pytest.raises(StateError, match="never more than 64 KB"):
        QuizGame.load_from("huge.json")
    (workdir / "deep.json").write_text("[" * 30_000 + "]" * 30_000)
    with pytest.raises(StateError, match="nested too deep"):
        QuizGame.load_from("deep.json")
    with pytest.raises(StateError, match="nested too deep"):
        read_quiz(b"[" * 60_000)
    os.mkfifo(workdir / "pipe.json")  # a pipe would keep a reader waiting for ever
    with pytest.raises(StateError, match="not a quiz file"):
        QuizGame.load_from("pipe.json")
    (workdir / "bytes.json").write_bytes(b"\xff\xfe not text")
    with pytest.raises(StateError, match="not a quiz file"):
        QuizGame.load_from("bytes.json")
    (workdir / "ok.json").write_text(good)  # the control: a real quiz file loads
    assert len(QuizGame.load_from("ok.json").quiz["questions"]) == 2


def test_html_in_a_quiz_shows_as_text(workdir: Path) -> None:
    builder = QuizBuilder(sidecar="my_quiz.json")
    builder.title.value = HOSTILE
    write_question(builder, HOSTILE, [HOSTILE, "<b>bold</b>"], 0, hint=HOSTILE)
    builder.well_done.value = HOSTILE
    game = QuizGame.load_from("my_quiz.json")
    game.hint_button.click()
    game.answer_buttons[1].click()
    shown = [game.heading.value, game.question_view.value, game.hint_view.value, game.feedback.value]
    game.next_button.click()
    shown += [game.heading.value, builder.preview.value]
    for value in shown:
        assert "<script" not in value and "<img" not in value and "<b>bold" not in value, value
    assert "&lt;b&gt;bold&lt;/b&gt;" in builder.preview.value and "A: &lt;script&gt;" in shown[3]
    # Button labels are plain text in ipywidgets: the words show as they were typed.
    assert QuizGame.load_from("my_quiz.json").answer_buttons[0].description.startswith("A: <script>")


@pytest.mark.parametrize("name", ["../x.png", "/etc/x.png", "link/x.png", "card.gif", ".hidden.png", ""])
def test_export_names_that_leave_the_folder_are_refused(workdir: Path, tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, workdir / "link")
    builder = planets(sidecar=None)
    builder.file_name.value = name
    builder.export_button.click()
    assert builder.status.value.startswith("Not saved"), builder.status.value
    assert list(outside.iterdir()) == [] and not (tmp_path / "x.png").exists()
    assert sorted(p.name for p in workdir.iterdir()) == ["link"]
    builder.file_name.value = "card.png"  # the control: a plain name is saved
    builder.export_button.click()
    assert (workdir / "card.png").is_file()


def test_a_sidecar_outside_the_folder_is_refused(workdir: Path) -> None:
    for name in ("../my_quiz.json", "/tmp/my_quiz.json", "my_quiz.txt"):
        with pytest.raises(ExportPathError):
            QuizBuilder(sidecar=name)
    assert not (workdir.parent / "my_quiz.json").exists()


def test_spanish_labels_after_set_language(workdir: Path) -> None:
    set_language("es")
    try:
        builder = planets()
        game = QuizGame.load_from("my_quiz.json")
        game.answer_buttons[0].click()
    finally:
        set_language("en")
    assert builder.title.description == "Título del quiz:" and builder.add_button.description == "Agregar una pregunta"
    assert builder.answer_texts[0].description == "Respuesta A:" and builder.right.description == "Respuesta correcta:"
    assert "Pregunta 1 de 2" in game.heading.value and "La respuesta correcta es B: Mars" in game.feedback.value
    assert game.next_button.description == "Siguiente pregunta" and game.again_button.description == "Jugar otra vez"
    assert QuizBuilder().title.description == "Quiz title:"  # English again after set_language("en")


# ------------------------------------------------------------------ a peer plays a shared quiz


def test_the_review_panel_offers_play_for_a_quiz_and_nothing_for_other_json(workdir: Path) -> None:
    data = json.dumps(planets(sidecar=None).state).encode()
    button, area = quiz_player("my_quiz.json", data)
    assert isinstance(button, widgets.Button) and button.description == "Play this quiz: Planet party"
    button.click()
    (game,) = area.children
    assert isinstance(game, QuizGame) and "Which planet is red?" in game.question_view.value
    assert quiz_player("my_pet.json", b'{"kind": "pixel_canvas", "version": 1}') == []
    assert quiz_player("broken.json", b'{"kind": ') == []
    (note,) = quiz_player("bad.json", json.dumps(edited(right=7)).encode())
    assert "bad.json is a quiz that cannot be played" in note.value
    (note,) = quiz_player("evil<b>.json", json.dumps(edited(title="x" * 500)).encode())
    assert "evil&lt;b&gt;.json" in note.value and "<b>" not in note.value


@pytest.mark.integration
def test_a_peer_plays_a_shared_quiz_from_the_review_notebook_but_cannot_change_it(workdir: Path) -> None:
    needs_root()
    lab = Learners.create()
    try:
        lab.group("g")
        lab.add("ana", ["g"], display="Ana B.")
        lab.add("ben", ["g"], display="Ben C.")
        quiz = json.dumps(planets(sidecar=None).state)
        made = lab.python("ana", f"import pathlib; pathlib.Path('my_quiz.json').write_text({quiz!r})")
        assert made.returncode == 0, made.stderr
        done = lab.clhub("ana", "share", "my_quiz.json", "--title", "My planet quiz")
        assert done.returncode == 0, done.stderr
        piece = done.stdout.split(" as ")[1].split(" ")[0]
        shared = folders.peer_review_dir(lab.data_dir, lab.name("g"))
        copy = shared / piece / "v1" / "my_quiz.json"
        # The code of Ben's own copy of the review notebook, run in ~/peer-review as its kernel would.
        own = lab.home("ben") / "peer-review" / folders.own_review_notebook(lab.name("g"))
        cells = json.loads(own.read_text())["cells"]
        review = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        assert "ReviewPanel(" in review
        play = (
            "import json, os\n"
            "import ipywidgets as widgets\n"
            "os.chdir('peer-review')\n" + review.replace("ReviewPanel(", "panel = ReviewPanel(") + "\n"
            f"panel.choice.value = {piece!r}\n"
            "button = next(w for w in panel.preview.children if isinstance(w, widgets.Button))\n"
            "button.click()\n"
            "game = panel.preview.children[panel.preview.children.index(button) + 1].children[0]\n"
            "game.answer_buttons[1].click(); game.next_button.click()\n"
            "game.answer_buttons[0].click(); game.next_button.click()\n"
            "print(json.dumps({'button': button.description, 'score': game.score, 'end': game.question_view.value}))\n"
        )
        before = sorted(str(p.relative_to(shared)) for p in (shared / piece).rglob("*"))
        played = lab.python("ben", play)
        assert played.returncode == 0, played.stderr
        result = json.loads(played.stdout.strip().splitlines()[-1])
        assert result["button"] == "Play this quiz: Planet party" and result["score"] == 1
        assert "You got 1 out of 2 (50%)." in result["end"]
        assert sorted(str(p.relative_to(shared)) for p in (shared / piece).rglob("*")) == before  # nothing sent
        # Ben can read the shared copy but not change it; the control: Ana's own file is hers to change.
        tamper = f"open({str(copy)!r}, 'w').write('{{}}')"
        tried = lab.python(
            "ben", f"try:\n    {tamper}\n    print('changed')\nexcept PermissionError:\n    print('refused')"
        )
        assert tried.stdout.strip() == "refused", tried.stderr
        assert json.loads(copy.read_text())["title"] == "Planet party"
        mine = lab.python("ana", "open('my_quiz.json', 'a').write(' ')\nprint('changed')")
        assert mine.stdout.strip() == "changed", mine.stderr
    finally:
        lab.remove()


# ------------------------------------------------------------------ the showcase


SHOWCASE_CELLS = [
    "from connected_learning.widgets import QuizBuilder\n"
    "quiz = QuizBuilder(sidecar='my_quiz.json')\n"
    "quiz.title.value = 'Space facts'\n"
    "quiz.question_text.value = 'Which planet is the biggest?'\n"
    "quiz.answer_texts[0].value = 'Jupiter'\n"
    "quiz.answer_texts[1].value = 'Mars'\n"
    "quiz.add_question()\n"
    "quiz.add_question()\n"
    "quiz",
]


@pytest.fixture(scope="module")
def quiz_piece(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A small notebook using QuizBuilder, run by nbclient, with the file it saved, cleaned for the showcase."""
    folder = tmp_path_factory.mktemp("quiz-show")
    write_notebook(folder / "quiz.ipynb", "# My space quiz", SHOWCASE_CELLS[0])
    return executed_piece(folder, "quiz.ipynb", ["my_quiz.json"], tmp_path_factory.mktemp("jupyter"))


@pytest.mark.browser
@pytest.mark.integration
def test_the_static_page_shows_the_quiz_cover_with_javascript_off(
    browser: Any, artifacts: Path, tmp_path: Path, quiz_piece: dict[str, bytes]
) -> None:
    page_file = tmp_path / "showcase.html"
    page_file.write_text(render_page(quiz_piece, title="My space quiz", author_display="Ana G."), encoding="utf-8")
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    try:
        phone = context.new_page()
        phone.goto(page_file.as_uri())
        sources = phone.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
        covers = []
        for source in sources:
            assert source.startswith("data:image/png;base64,")
            picture = png(base64.b64decode(source.split(",", 1)[1]))
            if picture.size == (480, 270):
                covers.append(picture)
        assert covers, "the page shows no quiz cover"
        cover = covers[0]
        assert [box_colour(cover, i) for i in range(4)] == [BOX, BOX, BOX, BOARD]  # three questions
        shown = phone.locator("img").first.bounding_box()
        assert shown is not None and shown["width"] <= 390
        assert phone.get_by_text("Which planet is the biggest?").count() >= 1  # the quiz, as text
        phone.screenshot(path=str(artifacts / "showcase-quiz.png"), full_page=True)
    finally:
        context.close()


def test_every_control_is_labelled_in_words_and_no_button_label_is_cut_off(workdir: Path) -> None:
    builder = planets()
    builder.play()
    assert builder.game is not None
    builder.game.answer_buttons[0].click()
    controls = [w for w in descendants(builder) if isinstance(w, widgets.DOMWidget)]
    buttons = [w for w in controls if isinstance(w, widgets.Button)]
    assert len(buttons) >= 8  # the control: the builder's, the game's and the save button are all found
    assert all(b.description.strip() and b.layout.width == "auto" for b in buttons), [
        b.description for b in buttons if b.layout.width != "auto"
    ]
    inputs = [
        w
        for w in controls
        if isinstance(
            w, widgets.Text | widgets.Textarea | widgets.Dropdown | widgets.ToggleButtons | widgets.BoundedIntText
        )
    ]
    assert len(inputs) >= 11 and all(w.description.strip() for w in inputs)


def test_text_longer_than_a_quiz_allows_is_cut_to_fit(workdir: Path) -> None:
    builder = QuizBuilder(sidecar="my_quiz.json")
    builder.title.value = "T" * 5000
    builder.question_text.value = "Q" * 5000
    builder.answer_texts[0].value = "A" * 5000
    saved = json.loads((workdir / "my_quiz.json").read_text())
    assert len(saved["title"]) == 80 and len(saved["questions"][0]["question"]) == 200
    assert len(saved["questions"][0]["answers"][0]) == 80
    game = QuizGame.load_from("my_quiz.json")
    assert game.state == saved and len(game.answer_buttons[0].description) <= 90
    assert png(builder.cover.value).size == (480, 270)  # a long title is cut with '…', not drawn off the card


# ------------------------------------------------------------------ in JupyterLab, with the keyboard


@pytest.mark.integration
@pytest.mark.browser
def test_a_learner_makes_and_plays_a_quiz_with_the_keyboard_in_jupyterlab(
    make_hub: Any, browser: Any, artifacts: Path
) -> None:
    hub = make_hub({"ana": ("student", ["class"])})
    name = hub.name("ana")
    session = hub.login("ana")
    assert session.spawn_with_form(["games"]).status_code == 302
    session.wait_ready(name)
    folder = Path(pwd.getpwnam(name).pw_dir) / "workbooks" / "quiz-show"
    page = open_logged_in(browser, hub, "ana", 1366, 900)
    page.wait_for_url(f"{hub.server_url(name)}lab**", timeout=KERNEL_WAIT)
    panel = run_notebook(page, f"{hub.server_url(name)}lab", "workbooks/quiz-show/quiz-show.ipynb")
    builder = panel.locator(".jp-OutputArea-output").filter(has=page.get_by_role("textbox", name="Quiz title:")).first
    builder.wait_for(timeout=KERNEL_WAIT)

    def type_into(role: str, label: str, text: str) -> None:
        """Focus a labelled box, type, and Tab on (a text box hands its words to Python when it loses focus)."""
        builder.get_by_role(role, name=label, exact=True).focus()  # type: ignore[arg-type]
        page.keyboard.type(text)
        page.keyboard.press("Tab")

    type_into("textbox", "Quiz title:", "Dino facts")
    type_into("textbox", "Question:", "Which dinosaur had tiny arms?")
    type_into("textbox", "Answer A:", "Diplodocus")
    type_into("textbox", "Answer B:", "T. rex")
    builder.get_by_role("button", name="B", exact=True).focus()  # the "Right answer:" choices
    page.keyboard.press("Space")
    right = builder.locator("ul > li", has_text="✔ right answer")
    expect(right).to_contain_text("B: T. rex", timeout=KERNEL_WAIT)
    builder.get_by_role("button", name="Add a question").focus()
    page.keyboard.press("Enter")
    expect(builder.get_by_text("Question 2 added. Write it above.")).to_be_visible(timeout=KERNEL_WAIT)
    question = builder.get_by_role("textbox", name="Question:", exact=True)
    expect(question).to_have_value("")
    builder.get_by_role("button", name="Question before").focus()
    page.keyboard.press("Enter")
    expect(question).to_have_value("Which dinosaur had tiny arms?", timeout=KERNEL_WAIT)
    builder.get_by_role("button", name="Play my quiz").focus()
    page.keyboard.press("Space")
    expect(builder.get_by_text("Question 1 of 2")).to_be_visible(timeout=KERNEL_WAIT)
    builder.get_by_role("button", name="B: T. rex").focus()
    page.keyboard.press("Enter")
    expect(builder.get_by_text("Right! Well done.")).to_be_visible(timeout=KERNEL_WAIT)
    expect(builder.get_by_role("button", name="✔ B: T. rex")).to_be_disabled()

    saved = json.loads((folder / "my_quiz.json").read_text())
    assert saved["title"] == "Dino facts" and len(saved["questions"]) == 2
    assert saved["questions"][0]["answers"] == ["Diplodocus", "T. rex"] and saved["questions"][0]["right"] == 1
    shown = builder.locator("img").first.evaluate(  # the cover as the page shows it (a blob: URL in JupyterLab)
        "async img => Array.from(new Uint8Array(await (await fetch(img.src)).arrayBuffer()))"
    )
    cover = png(bytes(shown))
    assert cover.size == (480, 270) and box_colour(cover, 1) == BOX and box_colour(cover, 2) == BOARD
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    report = builder.evaluate("node => axe.run(node, {resultTypes: ['violations']})")
    (artifacts / "axe-quiz-builder.json").write_text(json.dumps(report["violations"], indent=1))
    # The cover is a TitledImage: its tooltip is the picture's title, which names it for screen readers.
    assert serious_violations(report) == []
    expect(builder.get_by_text("Quiz cover: Dino facts, 2 questions, pass mark 60%")).to_be_visible()
    builder.get_by_text("Your quiz cover").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.screenshot(path=str(artifacts / "quiz-jupyterlab.png"))
