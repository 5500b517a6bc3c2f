"""PosterMaker: a poster with a title, a slogan, a chart of a few numbers, a picture and a footer, saved as PNG.

The learner types the words, types (or the notebook passes in) a small table of labels and
numbers for a bar or line chart, names a PNG or JPEG picture from their folder (a pixel
canvas export, a photo), and picks a layout and a named colour theme. The poster is drawn
with Pillow (poster_art.py) as one PNG and shown in an `ipywidgets.Image` that is redrawn
after each change, so a notebook's saved widget state, and the showcase's static page,
show the poster itself. A sentence under it says what is on it, for anyone who cannot see it.

A picture is read only from inside the learner's folder, through the same path check as
exports (files.check_export_path: no '..', no absolute path outside, no hidden name, no
symbolic link), then by `pictures.read_picture`, which follows no link and refuses a text
file named .png or a small file that would unpack to a huge picture, in words.

Saving with the notebook: pass `sidecar="name.json"` and `state` is kept as JSON in the
learner's folder (see base.py). State: {"title", "slogan", "footer", "chart": "bar" or
"line", "chart_title", "data": [[label, number], ...], "picture": a file name in the
learner's folder or null, "layout", "theme"}. The picture is kept by name, so the saved
poster stays small; when the file is gone, the poster shows without it and says so.
"""

from __future__ import annotations

import io
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from connected_learning.widgets import pictures
from connected_learning.widgets.base import WIDE, CreationState, StateError, TitledImage, export_row, make_status
from connected_learning.widgets.files import check_export_path, export
from connected_learning.widgets.i18n import _, t
from connected_learning.widgets.pictures import PICTURE_SUFFIXES
from connected_learning.widgets.poster_art import LAYOUTS, THEMES, Poster, draw_poster, plan_boxes

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "MAX_BARS",
    "MAX_NUMBER",
    "PosterMaker",
    "parse_table",
    "read_picture",
]

MAX_BARS = 12
MAX_LABEL = 20
MAX_NUMBER = 1_000_000_000
#: The longest side a picture is kept at once read: the poster is 600 pixels wide.
KEEP_SIDE = 1200
#: Each text of the poster and the most letters it may have.
TEXT_LIMITS = {"title": 60, "slogan": 120, "footer": 80, "chart_title": 60}
CHARTS = ("bar", "line")


def _chart_words() -> dict[str, str]:
    return {"bar": _("Bar chart"), "line": _("Line chart")}


def _layout_words() -> dict[str, str]:
    return {
        "picture-top": _("Picture on top, chart below"),
        "chart-top": _("Chart on top, picture below"),
        "side-by-side": _("Picture and chart side by side"),
    }


def _theme_words() -> dict[str, str]:
    return {
        "sunny": _("Sunny (yellow with blue bars)"),
        "ocean": _("Ocean (dark blue with green bars)"),
        "forest": _("Forest (dark green with brown bars)"),
        "berry": _("Berry (dark pink with purple bars)"),
        "night": _("Night (black with gold bars)"),
        "paper": _("Paper (white with grey bars)"),
    }


def _text_names() -> dict[str, str]:
    return {"title": _("title"), "slogan": _("slogan"), "footer": _("footer"), "chart_title": _("chart title")}


# ------------------------------------------------------------------------ checking what comes in


def check_text(key: str, value: Any) -> str:
    """One of the poster's texts (`TEXT_LIMITS` names them): one line of text, not too long."""
    name, limit = _text_names()[key], TEXT_LIMITS[key]
    if not isinstance(value, str):
        raise StateError(t("The {name} must be text.", name=name))
    if len(value) > limit:
        raise StateError(t("The {name} can have up to {limit} letters.", name=name, limit=limit))
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise StateError(t("The {name} must be one line of text.", name=name))
    return value


def check_number(value: Any, where: str) -> int | float:
    """A number for the chart: a real number (not true/false), not 'nan' or infinite, within ±MAX_NUMBER."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise StateError(t("{where}: {value} is not a number.", where=where, value=repr(value)[:40]))
    number = int(value) if isinstance(value, numbers.Integral) else float(value)
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise StateError(t("{where}: use a number between -{most} and {most}.", where=where, most=f"{MAX_NUMBER:,}"))
    return number


def check_data(data: Any) -> list[tuple[str, int | float]]:
    """The chart's table: up to MAX_BARS pairs of a short label and a number.

    Takes a mapping ({"Mon": 3}) or pairs ([("Mon", 3)], `zip(labels, numbers)`), as a
    notebook passes them, or a saved state's list of [label, number] lists.
    """
    if data is None:
        return []
    if isinstance(data, Mapping):
        data = list(data.items())
    if isinstance(data, str | bytes) or not isinstance(data, Iterable):
        raise StateError(_("The chart's table must be a list of pairs, like [('Monday', 12), ('Tuesday', 15)]."))
    rows: list[tuple[str, int | float]] = []
    for row in data:
        if len(rows) == MAX_BARS:
            raise StateError(t("A poster's chart can have up to {most} bars or points.", most=MAX_BARS))
        if isinstance(row, str | bytes) or not isinstance(row, list | tuple) or len(row) != 2:
            raise StateError(_("Each row of the chart's table must be a pair: a label and a number."))
        label, value = row
        where = t("Row {number}", number=len(rows) + 1)
        if not isinstance(label, str) or not label.strip():
            raise StateError(t("{where}: the label must be some text.", where=where))
        if len(label) > MAX_LABEL or any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
            raise StateError(
                t("{where}: a label can have up to {limit} letters, on one line.", where=where, limit=MAX_LABEL)
            )
        rows.append((label.strip(), check_number(value, where)))
    return rows


def parse_table(text: str) -> list[tuple[str, int | float]]:
    """The chart's table from what a learner typed: one line per bar, like "Monday: 12" (or "Monday, 12")."""
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cut = max(line.rfind(":"), line.rfind(","), line.rfind("="))
        where = t("Line {number}", number=line_number)
        if cut <= 0:
            raise StateError(t("{where}: write a label, a colon and a number, like Monday: 12", where=where))
        label, written = line[:cut].strip(), line[cut + 1 :].strip()
        try:
            value: Any = int(written)
        except ValueError:
            try:
                value = float(written)
            except ValueError:
                raise StateError(
                    t("{where}: {value} is not a number.", where=where, value=repr(written)[:40])
                ) from None
        rows.append((label, value))
    return check_data(rows)


def table_text(data: Iterable[tuple[str, int | float]]) -> str:
    """The chart's table as a learner would type it (what `parse_table` reads)."""
    return "\n".join(f"{label}: {value}" for label, value in data)


def check_picture_name(name: Any) -> Path:
    """The path of a picture file a learner named: inside their folder, ending in .png, .jpg or .jpeg."""
    if not isinstance(name, str):
        raise StateError(_("The picture must be a file name, like my_pet.png."))
    suffix = Path(name).suffix.lower()
    if suffix not in PICTURE_SUFFIXES:
        raise StateError(
            t("{name} is not a PNG or JPEG picture. Pick a file ending in .png or .jpg.", name=repr(name)[:80])
        )
    return check_export_path(name, suffix=suffix)


def read_picture(name: str) -> Image.Image:
    """The PNG or JPEG picture `name` from the learner's folder, as an RGBA image no bigger than KEEP_SIDE.

    Read by `pictures.read_picture` (inside the folder only, never through a link, no
    decompression bomb).

    Raises:
        ExportPathError (a ValueError): the name leaves the folder or is hidden.
        StateError (a ValueError, PictureError included): no such file, not a PNG or JPEG picture, or too big.
    """
    check_picture_name(name)  # a name that is no picture's, or leaves the folder, said as for a poster
    _, picture = pictures.read_picture(name)
    try:
        rgba = picture.convert("RGBA")
    except (OSError, ValueError, SyntaxError):  # a damaged or cut-off file
        raise StateError(t("{name} is not a PNG or JPEG picture.", name=name)) from None
    rgba.thumbnail((KEEP_SIDE, KEEP_SIDE))
    return rgba


# --------------------------------------------------------------------------------- the widget


class PosterMaker(CreationState, widgets.VBox):
    """A poster: title, slogan, a bar or line chart, a picture and a footer, in a layout and a colour theme.

    Args:
        title, slogan, footer, chart_title: the poster's words (see `TEXT_LIMITS`).
        data: the chart's labels and numbers, as pairs or a mapping (up to `MAX_BARS`).
        chart: "bar" or "line".
        picture: a PNG or JPEG file in the learner's folder, or None.
        layout: "picture-top", "chart-top" or "side-by-side".
        theme: one of `poster_art.THEMES` ("sunny", "ocean", "forest", "berry", "night", "paper").
        sidecar: a JSON file in the learner's folder that keeps the poster between sessions.
    """

    kind = "poster_maker"

    def __init__(
        self,
        title: str = "",
        slogan: str = "",
        *,
        data: Any = None,
        chart: str = "bar",
        chart_title: str = "",
        picture: str | None = None,
        layout: str = "picture-top",
        theme: str = "sunny",
        footer: str = "",
        sidecar: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.status = make_status()
        self._drawing = False
        self._picture_image: Image.Image | None = None
        texts = {"title": title, "slogan": slogan, "footer": footer, "chart_title": chart_title}
        for key, value in texts.items():
            check_text(key, value)
        self.data = check_data(data)
        _check_choice(chart, CHARTS, "chart")
        _check_choice(layout, LAYOUTS, "layout")
        _check_choice(theme, tuple(THEMES), "theme")
        self.picture: str | None = None
        self.title = self._text(title, _("Title:"), _("A big title, like Match Day!"))
        self.slogan = self._text(slogan, _("Slogan:"), _("A short line under the title"))
        self.footer = self._text(footer, _("Footer:"), _("A line at the bottom, like a date and a place"))
        self.chart_title = self._text(chart_title, _("Chart title:"), _("What do the numbers show?"))
        self.table = widgets.Textarea(
            value=table_text(self.data),
            description=_("Chart numbers:"),
            placeholder=_("One line per bar, like\nMonday: 12\nTuesday: 15"),
            continuous_update=False,
            style=WIDE,
            rows=5,
            layout=widgets.Layout(width="95%"),
        )
        self.chart = widgets.Dropdown(
            options=[(words, key) for key, words in _chart_words().items()],
            value=chart,
            description=_("Chart type:"),
            style=WIDE,
        )
        self.layout_choice = widgets.Dropdown(
            options=[(words, key) for key, words in _layout_words().items()],
            value=layout,
            description=_("Layout:"),
            style=WIDE,
        )
        self.theme = widgets.Dropdown(
            options=[(words, key) for key, words in _theme_words().items()],
            value=theme,
            description=_("Colour theme:"),
            style=WIDE,
        )
        self.picture_name = widgets.Text(
            value=picture or "",
            description=_("Picture file:"),
            placeholder=_("my_pixel_art.png"),
            style=WIDE,
        )
        self.picture_button = widgets.Button(
            description=_("Use picture"),
            icon="image",
            tooltip=_("Put the picture named on the left on the poster"),
            layout=widgets.Layout(width="auto"),
        )
        self.picture_button.on_click(lambda button: self._use_typed_picture())
        self.no_picture_button = widgets.Button(
            description=_("No picture"),
            icon="times",
            tooltip=_("Take the picture off the poster"),
            layout=widgets.Layout(width="auto"),
        )
        self.no_picture_button.on_click(lambda button: self.use_picture(None))
        self.image = TitledImage(format="png", layout=widgets.Layout(max_width="420px"))
        self.about = widgets.Label()
        for control in (
            self.title,
            self.slogan,
            self.footer,
            self.chart_title,
            self.chart,
            self.layout_choice,
            self.theme,
        ):
            control.observe(self._on_change, "value")
        self.table.observe(self._on_table, "value")
        self.file_name, self.export_button, export = export_row(
            "my_poster.png", _("Save PNG"), self.export_png, self.status
        )
        super().__init__(
            children=[
                widgets.HTML(
                    _(
                        "<b>Poster maker</b>: write a title and a slogan, type some numbers for a chart, "
                        "add a picture from your folder, then pick a layout and colours."
                    )
                ),
                self.title,
                self.slogan,
                widgets.HBox([self.chart, self.chart_title]),
                self.table,
                widgets.HBox([self.picture_name, self.picture_button, self.no_picture_button]),
                widgets.HBox([self.layout_choice, self.theme]),
                self.footer,
                self.image,
                self.about,
                export,
                self.status,
            ],
            **kwargs,
        )
        if picture is not None:
            check_picture_name(picture)  # a name that leaves the folder raises: the notebook's author sees why
            self._show_picture(picture)
        self.redraw()
        self._start_sidecar(sidecar)

    @staticmethod
    def _text(value: str, description: str, placeholder: str) -> widgets.Text:
        return widgets.Text(
            value=value,
            description=description,
            placeholder=placeholder,
            continuous_update=False,
            style=WIDE,
            layout=widgets.Layout(width="95%"),
        )

    # ------------------------------------------------------------------------ changes

    def _on_change(self, change: dict[str, Any]) -> None:
        if self._drawing:
            return
        for key in TEXT_LIMITS:
            control = getattr(self, key)
            if change["owner"] is control and len(control.value) > TEXT_LIMITS[key]:
                self._drawing = True
                try:
                    control.value = control.value[: TEXT_LIMITS[key]]
                finally:
                    self._drawing = False
                self.redraw()
                self._changed()
                self._say(
                    t(
                        "The {name} can have up to {limit} letters, so the end was cut.",
                        name=_text_names()[key],
                        limit=TEXT_LIMITS[key],
                    )
                )
                return
        self.redraw()
        self._changed()

    def _on_table(self, change: dict[str, Any]) -> None:
        if self._drawing:
            return
        try:
            data = parse_table(change["new"])
        except StateError as error:
            self._say(t("The chart did not change. {problem}", problem=error))
            return
        self.data = data
        self.redraw()
        self._changed()

    def set_data(self, data: Any) -> None:
        """Chart new labels and numbers: pairs or a mapping, up to MAX_BARS. Raises StateError if they do not fit."""
        self.data = check_data(data)
        self._drawing = True
        try:
            self.table.value = table_text(self.data)
        finally:
            self._drawing = False
        self.redraw()
        self._changed()

    def _use_typed_picture(self) -> None:
        name = self.picture_name.value.strip()
        if not name:
            self._say(_("Type the name of a picture in your folder first, like my_pixel_art.png."))
            return
        try:
            self.use_picture(name)
        except ValueError as error:
            self._say(t("The picture did not change. {problem}", problem=error))
        else:
            self._say(t("Your poster now shows {name}.", name=name))

    def use_picture(self, name: str | None, *, redraw: bool = True) -> None:
        """Put the PNG or JPEG picture `name` (in the learner's folder) on the poster, or None to take it off.

        Raises ValueError (ExportPathError or StateError) naming the problem; the poster keeps its old picture.
        """
        image = None if name is None else read_picture(name)
        self.picture, self._picture_image = name, image
        self._drawing = True
        try:
            self.picture_name.value = name or ""
        finally:
            self._drawing = False
        if redraw:
            self.redraw()
            self._changed()

    # ------------------------------------------------------------------------ drawing

    def _poster(self) -> Poster:
        return Poster(
            title=self.title.value,
            slogan=self.slogan.value,
            footer=self.footer.value,
            chart=self.chart.value,
            chart_title=self.chart_title.value,
            data=tuple(self.data),
            layout=self.layout_choice.value,
            theme=self.theme.value,
            empty_text=_("Add a picture or some numbers for a chart."),
        )

    def boxes(self) -> dict[str, Any]:
        """Where the parts of the poster are (poster_art.plan_boxes) for its layout, picture and chart."""
        return plan_boxes(self.layout_choice.value, self._picture_image is not None, bool(self.data))

    def to_png(self) -> bytes:
        """The poster as PNG bytes (poster_art.POSTER_SIZE)."""
        buffer = io.BytesIO()
        draw_poster(self._poster(), self._picture_image).save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()

    def describe(self) -> str:
        """A sentence that says what is on the poster, for people who cannot see it."""
        theme, layout = _theme_words()[self.theme.value], _layout_words()[self.layout_choice.value].lower()
        title = self.title.value.strip()
        parts = [
            t("Poster titled “{title}”, {theme}, {layout}.", title=title, theme=theme, layout=layout)
            if title
            else t("Poster with no title yet, {theme}, {layout}.", theme=theme, layout=layout)
        ]
        if self._picture_image is not None:
            parts.append(t("Picture: {name}.", name=self.picture))
        if self.data:
            values = [value for _label, value in self.data]
            parts.append(
                t(
                    "{chart} of {count} numbers, from {low} to {high}.",
                    chart=_chart_words()[self.chart.value],
                    count=len(values),
                    low=f"{min(values):g}",
                    high=f"{max(values):g}",
                )
            )
        return " ".join(parts)

    def redraw(self) -> None:
        """Draw the poster for the current choices and show it."""
        self.about.value = self.describe()
        self.image.tooltip = self.about.value  # a pointer resting on the poster shows what is on it
        self.image.value = self.to_png()

    def export_png(self, path: str | os.PathLike[str]) -> Path:
        """Save the poster as a PNG in the learner's folder (atomically); returns the path written."""
        return export(path, self.to_png, suffix=".png")

    # ------------------------------------------------------------------------ state

    def _dump(self) -> dict[str, Any]:
        return {
            "title": self.title.value,
            "slogan": self.slogan.value,
            "footer": self.footer.value,
            "chart": self.chart.value,
            "chart_title": self.chart_title.value,
            "data": [[label, value] for label, value in self.data],
            "picture": self.picture,
            "layout": self.layout_choice.value,
            "theme": self.theme.value,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        texts = {key: check_text(key, state[key]) for key in TEXT_LIMITS}
        if not isinstance(state["data"], list):
            raise StateError(_("The saved chart's table must be a list."))
        data = check_data(state["data"])
        _check_choice(state["chart"], CHARTS, "chart")
        _check_choice(state["layout"], LAYOUTS, "layout")
        _check_choice(state["theme"], tuple(THEMES), "theme")
        picture = state["picture"]
        if picture is not None:
            check_picture_name(picture)
        # Only now, with everything checked, does the poster on screen change.
        self._drawing = True
        try:
            for key, value in texts.items():
                getattr(self, key).value = value
            self.data = data
            self.table.value = table_text(data)
            self.chart.value = state["chart"]
            self.layout_choice.value = state["layout"]
            self.theme.value = state["theme"]
        finally:
            self._drawing = False
        self._show_picture(picture)
        self.redraw()

    def _show_picture(self, name: str | None) -> None:
        """Keep `name` as the poster's picture; while it is not there (not saved yet, or gone), draw without it."""
        try:
            self.use_picture(name, redraw=False)
        except StateError as error:
            self.picture, self._picture_image = name, None
            self._say(t("Your poster's picture is missing for now. {problem}", problem=error))


def _check_choice(value: Any, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise StateError(t("The {what} must be one of: {allowed}.", what=what, allowed=", ".join(allowed)))
