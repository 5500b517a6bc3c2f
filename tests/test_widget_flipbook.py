"""The flipbook animator (issue 15): a learner draws frames, copies and changes them, and saves a GIF.

Driven as a learner drives it: palette buttons, presses and drags on the CellGrid, the panel's
buttons and speed slider, the "File name" box and "Save GIF". The GIF is opened with Pillow
(frames, timing, loop, the colours of the squares drawn). Saved flipbooks are files anyone
could edit, so damaged and huge ones must be refused with a message, never a crash. The
showcase test runs a notebook with a flipbook in a real kernel, renders the family's static
page and opens it in Chromium with JavaScript off: the animation is there, with its frames.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import REPO
from connected_learning.widgets import ExportPathError, FlipbookAnimator, StateError, set_language
from connected_learning.widgets.base import LIVE_SHOWCASE_ENV, MAX_STATE_BYTES
from connected_learning.widgets.control_panel import PanelControl
from connected_learning.widgets.flipbook import MAX_FRAMES, frames_from_letters
from connected_learning.widgets.flipbook_frames import MAX_FPS, MIN_FPS
from connected_learning.widgets.pixel_canvas import PALETTE
from pieces import executed_piece, phone_page
from widget_tree import descendants

COLOURS = dict(PALETTE)
RED, BLUE, WHITE = (229, 57, 53), (30, 136, 229), (255, 255, 255)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in a fresh learner folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    return home


def press(book: FlipbookAnimator, name: str) -> None:
    """A click on one of the panel's buttons, as in the browser."""
    book.buttons[name].click()


def save_gif(book: FlipbookAnimator, name: str) -> None:
    book.file_name.value = name
    book.export_button.click()


def frames_of(data: bytes) -> list[Image.Image]:
    """Every frame of a GIF, as RGB pictures."""
    frames = []
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF"
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(gif.convert("RGB"))
    return frames


def square(picture: Image.Image, row: int, column: int, scale: int) -> tuple[int, int, int]:
    """The colour in the middle of a square of a GIF frame."""
    pixel = picture.getpixel((column * scale + scale // 2, row * scale + scale // 2))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


# ---------------------------------------------------------------- making a cartoon


def test_a_ball_that_moves_is_saved_as_a_looping_gif_with_one_frame_per_drawing(workdir: Path) -> None:
    book = FlipbookAnimator(size=10)
    assert book.frame_label.value == "Frame 1 of 1"
    book.palette_buttons["red"].click()
    book.cell_grid.press(5, 1)
    press(book, "duplicate")  # copy, then change a little: the ball moves right
    assert book.frame_label.value == "Frame 2 of 2"
    assert book.status.value == "Frame 2 is a copy of frame 1. Change it a little."
    book.palette_buttons["white"].click()
    book.cell_grid.press(5, 1)
    book.palette_buttons["red"].click()
    book.cell_grid.press(5, 2)
    press(book, "duplicate")
    book.palette_buttons["white"].click()
    book.cell_grid.press(5, 2)
    book.palette_buttons["blue"].click()
    book.cell_grid.press(5, 3)
    book.speed.value = 5
    assert book.status.value == "Speed: 5 frames per second."
    save_gif(book, "cartoons/ball.gif")

    assert book.status.value == f"Saved {os.path.join('cartoons', 'ball.gif')} in your folder."
    data = (workdir / "cartoons" / "ball.gif").read_bytes()
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.n_frames == 3 and gif.is_animated
        assert gif.info["loop"] == 0  # loops forever
        assert gif.size == (320, 320)  # 10 squares of 32 px: a few hundred px
        for index in range(3):
            gif.seek(index)
            assert abs(gif.info["duration"] - 1000 / 5) <= 10  # 1/5 s per frame
    first, second, third = frames_of(data)
    assert square(first, 5, 1, 32) == RED and square(first, 5, 2, 32) == WHITE
    assert square(second, 5, 1, 32) == WHITE and square(second, 5, 2, 32) == RED
    assert square(third, 5, 2, 32) == WHITE and square(third, 5, 3, 32) == BLUE
    assert square(third, 0, 0, 32) == WHITE
    assert sorted(os.listdir(workdir / "cartoons")) == ["ball.gif"], "no temporary file is left behind"


@pytest.mark.parametrize("fps", [1, 3, 12])
def test_each_frame_lasts_as_long_as_the_speed_says(fps: int) -> None:
    book = FlipbookAnimator(size=4)
    book.cell_grid.press(0, 0)
    press(book, "add")
    book.cell_grid.press(3, 3)
    book.speed.value = fps
    with Image.open(io.BytesIO(book.to_gif())) as gif:
        assert gif.n_frames == 2
        assert abs(gif.info["duration"] - 1000 / fps) <= 10


def test_the_preview_is_a_gif_remade_after_every_change() -> None:
    book = FlipbookAnimator(size=6)
    assert book.preview.format == "gif"
    assert len(frames_of(book.preview.value)) == 1
    shown = book.preview.value
    book.cell_grid.press(1, 1)
    assert book.preview.value != shown
    press(book, "duplicate")
    book.cell_grid.stroke([(2, 2), (2, 3)], start=True)  # a drag in the browser
    frames = frames_of(book.preview.value)
    assert len(frames) == 2
    scale = frames[0].width // 6
    black = (0, 0, 0)
    assert square(frames[0], 1, 1, scale) == black and square(frames[0], 2, 3, scale) == WHITE
    assert square(frames[1], 2, 3, scale) == black
    assert len(book.preview.value) < 200_000 and frames[0].width <= 256
    before = book.preview.value
    book.speed.value = 9
    with Image.open(io.BytesIO(book.preview.value)) as gif:
        assert abs(gif.info["duration"] - 1000 / 9) <= 10
    assert book.preview.value != before


def test_frames_are_added_duplicated_moved_deleted_and_undone() -> None:
    book = FlipbookAnimator(size=4)
    book.cell_grid.press(0, 0)  # frame 1: black top left
    press(book, "add")
    assert book.frame_label.value == "Frame 2 of 2" and book.status.value == "Added a blank frame: frame 2."
    book.palette_buttons["green"].click()
    book.cell_grid.press(3, 3)  # frame 2: green bottom right
    press(book, "earlier")
    assert book.status.value == "Moved the frame. It is now frame 1."
    assert book.frame_label.value == "Frame 1 of 2"
    assert book.frames[0][3][3] == "green" and book.frames[1][0][0] == "black"
    press(book, "earlier")
    assert book.status.value == "This frame is already the first."
    press(book, "previous")
    assert book.status.value == "This is the first frame."
    press(book, "next")
    assert book.frame_label.value == "Frame 2 of 2" and book.cell_grid.get(0, 0) == "black"
    press(book, "next")
    assert book.status.value == "This is the last frame."
    press(book, "later")
    assert book.status.value == "This frame is already the last."
    press(book, "delete")
    assert book.status.value == "Deleted frame 2. Undo brings it back."
    assert len(book.frames) == 1 and book.frame_label.value == "Frame 1 of 1"
    press(book, "delete")
    assert book.status.value == "A flipbook needs at least one frame, so this one stays."
    press(book, "undo")
    assert len(book.frames) == 2 and book.frames[1][0][0] == "black"
    press(book, "undo")  # the move
    assert book.frames[0][0][0] == "black" and book.frames[1][3][3] == "green"
    press(book, "clear")
    assert all(name == "white" for line in book.frames[book.current] for name in line)
    press(book, "clear")
    assert book.status.value == "This frame is already empty."


def test_a_flipbook_stops_at_its_most_frames() -> None:
    book = FlipbookAnimator(size=3)
    for _ in range(MAX_FRAMES - 1):
        press(book, "duplicate")
    assert len(book.frames) == MAX_FRAMES
    press(book, "duplicate")
    press(book, "add")
    assert len(book.frames) == MAX_FRAMES
    assert book.status.value == f"A flipbook can have up to {MAX_FRAMES} frames. Delete one to make room."


STEPS = st.one_of(
    st.tuples(st.just("paint"), st.integers(0, 3), st.integers(0, 3), st.sampled_from(["white", "red", "blue"])),
    st.tuples(st.just("fill"), st.integers(0, 3), st.integers(0, 3), st.sampled_from(["white", "green"])),
    st.tuples(st.sampled_from(["previous", "next", "duplicate", "add", "earlier", "later", "delete", "undo", "clear"])),
    st.tuples(st.just("speed"), st.integers(MIN_FPS, MAX_FPS)),
    st.tuples(st.just("onion"), st.booleans()),
)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(STEPS, max_size=40))
def test_whatever_a_learner_presses_the_flipbook_stays_whole(steps: list[tuple[Any, ...]]) -> None:
    book = FlipbookAnimator(size=4)
    for step in steps:
        if step[0] in ("paint", "fill"):
            book.choose(step[3])
            book.use_tool("fill" if step[0] == "fill" else "brush")
            book.cell_grid.press(step[1], step[2])
        elif step[0] == "speed":
            book.speed.value = step[1]
        elif step[0] == "onion":
            book.onion.value = step[1]
        else:
            press(book, step[0])
        count = len(book.frames)
        assert 1 <= count <= MAX_FRAMES and 0 <= book.current < count
        assert book.frame_label.value == f"Frame {book.current + 1} of {count}"
        assert [list(line) for line in book.cell_grid.values] == book._shown()  # the screen shows the frame
    state = book.state
    assert FlipbookAnimator.from_state(json.loads(json.dumps(state))).state == state
    # The GIF has every frame, two equal neighbours stored as one longer frame.
    changes = 1 + sum(book.frames[i] != book.frames[i - 1] for i in range(1, len(book.frames)))
    assert len(frames_of(book.preview.value)) == changes


def test_a_drag_is_one_undo_step_and_the_fill_paints_a_patch() -> None:
    book = FlipbookAnimator(size=5)
    book.palette_buttons["blue"].click()
    book.cell_grid.stroke([(0, 0), (0, 1)], start=True)
    book.cell_grid.stroke([(0, 2), (0, 3)], start=False)
    assert book.frames[0][0][:4] == ["blue"] * 4
    press(book, "undo")
    assert book.frames[0][0] == ["white"] * 5
    book.tool_choice.value = "fill"  # what pressing "Fill" in the browser sets
    assert book.painting.value == "Filling with: blue"
    book.cell_grid.press(4, 4)
    assert all(name == "blue" for line in book.frames[0] for name in line)
    with pytest.raises(ValueError, match="not a tool"):
        book.use_tool("spray")
    with pytest.raises(ValueError, match="not in the palette"):
        book.choose("gold")


def test_the_onion_skin_shows_the_frame_before_faint_and_with_a_letter() -> None:
    book = FlipbookAnimator(size=4)
    book.palette_buttons["red"].click()
    book.cell_grid.press(1, 1)
    press(book, "add")
    faint = book.cell_grid.get(1, 1)
    assert faint == "red (frame before)"  # said in the square's title, not only shown
    assert book.cell_grid.title(1, 1) == "Row 2, column 2: red (frame before)"
    assert book.cell_grid.marks[faint] == "r"  # a small letter: never colour alone
    assert book.cell_grid.colours[faint] not in (COLOURS["red"], COLOURS["white"])  # lighter than red
    assert int(book.cell_grid.colours[faint][1:3], 16) > int(COLOURS["red"][1:3], 16) - 1
    assert book.frames[1][1][1] == "white", "the onion skin is only shown, never drawn"
    book.onion.value = False
    assert book.cell_grid.get(1, 1) == "white"
    book.onion.value = True
    book.palette_buttons["blue"].click()
    book.cell_grid.press(1, 1)  # drawing over it hides it
    assert book.cell_grid.get(1, 1) == "blue"
    book.letters.value = True
    assert book.cell_grid.marks["blue"] and book.cell_grid.marks["blue"] != book.cell_grid.marks.get(faint)
    with Image.open(io.BytesIO(book.to_gif(scale=4))) as gif:
        gif.seek(1)
        assert square(gif.convert("RGB"), 1, 1, 4) == BLUE


def test_starting_frames_from_letters_and_their_mistakes() -> None:
    letters = {".": "white", "o": "orange"}
    frames = frames_from_letters([["o.", ".."], ["..", ".o"]], letters)
    book = FlipbookAnimator(frames=frames, fps=2)
    assert book.size == 2 and len(book.frames) == 2 and book.frames[1][1][1] == "orange"
    with pytest.raises(ValueError, match="letter 'x'"):
        frames_from_letters([["x."]], letters)
    with pytest.raises(StateError, match="2 squares wide, not 5"):
        FlipbookAnimator(size=5, frames=frames)
    with pytest.raises(StateError, match="from 1 to 12"):
        FlipbookAnimator(fps=30)
    with pytest.raises(StateError, match="from 2 to 32"):
        FlipbookAnimator(size=100)


def test_every_control_has_a_text_label_and_buttons_fit_their_words() -> None:
    book = FlipbookAnimator()
    controls = (widgets.Button, widgets.Checkbox, widgets.Text, widgets.Image)
    found = [w for w in descendants(book) if isinstance(w, controls)]
    assert len(found) >= 14
    for control in found:
        text = (control.description if hasattr(control, "description") else "") or control.tooltip or ""
        assert text.strip(), control
    assert book.cell_grid.label.strip() and all(name.strip() for name in book.cell_grid.rows)
    assert all(isinstance(b, PanelControl) and b.description and b.tooltip for b in book.buttons.values())
    assert book.speed.description == "Speed (frames per second):" and (book.speed.min, book.speed.max) == (1, 12)
    # A palette button names its colour; the chosen one has a tick in words, not colour alone.
    assert book.palette_buttons["black"].description == "✓ black"
    assert book.palette_buttons["red"].description == "red"


# ---------------------------------------------------------------- saved flipbooks


def test_state_round_trip_and_a_sidecar_that_brings_the_flipbook_back(workdir: Path) -> None:
    book = FlipbookAnimator(size=6, sidecar="my_cartoon.json")
    assert (workdir / "my_cartoon.json").exists(), "a new flipbook is saved at once"
    book.palette_buttons["purple"].click()
    book.cell_grid.press(2, 2)
    press(book, "duplicate")
    book.cell_grid.press(3, 3)
    book.speed.value = 7
    state = json.loads((workdir / "my_cartoon.json").read_text(encoding="utf-8"))
    assert state == book.state and state["kind"] == "flipbook" and state["fps"] == 7
    assert FlipbookAnimator.from_state(state).state == state
    again = FlipbookAnimator(sidecar="my_cartoon.json")
    assert again.state == state
    assert again.status.value == "Welcome back! Your work from my_cartoon.json is loaded."
    assert again.speed.value == 7 and again.frame_label.value == "Frame 1 of 2"
    assert len(frames_of(again.preview.value)) == 2
    # Loading a flipbook of another size and palette rebuilds the grid and the palette buttons.
    other = FlipbookAnimator(size=3, palette=[("black", "#000000"), ("gold", "#ffd700")])
    other.load_state(state)
    assert other.state == state and other.cell_grid.columns == 6 and "purple" in other.palette_buttons


BAD_STATES: dict[str, Callable[[dict[str, Any]], None]] = {
    "too many frames": lambda s: s.update(frames=s["frames"] * 30),
    "no frames": lambda s: s.update(frames=[]),
    "frames not a list": lambda s: s.update(frames="lots"),
    "short row": lambda s: s["frames"][0][1].pop(),
    "missing row": lambda s: s["frames"][1].pop(),
    "unknown colour": lambda s: s["frames"][0][0].__setitem__(0, "<script>"),
    "colour not text": lambda s: s["frames"][0][0].__setitem__(0, 7),
    "huge side": lambda s: s.update(size=10_000),
    "side is text": lambda s: s.update(size="4"),
    "speed zero": lambda s: s.update(fps=0),
    "speed huge": lambda s: s.update(fps=10**9),
    "speed true": lambda s: s.update(fps=True),
    "bad palette": lambda s: s.update(palette=[["white", "not a colour"], ["black", "#000000"]]),
    "chosen colour gone": lambda s: s.update(colour="gold"),
    "no frames key": lambda s: s.pop("frames"),
    "other widget": lambda s: s.update(kind="pixel_canvas"),
    "other version": lambda s: s.update(version=99),
}


@pytest.mark.parametrize("corrupt", BAD_STATES.values(), ids=BAD_STATES.keys())
def test_an_edited_sidecar_is_refused_with_a_message_and_kept(workdir: Path, corrupt: Callable[..., None]) -> None:
    book = FlipbookAnimator(size=4, sidecar="cartoon.json")
    book.cell_grid.press(0, 0)
    press(book, "duplicate")
    before = book.state
    bad = json.loads(json.dumps(before))
    corrupt(bad)
    text = json.dumps(bad)
    (workdir / "cartoon.json").write_text(text, encoding="utf-8")

    with pytest.raises(StateError):
        book.load_state(bad)
    assert book.state == before, "a bad file changes nothing on screen"
    again = FlipbookAnimator(size=4, sidecar="cartoon.json")
    assert "NOT saved automatically" in again.status.value
    again.cell_grid.press(1, 1)
    assert (workdir / "cartoon.json").read_text(encoding="utf-8") == text, "the learner's file is kept"


def test_a_huge_or_broken_sidecar_is_refused_without_reading_it_all(workdir: Path) -> None:
    huge = workdir / "huge.json"
    with open(huge, "wb") as handle:
        handle.write(b'{"kind": "flipbook", "frames": "')
        handle.write(b"x" * (MAX_STATE_BYTES + 10))
        handle.write(b'"}')
    book = FlipbookAnimator(sidecar="huge.json")
    assert "bigger than 8 MB" in book.status.value and "NOT saved automatically" in book.status.value
    assert huge.stat().st_size > MAX_STATE_BYTES
    (workdir / "broken.json").write_bytes(b"\xff\xfe{not json")
    assert "NOT saved automatically" in FlipbookAnimator(sidecar="broken.json").status.value
    with pytest.raises(StateError, match="1 to 24 frames"):
        FlipbookAnimator().load_state(
            {"kind": "flipbook", "version": 1, "size": 2, "palette": [list(p) for p in PALETTE],
             "colour": "black", "fps": 4, "frames": [[["white"] * 2] * 2] * 100_000}
        )  # fmt: skip


def test_gif_names_that_leave_the_folder_are_refused(workdir: Path, tmp_path: Path) -> None:
    book = FlipbookAnimator(size=4)
    book.cell_grid.press(0, 0)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.gif").write_bytes(b"keep me")
    os.symlink(outside, workdir / "shortcut")
    os.symlink(outside / "victim.gif", workdir / "link.gif")
    tricks = {
        "../x.gif": "uses '..'",
        "art/../../x.gif": "uses '..'",
        "shortcut/x.gif": "shortcut",
        "link.gif": "shortcut",
        "/etc/x.gif": "outside your folder",
        str(outside / "x.gif"): "outside your folder",
        ".hidden.gif": "hidden name",
        "cartoon.png": "must end in .gif",
        "": "Type a file name",
        "a\x00b.gif": "control character",
    }
    for name, message in tricks.items():
        with pytest.raises(ExportPathError, match=message):
            book.export_gif(name)
        save_gif(book, name)
        assert book.status.value.startswith("Not saved:") and message.split("'")[0] in book.status.value
    for name in ("../x.json", "/etc/x.json", "shortcut/x.json"):
        with pytest.raises(ExportPathError):
            FlipbookAnimator(sidecar=name)
    assert sorted(os.listdir(outside)) == ["victim.gif"] and (outside / "victim.gif").read_bytes() == b"keep me"
    assert sorted(os.listdir(workdir)) == ["link.gif", "shortcut"], "nothing was written"
    save_gif(book, "fine.gif")
    assert (workdir / "fine.gif").read_bytes().startswith(b"GIF89a")


def test_a_familys_live_copy_offers_no_saving(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIVE_SHOWCASE_ENV, "1")
    book = FlipbookAnimator(size=4, sidecar="cartoon.json")
    row = next(w for w in descendants(book) if isinstance(w, widgets.HBox) and book.export_button in w.children)
    assert row.layout.display == "none"
    assert not (workdir / "cartoon.json").exists()


def test_spanish_labels_after_set_language() -> None:
    set_language("es")
    try:
        book = FlipbookAnimator(size=4)
        assert book.frame_label.value == "Fotograma 1 de 1"
        assert book.buttons["duplicate"].description == "Duplicar fotograma"
        assert book.speed.description == "Velocidad (fotogramas por segundo):"
        assert book.export_button.description == "Guardar GIF"
        assert book.onion.description.startswith("Papel cebolla")
        assert book.palette_buttons["black"].description == "✓ negro"  # colours are named in Spanish too
        assert book.painting.value == "Pintas con: negro"
        assert (
            book.cell_grid.title(0, 0).startswith("Fila 1, columna 1: ") and book.cell_grid.names["white"] == "blanco"
        )
        press(book, "add")
        assert book.status.value == "Agregaste un fotograma vacío: el fotograma 2."
        assert book.frame_label.value == "Fotograma 2 de 2"
        press(book, "next")
        assert book.status.value == "Este es el último fotograma."
        with pytest.raises(StateError, match="La velocidad debe ser un número entero"):
            FlipbookAnimator(fps=30)  # a saved flipbook's problems are told in Spanish too
    finally:
        set_language("en")
    assert FlipbookAnimator(size=4).frame_label.value == "Frame 1 of 1"


# ---------------------------------------------------------------- the showcase's static page

ORBIT = REPO / "workbooks" / "space" / "orbit-flipbook"
YELLOW, SPACE_GREY = (253, 216, 53), (117, 117, 117)


@pytest.fixture(scope="module")
def orbit_piece(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The Orbit Flipbook workbook run top to bottom by nbclient in a real kernel, as the showcase publishes it."""
    folder = tmp_path_factory.mktemp("orbit-flipbook")
    shutil.copytree(ORBIT, folder, dirs_exist_ok=True)
    saved = ["my_orbit.gif", "my_launch.gif", "my_moon.gif", "my_orbit.json"]
    jupyter = tmp_path_factory.mktemp("jupyter")
    return executed_piece(folder, "orbit-flipbook.ipynb", saved, jupyter, usernames=["root", "agarcia42"])


def gif_sources(page: str) -> list[bytes]:
    return [base64.b64decode(found) for found in re.findall(r'src="data:image/gif;base64,([A-Za-z0-9+/=]+)"', page)]


def is_orbit(frames: list[Image.Image]) -> bool:
    """The orbit of the workbook: 8 frames of 15 squares, the yellow star in the middle."""
    return len(frames) == 8 and square(frames[0], 7, 7, frames[0].width // 15) == YELLOW


def test_the_static_page_holds_the_animations(orbit_piece: dict[str, bytes]) -> None:
    from connected_learning.showcase.render import render_page

    page = render_page(orbit_piece, title="My space flipbooks", author_display="Ana G.")
    assert len(page.encode("utf-8")) < 500_000, "a light page"
    animations = [frames_of(data) for data in gif_sources(page)]
    orbits = [frames for frames in animations if is_orbit(frames)]
    assert orbits, f"no orbit among the page's {len(animations)} GIFs"
    for frames in orbits:
        scale = frames[0].width // 15
        assert square(frames[0], 2, 7, scale) == BLUE  # the planet above the star...
        assert square(frames[2], 7, 12, scale) == BLUE  # ...a quarter turn later, to its right
        assert square(frames[2], 2, 7, scale) == (0, 0, 0)
    # The rocket (its three waiting frames play as one) and the moon's eight phases are there too.
    assert any(len(frames) == 7 for frames in animations)
    moons = [f for f in animations if len(f) == 8 and square(f[0], 7, 7, f[0].width // 15) in (WHITE, SPACE_GREY)]
    assert moons
    assert "<script" not in page.lower()


@pytest.mark.browser
@pytest.mark.integration
def test_the_static_page_plays_the_flipbook_with_no_javascript(
    browser: Any, artifacts: Path, tmp_path: Path, orbit_piece: dict[str, bytes]
) -> None:
    from connected_learning.showcase.render import render_page

    page_file = tmp_path / "showcase.html"
    page_file.write_text(
        render_page(orbit_piece, title="My space flipbooks", author_display="Ana G.", live_url="/p/t0k/live"),
        encoding="utf-8",
    )
    with phone_page(browser, page_file) as phone:
        gifs = phone.locator("img[src^='data:image/gif']")
        assert gifs.count() >= 3  # the orbit, the rocket and the moon
        orbit = next(
            gif
            for gif in gifs.all()
            if is_orbit(frames_of(base64.b64decode((gif.get_attribute("src") or "").split(",", 1)[1])))
        )
        orbit.scroll_into_view_if_needed()
        box = orbit.bounding_box()
        assert box is not None and 150 <= box["width"] <= 390
        assert phone.evaluate("(img) => img.complete && img.naturalWidth > 0", orbit.element_handle())
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        phone.screenshot(path=str(artifacts / "showcase-flipbook.png"), full_page=True)


# ---------------------------------------------------------------- in a browser, with the keyboard


@pytest.mark.browser
@pytest.mark.integration
def test_a_keyboard_user_animates_the_ball_in_voila(browser: Any, artifacts: Path, tmp_path: Path) -> None:
    """Flipbook Studio in a real Voila server: Tab and Enter on the buttons, arrows and Enter in the squares."""
    from playwright.sync_api import expect

    from axe import assert_accessible
    from voila import voila_page_url

    folder = tmp_path / "flipbook-studio"
    shutil.copytree(REPO / "workbooks" / "film-and-animation" / "flipbook-studio", folder)
    with voila_page_url(folder, "flipbook-studio.ipynb", tmp_path / "jupyter") as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, timeout=120_000)
        # The first flipbook on the page (the ball): the box that holds a flipbook's buttons.
        ball = page.locator(".widget-vbox").filter(has=page.locator(".clh-panel")).first
        expect(ball.get_by_text("Frame 1 of 8")).to_be_visible(timeout=120_000)
        preview = ball.locator("img").first
        shown = preview.get_attribute("src")

        duplicate = ball.get_by_role("button", name="Duplicate frame")
        duplicate.focus()
        page.keyboard.press("Enter")
        expect(ball.get_by_text("Frame 2 of 9")).to_be_visible(timeout=60_000)
        expect(ball.get_by_text("Frame 2 is a copy of frame 1. Change it a little.")).to_be_visible()

        # The squares are one tab stop; arrows move and Enter paints with the chosen colour.
        ball.get_by_role("button", name=re.compile(r"^(✓ )?blue$")).press("Enter")
        expect(ball.get_by_text("Painting with: blue")).to_be_visible(timeout=60_000)
        squares = ball.get_by_role("grid", name="Squares of the frame you are drawing")
        squares.get_by_role("button", name="Row 1, column 1: white").focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")
        expect(squares.get_by_role("button", name="Row 2, column 2: blue", exact=True)).to_be_visible(timeout=60_000)
        # Rubbing out the ball (painting it white) shows the frame before faint, with a small letter.
        ball.get_by_role("button", name=re.compile(r"^(✓ )?white$")).press("Enter")
        squares.get_by_role("button", name="Row 1, column 6: red").focus()
        page.keyboard.press("Enter")
        rubbed = squares.get_by_role("button", name="Row 1, column 6: red (frame before)")
        expect(rubbed).to_have_text("r", timeout=60_000)
        ball.screenshot(path=str(artifacts / "flipbook-voila-onion.png"))
        expect(preview).not_to_have_attribute("src", shown or "", timeout=60_000)

        ball.get_by_role("button", name="Move earlier").press("Enter")
        expect(ball.get_by_text("Moved the frame. It is now frame 1.")).to_be_visible(timeout=60_000)
        ball.get_by_role("button", name="Save GIF").press("Enter")
        expect(ball.get_by_text("Saved my_ball.gif in your folder.")).to_be_visible(timeout=60_000)
        assert page.locator("text=Traceback").count() == 0
        ball.screenshot(path=str(artifacts / "flipbook-voila.png"))
        assert_accessible(page, "flipbook-voila")
        page.close()

    with Image.open(folder / "my_ball.gif") as gif:
        assert gif.n_frames == 9
        gif.seek(0)
        first = gif.convert("RGB")
    scale = first.width // 12
    assert square(first, 1, 1, scale) == BLUE  # the painted copy, moved to the front
    assert square(first, 0, 5, scale) == WHITE and square(first, 0, 6, scale) == RED  # a quarter rubbed out
    with Image.open(folder / "my_ball.gif") as gif:
        gif.seek(1)
        assert square(gif.convert("RGB"), 0, 5, scale) == RED  # the first frame, now second, is whole
