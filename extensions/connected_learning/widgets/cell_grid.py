"""CellGrid: a whole grid of pressable cells as ONE widget model, for the pixel canvas and the beat maker.

A grid of ipywidgets Buttons costs one model per cell (plus layouts and styles), and every
model costs about 0.75 ms in the kernel, so a 16 x 16 canvas took a third of a second to
appear. CellGrid is a single `anywidget` model whose inline JavaScript draws an HTML table
of real <button> elements. The browser only reports presses (`{"event": "press", "row",
"column"}`); Python decides what a press means and assigns new `values`, so undo, `state`
and sidecars stay in Python, and the browser redraws only the cells that changed.

Dragging (when `drag` is on, as in the pixel canvas): pressing a cell and moving over others
with the mouse, a pen or a finger is a *stroke*. The browser collects the cells it crosses
(filling in the ones a fast move jumps over) and sends them in batches, the first at once and
then at most one message every 80 ms: `{"event": "stroke", "start": true, "cells": [[row,
column], ...]}`, `start` true only in a stroke's first message. Python hands each batch to
the `on_stroke` callbacks, which can keep a stroke as one undo step. Pointer events are
captured by the table, and each move looks up the cell under the pointer with
`document.elementFromPoint`, because a captured pointer (and any touch) reports every move
to the element where it went down. With `drag` off (the beat maker) a press is a click, as
before, and strokes are ignored.

Accessibility: the grid is one tab stop (roving tabindex), arrow keys, Home and End move
between cells, Enter and Space press the focused cell; with `drag` on, Shift with an arrow, Home or
End paints the way it moves (a stroke that ends when Shift is let go). Every cell has a title and an
aria-label like "Row 1, column 1: white" or "kick, step 1: off" (see `title`), on/off cells
carry aria-pressed, and `marks` put text in the cells so colour is never the only cue.
The cells also carry ipywidgets' `widget-button` class, so pages and tests that look for
buttons find them.
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets
import traitlets

__all__ = ["CellGrid"]

log = logging.getLogger(__name__)

_ESM = r"""
function textColour(hex) {
  const r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16), b = parseInt(hex.slice(5, 7), 16);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "black" : "white";
}

// A stroke's cells go to Python at most this often (ms), so a drag does not flood the kernel.
const BATCH_MS = 80;

function render({ model, el }) {
  const table = document.createElement("table");
  table.className = "clh-cell-grid";
  table.setAttribute("role", "grid");
  // JupyterLab must not treat arrows, Enter and Space in the grid as notebook shortcuts.
  table.setAttribute("data-lm-suppress-shortcuts", "true");
  el.appendChild(table);
  let buttons = [], shown = [], focus = [0, 0];

  function title(row, column, value) {
    const said = (model.get("names") || {})[value] ?? value;
    return `${model.get("rows")[row]}, ${model.get("column_word")} ${column + 1}: ${said}`;
  }

  function paint(row, column) {
    const value = model.get("values")[row][column];
    const button = buttons[row][column];
    const colour = model.get("colours")[value];
    const text = title(row, column, value);
    button.textContent = model.get("marks")[value] || "";
    button.title = text;
    button.setAttribute("aria-label", text);
    button.style.backgroundColor = colour || "";
    button.style.color = colour ? textColour(colour) : "";
    const pressedValue = model.get("pressed_value");
    if (pressedValue) button.setAttribute("aria-pressed", String(value === pressedValue));
    else button.removeAttribute("aria-pressed");
    shown[row][column] = value;
  }

  function build() {
    const rows = model.get("rows"), columns = model.get("columns"), size = model.get("cell_size");
    table.replaceChildren();
    table.setAttribute("aria-label", model.get("label"));
    table.classList.toggle("clh-drag", model.get("drag"));
    table.style.setProperty("--clh-cell-size", `${size}px`);
    buttons = [];
    shown = [];
    focus = [Math.min(focus[0], rows.length - 1), Math.min(focus[1], columns - 1)];
    if (model.get("headers")) {
      const head = table.insertRow();
      const corner = document.createElement("th");
      corner.textContent = model.get("column_word");
      head.appendChild(corner);
      for (let column = 0; column < columns; column++) {
        const th = document.createElement("th");
        th.setAttribute("scope", "col");
        th.textContent = String(column + 1);
        head.appendChild(th);
      }
    }
    rows.forEach((name, row) => {
      const tr = table.insertRow();
      if (model.get("headers")) {
        const th = document.createElement("th");
        th.setAttribute("scope", "row");
        th.className = "clh-row-name";
        th.textContent = name;
        tr.appendChild(th);
      }
      buttons.push([]);
      shown.push([]);
      for (let column = 0; column < columns; column++) {
        const td = tr.insertCell();
        td.setAttribute("role", "gridcell");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "clh-cell widget-button";
        button.dataset.row = String(row);
        button.dataset.column = String(column);
        button.tabIndex = row === focus[0] && column === focus[1] ? 0 : -1;
        td.appendChild(button);
        buttons[row].push(button);
        shown[row].push(undefined);
        paint(row, column);
      }
    });
  }

  function update() {
    const values = model.get("values");
    if (values.length !== buttons.length || values.some((line, row) => line.length !== buttons[row].length)) {
      build();
      return;
    }
    values.forEach((line, row) => line.forEach((value, column) => {
      if (shown[row][column] !== value) paint(row, column);
    }));
  }

  function repaintAll() {
    buttons.forEach((line, row) => line.forEach((_, column) => paint(row, column)));
  }

  function moveTo(row, column) {
    if (!buttons.length) return;
    row = Math.max(0, Math.min(row, buttons.length - 1));
    column = Math.max(0, Math.min(column, buttons[row].length - 1));
    buttons[focus[0]]?.[focus[1]]?.setAttribute("tabindex", "-1");
    focus = [row, column];
    buttons[row][column].tabIndex = 0;
    buttons[row][column].focus();
  }

  table.addEventListener("click", (event) => {
    // With drag on, a mouse, pen or finger press is a stroke (below); a click from Enter or
    // Space has detail 0 and is still a press.
    if (model.get("drag") && event.detail !== 0) return;
    const button = event.target.closest("button.clh-cell");
    if (!button || !table.contains(button)) return;
    const row = Number(button.dataset.row), column = Number(button.dataset.column);
    moveTo(row, column);
    model.send({ event: "press", row, column });
  });

  // A stroke: the cells a pressed pointer (or Shift with the arrow keys) goes over.
  let stroke = null;

  function cellOf(element) {
    const button = element?.closest?.("td")?.querySelector("button.clh-cell");
    return button ? [Number(button.dataset.row), Number(button.dataset.column)] : null;
  }

  function between(from, to) {
    // The cells on the way from `from` (left out) to `to`, so a fast move leaves no gaps.
    const steps = Math.max(Math.abs(to[0] - from[0]), Math.abs(to[1] - from[1]));
    const cells = [];
    for (let step = 1; step <= steps; step++) {
      cells.push([
        Math.round(from[0] + ((to[0] - from[0]) * step) / steps),
        Math.round(from[1] + ((to[1] - from[1]) * step) / steps),
      ]);
    }
    return cells;
  }

  function addToStroke(cells) {
    for (const [row, column] of cells) {
      const key = `${row},${column}`;
      if (stroke.seen.has(key)) continue;
      stroke.seen.add(key);
      stroke.pending.push([row, column]);
    }
    if (stroke.pending.length && stroke.timer === null) stroke.timer = setTimeout(flush, BATCH_MS);
  }

  function flush() {
    if (!stroke) return;
    clearTimeout(stroke.timer);
    stroke.timer = null;
    if (!stroke.pending.length) return;
    model.send({ event: "stroke", start: !stroke.sent, cells: stroke.pending });
    stroke.sent = true;
    stroke.pending = [];
  }

  function startStroke(by, cell) {
    endStroke();
    stroke = { by, last: cell, seen: new Set(), pending: [], timer: null, sent: false };
    addToStroke([cell]);
    flush(); // the first cell answers at once
  }

  function endStroke() {
    flush();
    stroke = null;
  }

  table.addEventListener("pointerdown", (event) => {
    if (!model.get("drag") || !event.isPrimary || event.button !== 0) return;
    const cell = cellOf(event.target.closest("button.clh-cell"));
    if (!cell || !table.contains(event.target)) return;
    event.preventDefault(); // no text selection and no dragging of the page while painting
    moveTo(cell[0], cell[1]);
    try {
      table.setPointerCapture(event.pointerId);
    } catch {
      // A pointer that is already gone: the stroke is the one cell.
    }
    startStroke(event.pointerId, cell);
  });

  table.addEventListener("pointermove", (event) => {
    if (!stroke || stroke.by !== event.pointerId) return;
    const moves = event.getCoalescedEvents?.() ?? [];
    for (const move of moves.length ? moves : [event]) {
      const hit = document.elementFromPoint(move.clientX, move.clientY);
      if (!hit || !table.contains(hit)) {
        stroke.last = null; // outside the grid: coming back in starts where it comes in
        continue;
      }
      const cell = cellOf(hit);
      if (!cell || (stroke.last && cell[0] === stroke.last[0] && cell[1] === stroke.last[1])) continue;
      addToStroke(stroke.last ? between(stroke.last, cell) : [cell]);
      stroke.last = cell;
    }
  });

  for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
    table.addEventListener(name, (event) => {
      if (stroke && stroke.by === event.pointerId) endStroke();
    });
  }
  table.addEventListener("keyup", (event) => {
    if (event.key === "Shift" && stroke?.by === "keys") endStroke();
  });
  table.addEventListener("focusout", (event) => {
    if (stroke?.by === "keys" && !table.contains(event.relatedTarget)) endStroke();
  });

  table.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const [row, column] = focus;
    const moves = {
      ArrowUp: [row - 1, column], ArrowDown: [row + 1, column],
      ArrowLeft: [row, column - 1], ArrowRight: [row, column + 1],
      Home: [row, 0], End: [row, Infinity],
    };
    const target = moves[event.key];
    if (target) {
      event.preventDefault();
      moveTo(target[0], target[1]);
      if (event.shiftKey && model.get("drag")) {
        if (stroke?.by !== "keys") startStroke("keys", [row, column]);
        addToStroke(between(stroke.last, focus));
        stroke.last = focus;
        flush();
      }
    }
    // Enter and Space fall through to the button's own click.
  });

  const rebuildOn = ["rows", "columns", "column_word", "headers", "label", "cell_size", "drag"];
  const repaintOn = ["colours", "marks", "pressed_value"];
  for (const name of rebuildOn) model.on(`change:${name}`, build);
  for (const name of repaintOn) model.on(`change:${name}`, repaintAll);
  model.on("change:values", update);
  build();
  return () => {
    stroke = null;
    for (const name of rebuildOn) model.off(`change:${name}`, build);
    for (const name of repaintOn) model.off(`change:${name}`, repaintAll);
    model.off("change:values", update);
  };
}

export default { render };
"""

_CSS = """
.clh-cell-grid { border-collapse: separate; border-spacing: 2px; width: max-content; }
.clh-cell-grid th { font-weight: normal; font-size: 12px; text-align: center; padding: 0 2px; }
.clh-cell-grid th.clh-row-name { text-align: left; min-width: 64px; }
.clh-cell-grid td { padding: 0; }
.clh-cell-grid button.clh-cell.widget-button {
  width: var(--clh-cell-size); height: var(--clh-cell-size); min-width: 0; margin: 0; padding: 0;
  border: 1px solid #888; border-radius: 2px; background: #eeeeee; color: black; box-shadow: none;
  font-size: 11px; font-weight: bold; line-height: 1; cursor: pointer; overflow: hidden;
}
/* A finger on the squares paints instead of scrolling the page. */
.clh-cell-grid.clh-drag { user-select: none; -webkit-user-select: none; }
.clh-cell-grid.clh-drag button.clh-cell.widget-button { touch-action: none; }
.clh-cell-grid button.clh-cell.widget-button:focus-visible { outline: 3px solid #1565c0; outline-offset: 1px; }
.clh-cell-grid button.clh-cell.widget-button:hover { filter: brightness(0.92); }
"""


# anywidget's front-end (its JupyterLab extension, which Voila uses too) renders the ES
# module below. Its Python package is not imported: that costs ~35 ms in every fresh kernel
# (psygnal), a third of the time a learner waits for the first widget. The model speaks
# anywidget's documented front-end protocol: AnyModel/AnyView with `_esm` and `_css`.
# Must match the installed anywidget (pinned to 0.11 in pyproject.toml; a test checks it).
ANYWIDGET_VERSION = "~0.11.*"


class InlineAnyWidget(ipywidgets.DOMWidget):
    """A widget that anywidget's front-end draws from the subclass's inline `_esm` and `_css`."""

    _model_name = traitlets.Unicode("AnyModel").tag(sync=True)
    _model_module = traitlets.Unicode("anywidget").tag(sync=True)
    _model_module_version = traitlets.Unicode(ANYWIDGET_VERSION).tag(sync=True)
    _view_name = traitlets.Unicode("AnyView").tag(sync=True)
    _view_module = traitlets.Unicode("anywidget").tag(sync=True)
    _view_module_version = traitlets.Unicode(ANYWIDGET_VERSION).tag(sync=True)


class CellGrid(InlineAnyWidget):
    """A grid of cells, each showing a value (a colour name, "on"/"off", ...), pressed by the learner.

    Python owns the values: the browser reports a press, the callbacks given to `on_press`
    decide what it means, and `set` or `update` change what the cells show.
    """

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    _css = traitlets.Unicode(_CSS).tag(sync=True)
    _anywidget_id = traitlets.Unicode("connected_learning.widgets.cell_grid.CellGrid").tag(sync=True)

    rows = traitlets.List(
        traitlets.Unicode(),
        help="Names of the rows, top to bottom, as read in each "
        "cell's title, e.g. ['Row 1', 'Row 2'] or ['kick', 'snare'].",
    ).tag(sync=True)
    columns = traitlets.Int(0, help="Number of columns (cells per row), e.g. 16.").tag(sync=True)
    values = traitlets.List(
        traitlets.List(traitlets.Unicode()),
        help="What each cell shows, row by row: a name that `colours` and `marks` look up, e.g. 'white' or 'on'.",
    ).tag(sync=True)
    colours = traitlets.Dict(
        help="Background colour of a cell per value, '#rrggbb', e.g. {'on': '#2e7d32'}; "
        "the text colour follows from it."
    ).tag(sync=True)
    marks = traitlets.Dict(
        help="Text shown in a cell per value, e.g. {'on': '✓', 'off': '·'}, so colour is "
        "never the only cue; values without a mark show nothing."
    ).tag(sync=True)
    pressed_value = traitlets.Unicode(
        "",
        help="For on/off grids, the value that means pressed (e.g. 'on'); "
        "then every cell has aria-pressed. Empty: no aria-pressed.",
    ).tag(sync=True)
    column_word = traitlets.Unicode(
        "column", help="What a column is called in titles and the header, e.g. 'step' gives 'kick, step 1: off'."
    ).tag(sync=True)
    headers = traitlets.Bool(False, help="Show row names and column numbers around the grid.").tag(sync=True)
    label = traitlets.Unicode("", help="Accessible name of the whole grid, e.g. 'Pixel art squares'.").tag(sync=True)
    names = traitlets.Dict(
        traitlets.Unicode(),
        help="How values are said in the cells' titles, e.g. {'white': 'blanco'}; other values as they are.",
    ).tag(sync=True)
    cell_size = traitlets.Int(24, help="Width and height of a cell in CSS pixels, e.g. 24.").tag(sync=True)
    drag = traitlets.Bool(
        False,
        help="Let a press go on over other cells (mouse, pen, finger, or Shift with the arrow keys) "
        "as a stroke, reported to `on_stroke`. Off: every press is one click, as for the beat maker.",
    ).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._press_callbacks: list[Callable[[int, int], None]] = []
        self._stroke_callbacks: list[Callable[[list[tuple[int, int]], bool], None]] = []
        self.on_msg(self._handle_message)

    @traitlets.validate("values")
    def _valid_values(self, proposal: Any) -> list[list[str]]:
        values = proposal["value"]
        if len(values) != len(self.rows) or any(len(line) != self.columns for line in values):
            raise traitlets.TraitError(
                f"values must be {len(self.rows)} rows of {self.columns} cells; change rows and columns with reshape()."
            )
        return values

    def reshape(self, rows: list[str], columns: int, fill: str) -> None:
        """Give the grid new row names and a number of columns, every cell showing `fill` (one redraw)."""
        if not isinstance(columns, int) or columns < 1:
            raise ValueError(f"A grid needs at least one column, not {columns!r}.")
        with self.hold_trait_notifications(), self.hold_sync():
            # Validation of `values` is held until all three are set, so they are checked together.
            self.rows, self.columns = list(rows), columns
            self.values = [[fill] * columns for _ in rows]

    def check_cell(self, row: Any, column: Any) -> tuple[int, int]:
        """`row`, `column` if they name a cell (counted from 0); otherwise a ValueError that names them."""
        for what, index, size in (("row", row, len(self.rows)), ("column", column, self.columns)):
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < size:
                raise ValueError(f"There is no {what} {index!r} in this grid; {what}s go from 0 to {size - 1}.")
        return row, column

    def get(self, row: int, column: int) -> str:
        """The value of the cell at `row`, `column` (counted from 0)."""
        row, column = self.check_cell(row, column)
        return self.values[row][column]

    def title(self, row: int, column: int) -> str:
        """The cell's title and aria-label in the browser, e.g. 'Row 1, column 1: white' (same text as the JS)."""
        row, column = self.check_cell(row, column)
        return f"{self.rows[row]}, {self.column_word} {column + 1}: {self.values[row][column]}"

    def set(self, row: int, column: int, value: str) -> None:
        """Show `value` in one cell."""
        self.update([(row, column, value)])

    def update(self, changes: Iterable[tuple[int, int, str]]) -> None:
        """Change many cells at once, with one message to the browser."""
        values = list(self.values)  # a new outer list, so traitlets sees a change and syncs
        copied: set[int] = set()
        for row, column, value in changes:
            row, column = self.check_cell(row, column)
            if not isinstance(value, str):
                raise ValueError(f"A cell shows a value that names a colour or state (text), not {value!r}.")
            if row not in copied:
                values[row] = list(values[row])  # never change a list the old value still holds
                copied.add(row)
            values[row][column] = value
        if copied:
            self.values = values

    def on_press(self, callback: Callable[[int, int], None]) -> None:
        """Call `callback(row, column)` (counted from 0) whenever a cell is pressed."""
        self._press_callbacks.append(callback)

    def press(self, row: int, column: int) -> None:
        """Exactly what a click (or Enter or Space) on a cell in the browser does."""
        row, column = self.check_cell(row, column)
        for callback in self._press_callbacks:
            callback(row, column)

    def on_stroke(self, callback: Callable[[list[tuple[int, int]], bool], None]) -> None:
        """Call `callback(cells, start)` for each batch of cells a drag goes over (with `drag` on).

        `cells` are (row, column) pairs counted from 0, in the order they were crossed;
        `start` is True for the first batch of a stroke. Without such a callback, each cell
        of a stroke is pressed in turn.
        """
        self._stroke_callbacks.append(callback)

    def stroke(self, cells: Iterable[tuple[int, int]], start: bool = True) -> None:
        """Exactly what a batch of a drag over `cells` in the browser does (`start`: a new stroke)."""
        checked = [self.check_cell(row, column) for row, column in cells]
        if not checked:
            return
        if not self._stroke_callbacks:
            for row, column in checked:
                self.press(row, column)
        for callback in self._stroke_callbacks:
            callback(checked, start)

    def _handle_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        event = content.get("event") if isinstance(content, dict) else None
        if event == "press":
            try:
                row, column = self.check_cell(content.get("row"), content.get("column"))
            except ValueError:
                # A stale view (the grid was reshaped meanwhile) can report a cell that is gone.
                log.warning("CellGrid ignored a press outside the grid: %s", reprlib.repr(content))
                return
            self.press(row, column)
        elif event == "stroke" and self.drag:
            cells = self._stroke_cells(content.get("cells"))
            start = content.get("start")
            if cells is None or not isinstance(start, bool):
                log.warning("CellGrid ignored a stroke it cannot use: %s", reprlib.repr(content))
                return
            self.stroke(cells, start)
        else:
            log.warning("CellGrid ignored an unknown message from the browser: %s", reprlib.repr(content))

    def _stroke_cells(self, cells: Any) -> list[tuple[int, int]] | None:
        """The cells of a stroke message from the browser, or None if any is not a cell of this grid.

        A batch never holds more cells than the grid has (the browser sends each cell of a
        stroke once), so a longer list is refused before it is read.
        """
        if not isinstance(cells, list) or not 0 < len(cells) <= len(self.rows) * self.columns:
            return None
        checked = []
        for cell in cells:
            if not isinstance(cell, list) or len(cell) != 2:
                return None
            try:
                checked.append(self.check_cell(cell[0], cell[1]))
            except ValueError:
                # Also a stale view's stroke over cells that are gone: none of it is used.
                return None
        return checked
