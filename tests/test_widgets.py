"""The creative-exercise widgets, driven as a learner drives them, checked by the files they export.

Each test builds a widget in this process (no kernel), sets values and presses buttons the
way the browser would, and opens what was exported with the library a reader would use:
Pillow for PNG, `wave` for WAV, pandas and `csv` for the group's data file. Every test runs
in its own temporary working directory, because exports must stay inside it.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import multiprocessing
import os
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
import traitlets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from connected_learning.widgets import (
    BeatMaker,
    ChartMaker,
    DataCollector,
    ExportPathError,
    PixelCanvas,
    ReflectionBox,
    StateError,
    StoryBuilder,
    append_row,
    files,
    synth,
    validate_entry,
)
from connected_learning.widgets.beat_maker import ROWS
from connected_learning.widgets.cell_grid import CellGrid
from connected_learning.widgets.pixel_canvas import PALETTE, flood
from widget_tree import descendants

RED = (0xE5, 0x39, 0x35)
WHITE = (255, 255, 255)
SPEC = [
    {"name": "street", "type": "text", "label": "Street", "required": True, "max": 40},
    {"name": "trees", "type": "int", "label": "Trees you counted", "required": True, "min": 0, "max": 500},
    {"name": "noise", "type": "float", "label": "Noise level", "min": 0, "max": 10},
    {"name": "kind", "type": "choice", "label": "Most common tree", "choices": ["oak", "pine", "birch"]},
]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in a fresh learner folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    return home


def press_step(beat: BeatMaker, name: str, step: int) -> None:
    """Press a step of the beat grid, as a click in the browser does."""
    beat.cell_grid.press(ROWS.index(name), step)


def shown_mark(grid: CellGrid, row: int, column: int) -> str:
    """The text the browser shows in a cell: the mark of its value."""
    return grid.marks.get(grid.get(row, column), "")


def save_with_button(row_name: widgets.Text, button: widgets.Button, name: str) -> None:
    row_name.value = name
    button.click()


# ---------------------------------------------------------------- PixelCanvas


def test_pixel_canvas_paints_and_exports_a_png_with_the_painted_colour(workdir: Path) -> None:
    canvas = PixelCanvas()
    canvas.palette_buttons["red"].click()
    canvas.cell_grid.press(2, 3)
    canvas.palette_buttons["blue"].click()
    canvas.cell_grid.press(0, 0)
    canvas.undo_button.click()  # takes back the blue square only
    save_with_button(canvas.file_name, canvas.export_button, "art/mine.png")

    assert canvas.status.value == f"Saved {os.path.join('art', 'mine.png')} in your folder."
    with Image.open(workdir / "art" / "mine.png") as image:
        assert image.format == "PNG"
        assert image.size == (16 * 16, 16 * 16)
        rgb = image.convert("RGB")
        assert rgb.getpixel((3 * 16 + 8, 2 * 16 + 8)) == RED
        assert rgb.getpixel((3 * 16, 2 * 16)) == RED and rgb.getpixel((3 * 16 + 15, 2 * 16 + 15)) == RED
        assert rgb.getpixel((8, 8)) == WHITE
        assert rgb.getpixel((4 * 16 + 1, 2 * 16 + 8)) == WHITE
    assert sorted(os.listdir(workdir / "art")) == ["mine.png"], "no temporary file is left behind"


def test_pixel_canvas_clear_and_undo_and_painting_by_row_and_column() -> None:
    canvas = PixelCanvas(rows=8, columns=10)
    canvas.palette_buttons["green"].click()
    canvas.row_choice.value, canvas.column_choice.value = 8, 10
    canvas.paint_button.click()
    assert canvas.grid[7][9] == "green"
    canvas.clear_button.click()
    assert all(name == "white" for line in canvas.grid for name in line)
    canvas.undo_button.click()
    assert canvas.grid[7][9] == "green"
    canvas.undo_button.click()
    canvas.undo_button.click()
    assert canvas.status.value == "Nothing to undo."
    with Image.open(io.BytesIO(canvas.to_png(scale=4))) as image:
        assert image.size == (40, 32)


def test_pixel_canvas_names_every_colour_in_text() -> None:
    canvas = PixelCanvas()
    canvas.palette_buttons["purple"].click()
    assert [button.description for button in canvas.palette_buttons.values()] == [
        f"✓ {name}" if name == "purple" else name for name, _ in PALETTE
    ]
    assert canvas.current.value == "Painting with: purple"
    canvas.cell_grid.press(5, 6)
    assert canvas.cell_grid.title(5, 6) == "Row 6, column 7: purple"
    assert shown_mark(canvas.cell_grid, 5, 6) == ""
    canvas.letters.value = True
    marks = {canvas._mark[name] for name, _ in PALETTE[1:]}
    assert len(marks) == len(PALETTE) - 1 and "" not in marks, "every colour has its own letters"
    assert shown_mark(canvas.cell_grid, 5, 6) == canvas._mark["purple"] != ""


def stroke(canvas: PixelCanvas, cells: list[list[Any]], start: bool) -> None:
    """One batch of a drag across the squares, as the browser sends it."""
    canvas.cell_grid._handle_message(canvas.cell_grid, {"event": "stroke", "start": start, "cells": cells}, [])


def test_fill_paints_the_patch_joined_by_sides_up_to_the_edges() -> None:
    grid = [
        list("aaba"),
        list("abaa"),
        list("baab"),
        list("bbaa"),
    ]
    assert flood(grid, 0, 0) == [(0, 0), (0, 1), (1, 0)]
    assert flood(grid, 1, 1) == [(1, 1)], "squares that touch only at a corner are not joined"
    assert flood(grid, 0, 3) == [(0, 3), (1, 2), (1, 3), (2, 1), (2, 2), (3, 2), (3, 3)]
    assert flood(grid, 3, 0) == [(2, 0), (3, 0), (3, 1)]
    assert flood([["a"] * 4 for _ in range(3)], 2, 3) == [(r, c) for r in range(3) for c in range(4)]
    assert flood([["a"]], 0, 0) == [(0, 0)]


def test_pixel_canvas_fill_is_one_undo_step_and_a_fill_of_the_same_colour_does_nothing(workdir: Path) -> None:
    canvas = PixelCanvas(rows=5, columns=6, sidecar="art.json")
    canvas.palette_buttons["black"].click()
    for row in range(5):
        canvas.cell_grid.press(row, 2)  # a wall down column 3
    canvas.tool_choice._handle_message(canvas.tool_choice, {"event": "choose", "value": "fill"}, [])
    assert canvas.tool == "fill" and canvas.current.value == "Filling with: black"
    assert canvas.paint_button.description == "Fill area"
    canvas.palette_buttons["green"].click()
    canvas.cell_grid._handle_message(canvas.cell_grid, {"event": "press", "row": 4, "column": 0}, [])  # Enter
    left = {(r, c) for r in range(5) for c in range(2)}
    assert {(r, c) for r in range(5) for c in range(6) if canvas.grid[r][c] == "green"} == left
    assert all(canvas.grid[r][c] == "white" for r in range(5) for c in range(3, 6)), "the wall holds"
    assert json.loads((workdir / "art.json").read_text())["cells"] == canvas.grid

    steps = len(canvas._undo)
    saved = (workdir / "art.json").stat().st_mtime_ns
    canvas.fill(0, 1)  # already green
    assert len(canvas._undo) == steps and (workdir / "art.json").stat().st_mtime_ns == saved

    canvas.row_choice.value, canvas.column_choice.value = 1, 6
    canvas.paint_button.click()  # "Fill area" by row and column
    assert canvas.grid[4][5] == "green" and canvas.grid[0][2] == "black"
    canvas.undo_button.click()
    assert canvas.grid[4][5] == "white" and canvas.grid[0][0] == "green"
    canvas.undo_button.click()  # the whole first fill, in one step
    assert all(canvas.grid[r][c] == "white" for r, c in left) and canvas.grid[2][2] == "black"
    assert json.loads((workdir / "art.json").read_text())["cells"] == canvas.grid
    with pytest.raises(ValueError, match="There is no row 5"):
        canvas.fill(5, 0)


def test_pixel_canvas_a_drag_paints_every_square_it_crosses_as_one_undo_step() -> None:
    canvas = PixelCanvas(rows=4, columns=8)
    assert canvas.cell_grid.drag
    canvas.palette_buttons["red"].click()
    canvas.cell_grid.press(3, 3)
    stroke(canvas, [[0, 0]], True)
    stroke(canvas, [[0, 1], [0, 2], [1, 3]], False)
    stroke(canvas, [[0, 1], [1, 4]], False)  # a square crossed twice changes once
    red = {(r, c) for r in range(4) for c in range(8) if canvas.grid[r][c] == "red"}
    assert red == {(0, 0), (0, 1), (0, 2), (1, 3), (1, 4), (3, 3)}
    stroke(canvas, [[2, 0], [2, 1]], True)  # a new drag
    canvas.undo_button.click()
    assert canvas.grid[2][0] == canvas.grid[2][1] == "white" and canvas.grid[0][0] == "red"
    canvas.undo_button.click()  # the whole first drag at once
    assert {(r, c) for r in range(4) for c in range(8) if canvas.grid[r][c] == "red"} == {(3, 3)}

    stroke(canvas, [[1, 0]], True)
    canvas.undo_button.click()  # undo in the middle of a drag...
    stroke(canvas, [[1, 1]], False)  # ...and the drag goes on: a step of its own
    assert canvas.grid[1][0] == "white" and canvas.grid[1][1] == "red"
    canvas.undo_button.click()
    assert canvas.grid[1][1] == "white" and canvas.grid[3][3] == "red"

    canvas.use_tool("fill")
    canvas.palette_buttons["blue"].click()
    stroke(canvas, [[0, 7], [0, 6]], True)
    stroke(canvas, [[3, 3]], False)  # the fill happens where the drag began, once
    assert canvas.grid[3][3] == "red" and canvas.grid[0][0] == "blue"
    canvas.undo_button.click()
    assert canvas.grid[0][0] == "white"
    with pytest.raises(ValueError, match="not a tool"):
        canvas.use_tool("spray")


@pytest.mark.parametrize(
    "message",
    [
        {"event": "stroke", "start": True, "cells": [[0, 0], [4, 0]]},  # one row out of range
        {"event": "stroke", "start": True, "cells": [[0, 0], [0, 8]]},
        {"event": "stroke", "start": True, "cells": [[0, 0], [-1, 2]]},
        {"event": "stroke", "start": True, "cells": [[0, True]]},
        {"event": "stroke", "start": True, "cells": [["0", 1]]},
        {"event": "stroke", "start": True, "cells": [[0.0, 1]]},
        {"event": "stroke", "start": True, "cells": [[0, 1, 2]]},
        {"event": "stroke", "start": True, "cells": [{"row": 0, "column": 1}]},
        {"event": "stroke", "start": True, "cells": [[None, None]]},
        {"event": "stroke", "start": True, "cells": "0,0"},
        {"event": "stroke", "start": True, "cells": []},
        {"event": "stroke", "start": True},
        {"event": "stroke", "start": "yes", "cells": [[0, 0]]},
        {"event": "stroke", "cells": [[0, 0]]},
        {"event": "stroke", "start": True, "cells": [[0, 0]] * (4 * 8 + 1)},  # more than the grid has
        {"event": "stroke", "start": True, "cells": [[1, 1]] * 1_000_000},
        {"event": "stroke", "start": True, "cells": [[0, 0]] + [[10**100, 0]] * 10},
        ["stroke", [[0, 0]]],
    ],
)
def test_pixel_canvas_ignores_a_stroke_message_it_cannot_use(message: Any, caplog: pytest.LogCaptureFixture) -> None:
    canvas = PixelCanvas(rows=4, columns=8)
    canvas.palette_buttons["red"].click()
    canvas.cell_grid._handle_message(canvas.cell_grid, message, [])
    assert all(name == "white" for line in canvas.grid for name in line) and canvas._undo == []
    assert "CellGrid ignored" in caplog.text and len(caplog.text) < 2_000, "the log names it, briefly"
    # The control: the same grid paints a good stroke.
    stroke(canvas, [[3, 7]], True)
    assert canvas.grid[3][7] == "red"


def test_pixel_canvas_tool_buttons_say_which_is_chosen_and_refuse_other_tools() -> None:
    canvas = PixelCanvas()
    choice = canvas.tool_choice
    assert [option[1] for option in choice.options] == ["Brush", "Fill"] and choice.label == "Tool"
    assert all(option[2] for option in choice.options), "each tool says what it does"
    assert "aria-pressed" in choice._esm and "aria-pressed" in choice._css
    for bad in ({"event": "choose", "value": "spray"}, {"event": "choose", "value": 1}, {"event": "dance"}, "fill"):
        choice._handle_message(choice, bad, [])
        assert choice.value == canvas.tool == "brush"
    with pytest.raises(traitlets.TraitError, match="not one of the buttons"):
        choice.value = "spray"
    choice._handle_message(choice, {"event": "choose", "value": "fill"}, [])
    assert canvas.tool == "fill"
    choice._handle_message(choice, {"event": "choose", "value": "brush"}, [])
    assert canvas.tool == "brush" and canvas.paint_button.description == "Paint square"


# ---------------------------------------------------------------- CellGrid


def test_cell_grid_press_is_decided_in_python_and_syncs_new_values() -> None:
    grid = CellGrid(
        rows=["Row 1", "Row 2"],
        columns=3,
        values=[["white"] * 3, ["white"] * 3],
        colours={"white": "#ffffff", "red": "#e53935"},
        marks={"red": "R"},
    )
    presses: list[tuple[int, int]] = []
    grid.on_press(lambda row, column: (presses.append((row, column)), grid.set(row, column, "red")))
    before = grid.values
    grid._handle_message(grid, {"event": "press", "row": 1, "column": 2}, [])  # what the browser sends
    assert presses == [(1, 2)] and grid.get(1, 2) == "red"
    assert before[1][2] == "white", "the old value is never changed in place, so traitlets sees a new one"
    assert grid.title(1, 2) == "Row 2, column 3: red" and grid.title(0, 0) == "Row 1, column 1: white"
    grid.update([(0, 0, "red"), (0, 1, "red")])
    assert grid.values == [["red", "red", "white"], ["white", "white", "red"]]
    assert grid.get_state("values")["values"] == grid.values


def test_cell_grid_refuses_cells_that_are_not_there() -> None:
    grid = CellGrid(rows=["kick"], columns=4, values=[["off"] * 4], column_word="step")
    grid.on_press(lambda row, column: pytest.fail("no callback for a bad press"))
    for row, column in [(1, 0), (0, 4), (-1, 0), (0, True), ("0", 0)]:
        with pytest.raises(ValueError, match="There is no"):
            grid.press(row, column)
        grid._handle_message(grid, {"event": "press", "row": row, "column": column}, [])  # ignored, logged
    grid._handle_message(grid, {"event": "dance"}, [])
    with pytest.raises(ValueError, match="names"):
        grid.set(0, 0, 1)  # type: ignore[arg-type]
    with pytest.raises(traitlets.TraitError, match="1 rows of 4 cells"):
        grid.values = [["off"] * 3]
    grid.reshape(["kick", "snare"], 2, "off")
    assert grid.values == [["off", "off"], ["off", "off"]] and grid.title(1, 1) == "snare, step 2: off"


def test_cell_grid_without_drag_ignores_strokes_and_presses_as_before() -> None:
    beat = BeatMaker(steps=8)
    assert not beat.cell_grid.drag
    before = beat.state
    beat.cell_grid._handle_message(beat.cell_grid, {"event": "stroke", "start": True, "cells": [[0, 0], [0, 1]]}, [])
    assert beat.state == before
    beat.cell_grid._handle_message(beat.cell_grid, {"event": "press", "row": 0, "column": 1}, [])
    assert beat.pattern[ROWS[0]][1] is True

    grid = CellGrid(rows=["a"], columns=3, values=[["off"] * 3], drag=True)
    presses: list[tuple[int, int]] = []
    grid.on_press(lambda row, column: presses.append((row, column)))
    grid.stroke([(0, 2), (0, 1)])  # with no on_stroke callback, each cell is a press
    assert presses == [(0, 2), (0, 1)]
    with pytest.raises(ValueError, match="There is no column 3"):
        grid.stroke([(0, 3)])


# ---------------------------------------------------------------- BeatMaker


def read_wav(data: bytes) -> tuple[int, int, int, int, bytes]:
    with wave.open(io.BytesIO(data), "rb") as sound:
        return (
            sound.getframerate(),
            sound.getnchannels(),
            sound.getsampwidth(),
            sound.getnframes(),
            sound.readframes(sound.getnframes()),
        )


@pytest.mark.parametrize(("tempo", "repeats"), [(60, 1), (120, 1), (97, 3), (180, 2)])
def test_beat_maker_plays_and_exports_a_wav_as_long_as_tempo_and_steps_say(
    workdir: Path, tempo: int, repeats: int
) -> None:
    beat = BeatMaker()
    for step in (0, 4, 8, 12):
        press_step(beat, "kick", step)
    press_step(beat, "hi-hat", 2)
    press_step(beat, "E", 6)
    beat.tempo.value, beat.repeats.value = tempo, repeats
    beat.sound.value = "buzzy"
    beat.play_button.click()
    save_with_button(beat.file_name, beat.export_button, "music/beat.wav")

    assert isinstance(beat.player, widgets.Audio) and beat.player.format == "wav" and not beat.player.autoplay
    expected_seconds = 16 * repeats * 60 / tempo / 4
    for data in (beat.player.value, (workdir / "music" / "beat.wav").read_bytes()):
        rate, channels, width, frames, pcm = read_wav(data)
        assert (rate, channels, width) == (22050, 1, 2)
        assert abs(frames / rate - expected_seconds) <= repeats / rate
        assert any(pcm[:4000]), "the kick on step 1 is heard at the start"
    assert beat.player.value == (workdir / "music" / "beat.wav").read_bytes()


def test_beat_maker_marks_steps_with_text_and_silence_is_silent() -> None:
    beat = BeatMaker()
    row = ROWS.index("snare")
    assert (shown_mark(beat.cell_grid, row, 4), beat.cell_grid.title(row, 4)) == ("·", "snare, step 5: off")
    press_step(beat, "snare", 4)
    assert (shown_mark(beat.cell_grid, row, 4), beat.cell_grid.title(row, 4)) == ("✓", "snare, step 5: on")
    assert beat.cell_grid.title(0, 0) == "note A, step 1: off"
    press_step(beat, "snare", 4)
    assert not beat.pattern["snare"][4], "pressing a step again turns it off"
    press_step(beat, "snare", 4)
    beat.clear_button.click()
    assert shown_mark(beat.cell_grid, row, 4) == "·" and not any(any(row) for row in beat.pattern.values())
    *_, pcm = read_wav(beat.to_wav())
    assert not any(pcm), "an empty grid makes silence"


def test_synth_loops_carry_sound_over_and_refuse_bad_input() -> None:
    pattern = {"kick": [False] * 15 + [True]}
    samples = synth.render_samples(pattern, 180, repeats=2)
    loop = synth.loop_frames(180, 16)
    assert len(samples) == 2 * loop
    assert not any(samples[:100]) and any(samples[loop : loop + 100]), "the last kick rings into the next loop"
    with pytest.raises(ValueError, match="Tempo"):
        synth.render_wav(pattern, 200)


# ---------------------------------------------------------------- StoryBuilder


def build_story() -> StoryBuilder:
    story = StoryBuilder()
    story.story_title.value = '"><img src=x onerror=alert(1)> The cave'
    story.scene_title.value = "At the gate"
    story.scene_text.value = "You stand at a gate. <script>alert('hi')</script> & a dog barks."
    story.add_choice_button.click()
    story.add_choice_button.click()
    first, second = (row.children[0] for row in story.choices_box.children)
    first.value = "Go into the <b>cave</b>"
    second.value = "Run home"
    story.scene_choice.value = "scene-2"
    story.scene_title.value = "In the cave"
    story.scene_text.value = "It is dark."
    story.scene_choice.value = "scene-3"
    story.scene_title.value = "Home"
    return story


def test_story_builder_plays_through_the_choices() -> None:
    story = build_story()
    story.play_button.click()
    assert story.playing == "scene-1"
    assert "&lt;script&gt;" in story.play_view.value and "<script" not in story.play_view.value
    assert [button.description for button in story.choice_buttons] == ["Go into the <b>cave</b>", "Run home"]
    story.choice_buttons[0].click()
    assert story.playing == "scene-2" and "In the cave" in story.play_view.value
    assert story.choice_buttons == [] and story.play_choices.children[-1].description == "The end. Play again"
    story.play_choices.children[-1].click()
    story.choice_buttons[1].click()
    assert story.playing == "scene-3"


def test_story_builder_exports_escaped_html_and_markdown_with_every_scene(workdir: Path) -> None:
    story = build_story()
    save_with_button(story.html_name, story.html_button, "story.html")
    save_with_button(story.markdown_name, story.markdown_button, "story.md")
    page = (workdir / "story.html").read_text(encoding="utf-8")
    markdown = (workdir / "story.md").read_text(encoding="utf-8")

    assert "<script" not in page.lower() and "<img" not in page.lower() and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt; &amp; a dog barks." in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt; The cave" in page
    assert '<a href="#scene-2">Go into the &lt;b&gt;cave&lt;/b&gt;</a>' in page
    assert 'id="scene-3"' in page and "Content-Security-Policy" in page
    for heading in ("## At the gate", "## In the cave", "## Home"):
        assert heading in markdown
    assert "- [Go into the &lt;b&gt;cave&lt;/b&gt;](#scene-2)" in markdown
    assert "- [Run home](#scene-3)" in markdown
    assert "<script" not in markdown


def test_story_builder_deleting_a_scene_removes_the_choices_that_led_there() -> None:
    story = build_story()
    story.scene_choice.value = "scene-2"
    story.delete_button.click()
    assert [scene["id"] for scene in story.story["scenes"]] == ["scene-1", "scene-3"]
    assert [choice["target"] for choice in story.scene("scene-1")["choices"]] == ["scene-3"]
    assert story.editing == "scene-1"


# ---------------------------------------------------------------- ChartMaker


def parks() -> pd.DataFrame:
    return pd.DataFrame(
        {"park": ["Elm", "Oak", "River", "Hill"], "visitors": [120, 85, 240, 60], "area": [1.5, 0.8, 3.2, 0.5]}
    )


@pytest.mark.parametrize("chart", ["bar", "line", "scatter"])
def test_chart_maker_exports_a_png(workdir: Path, chart: str) -> None:
    maker = ChartMaker(parks())
    before = maker.image.value
    maker.x.value, maker.y.value = "area", "visitors"
    maker.chart.value = chart
    maker.title.value = "Bigger parks, more visitors? Tickets: $x^$ each"  # '$' must not turn into maths
    save_with_button(maker.file_name, maker.export_button, "charts/parks.png")

    assert maker.status.value == f"Saved {os.path.join('charts', 'parks.png')} in your folder."
    assert maker.image.value and maker.image.value != before
    with Image.open(workdir / "charts" / "parks.png") as image:
        assert image.format == "PNG" and image.size == (640, 400)
    assert maker.about.value.startswith({"bar": "Bar chart", "line": "Line chart", "scatter": "Scatter plot"}[chart])
    assert "visitors (up the side) by area (across the bottom), 4 values, from 60 to 240" in maker.about.value


def test_chart_maker_draws_each_chart_type_differently() -> None:
    maker = ChartMaker(parks())
    drawn = set()
    for chart in ("bar", "line", "scatter"):
        maker.chart.value = chart
        drawn.add(maker.image.value)
        assert maker.image.value == maker.to_png()
    assert len(drawn) == 3


def test_chart_maker_explains_a_table_without_numbers() -> None:
    maker = ChartMaker(pd.DataFrame({"name": ["a", "b"]}))
    assert maker.y.options == () and maker.image.value == b""
    assert "needs a column of numbers" in maker.status.value
    with pytest.raises(ValueError, match="column of numbers"):
        maker.export_png("x.png")


# ---------------------------------------------------------------- DataCollector


def test_validate_entry_names_each_bad_field_and_says_what_to_do() -> None:
    row, errors = validate_entry(SPEC, {"street": "", "trees": "lots", "noise": "nan", "kind": "palm"})
    assert row == {}
    assert errors == {
        "street": "Street: this one is needed. Type some words of at most 40 letters.",
        "trees": "Trees you counted: 'lots' is not a whole number from 0 to 500. Type digits only, like 12.",
        "noise": "Noise level: type a number from 0 to 10.",
        "kind": "Most common tree: pick one of the choices in the list.",
    }
    _, errors = validate_entry(SPEC, {"street": "x" * 41, "trees": "501", "noise": "-1"})
    assert set(errors) == {"street", "trees", "noise"}
    assert errors["trees"].startswith("Trees you counted: '501' is out of range.")
    _, errors = validate_entry(SPEC, {"street": "x", "trees": "12.5"})
    assert errors == {
        "trees": "Trees you counted: '12.5' is not a whole number from 0 to 500. Type digits only, like 12."
    }
    row, errors = validate_entry(SPEC, {"street": " =SUM(A1) ", "trees": " 12 ", "noise": "3.5", "extra": "x"})
    assert errors == {}
    assert row == {"street": "'=SUM(A1)", "trees": 12, "noise": 3.5, "kind": ""}
    assert type(row["trees"]) is int and type(row["noise"]) is float


def test_data_collector_rejects_a_bad_entry_in_the_form_and_adds_a_good_one(workdir: Path) -> None:
    form = DataCollector(SPEC, "survey.csv")
    form.inputs["street"].value = "Mill Lane"
    form.inputs["trees"].value = "twelve"
    form.submit_button.click()
    assert form.errors["trees"].value.startswith("⚠ Trees you counted: 'twelve' is not a whole number")
    assert form.errors["street"].value == ""
    assert "Please fix 1 thing" in form.status.value and "Trees you counted" in form.status.value
    assert not (workdir / "survey.csv").exists()

    form.inputs["trees"].value = "12"
    form.inputs["kind"].value = "oak"
    form.submit_button.click()
    assert form.status.value == "Thank you! Your entry was added to survey.csv."
    assert form.errors["trees"].value == "" and form.inputs["street"].value == ""
    table = pd.read_csv(workdir / "survey.csv")
    assert list(table.columns) == ["street", "trees", "noise", "kind", "submitted_at"]
    assert table.loc[0, "street"] == "Mill Lane" and table.loc[0, "trees"] == 12 and table.loc[0, "kind"] == "oak"


def submit_from_another_process(csv_path: str, number: int, barrier: Any) -> None:
    form = DataCollector(SPEC, csv_path)
    form.inputs["street"].value = f'Street {number}, by the "old" mill'
    form.inputs["trees"].value = str(number)
    form.inputs["noise"].value = "2.5"
    barrier.wait(timeout=30)
    form.submit_button.click()
    if not form.status.value.startswith("Thank you"):
        raise SystemExit(form.status.value)


def test_twenty_students_submitting_at_once_leave_twenty_whole_rows(workdir: Path) -> None:
    context = multiprocessing.get_context("fork")  # the children need this test module's function
    barrier = context.Barrier(20)
    path = str(workdir / "group" / "survey.csv")
    (workdir / "group").mkdir()
    students = [context.Process(target=submit_from_another_process, args=(path, n, barrier)) for n in range(20)]
    for student in students:
        student.start()
    for student in students:
        student.join(timeout=60)
    assert [student.exitcode for student in students] == [0] * 20

    table = pd.read_csv(path)
    assert len(table) == 20
    assert sorted(table["trees"]) == list(range(20))
    assert set(table["street"]) == {f'Street {n}, by the "old" mill' for n in range(20)}
    assert (table["noise"] == 2.5).all()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 21 and lines.count(lines[0]) == 1
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o664), "the group can add to the file"


def test_append_row_from_many_threads_never_tears_a_long_row(workdir: Path) -> None:
    fieldnames = ["who", "text"]
    rows = [{"who": str(n), "text": chr(ord("a") + n) * 100_000} for n in range(20)]
    gate = threading.Barrier(20)

    def submit(row: dict[str, str]) -> None:
        gate.wait(timeout=30)
        append_row("long.csv", fieldnames, row)

    threads = [threading.Thread(target=submit, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with open(workdir / "long.csv", newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert sorted(read, key=lambda row: int(row["who"])) == rows


def test_append_row_waits_for_the_lock_on_the_csv(workdir: Path) -> None:
    append_row("data.csv", ["a"], {"a": "first"})
    with open(workdir / "data.csv", "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another writer is in the middle of its append
        writer = threading.Thread(target=append_row, args=("data.csv", ["a"], {"a": "second"}))
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive(), "append_row must wait while someone else holds the lock"
        assert (workdir / "data.csv").read_text(encoding="utf-8") == "a\nfirst\n"
    writer.join(timeout=10)
    assert (workdir / "data.csv").read_text(encoding="utf-8") == "a\nfirst\nsecond\n"


def test_append_row_refuses_a_different_header_and_a_symlink(workdir: Path, tmp_path: Path) -> None:
    append_row("data.csv", ["a", "b"], {"a": 1, "b": 2})
    with pytest.raises(ValueError, match="has the columns 'a,b', but this form writes 'a,c'"):
        append_row("data.csv", ["a", "c"], {"a": 1})
    with pytest.raises(ValueError, match="not columns"):
        append_row("data.csv", ["a", "b"], {"a": 1, "z": 2})
    outside = tmp_path / "outside.csv"
    outside.write_text("a,b\n", encoding="utf-8")
    os.symlink(outside, workdir / "link.csv")
    with pytest.raises(ValueError, match="shortcut"):
        append_row("link.csv", ["a", "b"], {"a": 1, "b": 2})
    assert outside.read_text(encoding="utf-8") == "a,b\n"
    assert (workdir / "data.csv").read_text(encoding="utf-8") == "a,b\n1,2\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40))
def test_any_typed_text_survives_the_trip_through_the_csv(workdir: Path, text: str) -> None:
    row, errors = validate_entry([{"name": "note", "type": "text"}], {"note": text})
    if not text.strip():
        assert row == {"note": ""} and errors == {}
        return
    assert errors == {}
    path = workdir / "notes.csv"
    path.unlink(missing_ok=True)
    append_row(path, ["note"], row)
    typed = text.strip()
    assert row == {"note": "'" + typed if typed[0] in "=+-@" else typed}
    with open(path, newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == [row]


# ---------------------------------------------------------------- ReflectionBox


def test_reflection_box_exports_markdown_and_comes_back_from_its_sidecar(workdir: Path) -> None:
    box = ReflectionBox(sidecar="reflection.json")
    box.answers["made"].value = "A beat about my street <3"
    box.answers["learned"].value = "Tempo is beats per minute."
    save_with_button(box.file_name, box.export_button, "reflection.md")
    text = (workdir / "reflection.md").read_text(encoding="utf-8")
    assert "## What I made\n\nA beat about my street &lt;3" in text
    assert "## What I would try next\n\n(not answered yet)" in text
    again = ReflectionBox(sidecar="reflection.json")
    assert again.answers["learned"].value == "Tempo is beats per minute."
    assert again.status.value == "Welcome back! Your work from reflection.json is loaded."


# ---------------------------------------------------------------- what every widget shares


def make_canvas() -> PixelCanvas:
    canvas = PixelCanvas(rows=6, columns=5)
    canvas.palette_buttons["orange"].click()
    canvas.cell_grid.press(1, 2)
    return canvas


def make_beat() -> BeatMaker:
    beat = BeatMaker(steps=8)
    press_step(beat, "G", 3)
    beat.tempo.value = 150
    return beat


def make_chart() -> ChartMaker:
    data = parks().assign(opened=pd.to_datetime(["2001-05-01", "1999-01-01", None, "2010-07-04"]))
    maker = ChartMaker(data)
    maker.chart.value, maker.title.value = "line", "Visitors"
    return maker


def make_form() -> DataCollector:
    form = DataCollector(SPEC, "survey.csv")
    form.inputs["street"].value = "half-typed"
    form.inputs["kind"].value = "pine"
    return form


def make_reflection() -> ReflectionBox:
    box = ReflectionBox()
    box.answers["next"].value = "Add a bass line"
    return box


MAKERS: dict[str, Callable[[], Any]] = {
    "pixel": make_canvas,
    "beat": make_beat,
    "story": build_story,
    "chart": make_chart,
    "data": make_form,
    "reflection": make_reflection,
}


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_state_round_trips_through_json(make: Callable[[], Any]) -> None:
    widget = make()
    state = json.loads(json.dumps(widget.state))
    assert state == widget.state
    restored = type(widget).from_state(state)
    assert restored.state == widget.state


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_save_to_and_load_from_a_sidecar(workdir: Path, make: Callable[[], Any]) -> None:
    widget = make()
    widget.save_to("saved/creation.json")
    assert type(widget).load_from("saved/creation.json").state == widget.state


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_load_state_refuses_another_widget_and_damaged_state(make: Callable[[], Any]) -> None:
    widget = make()
    state = widget.state
    with pytest.raises(StateError, match="Open it with the right widget"):
        widget.load_state(state | {"kind": "something_else"})
    damaged = {key: value for key, value in state.items() if key in ("kind", "version")} | {
        "spec": SPEC,
        "csv_path": "survey.csv",
    }
    with pytest.raises(ValueError):
        widget.load_state(damaged)


def corrupt_pixel(state: dict) -> None:
    state["cells"][-1][-1] = "no-such-colour"


def corrupt_beat(state: dict) -> None:
    state["steps"] = 16  # the rows still have 8 steps each


def corrupt_story(state: dict) -> None:
    state["scenes"][-1]["choices"] = [{"label": "Into the void", "target": "scene-99"}]


def corrupt_chart(state: dict) -> None:
    state["data"]["rows"][0][1] = 999
    state["y"] = "park"  # a column of names cannot go up the side


def corrupt_form(state: dict) -> None:
    state["draft"]["street"] = "another street"
    state["draft"]["kind"] = "palm"


def corrupt_reflection(state: dict) -> None:
    state["learned"] = 42


CORRUPTIONS = dict(
    zip(
        MAKERS,
        [corrupt_pixel, corrupt_beat, corrupt_story, corrupt_chart, corrupt_form, corrupt_reflection],
        strict=True,
    )
)


@pytest.mark.parametrize("name", MAKERS)
def test_a_bad_state_changes_nothing(name: str) -> None:
    widget = MAKERS[name]()
    before = widget.state
    bad = json.loads(json.dumps(before))
    CORRUPTIONS[name](bad)
    with pytest.raises(StateError):
        widget.load_state(bad)
    assert widget.state == before


def test_a_sidecar_keeps_the_creation_across_sessions_and_a_damaged_one_is_kept(workdir: Path) -> None:
    beat = BeatMaker(sidecar="beat.json")
    press_step(beat, "kick", 0)
    beat.tempo.value = 140
    again = BeatMaker(sidecar="beat.json")
    assert again.state == beat.state and again.tempo.value == 140

    (workdir / "art.json").write_text("{not json", encoding="utf-8")
    canvas = PixelCanvas(sidecar="art.json")
    assert "NOT saved automatically" in canvas.status.value
    canvas.cell_grid.press(0, 0)
    assert (workdir / "art.json").read_text(encoding="utf-8") == "{not json"


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_every_control_has_a_text_label(make: Callable[[], Any]) -> None:
    # Not Audio: a tooltip breaks its view in ipywidgets 8 (it reads a description Audio lacks).
    controls = (
        widgets.Button,
        widgets.ToggleButton,
        widgets.Dropdown,
        widgets.Text,
        widgets.Textarea,
        widgets.IntSlider,
        widgets.Checkbox,
        widgets.Image,
    )
    found = [control for control in descendants(make()) if isinstance(control, controls)]
    assert found
    unlabelled = [
        control
        for control in found
        if not (control.description if hasattr(control, "description") else "").strip()
        and not (control.tooltip or "").strip()
    ]
    assert unlabelled == []
    for grid in (control for control in descendants(make()) if isinstance(control, CellGrid)):
        assert grid.label.strip() and all(name.strip() for name in grid.rows)


EXPORTS: dict[str, tuple[Callable[[], Any], str, str]] = {
    "pixel": (make_canvas, "export_png", ".png"),
    "beat": (make_beat, "export_wav", ".wav"),
    "story-md": (build_story, "export_markdown", ".md"),
    "story-html": (build_story, "export_html", ".html"),
    "chart": (make_chart, "export_png", ".png"),
    "reflection": (make_reflection, "export_markdown", ".md"),
    "sidecar": (make_canvas, "save_to", ".json"),
}


@pytest.mark.parametrize(("make", "method", "suffix"), EXPORTS.values(), ids=EXPORTS.keys())
def test_exports_refuse_paths_that_leave_the_folder(
    workdir: Path, tmp_path: Path, make: Callable[[], Any], method: str, suffix: str
) -> None:
    export = getattr(make(), method)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / f"victim{suffix}").write_text("keep me", encoding="utf-8")
    os.symlink(outside, workdir / "shortcut")
    os.symlink(outside / f"victim{suffix}", workdir / f"link{suffix}")
    tricks = {
        f"../x{suffix}": "uses '..'",
        f"art/../../x{suffix}": "uses '..'",
        f"shortcut/x{suffix}": "shortcut",
        f"shortcut/victim{suffix}": "shortcut",
        f"link{suffix}": "shortcut",
        str(outside / f"x{suffix}"): "outside your folder",
        f".hidden{suffix}": "hidden name",
        "wrong.exe": f"must end in {suffix}",
        "": "Type a file name",
        "art/": f"must end in {suffix}",
        f"a\x00b{suffix}": "control character",
    }
    for path, message in tricks.items():
        with pytest.raises(ExportPathError, match=message):
            files.check_export_path(path, suffix=suffix)
        with pytest.raises(ExportPathError, match=message):
            export(path)
    assert isinstance(ExportPathError("x"), ValueError)
    assert sorted(os.listdir(outside)) == [f"victim{suffix}"]
    assert (outside / f"victim{suffix}").read_text(encoding="utf-8") == "keep me"
    assert sorted(os.listdir(workdir)) == [f"link{suffix}", "shortcut"], "nothing was written"
    assert export(str(workdir / "inside" / f"ok{suffix}")) == workdir / "inside" / f"ok{suffix}"


def test_the_writer_refuses_a_link_swapped_in_after_the_check(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.png").write_bytes(b"keep me")
    checked = files.check_export_path("art/x.png", suffix=".png")
    os.symlink(outside, workdir / "art")  # the race: a folder turns into a link after the check
    monkeypatch.setattr(files, "check_export_path", lambda path, **_: checked)
    with pytest.raises(ExportPathError, match="not a plain folder"):
        files.atomic_write("art/x.png", b"png", suffix=".png")
    os.symlink(outside / "victim.png", workdir / "x.png")
    monkeypatch.setattr(files, "check_export_path", lambda path, **_: workdir / "x.png")
    with pytest.raises(ExportPathError, match="shortcut"):
        files.atomic_write("x.png", b"png", suffix=".png")
    assert sorted(os.listdir(outside)) == ["victim.png"] and (outside / "victim.png").read_bytes() == b"keep me"


def test_a_failed_write_keeps_the_old_file_whole(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canvas = make_canvas()
    canvas.export_png("art.png")
    old = (workdir / "art.png").read_bytes()
    canvas.palette_buttons["black"].click()
    canvas.cell_grid.press(0, 0)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    save_with_button(canvas.file_name, canvas.export_button, "art.png")
    assert canvas.status.value == "Not saved: [Errno 28] No space left on device"
    assert (workdir / "art.png").read_bytes() == old
    assert os.listdir(workdir) == ["art.png"]


def test_an_export_keeps_the_permissions_of_the_file_it_replaces(workdir: Path) -> None:
    canvas = make_canvas()
    canvas.export_png("art.png")
    os.chmod(workdir / "art.png", 0o640)
    canvas.export_png("art.png")
    assert os.stat(workdir / "art.png").st_mode & 0o777 == 0o640


def test_the_grid_asks_for_the_installed_anywidget_front_end() -> None:
    from importlib.metadata import version

    from connected_learning.widgets.cell_grid import ANYWIDGET_VERSION

    major, minor = version("anywidget").split(".")[:2]
    assert ANYWIDGET_VERSION == f"~{major}.{minor}.*"


# ---------------------------------------------------------------- in a real kernel


class Kernel:
    """A real ipykernel, spoken to as JupyterLab does: execute requests and widget (comm) messages."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)
        self.iopub: list[dict[str, Any]] = []

    def run(self, code: str) -> str:
        """Run `code`; what it printed. Every message the kernel published meanwhile is kept in `iopub`."""
        request = self.client.execute(code)
        printed: list[str] = []
        while True:  # every message until this request's "idle", whichever request it answers
            message = self.client.get_iopub_msg(timeout=120)
            self.iopub.append(message)
            mine = message["parent_header"].get("msg_id") == request
            if mine and message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            assert not (mine and message["msg_type"] == "error"), message["content"]
            if mine and message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return "".join(printed)

    def send_to_widget(self, comm_id: str, content: Any) -> None:
        """What a widget's view does with `model.send(content)` in the browser."""
        data = {"method": "custom", "content": content}
        self.client.shell_channel.send(self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))

    def updates_to(self, comm_id: str) -> list[dict[str, Any]]:
        """The state updates the kernel sent to the browser for one widget."""
        return [
            message["content"]["data"]["state"]
            for message in self.iopub
            if message["msg_type"] == "comm_msg"
            and message["content"]["comm_id"] == comm_id
            and message["content"]["data"].get("method") == "update"
        ]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel(workdir: Path) -> Iterator[Kernel]:
    started = Kernel(workdir)
    yield started
    started.close()


def test_in_a_kernel_a_drag_arrives_in_batches_and_bad_strokes_leave_the_drawing_alone(kernel: Kernel) -> None:
    grid_id = kernel.run(
        "import json\n"
        "from connected_learning.widgets import PixelCanvas\n"
        "canvas = PixelCanvas(rows=4, columns=6, sidecar='art.json')\n"
        "canvas.choose('red')\n"
        "print(canvas.cell_grid.comm.comm_id)"
    ).strip()
    kernel.iopub.clear()
    # What the browser sends for one drag along row 2: the first square at once, then the rest.
    kernel.send_to_widget(grid_id, {"event": "stroke", "start": True, "cells": [[1, 0]]})
    kernel.send_to_widget(grid_id, {"event": "stroke", "start": False, "cells": [[1, c] for c in range(1, 6)]})
    for bad in (
        {"event": "stroke", "start": True, "cells": [[7, 0]]},
        {"event": "stroke", "start": True, "cells": [[0, "1"]]},
        {"event": "stroke", "start": True, "cells": [[0, 0]] * 200_000},
        {"event": "stroke", "start": 1, "cells": [[0, 0]]},
        {"event": "stroke", "cells": None},
    ):
        kernel.send_to_widget(grid_id, bad)
    drawn = json.loads(kernel.run("print(json.dumps(canvas.grid))"))
    assert drawn[1] == ["red"] * 6 and all(name == "white" for r in (0, 2, 3) for name in drawn[r])
    assert len(kernel.updates_to(grid_id)) == 2, "one update of the squares per batch, none for a bad one"
    assert kernel.updates_to(grid_id)[-1]["values"][1] == ["red"] * 6

    kernel.run("canvas.undo()")
    assert json.loads(kernel.run("print(json.dumps(canvas.grid))"))[1] == ["white"] * 6, "the drag is one step"
    kernel.run("canvas.use_tool('fill'); canvas.choose('blue')")
    kernel.send_to_widget(grid_id, {"event": "press", "row": 3, "column": 5})  # Enter on a square
    drawn = json.loads(kernel.run("print(json.dumps(canvas.grid))"))
    assert all(name == "blue" for line in drawn for name in line)
    assert json.loads(Path("art.json").read_text())["cells"] == drawn, "the sidecar keeps the fill"


def test_a_sidecar_nested_thousands_deep_is_refused_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    deep = "[" * 100_000 + "]" * 100_000
    Path("my_pixel_art.json").write_text(deep)
    canvas = PixelCanvas(4, 4, sidecar="my_pixel_art.json")
    assert "nested too deep" in canvas.status.value  # a message, not a crash of the cell
    assert Path("my_pixel_art.json").read_text() == deep  # the file is kept as it was
