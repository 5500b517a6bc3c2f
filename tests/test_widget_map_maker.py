"""MapMaker, driven as a learner drives it, checked by the PNG it saves (opened with Pillow).

Ground is painted with presses and drags on the squares (the messages the browser sends),
places and routes are added with the text boxes and buttons, renamed and removed; the saved
PNG must show the painted ground colours at those squares, each route's colour along its
path, the numbered places and the key. Then the saved state: round trip, damaged, edited
and huge sidecars, squares off the map, tricky export names, and the labels in Spanish.
The last test runs a notebook that uses the widget with nbclient and opens the showcase's
static page in Chromium with JavaScript off: the map's picture must be on it.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from PIL import Image
from playwright.sync_api import expect

from axe import assert_accessible
from conftest import REPO
from connected_learning.showcase.render import render_page
from connected_learning.widgets import ExportPathError, MapMaker, StateError, set_language
from connected_learning.widgets.base import LIVE_SHOWCASE_ENV
from connected_learning.widgets.map_drawing import GROUNDS, MAX_PLACES, ROUTE_COLOURS
from pieces import executed_piece, phone_page, write_notebook
from voila import voila_page_url
from widget_tree import descendants

SCALE = 24
MARGIN = 8
TITLE = 26  # the title line above the map


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def square_pixel(row: int, column: int, titled: bool = True) -> tuple[int, int]:
    """A pixel inside a square (rows and columns from 1), away from its letter, its edge and its centre."""
    top = MARGIN + (TITLE if titled else 0)
    return MARGIN + (column - 1) * SCALE + SCALE * 3 // 4, top + (row - 1) * SCALE + SCALE * 3 // 4


def centre_pixel(row: int, column: int, titled: bool = True) -> tuple[int, int]:
    top = MARGIN + (TITLE if titled else 0)
    return MARGIN + (column - 1) * SCALE + SCALE // 2, top + (row - 1) * SCALE + SCALE // 2


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test runs in a fresh learner folder, in English."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.delenv(LIVE_SHOWCASE_ENV, raising=False)
    set_language("en")
    yield home
    set_language("en")


def stroke(town: MapMaker, cells: list[list[int]], start: bool) -> None:
    """One batch of a drag across the squares (counted from 0), as the browser sends it."""
    town.cell_grid._handle_message(town.cell_grid, {"event": "stroke", "start": start, "cells": cells}, [])


def choose_tool(town: MapMaker, tool: str) -> None:
    """A press on one of the tool buttons, as the browser sends it."""
    town.tool_choice._handle_message(town.tool_choice, {"event": "choose", "value": tool}, [])


def drawn_town(sidecar: str | None = "town.json") -> MapMaker:
    """A 8 x 10 map made with presses and buttons only: water, a road, two places, a route."""
    town = MapMaker(rows=8, columns=10, title="Made-up town", sidecar=sidecar)
    town.ground_buttons["water"].click()
    town.cell_grid.press(0, 0)  # row 1, column 1
    town.cell_grid.press(0, 1)
    town.ground_buttons["road"].click()
    stroke(town, [[3, 0], [3, 1], [3, 2]], True)  # row 4, columns 1 to 3, then on
    stroke(town, [[3, 3], [3, 4], [3, 5], [3, 6], [3, 7], [3, 8], [3, 9]], False)
    choose_tool(town, "place")
    town.place_name.value = "Library"
    town.place_kind.value = "library"
    town.cell_grid.press(1, 7)  # row 2, column 8
    town.place_name.value = "Clinic"
    town.place_kind.value = "clinic"
    town.row_choice.value, town.column_choice.value = 7, 2
    town.use_button.click()  # row 7, column 2, without entering the grid
    choose_tool(town, "route")
    town.route_name.value = "Safe walk"
    town.new_route_button.click()
    town.cell_grid.press(6, 1)  # the clinic
    stroke(town, [[5, 1], [4, 1], [3, 1]], True)  # up to the road: one straight line
    stroke(town, [[3, 2], [3, 3], [3, 4], [3, 5], [3, 6], [3, 7]], False)  # along the road
    town.cell_grid.press(2, 7)
    town.cell_grid.press(1, 7)  # the library
    return town


# ------------------------------------------------------------------------ making a map


def test_a_map_made_with_presses_and_buttons_saves_a_png_with_its_ground_routes_places_and_key(workdir: Path) -> None:
    town = drawn_town()
    assert town.map.routes[0].stops == [(7, 2), (4, 2), (4, 8), (2, 8)]  # a drag along a line is one stop
    assert town.route_length("Safe walk") == 11.0
    assert [p.name for p in town.map.places] == ["Library", "Clinic"]

    town.file_name.value = "maps/town.png"
    town.export_button.click()
    assert town.status.value.startswith("Saved maps/town.png"), town.status.value
    data = (workdir / "maps" / "town.png").read_bytes()
    assert data == town.picture.value  # the picture in the notebook is the saved map
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.width == 360  # the map is 256 pixels wide; the key needs at least 360
        height_of_map = MARGIN + TITLE + 8 * SCALE
        assert image.height > height_of_map + 3 * 20  # the key sits under the map
        picture = image.convert("RGB")
        assert picture.getpixel(square_pixel(1, 1)) == rgb(GROUNDS["water"])
        assert picture.getpixel(square_pixel(1, 2)) == rgb(GROUNDS["water"])
        assert picture.getpixel(square_pixel(1, 3)) == rgb(GROUNDS["empty"])
        assert picture.getpixel(square_pixel(4, 10)) == rgb(GROUNDS["road"])
        red = rgb(ROUTE_COLOURS[0][1])
        # Along the route, between its stops ((4, 5), halfway, carries the route's letter).
        for square in [(5, 2), (6, 2), (4, 4), (4, 6), (4, 7), (3, 8)]:
            assert picture.getpixel(centre_pixel(*square)) == red, square
        assert picture.getpixel(centre_pixel(4, 10)) != red  # the road goes on; the route does not
        x, y = centre_pixel(4, 5)
        letter = [picture.getpixel((x + dx, y + dy)) for dx in range(-3, 4) for dy in range(-3, 4)]
        assert picture.getpixel((x - 6, y - 6)) == red and any(p != red for p in letter)  # the letter A
        # A numbered marker (a white disc, black ring) on each place.
        x, y = centre_pixel(2, 8)
        assert picture.getpixel((x + 5, y + 5)) == (255, 255, 255)
        ring = [picture.getpixel((x + dx, y)) for dx in range(8, 12)]
        assert (0, 0, 0) in ring
        # The key: the route's tag and a marker, in the rows under the map.
        key = picture.crop((0, height_of_map + 10, picture.width, picture.height))
        colours = {colour for _, colour in key.getcolors(maxcolors=100_000) or []}
        assert red in colours and rgb(GROUNDS["water"]) in colours and rgb(GROUNDS["road"]) in colours
        assert (0, 0, 0) in colours  # the words

    words = town.describe()
    assert "Place 1: Library (library), row 2, column 8." in words
    assert "Place 2: Clinic (clinic), row 7, column 2." in words
    assert "Route A: Safe walk, from row 7, column 2 to row 2, column 8: 11 squares, about 110 metres." in words
    assert "Safe walk" in town.key_list.value and "11 squares" in town.key_list.value
    # The squares say what they are in words; colour is never the only cue.
    assert town.cell_grid.title(0, 0) == "Row 1, column 1: water"
    assert town.cell_grid.marks[town.cell_grid.get(0, 0)] == "W"
    assert town.cell_grid.title(1, 7).endswith("empty, place 1: Library")
    assert town.cell_grid.marks[town.cell_grid.get(1, 7)] == "1"
    assert town.cell_grid.marks[town.cell_grid.get(3, 4)] == "•A"  # on the route
    assert town.ground_buttons["road"].description == "✓ R road"


def test_rename_remove_and_the_scale_change_the_map_and_its_words() -> None:
    town = drawn_town(sidecar=None)
    town.item_choice.value = "place:0"
    town.new_name.value = "  Town   library "
    town.rename_button.click()
    assert town.map.places[0].name == "Town library" and town.status.value == "Renamed to Town library."
    assert town.item_choice.options[0] == ("1. Town library", "place:0")
    town.item_choice.value = "route:0"
    town.new_name.value = "Walk to the library"
    town.rename_button.click()
    assert "Route A: Walk to the library" in town.describe()
    town.scale_box.value = 50
    assert "11 squares, about 550 metres" in town.describe()
    town.title_box.value = "Our   town"
    assert town.map.title == "Our town"

    town.item_choice.value = "place:1"
    town.new_name.value = "town LIBRARY"
    town.rename_button.click()  # two places may not share a name
    assert "already a place called" in town.status.value and town.map.places[1].name == "Clinic"
    before = town.picture.value
    town.item_choice.value = "place:0"
    town.remove_button.click()
    assert [p.name for p in town.map.places] == ["Clinic"] and town.status.value == "Removed Town library."
    assert town.picture.value != before
    town.item_choice.value = "route:0"
    town.remove_button.click()
    assert town.map.routes == [] and "No routes yet." in town.describe()
    town.item_choice.value = "place:0"
    town.remove_button.click()
    assert town.item_choice.options == () and town.item_choice.value is None
    town.remove_button.click()
    assert town.status.value == "There is nothing to remove yet."


def test_routes_from_code_take_place_names_and_measure_straight_lines() -> None:
    town = MapMaker(rows=10, columns=10)
    town.add_place("Park", "park", row=5, column=5)
    assert town.add_route("Corner walk", [(1, 1), (1, 5), "park"]) == "A"
    assert town.route_length("Corner walk") == 8.0
    assert town.add_route("Short cut", [(1, 1), (4, 5)]) == "B"
    assert town.route_length("short cut") == 5.0  # a 3-4-5 triangle
    with pytest.raises(StateError, match="no place or route called 'School'"):
        town.add_route("To school", ["School"])
    with pytest.raises(StateError, match="is a route, not a place"):
        town.add_route("Again", ["Short cut"])
    with pytest.raises(StateError, match="at least one stop"):
        town.add_route("Nowhere", [])
    # A learner's next route press starts their own route, not the workbook's.
    choose_tool(town, "route")
    town.cell_grid.press(9, 9)
    assert len(town.map.routes) == 3 and town.map.routes[2].name == "Route C"
    town.take_back_stop()
    assert len(town.map.routes) == 2
    town.take_back_stop()
    assert town.status.value.startswith("There is no route being drawn.")


def test_mistakes_are_messages_in_words_not_crashes() -> None:
    town = MapMaker(rows=4, columns=4)
    choose_tool(town, "place")
    town.place_name.value = "   "
    town.cell_grid.press(0, 0)
    assert town.status.value == "Type a place name first." and town.map.places == []
    town.place_name.value = "Shop"
    town.place_kind.value = "shop"
    town.cell_grid.press(0, 0)
    town.place_name.value = "Other shop"
    town.cell_grid.press(0, 0)
    assert town.status.value == "Shop is already on that square. Pick another square."
    town.place_name.value = "x" * 41
    town.cell_grid.press(1, 1)
    assert "too long" in town.status.value and len(town.map.places) == 1
    town.title_box.value = "t" * 200
    assert "too long" in town.status.value and town.map.title == "My map"
    with pytest.raises(ValueError, match="not a ground"):
        town.choose_ground("lava")
    with pytest.raises(ValueError, match="not a tool"):
        town.use_tool("eraser")


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [(0, 1, "no row 0"), (5, 1, "no row 5"), (1, 5, "no column 5"), (1, -1, "no column -1"), (True, 1, "no row True")],
)
def test_squares_off_the_map_are_refused(row: Any, column: Any, message: str) -> None:
    town = MapMaker(rows=4, columns=4)
    with pytest.raises(StateError, match=message):
        town.add_place("Shop", "shop", row, column)
    with pytest.raises(StateError, match=message):
        town.paint(row, column, "grass")
    with pytest.raises(StateError, match=message):
        town.add_route("Walk", [(1, 1), (row, column)])
    assert town.map.places == [] and town.map.routes == []
    assert all(ground == "empty" for line in town.map.ground for ground in line)


def test_too_many_places_and_routes_are_refused_in_words() -> None:
    town = MapMaker(rows=30, columns=30)
    for number in range(MAX_PLACES):
        town.add_place(f"Place {number}", "other", number // 30 + 1, number % 30 + 1)
    with pytest.raises(StateError, match=f"room for {MAX_PLACES} places"):
        town.add_place("One more", "other", 20, 20)
    for number in range(len(ROUTE_COLOURS)):
        town.add_route(f"Route {number}", [(10, 1), (10, number + 2)])
    choose_tool(town, "route")
    town.cell_grid.press(25, 25)
    assert "room for 8 routes" in town.status.value


# ------------------------------------------------------------------------ saved state


def test_state_round_trip_and_the_sidecar_brings_the_map_back(workdir: Path) -> None:
    town = drawn_town()
    state = town.state
    assert json.loads(json.dumps(state)) == state
    assert MapMaker.from_state(state).state == state
    assert json.loads((workdir / "town.json").read_text(encoding="utf-8")) == state
    again = MapMaker(sidecar="town.json")
    assert again.state == state
    assert again.status.value == "Welcome back! Your work from town.json is loaded."
    assert again.picture.value == town.picture.value and again.title_box.value == "Made-up town"
    assert (again.map.rows, again.map.columns, len(again.cell_grid.rows)) == (8, 10, 8)
    # load_state into a map of another size reshapes it.
    small = MapMaker(rows=3, columns=3)
    small.load_state(state)
    assert small.state == state and small.cell_grid.columns == 10 and len(small.row_choice.options) == 8


def test_a_new_map_is_saved_at_once_and_a_family_live_page_saves_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    MapMaker(sidecar="fresh.json")
    assert json.loads((workdir / "fresh.json").read_text(encoding="utf-8"))["kind"] == "map_maker"
    monkeypatch.setenv(LIVE_SHOWCASE_ENV, "1")
    live = MapMaker(sidecar="live.json")
    assert not (workdir / "live.json").exists()
    export = next(
        box for box in descendants(live) if isinstance(box, widgets.HBox) and live.export_button in box.children
    )
    assert export.layout.display == "none"


def corruptions() -> list[tuple[str, Any]]:
    def edit(path: str, value: Any) -> tuple[str, Any]:
        return path, value

    return [
        edit("rows", 10**9),
        edit("rows", "8"),
        edit("columns", 0),
        edit("title", "x" * 5000),
        edit("title", 42),
        edit("metres_per_square", -5),
        edit("ground", [["grass"] * 10] * 7),
        edit("ground", [["lava"] * 10] * 8),
        edit("ground", [[{"a": 1}] * 10] * 8),
        edit("places", [{"name": "A", "kind": "shop", "row": 99, "column": 1}]),
        edit("places", [{"name": "A", "kind": "castle", "row": 1, "column": 1}]),
        edit("places", [{"name": "", "kind": "shop", "row": 1, "column": 1}]),
        edit("places", [{"name": "A\x00", "kind": "shop", "row": 1, "column": 1}]),
        edit("places", [{"name": f"P{i}", "kind": "shop", "row": 1, "column": 1 + i % 9} for i in range(500)]),
        edit(
            "places",
            [
                {"name": "A", "kind": "shop", "row": 1, "column": 1},
                {"name": "B", "kind": "shop", "row": 1, "column": 1},
            ],
        ),
        edit(
            "places",
            [
                {"name": "A", "kind": "shop", "row": 1, "column": 1},
                {"name": "a", "kind": "shop", "row": 2, "column": 1},
            ],
        ),
        edit("places", "everywhere"),
        edit("routes", [{"name": "R", "stops": []}]),
        edit("routes", [{"name": "R", "stops": [[1, 1]] * 100_000}]),
        edit("routes", [{"name": "R", "stops": [[1, 1], [1, 99]]}]),
        edit("routes", [{"name": "R", "stops": [[1, 1, 1]]}]),
        edit("routes", [{"name": "R", "stops": [1, 1]}]),
        edit("routes", [{"name": "R", "stops": [[1, 1]]}] * 9),
        edit("routes", [{"stops": [[1, 1]]}]),
        edit("kind", "pixel_canvas"),
        edit("version", 99),
    ]


@pytest.mark.parametrize(("key", "value"), corruptions(), ids=[f"{k}-{i}" for i, (k, _) in enumerate(corruptions())])
def test_an_edited_saved_map_is_refused_and_the_map_on_screen_stays(key: str, value: Any) -> None:
    town = drawn_town(sidecar=None)
    before = town.state
    state = json.loads(json.dumps(before))
    state[key] = value
    with pytest.raises(StateError):
        town.load_state(state)
    assert town.state == before


def test_a_damaged_or_huge_sidecar_is_kept_and_not_overwritten(workdir: Path) -> None:
    (workdir / "town.json").write_text("{not json", encoding="utf-8")
    town = MapMaker(sidecar="town.json")
    assert "NOT saved automatically" in town.status.value
    town.paint(1, 1, "grass")
    assert (workdir / "town.json").read_text(encoding="utf-8") == "{not json"

    edited = drawn_town(sidecar=None).state
    edited["places"][0]["row"] = 1000
    (workdir / "edited.json").write_text(json.dumps(edited), encoding="utf-8")
    town = MapMaker(sidecar="edited.json")
    assert "no row 1000" in town.status.value and town.map.places == []
    assert json.loads((workdir / "edited.json").read_text(encoding="utf-8")) == edited

    huge = workdir / "huge.json"
    huge.write_bytes(b'{"kind": "map_maker", "pad": "' + b"x" * (9 * 1024 * 1024) + b'"}')
    town = MapMaker(sidecar="huge.json")
    assert "bigger than 8 MB" in town.status.value
    with pytest.raises(StateError, match="bigger than 8 MB"):
        MapMaker.load_from("huge.json")
    assert huge.stat().st_size > 9 * 1024 * 1024


# ------------------------------------------------------------------------ where it saves


@pytest.mark.parametrize(
    "name", ["../x.png", "/etc/x.png", "maps/../../x.png", ".hidden.png", "map.txt", "", "a\nb.png"]
)
def test_tricky_png_names_are_refused(workdir: Path, name: str) -> None:
    town = MapMaker(rows=3, columns=3)
    with pytest.raises(ExportPathError):
        town.export_png(name)
    town.file_name.value = name
    town.export_button.click()
    assert town.status.value.startswith("Not saved:")
    assert not (workdir.parent / "x.png").exists() and list(workdir.iterdir()) == []


def test_a_png_name_through_a_symlink_is_refused(workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (workdir / "maps").symlink_to(outside)
    (workdir / "map.png").symlink_to(outside / "target.png")
    town = MapMaker(rows=3, columns=3)
    for name in ("maps/x.png", "map.png"):
        with pytest.raises(ExportPathError, match="shortcut"):
            town.export_png(name)
    assert list(outside.iterdir()) == []
    town.export_png("real.png")  # the control: a plain name is saved
    assert (workdir / "real.png").is_file()


# ------------------------------------------------------------------------ Spanish


def test_the_labels_speak_spanish_after_set_language() -> None:
    set_language("es")
    town = MapMaker(rows=4, columns=4)
    assert town.new_route_button.description == "Empezar una ruta nueva"
    assert town.ground_buttons["grass"].description == "✓ C césped"
    assert town.ground_buttons["water"].description == "A agua"
    assert [text for _, text, _ in town.tool_choice.options] == ["Pintar terreno", "Poner un lugar", "Dibujar una ruta"]
    assert town.title_box.value == "Mi mapa" and town.cell_grid.rows[0] == "Fila 1"
    assert ("biblioteca", "library") in town.place_kind.options
    town.add_place("Biblioteca", "library", 1, 1)
    town.add_route("Mi camino", [(4, 1), (4, 4)])
    words = town.describe()
    assert "Lugar 1: Biblioteca (biblioteca), fila 1, columna 1." in words
    assert "3 cuadros, unos 30 metros" in words
    assert town.cell_grid.title(0, 0) == "Fila 1, columna 1: vacío, lugar 1: Biblioteca"
    choose_tool(town, "place")
    town.cell_grid.press(1, 1)
    assert town.status.value == "Primero escribe esto: nombre del lugar."
    set_language("en")
    assert MapMaker(rows=2, columns=2).new_route_button.description == "Start a new route"


# ------------------------------------------------------------------------ the showcase

NOTEBOOK_CODE = """\
from connected_learning.widgets import MapMaker
town = MapMaker(rows=8, columns=10, title="Safe walks", sidecar="my_map.json")
town.paint_area(4, 1, 4, 10, "road")
town.paint_area(1, 1, 2, 3, "water")
town.add_place("Library", "library", 2, 8)
town.add_route("Safe walk", [(7, 2), (4, 2), (4, 8), "Library"])
town
"""


@pytest.mark.browser
@pytest.mark.integration
def test_the_static_showcase_page_shows_the_map_with_javascript_off(
    browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "piece"
    folder.mkdir()
    write_notebook(folder / "map.ipynb", "# My safe walks map", NOTEBOOK_CODE)
    snapshot = executed_piece(folder, "map.ipynb", ["my_map.json"], tmp_path / "jupyter")
    page_file = tmp_path / "showcase.html"
    page_file.write_text(render_page(snapshot, title="My map", author_display="Ana G."), encoding="utf-8")
    expected = MapMaker.from_state(json.loads((folder / "my_map.json").read_bytes())).to_png()

    with phone_page(browser, page_file) as phone:
        sources = phone.eval_on_selector_all("img", "images => images.map(i => i.src)")
        pictures = [base64.b64decode(src.split(",", 1)[1]) for src in sources if src.startswith("data:image/png")]
        assert expected in pictures, f"{len(pictures)} PNG pictures on the page, none is the map"
        with Image.open(io.BytesIO(expected)) as image:
            picture = image.convert("RGB")
            assert picture.getpixel(square_pixel(4, 10)) == rgb(GROUNDS["road"])
            assert picture.getpixel(square_pixel(1, 1)) == rgb(GROUNDS["water"])
            assert picture.getpixel(centre_pixel(4, 4)) == rgb(ROUTE_COLOURS[0][1])
        where = [
            i
            for i, src in enumerate(sources)
            if src.startswith("data:image/png") and base64.b64decode(src.split(",", 1)[1]) == expected
        ]
        shown = phone.locator("img").nth(where[0])
        box = shown.bounding_box()
        assert box is not None and box["width"] > 200 and box["x"] + box["width"] <= 390
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        shown.scroll_into_view_if_needed()
        phone.screenshot(path=str(artifacts / "showcase-map.png"), full_page=True)


def test_painting_from_letters_checks_every_letter_before_painting() -> None:
    town = MapMaker(rows=3, columns=4)
    letters = {"g": "grass", "r": "road", "w": "water"}
    with pytest.raises(ValueError, match="Row 2, column 3: the letter 'x' is not in your list"):
        town.paint_from_letters(["gggg", "rrxr"], letters)
    assert all(ground == "empty" for line in town.map.ground for ground in line)
    with pytest.raises(ValueError, match="bigger than the map"):
        town.paint_from_letters(["ggggg"], letters)
    town.paint_from_letters(["gg", "rrrr", "w"], letters)
    assert [town.ground_at(1, c) for c in range(1, 5)] == ["grass", "grass", "empty", "empty"]
    assert town.ground_at(2, 4) == "road" and town.ground_at(3, 1) == "water" and town.ground_at(3, 2) == "empty"


def test_every_control_says_what_it_does_in_words_and_buttons_fit_their_words() -> None:
    town = drawn_town(sidecar=None)
    controls = (widgets.Button, widgets.Dropdown, widgets.Text, widgets.BoundedIntText, widgets.Image)
    found = [control for control in descendants(town) if isinstance(control, controls)]
    assert len(found) > 20
    # The picture's tooltip is the <img>'s title: ipywidgets 8 shows it only with an empty description.
    assert town.picture.tooltip and town.picture.description == "" and "Safe walk" in town.key_list.value
    unlabelled = [
        c for c in found if not (getattr(c, "description", "") or "").strip() and not (c.tooltip or "").strip()
    ]
    assert unlabelled == []
    buttons = [control for control in found if isinstance(control, widgets.Button)]
    assert all(button.layout.width == "auto" for button in buttons), [b.description for b in buttons]
    assert town.cell_grid.label == "Map squares" and town.tool_choice.label == "Pressing a square will"
    assert all(button.description.split()[-1] in GROUNDS for button in town.ground_buttons.values())


@pytest.mark.browser
@pytest.mark.integration
def test_the_safe_routes_workbook_in_voila_with_the_keyboard(browser: Any, artifacts: Path, tmp_path: Path) -> None:
    folder = tmp_path / "safe-routes-map"
    shutil.copytree(REPO / "workbooks" / "community" / "safe-routes-map", folder)
    with voila_page_url(folder, "safe-routes-map.ipynb", tmp_path / "jupyter") as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, timeout=120_000)
        squares = page.get_by_role("grid", name="Map squares").first
        expect(squares.get_by_role("button", name="Row 6, column 1: road", exact=True)).to_be_visible(timeout=120_000)
        # Keyboard only: Enter on the water button, then arrows and Enter in the grid.
        page.get_by_role("button", name=re.compile(r"^(✓ )?W water$")).first.focus()
        page.keyboard.press("Enter")
        squares.locator("button[tabindex='0']").focus()  # the grid is one tab stop: Row 1, column 1
        for key in ("ArrowDown", "ArrowDown", "ArrowRight", "Enter"):
            page.keyboard.press(key)
        expect(squares.get_by_role("button", name="Row 3, column 2: water", exact=True)).to_be_visible(timeout=60_000)
        # A place (the fifth: the workbook put four on the map): the tool, its name typed, then Space on its square.
        page.get_by_role("button", name="Add a place").first.focus()
        page.keyboard.press("Enter")
        page.get_by_role("textbox", name="Place name:").first.fill("Youth club")
        page.keyboard.press("Tab")
        squares.locator("button[tabindex='0']").focus()  # back where the keyboard left it: row 3, column 2
        for key in ("ArrowDown", "ArrowDown", "ArrowRight", "Space"):
            page.keyboard.press(key)
        expect(squares.get_by_role("button", name="Row 5, column 3: empty, place 5: Youth club")).to_be_visible(
            timeout=60_000
        )
        expect(page.get_by_text("Place 5: Youth club (other), row 5, column 3.").first).to_be_visible()
        assert page.locator("text=Traceback").count() == 0
        assert page.locator(".jupyter-widgets-error-widget").count() == 0  # every view could be drawn
        expect(page.get_by_role("img", name="Your map as a picture, with its key").first).to_be_visible()
        saved = json.loads((folder / "my_town.json").read_text(encoding="utf-8"))
        assert saved["ground"][2][1] == "water"
        assert {"name": "Youth club", "kind": "other", "row": 5, "column": 3} in saved["places"]
        page.get_by_role("grid", name="Map squares").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "map-maker-voila.png"), full_page=False)
        assert_accessible(page, "map-maker-voila")
        page.close()
