"""FlipbookAnimator: draw the frames of a cartoon on a grid of squares and watch them play as a GIF.

Each frame is a square of named colours, drawn on one `CellGrid` as in the pixel canvas
(brush and fill, the same palette and letters; `flood` and the palette checks come from
`pixel_canvas.py`; the frames as data, their checks and the GIF are in `flipbook_frames.py`).
The usual way to animate: "Duplicate frame", then change the copy a
little. Frames can be added blank, deleted and moved earlier or later; "Previous" and
"Next" go through them, and a line says "Frame 2 of 6" in words.

Onion skin (a tick box): where the frame being drawn is still background, the squares of the
frame before show in a faint colour with a small letter ("r" for red), and their title says
"red (frame before)", so the faint squares are never told apart by colour alone.

The animation shows as an animated GIF in an `ipywidgets.Image`, remade after every change,
so a notebook's saved widget state, and the showcase's static page drawn from it, show the
animation with no JavaScript. "Save GIF" writes a bigger one (about 300 px, looping forever)
to the learner's folder. Two frames in a row that are the same play as one longer frame (GIF
files store them so).

The buttons and the speed slider are one `ControlPanel` model (see `control_panel.py`), so a
fresh flipbook appears quickly. Saving: pass `sidecar="name.json"` (see `base.py`).

State: {"size": squares per side, "palette": [[name, "#rrggbb"], ...], "colour": the colour
being drawn with, "fps": frames per second (1-12), "frames": frames of rows of colour names}.
Undo history and the frame on screen are not saved.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from connected_learning.widgets.base import (
    CreationState,
    SharedModels,
    StateError,
    TitledImage,
    close_all,
    export_row,
    make_status,
)
from connected_learning.widgets.cell_grid import CellGrid
from connected_learning.widgets.contrast import text_colour
from connected_learning.widgets.control_panel import ControlPanel, button, slider
from connected_learning.widgets.files import export
from connected_learning.widgets.flipbook_frames import (
    MAX_FPS,
    MAX_FRAMES,
    MIN_FPS,
    Frame,
    check_flipbook,
    check_fps,
    check_frames,
    check_side,
    fade,
    frames_from_letters,
    gif_bytes,
)
from connected_learning.widgets.i18n import _, t
from connected_learning.widgets.pixel_canvas import PALETTE, _check_palette, _marks, flood, tool_text
from connected_learning.widgets.tool_choice import ToolChoice

__all__ = ["MAX_FRAMES", "FlipbookAnimator", "frames_from_letters"]

MAX_UNDO = 100
#: The preview is about this wide (px); a saved GIF about `EXPORT_PX`.
PREVIEW_PX = 192
EXPORT_PX = 320
MAX_SCALE = 64


def _press(action: Callable[[], None], _control: Any) -> None:
    action()


class FlipbookAnimator(CreationState, widgets.VBox):
    """A flipbook: draw frames on a grid of squares, copy and change them, and watch the animation.

    Args:
        size: squares per side of every frame, 2 to 32 (12 by default; or the size of `frames`).
        palette: [(name, "#rrggbb"), ...]; the first colour is the background. Default: the pixel canvas's.
        frames: the frames to start with (rows of colour names), used when there is no saved flipbook.
        fps: frames per second, 1 to 12.
        file_name: the GIF's name offered by "Save GIF".
        sidecar: a JSON file in the learner's folder that keeps the flipbook between sessions.
    """

    kind = "flipbook"

    def __init__(
        self,
        size: int | None = None,
        palette: Any = PALETTE,
        *,
        frames: Any = None,
        fps: int = 4,
        file_name: str = "my_flipbook.gif",
        sidecar: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        # Read first, so every control is created showing the saved flipbook (see base.py).
        book, message = self._read_sidecar(sidecar, check_flipbook)
        if book is None:
            book = self._new_book(size, palette, frames, fps)
        self._shared = shared = SharedModels()
        plain = shared.layout
        self.status = make_status(shared, message)
        self._undo: list[tuple[list[Frame], int]] = []
        self._stroke_open = False  # the drag going on already has its undo step
        self.current = 0
        self.tool = "brush"
        self._use_book(book)
        self.panel = ControlPanel(
            heading=[
                ("b", _("Flipbook")),
                ("", _(": draw a frame, press ")),
                ("i", _("Duplicate frame")),
                ("", _(" and change the copy a little. The preview plays your frames in a loop.")),
            ],
            rows=[
                [
                    button("previous", _("Previous"), icon="arrow-left", tooltip=_("Go to the frame before")),
                    button("next", _("Next"), icon="arrow-right", tooltip=_("Go to the frame after")),
                    button(
                        "duplicate",
                        _("Duplicate frame"),
                        icon="copy",
                        primary=True,
                        tooltip=_("Add a copy of this frame after it, to change a little"),
                    ),
                    button("add", _("Add blank frame"), icon="plus", tooltip=_("Add an empty frame after this one")),
                ],
                [
                    button(
                        "earlier",
                        _("Move earlier"),
                        icon="chevron-up",
                        tooltip=_("Swap this frame with the one before"),
                    ),
                    button(
                        "later", _("Move later"), icon="chevron-down", tooltip=_("Swap this frame with the one after")
                    ),
                    button("delete", _("Delete frame"), icon="trash", tooltip=_("Take this frame out of the flipbook")),
                ],
                [
                    button("undo", _("Undo"), icon="undo", tooltip=_("Take back the last change")),
                    button(
                        "clear",
                        _("Clear frame"),
                        icon="eraser",
                        tooltip=_("Paint every square of this frame background"),
                    ),
                    slider(
                        "fps",
                        _("Speed (frames per second):"),
                        MIN_FPS,
                        MAX_FPS,
                        tooltip=_("How many frames the preview shows each second"),
                    ),
                ],
            ],
            values={"fps": book["fps"]},
            layout=plain,
        )
        actions: dict[str, Callable[[], None]] = {
            "previous": lambda: self.go(self.current - 1),
            "next": lambda: self.go(self.current + 1),
            "duplicate": self.duplicate,
            "add": self.add_blank,
            "earlier": lambda: self.move(-1),
            "later": lambda: self.move(1),
            "delete": self.delete,
            "undo": self.undo,
            "clear": self.clear,
        }
        self.buttons = {name: self.panel.control(name) for name in actions}
        for name, action in actions.items():
            self.buttons[name].on_click(partial(_press, action))
        self.speed = self.panel.control("fps")
        self.speed.observe(lambda _change: self._speed_changed(), "value")
        self._colours_label = widgets.Label(_("Colours:"), style=shared.label, layout=plain)
        self.palette_box = widgets.HBox(
            [self._colours_label, *self.palette_buttons.values()], layout=widgets.Layout(flex_flow="row wrap")
        )
        self.tool_choice = ToolChoice(
            [
                ("brush", _("Brush"), _("Paint the squares you press or drag across")),
                ("fill", _("Fill"), _("Paint the whole patch of one colour around the square you press")),
            ],
            self.tool,
            _("Tool"),
            layout=plain,
        )
        self.tool_choice.on_choose(self.use_tool)
        self.painting = widgets.Label(self._painting_text(), style=shared.label, layout=plain)
        self.letters = widgets.Checkbox(
            value=False, description=_("Show colour letters in the squares"), indent=False, layout=shared.fit
        )
        self.onion = widgets.Checkbox(
            value=True,
            description=_("Onion skin: show the frame before, faint, with small letters"),
            indent=False,
            layout=shared.fit,  # as wide as its words: the default width cuts them off
        )
        for box in (self.letters, self.onion):
            box.observe(lambda _change: self._show_frame(), "value")
        self.frame_label = widgets.Label(self._frame_text(), style=shared.label, layout=plain)
        self.cell_grid = CellGrid(
            rows=[t("Row {number}", number=row + 1) for row in range(self.size)],
            columns=self.size,
            values=self._shown(),
            colours=self._grid_colours(),
            marks=self._grid_marks(),
            column_word=_("column"),
            names={name: _(name) for name in self.colours},  # how each square is said, in the learner's language
            cell_size=24 if self.size <= 16 else 14,
            label=_("Squares of the frame you are drawing"),
            drag=True,
            layout=plain,
        )
        self.cell_grid.on_press(self._pressed)
        self.cell_grid.on_stroke(self._stroked)
        self.preview = TitledImage(
            value=self.to_gif(self._preview_scale()),
            format="gif",
            tooltip=_("Your animation, playing in a loop"),
            layout=widgets.Layout(border="1px solid #757575"),  # where a white picture ends
        )
        self.file_name, self.export_button, export = export_row(
            file_name, _("Save GIF"), self.export_gif, self.status, shared
        )
        kwargs.setdefault("layout", plain)
        super().__init__(
            children=[
                self.panel,
                self.palette_box,
                widgets.HBox([self.tool_choice, self.painting], layout=plain),
                widgets.HBox([self.letters, self.onion], layout=widgets.Layout(flex_flow="row wrap")),
                self.frame_label,
                widgets.HBox(
                    [
                        self.cell_grid,
                        widgets.VBox([widgets.Label(_("Preview:"), style=shared.label, layout=plain), self.preview]),
                    ],
                    layout=widgets.Layout(flex_flow="row wrap", gap="16px"),
                ),
                export,
                self.status,
            ],
            **kwargs,
        )
        self._save_new_creation()

    # ------------------------------------------------------------------ the creation

    @staticmethod
    def _new_book(size: int | None, palette: Any, frames: Any, fps: int) -> dict[str, Any]:
        """A new flipbook's state from the arguments (ValueError when they do not fit)."""
        palette = _check_palette(palette)
        if frames is not None:
            side = len(frames[0]) if isinstance(frames, list) and frames and isinstance(frames[0], list) else 0
            if size is not None and size != side:
                raise StateError(t("The frames given are {side} squares wide, not {size}.", side=side, size=size))
            size = side
        size = check_side(12 if size is None else size)
        if frames is None:
            frames = [[[palette[0][0]] * size for _ in range(size)]]
        checked = check_frames(frames, size, {name for name, _ in palette})
        return {"size": size, "palette": palette, "colour": palette[1][0], "fps": check_fps(fps), "frames": checked}

    def _use_book(self, book: dict[str, Any]) -> None:
        """Take a checked flipbook state: palette, palette buttons and frames (controls are updated elsewhere)."""
        self.size = book["size"]
        self.palette = list(book["palette"])
        self.colours = dict(self.palette)
        self.background = self.palette[0][0]
        # The letters come from the colours' names as the learner reads them ("R" for red, "RO" for rojo).
        said = _marks([_(name) for name, _hex in self.palette])
        self._mark = {name: said.get(_(name), "") for name, _hex in self.palette}
        self.frames: list[Frame] = book["frames"]
        self.fps: int = book["fps"]
        self.colour: str = book["colour"]
        self.current = min(self.current, len(self.frames) - 1)
        close_all(list(getattr(self, "palette_buttons", {}).values()))
        layout = widgets.Layout(width="auto", border="1px solid #555")  # shared by the palette buttons
        self.palette_buttons: dict[str, widgets.Button] = {}
        for name, hex_colour in self.palette:
            palette_button = widgets.Button(
                description=f"✓ {_(name)}" if name == self.colour else _(name),
                tooltip=t("Paint with {colour}", colour=_(name)),
                style=widgets.ButtonStyle(button_color=hex_colour, text_color=text_colour(hex_colour)),
                layout=layout,
            )
            palette_button.on_click(lambda _button, name=name: self.choose(name))
            self.palette_buttons[name] = palette_button

    def _dump(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "palette": [list(pair) for pair in self.palette],
            "colour": self.colour,
            "fps": self.fps,
            "frames": [[list(line) for line in frame] for frame in self.frames],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        book = check_flipbook(state)  # everything is checked before anything changes
        old_size = self.size
        self._use_book(book)
        self._undo.clear()
        self.palette_box.children = [self._colours_label, *self.palette_buttons.values()]
        self.painting.value = self._painting_text()
        self.speed.value = self.fps
        if self.size != old_size:
            with self.cell_grid.hold_sync():
                self.cell_grid.cell_size = 24 if self.size <= 16 else 14
                self.cell_grid.reshape(
                    [t("Row {number}", number=row + 1) for row in range(self.size)], self.size, self.background
                )
        self.cell_grid.names = {name: _(name) for name in self.colours}
        self._show_frame()
        self.preview.value = self.to_gif(self._preview_scale())

    # ------------------------------------------------------------------ drawing

    def choose(self, name: str) -> None:
        """Make `name` the colour that squares get painted with."""
        if name not in self.colours:
            raise ValueError(f"{name!r} is not in the palette; choose one of {', '.join(self.colours)}.")
        self.colour = name
        for other, palette_button in self.palette_buttons.items():
            palette_button.description = f"✓ {_(other)}" if other == name else _(other)
        self.painting.value = self._painting_text()
        self._changed()

    def use_tool(self, tool: str) -> None:
        """Make pressing a square paint it ("brush") or fill the patch of one colour around it ("fill")."""
        if tool not in ("brush", "fill"):
            raise ValueError(f"{tool!r} is not a tool; choose brush or fill.")
        self.tool = tool
        self.tool_choice.value = tool
        self.painting.value = self._painting_text()

    def _painting_text(self) -> str:
        return tool_text(self.tool, self.colour)

    def _pressed(self, row: int, column: int) -> None:
        self._stroke_open = False
        if self.tool == "fill":
            self.fill(row, column)
        else:
            self.paint(row, column)

    def _stroked(self, cells: list[tuple[int, int]], start: bool) -> None:
        """A drag over `cells`: the brush paints them all (one undo step per drag); the fill fills where it began."""
        if self.tool == "fill":
            if start:
                self.fill(*cells[0])
            return
        if start:
            self._stroke_open = False
        frame = self.frames[self.current]
        changed = [(row, column) for row, column in dict.fromkeys(cells) if frame[row][column] != self.colour]
        if not changed:
            return
        if not self._stroke_open:
            self._remember()
            self._stroke_open = True
        self._set_squares(changed, self.colour)

    def paint(self, row: int, column: int) -> None:
        """Paint one square of the frame on screen with the current colour."""
        row, column = self.cell_grid.check_cell(row, column)
        if self.frames[self.current][row][column] != self.colour:
            self._remember()
            self._set_squares([(row, column)], self.colour)

    def fill(self, row: int, column: int) -> None:
        """Paint the square at `row`, `column` and every square joined to it by a side that has its colour."""
        row, column = self.cell_grid.check_cell(row, column)
        frame = self.frames[self.current]
        if frame[row][column] != self.colour:
            self._remember()
            self._set_squares(flood(frame, row, column), self.colour)

    def clear(self) -> None:
        """Paint every square of the frame on screen with the background colour."""
        frame = self.frames[self.current]
        squares = [(r, c) for r in range(self.size) for c in range(self.size) if frame[r][c] != self.background]
        if not squares:
            self._say(_("This frame is already empty."))
            return
        self._remember()
        self._set_squares(squares, self.background)

    def _set_squares(self, squares: list[tuple[int, int]], colour: str) -> None:
        frame = self.frames[self.current]
        for row, column in squares:
            frame[row][column] = colour
        self.cell_grid.update([(row, column, self._shown_value(row, column)) for row, column in squares])
        self._made_change()

    # ------------------------------------------------------------------ frames

    def go(self, index: int) -> None:
        """Show frame `index` (counted from 0) to draw on."""
        if not 0 <= index < len(self.frames):
            self._say(_("This is the first frame.") if index < 0 else _("This is the last frame."))
            return
        self.current = index
        self._stroke_open = False
        self._show_frame()
        self._say("")

    def duplicate(self) -> None:
        """Add a copy of the frame on screen right after it, and show the copy."""
        if self._full():
            return
        self._remember()
        self.frames.insert(self.current + 1, [list(line) for line in self.frames[self.current]])
        self.current += 1
        self._show_frame()
        self._made_change(
            t(
                "Frame {number} is a copy of frame {before}. Change it a little.",
                number=self.current + 1,
                before=self.current,
            )
        )

    def add_blank(self) -> None:
        """Add an empty frame right after the frame on screen, and show it."""
        if self._full():
            return
        self._remember()
        self.frames.insert(self.current + 1, [[self.background] * self.size for _ in range(self.size)])
        self.current += 1
        self._show_frame()
        self._made_change(t("Added a blank frame: frame {number}.", number=self.current + 1))

    def delete(self) -> None:
        """Take the frame on screen out of the flipbook (Undo brings it back)."""
        if len(self.frames) == 1:
            self._say(_("A flipbook needs at least one frame, so this one stays."))
            return
        self._remember()
        del self.frames[self.current]
        gone = self.current + 1
        self.current = min(self.current, len(self.frames) - 1)
        self._show_frame()
        self._made_change(t("Deleted frame {number}. Undo brings it back.", number=gone))

    def move(self, step: int) -> None:
        """Swap the frame on screen with the one before (`step` -1) or after (1); it stays on screen."""
        if step not in (-1, 1):
            raise ValueError(f"A frame moves one place at a time: step -1 or 1, not {step!r}.")
        other = self.current + step
        if not 0 <= other < len(self.frames):
            self._say(_("This frame is already the first.") if step < 0 else _("This frame is already the last."))
            return
        self._remember()
        self.frames[self.current], self.frames[other] = self.frames[other], self.frames[self.current]
        self.current = other
        self._show_frame()
        self._made_change(t("Moved the frame. It is now frame {number}.", number=other + 1))

    def _full(self) -> bool:
        if len(self.frames) >= MAX_FRAMES:
            self._say(t("A flipbook can have up to {most} frames. Delete one to make room.", most=MAX_FRAMES))
            return True
        return False

    def undo(self) -> None:
        """Take back the last change to the frames (painting, adding, deleting, moving)."""
        if not self._undo:
            self._say(_("Nothing to undo."))
            return
        self.frames, self.current = self._undo.pop()
        self._stroke_open = False
        self._show_frame()
        self._made_change(_("Took back the last change."))

    def _remember(self) -> None:
        self._undo.append((copy.deepcopy(self.frames), self.current))
        del self._undo[:-MAX_UNDO]

    def _speed_changed(self) -> None:
        if self._restoring or self.speed.value == self.fps:
            return
        self.fps = self.speed.value
        self._made_change(t("Speed: {fps} frames per second.", fps=self.fps))

    def _made_change(self, message: str = "") -> None:
        """After any change: remake the preview, save the sidecar and say what happened."""
        self.preview.value = self.to_gif(self._preview_scale())
        if message:
            self._say(message)
        self._changed()

    # ------------------------------------------------------------------ what the grid shows

    def _frame_text(self) -> str:
        return t("Frame {number} of {count}", number=self.current + 1, count=len(self.frames))

    def _shown_value(self, row: int, column: int) -> str:
        """What a square shows: its colour, or the faint colour of the frame before on a background square."""
        name = self.frames[self.current][row][column]
        if name == self.background and self.onion.value and self.current > 0:
            before = self.frames[self.current - 1][row][column]
            if before != self.background:
                return self._onion_value(before)
        return name

    def _shown(self) -> Frame:
        return [[self._shown_value(row, column) for column in range(self.size)] for row in range(self.size)]

    def _onion_value(self, name: str) -> str:
        return t("{colour} (frame before)", colour=_(name))

    def _grid_colours(self) -> dict[str, str]:
        faint = {self._onion_value(name): fade(colour) for name, colour in self.palette[1:]}
        return {**self.colours, **faint}

    def _grid_marks(self) -> dict[str, str]:
        faint = {self._onion_value(name): self._mark[name].lower() for name, _ in self.palette[1:]}
        return {**(self._mark if self.letters.value else {}), **faint}

    def _show_frame(self) -> None:
        """Show the frame `current` in the grid, with the onion skin and letters as ticked (one message)."""
        self.frame_label.value = self._frame_text()
        with self.cell_grid.hold_sync():
            self.cell_grid.colours = self._grid_colours()
            self.cell_grid.marks = self._grid_marks()
            self.cell_grid.values = self._shown()

    # ------------------------------------------------------------------ pictures

    def _preview_scale(self) -> int:
        return min(MAX_SCALE, max(2, PREVIEW_PX // self.size))

    def to_gif(self, scale: int | None = None) -> bytes:
        """The animation as GIF bytes, each square `scale` x `scale` px (about 300 px wide by default)."""
        if scale is None:
            scale = min(MAX_SCALE, max(4, EXPORT_PX // self.size))
        if not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= MAX_SCALE:
            raise ValueError(f"Scale must be a whole number from 1 to {MAX_SCALE}, not {scale!r}.")
        return gif_bytes(self.frames, self.palette, self.fps, scale)

    def export_gif(self, path: str | os.PathLike[str]) -> Path:
        """Save the animation as a looping GIF in the learner's folder (atomically); returns the path written."""
        return export(path, self.to_gif, suffix=".gif")
