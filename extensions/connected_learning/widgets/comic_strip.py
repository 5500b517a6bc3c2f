"""ComicStrip: a comic of 2 to 6 panels, each with a pixel drawing, a speech bubble and a caption, saved as one PNG.

The learner picks the panel to edit ("Panel 2 of 4"), draws in it with the pixel canvas's
named colours on a `CellGrid` (one model for the whole grid, see `cell_grid.py`), types who
speaks and what they say, and an optional caption ("Later that day..."). Panels can be
added, removed and moved left or right. After each change the whole strip is drawn again
with Pillow, panels side by side (two rows from four panels on), with white speech bubbles
that point at the drawing and yellow caption boxes, and shown in an `ipywidgets.Image`: the
notebook's saved widget state then holds the picture, so the showcase's static page shows the
comic with no JavaScript. "Save PNG" writes the same picture to the learner's folder.

Everything the learner types is drawn into pixels and shown in Labels and text boxes, never in
an HTML widget, so it cannot add anything to a page. Texts have a length limit, and control
characters (and halves of emoji that a hand-edited file could hold) are taken out.

State: {"title", "panel": the panel being edited (from 0), "colour": the colour drawn with,
"panels": [{"cells": 12 rows of 16 colour names, "speaker", "speech", "caption"}, ...]}.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import TextStyle

from connected_learning.widgets.base import (
    CreationState,
    SharedModels,
    StateError,
    TitledImage,
    export_row,
    make_status,
)
from connected_learning.widgets.cell_grid import CellGrid
from connected_learning.widgets.comic_picture import COLUMNS, MAX_PANELS, MIN_PANELS, ROWS, draw_strip
from connected_learning.widgets.contrast import text_colour
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import _, t
from connected_learning.widgets.pixel_canvas import PALETTE, _marks

__all__ = ["LIMITS", "ComicStrip", "check_comic", "clean_text"]

#: The longest text each field holds, in characters: a bubble holds a short line, as in comics.
LIMITS = {"title": 60, "speaker": 20, "speech": 120, "caption": 60}
COLOURS = dict(PALETTE)
MAX_UNDO = 500
BACKGROUND = PALETTE[0][0]


def clean_text(text: str, limit: int, *, lines: bool = False) -> str:
    """`text` as a comic can hold it: no control characters (new lines only where `lines`), at most `limit` long.

    Halves of a character that a hand-edited file may hold (lone surrogates) are taken out too:
    they cannot be saved as UTF-8.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in text if (ch == "\n" and lines) or unicodedata.category(ch) not in ("Cc", "Cs"))
    return kept[:limit]


def _blank() -> list[list[str]]:
    return [[BACKGROUND] * COLUMNS for _ in range(ROWS)]


def _check_panel(panel: Any, number: int, *, whole: bool) -> dict[str, Any]:
    """One panel of a saved comic (`whole`: every key present) or of a starter (missing keys are blank)."""
    if not isinstance(panel, Mapping):
        raise StateError(t("Panel {number} must be a JSON object.", number=number))
    unknown = set(panel) - {"cells", "speaker", "speech", "caption"}
    if unknown:
        raise StateError(
            t(
                "Panel {number} has parts a comic does not know: {names}.",
                number=number,
                names=", ".join(sorted(map(str, unknown))),
            )
        )
    checked: dict[str, Any] = {}
    for field in ("speaker", "speech", "caption"):
        value = panel[field] if whole else panel.get(field, "")
        checked[field] = _check_text(value, field, t("Panel {number}", number=number))
    cells = panel["cells"] if whole else panel.get("cells", _blank())
    if (
        not isinstance(cells, list)
        or len(cells) != ROWS
        or any(not isinstance(line, list) or len(line) != COLUMNS for line in cells)
    ):
        raise StateError(
            t(
                "The drawing of panel {number} must be {rows} rows of {columns} squares.",
                number=number,
                rows=ROWS,
                columns=COLUMNS,
            )
        )
    unknown_colours = sorted(
        {str(name) for line in cells for name in line if not isinstance(name, str) or name not in COLOURS}
    )
    if unknown_colours:
        raise StateError(
            t(
                "Panel {number} uses colours that are not in the palette: {names}.",
                number=number,
                names=", ".join(unknown_colours[:5]),
            )
        )
    checked["cells"] = [list(line) for line in cells]
    return checked


def _check_text(value: Any, field: str, where: str) -> str:
    lines = field == "speech"
    if (
        not isinstance(value, str)
        or len(value) > LIMITS[field]
        or clean_text(value, LIMITS[field], lines=lines) != value
    ):
        raise StateError(
            t(
                "{where}: each text must be at most {limit} letters long, with no hidden characters.",
                where=where,
                limit=LIMITS[field],
            )
        )
    return value


def check_comic(state: Mapping[str, Any]) -> dict[str, Any]:
    """A saved comic's title, panels, chosen panel and colour, checked (StateError when they do not fit)."""
    panels = state["panels"]
    if not isinstance(panels, list) or not MIN_PANELS <= len(panels) <= MAX_PANELS:
        raise StateError(t("A comic has {low} to {high} panels.", low=MIN_PANELS, high=MAX_PANELS))
    checked = [_check_panel(panel, number, whole=True) for number, panel in enumerate(panels, start=1)]
    current = state["panel"]
    if not isinstance(current, int) or isinstance(current, bool) or not 0 <= current < len(checked):
        raise StateError(t("The chosen panel {number} is not in this comic.", number=repr(current)))
    if state["colour"] not in COLOURS:
        raise StateError(t("The colour {name} is not in the palette.", name=repr(state["colour"])))
    return {
        "title": _check_text(state["title"], "title", _("The title")),
        "panels": checked,
        "panel": current,
        "colour": state["colour"],
    }


def _starter(panels: int | Sequence[Mapping[str, Any]], title: str) -> dict[str, Any]:
    """A new comic: `panels` blank panels, or panels from dicts with any of "speaker", "speech", "caption", "cells"."""
    if isinstance(panels, int) and not isinstance(panels, bool):
        if not MIN_PANELS <= panels <= MAX_PANELS:
            raise ValueError(f"A comic has {MIN_PANELS} to {MAX_PANELS} panels, not {panels}.")
        checked = [_check_panel({}, number, whole=False) for number in range(1, panels + 1)]
    else:
        if (
            isinstance(panels, str | bytes)
            or not isinstance(panels, Sequence)
            or not MIN_PANELS <= len(panels) <= MAX_PANELS
        ):
            raise ValueError(f"Give a comic {MIN_PANELS} to {MAX_PANELS} panels, as a number or a list of panels.")
        checked = [_check_panel(panel, number, whole=False) for number, panel in enumerate(panels, start=1)]
    return {
        "title": _check_text(title, "title", _("The title")),
        "panels": checked,
        "panel": 0,
        "colour": PALETTE[1][0],
    }


# ------------------------------------------------------------------------------ the widget


class ComicStrip(CreationState, widgets.VBox):
    """A comic strip: panels with a pixel drawing, a speech bubble and a caption each, saved as one PNG.

    Args:
        panels: how many blank panels to start with (2 to 6, 3 by default), or the panels to
            start with, as dicts with any of "speaker", "speech", "caption" and "cells" (12 rows
            of 16 colour names). A saved comic in `sidecar` wins over them.
        title: the comic's title, drawn above the panels.
        sidecar: a JSON file in the learner's folder that keeps the comic between sessions.
        file_name: the file name "Save PNG" offers, like "my_comic.png".
    """

    kind = "comic_strip"

    def __init__(
        self,
        panels: int | Sequence[Mapping[str, Any]] = 3,
        *,
        title: str = "",
        sidecar: str | os.PathLike[str] | None = None,
        file_name: str = "my_comic.png",
        **kwargs: Any,
    ) -> None:
        saved, message = self._read_sidecar(sidecar, check_comic)
        comic = saved if saved is not None else _starter(panels, title)
        self.panels: list[dict[str, Any]] = comic["panels"]
        self.current: int = comic["panel"]
        self.colour: str = comic["colour"]
        self._showing = False  # True while the controls are set to show a panel, not edited by the learner
        # Undo steps: the panel painted (itself, so moving panels keeps them right) and its squares' old colours.
        self._undo: list[tuple[dict[str, Any], list[tuple[int, int, str]]]] = []
        self._stroke: list[tuple[int, int, str]] | None = None  # the undo step the current drag adds to
        shared = SharedModels()
        plain = shared.layout
        self.status = make_status(shared, message)
        panel = self.panels[self.current]
        self._text_style = TextStyle(description_width="initial")  # shared by the text boxes
        self._text_layout = widgets.Layout(width="min(100%, 420px)")
        self.title = self._text_box(widgets.Text, "title", comic["title"], _("Title:"), _("The title of your comic"))
        self.panel_choice = widgets.Dropdown(
            options=self._panel_options(),
            value=self.current,
            description=_("Editing:"),
            style=shared.slider,  # a description as wide as its words
            layout=widgets.Layout(width="auto"),
        )
        self.panel_choice.observe(self._panel_chosen, "value")
        self.add_button = self._button(
            shared, _("Add panel"), "plus", _("Add a new panel after this one"), self.add_panel
        )
        self.remove_button = self._button(
            shared, _("Remove panel"), "trash", _("Take this panel out of the comic"), self.remove_panel
        )
        self.left_button = self._button(
            shared, _("Move left"), "arrow-left", _("Move this panel one place earlier"), lambda: self.move_panel(-1)
        )
        self.right_button = self._button(
            shared, _("Move right"), "arrow-right", _("Move this panel one place later"), lambda: self.move_panel(1)
        )
        self.undo_button = self._button(
            shared, _("Undo"), "undo", _("Take back the last painting or clearing"), self.undo
        )
        self.clear_button = self._button(
            shared, _("Clear drawing"), "eraser", _("Paint every square of this panel white"), self.clear_drawing
        )
        # The letters come from the colours' names as the learner reads them ("R" for red, "RO" for rojo).
        said = _marks([_(name) for name, _hex in PALETTE])
        self._mark = {name: said.get(_(name), "") for name, _hex in PALETTE}
        palette_layout = widgets.Layout(width="auto", border="1px solid #555")
        self.palette_buttons: dict[str, widgets.Button] = {}
        for name, hex_colour in PALETTE:
            button = widgets.Button(
                description=f"✓ {_(name)}" if name == self.colour else _(name),
                tooltip=t("Draw with {colour}", colour=_(name)),
                style=widgets.ButtonStyle(button_color=hex_colour, text_color=text_colour(hex_colour)),
                layout=palette_layout,
            )
            button.on_click(lambda _b, name=name: self.choose(name))
            self.palette_buttons[name] = button
        self.current_colour = widgets.Label(self._colour_text(), style=shared.label, layout=plain)
        self.letters = widgets.Checkbox(
            value=False, description=_("Show colour letters in the squares"), indent=False, layout=plain
        )
        self.letters.observe(lambda _c: self._show_letters(), "value")
        self.cell_grid = CellGrid(
            rows=[t("Row {number}", number=row + 1) for row in range(ROWS)],
            columns=COLUMNS,
            values=[list(line) for line in panel["cells"]],
            colours=COLOURS,
            marks={},
            column_word=_("column"),
            cell_size=20,
            label=_("Drawing squares of this panel"),
            names={name: _(name) for name in COLOURS},  # each square's title says its colour in the learner's words
            drag=True,
            layout=plain,
        )
        self.cell_grid.on_press(lambda row, column: self._paint([(row, column)]))
        self.cell_grid.on_stroke(self._paint)
        self.speaker = self._text_box(
            widgets.Text,
            "speaker",
            panel["speaker"],
            _("Who speaks:"),
            _("The name of the one who speaks in this panel"),
        )
        self.speech = self._text_box(
            widgets.Textarea, "speech", panel["speech"], _("They say:"), _("The words in the speech bubble")
        )
        self.caption = self._text_box(
            widgets.Text,
            "caption",
            panel["caption"],
            _("Caption:"),
            _("A box at the top of the panel, like: Later that day..."),
            _("Later that day..."),
        )
        self.picture = TitledImage(
            value=draw_strip(self.title.value, self.panels),
            format="png",
            tooltip=_("Your comic strip"),  # the picture's title, which screen readers read
            # Its own size (as wide as the page at most), not stretched to the width of the box it is in.
            layout=widgets.Layout(max_width="100%", height="auto", align_self="flex-start"),
        )
        self.file_name, self.export_button, export = export_row(
            file_name, _("Save PNG"), self.export_png, self.status, shared
        )
        kwargs.setdefault("layout", plain)
        help_text = _(
            "<b>Comic strip</b>: choose the panel to work on, draw in its squares, "
            "and type who speaks and what they say. With the keyboard: in the squares, arrows move, "
            "Enter or Space paints, Shift with an arrow paints as you move."
        )
        super().__init__(
            children=[
                widgets.HTML(help_text, layout=plain),
                self.title,
                widgets.HBox(
                    [self.panel_choice, self.add_button, self.remove_button, self.left_button, self.right_button],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                widgets.HBox(
                    [widgets.Label(_("Colours:"), style=shared.label, layout=plain), *self.palette_buttons.values()],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                widgets.HBox([self.current_colour, self.undo_button, self.clear_button, self.letters], layout=plain),
                self.cell_grid,
                self.speaker,
                self.speech,
                self.caption,
                widgets.Label(_("Your comic strip, as it will be saved:"), style=shared.label, layout=plain),
                self.picture,
                export,
                self.status,
            ],
            **kwargs,
        )
        self._save_new_creation()

    # -- building the controls

    def _text_box(
        self,
        kind: type[widgets.Text] | type[widgets.Textarea],
        field: str,
        value: str,
        label: str,
        tooltip: str,
        placeholder: str = "",
    ) -> Any:
        box = kind(
            value=value,
            description=label,
            tooltip=tooltip,
            placeholder=placeholder,
            continuous_update=False,  # the picture is drawn again when the learner leaves the box, not at each key
            style=self._text_style,
            layout=self._text_layout,
        )
        box.observe(lambda change: self._typed(field, box, change["new"]), "value")
        return box

    @staticmethod
    def _button(shared: SharedModels, text: str, icon: str, tooltip: str, action: Any) -> widgets.Button:
        button = widgets.Button(description=text, icon=icon, tooltip=tooltip, style=shared.button, layout=shared.fit)
        button.on_click(lambda _b: action())
        return button

    def _panel_options(self) -> list[tuple[str, int]]:
        count = len(self.panels)
        return [(t("Panel {number} of {count}", number=index + 1, count=count), index) for index in range(count)]

    def _colour_text(self) -> str:
        return t("Drawing with: {colour}", colour=_(self.colour))

    # -- what the learner does

    def choose(self, name: str) -> None:
        """Make `name` (a colour of the palette) the colour squares are painted with."""
        if name not in COLOURS:
            raise ValueError(f"{name!r} is not in the palette; choose one of {', '.join(COLOURS)}.")
        self.colour = name
        for other, button in self.palette_buttons.items():
            button.description = f"✓ {_(other)}" if other == name else _(other)
        self.current_colour.value = self._colour_text()

    def choose_panel(self, index: int) -> None:
        """Edit panel `index` (counted from 0): the squares and the text boxes show it."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.panels):
            raise ValueError(f"There is no panel {index!r}; panels go from 0 to {len(self.panels) - 1}.")
        self.current = index
        self._show_panel()

    def add_panel(self) -> None:
        """Add a blank panel after the one being edited, and edit it."""
        if len(self.panels) >= MAX_PANELS:
            self._say(t("A comic here has at most {count} panels. Remove one to add another.", count=MAX_PANELS))
            return
        self.panels.insert(self.current + 1, _check_panel({}, self.current + 2, whole=False))
        self.current += 1
        self._show_panel()
        self._say(t("Added panel {number}.", number=self.current + 1))
        self._changed()

    def remove_panel(self) -> None:
        """Take the panel being edited out of the comic."""
        if len(self.panels) <= MIN_PANELS:
            self._say(t("A comic needs at least {count} panels, so this one stays.", count=MIN_PANELS))
            return
        del self.panels[self.current]
        removed = self.current + 1
        self.current = min(self.current, len(self.panels) - 1)
        self._show_panel()
        self._say(t("Removed panel {number}.", number=removed))
        self._changed()

    def move_panel(self, step: int) -> None:
        """Move the panel being edited one place left (`step` -1) or right (+1)."""
        if step not in (-1, 1):
            raise ValueError(f"A panel moves one place at a time: step -1 or 1, not {step!r}.")
        target = self.current + step
        if not 0 <= target < len(self.panels):
            self._say(_("This panel is already at the start.") if step < 0 else _("This panel is already at the end."))
            return
        self.panels[self.current], self.panels[target] = self.panels[target], self.panels[self.current]
        self.current = target
        self._show_panel()
        self._say(t("The panel is now number {number}.", number=target + 1))
        self._changed()

    def clear_drawing(self) -> None:
        """Paint every square of the panel being edited with the background colour (Undo brings it back)."""
        cells = self.panels[self.current]["cells"]
        old = [(r, c, name) for r, line in enumerate(cells) for c, name in enumerate(line) if name != BACKGROUND]
        if old:
            self._remember(old)
            self._set_cells([(row, column, BACKGROUND) for row, column, _name in old])
            self._changed()

    def undo(self) -> None:
        """Take back the last painting or clearing, in whichever panel it was (and show that panel)."""
        while self._undo:
            panel, change = self._undo.pop()
            index = next((i for i, other in enumerate(self.panels) if other is panel), None)
            if index is None:
                continue  # that panel was removed
            if index != self.current:
                self.choose_panel(index)
            self._set_cells(change)
            self._changed()
            return
        self._say(_("Nothing to undo."))

    def _paint(self, cells: Sequence[tuple[int, int]], start: bool = True) -> None:
        """Paint `cells` of the panel being edited; a drag's later batches (`start` False) are one undo step with it."""
        cells_now = self.panels[self.current]["cells"]
        old: dict[tuple[int, int], str] = {}
        for row, column in cells:
            if cells_now[row][column] != self.colour:
                old.setdefault((row, column), cells_now[row][column])
        if not old:
            return
        change = [(row, column, name) for (row, column), name in old.items()]
        # A drag goes on in the last undo step, unless something else came since.
        if not start and self._stroke is not None and self._undo and self._undo[-1][1] is self._stroke:
            self._stroke.extend(change)
        else:
            self._stroke = change
            self._remember(change)
        self._set_cells([(row, column, self.colour) for row, column, _name in change])
        self._changed()

    def _remember(self, change: list[tuple[int, int, str]]) -> None:
        self._undo.append((self.panels[self.current], change))
        del self._undo[:-MAX_UNDO]

    def _set_cells(self, changes: list[tuple[int, int, str]]) -> None:
        """Change squares of the panel being edited, in the comic and on screen (one message to the browser)."""
        cells = self.panels[self.current]["cells"]
        for row, column, name in changes:
            cells[row][column] = name
        self.cell_grid.update(changes)

    def _typed(self, field: str, box: widgets.Text | widgets.Textarea, value: str) -> None:
        if self._showing:
            return
        cleaned = clean_text(value, LIMITS[field], lines=field == "speech")
        if cleaned != value:
            self._showing = True
            try:
                box.value = cleaned
            finally:
                self._showing = False
            if len(clean_text(value, 10**6, lines=True)) > LIMITS[field]:
                self._say(t("This box holds up to {limit} letters, so the end was cut off.", limit=LIMITS[field]))
        if field != "title":
            self.panels[self.current][field] = cleaned
        self._changed()

    def _panel_chosen(self, change: Mapping[str, Any]) -> None:
        if not self._showing and isinstance(change["new"], int):
            self.choose_panel(change["new"])

    def _show_panel(self) -> None:
        """Set every control to show the panel being edited."""
        panel = self.panels[self.current]
        self._showing = True
        try:
            options = self._panel_options()
            if list(self.panel_choice.options) != options:
                self.panel_choice.options = options
            self.panel_choice.value = self.current
            self.cell_grid.values = [list(line) for line in panel["cells"]]
            self.speaker.value, self.speech.value, self.caption.value = (
                panel["speaker"],
                panel["speech"],
                panel["caption"],
            )
        finally:
            self._showing = False

    def _show_letters(self) -> None:
        self.cell_grid.marks = self._mark if self.letters.value else {}

    def _changed(self) -> None:
        if self._restoring:
            return
        self.picture.value = self.to_png()
        super()._changed()

    # -- the picture and the saved comic

    def to_png(self) -> bytes:
        """The whole comic as PNG bytes (what "Save PNG" writes)."""
        return draw_strip(self.title.value, self.panels)

    def export_png(self, path: str | os.PathLike[str]) -> Path:
        """Save the comic as a PNG in the learner's folder (atomically); returns the path written."""
        return export(path, self.to_png, suffix=".png")

    def _dump(self) -> dict[str, Any]:
        return {
            "title": self.title.value,
            "panel": self.current,
            "colour": self.colour,
            "panels": [
                {
                    "cells": [list(line) for line in panel["cells"]],
                    "speaker": panel["speaker"],
                    "speech": panel["speech"],
                    "caption": panel["caption"],
                }
                for panel in self.panels
            ],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        comic = check_comic(state)  # everything is checked before anything changes
        self.panels, self.current = comic["panels"], comic["panel"]
        self._undo.clear()
        self._showing = True
        try:
            self.title.value = comic["title"]
        finally:
            self._showing = False
        self.choose(comic["colour"])
        self._show_panel()
