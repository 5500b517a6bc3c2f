"""PixelCanvas: pixel art on a grid of squares, with named colours, a brush and a fill, undo, clear and PNG export.

The squares are one `CellGrid` (one widget model for the whole grid, see `cell_grid.py`), so
a 16 x 16 canvas appears as fast as a slider, in JupyterLab and Voila alike.

Two tools, chosen with the "Brush" and "Fill" buttons (words, and aria-pressed on the chosen
one): the brush paints the squares pressed or dragged across (mouse, pen or finger), and a
whole drag is one step of undo; the fill paints the patch of one colour around the pressed
square (squares joined by a side, not by a corner), also one step. The grid is one tab stop:
arrow keys move between squares, Enter or Space uses the tool on one, and Shift with the
arrows paints the squares moved over. The controls come before the grid so a keyboard user
meets them first, and "Paint square" (or "Fill area") uses the tool by row and column
without entering the grid. Colours always carry their names: on the palette buttons,
in each square's title ("Row 1, column 1: white"), and as letters in the squares when "Show
colour letters" is ticked. `self.grid` (colour names, row by row) is the drawing; the
CellGrid only shows it.

Saving with the notebook: pass `sidecar="name.json"` and `state` is kept as JSON in the
learner's folder, rewritten atomically after every change and loaded when the cell runs
again (the robust way); with JupyterLab's "Save Widget State Automatically" on, the
notebook also stores the controls' values, so it reopens showing the creation. See `base.py`.

State: {"rows", "columns", "palette": [[name, "#rrggbb"], ...],
"colour": the colour being drawn with, "cells": rows of colour names}. Undo history is not saved.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_description import DescriptionStyle

from connected_learning.widgets.base import CreationState, SharedModels, StateError, close_all, export_row, make_status
from connected_learning.widgets.cell_grid import CellGrid
from connected_learning.widgets.contrast import text_colour
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import N_, _, t
from connected_learning.widgets.tool_choice import ToolChoice

__all__ = ["PALETTE", "TOOLS", "PixelCanvas", "flood", "tool_text"]

PALETTE: tuple[tuple[str, str], ...] = (
    (N_("white"), "#ffffff"),
    (N_("black"), "#000000"),
    (N_("grey"), "#9e9e9e"),
    (N_("red"), "#e53935"),
    (N_("orange"), "#fb8c00"),
    (N_("yellow"), "#fdd835"),
    (N_("green"), "#43a047"),
    (N_("blue"), "#1e88e5"),
    (N_("purple"), "#8e24aa"),
    (N_("pink"), "#f48fb1"),
    (N_("brown"), "#795548"),
)
MAX_SIDE = 48
MAX_UNDO = 500
TOOLS = (
    ("brush", N_("Brush"), N_("Paint the squares you press or drag across")),
    ("fill", N_("Fill"), N_("Paint the whole patch of one colour around the square you press")),
)
HELP = N_(
    "<b>Pixel art</b>: choose a colour, then press squares to paint them, or drag across them. "
    "<b>Fill</b> paints a whole patch of one colour at once. "
    "With the keyboard: in the squares, arrows move, Enter or Space paints, Shift with an arrow paints as you move."
)
_NAME = re.compile(r"^[a-z][a-z -]{0,19}$")
_HEX = re.compile(r"^#[0-9a-f]{6}$")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def _marks(names: list[str]) -> dict[str, str]:
    """Short letters for each colour (none for the background), different from each other."""
    marks: dict[str, str] = {names[0]: ""}
    used: set[str] = set()
    for name in names[1:]:
        word = name.replace(" ", "").replace("-", "")
        options = [word[0].upper(), word[0].upper() + word[-1]] + [word[0].upper() + ch for ch in word[1:]]
        options += [word[:2].upper(), word.upper()[:3], name]
        mark = next(option for option in options if option not in used)
        used.add(mark)
        marks[name] = mark
    return marks


def _check_palette(palette: Any) -> list[tuple[str, str]]:
    if not isinstance(palette, list | tuple) or not 2 <= len(palette) <= 24:
        raise StateError("A palette needs 2 to 24 colours, each a [name, '#rrggbb'] pair.")
    checked: list[tuple[str, str]] = []
    for entry in palette:
        name, colour = entry
        if not isinstance(name, str) or not _NAME.match(name):
            raise StateError(f"Colour name {name!r} must be 1 to 20 small letters, like 'sky blue'.")
        if not isinstance(colour, str) or not _HEX.match(colour.lower()):
            raise StateError(f"Colour {name!r} must be written like '#1e88e5', not {colour!r}.")
        checked.append((name, colour.lower()))
    if len({name for name, _ in checked}) != len(checked):
        raise StateError("Two colours in the palette have the same name; give each its own name.")
    return checked


def flood(grid: list[list[str]], row: int, column: int) -> list[tuple[int, int]]:
    """The squares of `grid` joined to (`row`, `column`) through squares of its colour, sides only."""
    colour = grid[row][column]
    found, todo = {(row, column)}, [(row, column)]
    while todo:
        r, c = todo.pop()
        for near in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if near not in found and 0 <= near[0] < len(grid) and 0 <= near[1] < len(grid[near[0]]):
                if grid[near[0]][near[1]] == colour:
                    found.add(near)
                    todo.append(near)
    return sorted(found)


def tool_text(tool: str, colour: str) -> str:
    """What the line above the squares says: "Painting with: red" or "Filling with: red"."""
    if tool == "fill":
        return t("Filling with: {colour}", colour=_(colour))
    return t("Painting with: {colour}", colour=_(colour))


def _check_sides(*sides: Any) -> None:
    for side in sides:
        if not isinstance(side, int) or isinstance(side, bool) or not 1 <= side <= MAX_SIDE:
            raise StateError(f"A canvas side must be a whole number from 1 to {MAX_SIDE}, not {side!r}.")


class PixelCanvas(CreationState, widgets.VBox):
    """Pixel art: pick a named colour, press squares to paint them, undo, clear, save a PNG.

    Args:
        rows, columns: size of the grid, 1 to 48 each (16 x 16 by default).
        palette: [(name, "#rrggbb"), ...]; the first colour is the background. Default `PALETTE`.
        sidecar: a JSON file in the learner's folder that keeps the drawing between sessions.
    """

    kind = "pixel_canvas"

    def __init__(
        self,
        rows: int = 16,
        columns: int = 16,
        palette: Any = PALETTE,
        *,
        sidecar: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        shared = SharedModels()
        plain = shared.layout
        self.status = make_status(shared)
        self._undo: list[list[tuple[int, int, str]]] = []
        self._stroke: list[tuple[int, int, str]] | None = None  # the undo step the current drag adds to
        self.letters = widgets.Checkbox(
            value=False, description=_("Show colour letters in the squares"), indent=False, layout=plain
        )
        self.letters.observe(lambda _: self._show_letters(), "value")
        self.undo_button = widgets.Button(
            description=_("Undo"),
            icon="undo",
            tooltip=_("Take back the last change"),
            style=shared.button,
            layout=plain,
        )
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button = widgets.Button(
            description=_("Clear"),
            icon="eraser",
            tooltip=_("Paint every square background"),
            style=shared.button,
            layout=plain,
        )
        self.clear_button.on_click(lambda _: self.clear())
        self._colours_label = widgets.Label(_("Colours:"), style=shared.label, layout=plain)
        self._palette_layout = widgets.Layout(width="auto", border="1px solid #555")  # shared by palette buttons
        # Every control is created showing its final value: each change after creation is one
        # more message to the browser, and a fresh canvas should cost one message per model.
        self._use_palette(rows, columns, palette)
        self.tool = "brush"
        self.current = widgets.Label(self._current_text(), style=shared.label, layout=plain)
        self.tool_choice = ToolChoice(TOOLS, self.tool, N_("Tool"), layout=plain)
        self.tool_choice.on_choose(self.use_tool)
        self.palette_box = widgets.HBox(self._palette_children(), layout=widgets.Layout(flex_flow="row wrap"))
        auto_width = widgets.Layout(width="auto")
        wide = DescriptionStyle(description_width="initial")
        self.row_choice = widgets.Dropdown(
            options=list(range(1, rows + 1)), description=_("Row:"), style=wide, layout=auto_width
        )
        self.column_choice = widgets.Dropdown(
            options=list(range(1, columns + 1)), description=_("Column:"), style=wide, layout=auto_width
        )
        self.paint_button = widgets.Button(
            description=_("Paint square"),
            icon="paint-brush",
            style=shared.button,
            layout=shared.fit,  # "Pintar cuadro", "Rellenar zona": longer than the default width
            tooltip=_("Paint the square at the chosen row and column"),
        )
        self.paint_button.on_click(lambda _: self._pressed(self.row_choice.value - 1, self.column_choice.value - 1))
        self.cell_grid = CellGrid(
            rows=self._row_names(),
            columns=columns,
            values=[list(line) for line in self.grid],
            colours=self.colours,
            marks={},
            column_word=_("column"),
            cell_size=24,
            label=_("Pixel art squares"),
            names={name: _(name) for name in self.colours},
            drag=True,
            layout=plain,
        )
        self.cell_grid.on_press(self._pressed)
        self.cell_grid.on_stroke(self._stroked)
        self.file_name, self.export_button, export = export_row(
            "my_pixel_art.png", _("Save PNG"), self.export_png, self.status, shared
        )
        kwargs.setdefault("layout", plain)
        super().__init__(
            children=[
                widgets.HTML(_(HELP), layout=plain),
                self.palette_box,
                self.tool_choice,
                self.current,
                widgets.HBox([self.undo_button, self.clear_button, self.letters], layout=plain),
                widgets.HBox([self.row_choice, self.column_choice, self.paint_button], layout=plain),
                self.cell_grid,
                export,
                self.status,
            ],
            **kwargs,
        )
        self._start_sidecar(sidecar)

    def _use_palette(self, rows: int, columns: int, palette: Any) -> None:
        """Check a size and palette, make the palette buttons, and start an empty drawing (no undo)."""
        _check_sides(rows, columns)
        self.palette = _check_palette(palette)
        self.colours = dict(self.palette)
        self.background = self.palette[0][0]
        self.colour = self.palette[1][0]
        # The letters come from the colours' names as the learner reads them ("R" for red, "RO" for rojo).
        said = _marks([_(name) for name, _hex in self.palette])
        self._mark = {name: said.get(_(name), "") for name, _hex in self.palette}
        close_all(list(getattr(self, "palette_buttons", {}).values()))
        self.palette_buttons: dict[str, widgets.Button] = {}
        for name, hex_colour in self.palette:
            style = widgets.ButtonStyle(button_color=hex_colour, text_color=text_colour(hex_colour))
            button = widgets.Button(
                description=f"✓ {_(name)}" if name == self.colour else _(name),
                tooltip=t("Paint with {colour}", colour=_(name)),
                style=style,
                layout=self._palette_layout,
            )
            button.on_click(lambda _, name=name: self.choose(name))
            self.palette_buttons[name] = button
        self.rows, self.columns = rows, columns
        self.grid = [[self.background] * columns for _ in range(rows)]
        self._undo.clear()

    def _palette_children(self) -> list[widgets.Widget]:
        return [self._colours_label, *self.palette_buttons.values()]

    def _row_names(self) -> list[str]:
        return [t("Row {number}", number=row + 1) for row in range(self.rows)]

    def _setup(self, rows: int, columns: int, palette: Any) -> None:
        """Rebuild the palette and the grid for a size and palette, all squares background."""
        self._use_palette(rows, columns, palette)
        self.palette_box.children = self._palette_children()
        with self.cell_grid.hold_sync():
            self.cell_grid.colours = self.colours
            self.cell_grid.names = {name: _(name) for name in self.colours}
            self.cell_grid.marks = self._mark if self.letters.value else {}
            self.cell_grid.reshape(self._row_names(), columns, self.background)
        self.row_choice.options = list(range(1, rows + 1))
        self.column_choice.options = list(range(1, columns + 1))
        self.choose(self.colour)

    def choose(self, name: str) -> None:
        """Make `name` the colour that squares get painted with."""
        if name not in self.colours:
            raise ValueError(f"{name!r} is not in the palette; choose one of {', '.join(self.colours)}.")
        self.colour = name
        for other, button in self.palette_buttons.items():
            button.description = f"✓ {_(other)}" if other == name else _(other)
        self.current.value = self._current_text()

    def use_tool(self, tool: str) -> None:
        """Make pressing a square paint it ("brush") or fill the patch of one colour around it ("fill")."""
        if tool not in {value for value, _, _ in TOOLS}:
            raise ValueError(f"{tool!r} is not a tool; choose brush or fill.")
        self.tool = tool
        self.tool_choice.value = tool
        self.current.value = self._current_text()
        self.paint_button.description = _("Fill area") if tool == "fill" else _("Paint square")
        self.paint_button.tooltip = (
            _("Fill the area around the square at the chosen row and column")
            if tool == "fill"
            else _("Paint the square at the chosen row and column")
        )

    def _current_text(self) -> str:
        return tool_text(self.tool, self.colour)

    def _pressed(self, row: int, column: int) -> None:
        """What pressing a square does (a click, Enter, Space or "Paint square"): use the tool there."""
        if self.tool == "fill":
            self.fill(row, column)
        else:
            self.paint(row, column)

    def _stroked(self, cells: list[tuple[int, int]], start: bool) -> None:
        """A drag over `cells`: the brush paints them all, one undo step per drag; the fill fills where it began."""
        if self.tool == "fill":
            if start:
                self.fill(*cells[0])
            return
        if start:
            self._stroke = None
        changed: dict[tuple[int, int], str] = {}
        for row, column in cells:
            old = self.grid[row][column]
            if old != self.colour:
                changed.setdefault((row, column), old)
        if not changed:
            return
        change = [(row, column, old) for (row, column), old in changed.items()]
        # The drag goes on in the last undo step, unless something else came since (undo, clear).
        if self._stroke is not None and self._undo and self._undo[-1] is self._stroke:
            self._stroke.extend(change)
        else:
            self._stroke = change
            self._remember(change)
        self._set_cells([(row, column, self.colour) for row, column, _ in change])
        self._changed()

    def paint(self, row: int, column: int) -> None:
        """What pressing a square does: paint it with the current colour."""
        row, column = self.cell_grid.check_cell(row, column)
        old = self.grid[row][column]
        if old == self.colour:
            return
        self._remember([(row, column, old)])
        self._set_cells([(row, column, self.colour)])
        self._changed()

    def fill(self, row: int, column: int) -> None:
        """Paint the square at `row`, `column` and every square joined to it by a side that has its colour."""
        row, column = self.cell_grid.check_cell(row, column)
        if self.grid[row][column] == self.colour:
            return
        change = [(r, c, self.grid[r][c]) for r, c in flood(self.grid, row, column)]
        self._remember(change)
        self._set_cells([(r, c, self.colour) for r, c, _ in change])
        self._changed()

    def clear(self) -> None:
        """Paint every square with the background colour (undo brings the drawing back)."""
        changed = [
            (r, c, name) for r, line in enumerate(self.grid) for c, name in enumerate(line) if name != self.background
        ]
        if not changed:
            return
        self._remember(changed)
        self._set_cells([(row, column, self.background) for row, column, _ in changed])
        self._changed()

    def undo(self) -> None:
        """Take back the last paint or clear."""
        if not self._undo:
            self._say(_("Nothing to undo."))
            return
        self._set_cells(self._undo.pop())
        self._changed()

    def _remember(self, change: list[tuple[int, int, str]]) -> None:
        self._undo.append(change)
        del self._undo[:-MAX_UNDO]

    def _set_cells(self, changes: list[tuple[int, int, str]]) -> None:
        """Change squares in the drawing and on screen (one message to the browser)."""
        for row, column, name in changes:
            self.grid[row][column] = name
        self.cell_grid.update(changes)

    def _show_letters(self) -> None:
        self.cell_grid.marks = self._mark if self.letters.value else {}

    def to_png(self, scale: int = 16) -> bytes:
        """The drawing as PNG bytes, each square `scale` x `scale` pixels."""
        from PIL import Image

        if not isinstance(scale, int) or not 1 <= scale <= 64:
            raise ValueError(f"Scale must be a whole number from 1 to 64, not {scale!r}.")
        small = Image.new("RGB", (self.columns, self.rows))
        small.putdata([_rgb(self.colours[name]) for line in self.grid for name in line])
        image = small.resize((self.columns * scale, self.rows * scale), Image.Resampling.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    def export_png(self, path: str | os.PathLike[str], scale: int = 16) -> Path:
        """Save the drawing as a PNG in the learner's folder (atomically); returns the path written."""
        return export(path, lambda: self.to_png(scale), suffix=".png")

    def _dump(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "columns": self.columns,
            "palette": [list(pair) for pair in self.palette],
            "colour": self.colour,
            "cells": [list(line) for line in self.grid],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        # Check everything before changing anything: a bad file must not wipe the drawing on screen.
        rows, columns, cells = state["rows"], state["columns"], state["cells"]
        _check_sides(rows, columns)
        names = {name for name, _ in _check_palette(state["palette"])}
        if (
            not isinstance(cells, list)
            or len(cells) != rows
            or any(not isinstance(line, list) or len(line) != columns for line in cells)
        ):
            raise StateError("The saved squares do not match the saved canvas size.")
        unknown = {str(name) for line in cells for name in line if not isinstance(name, str) or name not in names}
        if unknown or state["colour"] not in names:
            raise StateError(
                f"The saved drawing uses colours that are not in its palette: "
                f"{', '.join(sorted(unknown)) or state['colour']}."
            )
        self._setup(rows, columns, state["palette"])
        self._set_cells(
            [
                (row, column, name)
                for row, line in enumerate(cells)
                for column, name in enumerate(line)
                if name != self.background
            ]
        )
        self.choose(state["colour"])
