"""ComicStrip, driven as a learner would: draw in panels, type speech, add, remove and move panels, Save PNG.

Each exported PNG is opened with Pillow and read where `strip_layout` says each part is: the
squares' colours in the drawings, white speech bubbles with dark letters in them, yellow
caption boxes. Then the saved comic (state, sidecar) under damage and tricks, text that is
long, foreign or full of emoji, Spanish labels, and the showcase's static page with no
JavaScript, which must show the same picture as the exported file.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from PIL import Image

from connected_learning.showcase.render import render_page
from connected_learning.widgets import ComicStrip, ExportPathError, StateError, set_language
from connected_learning.widgets.base import LIVE_SHOWCASE_ENV, MAX_STATE_BYTES
from connected_learning.widgets.comic_picture import CELL, MAX_PANELS, PANEL_COLOUR, Box, strip_layout
from connected_learning.widgets.comic_strip import LIMITS
from connected_learning.widgets.pixel_canvas import PALETTE
from pieces import executed_piece, phone_page, write_notebook
from widget_tree import descendants

COLOURS = {name: tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)) for name, hex_colour in PALETTE}
WHITE = (255, 255, 255)
PANEL = tuple(int(PANEL_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
CAPTION = (0xFF, 0xF3, 0xB0)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in a fresh learner folder, in English, not on a family's live page."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.delenv(LIVE_SHOWCASE_ENV, raising=False)
    set_language("en")
    return home


def shown(comic: ComicStrip) -> Image.Image:
    """The picture the widget shows now, decoded."""
    image = Image.open(io.BytesIO(comic.picture.value))
    assert image.format == "PNG"
    return image.convert("RGB")


def square(image: Image.Image, drawing: Box, row: int, column: int) -> tuple[int, int, int]:
    """The colour in the middle of a drawing's square."""
    return image.getpixel((drawing[0] + column * CELL + CELL // 2, drawing[1] + row * CELL + CELL // 2))  # type: ignore[return-value]


def colours_in(image: Image.Image, box: Box) -> set[tuple[int, int, int]]:
    return set(image.crop(box).getdata())  # type: ignore[arg-type]


def dark(colours: set[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
    return {colour for colour in colours if sum(colour) < 3 * 120}


def type_into(box: widgets.Text | widgets.Textarea, text: str) -> None:
    """What typing into a box and leaving it does (the boxes send their value when the learner leaves)."""
    box.value = text


# ------------------------------------------------------------------ making a comic


def test_a_drawn_and_written_comic_is_in_the_saved_png(workdir: Path) -> None:
    comic = ComicStrip(3, title="The lost sock")
    type_into(comic.title, "The lost sock!")
    comic.palette_buttons["red"].click()
    comic.cell_grid.press(0, 0)
    comic.cell_grid.stroke([(5, 5), (5, 6), (5, 7)])
    type_into(comic.speaker, "Mia")
    type_into(comic.speech, "Where is my other sock?")
    type_into(comic.caption, "Monday morning...")
    comic.panel_choice.value = 1  # the drop-down: "Panel 2 of 3"
    assert comic.speech.value == "" and comic.cell_grid.get(0, 0) == "white"  # the boxes show panel 2
    comic.palette_buttons["blue"].click()
    comic.cell_grid.press(11, 15)
    comic.file_name.value = "comics/sock.png"
    comic.export_button.click()

    assert comic.status.value == f"Saved {os.path.join('comics', 'sock.png')} in your folder."
    plan = strip_layout(3)
    with Image.open(workdir / "comics" / "sock.png") as saved:
        assert saved.format == "PNG" and saved.size == (plan.width, plan.height)
        image = saved.convert("RGB")
    first, second, third = plan.panels
    assert square(image, first.drawing, 0, 0) == COLOURS["red"]
    assert [square(image, first.drawing, 5, c) for c in (4, 5, 6, 7, 8)] == [WHITE, *[COLOURS["red"]] * 3, WHITE]
    assert square(image, second.drawing, 11, 15) == COLOURS["blue"]
    assert square(image, second.drawing, 0, 0) == WHITE
    assert colours_in(image, third.drawing) == {WHITE}
    # The bubble: white, with dark letters in it, where the words are; none where nobody speaks.
    bubble = colours_in(image, first.bubble)
    assert WHITE in bubble and dark(bubble), "panel 1's bubble holds its words"
    assert colours_in(image, third.bubble) == {PANEL}, "panel 3 has no bubble"
    assert CAPTION in colours_in(image, first.caption) and dark(colours_in(image, first.caption))
    assert colours_in(image, second.caption) == {PANEL}
    assert dark(colours_in(image, plan.title)), "the title is drawn"
    assert image.tobytes() == shown(comic).tobytes(), "the file is the picture the widget shows"
    assert sorted(os.listdir(workdir / "comics")) == ["sock.png"], "no temporary file is left behind"


def test_the_picture_is_drawn_again_after_each_change() -> None:
    comic = ComicStrip(2)
    pictures = [comic.picture.value]
    comic.palette_buttons["green"].click()
    comic.cell_grid.press(3, 3)
    pictures.append(comic.picture.value)
    type_into(comic.speech, "Hi!")
    pictures.append(comic.picture.value)
    type_into(comic.title, "Two friends")
    pictures.append(comic.picture.value)
    comic.clear_button.click()
    pictures.append(comic.picture.value)
    assert len(set(pictures)) == len(pictures), "every change shows a new picture"
    assert square(shown(comic), strip_layout(2).panels[0].drawing, 3, 3) == WHITE
    assert comic.current_colour.value == "Drawing with: green"
    assert comic.palette_buttons["green"].description == "✓ green"


def test_the_picture_grows_with_the_panels_and_a_comic_keeps_two_to_six() -> None:
    comic = ComicStrip(2)
    areas = []
    for count in range(2, MAX_PANELS + 1):
        plan = strip_layout(count)
        assert len(comic.panels) == count
        assert shown(comic).size == (plan.width, plan.height)
        areas.append(plan.width * plan.height)
        assert comic.panel_choice.options[-1] == (f"Panel {count} of {count}", count - 1)
        if count == 5:  # three panels over two: the sixth place is empty page
            sixth = strip_layout(6).panels[5].frame
            assert colours_in(shown(comic), sixth) == {WHITE}
        comic.add_button.click()
    assert areas[:4] == sorted(set(areas[:4])), "more panels, a bigger picture"
    assert areas[3] == areas[4], "five and six panels both take two rows of three"
    assert PANEL in colours_in(shown(comic), strip_layout(6).panels[5].frame)
    assert len(comic.panels) == MAX_PANELS
    assert comic.status.value == "A comic here has at most 6 panels. Remove one to add another."
    for _ in range(MAX_PANELS):
        comic.remove_button.click()
    assert len(comic.panels) == 2
    assert comic.status.value == "A comic needs at least 2 panels, so this one stays."
    assert shown(comic).size == (strip_layout(2).width, strip_layout(2).height)


def test_adding_moving_and_removing_panels_keeps_each_panels_drawing_and_words() -> None:
    comic = ComicStrip(2)
    comic.palette_buttons["purple"].click()
    comic.cell_grid.press(1, 1)
    type_into(comic.speech, "first")
    comic.add_button.click()  # a blank panel after panel 1, and now edited
    assert comic.panel_choice.value == 1 and comic.panel_choice.label == "Panel 2 of 3"
    assert comic.status.value == "Added panel 2."
    type_into(comic.speech, "new")
    comic.panel_choice.value = 0
    comic.right_button.click()
    assert [panel["speech"] for panel in comic.panels] == ["new", "first", ""]
    assert comic.panel_choice.value == 1 and comic.speech.value == "first"
    assert comic.status.value == "The panel is now number 2."
    comic.right_button.click()
    comic.right_button.click()
    assert comic.status.value == "This panel is already at the end."
    plan = strip_layout(3)
    image = shown(comic)
    assert square(image, plan.panels[2].drawing, 1, 1) == COLOURS["purple"]
    assert square(image, plan.panels[0].drawing, 1, 1) == WHITE
    comic.left_button.click()
    comic.remove_button.click()  # panel 2, "first"
    assert [panel["speech"] for panel in comic.panels] == ["new", ""]
    assert comic.status.value == "Removed panel 2."
    comic.panel_choice.value = 0
    comic.left_button.click()
    assert comic.status.value == "This panel is already at the start."


def test_undo_takes_back_a_whole_drag_or_a_clear_in_the_panel_where_it_was() -> None:
    comic = ComicStrip(3)
    comic.undo_button.click()
    assert comic.status.value == "Nothing to undo."
    comic.palette_buttons["green"].click()
    comic.cell_grid.press(0, 0)
    comic.cell_grid.stroke([(1, 1), (1, 2)], start=True)
    comic.cell_grid.stroke([(1, 3), (1, 4)], start=False)  # the same drag, a later batch
    comic.panel_choice.value = 2
    comic.clear_button.click()  # nothing drawn there: nothing to take back
    comic.panel_choice.value = 0
    comic.clear_button.click()
    assert comic.panels[0]["cells"][1][3] == "white"
    comic.undo_button.click()  # the clear
    assert [comic.panels[0]["cells"][1][c] for c in range(5)] == ["white", *["green"] * 4]
    comic.panel_choice.value = 1
    comic.undo_button.click()  # the whole drag, back in panel 1, which is shown again
    assert comic.panel_choice.value == 0 and comic.panels[0]["cells"][1][1:5] == ["white"] * 4
    assert comic.cell_grid.get(0, 0) == "green" and comic.panels[0]["cells"][0][0] == "green"
    assert square(shown(comic), strip_layout(3).panels[0].drawing, 1, 2) == WHITE
    comic.add_button.click()
    comic.cell_grid.press(5, 5)  # in the new panel 2, which is then removed
    comic.remove_button.click()
    comic.undo_button.click()  # the press in the removed panel is skipped: panel 1's first square
    assert comic.panels[0]["cells"][0][0] == "white"


def test_the_letters_mode_names_colours_in_the_squares() -> None:
    comic = ComicStrip(2)
    comic.palette_buttons["red"].click()
    comic.cell_grid.press(0, 0)
    assert comic.cell_grid.marks == {}
    comic.letters.value = True
    marks = comic.cell_grid.marks
    assert marks["red"] and marks["white"] == "" and len(set(marks.values())) == len(PALETTE)
    assert comic.cell_grid.title(0, 0) == "Row 1, column 1: red"


def test_a_comic_can_start_from_panels_given_by_the_workbook() -> None:
    cells = [["white"] * 16 for _ in range(12)]
    cells[6][8] = "orange"
    comic = ComicStrip([{"speaker": "Cat", "speech": "Meow?", "cells": cells}, {"caption": "The end"}], title="Cat")
    assert comic.speaker.value == "Cat" and comic.cell_grid.get(6, 8) == "orange"
    assert square(shown(comic), strip_layout(2).panels[0].drawing, 6, 8) == COLOURS["orange"]
    for bad in (1, 7, True, "two", [{"speech": 5}, {}], [{"cells": [["white"]]}, {}], [{"colour": "red"}, {}]):
        with pytest.raises(ValueError):
            ComicStrip(bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------ what the learner types


def test_long_text_is_cut_to_fit_and_hidden_characters_are_taken_out() -> None:
    comic = ComicStrip(2)
    type_into(comic.speech, "ha " * 1000)
    assert len(comic.speech.value) == LIMITS["speech"] == len(comic.panels[0]["speech"])
    assert comic.status.value == "This box holds up to 120 letters, so the end was cut off."
    type_into(comic.speaker, "Captain Extremely Long Name The Third")
    assert comic.speaker.value == "Captain Extremely Lo"
    type_into(comic.caption, "Later\x00 that\x1b[31m day\r\n...")
    assert comic.caption.value == "Later that[31m day..."
    type_into(comic.speech, "line one\r\nline two")
    assert comic.speech.value == "line one\nline two"  # a bubble may have lines
    type_into(comic.title, "My\ncomic")
    assert comic.title.value == "Mycomic"


@pytest.mark.parametrize(
    "text",
    [
        "Wooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooow" * 2,
        "😀🐱‍👤👩‍👩‍👧‍👦🏳️‍🌈 " * 12,
        "مرحبا! كيف حالك اليوم؟ هذا نص طويل من اليمين إلى اليسار " * 2,
        "שלום עולם abc 123 ‏ ‎ mixed",
        "日本語のテキストはスペースがありません" * 4,
        "e\u0301\u0301\u0301\u0301 z\u0336\u0336\u0336 " * 10,
        "\u200b\u200b\u200b\ufeff",
        "\n\n\n\n\n\n\n\n\n\n\n\n",
        "a\n" * 60,
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
    ],
    ids=[
        "long-word",
        "emoji",
        "arabic",
        "hebrew-mixed",
        "japanese",
        "combining",
        "zero-width",
        "blank-lines",
        "many-lines",
        "html",
    ],
)
def test_any_speech_is_drawn_without_a_crash_and_survives_a_save(workdir: Path, text: str) -> None:
    comic = ComicStrip(2, sidecar="comic.json")
    type_into(comic.speaker, text[:30])
    type_into(comic.speech, text)
    type_into(comic.caption, text)
    type_into(comic.title, text)
    image = shown(comic)
    assert image.size == (strip_layout(2).width, strip_layout(2).height)
    if comic.speech.value.strip():
        assert WHITE in colours_in(image, strip_layout(2).panels[0].bubble)
    again = ComicStrip(2, sidecar="comic.json")
    assert again.state == comic.state and again.picture.value == comic.picture.value
    exported = comic.export_png("comic.png")
    assert exported.read_bytes() == comic.picture.value
    # What the learner typed goes into pixels and text boxes, never into an HTML widget.
    for widget in descendants(comic):
        if isinstance(widget, widgets.HTML):
            assert "<script>" not in widget.value and (not comic.speech.value or comic.speech.value not in widget.value)


# ------------------------------------------------------------------ the saved comic


def make_comic() -> ComicStrip:
    comic = ComicStrip(3, title="A day out")
    comic.palette_buttons["yellow"].click()
    comic.cell_grid.stroke([(2, 2), (2, 3)])
    type_into(comic.speaker, "Sam")
    type_into(comic.speech, "Let's go! ¡Vamos! 🚲")
    comic.add_button.click()
    type_into(comic.caption, "Later that day...")
    return comic


def test_the_state_round_trips_through_json_and_a_sidecar(workdir: Path) -> None:
    comic = make_comic()
    state = json.loads(json.dumps(comic.state))
    assert state == comic.state and state["kind"] == "comic_strip" and len(state["panels"]) == 4
    restored = ComicStrip.from_state(state)
    assert restored.state == comic.state and restored.picture.value == comic.picture.value
    assert restored.panel_choice.label == "Panel 2 of 4" and restored.caption.value == "Later that day..."
    comic.save_to("saved/comic.json")
    assert ComicStrip.load_from("saved/comic.json").state == comic.state

    first = ComicStrip(sidecar="mine.json")
    assert (workdir / "mine.json").exists(), "a new comic is saved at once"
    first.palette_buttons["black"].click()
    first.cell_grid.press(4, 4)
    type_into(first.speech, "Remember me")
    again = ComicStrip(sidecar="mine.json")
    assert again.state == first.state and again.cell_grid.get(4, 4) == "black"
    assert again.status.value == "Welcome back! Your work from mine.json is loaded."


def _edited(state: dict[str, Any], change: str) -> Any:
    state = json.loads(json.dumps(state))
    panel = state["panels"][0]
    if change == "seven-panels":
        state["panels"] = state["panels"] * 2
    elif change == "one-panel":
        state["panels"] = state["panels"][:1]
    elif change == "huge-speech":
        panel["speech"] = "blah " * 100_000
    elif change == "long-name":
        panel["speaker"] = "x" * 21
    elif change == "unknown-colour":
        panel["cells"][0][0] = "gold"
    elif change == "small-drawing":
        panel["cells"] = panel["cells"][:3]
    elif change == "number-speech":
        panel["speech"] = 42
    elif change == "control-character":
        panel["speaker"] = "Sam\x1b[2J"
    elif change == "panel-out-of-range":
        state["panel"] = 99
    elif change == "panel-true":
        state["panel"] = True
    elif change == "unknown-part":
        panel["onclick"] = "alert(1)"
    elif change == "no-panels":
        del state["panels"]
    elif change == "panels-text":
        state["panels"] = "lots"
    elif change == "bad-colour":
        state["colour"] = "#ff0000"
    elif change == "other-kind":
        state["kind"] = "pixel_canvas"
    elif change == "list":
        return [state]
    return state


EDITS = [
    "seven-panels",
    "one-panel",
    "huge-speech",
    "long-name",
    "unknown-colour",
    "small-drawing",
    "number-speech",
    "control-character",
    "panel-out-of-range",
    "panel-true",
    "unknown-part",
    "no-panels",
    "panels-text",
    "bad-colour",
    "other-kind",
    "list",
]


@pytest.mark.parametrize("change", EDITS)
def test_an_edited_saved_comic_is_refused_and_changes_nothing(workdir: Path, change: str) -> None:
    comic = make_comic()
    before = comic.state
    bad = _edited(before, change)
    with pytest.raises(StateError):
        comic.load_state(bad)
    assert comic.state == before

    # The same file as a sidecar: the widget opens with a plain message and never overwrites it.
    text = json.dumps(bad)
    (workdir / "edited.json").write_text(text, encoding="utf-8")
    opened = ComicStrip(sidecar="edited.json")
    assert "NOT saved automatically" in opened.status.value
    opened.cell_grid.press(0, 0)
    type_into(opened.speech, "new words")
    assert (workdir / "edited.json").read_text(encoding="utf-8") == text


def test_a_lone_surrogate_in_a_file_is_refused(workdir: Path) -> None:
    text = json.dumps(make_comic().state).replace("Sam", "Sam\\ud800")  # valid JSON, not valid text
    (workdir / "half.json").write_text(text, encoding="utf-8")
    comic = ComicStrip(sidecar="half.json")
    assert "NOT saved automatically" in comic.status.value and comic.speaker.value == ""


def test_a_damaged_or_huge_sidecar_is_kept_and_not_loaded(workdir: Path) -> None:
    (workdir / "broken.json").write_text('{"kind": "comic_strip", "version": 1, "panels": [', encoding="utf-8")
    comic = ComicStrip(sidecar="broken.json")
    assert "NOT saved automatically" in comic.status.value
    comic.add_button.click()
    assert (workdir / "broken.json").read_text(encoding="utf-8").endswith('"panels": [')

    huge = json.dumps(make_comic().state | {"padding": "x" * (MAX_STATE_BYTES + 10)})
    (workdir / "huge.json").write_text(huge, encoding="utf-8")
    comic = ComicStrip(sidecar="huge.json")
    assert "bigger than 8 MB" in comic.status.value
    assert len(comic.panels) == 3 and comic.title.value == ""
    assert (workdir / "huge.json").stat().st_size == len(huge)


@pytest.mark.parametrize("method", ["export_png", "save_to"])
def test_saving_refuses_paths_that_leave_the_folder(workdir: Path, tmp_path: Path, method: str) -> None:
    comic = make_comic()
    save = getattr(comic, method)
    suffix = ".png" if method == "export_png" else ".json"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / f"victim{suffix}").write_text("keep me", encoding="utf-8")
    os.symlink(outside, workdir / "shortcut")
    os.symlink(outside / f"victim{suffix}", workdir / f"link{suffix}")
    tricks = {
        f"../x{suffix}": "uses '..'",
        f"comics/../../x{suffix}": "uses '..'",
        f"shortcut/victim{suffix}": "shortcut",
        f"link{suffix}": "shortcut",
        str(outside / f"x{suffix}"): "outside your folder",
        f"/etc/x{suffix}": "outside your folder",
        f".hidden{suffix}": "hidden name",
        "comic.exe": f"must end in {suffix}",
        "": "Type a file name",
        f"a\x00b{suffix}": "control character",
    }
    for path, message in tricks.items():
        with pytest.raises(ExportPathError, match=message):
            save(path)
    comic.file_name.value = "../../comic.png"
    comic.export_button.click()
    assert comic.status.value.startswith("Not saved:") and "'..'" in comic.status.value
    assert sorted(os.listdir(outside)) == [f"victim{suffix}"]
    assert (outside / f"victim{suffix}").read_text(encoding="utf-8") == "keep me"
    assert sorted(os.listdir(workdir)) == [f"link{suffix}", "shortcut"], "nothing was written"
    assert save(f"inside/ok{suffix}") == workdir / "inside" / f"ok{suffix}"


def test_a_sidecar_never_reads_or_writes_outside_the_learners_folder(workdir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-learner"
    other.mkdir()
    theirs = other / "comic.json"
    theirs.write_text(json.dumps(make_comic().state), encoding="utf-8")
    before = theirs.read_bytes()
    os.symlink(theirs, workdir / "linked.json")
    os.symlink(other, workdir / "friend")
    for path, message in {
        str(theirs): "outside your folder",
        "../other-learner/comic.json": "uses '..'",
        "linked.json": "shortcut",
        "friend/comic.json": "shortcut",
    }.items():
        with pytest.raises(ExportPathError, match=message):
            ComicStrip(sidecar=path)
    assert theirs.read_bytes() == before and sorted(os.listdir(other)) == ["comic.json"]
    shutil.copy(theirs, workdir / "copy.json")  # the control: the same comic, in the learner's folder, loads
    assert len(ComicStrip(sidecar="copy.json").panels) == 4


# ------------------------------------------------------------------ words and keys


def test_every_control_says_what_it_is_in_words() -> None:
    comic = make_comic()
    controls = (widgets.Button, widgets.Dropdown, widgets.Text, widgets.Textarea, widgets.Checkbox, widgets.Image)
    found = [control for control in descendants(comic) if isinstance(control, controls)]
    assert len(found) >= 20
    unlabelled = [c for c in found if not getattr(c, "description", "").strip() and not (c.tooltip or "").strip()]
    assert unlabelled == []
    assert comic.cell_grid.label.strip() and all(name.strip() for name in comic.cell_grid.rows)
    assert all(button.description.strip(" ✓") for button in comic.palette_buttons.values()), "colours carry names"
    # The picture is named twice: by the words just before it, and by its title (see the Voila test).
    box = next(box for box in descendants(comic) if comic.picture in getattr(box, "children", ()))
    before = box.children[box.children.index(comic.picture) - 1]
    assert isinstance(before, widgets.Label) and before.value == "Your comic strip, as it will be saved:"
    assert comic.picture.tooltip == "Your comic strip" and comic.picture.get_state()["description"] == ""


def test_spanish_labels_after_set_language() -> None:
    set_language("es")
    try:
        comic = ComicStrip(3)
        assert comic.add_button.description == "Añadir viñeta"
        assert comic.panel_choice.label == "Viñeta 1 de 3"
        assert comic.speaker.description == "Quién habla:"
        assert comic.export_button.description == "Guardar PNG"
        assert comic.palette_buttons["red"].description == "rojo" and comic.current_colour.value == "Dibujas con: negro"
        assert comic.cell_grid.names["white"] == "blanco"  # each square's title: "Fila 1, columna 1: blanco"
        comic.add_button.click()
        assert comic.status.value == "Añadiste la viñeta 2."
        for _ in range(MAX_PANELS):
            comic.add_button.click()
        assert comic.status.value.startswith("Aquí una historieta tiene como máximo 6 viñetas")
        with pytest.raises(StateError, match="Una historieta tiene de 2 a 6 viñetas"):
            comic.load_state(comic.state | {"panels": []})
    finally:
        set_language("en")
    assert ComicStrip(2).add_button.description == "Add panel"


def test_a_familys_live_page_saves_nothing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIVE_SHOWCASE_ENV, "1")
    comic = ComicStrip(sidecar="comic.json")
    assert not (workdir / "comic.json").exists()
    row = next(
        box for box in descendants(comic) if isinstance(box, widgets.HBox) and comic.export_button in box.children
    )
    assert row.layout.display == "none"
    comic.palette_buttons["red"].click()
    comic.cell_grid.press(0, 0)
    assert square(shown(comic), strip_layout(3).panels[0].drawing, 0, 0) == COLOURS["red"]


# ------------------------------------------------------------------ the showcase

MAKE_A_COMIC = """\
from connected_learning.widgets import ComicStrip
comic = ComicStrip(3, title="The sock thief", sidecar="my_comic.json", file_name="my_comic.png")
comic.palette_buttons["orange"].click()
comic.cell_grid.stroke([(row, column) for row in range(6, 10) for column in range(5, 11)])
comic.speaker.value = "Mia"
comic.speech.value = "Where did my sock go?"
comic.caption.value = "Monday morning..."
comic.panel_choice.value = 1
comic.palette_buttons["black"].click()
comic.cell_grid.stroke([(row, 3) for row in range(2, 11)])
comic.speaker.value = "Cat"
comic.speech.value = "Sock? What sock?"
comic.panel_choice.value = 2
comic.palette_buttons["blue"].click()
comic.cell_grid.stroke([(11, column) for column in range(16)])
comic.caption.value = "Under the bed..."
comic.export_png("my_comic.png")
comic
"""


@pytest.fixture(scope="module")
def comic_piece(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A small notebook that makes a comic, run by nbclient (widget state saved), as a cleaned piece."""
    folder = tmp_path_factory.mktemp("comic")
    write_notebook(folder / "comic.ipynb", "# My comic", MAKE_A_COMIC)
    jupyter = tmp_path_factory.mktemp("jupyter")
    return executed_piece(
        folder, "comic.ipynb", ["my_comic.png", "my_comic.json"], jupyter, usernames=["root", "agarcia42"]
    )


@pytest.mark.browser
@pytest.mark.integration
def test_the_static_page_shows_the_comic_with_no_javascript(
    browser: Any, artifacts: Path, tmp_path: Path, comic_piece: dict[str, bytes]
) -> None:
    page_file = tmp_path / "showcase.html"
    page_file.write_text(render_page(comic_piece, title="The sock thief", author_display="Ana G."), encoding="utf-8")
    with Image.open(io.BytesIO(comic_piece["my_comic.png"])) as exported:
        expected = exported.convert("RGB")
    plan = strip_layout(3)
    assert expected.size == (plan.width, plan.height)
    assert square(expected, plan.panels[0].drawing, 7, 6) == COLOURS["orange"]

    with phone_page(browser, page_file) as phone:
        sources = phone.eval_on_selector_all("img", "images => images.map(image => image.getAttribute('src'))")
        pictures = []
        for source in sources:
            assert source.startswith("data:image/png;base64,")
            with Image.open(io.BytesIO(_decode(source))) as picture:
                pictures.append(picture.convert("RGB"))
        assert any(p.size == expected.size and p.tobytes() == expected.tobytes() for p in pictures), (
            "the page shows the comic that was saved"
        )
        drawn = phone.locator("img").first
        drawn.scroll_into_view_if_needed()
        box = drawn.bounding_box()
        assert box is not None and 200 <= box["width"] <= 390, "the comic fits the phone"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
        phone.screenshot(path=str(artifacts / "showcase-comic.png"), full_page=True)

        # Without the PNG file among the piece's files, the picture comes from the saved widget alone.
        only_notebook = {name: data for name, data in comic_piece.items() if name != "my_comic.png"}
        page_file.write_text(render_page(only_notebook, title="t", author_display="Ana G."), encoding="utf-8")
        phone.goto(page_file.as_uri())
        sources = phone.eval_on_selector_all("img", "images => images.map(image => image.getAttribute('src'))")
        assert len(sources) == 1
        with Image.open(io.BytesIO(_decode(sources[0]))) as picture:
            assert picture.convert("RGB").tobytes() == expected.tobytes()


def _decode(source: str) -> bytes:
    import base64

    return base64.b64decode(source.split(",", 1)[1])


# ------------------------------------------------------------------ with the keyboard, in a browser


@pytest.mark.browser
@pytest.mark.integration
def test_the_comic_workbook_in_voila_works_with_the_keyboard_alone(
    browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    import re

    from playwright.sync_api import expect

    from axe import assert_accessible
    from conftest import REPO
    from voila import voila_page_url

    folder = tmp_path / "comic-strip"
    shutil.copytree(REPO / "workbooks" / "storytelling" / "comic-strip", folder)
    with voila_page_url(folder, "comic-strip.ipynb", tmp_path / "jupyter") as url:
        page = browser.new_page(viewport={"width": 1280, "height": 2000})  # the whole comic maker in view
        page.goto(url, timeout=120_000)
        squares = page.get_by_role("grid", name="Drawing squares of this panel").first
        squares.wait_for(timeout=120_000)
        picture = page.get_by_role("img", name="Your comic strip").first
        squares.scroll_into_view_if_needed()
        shown_before = picture.get_attribute("src")

        # Choose red, then paint the second square of the first row: Enter on a button, arrows in the grid.
        page.get_by_role("button", name=re.compile(r"^(✓ )?red$")).first.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_text("Drawing with: red").first).to_be_visible(timeout=60_000)
        squares.get_by_role("button", name="Row 1, column 1: white", exact=True).focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")
        expect(squares.get_by_role("button", name="Row 1, column 2: red", exact=True)).to_be_visible(timeout=60_000)

        # Type new words in panel 1's bubble; leaving the box (Tab) draws the comic again.
        speech = page.get_by_label("They say:").first
        speech.focus()
        page.keyboard.press("Control+a")
        page.keyboard.type("Knock knock!")
        page.keyboard.press("Tab")
        expect(picture).not_to_have_attribute("src", shown_before or "", timeout=60_000)

        # The next panel, with the arrow key on the "Editing" list: its words show in the boxes.
        choice = page.get_by_label("Editing:").first
        choice.focus()
        page.keyboard.press("ArrowDown")
        expect(speech).to_have_value("I don't know. Why did it go?", timeout=60_000)
        page.get_by_role("button", name="Add panel").first.focus()
        page.keyboard.press("Enter")
        expect(choice.locator("option:checked")).to_have_text("Panel 3 of 4", timeout=60_000)
        page.get_by_role("button", name="Save PNG").first.focus()
        page.keyboard.press(" ")
        expect(page.get_by_text("Saved my_joke.png in your folder.").first).to_be_visible(timeout=60_000)
        assert page.locator("text=Traceback").count() == 0
        comic = squares.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
        comic.screenshot(path=str(artifacts / "widgets-comic-voila.png"))
        drawn = picture.bounding_box()
        assert drawn is not None and drawn["width"] == strip_layout(4).width, "the picture keeps its own size"
        assert_accessible(page, "widgets-comic-voila")
        page.close()

    plan = strip_layout(4)
    with Image.open(folder / "my_joke.png") as saved:
        image = saved.convert("RGB")
    assert image.size == (plan.width, plan.height)
    assert square(image, plan.panels[0].drawing, 0, 1) == COLOURS["red"]
    assert dark(colours_in(image, plan.panels[0].bubble)) and colours_in(image, plan.panels[2].bubble) == {PANEL}
    saved_state = json.loads((folder / "my_joke.json").read_text(encoding="utf-8"))
    assert saved_state["panels"][0]["speech"] == "Knock knock!" and len(saved_state["panels"]) == 4
