"""ChartMaker: pick two columns of a pandas DataFrame and a chart type, give it a title, export a PNG.

The chart is drawn with matplotlib's Agg backend on a `Figure` of its own (no pyplot, so no
global state and no GUI), and shown as PNG bytes in an `ipywidgets.Image`, which works the
same in JupyterLab and Voila. A sentence under the chart describes it (type, columns,
number of values, smallest and largest) for screen readers and anyone who cannot see it.
Learner text reaches matplotlib with '$' escaped, so a title never turns into maths.

Saving with the notebook: pass `sidecar="name.json"` and `state` is kept as JSON in the
learner's folder, rewritten atomically after every change and loaded when the cell runs
again (the robust way); with JupyterLab's "Save Widget State Automatically" on, the
notebook also stores the controls' values, so it reopens showing the creation. See `base.py`.

State: {"x", "y", "chart", "title", "data": {"columns",
"rows"}}. The data travels with the chart, so a saved chart can be reopened or remixed
without its original file; ChartMaker is for small data (up to `MAX_ROWS` rows).
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from connected_learning.widgets.base import WIDE, CreationState, StateError, TitledImage, export_row, make_status
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import N_, _, t

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHARTS", "MAX_ROWS", "ChartMaker"]

CHARTS = {"bar": N_("bar chart"), "line": N_("line chart"), "scatter": N_("scatter plot")}
MAX_ROWS = 10_000


def _plain(text: str) -> str:
    return text.replace("$", r"\$")


def _json_value(value: Any) -> Any:
    """A DataFrame cell as a JSON value: numbers stay numbers, missing becomes null, dates ISO text, the rest text."""
    import pandas as pd

    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _numeric_columns(data: pd.DataFrame) -> list[str]:
    """The columns that can go up the side: numbers, but not true/false."""
    import pandas as pd

    return [
        column
        for column in data.columns
        if pd.api.types.is_numeric_dtype(data[column]) and not pd.api.types.is_bool_dtype(data[column])
    ]


class ChartMaker(CreationState, widgets.VBox):
    """A chart maker over a pandas DataFrame: bar, line or scatter, with a title; exports PNG.

    Args:
        data: the table to chart (up to `MAX_ROWS` rows; its index is not used).
        title: a first title for the chart.
        sidecar: a JSON file in the learner's folder that keeps the chart between sessions.
    """

    kind = "chart_maker"

    def __init__(
        self,
        data: pd.DataFrame | None = None,
        *,
        title: str = "",
        sidecar: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.status = make_status()
        self._drawing = False
        self.x = widgets.Dropdown(description=_("Across the bottom (x):"), style=WIDE)
        self.y = widgets.Dropdown(description=_("Up the side (y):"), style=WIDE)
        self.chart = widgets.Dropdown(
            options=[(_(label), key) for key, label in CHARTS.items()],
            value="bar",
            description=_("Chart type:"),
            style=WIDE,
        )
        self.title = widgets.Text(
            value=title,
            description=_("Chart title:"),
            style=WIDE,
            continuous_update=False,
            placeholder=_("What does your chart show?"),
            layout=widgets.Layout(width="95%"),
        )
        self.image = TitledImage(format="png", layout=widgets.Layout(max_width="640px"))
        self.about = widgets.Label()
        for control in (self.x, self.y, self.chart, self.title):
            control.observe(self._on_change, "value")
        self.file_name, self.export_button, export = export_row(
            "my_chart.png", _("Save PNG"), self.export_png, self.status
        )
        super().__init__(
            children=[
                widgets.HTML(
                    _("<b>Chart maker</b>: pick what goes across and up, pick a chart type, give it a title.")
                ),
                widgets.HBox([self.x, self.y]),
                self.chart,
                self.title,
                self.image,
                self.about,
                export,
                self.status,
            ],
            **kwargs,
        )
        self.set_data(data)
        self._start_sidecar(sidecar)

    def set_data(self, data: pd.DataFrame | None) -> None:
        """Chart a new table; the x and y choices are kept when the new table has those columns."""
        import pandas as pd

        data = pd.DataFrame() if data is None else data
        if not isinstance(data, pd.DataFrame):
            raise ValueError(f"ChartMaker needs a pandas DataFrame, not {type(data).__name__}.")
        if len(data) > MAX_ROWS:
            raise ValueError(
                f"This table has {len(data)} rows; ChartMaker takes up to {MAX_ROWS}. "
                "Pick the rows you need first, for example data.head(100)."
            )
        data = data.reset_index(drop=True)
        data.columns = [str(column) for column in data.columns]
        if len(set(data.columns)) != len(data.columns):
            raise ValueError("Two columns have the same name; rename one first, for example with data.rename().")
        self.data = data
        numeric = _numeric_columns(data)
        self._drawing = True
        try:
            old_x, old_y = self.x.value, self.y.value
            self.x.options = list(data.columns)
            self.y.options = numeric
            columns = list(data.columns)
            self.x.value = old_x if old_x in columns else (columns[0] if columns else None)
            others = [column for column in numeric if column != self.x.value] or numeric
            self.y.value = old_y if old_y in numeric else (others[0] if others else None)
        finally:
            self._drawing = False
        self.redraw()

    def _on_change(self, _change: Any) -> None:
        if not self._drawing:
            self.redraw()
            self._changed()

    def to_png(self) -> bytes:
        """The chart as PNG bytes (640 x 400 pixels). Raises ValueError when there is nothing to chart."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        x, y = self.x.value, self.y.value
        if x is None or y is None:
            raise ValueError("Nothing to chart yet: the table needs a column of numbers for 'up the side (y)'.")
        figure = Figure(figsize=(6.4, 4.0), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        across, up = self.data[x], self.data[y]
        if self.chart.value == "bar":
            axes.bar(across.astype(str), up, color="#1e88e5", edgecolor="black")
            if len(across) > 8:
                axes.tick_params(axis="x", labelrotation=60)
        elif self.chart.value == "line":
            axes.plot(across, up, marker="o", color="#1e88e5")
        else:
            axes.scatter(across, up, marker="o", color="#1e88e5", edgecolors="black")
        axes.set_xlabel(_plain(x))
        axes.set_ylabel(_plain(y))
        axes.set_title(_plain(self.title.value.strip() or t("{y} by {x}", y=y, x=x)))
        axes.grid(alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def describe(self) -> str:
        """A sentence that says what the chart shows, for people who cannot see it."""
        x, y = self.x.value, self.y.value
        if x is None or y is None:
            return _("No chart yet: the table needs a column of numbers.")
        values = self.data[y].dropna()
        span = t(", from {low} to {high}", low=f"{values.min():g}", high=f"{values.max():g}") if len(values) else ""
        title = self.title.value.strip()
        chart = _(CHARTS[self.chart.value]).capitalize() + (t(" titled “{title}”", title=title) if title else "")
        return t(
            "{chart}: {y} (up the side) by {x} (across the bottom), {count} values{span}.",
            chart=chart,
            y=y,
            x=x,
            count=len(values),
            span=span,
        )

    def redraw(self) -> None:
        """Draw the chart for the current choices."""
        self.about.value = self.describe()
        self.image.tooltip = self.about.value
        try:
            self.image.value = self.to_png()
        except (ValueError, TypeError) as error:
            self.image.value = b""
            self._say(t("Could not draw this chart: {error}", error=error))
        else:
            self._say("")

    def export_png(self, path: str | os.PathLike[str]) -> Path:
        """Save the chart as a PNG in the learner's folder (atomically); returns the path written."""
        return export(path, self.to_png, suffix=".png")

    def _dump(self) -> dict[str, Any]:
        rows = [[_json_value(value) for value in row] for row in self.data.itertuples(index=False, name=None)]
        return {
            "x": self.x.value,
            "y": self.y.value,
            "chart": self.chart.value,
            "title": self.title.value,
            "data": {"columns": list(self.data.columns), "rows": rows},
        }

    def _restore(self, state: dict[str, Any]) -> None:
        import pandas as pd

        table = state["data"]
        columns, rows = table["columns"], table["rows"]
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns) or not isinstance(rows, list):
            raise StateError("The saved table needs a list of column names and a list of rows.")
        if any(not isinstance(row, list) or len(row) != len(columns) for row in rows):
            raise StateError("Every saved row needs one value per column.")
        if state["chart"] not in CHARTS:
            raise StateError(f"The saved chart type must be one of {', '.join(CHARTS)}.")
        if not isinstance(state["title"], str):
            raise StateError("The saved title must be text.")
        data = pd.DataFrame(rows, columns=columns)
        numeric = _numeric_columns(data)
        for key, allowed in (("x", columns), ("y", numeric)):
            if state[key] is not None and state[key] not in allowed:
                raise StateError(f"The saved {key} column {state[key]!r} cannot be charted from the saved table.")
        # Only now, with everything checked, does the chart on screen change.
        self.set_data(data)
        self._drawing = True
        try:
            self.x.value, self.y.value = state["x"], state["y"]
            self.chart.value = state["chart"]
            self.title.value = state["title"]
        finally:
            self._drawing = False
        self.redraw()
