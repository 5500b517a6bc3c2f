"""MapMaker: a drawn map on a grid of squares, with named ground, numbered places and lettered routes.

    from connected_learning.widgets import MapMaker
    town = MapMaker(rows=12, columns=16, title="Our made-up town", sidecar="my_map.json")
    town.paint_area(6, 1, 6, 16, "road")
    town.add_place("Library", "library", row=3, column=5)
    town.add_route("My walk to the library", [(6, 1), (6, 5), "Library"])
    town

The squares are one `CellGrid` (see `cell_grid.py`), as in the pixel canvas. What pressing a
square does is chosen with three buttons in words (a `ToolChoice`): "Paint ground" paints it
(or every square a drag crosses) with the chosen ground; "Add a place" puts the place typed
in "Place name" there, with its kind; "Draw a route" adds the square as the next stop of the
route being drawn. Each ground has a colour AND a letter (shown in every square and in the
picture), each place a number, each route a letter, so colour is never the only cue. The
controls come before the grid so a keyboard user meets them first; "Use on this square"
uses the tool by row and column without entering the grid.

After every change the map is drawn as one PNG (map_drawing.py) in an `ipywidgets.Image`,
so the notebook's saved widget state, and the showcase's static page, hold the picture; a
list in words under it names every place and route with its length in squares and metres.
The public methods count rows and columns from 1, as the learner sees them. State and the
sidecar: see `map_drawing.MapData.dump` and base.py.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from connected_learning.widgets.base import (
    WIDE,
    CreationState,
    SharedModels,
    StateError,
    TitledImage,
    export_row,
    make_status,
)
from connected_learning.widgets.cell_grid import CellGrid
from connected_learning.widgets.contrast import text_colour
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import _, t
from connected_learning.widgets.map_drawing import (
    GROUNDS,
    KINDS,
    MAX_PLACES,
    MAX_ROUTES,
    MAX_STOPS,
    MapData,
    Place,
    Route,
    check_map,
    check_metres,
    check_name,
    describe,
    ground_marks,
    ground_words,
    kind_words,
    route_length,
    route_letter,
    square_values,
    to_png,
)
from connected_learning.widgets.tool_choice import ToolChoice

__all__ = ["MapMaker"]

TOOLS = ("ground", "place", "route")
Square = tuple[int, int]


def _help() -> str:
    return _(
        "<b>Map maker</b>: choose what pressing a square does. "
        "<b>Paint ground</b>: pick a ground, like grass or road, then press squares or drag across them. "
        "<b>Add a place</b>: type its name, pick its kind, then press its square. "
        "<b>Draw a route</b>: press the squares it goes through, in order. "
        "With the keyboard: in the squares, arrows move and Enter or Space uses the tool. "
        "<br><b>Stay safe:</b> map made-up or public places. Never put your home address, "
        "or where you live, on a map you share."
    )


class MapMaker(CreationState, widgets.VBox):
    """A map to draw: ground on squares, numbered places, lettered routes; a PNG with a key.

    Args:
        rows, columns: size of the map in squares, 1 to 30 each (12 x 16 by default).
        title: the map's title, drawn above it (at most 60 letters).
        metres_per_square: the scale: how many metres one square stands for (1 to 1000).
        sidecar: a JSON file in the learner's folder that keeps the map between sessions.
    """

    kind = "map_maker"

    def __init__(
        self,
        rows: int = 12,
        columns: int = 16,
        *,
        title: str = "",
        metres_per_square: int = 10,
        sidecar: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        saved, message = self._read_sidecar(sidecar, check_map)
        self.map = saved or MapData.blank(rows, columns, title or _("My map"), metres_per_square)
        self.tool = "ground"
        self.ground_choice = "grass"
        self._new_route = True  # the next route press starts a route
        shared = SharedModels()
        plain = shared.layout
        self.status = make_status(shared, message)
        self._words, self._marks, self._kinds = ground_words(), ground_marks(), kind_words()

        self.title_box = widgets.Text(
            value=self.map.title, description=_("Map title:"), style=WIDE, layout=plain, continuous_update=False
        )
        self.title_box.observe(lambda change: self._try(self.set_title, change["new"]), "value")
        self.scale_box = widgets.BoundedIntText(
            value=self.map.metres_per_square,
            min=1,
            max=1000,
            description=_("Metres in one square:"),
            style=WIDE,
            layout=widgets.Layout(width="auto"),
        )
        self.scale_box.observe(lambda change: self._try(self.set_scale, change["new"]), "value")
        self.tool_choice = ToolChoice(
            [
                ("ground", _("Paint ground"), _("Pressing a square paints it with the chosen ground")),
                ("place", _("Add a place"), _("Pressing a square puts the place named below on it")),
                ("route", _("Draw a route"), _("Pressing a square adds it to the route, in order")),
            ],
            self.tool,
            _("Pressing a square will"),
            layout=plain,
        )
        self.tool_choice.on_choose(self.use_tool)
        swatch = widgets.Layout(width="auto", border="1px solid #555")  # shared by the ground buttons
        self.ground_buttons: dict[str, widgets.Button] = {}
        for name, colour in GROUNDS.items():
            button = widgets.Button(
                description=self._ground_text(name),
                tooltip=t("Paint with {ground}", ground=self._words[name]),
                style=widgets.ButtonStyle(button_color=colour, text_color=text_colour(colour)),
                layout=swatch,
            )
            button.on_click(lambda _button, name=name: self.choose_ground(name))
            self.ground_buttons[name] = button
        grounds_label = widgets.Label(_("Grounds:"), style=shared.label, layout=plain)
        self.place_name = widgets.Text(
            value="", placeholder=_("like Library"), description=_("Place name:"), style=WIDE, layout=plain
        )
        self.place_kind = widgets.Dropdown(
            options=[(self._kinds[kind], kind) for kind in KINDS],
            value="other",
            description=_("Kind:"),
            style=WIDE,
            layout=widgets.Layout(width="auto"),
        )
        self.route_name = widgets.Text(
            value="", placeholder=_("like My walk to school"), description=_("Route name:"), style=WIDE, layout=plain
        )
        self.new_route_button = widgets.Button(
            description=_("Start a new route"),
            icon="plus",
            tooltip=_("The next square you press starts a new route"),
            style=shared.button,
            layout=shared.fit,
        )
        self.new_route_button.on_click(lambda _button: self.start_route())
        self.back_button = widgets.Button(
            description=_("Take back last stop"),
            icon="undo",
            tooltip=_("Take the last square off the route being drawn"),
            style=shared.button,
            layout=shared.fit,
        )
        self.back_button.on_click(lambda _button: self.take_back_stop())
        auto = widgets.Layout(width="auto")
        self.row_choice = widgets.Dropdown(
            options=list(range(1, self.map.rows + 1)), description=_("Row:"), style=WIDE, layout=auto
        )
        self.column_choice = widgets.Dropdown(
            options=list(range(1, self.map.columns + 1)), description=_("Column:"), style=WIDE, layout=auto
        )
        self.use_button = widgets.Button(
            description=_("Use on this square"),
            icon="map-marker",
            tooltip=_("Use the tool on the square at the chosen row and column"),
            style=shared.button,
            layout=shared.fit,
        )
        self.use_button.on_click(lambda _button: self._pressed(self.row_choice.value - 1, self.column_choice.value - 1))
        values, colours, marks = square_values(self.map, self._words, self._marks)
        self.cell_grid = CellGrid(
            rows=[t("Row {row}", row=row) for row in range(1, self.map.rows + 1)],
            columns=self.map.columns,
            values=values,
            colours=colours,
            marks=marks,
            column_word=_("column"),
            cell_size=26,
            label=_("Map squares"),
            drag=True,
            layout=plain,
        )
        self.cell_grid.on_press(self._pressed)
        self.cell_grid.on_stroke(self._stroked)
        self._options = self._item_options()
        self.item_choice = widgets.Dropdown(
            options=self._options, description=_("Place or route:"), style=WIDE, layout=auto
        )
        self.new_name = widgets.Text(value="", description=_("New name:"), style=WIDE, layout=plain)
        self.rename_button = widgets.Button(
            description=_("Rename"),
            icon="pencil",
            tooltip=_("Give the chosen place or route the new name"),
            style=shared.button,
            layout=shared.fit,
        )
        self.rename_button.on_click(lambda _button: self._rename_chosen())
        self.remove_button = widgets.Button(
            description=_("Remove"),
            icon="trash",
            tooltip=_("Take the chosen place or route off the map"),
            style=shared.button,
            layout=shared.fit,
        )
        self.remove_button.on_click(lambda _button: self._remove_chosen())
        self.picture = TitledImage(
            value=to_png(self.map), format="png", tooltip=_("Your map as a picture, with its key"), layout=plain
        )
        self.key_list = widgets.HTML(self._key_html(), layout=plain)
        self.file_name, self.export_button, export = export_row(
            "my_map.png", _("Save PNG"), self.export_png, self.status, shared
        )
        kwargs.setdefault("layout", plain)
        super().__init__(
            children=[
                widgets.HTML(_help(), layout=plain),
                widgets.HBox([self.title_box, self.scale_box], layout=plain),
                self.tool_choice,
                widgets.HBox(
                    [grounds_label, *self.ground_buttons.values()], layout=widgets.Layout(flex_flow="row wrap")
                ),
                widgets.HBox([self.place_name, self.place_kind], layout=plain),
                widgets.HBox([self.route_name, self.new_route_button, self.back_button], layout=plain),
                widgets.HBox([self.row_choice, self.column_choice, self.use_button], layout=plain),
                self.cell_grid,
                widgets.HBox([self.item_choice, self.new_name, self.rename_button, self.remove_button], layout=plain),
                self.picture,
                self.key_list,
                export,
                self.status,
            ],
            **kwargs,
        )
        self._save_new_creation()

    # ------------------------------------------------------------------ what a learner does

    def use_tool(self, tool: str) -> None:
        """Make pressing a square paint ground ("ground"), add a place ("place") or add a route stop ("route")."""
        if tool not in TOOLS:
            raise ValueError(f"{tool!r} is not a tool; choose ground, place or route.")
        self.tool = tool
        self.tool_choice.value = tool

    def choose_ground(self, name: str) -> None:
        """Make `name` (grass, water, road...) the ground that squares get painted with."""
        if name not in GROUNDS:
            raise ValueError(t("{name} is not a ground; choose one of {names}.", name=name, names=", ".join(GROUNDS)))
        self.ground_choice = name
        for other, button in self.ground_buttons.items():
            button.description = self._ground_text(other)
        self.use_tool("ground")

    def paint(self, row: int, column: int, ground: str | None = None) -> None:
        """Paint one square (rows and columns from 1) with `ground`, or the chosen ground."""
        self.paint_area(row, column, row, column, ground)

    def paint_area(self, top: int, left: int, bottom: int, right: int, ground: str | None = None) -> None:
        """Paint every square from row `top`, column `left` to row `bottom`, column `right` (from 1)."""
        name = self.ground_choice if ground is None else ground
        if name not in GROUNDS:
            raise ValueError(t("{name} is not a ground; choose one of {names}.", name=name, names=", ".join(GROUNDS)))
        self.map.check_square(top, left)
        self.map.check_square(bottom, right)
        self._paint_squares([(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)], name)

    def paint_from_letters(self, lines: list[str], letters: dict[str, str]) -> None:
        """Paint the map from lines of letters, one letter a square.

        For example `paint_from_letters(["ggrr", "ggrr"], {"g": "grass", "r": "road"})`.
        """
        if len(lines) > self.map.rows or any(len(line) > self.map.columns for line in lines):
            raise ValueError(
                t(
                    "The letters are bigger than the map ({rows} rows of {columns}).",
                    rows=self.map.rows,
                    columns=self.map.columns,
                )
            )
        wrong = [
            (r, c, x) for r, line in enumerate(lines, 1) for c, x in enumerate(line, 1) if letters.get(x) not in GROUNDS
        ]
        if wrong:  # every letter is checked before any square changes
            row, column, letter = wrong[0]
            raise ValueError(
                t(
                    "Row {row}, column {column}: the letter {letter} is not in your list.",
                    row=row,
                    column=column,
                    letter=repr(letter),
                )
            )
        for row, line in enumerate(lines):
            self.map.ground[row][: len(line)] = [letters[letter] for letter in line]
        self._changed()

    def add_place(self, name: str, kind: str, row: int, column: int) -> int:
        """Put a place on a square (from 1); returns its number on the map. Raises StateError (a ValueError)."""
        name = check_name(name, _("place name"))
        if kind not in KINDS:
            raise StateError(
                t("{kind} is not a kind of place; use one of: {kinds}.", kind=repr(kind), kinds=", ".join(KINDS))
            )
        row, column = self.map.check_square(row, column)
        if len(self.map.places) >= MAX_PLACES:
            raise StateError(t("A map has room for {count} places; remove one first.", count=MAX_PLACES))
        taken = self.map.place_at(row, column)
        if taken is not None:
            raise StateError(
                t("{name} is already on that square. Pick another square.", name=self.map.places[taken].name)
            )
        self.map.check_free_name(name)
        self.map.places.append(Place(name, kind, row, column))
        self._changed()
        return len(self.map.places)

    def add_route(self, name: str, stops: list[str | Square]) -> str:
        """A route through `stops` in order, each a place's name or a (row, column) square; returns its letter."""
        checked = [self.map.stop(stop) for stop in stops]
        if not checked:
            raise StateError(_("A route needs at least one stop."))
        if len(checked) > MAX_STOPS:
            raise StateError(t("A route has room for {count} stops.", count=MAX_STOPS))
        route = self._new(name)
        for stop in checked:
            self._add_stop(route, stop)
        self._new_route = True  # a learner's next route press starts their own route
        self._changed()
        return route_letter(self.map.routes.index(route))

    def start_route(self) -> None:
        """Make the next square pressed with "Draw a route" start a new route, named from "Route name"."""
        self._new_route = True
        self.use_tool("route")
        self._say(_("Press the square where your new route starts."))

    def take_back_stop(self) -> None:
        """Take the last stop off the route being drawn (the route goes when its last stop does)."""
        if not self.map.routes or self._new_route:
            self._say(_("There is no route being drawn. Press Start a new route first."))
            return
        route = self.map.routes[-1]
        route.stops.pop()
        if not route.stops:
            self.map.routes.pop()
            self._new_route = True
        self._changed()

    def rename(self, old: str, new: str) -> None:
        """Give the place or route called `old` the name `new`."""
        kind, index = self.map.find(old)
        new = check_name(new, _("new name"))
        if kind == "place":
            self.map.check_free_name(new, but=index)
            self.map.places[index].name = new
        else:
            self.map.routes[index].name = new
        self._changed()

    def remove(self, name: str) -> None:
        """Take the place or route called `name` off the map."""
        kind, index = self.map.find(name)
        if kind == "place":
            del self.map.places[index]
        else:
            del self.map.routes[index]
            self._new_route = True
        self._changed()

    def set_title(self, title: str) -> None:
        self.map.title = check_name(title, _("map title"), limit=60, empty=True)
        self.title_box.value = self.map.title
        self._changed()

    def set_scale(self, metres: int) -> None:
        self.map.metres_per_square = check_metres(metres)
        self.scale_box.value = metres
        self._changed()

    # -------------------------------------------------------------------- reading the map

    def ground_at(self, row: int, column: int) -> str:
        """The ground of a square (from 1): grass, water, road..."""
        row, column = self.map.check_square(row, column)
        return self.map.ground[row - 1][column - 1]

    def route_length(self, name: str) -> float:
        """How long the route called `name` is, in squares."""
        kind, index = self.map.find(name)
        if kind != "route":
            raise ValueError(t("{name} is a place, not a route.", name=name))
        return route_length(self.map.routes[index].stops)

    def describe(self) -> str:
        """The map in words: every place and route, with the routes' lengths."""
        return "\n".join(describe(self.map))

    def to_png(self, scale: int = 24) -> bytes:
        """The map with its key as PNG bytes, each square `scale` x `scale` pixels."""
        return to_png(self.map, scale)

    def export_png(self, path: str | os.PathLike[str], scale: int = 24) -> Path:
        """Save the map as a PNG in the learner's folder (atomically); returns the path written."""
        return export(path, lambda: self.to_png(scale), suffix=".png")

    # -------------------------------------------------------------------------- inside

    def _pressed(self, row: int, column: int) -> None:
        """A press on a square (counted from 0, as CellGrid counts): use the tool there."""
        square = (row + 1, column + 1)
        try:
            if self.tool == "ground":
                self._paint_squares([square], self.ground_choice)
            elif self.tool == "place":
                number = self.add_place(self.place_name.value, self.place_kind.value, *square)
                self._say(t("Added place {number}: {name}.", number=number, name=self.map.places[-1].name))
                self.place_name.value = ""
            else:
                self._route_press([square])
        except ValueError as error:
            self._say(str(error))

    def _stroked(self, cells: list[tuple[int, int]], start: bool) -> None:
        """A drag: ground paints every square crossed; a route goes through them; a place goes where it began."""
        squares = [(row + 1, column + 1) for row, column in cells]
        if self.tool == "ground":
            self._paint_squares(squares, self.ground_choice)
        elif self.tool == "route":
            self._try(self._route_press, squares)
        elif start:
            self._pressed(*cells[0])

    def _try(self, action: Any, *args: Any) -> None:
        """Do what a control asked; a value that does not fit is a message for the learner, not a traceback."""
        try:
            action(*args)
        except ValueError as error:
            self._say(str(error))

    def _route_press(self, squares: list[Square]) -> None:
        if self._new_route:
            route = self._new(self.route_name.value or t("Route {letter}", letter=route_letter(len(self.map.routes))))
            self._say(
                t("Route {letter} started. Press the next square.", letter=route_letter(len(self.map.routes) - 1))
            )
        else:
            route = self.map.routes[-1]
        try:
            for square in squares:
                self._add_stop(route, square)
        finally:  # a route that ran out of room keeps, shows and saves the stops it took
            self._changed()

    def _new(self, name: str) -> Route:
        if len(self.map.routes) >= MAX_ROUTES:
            raise StateError(t("A map has room for {count} routes; remove one first.", count=MAX_ROUTES))
        route = Route(check_name(name, _("route name")))
        self.map.routes.append(route)
        self._new_route = False
        return route

    def _add_stop(self, route: Route, square: Square) -> None:
        """Add a stop; a stop on the same straight line, the same way, moves the last stop instead."""
        stops = route.stops
        if stops and stops[-1] == square:
            return
        if len(stops) >= 2:
            (r0, c0), (r1, c1) = stops[-2], stops[-1]
            first, then = (r1 - r0, c1 - c0), (square[0] - r1, square[1] - c1)
            if first[0] * then[1] == first[1] * then[0] and first[0] * then[0] + first[1] * then[1] > 0:
                stops[-1] = square
                return
        if len(stops) >= MAX_STOPS:
            raise StateError(t("A route has room for {count} stops.", count=MAX_STOPS))
        stops.append(square)

    def _rename_chosen(self) -> None:
        chosen = self.item_choice.value
        if chosen is None:
            self._say(_("There is nothing to rename yet."))
            return
        try:
            self.rename(self._item_name(chosen), self.new_name.value)
        except ValueError as error:
            self._say(str(error))
        else:
            self._say(t("Renamed to {name}.", name=" ".join(self.new_name.value.split())))
            self.new_name.value = ""

    def _remove_chosen(self) -> None:
        chosen = self.item_choice.value
        if chosen is None:
            self._say(_("There is nothing to remove yet."))
            return
        name = self._item_name(chosen)
        self.remove(name)
        self._say(t("Removed {name}.", name=name))

    def _item_name(self, chosen: str) -> str:
        kind, index = chosen.split(":")
        return self.map.places[int(index)].name if kind == "place" else self.map.routes[int(index)].name

    def _item_options(self) -> list[tuple[str, str]]:
        places = [(f"{n}. {p.name}", f"place:{n - 1}") for n, p in enumerate(self.map.places, 1)]
        routes = [
            (t("Route {letter}: {name}", letter=route_letter(i), name=r.name), f"route:{i}")
            for i, r in enumerate(self.map.routes)
        ]
        return places + routes

    def _paint_squares(self, squares: list[Square], name: str) -> None:
        changed = False
        for row, column in squares:
            if self.map.ground[row - 1][column - 1] != name:
                self.map.ground[row - 1][column - 1] = name
                changed = True
        if changed:
            self._changed()

    def _ground_text(self, name: str) -> str:
        words = f"{self._marks[name]} {self._words[name]}".strip()
        return f"✓ {words}" if name == self.ground_choice else words

    def _key_html(self) -> str:
        lines = [html.escape(line) for line in describe(self.map)]
        items = "".join(f"<li>{line}</li>" for line in lines[1:])
        return f"<p><b>{_('The map in words')}</b>: {lines[0]}</p><ul>{items}</ul>"

    def _changed(self) -> None:
        if self._restoring:
            return
        values, colours, marks = square_values(self.map, self._words, self._marks)
        with self.cell_grid.hold_sync():
            self.cell_grid.colours, self.cell_grid.marks = colours, marks
            self.cell_grid.values = values
        options = self._item_options()
        if options != self._options:
            self._options = self.item_choice.options = options
        self.picture.value = to_png(self.map)
        self.key_list.value = self._key_html()
        super()._changed()

    def _dump(self) -> dict[str, Any]:
        return self.map.dump()

    def _restore(self, state: dict[str, Any]) -> None:
        data = check_map(state)  # everything checked before anything changes
        if (data.rows, data.columns) != (self.map.rows, self.map.columns):
            with self.cell_grid.hold_sync():
                self.cell_grid.reshape([t("Row {row}", row=r) for r in range(1, data.rows + 1)], data.columns, "")
            self.row_choice.options = list(range(1, data.rows + 1))
            self.column_choice.options = list(range(1, data.columns + 1))
        self.map = data
        self._new_route = True
        self.title_box.value = data.title
        self.scale_box.value = data.metres_per_square
